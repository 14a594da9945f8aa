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

/// Whether `err` comes from writing to a closed pipe.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
