//! The library's error type: one variant per stage, each carrying what a caller needs to act.

mod kind;

pub use kind::ErrorKind;
use std::path::PathBuf;
use std::time::Duration;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which deadline expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// No stdout line for the idle period.
    Idle,
    /// The whole run took longer than allowed.
    Overall,
    /// Codex closed its stdout but did not exit within
    /// [`EXIT_AFTER_EOF`](crate::exec::EXIT_AFTER_EOF): it was stopped.
    ExitAfterOutput,
}

impl std::fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Idle => "idle",
            Self::Overall => "overall",
            Self::ExitAfterOutput => "exit after closing stdout",
        })
    }
}

/// Why the OS keyring could not be used (see [`Error::Keyring`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum KeyringProblem {
    /// No keyring service: no D-Bus session bus, or nothing on it provides
    /// `org.freedesktop.secrets`.
    NoSecretService,
    /// The keyring is locked and no prompt could unlock it (headless).
    Locked,
    /// A keyring daemon runs but has no usable collection (never initialised).
    NotInitialised,
    /// More than one item matches the service and account.
    Ambiguous,
    /// The keyring refused access.
    Denied,
    /// This build cannot use a keyring (built without the `keyring` feature), or the store is a
    /// backend not supported here (Codex's `secret_auth_storage`).
    Unsupported,
    /// The keyring did not answer in time (e.g. waiting on an unlock prompt).
    TimedOut,
    /// Anything else.
    Other,
}

impl KeyringProblem {
    /// What to do about it, for a message.
    pub fn advice(self) -> &'static str {
        match self {
            Self::NoSecretService => {
                "start a Secret Service (e.g. gnome-keyring) in a D-Bus session, or use the file store"
            }
            Self::Locked => {
                "unlock the keyring (e.g. log in to the desktop session), or use the file store"
            }
            Self::NotInitialised => {
                "create and unlock a login keyring (`gnome-keyring-daemon --unlock`), or use the file store"
            }
            Self::Ambiguous => {
                "remove the duplicate items (`secret-tool search --all service ...`)"
            }
            Self::Denied => "allow this program to use the keyring, or use the file store",
            Self::Unsupported => "use the file store, or a build with the `keyring` feature",
            Self::TimedOut => {
                "the keyring may be waiting on an unlock prompt; unlock it or use the file store"
            }
            Self::Other => "check the keyring service, or use the file store",
        }
    }
}

impl std::fmt::Display for KeyringProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NoSecretService => "no Secret Service is reachable",
            Self::Locked => "the keyring is locked",
            Self::NotInitialised => "the keyring is not initialised",
            Self::Ambiguous => "more than one keyring item matches",
            Self::Denied => "the keyring denied access",
            Self::Unsupported => "keyring not supported",
            Self::TimedOut => "the keyring did not answer",
            Self::Other => "the keyring failed",
        })
    }
}

