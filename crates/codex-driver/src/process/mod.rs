//! Child-process plumbing shared by every surface: process groups, graceful shutdown,
//! a bounded stderr tail and a bounded line reader.

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::process::Child;
use tokio::sync::watch;

mod spawn;
mod tree;

pub(crate) use spawn::{RunTag, spawn, spawn_tagged, sweep_tagged};
pub(crate) use tree::{descendant_tree, kill_tree};

/// Sends `signal` to the whole process group led by `pgid`. Errors (the group is gone) are ignored.
///
/// Only call it while the leader is not reaped (see [`Leader`]): a reaped leader's id may be
/// recycled, and the signal would reach an unrelated process group.
/// Asks for a larger pipe buffer on a child's stdout (1 MiB, the unprivileged maximum): a
/// fast writer then fills it while we decode, instead of the two taking turns on 64 KiB and
/// contending for the pipe's lock. Best effort: a refusal leaves the default.
pub(crate) fn widen_pipe(fd: &impl std::os::fd::AsFd) {
    let _ = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETPIPE_SZ(PIPE_BYTES));
}

/// The pipe size [`widen_pipe`] asks for (also the read buffer's size).
pub(crate) const PIPE_BYTES: i32 = 1024 * 1024;

pub(crate) fn signal_group(pgid: u32, signal: Signal) {
    #[cfg(test)]
    signals::record(pgid);
    if let Ok(raw) = i32::try_from(pgid)
        && raw > 0
    {
        let _ = killpg(Pid::from_raw(raw), signal);
    }
}

/// True while any process of the group `pgid` exists.
pub fn group_alive(pgid: u32) -> bool {
    match i32::try_from(pgid) {
        // Signal 0 checks for existence without delivering anything.
        Ok(raw) if raw > 0 => killpg(Pid::from_raw(raw), None::<Signal>).is_ok(),
        _ => false,
    }
}

/// A child that leads its own process group, reaped only after its group was signalled.
///
/// A zombie keeps its pid, and with it the group id, reserved until it is reaped, so every
/// group signal sent through a `Leader` reaches our group and never a process that got a
/// recycled id. Exit is observed with `waitid(WNOWAIT)` on a small thread of its own, which
/// leaves the zombie in place; [`reap`](Self::reap) kills what is left of the group and only
/// then collects the status.
pub(crate) struct Leader {
    child: Child,
    pgid: Option<u32>,
    exit: watch::Receiver<bool>,
    status: Option<std::process::ExitStatus>,
    reaping: Option<Arc<ReapGate>>,
    tag: Option<RunTag>,
}

impl Drop for Leader {
    /// Dropped unreaped (its task dropped, e.g. at runtime shutdown): the group goes with it,
    /// while the id is still ours.
    fn drop(&mut self) {
        let tree = self.descendants();
        self.signal(Signal::SIGKILL);
        kill_tree(&tree);
        if let Some(tag) = &self.tag {
            sweep_tagged(tag);
        }
    }
}

/// Shared by a [`Leader`] and the drop guards that may kill its group from elsewhere: a guard
/// signals only through the gate, and the leader closes the gate before it reaps, under one
/// lock, so no guard can signal a group whose leader is reaped (its id may be recycled).
#[derive(Debug, Default)]
pub(crate) struct ReapGate(Mutex<bool>);

impl ReapGate {
    fn lock(&self) -> std::sync::MutexGuard<'_, bool> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// No more signals: the leader is about to be reaped (or the run is over).
    pub(crate) fn close(&self) {
        *self.lock() = true;
    }

    /// Whether [`close`](Self::close) was called.
    pub(crate) fn is_closed(&self) -> bool {
        *self.lock()
    }

    /// Signals the group `pgid` unless the gate is closed.
    pub(crate) fn signal(&self, pgid: u32, signal: Signal) {
        let closed = self.lock();
        if !*closed {
            signal_group(pgid, signal);
        }
    }
}

