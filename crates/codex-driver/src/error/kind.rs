//! [`ErrorKind`]: the coarse class of an [`Error`], read from Codex's own `codexErrorInfo` or
//! its wording, for callers deciding to retry, log in again or give up.

use super::Error;

/// What kind of failure an [`Error`] is, coarse enough to branch on: retry, re-login, fix the
/// set-up or give up. See [`Error::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No usable Codex binary: not found, its version unreadable, probing or installing it failed.
    Binary,
    /// The binary exists but could not be started.
    Spawn,
    /// The set-up is wrong: invalid options, a config Codex refused, a malformed or unsafe file
    /// or home. Fix it; retrying will not help.
    Config,
    /// The credentials were refused (HTTP 401/403, `unauthorized`) or an auth file is unusable:
    /// log in again or fix the key.
    Auth,
    /// The credential store failed: the OS keyring is absent, locked, uninitialised, ambiguous
    /// or refusing. Unlock or start it, or choose the file store; logging in again will not help.
    CredentialStore,
    /// The model provider failed or is unreachable (HTTP 429 or 5xx, overloaded, rate or usage
    /// limits, a cut stream): usually worth a retry later.
    Provider,
    /// Codex's sandbox failed or refused.
    Sandbox,
    /// The binary is too old (or too new) for what was asked.
    Version,
    /// A deadline expired.
    Timeout,
    /// The caller cancelled.
    Cancelled,
    /// The app-server broke the protocol or refused a request.
    Protocol,
    /// The turn failed for another reason (a bad request, the context window, a policy).
    TurnFailed,
    /// Codex exited, crashed or closed its connection unexpectedly.
    Crashed,
    /// The turn ended without the output asked for (no final message, not the schema's JSON).
    Output,
    /// Local I/O.
    Io,
    /// What was named does not exist (a task, a session, a thread that was deleted or
    /// archived).
    NotFound,
    /// Someone else is using it (a task or thread another process drives): retry later.
    Busy,
    /// A spending or turn limit the caller set was reached
    /// ([`Error::BudgetExceeded`]).
    Budget,
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Binary => "binary",
            Self::Spawn => "spawn",
            Self::Config => "config",
            Self::Auth => "auth",
            Self::CredentialStore => "credential_store",
            Self::Provider => "provider",
            Self::Sandbox => "sandbox",
            Self::Version => "version",
            Self::Timeout => "timeout",
            Self::Cancelled => "cancelled",
            Self::Protocol => "protocol",
            Self::TurnFailed => "turn_failed",
            Self::Crashed => "crashed",
            Self::Output => "output",
            Self::Io => "io",
            Self::NotFound => "not_found",
            Self::Busy => "busy",
            Self::Budget => "budget",
        })
    }
}

impl Error {
    /// The coarse kind of this error. Failed turns are classified from Codex's own
    /// `codexErrorInfo` when the app-server sent one, else from its message (the HTTP status
    /// Codex quotes, or its wording of provider and sandbox failures).
    pub fn kind(&self) -> ErrorKind {
        use ErrorKind as K;
        match self {
            Self::BinaryNotFound { .. }
            | Self::Version { .. }
            | Self::Probe { .. }
            | Self::Install { .. }
            | Self::Integrity { .. } => K::Binary,
            // The binary's path does not exist (working directories are checked before).
            Self::Spawn { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                K::Binary
            }
            // A directory given as the binary: no binary at all.
            Self::Spawn { path, .. } if path.is_dir() => K::Binary,
            Self::Spawn { .. } => K::Spawn,
            Self::Unsupported { .. } | Self::UnknownArgument { .. } | Self::BinaryTooOld { .. } => {
                K::Version
            }
            Self::InvalidOptions(_)
            | Self::Config { .. }
            | Self::Home { .. }
            | Self::UnsafeDir { .. }
            | Self::ConfigFile { .. } => K::Config,
            Self::Auth { .. } => K::Auth,
            Self::Keyring { .. } | Self::Login { store: Some(_), .. } => K::CredentialStore,
            Self::Login { message, .. } => classify_failure(None, message).unwrap_or(K::Auth),
            Self::TurnFailed { message, info, .. } => {
                classify_failure(info.as_deref(), message).unwrap_or(K::TurnFailed)
            }
            Self::Exited { last_error, .. }
            | Self::Signaled { last_error, .. }
            | Self::NoTerminalEvent { last_error, .. } => last_error
                .as_deref()
                .and_then(|m| classify_failure(None, m))
                .unwrap_or(K::Crashed),
            Self::AppServerClosed { .. } => K::Crashed,
            Self::Timeout { .. } | Self::RequestTimeout { .. } => K::Timeout,
            Self::Cancelled => K::Cancelled,
            Self::BudgetExceeded { .. } => K::Budget,
            Self::StructuredOutput { .. } | Self::NoFinalMessage => K::Output,
            Self::Rpc { message, .. } => classify_failure(None, message).unwrap_or(K::Protocol),
            Self::Protocol { .. } => K::Protocol,
            Self::Io { .. } | Self::StateDb { .. } => K::Io,
            Self::TaskBusy { .. } => K::Busy,
            Self::TaskUnknown { .. }
            | Self::ConfigSnapshotUnknown { .. }
            | Self::ThreadGone { .. }
            | Self::ThreadNotFound { .. }
            | Self::SessionNotFound { .. } => K::NotFound,
            Self::Command { message, .. } => classify_failure(None, message)
                .or_else(|| command_failure(message))
                .unwrap_or(K::Crashed),
        }
    }