/// Everything that can go wrong driving Codex.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No Codex binary was found.
    #[error("no Codex binary found; looked in: {}", looked_in.join(", "))]
    BinaryNotFound {
        /// Every place searched, in order.
        looked_in: Vec<String>,
    },

    /// The binary could not be started.
    #[error("failed to start Codex at {}: {source}{}", path.display(), spawn_hint(path))]
    Spawn {
        /// The binary's path.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },

    /// `codex --version` did not print a version we understand.
    #[error("could not read the version of {}: {detail}", path.display())]
    Version {
        /// The binary's path.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },

    /// An option needs a newer Codex than the one found. Raised before spawning.
    #[error(
        "option `{option}` needs Codex {required}, but {} is {found}",
        binary.display()
    )]
    Unsupported {
        /// The option, as the flag Codex would receive.
        option: String,
        /// The requirement (e.g. `> 0.130.0`).
        required: String,
        /// The version found.
        found: semver::Version,
        /// The binary checked.
        binary: PathBuf,
    },

    /// The binary is older than [`SUPPORTED_CODEX`](crate::SUPPORTED_CODEX). Raised before
    /// spawning, unless the caller opted in with `allow_unsupported(true)` (then a warning).
    #[error(
        "Codex {found} at {} is older than this library supports ({supported}); install a supported release, or opt in with allow_unsupported(true)",
        binary.display()
    )]
    BinaryTooOld {
        /// The version found.
        found: semver::Version,
        /// The supported range ([`SUPPORTED_CODEX`](crate::SUPPORTED_CODEX)).
        supported: String,
        /// The binary checked.
        binary: PathBuf,
    },

    /// Options that cannot be combined, or a value Codex would reject.
    #[error("invalid options: {0}")]
    InvalidOptions(String),

    /// Codex rejected its configuration (config.toml, `-c` overrides, a flag or a feature).
    #[error("Codex rejected its configuration: {message}")]
    Config {
        /// Codex's message (first error line of stderr).
        message: String,
        /// The end of stderr.
        stderr_tail: String,
    },

    /// Codex's argument parser rejected a flag (typically: the binary predates it). Only seen
    /// when version checks are off or the binary misreports its version.
    #[error("Codex rejected the argument `{argument}`: {message}")]
    UnknownArgument {
        /// The argument Codex named.
        argument: String,
        /// Codex's message.
        message: String,
        /// The end of stderr.
        stderr_tail: String,
    },

    /// The turn ran and failed (`turn.failed`; an app-server turn completed as failed).
    #[error("turn failed: {message}")]
    TurnFailed {
        /// Codex's message.
        message: String,
        /// The thread id, when known.
        thread_id: Option<String>,
        /// The end of stderr.
        stderr_tail: String,
        /// Codex's own classification (app-server `codexErrorInfo`, e.g. `"unauthorized"` or
        /// `{"httpConnectionFailed": {"httpStatusCode": 401}}`), raw; `exec --json` has none.
        /// [`Error::kind`] and [`Error::http_status`] read it.
        info: Option<Box<serde_json::Value>>,
    },

    /// Codex exited with a failure status without reporting a failed turn.
    #[error("Codex exited with status {code}{}: {}", last_error.as_deref().map(|e| format!(" (last error: {e})")).unwrap_or_default(), first_line(stderr_tail))]
    Exited {
        /// Exit code.
        code: i32,
        /// The end of stderr.
        stderr_tail: String,
        /// The last `error` event or item seen, if any.
        last_error: Option<String>,
    },

    /// Codex was killed by a signal it did not get from us.
    #[error("Codex was killed by signal {signal}")]
    Signaled {
        /// The signal number.
        signal: i32,
        /// The end of stderr.
        stderr_tail: String,
        /// The last `error` event or item seen, if any.
        last_error: Option<String>,
    },

    /// Codex exited successfully but its stream had no `turn.completed`/`turn.failed`.
    #[error("Codex's event stream ended without turn.completed or turn.failed")]
    NoTerminalEvent {
        /// The end of stderr.
        stderr_tail: String,
        /// The last `error` event or item seen, if any.
        last_error: Option<String>,
    },

    /// A deadline expired; the process group was killed.
    #[error("Codex timed out ({kind} timeout of {after:?}); the process group was killed")]
    Timeout {
        /// Which deadline.
        kind: TimeoutKind,
        /// Its length.
        after: Duration,
        /// The end of stderr.
        stderr_tail: String,
    },

    /// The run was cancelled; the process group was killed.
    #[error("the run was cancelled; the process group was killed")]
    Cancelled,

    /// A limit the caller set on a conversation was reached: the turn was refused before it
    /// started, or interrupted when its spending crossed the budget
    /// ([`cost::Meter`](crate::cost::Meter)).
    #[error("{limit} reached on thread {thread}: ${spent_usd:.4} spent over {turns} turn(s){}", if *.interrupted { "; the running turn was interrupted" } else { "; no turn was started" })]
    BudgetExceeded {
        /// Which limit, e.g. `max_budget $0.50` or `max_turns 10`.
        limit: String,
        /// The thread (empty before one exists).
        thread: String,
        /// Spent so far, in US dollars, by the meter's rate card.
        spent_usd: f64,
        /// Turns run so far (the interrupted one included).
        turns: u32,
        /// True when a running turn was interrupted; false when a new one was refused.
        interrupted: bool,
    },

    /// The final message was not the JSON the output schema asked for.
    #[error("the final message is not valid {type_name}: {source}")]
    StructuredOutput {
        /// The Rust type expected.
        type_name: &'static str,
        /// The text Codex returned.
        text: String,
        /// The decode error.
        #[source]
        source: serde_json::Error,
    },

    /// The turn completed without an agent message.
    #[error("the turn completed without a final agent message")]
    NoFinalMessage,

    /// A `CODEX_HOME` that can't be used as asked.
    #[error("CODEX_HOME {}: {problem}", path.display())]
    Home {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        problem: HomeProblem,
    },

    /// A directory the library would trust (e.g. a notify spool) is not private to the current
    /// user: see [`crate::fsutil::check_private_dir`]. Homes report the same problems as
    /// [`Error::Home`].
    #[error("directory {} can't be trusted: {problem}", path.display())]
    UnsafeDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        problem: HomeProblem,
    },

    /// A `config.toml` could not be read, parsed or written; nothing in it was changed.
    #[error("config file {}{}: {detail}", path.display(), match (line, column) {
        (Some(l), Some(c)) => format!(":{l}:{c}"),
        _ => String::new(),
    })]
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// 1-based line of a parse error.
        line: Option<usize>,
        /// 1-based column of a parse error.
        column: Option<usize>,
        /// What went wrong.
        detail: String,
    },

    /// No snapshot of a `config.toml` has this id (see [`Snapshots`](crate::config::Snapshots)).
    #[error("no snapshot `{id}` of {} in {}", file.display(), dir.display())]
    ConfigSnapshotUnknown {
        /// The id asked for.
        id: String,
        /// The configuration file.
        file: PathBuf,
        /// Its snapshot directory.
        dir: PathBuf,
    },

    /// An auth file could not be read, parsed or written. Never carries secret values.
    #[error("auth file {}: {detail}", path.display())]
    Auth {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },

    /// The OS keyring could not be used for a credential. Never carries the secret.
    #[error("keyring: {operation}: {problem} ({detail}); {}", problem.advice())]
    Keyring {
        /// What was being done, naming the service and account.
        operation: String,
        /// Absent, locked, uninitialised, ambiguous, refusing, ...
        problem: KeyringProblem,
        /// The keyring's own words.
        detail: String,
    },

    /// A login, logout or status command of Codex failed (`codex login`, `codex mcp login`, ...).
    /// Its message is Codex's last stderr line, with secrets it may have echoed masked.
    #[error("`codex {command}` failed: {message}")]
    Login {
        /// The sub-command, e.g. `login --device-auth`.
        command: String,
        /// What Codex said.
        message: String,
        /// Set when Codex's words show its credential store failed.
        store: Option<KeyringProblem>,
    },

    /// A managed install failed; nothing was left in the install directory.
    #[error("installing Codex {version}: {stage} failed: {detail}")]
    Install {
        /// The version requested.
        version: String,
        /// Which step failed.
        stage: InstallStage,
        /// What went wrong.
        detail: String,
    },

    /// A downloaded package did not match its published integrity hash.
    #[error("integrity check failed for {url}: expected {expected}, got {actual}")]
    Integrity {
        /// The tarball URL.
        url: String,
        /// The published `dist.integrity`.
        expected: String,
        /// What the bytes hash to.
        actual: String,
    },

    /// Probing a binary's capabilities failed.
    #[error("probing {}: {detail}", path.display())]
    Probe {
        /// The binary.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },

    /// The app-server answered a request with a JSON-RPC error.
    #[error("app-server `{method}` failed ({code}): {message}")]
    Rpc {
        /// The request's method.
        method: String,
        /// JSON-RPC error code.
        code: i64,
        /// Message.
        message: String,
        /// Optional data.
        data: Option<Box<serde_json::Value>>,
    },

    /// An app-server request got no answer in time.
    #[error("app-server `{method}` got no response within {after:?}")]
    RequestTimeout {
        /// The request's method.
        method: String,
        /// The timeout.
        after: Duration,
    },

    /// The app-server connection closed (exit, crash, shutdown) before the answer came.
    #[error("app-server closed during `{method}`: {reason}{}", said(stderr_tail))]
    AppServerClosed {
        /// What was waiting.
        method: String,
        /// Why it closed.
        reason: String,
        /// The end of its stderr.
        stderr_tail: String,
    },

    /// The app-server sent something that does not match the protocol.
    #[error("unexpected app-server response to `{method}`: {detail}")]
    Protocol {
        /// The request's method.
        method: String,
        /// What was wrong.
        detail: String,
    },

    /// Another process (or another handle in this one) is driving this task or thread; see
    /// [`tasks`](crate::tasks). Wait for it, or open the task as shared.
    #[error("task `{key}` is being driven by {}; open it shared to drive it anyway", holder.map(|p| format!("process {p}")).unwrap_or_else(|| "another handle".into()))]
    TaskBusy {
        /// The task key (or `thread:<id>` when the thread itself is held).
        key: String,
        /// The pid that holds it, when it recorded one.
        holder: Option<u32>,
    },

    /// The registry has no task with this key (and the caller asked to resume, not start).
    #[error("no task `{key}` in the registry {}", registry.display())]
    TaskUnknown {
        /// The key.
        key: String,
        /// The registry's directory.
        registry: PathBuf,
    },

    /// `resume`/`fork` named a thread Codex has no saved rollout for (in the home it ran with).
    #[error("Codex has no saved thread `{id}` to continue: {message}")]
    ThreadNotFound {
        /// The thread id asked for.
        id: String,
        /// Codex's error line.
        message: String,
    },

    /// A thread a caller named can no longer be continued where it was expected.
    #[error("thread {thread_id} can't be continued: {reason}")]
    ThreadGone {
        /// The thread.
        thread_id: String,
        /// The home it was looked for in.
        home: PathBuf,
        /// Why.
        reason: ThreadGoneReason,
    },

    /// No saved session matches what was asked (an id, a prefix, a name).
    #[error("no session matches `{query}` in {}{}", home.display(), if candidates.is_empty() { String::new() } else { format!(" (ambiguous: {})", candidates.join(", ")) })]
    SessionNotFound {
        /// What was looked for.
        query: String,
        /// The home searched.
        home: PathBuf,
        /// When ambiguous, the matching thread ids (at most 10).
        candidates: Vec<String>,
    },

    /// A Codex sub-command this library runs to completion (`archive`, `delete`, `queue`, the
    /// TUI, ...) failed.
    #[error("`codex {command}` failed{}: {message}", code.map(|c| format!(" (exit {c})")).unwrap_or_default())]
    Command {
        /// The sub-command, e.g. `archive`.
        command: String,
        /// Its exit code (`None`: killed by a signal).
        code: Option<i32>,
        /// Codex's own words (its last stderr line), or what went wrong.
        message: String,
    },

    /// Codex's state database could not be read.
    #[error("state database {}: {detail}", path.display())]
    StateDb {
        /// The database file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },

    /// Local I/O (temp files, output files, tee files).
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Why a thread can't be continued (see [`Error::ThreadGone`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ThreadGoneReason {
    /// No rollout and no state row: it was deleted (or never saved: an ephemeral run).
    Deleted,
    /// It was archived (`codex archive`, `thread/archive`); unarchive it to continue.
    Archived,
    /// It was recorded in another CODEX_HOME than the one given now.
    OtherHome {
        /// The home the task was recorded with.
        recorded: PathBuf,
    },
}

impl std::fmt::Display for ThreadGoneReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Deleted => f.write_str("it no longer exists in this home (deleted?)"),
            Self::Archived => f.write_str("it is archived; unarchive it first"),
            Self::OtherHome { recorded } => {
                write!(
                    f,
                    "it was recorded in another CODEX_HOME, {}",
                    recorded.display()
                )
            }
        }
    }
}