impl Leader {
    /// Watches `child` (spawned with `process_group(0)`).
    pub(crate) fn new(child: Child) -> Self {
        let pgid = child.id();
        let (tx, exit) = watch::channel(false);
        match pgid.and_then(|p| i32::try_from(p).ok()) {
            Some(pid) => {
                let watcher = move || {
                    use nix::sys::wait::{Id, WaitPidFlag, waitid};
                    while let Err(nix::errno::Errno::EINTR) = waitid(
                        Id::Pid(Pid::from_raw(pid)),
                        WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT,
                    ) {}
                    let _ = tx.send(true);
                };
                let spawned = std::thread::Builder::new()
                    .name("codex-driver-exit".into())
                    .stack_size(64 * 1024)
                    .spawn(watcher);
                if spawned.is_err() {
                    // No thread to be had: poll the process state instead (a zombie is `Z`).
                    let (tx, rx) = watch::channel(false);
                    tokio::spawn(async move {
                        let stat = format!("/proc/{pid}/stat");
                        loop {
                            let state = std::fs::read_to_string(&stat).ok().and_then(|s| {
                                s.rsplit_once(')')
                                    .and_then(|(_, r)| r.trim_start().chars().next())
                            });
                            if matches!(state, None | Some('Z' | 'X')) {
                                let _ = tx.send(true);
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    });
                    return Self {
                        child,
                        pgid,
                        exit: rx,
                        status: None,
                        reaping: None,
                        tag: None,
                    };
                }
            }
            None => {
                let _ = tx.send(true);
            }
        }
        Self {
            child,
            pgid,
            exit,
            status: None,
            reaping: None,
            tag: None,
        }
    }

    /// Sweeps what carries `tag` when the leader is reaped or dropped (see [`sweep_tagged`]).
    pub(crate) fn tagged(mut self, tag: Option<RunTag>) -> Self {
        self.tag = tag;
        self
    }

    /// Closes `gate` just before the leader is reaped (see [`ReapGate`]).
    pub(crate) fn reap_gate(mut self, gate: Arc<ReapGate>) -> Self {
        self.reaping = Some(gate);
        self
    }

    /// The process group id (the leader's pid), while it was known at spawn.
    pub(crate) fn pgid(&self) -> Option<u32> {
        self.pgid
    }

    /// The child, e.g. to take its pipes.
    pub(crate) fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Whether the leader has exited (it may not be reaped yet).
    pub(crate) fn has_exited(&self) -> bool {
        *self.exit.borrow()
    }

    /// Resolves once the leader has exited, without reaping it. Cancel-safe.
    pub(crate) async fn exited(&mut self) {
        // A closed channel means the watcher is gone, which it only is after the exit.
        let _ = self.exit.wait_for(|e| *e).await;
    }

    /// Signals the group (a no-op once reaped).
    pub(crate) fn signal(&self, signal: Signal) {
        if self.status.is_none()
            && let Some(p) = self.pgid
        {
            signal_group(p, signal);
        }
    }

    /// Waits for the leader to exit, SIGKILLs the rest of its group (background commands, a
    /// descendant holding a pipe), then reaps it.
    pub(crate) async fn reap(&mut self) -> Option<std::process::ExitStatus> {
        if self.status.is_none() {
            self.exited().await;
            self.signal(Signal::SIGKILL);
            if let Some(tag) = &self.tag {
                sweep_tagged(tag);
            }
            if let Some(gate) = &self.reaping {
                gate.close();
            }
            self.status = self.child.wait().await.ok();
        }
        self.status
    }

    /// Stops the group: SIGTERM, up to `grace` for the leader to exit, then SIGKILL; always
    /// ends with the group killed and the leader reaped.
    pub(crate) async fn terminate(&mut self, grace: Duration) -> Option<std::process::ExitStatus> {
        // Taken while the leader lives: once it exits, its children belong to init.
        let tree = self.descendants();
        if self.status.is_none() && !self.has_exited() {
            self.signal(Signal::SIGTERM);
            if tokio::time::timeout(grace, self.exited()).await.is_err() {
                self.signal(Signal::SIGKILL);
            }
        }
        let status = self.reap().await;
        kill_tree(&tree);
        status
    }

    /// The leader's live descendants, while it has not exited (see [`descendant_tree`]).
    fn descendants(&self) -> Vec<(u32, u64)> {
        match self.pgid {
            Some(pid) if self.status.is_none() && !self.has_exited() => descendant_tree(pid),
            _ => Vec::new(),
        }
    }
}

/// The last bytes a child wrote to stderr, bounded.
#[derive(Clone, Debug, Default)]
pub struct StderrTail {
    inner: Arc<Mutex<TailBuf>>,
}

#[derive(Debug, Default)]
struct TailBuf {
    buf: VecDeque<u8>,
    cap: usize,
    dropped: u64,
}

impl StderrTail {
    /// A tail that keeps at most `cap` bytes.
    pub fn new(cap: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(TailBuf {
                buf: VecDeque::with_capacity(cap.min(64 * 1024)),
                cap,
                dropped: 0,
            })),
        }
    }

