//! What a finished `codex exec` means: the exit status plus what its stream showed, and
//! Codex's own stderr (clap and config errors), turned into the run's outcome.

use super::supervisor::Seen;
use crate::error::{Error, Result};

/// Turns an exit status plus what the stream showed into the run's outcome.
pub(super) fn classify(
    status: std::process::ExitStatus,
    seen: &Seen,
    stderr_tail: String,
) -> Result<()> {
    use std::os::unix::process::ExitStatusExt;
    if let Some(message) = &seen.failed {
        return Err(Error::TurnFailed {
            message: message.clone(),
            thread_id: seen.thread_id.clone(),
            stderr_tail,
            info: None,
        });
    }
    if status.success() {
        return if seen.completed {
            Ok(())
        } else {
            Err(Error::NoTerminalEvent {
                stderr_tail,
                last_error: seen.last_error.clone(),
            })
        };
    }
    if let Some(signal) = status.signal() {
        return Err(Error::Signaled {
            signal,
            stderr_tail,
            last_error: seen.last_error.clone(),
        });
    }
    if let Some((argument, message)) = unknown_argument(&stderr_tail) {
        return Err(Error::UnknownArgument {
            argument,
            message,
            stderr_tail,
        });
    }
    if let Some(message) = config_error(&stderr_tail) {
        return Err(Error::Config {
            message,
            stderr_tail,
        });
    }
    if let Some(id) = missing_thread(&stderr_tail) {
        return Err(Error::ThreadNotFound {
            id,
            message: first_error_line(&stderr_tail),
        });
    }
    Err(Error::Exited {
        code: status.code().unwrap_or(-1),
        stderr_tail,
        last_error: seen.last_error.clone(),
    })
}

/// clap's `error: unexpected argument '--x' found`: the argument and the line.
fn unknown_argument(stderr: &str) -> Option<(String, String)> {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error: unexpected argument '"))?;
    let rest = line.strip_prefix("error: unexpected argument '")?;
    let arg = rest.split('\'').next()?.to_owned();
    Some((arg, line.trim().to_owned()))
}

/// `resume`/`fork` of a thread Codex has no rollout for: the id.
fn missing_thread(stderr: &str) -> Option<String> {
    let at = stderr.find("no rollout found for thread id ")?;
    let rest = &stderr[at + "no rollout found for thread id ".len()..];
    let id: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    (!id.is_empty()).then_some(id)
}

fn first_error_line(stderr: &str) -> String {
    stderr
        .lines()
        .find(|l| l.contains("rror"))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// The stderr line that says Codex refused its configuration or arguments, if any.
pub(crate) fn config_error(stderr: &str) -> Option<String> {
    const MARKERS: &[&str] = &[
        "Error loading configuration",
        "Error loading config.toml",
        "unknown configuration field",
        "Unknown feature flag",
        "error: invalid value",
        "error: the argument",
        "is no longer supported",
        "Model provider `",
        "CODEX_HOME points to",
        "Not inside a trusted directory",
        "error parsing",
        "Failed to read output schema file",
        "Failed to open last message file",
    ];
    stderr
        .lines()
        .find(|l| MARKERS.iter().any(|m| l.contains(m)))
        .map(|l| l.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn seen(f: impl FnOnce(&mut Seen)) -> Seen {
        let mut s = Seen::default();
        f(&mut s);
        s
    }

    #[test]
    fn classification() {
        let ok = std::process::ExitStatus::from_raw(0);
        let one = std::process::ExitStatus::from_raw(1 << 8);
        let killed = std::process::ExitStatus::from_raw(9);
        assert!(classify(ok, &seen(|s| s.completed = true), String::new()).is_ok());
        assert!(matches!(
            classify(one, &seen(|s| s.failed = Some("boom".into())), String::new()),
            Err(Error::TurnFailed { message, .. }) if message == "boom"
        ));
        assert!(matches!(
            classify(ok, &Seen::default(), String::new()),
            Err(Error::NoTerminalEvent { .. })
        ));
        assert!(matches!(
            classify(killed, &Seen::default(), String::new()),
            Err(Error::Signaled { signal: 9, .. })
        ));
        let clap = "error: unexpected argument '--worktree' found\n\n  tip: …\n".to_string();
        assert!(matches!(
            classify(std::process::ExitStatus::from_raw(2 << 8), &Seen::default(), clap),
            Err(Error::UnknownArgument { argument, .. }) if argument == "--worktree"
        ));
        let tail = "Error: thread/resume: thread/resume failed: no rollout found for thread id 0193-beef (code -32600)\n".to_string();
        assert!(matches!(
            classify(one, &Seen::default(), tail),
            Err(Error::ThreadNotFound { id, .. }) if id == "0193-beef"
        ));
        let tail = "Error: Unknown feature flag: bogus\n".to_string();
        assert!(matches!(
            classify(one, &Seen::default(), tail),
            Err(Error::Config { message, .. }) if message == "Error: Unknown feature flag: bogus"
        ));
        assert!(matches!(
            classify(one, &seen(|s| s.last_error = Some("x".into())), "panic\n".into()),
            Err(Error::Exited { code: 1, last_error: Some(e), .. }) if e == "x"
        ));
    }
}