/// Steps of a managed install.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstallStage {
    /// Reading the npm configuration or the registry metadata.
    Registry,
    /// Downloading the tarball.
    Download,
    /// Unpacking it.
    Unpack,
    /// Taking the install lock.
    Lock,
    /// The package did not have the expected layout.
    Layout,
    /// The registry's integrity for a release differs from the one this library pins.
    Integrity,
}

impl std::fmt::Display for InstallStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Registry => "registry lookup",
            Self::Download => "download",
            Self::Unpack => "unpacking",
            Self::Lock => "locking",
            Self::Layout => "layout check",
            Self::Integrity => "integrity check",
        })
    }
}

impl Error {
    /// The stderr tail carried by this error, if any.
    pub fn stderr_tail(&self) -> Option<&str> {
        match self {
            Self::Config { stderr_tail, .. }
            | Self::UnknownArgument { stderr_tail, .. }
            | Self::TurnFailed { stderr_tail, .. }
            | Self::Exited { stderr_tail, .. }
            | Self::Signaled { stderr_tail, .. }
            | Self::NoTerminalEvent { stderr_tail, .. }
            | Self::Timeout { stderr_tail, .. }
            | Self::AppServerClosed { stderr_tail, .. } => Some(stderr_tail),
            _ => None,
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

/// The line of a stderr tail that says what went wrong: Codex's last `Error: ...` line, else
/// the last line mentioning an error, else the last line; never a backtrace frame.
fn first_line(s: &str) -> &str {
    let frame = |l: &str| {
        let t = l.trim_start();
        t.starts_with("at ")
            || t.split_once(':')
                .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            || t.starts_with("Stack backtrace")
    };
    let lines = || {
        s.lines()
            .rev()
            .filter(|l| !l.trim().is_empty() && !frame(l))
    };
    lines()
        .find(|l| l.trim_start().starts_with("Error:"))
        .or_else(|| lines().find(|l| l.contains("rror")))
        .or_else(|| lines().next())
        .unwrap_or("no stderr")
}

/// What is wrong with a binary path that could not be started, when it shows.
fn spawn_hint(path: &std::path::Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => " (it is a directory, not the Codex binary)".into(),
        Ok(m) if m.permissions().mode() & 0o111 == 0 => format!(
            " (it is not executable: mode {:o})",
            m.permissions().mode() & 0o777
        ),
        _ => String::new(),
    }
}

/// ` (stderr: LINE)` for a non-empty tail, naming what Codex said went wrong.
fn said(tail: &str) -> String {
    if tail.trim().is_empty() {
        String::new()
    } else {
        format!(" (Codex's stderr: {})", first_line(tail))
    }
}

/// What is wrong with a home directory (or another directory the library must trust, see
/// [`Error::UnsafeDir`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HomeProblem {
    /// The path exists and is not a directory.
    NotADirectory,
    /// The directory cannot be read or written by us.
    NotAccessible(String),
    /// It is the user's own `~/.codex` (or `$CODEX_HOME`) but isolation was asked for.
    IsUsersHome,
    /// No home directory could be determined (no `$HOME`).
    NoUserHome,
    /// Creating or fixing it failed.
    Io(String),
    /// Another user owns it: they could plant a `config.toml` (with a `notify` or MCP command),
    /// or read what we put there.
    NotOwned {
        /// Its owner's uid.
        owner: u32,
        /// The uid it must have (the current effective user).
        expected: u32,
    },
    /// Its group or others may write to it (and so add or replace files in it).
    WritableByOthers {
        /// Its permission bits (`0o7777` mask).
        mode: u32,
    },
    /// It is a symlink, and this directory must not be one (a notify spool).
    Symlink,
    /// It is reached through a symlink another user owns (who could point it elsewhere).
    SymlinkNotOwned {
        /// The link.
        link: PathBuf,
        /// Its owner's uid.
        owner: u32,
        /// The uid it must have (the current effective user).
        expected: u32,
    },
}

impl std::fmt::Display for HomeProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotADirectory => f.write_str("it exists and is not a directory"),
            Self::NotAccessible(e) => write!(f, "it is not accessible: {e}"),
            Self::IsUsersHome => {
                f.write_str("it is the user's own Codex home, but an isolated home was asked for")
            }
            Self::NoUserHome => f.write_str("$HOME is not set"),
            Self::Io(e) => f.write_str(e),
            Self::NotOwned { owner, expected } => write!(
                f,
                "it is owned by uid {owner}, not by the current user (uid {expected})"
            ),
            Self::WritableByOthers { mode } => write!(
                f,
                "its mode {mode:04o} lets group or others write to it (chmod go-w to fix)"
            ),
            Self::Symlink => f.write_str("it is a symlink (use the directory it points to)"),
            Self::SymlinkNotOwned {
                link,
                owner,
                expected,
            } => write!(
                f,
                "it is reached through the symlink {} owned by uid {owner}, not by the current \
                 user (uid {expected})",
                link.display()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Codex's fatal error comes before its backtrace, whose frames mention `error` too.
    #[test]
    fn the_culprit_line_skips_backtrace_frames() {
        let tail = "2026-12-04T02:33:01Z WARN something minor\n\
            Error: failed to migrate state DB at /h/state_5.sqlite: no such savepoint\n\
            \n\
            Stack backtrace:\n   0: <unknown>\n   1: anyhow::error::object_drop\n             at src/error.rs:1\n";
        assert_eq!(
            first_line(tail),
            "Error: failed to migrate state DB at /h/state_5.sqlite: no such savepoint"
        );
        let e = Error::AppServerClosed {
            method: "initialize".into(),
            reason: "the app-server exited with status 1".into(),
            stderr_tail: tail.into(),
        };
        assert_eq!(
            e.to_string(),
            "app-server closed during `initialize`: the app-server exited with status 1 \
             (Codex's stderr: Error: failed to migrate state DB at /h/state_5.sqlite: no such savepoint)"
        );
        assert_eq!(first_line("just one line"), "just one line");
        assert_eq!(said("  \n"), "");
    }
}
