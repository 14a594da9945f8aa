//! The OS keyring as Codex uses it: the `keyring` crate (3.6, Secret Service on Linux), one
//! item per service and account, the whole value in one secret.
//!
//! Every call runs on its own thread with a deadline: a keyring that wants to show an unlock
//! prompt would otherwise block forever. Failures are [`Error::Keyring`] with a
//! [`KeyringProblem`] saying whether the keyring is absent, locked, uninitialised, ambiguous or
//! refusing, never with the secret.

use super::Secret;
use crate::error::{Error, KeyringProblem, Result};
use std::time::Duration;

/// How long one keyring call may take before it is reported as [`KeyringProblem::TimedOut`].
pub const KEYRING_TIMEOUT: Duration = Duration::from_secs(15);

/// Reads the secret of `service` / `account` (`None` when there is no such item).
pub fn get(service: &str, account: &str) -> Result<Option<Secret>> {
    call("reading", service, account, imp::get)
}

/// Creates or replaces the secret of `service` / `account`.
pub fn set(service: &str, account: &str, secret: &Secret) -> Result<()> {
    let value = secret.clone();
    call("writing", service, account, move |s, a| {
        imp::set(s, a, &value)
    })
}

/// Deletes `service` / `account`; `false` when there was nothing to delete.
pub fn delete(service: &str, account: &str) -> Result<bool> {
    call("deleting", service, account, imp::delete)
}

/// Whether the keyring answers at all (a lookup of an item nobody has).
pub fn probe() -> Result<()> {
    get("codex-driver probe", "probe").map(|_| ())
}

fn call<T: Send + 'static>(
    verb: &'static str,
    service: &str,
    account: &str,
    op: impl FnOnce(&str, &str) -> std::result::Result<T, (KeyringProblem, String)> + Send + 'static,
) -> Result<T> {
    let (s, a) = (service.to_owned(), account.to_owned());
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("codex-driver-keyring".into())
        .spawn(move || {
            let _ = tx.send(op(&s, &a));
        });
    let failed = |problem, detail: String| Error::Keyring {
        operation: format!("{verb} `{service}` / `{account}`"),
        problem,
        detail,
    };
    if let Err(e) = spawned {
        return Err(failed(KeyringProblem::Other, format!("no thread: {e}")));
    }
    match rx.recv_timeout(KEYRING_TIMEOUT) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err((problem, detail))) => Err(failed(problem, detail)),
        Err(_) => Err(failed(
            KeyringProblem::TimedOut,
            format!("no answer within {}s", KEYRING_TIMEOUT.as_secs()),
        )),
    }
}

/// Sorts a keyring or Secret Service message (ours or one Codex printed) into a problem.
pub(crate) fn classify(message: &str) -> KeyringProblem {
    let m = message.to_ascii_lowercase();
    if m.contains("matched by") || m.contains("ambiguous") {
        KeyringProblem::Ambiguous
    } else if m.contains("prompt dismissed") || m.contains("is locked") || m.contains("locked") {
        KeyringProblem::Locked
    } else if m.contains("result not returned from ss api") {
        KeyringProblem::NotInitialised
    } else if m.contains("no secret service provider")
        || m.contains("dbus session")
        || m.contains("serviceunknown")
        || m.contains("org.freedesktop.secrets was not provided")
        || m.contains("failed to connect to socket")
        || m.contains("no such file or directory")
        || m.contains("connection refused")
    {
        KeyringProblem::NoSecretService
    } else if m.contains("accessdenied") || m.contains("access denied") || m.contains("not allowed")
    {
        KeyringProblem::Denied
    } else {
        KeyringProblem::Other
    }
}

#[cfg(feature = "keyring")]
mod imp {
    use super::{KeyringProblem, Secret, classify};
    use keyring::{Entry, Error as KError};

    type R<T> = std::result::Result<T, (KeyringProblem, String)>;

    fn map(e: KError) -> (KeyringProblem, String) {
        match e {
            // These two carry the stored value or its parts: never format them.
            KError::BadEncoding(_) => (
                KeyringProblem::Other,
                "the stored value is not UTF-8".into(),
            ),
            KError::Invalid(attr, _) => (
                KeyringProblem::Other,
                format!("the keyring refused attribute `{attr}`"),
            ),
            KError::Ambiguous(items) => (
                KeyringProblem::Ambiguous,
                format!("the entry is matched by {} items", items.len()),
            ),
            other => {
                let text = other.to_string();
                (classify(&text), text)
            }
        }
    }

    fn entry(service: &str, account: &str) -> R<Entry> {
        Entry::new(service, account).map_err(map)
    }

    pub(super) fn get(service: &str, account: &str) -> R<Option<Secret>> {
        match entry(service, account)?.get_password() {
            Ok(v) => Ok(Some(Secret::new(v))),
            Err(KError::NoEntry) => Ok(None),
            Err(e) => Err(map(e)),
        }
    }

    pub(super) fn set(service: &str, account: &str, secret: &Secret) -> R<()> {
        entry(service, account)?
            .set_password(secret.expose())
            .map_err(map)
    }

    pub(super) fn delete(service: &str, account: &str) -> R<bool> {
        match entry(service, account)?.delete_credential() {
            Ok(()) => Ok(true),
            Err(KError::NoEntry) => Ok(false),
            Err(e) => Err(map(e)),
        }
    }
}

#[cfg(not(feature = "keyring"))]
mod imp {
    use super::{KeyringProblem, Secret};

    type R<T> = std::result::Result<T, (KeyringProblem, String)>;

    fn unsupported<T>() -> R<T> {
        Err((
            KeyringProblem::Unsupported,
            "codex-driver was built without its `keyring` feature".into(),
        ))
    }

    pub(super) fn get(_: &str, _: &str) -> R<Option<Secret>> {
        unsupported()
    }

    pub(super) fn set(_: &str, _: &str, _: &Secret) -> R<()> {
        unsupported()
    }

    pub(super) fn delete(_: &str, _: &str) -> R<bool> {
        unsupported()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codex_and_keyring_messages_are_sorted() {
        // The texts Codex 0.169.0 printed in each environment (docs/design/auth-stores.md).
        for (text, want) in [
            (
                "Platform secure storage failure: no secret service provider or dbus session found",
                KeyringProblem::NoSecretService,
            ),
            (
                "zbus error: org.freedesktop.DBus.Error.ServiceUnknown: The name org.freedesktop.secrets was not provided by any .service files",
                KeyringProblem::NoSecretService,
            ),
            (
                "Couldn't access platform secure storage: SS error: result not returned from SS API",
                KeyringProblem::NotInitialised,
            ),
            (
                "Couldn't access platform secure storage: SS error: prompt dismissed",
                KeyringProblem::Locked,
            ),
            (
                "Entry is matched by 2 credentials",
                KeyringProblem::Ambiguous,
            ),
            ("something else", KeyringProblem::Other),
        ] {
            assert_eq!(classify(text), want, "{text}");
        }
    }
}