    /// The HTTP status of the provider's answer behind a failed turn, when Codex reported one
    /// (in `codexErrorInfo`, or quoted in its message: `unexpected status 401 ...`,
    /// `last status: 429 ...`).
    pub fn http_status(&self) -> Option<u16> {
        match self {
            Self::TurnFailed { message, info, .. } => info
                .as_deref()
                .and_then(info_status)
                .or_else(|| message_status(message)),
            Self::Exited { last_error, .. }
            | Self::Signaled { last_error, .. }
            | Self::NoTerminalEvent { last_error, .. } => {
                last_error.as_deref().and_then(message_status)
            }
            _ => None,
        }
    }
}

/// Kind of a failure from Codex's `codexErrorInfo` (preferred) or its message; `None` when
/// neither says anything we recognise.
fn classify_failure(info: Option<&serde_json::Value>, message: &str) -> Option<ErrorKind> {
    use ErrorKind as K;
    let by_status = |status: u16| match status {
        401 | 403 => Some(K::Auth),
        408 | 429 | 500..=599 => Some(K::Provider),
        _ => None,
    };
    if let Some(info) = info {
        if let Some(kind) = info_status(info).and_then(by_status) {
            return Some(kind);
        }
        let code = match info {
            serde_json::Value::String(s) => Some(s.as_str()),
            // `{"responseStreamDisconnected": {...}}` and its siblings: the key is the code.
            serde_json::Value::Object(m) => m.keys().next().map(String::as_str),
            _ => None,
        };
        let kind = match code {
            Some("unauthorized") => Some(K::Auth),
            Some(
                "rateLimitExceeded"
                | "usageLimitExceeded"
                | "serverOverloaded"
                | "internalServerError"
                | "flexUnavailable"
                | "policyCapacityUnavailable"
                | "httpConnectionFailed"
                | "responseStreamConnectionFailed"
                | "responseStreamDisconnected"
                | "responseTooManyFailedAttempts",
            ) => Some(K::Provider),
            Some("sandboxError") => Some(K::Sandbox),
            _ => None,
        };
        if kind.is_some() {
            return kind;
        }
    }
    if let Some(kind) = message_status(message).and_then(by_status) {
        return Some(kind);
    }
    let lower = message.to_ascii_lowercase();
    const PROVIDER: &[&str] = &[
        "experiencing high demand",
        "stream disconnected",
        "error sending request",
        "exceeded retry limit",
        "rate limit",
        "usage limit",
        "overloaded",
        "connection refused",
    ];
    const AUTH: &[&str] = &[
        "unauthorized",
        "invalid api key",
        "incorrect api key",
        "not logged in",
        "token expired",
        "refresh token",
        "not signed in",
        "chatgpt auth not available",
    ];
    const SANDBOX: &[&str] = &["sandbox error", "sandbox denied", "landlock", "seccomp"];
    if AUTH.iter().any(|m| lower.contains(m)) {
        Some(K::Auth)
    } else if SANDBOX.iter().any(|m| lower.contains(m)) {
        Some(K::Sandbox)
    } else if PROVIDER.iter().any(|m| lower.contains(m)) {
        Some(K::Provider)
    } else {
        None
    }
}

/// What a one-shot sub-command's own complaint says beyond a turn's failure kinds.
fn command_failure(message: &str) -> Option<ErrorKind> {
    let lower = message.to_ascii_lowercase();
    if lower.contains("not found") || lower.starts_with("no mcp server named") {
        Some(ErrorKind::NotFound)
    } else if lower.contains("unknown feature") || lower.contains("invalid value") {
        Some(ErrorKind::Config)
    } else {
        None
    }
}

