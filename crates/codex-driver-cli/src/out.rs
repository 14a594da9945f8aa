//! Data goes to stdout through [`line`] (the `outln!` macro), whose errors propagate: a reader
//! that went away (`| head -1`) ends the command quietly with status 141, as SIGPIPE ends a
//! Unix tool, after the usual cleanup (Codex stopped, hooks removed).

use std::io::Write;

/// What a shell reports for a process ended by SIGPIPE (128 + 13).
pub const BROKEN_PIPE_STATUS: u8 = 141;

/// Writes one line to stdout and flushes it.
pub fn line(args: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_fmt(args)?;
    o.write_all(b"\n")?;
    o.flush()
}

/// Writes text to stdout (no newline added) and flushes it.
pub fn text(s: &str) -> std::io::Result<()> {
    let mut o = std::io::stdout().lock();
    o.write_all(s.as_bytes())?;
    o.flush()
}

/// Resolves on Ctrl-C, SIGTERM (`systemctl stop`, `docker stop`, CI cancellation) or SIGHUP
/// (the terminal went away): each is a request to stop gracefully. `false` when no handler
/// could be installed.
pub async fn stop_requested() -> bool {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        return tokio::signal::ctrl_c().await.is_ok();
    };
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.is_ok(),
        _ = term.recv() => true,
        _ = hup.recv() => true,
    }
}

/// Whether `err` comes from writing to a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
