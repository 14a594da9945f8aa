//! [`AuthStatus`]: which login a home has, from any of three sources that must agree: the
//! home's store read directly ([`status`], no process), `codex login status`
//! ([`AuthStatus::from_cli`]) and the app-server's `account/read`
//! ([`AuthStatus::from_account`]).

use super::{LoginStore, StoreKind, secret::mask};
use crate::config::ConfigFile;
use crate::error::{KeyringProblem, Result};
use crate::home::CodexHome;
use serde::{Deserialize, Serialize};

/// Where a login came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthSource {
    /// `auth.json`.
    File,
    /// The OS keyring.
    Keyring,
    /// An environment variable (`CODEX_API_KEY`).
    Env {
        /// The variable.
        var: String,
    },
    /// Codex reported it without saying where it keeps it (`login status`, `account/read`).
    Codex,
}

impl From<StoreKind> for AuthSource {
    fn from(k: StoreKind) -> Self {
        match k {
            StoreKind::File => Self::File,
            StoreKind::Keyring => Self::Keyring,
        }
    }
}

/// Which login a home has. Fields a source cannot know are `None`; [`AuthStatus::agrees_with`]
/// compares what both sides know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthStatus {
    /// No login.
    LoggedOut,
    /// An OpenAI API key.
    ApiKey {
        /// The key as Codex masks it (`sk-test-***12345`), when known.
        masked: Option<String>,
        /// Where it is.
        source: AuthSource,
    },
    /// A ChatGPT login.
    #[serde(rename = "chatgpt")]
    ChatGpt {
        /// The account's email.
        email: Option<String>,
        /// The plan (`plus`, `pro`, `team`, ...).
        plan: Option<String>,
        /// The ChatGPT account (workspace) id.
        account_id: Option<String>,
        /// When the access token expires (Unix seconds); Codex refreshes it by itself.
        access_expires_at: Option<u64>,
        /// Where it is.
        source: AuthSource,
    },
    /// An agent-identity or personal access token (`codex login --with-access-token`).
    AccessToken {
        /// Where it is.
        source: AuthSource,
    },
    /// The login cannot be used or read.
    Error {
        /// Why, in words.
        reason: String,
        /// Set when the credential store failed.
        problem: Option<KeyringProblem>,
    },
}

impl AuthStatus {
    /// `logged_out`, `api_key`, `chatgpt`, `access_token` or `error`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::LoggedOut => "logged_out",
            Self::ApiKey { .. } => "api_key",
            Self::ChatGpt { .. } => "chatgpt",
            Self::AccessToken { .. } => "access_token",
            Self::Error { .. } => "error",
        }
    }

    /// Whether a login is usable.
    pub fn is_logged_in(&self) -> bool {
        matches!(
            self,
            Self::ApiKey { .. } | Self::ChatGpt { .. } | Self::AccessToken { .. }
        )
    }

    /// Whether two reports describe the same login: the same kind, and equal wherever both know
    /// a field (a masked key, an email, a plan, an account). The source is not compared:
    /// Codex's reports do not say where a login is kept.
    pub fn agrees_with(&self, other: &Self) -> bool {
        fn same<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
        }
        match (self, other) {
            (Self::LoggedOut, Self::LoggedOut) => true,
            (Self::ApiKey { masked: a, .. }, Self::ApiKey { masked: b, .. }) => same(a, b),
            (
                Self::ChatGpt {
                    email: e1,
                    plan: p1,
                    account_id: a1,
                    ..
                },
                Self::ChatGpt {
                    email: e2,
                    plan: p2,
                    account_id: a2,
                    ..
                },
            ) => same(e1, e2) && same(p1, p2) && same(a1, a2),
            (Self::AccessToken { .. }, Self::AccessToken { .. }) => true,
            (Self::Error { .. }, Self::Error { .. }) => true,
            _ => false,
        }
    }

    /// What `codex login status` reported.
    pub fn from_cli(status: &super::login::CliLoginStatus) -> Self {
        use super::login::CliLoginStatus as C;
        match status {
            C::LoggedOut => Self::LoggedOut,
            C::ApiKey { masked } => Self::ApiKey {
                masked: Some(masked.clone()),
                source: AuthSource::Codex,
            },
            C::ChatGpt => Self::ChatGpt {
                email: None,
                plan: None,
                account_id: None,
                access_expires_at: None,
                source: AuthSource::Codex,
            },
            C::AccessToken | C::PersonalAccessToken | C::WorkloadIdentity => Self::AccessToken {
                source: AuthSource::Codex,
            },
            other => Self::Error {
                reason: format!("`codex login status` said {other:?}"),
                problem: None,
            },
        }
    }

    /// What the app-server's `account/read` reported.
    pub fn from_account(read: &crate::app_server::protocol::GetAccountResponse) -> Self {
        use crate::app_server::protocol::Account;
        match &read.account {
            None => Self::LoggedOut,
            Some(Account::ApiKey(_)) => Self::ApiKey {
                masked: None,
                source: AuthSource::Codex,
            },
            Some(Account::Chatgpt(c)) => {
                let v = serde_json::to_value(c).unwrap_or_default();
                let text = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_owned);
                Self::ChatGpt {
                    email: text("email"),
                    plan: text("planType"),
                    account_id: None,
                    access_expires_at: None,
                    source: AuthSource::Codex,
                }
            }
            Some(other) => Self::Error {
                reason: format!(
                    "account/read reported an account of another kind ({})",
                    serde_json::to_value(other)
                        .ok()
                        .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_owned))
                        .unwrap_or_else(|| "unknown".into())
                ),
                problem: None,
            },
        }
    }
}

