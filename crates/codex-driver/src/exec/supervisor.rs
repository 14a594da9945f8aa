//! The task that owns a running `codex exec`: reads stdout into events (tee, diagnostics,
//! backpressure), enforces the deadlines and cancellation, stops and reaps the process group,
//! and reports the outcome.

use super::classify::classify;
use super::events::{Diagnostic, ItemDetails, Line, ThreadEvent, parse_numbered_line};
use super::stream::{MAX_DIAGNOSTICS, Msg, Shared};
use crate::error::{Error, Result, TimeoutKind};
use crate::process::{Leader, LineReader, ReadLine, ReapGate, StderrTail};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How the process is supervised (not passed to Codex).
#[derive(Debug, Clone)]
pub(super) struct RunOptions {
    pub(super) idle_timeout: Option<Duration>,
    pub(super) timeout: Option<Duration>,
    pub(super) grace: Duration,
    pub(super) cancel: Option<CancellationToken>,
    pub(super) tee: Option<PathBuf>,
    pub(super) channel_capacity: usize,
    pub(super) max_line_bytes: usize,
    pub(super) stderr_tail_bytes: usize,
    pub(super) check_versions: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            idle_timeout: None,
            timeout: None,
            grace: Duration::from_secs(3),
            cancel: None,
            tee: None,
            channel_capacity: 64,
            max_line_bytes: 256 * 1024 * 1024,
            stderr_tail_bytes: 64 * 1024,
            check_versions: true,
        }
    }
}

/// What the reader saw, for classifying the exit.
#[derive(Debug, Default, Clone)]
pub(super) struct Seen {
    pub(super) thread_id: Option<String>,
    pub(super) completed: bool,
    pub(super) failed: Option<String>,
    pub(super) last_error: Option<String>,
}

impl Seen {
    fn observe(&mut self, ev: &ThreadEvent) {
        match ev {
            ThreadEvent::ThreadStarted(t) => self.thread_id = Some(t.thread_id.clone()),
            ThreadEvent::TurnCompleted(_) => self.completed = true,
            ThreadEvent::TurnFailed(f) => self.failed = Some(f.error.message.clone()),
            ThreadEvent::Error(e) => self.last_error = Some(e.message.clone()),
            ThreadEvent::ItemCompleted(i) => {
                if let ItemDetails::Error(e) = &i.item.details {
                    self.last_error = Some(e.message.clone());
                }
            }
            _ => {}
        }
    }
}

enum Pumped {
    Read(std::io::Result<ReadLine>),
    Exited,
}

enum Stop {
    Eof,
    Cancelled,
    Timeout(TimeoutKind, Duration),
    ReadError(std::io::Error),
}

pub(super) struct Supervisor {
    /// Codex, reaped only after its group was killed.
    pub(super) leader: Leader,
    pub(super) stdout: Option<tokio::process::ChildStdout>,
    pub(super) stderr_task: Option<tokio::task::JoinHandle<()>>,
    pub(super) tail: StderrTail,
    pub(super) tx: mpsc::Sender<Msg>,
    pub(super) token: CancellationToken,
    pub(super) rt: RunOptions,
    pub(super) tee: Option<tokio::fs::File>,
    pub(super) shared: Arc<Shared>,
    /// Closed just before Codex is reaped: [`KillOnDrop`] must not signal the group after that.
    pub(super) done: Arc<ReapGate>,
}

/// At most this many events, or the events of this many bytes of lines, go in one message.
const MAX_BATCH: usize = 64;
const MAX_BATCH_BYTES: usize = 128 * 1024;

/// The batch as one message (a lone event as itself).
fn batch_msg(batch: &mut Vec<ThreadEvent>) -> Msg {
    if batch.len() == 1
        && let Some(ev) = batch.pop()
    {
        return Msg::Event(ev);
    }
    Msg::Events(std::mem::take(batch).into_iter())
}

async fn sleep_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