    fn push(&self, bytes: &[u8]) {
        let Ok(mut t) = self.inner.lock() else { return };
        let cap = t.cap;
        if bytes.len() >= cap {
            t.dropped += (t.buf.len() + bytes.len() - cap) as u64;
            t.buf.clear();
            t.buf.extend(&bytes[bytes.len() - cap..]);
            return;
        }
        let overflow = (t.buf.len() + bytes.len()).saturating_sub(cap);
        t.buf.drain(..overflow);
        t.dropped += overflow as u64;
        t.buf.extend(bytes);
    }

    /// The kept text (lossy UTF-8), starting at a line boundary when bytes were dropped.
    pub fn text(&self) -> String {
        let Ok(t) = self.inner.lock() else {
            return String::new();
        };
        let bytes: Vec<u8> = t.buf.iter().copied().collect();
        let s = String::from_utf8_lossy(&bytes).into_owned();
        if t.dropped > 0
            && let Some(nl) = s.find('\n')
        {
            return s[nl + 1..].to_owned();
        }
        s
    }

    /// Drains `reader` into the tail until EOF.
    pub(crate) async fn drain<R: AsyncRead + Unpin>(self, mut reader: R) {
        let mut chunk = vec![0u8; 8192];
        loop {
            match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let Some(bytes) = chunk.get(..n) {
                        tracing::trace!(target: "codex_driver::stderr", "{}", String::from_utf8_lossy(bytes));
                        self.push(bytes);
                    }
                }
            }
        }
    }
}

/// Kills a process group when dropped, unless disarmed: no child outlives a dropped future.
pub(crate) struct GroupKillGuard(pub(crate) Option<u32>);

impl GroupKillGuard {
    pub(crate) fn disarm(&mut self) {
        self.0 = None;
    }
}

impl Drop for GroupKillGuard {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            signal_group(pgid, Signal::SIGKILL);
        }
    }
}

/// Runs a short command (`codex --version`, `--help`, ...) with stdin closed and these extra
/// environment variables, in its own process group, for at most `limit`. `Ok(None)` on
/// timeout; on timeout or when the future is dropped the whole group is killed.
pub(crate) async fn run_bounded_in(
    path: &std::path::Path,
    args: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
    limit: Duration,
) -> std::io::Result<Option<std::process::Output>> {
    let mut cmd = tokio::process::Command::new(path);
    cmd.args(args)
        .envs(env.iter().copied())
        .env_remove("RUST_BACKTRACE");
    run_command_bounded(cmd, limit).await
}

/// Runs a prepared command to its end with stdin closed, stdout and stderr read, in its own
/// process group, for at most `limit`. `Ok(None)` on timeout; on timeout or when the future
/// is dropped the whole group is killed.
pub(crate) async fn run_command_bounded(
    cmd: tokio::process::Command,
    limit: Duration,
) -> std::io::Result<Option<std::process::Output>> {
    run_command_with_input(cmd, limit, None).await
}

/// [`run_command_bounded`], writing `input` to the child's stdin (then closing it) when given.
pub(crate) async fn run_command_with_input(
    mut cmd: tokio::process::Command,
    limit: Duration,
    input: Option<Vec<u8>>,
) -> std::io::Result<Option<std::process::Output>> {
    cmd.stdin(if input.is_some() {
        std::process::Stdio::piped()
    } else {
        std::process::Stdio::null()
    })
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .process_group(0)
    .kill_on_drop(true);
    let child = spawn(&mut cmd)?;
    let mut leader = Leader::new(child);
    // On a timeout, an I/O error or a dropped future, the guard kills the group before the
    // child (declared earlier, dropped later) can be reaped.
    let mut guard = GroupKillGuard(leader.pgid());
    let (mut out, mut err) = (
        leader.child_mut().stdout.take(),
        leader.child_mut().stderr.take(),
    );
    let stdin = leader.child_mut().stdin.take();
    let work = async {
        let write_in = async move {
            if let (Some(mut w), Some(bytes)) = (stdin, input) {
                // A child that exits without reading its input is not an error of ours.
                let _ = w.write_all(&bytes).await;
            }
        };
        let reads = async {
            let (mut o, mut e) = (Vec::new(), Vec::new());
            // Both at once: a child blocked writing one pipe never closes the other.
            let read_out = async {
                match out.as_mut() {
                    Some(s) => s.read_to_end(&mut o).await.map(drop),
                    None => Ok(()),
                }
            };
            let read_err = async {
                match err.as_mut() {
                    Some(s) => s.read_to_end(&mut e).await.map(drop),
                    None => Ok(()),
                }
            };
            let ((), r, e2) = tokio::join!(write_in, read_out, read_err);
            r?;
            e2?;
            std::io::Result::Ok((o, e))
        };
        tokio::pin!(reads);
        // Once the leader exits, a descendant holding a pipe open is killed with the group:
        // what was written stays readable.
        let read_first = tokio::select! {
            r = &mut reads => Some(r),
            () = leader.exited() => None,
        };
        leader.exited().await;
        leader.signal(Signal::SIGKILL);
        let (o, e) = match read_first {
            Some(r) => r?,
            None => reads.await?,
        };
        let status = leader.reap().await;
        guard.disarm();
        let status =
            status.ok_or_else(|| std::io::Error::other("the exit status could not be read"))?;
        std::io::Result::Ok(std::process::Output {
            status,
            stdout: o,
            stderr: e,
        })
    };
    match tokio::time::timeout(limit, work).await {
        Ok(Ok(o)) => Ok(Some(o)),
        Ok(Err(e)) => Err(e),
        Err(_) => Ok(None),
    }
}