/// `home`'s login, read from its store with no process and no network: what a run there would
/// use. Sees `CODEX_API_KEY` (Codex prefers it to any stored login), and the home's
/// `forced_login_method` / `forced_chatgpt_workspace_id` (a stored login they rule out is an
/// [`AuthStatus::Error`]). Blocks on keyring calls.
pub fn status(home: &CodexHome) -> AuthStatus {
    status_with_env(home, &|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
}

/// [`status`] with the environment given as `var`.
pub fn status_with_env(home: &CodexHome, var: &dyn Fn(&str) -> Option<String>) -> AuthStatus {
    match read(home, var) {
        Ok(s) => s,
        Err(e) => AuthStatus::Error {
            problem: match &e {
                crate::Error::Keyring { problem, .. } => Some(*problem),
                _ => None,
            },
            reason: e.to_string(),
        },
    }
}

fn read(home: &CodexHome, var: &dyn Fn(&str) -> Option<String>) -> Result<AuthStatus> {
    if let Some(key) = var("CODEX_API_KEY") {
        return Ok(AuthStatus::ApiKey {
            masked: Some(mask(&key)),
            source: AuthSource::Env {
                var: "CODEX_API_KEY".into(),
            },
        });
    }
    let cfg = if home.config_toml().is_file() {
        Some(ConfigFile::for_home(home)?)
    } else {
        None
    };
    let word = |k: &str| {
        cfg.as_ref()
            .and_then(|c| c.get(k))
            .and_then(|v| v.as_str().map(str::to_owned))
    };
    let Some((login, kind)) = LoginStore::of(home)?.load()? else {
        return Ok(AuthStatus::LoggedOut);
    };
    let source = AuthSource::from(kind);
    let status = if let Some(claims) = login.chatgpt() {
        AuthStatus::ChatGpt {
            email: claims.email,
            plan: claims.plan,
            account_id: claims.account_id,
            access_expires_at: claims.access_expires_at,
            source,
        }
    } else if let Some(key) = login.api_key() {
        AuthStatus::ApiKey {
            masked: Some(key.masked()),
            source,
        }
    } else if login.has_access_token() {
        AuthStatus::AccessToken { source }
    } else {
        return Ok(AuthStatus::Error {
            reason: format!("the stored login ({kind}) holds neither a key nor tokens"),
            problem: None,
        });
    };
    let forced = word("forced_login_method");
    let refused = match (&status, forced.as_deref()) {
        (AuthStatus::ApiKey { .. }, Some("chatgpt")) => Some("an API key"),
        (AuthStatus::ChatGpt { .. }, Some("api")) => Some("a ChatGPT login"),
        _ => None,
    };
    if let (Some(what), Some(method)) = (refused, forced) {
        return Ok(AuthStatus::Error {
            reason: format!(
                "the stored login is {what} but config.toml sets forced_login_method = \"{method}\""
            ),
            problem: None,
        });
    }
    if let (AuthStatus::ChatGpt { account_id, .. }, Some(want)) =
        (&status, word("forced_chatgpt_workspace_id"))
        && account_id.as_deref().is_some_and(|a| a != want)
    {
        return Ok(AuthStatus::Error {
            reason: format!(
                "the ChatGPT login is for another workspace than forced_chatgpt_workspace_id = \"{want}\""
            ),
            problem: None,
        });
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Secret, StoredLogin};

    #[test]
    fn the_store_the_environment_and_the_forced_method_are_seen() {
        let t = tempfile::tempdir().unwrap();
        let h = CodexHome::new(t.path());
        let none = |_: &str| None;
        assert_eq!(status_with_env(&h, &none), AuthStatus::LoggedOut);
        LoginStore::of(&h)
            .unwrap()
            .save(&StoredLogin::api_key_login(&Secret::new(
                "sk-test-abcdefghijkl12345",
            )))
            .unwrap();
        assert_eq!(
            status_with_env(&h, &none),
            AuthStatus::ApiKey {
                masked: Some("sk-test-***12345".into()),
                source: AuthSource::File
            }
        );
        let env = |k: &str| (k == "CODEX_API_KEY").then(|| "sk-env-0123456789abc".to_owned());
        assert_eq!(
            status_with_env(&h, &env),
            AuthStatus::ApiKey {
                masked: Some("sk-env-0***89abc".into()),
                source: AuthSource::Env {
                    var: "CODEX_API_KEY".into()
                }
            }
        );
        std::fs::write(h.config_toml(), "forced_login_method = \"chatgpt\"\n").unwrap();
        let s = status_with_env(&h, &none);
        assert_eq!(s.kind(), "error", "{s:?}");
        assert!(
            !format!("{s:?}").contains("abcdefghijkl"),
            "no key in the status"
        );
        assert!(s.agrees_with(&AuthStatus::Error {
            reason: String::new(),
            problem: None
        }));
        assert!(
            AuthStatus::ApiKey {
                masked: None,
                source: AuthSource::Codex
            }
            .agrees_with(&AuthStatus::ApiKey {
                masked: Some("x".into()),
                source: AuthSource::File
            })
        );
        assert!(
            !AuthStatus::LoggedOut.agrees_with(&AuthStatus::AccessToken {
                source: AuthSource::File
            })
        );
    }
}