impl Supervisor {
    pub(super) async fn run(mut self) {
        let start = Instant::now();
        let overall = self.rt.timeout.map(|d| start + d);
        let mut seen = Seen::default();
        let stop = self.pump(overall, &mut seen).await;
        let result = self.finish(stop, overall, seen).await;
        self.done.close();
        let _ = self.tx.send(Msg::Done(result)).await;
    }

    /// Reads stdout until EOF, cancellation or a deadline.
    /// Keeps a diagnostic, up to a bound: a process spewing garbage must not grow memory.
    fn note(&self, d: Diagnostic) {
        if let Ok(mut v) = self.shared.diagnostics.lock()
            && v.len() < MAX_DIAGNOSTICS
        {
            tracing::warn!("codex exec: {d}");
            v.push(d);
        }
    }

    async fn pump(&mut self, overall: Option<Instant>, seen: &mut Seen) -> Stop {
        let Some(stdout) = self.stdout.take() else {
            return Stop::Eof;
        };
        let mut lines = LineReader::peeking(
            BufReader::with_capacity(256 * 1024, stdout),
            self.rt.max_line_bytes,
        );
        let mut tee = self.tee.take().map(tokio::io::BufWriter::new);
        let mut line_no = 0u64;
        let mut batch: Vec<ThreadEvent> = Vec::new();
        let mut batch_bytes = 0usize;
        // The timers and the cancel future are made once, not per line: a stream of small
        // events would otherwise pay a timer-wheel insert and removal for each of them.
        let token = self.token.clone();
        let cancelled = token.cancelled();
        tokio::pin!(cancelled);
        let overall_sleep = sleep_opt(overall);
        tokio::pin!(overall_sleep);
        // The idle deadline moves with every line; its timer is only re-armed when it fires
        // early (the last line came after it was set).
        let mut last_line = Instant::now();
        let idle_sleep = sleep_opt(self.rt.idle_timeout.map(|d| last_line + d));
        tokio::pin!(idle_sleep);
        // Set when Codex itself exited: what it wrote is read until EOF or this deadline (a
        // descendant that inherited stdout may keep the pipe open).
        let mut drain_until: Option<Instant> = None;
        let drain_sleep = sleep_opt(None);
        tokio::pin!(drain_sleep);
        let stop = loop {
            // Not `has_exited()`: an exit that happened while this loop was busy elsewhere must
            // still be handled once, below.
            let waiting = drain_until.is_none();
            let next = tokio::select! {
                biased;
                _ = &mut cancelled => break Stop::Cancelled,
                _ = &mut overall_sleep => break Stop::Timeout(TimeoutKind::Overall, self.rt.timeout.unwrap_or_default()),
                _ = &mut idle_sleep, if waiting => {
                    let idle = self.rt.idle_timeout.unwrap_or_default();
                    if last_line.elapsed() >= idle {
                        break Stop::Timeout(TimeoutKind::Idle, idle);
                    }
                    idle_sleep.set(sleep_opt(Some(last_line + idle)));
                    continue;
                }
                // A bound on reading after Codex exited (a descendant may hold stdout open, or
                // write for ever). Time spent waiting for a slow consumer does not count (see
                // below), so nothing Codex wrote before exiting is dropped.
                _ = &mut drain_sleep, if !waiting => break Stop::Eof,
                () = self.leader.exited(), if waiting => Pumped::Exited,
                r = lines.next_line() => Pumped::Read(r),
            };
            let read = match next {
                // Exited, not reaped: the group id stays ours until `finish` reaps. What is left
                // of the group (a background command, a descendant holding or flooding stdout)
                // goes now; what Codex wrote is still in the pipe and is read to EOF.
                Pumped::Exited => {
                    self.leader.signal(nix::sys::signal::Signal::SIGKILL);
                    let until = Instant::now() + Duration::from_secs(2);
                    drain_until = Some(until);
                    drain_sleep.set(sleep_opt(Some(until)));
                    continue;
                }
                Pumped::Read(r) => r,
            };
            last_line = Instant::now();
            line_no += 1;
            let parsed = match read {
                Err(e) => break Stop::ReadError(e),
                Ok(ReadLine::Eof) => break Stop::Eof,
                Ok(ReadLine::TooLong(len)) => Line::Diagnostic(Diagnostic::TooLong {
                    line_number: line_no,
                    len,
                    limit: self.rt.max_line_bytes,
                }),
                Ok(ReadLine::Line) => {
                    if let Some(t) = tee.as_mut() {
                        // A failed tee must not end the run: it stops, once, and says so.
                        if let Err(e) = async {
                            t.write_all(lines.line()).await?;
                            t.write_all(b"\n").await
                        }
                        .await
                        {
                            tee = None;
                            self.note(Diagnostic::TeeFailed {
                                line_number: line_no,
                                path: self.rt.tee.clone().unwrap_or_default(),
                                error: e.to_string(),
                            });
                        }
                    }
                    // Checked first: the lossy conversion walks the line far slower.
                    match std::str::from_utf8(lines.line()) {
                        Ok(text) => parse_numbered_line(text, line_no),
                        Err(_) => {
                            parse_numbered_line(&String::from_utf8_lossy(lines.line()), line_no)
                        }
                    }
                }
            };
            match parsed {
                Line::Blank => {}
                Line::Diagnostic(d) => self.note(d),
                Line::Event(ev) => {
                    seen.observe(&ev);
                    batch_bytes += lines.line().len();
                    batch.push(ev);
                }
            }
            // More lines already read: decode them too and send all at once (one wake-up of
            // the consumer), within a bound on what is held back.
            if batch.is_empty()
                || (lines.line_buffered()
                    && batch.len() < MAX_BATCH
                    && batch_bytes < MAX_BATCH_BYTES)
            {
                continue;
            }
            if let Some(t) = tee.as_mut()
                && let Err(e) = t.flush().await
            {
                tee = None;
                self.note(Diagnostic::TeeFailed {
                    line_number: line_no,
                    path: self.rt.tee.clone().unwrap_or_default(),
                    error: e.to_string(),
                });
            }
            batch_bytes = 0;
            let msg = batch_msg(&mut batch);
            // Room in the channel (the usual case): no clock, no select.
            let msg = match self.tx.try_send(msg) {
                Ok(()) => continue,
                Err(mpsc::error::TrySendError::Closed(_)) => break Stop::Cancelled,
                Err(mpsc::error::TrySendError::Full(msg)) => msg,
            };
            let waited = Instant::now();
            tokio::select! {
                biased;
                _ = &mut cancelled => break Stop::Cancelled,
                _ = &mut overall_sleep => break Stop::Timeout(TimeoutKind::Overall, self.rt.timeout.unwrap_or_default()),
                sent = self.tx.send(msg) => {
                    // The consumer went away: same as a cancel.
                    if sent.is_err() { break Stop::Cancelled; }
                }
            }
            // A slow consumer's time doesn't count against the idle or drain bounds.
            last_line = Instant::now();
            if let Some(d) = drain_until.as_mut() {
                *d += waited.elapsed();
                drain_sleep.set(sleep_opt(Some(*d)));
            }
        };
        // Events decoded before a deadline or the end of output still reach the consumer
        // (ahead of the outcome); after a cancel nobody is listening.
        if !batch.is_empty() && !matches!(stop, Stop::Cancelled) {
            let _ = self.tx.send(batch_msg(&mut batch)).await;
        }
        if let Some(mut t) = tee {
            let _ = t.flush().await;
        }
        stop
    }