/// What [`LineReader::next_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadLine {
    /// A line is in the buffer (without its newline).
    Line,
    /// A line longer than the limit was skipped; its length.
    TooLong(usize),
    /// End of input.
    Eof,
}

/// Splits a byte stream into `\n`-terminated lines, holding at most `limit` bytes of one line;
/// a longer line is consumed and skipped without buffering it.
///
/// [`LineReader::next_line`] is cancel-safe: all progress on a partly read line lives in the
/// struct, so dropping the future (a `select!` branch that lost) loses nothing.
pub(crate) struct LineReader<R> {
    reader: R,
    buf: Vec<u8>,
    limit: usize,
    /// Bytes of the current line seen so far (also past the limit).
    total: usize,
    too_long: bool,
    /// The previous call returned a line: start a new one on the next call.
    finished: bool,
    /// How to see the reader's buffer, when it can be seen ([`LineReader::peeking`]).
    peek: Option<fn(&R) -> &[u8]>,
    /// The last line was lent straight from the reader's buffer: its length with the newline,
    /// consumed at the next call.
    direct: Option<usize>,
}

impl<T: tokio::io::AsyncRead + Unpin> LineReader<tokio::io::BufReader<T>> {
    /// A reader that lends whole lines from the buffered reader's own buffer (no copy) and can
    /// tell whether another line is already buffered.
    pub(crate) fn peeking(reader: tokio::io::BufReader<T>, limit: usize) -> Self {
        let mut lines = LineReader::new(reader, limit);
        lines.peek = Some(tokio::io::BufReader::buffer);
        lines
    }
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub(crate) fn new(reader: R, limit: usize) -> Self {
        Self {
            reader,
            buf: Vec::with_capacity(8 * 1024),
            limit,
            total: 0,
            too_long: false,
            finished: false,
            peek: None,
            direct: None,
        }
    }

    /// Whether a whole line is already buffered, so the next read won't wait for input
    /// (always `false` unless made with [`LineReader::peeking`]).
    pub(crate) fn line_buffered(&self) -> bool {
        self.peek.is_some_and(|peek| {
            let rest = peek(&self.reader)
                .get(self.direct.unwrap_or(0)..)
                .unwrap_or(&[]);
            memchr::memchr(b'\n', rest).is_some()
        })
    }

    /// The line last returned as [`ReadLine::Line`] (without its newline).
    pub(crate) fn line(&self) -> &[u8] {
        match (self.direct, self.peek) {
            (Some(n), Some(peek)) => peek(&self.reader).get(..n - 1).unwrap_or(&[]),
            _ => &self.buf,
        }
    }

