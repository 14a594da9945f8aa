//! Child-process plumbing shared by every surface: process groups, graceful shutdown,
//! a bounded stderr tail and a bounded line reader.

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt};
use tokio::process::Child;

/// Sends `signal` to the whole process group led by `pgid`. Errors (the group is gone) are ignored.
pub(crate) fn signal_group(pgid: u32, signal: Signal) {
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

/// Stops a child that leads its own process group: SIGTERM to the group, up to `grace` for the
/// leader to exit, then SIGKILL to the group; always reaps the leader and ends with a SIGKILL to
/// the group so that no grandchild outlives it.
pub(crate) async fn terminate_group(
    child: &mut Child,
    pgid: u32,
    grace: Duration,
) -> Option<std::process::ExitStatus> {
    if let Ok(Some(status)) = child.try_wait() {
        signal_group(pgid, Signal::SIGKILL);
        return Some(status);
    }
    signal_group(pgid, Signal::SIGTERM);
    let status = match tokio::time::timeout(grace, child.wait()).await {
        Ok(Ok(status)) => Some(status),
        _ => {
            signal_group(pgid, Signal::SIGKILL);
            child.wait().await.ok()
        }
    };
    signal_group(pgid, Signal::SIGKILL);
    status
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

/// Runs a short command (`codex --version`, `--help`, ...) with stdin closed, in its own
/// process group, for at most `limit`. `Ok(None)` on timeout; on timeout or when the future is
/// dropped the whole group is killed.
pub(crate) async fn run_bounded(
    path: &std::path::Path,
    args: &[&str],
    limit: Duration,
) -> std::io::Result<Option<std::process::Output>> {
    run_bounded_in(path, args, &[], limit).await
}

/// [`run_bounded`] with extra environment variables.
pub(crate) async fn run_bounded_in(
    path: &std::path::Path,
    args: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
    limit: Duration,
) -> std::io::Result<Option<std::process::Output>> {
    let child = tokio::process::Command::new(path)
        .args(args)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .env_remove("RUST_BACKTRACE")
        .process_group(0)
        .kill_on_drop(true)
        .spawn()?;
    let mut guard = GroupKillGuard(child.id());
    let out = tokio::time::timeout(limit, child.wait_with_output()).await;
    match out {
        Ok(Ok(o)) => {
            guard.disarm();
            Ok(Some(o))
        }
        // On an I/O error or the deadline the guard kills the group (a descendant may hold the
        // pipes open).
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
        }
    }

    /// The line last returned as [`ReadLine::Line`] (without its newline).
    pub(crate) fn line(&self) -> &[u8] {
        &self.buf
    }

    /// Reads the next line.
    pub(crate) async fn next_line(&mut self) -> std::io::Result<ReadLine> {
        if self.finished {
            self.finished = false;
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
            let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], Some(i + 1)),
                None => (available, None),
            };
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

#[cfg(test)]
mod tests {
    use super::*;

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

    /// A `select!` that drops `next_line` halfway through a line must not lose or split it.
    #[tokio::test]
    async fn a_cancelled_read_keeps_the_partial_line() -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
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