    async fn finish(&mut self, stop: Stop, overall: Option<Instant>, seen: Seen) -> Result<()> {
        let grace = self.rt.grace;
        // Why we stopped waiting, when stdout ended before Codex exited.
        let mut late = None;
        let status = match &stop {
            Stop::Eof if self.leader.has_exited() => self.leader.reap().await,
            Stop::Eof => {
                // stdout is closed; Codex is exiting. Still honour cancel and the deadline.
                tokio::select! {
                    biased;
                    _ = self.token.cancelled() => late = Some(Stop::Cancelled),
                    _ = sleep_opt(overall) => late = Some(Stop::Timeout(TimeoutKind::Overall, self.rt.timeout.unwrap_or_default())),
                    // Without a deadline a Codex that closed stdout and hangs would hold the
                    // run forever.
                    _ = tokio::time::sleep(super::EXIT_AFTER_EOF) => late = Some(Stop::Timeout(TimeoutKind::ExitAfterOutput, super::EXIT_AFTER_EOF)),
                    () = self.leader.exited() => {}
                }
                match late {
                    Some(_) => self.leader.terminate(grace).await,
                    None => self.leader.reap().await,
                }
            }
            _ => self.leader.terminate(grace).await,
        };
        // Stragglers (background commands, a descendant holding stdout) went with the group,
        // killed before Codex was reaped; say so before anything slow.
        self.done.close();
        if let Some(task) = self.stderr_task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
        let tail = self.tail.text();
        match late.unwrap_or(stop) {
            Stop::Cancelled => Err(Error::Cancelled),
            Stop::Timeout(kind, after) => Err(Error::Timeout {
                kind,
                after,
                stderr_tail: tail,
            }),
            Stop::ReadError(e) => Err(Error::io("reading Codex's stdout", e)),
            Stop::Eof => match status {
                Some(status) => classify(status, &seen, tail),
                None => Err(Error::Exited {
                    code: -1,
                    stderr_tail: tail,
                    last_error: seen.last_error,
                }),
            },
        }
    }
}