    /// Reads the next line.
    pub(crate) async fn next_line(&mut self) -> std::io::Result<ReadLine> {
        if self.finished {
            self.finished = false;
            if let Some(n) = self.direct.take() {
                self.reader.consume(n);
            }
            self.buf.clear();
            self.total = 0;
            self.too_long = false;
        }
        loop {
            // The only await point; everything after it runs to the next await without yielding.
            let available = self.reader.fill_buf().await?;
            if available.is_empty() {
                self.finished = true;
                return Ok(if self.too_long {
                    ReadLine::TooLong(self.total)
                } else if self.total == 0 {
                    ReadLine::Eof
                } else {
                    ReadLine::Line
                });
            }
            let (chunk, found) = match memchr::memchr(b'\n', available) {
                Some(i) => (&available[..i], Some(i + 1)),
                None => (available, None),
            };
            // A whole line in the reader's buffer with nothing carried over: lent from there,
            // not copied.
            if let Some(end) = found
                && self.peek.is_some()
                && self.total == 0
                && chunk.len() <= self.limit
            {
                self.total = chunk.len();
                self.direct = Some(end);
                self.finished = true;
                return Ok(ReadLine::Line);
            }
            self.total += chunk.len();
            if !self.too_long {
                if self.total > self.limit {
                    self.too_long = true;
                    self.buf.clear();
                    self.buf.shrink_to(64 * 1024);
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            let used = found.unwrap_or(available.len());
            self.reader.consume(used);
            if found.is_some() {
                self.finished = true;
                return Ok(if self.too_long {
                    ReadLine::TooLong(self.total)
                } else {
                    ReadLine::Line
                });
            }
        }
    }
}

/// Test-only record of every group signal: was the leader's pid still reserved (a live process
/// or a zombie) when it was sent?
#[cfg(test)]
pub(crate) mod signals {
    use std::sync::Mutex;

    static LOG: Mutex<Vec<(u32, bool)>> = Mutex::new(Vec::new());

    pub(crate) fn record(pgid: u32) {
        let reserved = std::path::Path::new(&format!("/proc/{pgid}")).exists();
        if let Ok(mut l) = LOG.lock() {
            l.push((pgid, reserved));
        }
    }

    /// Whether each signal sent to `pgid` so far found its leader's pid reserved.
    pub(crate) fn sent_to(pgid: u32) -> Vec<bool> {
        LOG.lock()
            .map(|l| {
                l.iter()
                    .filter(|(p, _)| *p == pgid)
                    .map(|(_, r)| *r)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every signal recorded whose leader was already gone.
    pub(crate) fn after_reaping() -> Vec<u32> {
        LOG.lock()
            .map(|l| l.iter().filter(|(_, r)| !r).map(|(p, _)| *p).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// A helper the child moved into a session of its own (as Codex does with its shell
    /// snapshot) is out of reach of a group signal; `terminate` still ends it.
    #[tokio::test]
    async fn terminate_ends_descendants_in_other_sessions() -> anyhow::Result<()> {
        let mut leader = Leader::new(sh("setsid sleep 300 & wait")?);
        let pid = leader.pgid().unwrap_or_default();
        let mut helper = None;
        for _ in 0..100 {
            helper = descendant_tree(pid).first().map(|(p, _)| *p);
            if helper.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let helper = helper.ok_or_else(|| anyhow::anyhow!("no helper started"))?;
        leader.terminate(Duration::from_millis(200)).await;
        let mut gone = false;
        for _ in 0..100 {
            let state = std::fs::read_to_string(format!("/proc/{helper}/stat")).ok();
            if state.is_none_or(|s| s.contains(") Z ")) {
                gone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(gone, "helper {helper} survived");
        Ok(())
    }

    fn sh(script: &str) -> std::io::Result<Child> {
        tokio::process::Command::new("sh")
            .args(["-c", script])
            .stdout(std::process::Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
    }

    /// Regression (security review): the group was SIGKILLed after its leader was reaped, when
    /// the id may already belong to someone else. Every signal must find the leader unreaped.
    #[tokio::test]
    async fn groups_are_signalled_only_while_the_leader_is_unreaped() -> anyhow::Result<()> {
        // A leader that exits by itself, leaving a background straggler in its group.
        let mut quick = Leader::new(sh("sleep 30 & exit 3")?);
        let quick_pgid = quick.pgid().unwrap_or_default();
        let status = quick.reap().await;
        assert_eq!(status.and_then(|s| s.code()), Some(3));
        // (Killed; its zombie is reaped by init, which may take a moment.)
        let gone = async {
            while group_alive(quick_pgid) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        let gone = tokio::time::timeout(Duration::from_secs(5), gone).await;
        assert!(gone.is_ok(), "the straggler was killed with the group");
        // A leader that ignores SIGTERM: terminated with the grace, then killed.
        let mut stubborn = Leader::new(sh("trap '' TERM; sleep 30")?);
        let stubborn_pgid = stubborn.pgid().unwrap_or_default();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let status = stubborn.terminate(Duration::from_millis(200)).await;
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.and_then(|s| s.signal()), Some(9));
        // A bounded probe whose straggler holds stdout open.
        let out = run_bounded_in(
            Path::new("/bin/sh"),
            &["-c", "sleep 30 & echo probed"],
            &[],
            Duration::from_secs(10),
        )
        .await?
        .ok_or_else(|| anyhow::anyhow!("timed out"))?;
        assert_eq!(String::from_utf8_lossy(&out.stdout), "probed\n");
        for pgid in [quick_pgid, stubborn_pgid] {
            let sent = signals::sent_to(pgid);
            assert!(
                !sent.is_empty() && sent.iter().all(|r| *r),
                "{pgid}: {sent:?}"
            );
        }
        assert_eq!(signals::after_reaping(), Vec::<u32>::new());
        Ok(())
    }

    #[test]
    fn tail_keeps_last_bytes_from_a_line_start() {
        let t = StderrTail::new(10);
        t.push(b"first line\n");
        t.push(b"ab\ncd\n");
        assert_eq!(t.text(), "ab\ncd\n");
        let t = StderrTail::new(100);
        t.push(b"x\ny\n");
        assert_eq!(t.text(), "x\ny\n");
    }

    #[tokio::test]
    async fn bounded_lines() -> std::io::Result<()> {
        let data = b"short\nthis line is too long\nok\nlast-no-newline".to_vec();
        let mut r = LineReader::new(tokio::io::BufReader::with_capacity(4, &data[..]), 8);
        assert_eq!(r.next_line().await?, ReadLine::Line);
        assert_eq!(r.line(), b"short");
        assert_eq!(r.next_line().await?, ReadLine::TooLong(21));
        assert_eq!(r.next_line().await?, ReadLine::Line);
        assert_eq!(r.line(), b"ok");
        r.limit = 100;
        assert_eq!(r.next_line().await?, ReadLine::Line);
        assert_eq!(r.line(), b"last-no-newline");
        assert_eq!(r.next_line().await?, ReadLine::Eof);
        Ok(())
    }

    /// Lines lent from the reader's buffer are the lines a copying reader gives, whatever the
    /// buffer size; `line_buffered` says whether the next one is already there.
    #[tokio::test]
    async fn a_peeking_reader_gives_the_same_lines() -> std::io::Result<()> {
        let data = b"a\n\nshort\nthis line is too long\nok\n12345678\nlast-no-newline".to_vec();
        let mut expected = Vec::new();
        let mut copying = LineReader::new(&data[..], 8);
        loop {
            match copying.next_line().await? {
                ReadLine::Eof => break,
                r => expected.push((r, copying.line().to_vec())),
            }
        }
        for cap in [1, 3, 4, 9, 16, 64] {
            let mut peeking =
                LineReader::peeking(tokio::io::BufReader::with_capacity(cap, &data[..]), 8);
            let mut got = Vec::new();
            loop {
                match peeking.next_line().await? {
                    ReadLine::Eof => break,
                    r => got.push((r, peeking.line().to_vec())),
                }
                let ahead = peeking.line_buffered();
                // What is buffered past the current line holds a newline exactly when it says so.
                let start = peeking.direct.unwrap_or(0);
                let rest = &peeking.reader.buffer()[start..];
                assert_eq!(ahead, rest.contains(&b'\n'), "cap {cap}");
            }
            assert_eq!(got, expected, "cap {cap}");
        }
        Ok(())
    }

    /// A `select!` that drops `next_line` halfway through a line must not lose or split it.
    #[tokio::test]
    async fn a_cancelled_read_keeps_the_partial_line() -> std::io::Result<()> {
        for limit in [1024, 8] {
            let (mut w, r) = tokio::io::duplex(64);
            let mut lines = LineReader::new(tokio::io::BufReader::with_capacity(4, r), limit);
            w.write_all(b"first half ").await?;
            let cut = tokio::time::timeout(Duration::from_millis(50), lines.next_line()).await;
            assert!(cut.is_err(), "no line is complete yet");
            w.write_all(b"second half\nnext\n").await?;
            drop(w);
            if limit == 1024 {
                assert_eq!(lines.next_line().await?, ReadLine::Line);
                assert_eq!(lines.line(), b"first half second half");
            } else {
                assert_eq!(lines.next_line().await?, ReadLine::TooLong(22));
            }
            assert_eq!(lines.next_line().await?, ReadLine::Line);
            assert_eq!(lines.line(), b"next");
            assert_eq!(lines.next_line().await?, ReadLine::Eof);
        }
        Ok(())
    }
}