/// `httpStatusCode` inside any `codexErrorInfo` arm.
fn info_status(info: &serde_json::Value) -> Option<u16> {
    info.as_object()?
        .values()
        .find_map(|v| v.get("httpStatusCode")?.as_u64())
        .and_then(|n| u16::try_from(n).ok())
}

/// The status Codex quotes: `unexpected status 401 Unauthorized: ...`, `last status: 429 ...`.
fn message_status(message: &str) -> Option<u16> {
    ["unexpected status ", "last status: "]
        .iter()
        .find_map(|p| {
            let rest = &message[message.find(p)? + p.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            digits.parse().ok().filter(|n| (100..600).contains(n))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn failed(message: &str, info: Option<serde_json::Value>) -> Error {
        Error::TurnFailed {
            message: message.into(),
            thread_id: None,
            stderr_tail: String::new(),
            info: info.map(Box::new),
        }
    }

    /// Messages and `codexErrorInfo` values as Codex 0.169.0 sent them (captured against the
    /// test kit's provider; see tests/all/error_kind.rs for the live versions).
    #[test]
    fn failed_turns_are_classified_like_codex_reports_them() {
        let cases = [
            (
                failed(
                    "unexpected status 401 Unauthorized: Incorrect API key provided, url: http://127.0.0.1:1/v1/responses",
                    None,
                ),
                ErrorKind::Auth,
                Some(401),
            ),
            (
                failed(
                    "unexpected status 403 Forbidden: forbidden, url: http://x/v1/responses",
                    Some(json!({"httpConnectionFailed": {"httpStatusCode": 403}})),
                ),
                ErrorKind::Auth,
                Some(403),
            ),
            (
                failed(
                    "exceeded retry limit, last status: 429 Too Many Requests",
                    None,
                ),
                ErrorKind::Provider,
                Some(429),
            ),
            (
                failed(
                    "exceeded retry limit, last status: 429 Too Many Requests",
                    Some(json!({"responseTooManyFailedAttempts": {"httpStatusCode": 429}})),
                ),
                ErrorKind::Provider,
                Some(429),
            ),
            (
                failed(
                    "We’re currently experiencing high demand, which may cause temporary errors.",
                    None,
                ),
                ErrorKind::Provider,
                None,
            ),
            (
                failed(
                    "We’re currently experiencing high demand, which may cause temporary errors.",
                    Some(json!("internalServerError")),
                ),
                ErrorKind::Provider,
                None,
            ),
            (
                failed(
                    "unexpected status 503 Service Unavailable: unavailable, url: http://x",
                    None,
                ),
                ErrorKind::Provider,
                Some(503),
            ),
            (
                failed(
                    "stream disconnected before completion: stream closed before response.completed",
                    None,
                ),
                ErrorKind::Provider,
                None,
            ),
            (
                failed(
                    "{\"error\":{\"message\":\"bad model\"}}",
                    Some(json!("other")),
                ),
                ErrorKind::TurnFailed,
                None,
            ),
            (
                failed("no", Some(json!("sandboxError"))),
                ErrorKind::Sandbox,
                None,
            ),
            (
                failed("no", Some(json!("unauthorized"))),
                ErrorKind::Auth,
                None,
            ),
            (
                failed(
                    "no",
                    Some(json!({"someFutureArm": {"httpStatusCode": 502}})),
                ),
                ErrorKind::Provider,
                Some(502),
            ),
        ];
        for (err, kind, status) in cases {
            assert_eq!((err.kind(), err.http_status()), (kind, status), "{err}");
        }
    }

    #[test]
    fn every_stage_has_a_kind() {
        let exited = |last: Option<&str>| Error::Exited {
            code: 1,
            stderr_tail: String::new(),
            last_error: last.map(str::to_owned),
        };
        assert_eq!(exited(None).kind(), ErrorKind::Crashed);
        assert_eq!(
            exited(Some("unexpected status 401 Unauthorized: x")).kind(),
            ErrorKind::Auth
        );
        assert_eq!(Error::Cancelled.kind(), ErrorKind::Cancelled);
        assert_eq!(Error::NoFinalMessage.kind(), ErrorKind::Output);
        assert_eq!(
            Error::BinaryNotFound { looked_in: vec![] }.kind(),
            ErrorKind::Binary
        );
        assert_eq!(Error::InvalidOptions("x".into()).kind(), ErrorKind::Config);
        assert_eq!(
            Error::Rpc {
                method: "thread/start".into(),
                code: -32600,
                message: "Invalid request".into(),
                data: None
            }
            .kind(),
            ErrorKind::Protocol
        );
        assert_eq!(ErrorKind::TurnFailed.to_string(), "turn_failed");
    }
}