/// Opens the tee file for writing: never through a symlink (`O_NOFOLLOW`), never blocking on a
/// FIFO (`O_NONBLOCK`), only a regular file, and private (0600, also when it existed).
pub(super) fn open_tee(path: &Path) -> std::io::Result<std::fs::File> {
    use nix::fcntl::OFlag;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(code) if code == nix::errno::Errno::ELOOP as i32 => {
                std::io::Error::other("it is a symbolic link")
            }
            _ => e,
        })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    // A hard link planted to another file (or someone else's file) would be truncated and
    // overwritten through it.
    use std::os::unix::fs::MetadataExt;
    if meta.nlink() > 1 {
        return Err(std::io::Error::other("it has other hard links"));
    }
    if crate::fsutil::current_uid().is_ok_and(|uid| uid != meta.uid()) {
        return Err(std::io::Error::other("it belongs to another user"));
    }
    if meta.permissions().mode() & 0o777 != 0o600 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.set_len(0)?;
    Ok(file)
}

#[cfg(test)]
mod tee_tests {
    use super::open_tee;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_tee_file_is_private_and_never_followed() -> anyhow::Result<()> {
        let d = tempfile::tempdir()?;
        let mode = |p: &std::path::Path| -> anyhow::Result<u32> {
            Ok(std::fs::metadata(p)?.permissions().mode() & 0o777)
        };
        let new = d.path().join("new.jsonl");
        drop(open_tee(&new)?);
        assert_eq!(mode(&new)?, 0o600);
        // An existing, world-readable file is made private and truncated.
        let old = d.path().join("old.jsonl");
        std::fs::write(&old, "old content")?;
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644))?;
        drop(open_tee(&old)?);
        assert_eq!((mode(&old)?, std::fs::read(&old)?.len()), (0o600, 0));
        // A planted symlink (to a file the attacker wants overwritten or read) is refused.
        let target = d.path().join("victim");
        std::fs::write(&target, "keep me")?;
        let link = d.path().join("link.jsonl");
        std::os::unix::fs::symlink(&target, &link)?;
        let err = open_tee(&link).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("it is a symbolic link"));
        assert_eq!(std::fs::read_to_string(&target)?, "keep me");
        // Nor a hard link to another file.
        let hard = d.path().join("hard.jsonl");
        std::fs::hard_link(&target, &hard)?;
        let err = open_tee(&hard).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("it has other hard links"));
        assert_eq!(std::fs::read_to_string(&target)?, "keep me");
        // A FIFO neither blocks nor is accepted.
        let fifo = d.path().join("fifo.jsonl");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU)?;
        assert!(open_tee(&fifo).is_err());
        Ok(())
    }
}
