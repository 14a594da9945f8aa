//! [`LoginStore`]: a home's login, read, written and deleted where Codex keeps it.

use super::store::{CLI_AUTH_SERVICE, CliAuthStore, StoreSettings, cli_auth_account};
use super::{StoredLogin, keyring};
use crate::error::{Error, KeyringProblem, Result};
use crate::fsutil::write_atomic;
use crate::home::CodexHome;
use std::path::Path;

/// Which store a credential was found in or written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StoreKind {
    /// A file in the home (`auth.json`, `.credentials.json`).
    File,
    /// The OS keyring.
    Keyring,
}

impl std::fmt::Display for StoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::File => "file",
            Self::Keyring => "keyring",
        })
    }
}

/// What [`LoginStore::delete`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Removed {
    /// `auth.json` was there.
    pub file: bool,
    /// The keyring item was there.
    pub keyring: bool,
}

/// A home's login in the store its `cli_auth_credentials_store` names, resolved the way Codex
/// resolves it:
/// - `file`: `auth.json` (pretty JSON, 0600);
/// - `keyring`: the `Codex Auth` item for this home only (an `auth.json` beside it is ignored);
///   saving removes `auth.json`, as Codex does;
/// - `auto`: the keyring when it answers, else `auth.json`, decided on every call;
/// - `ephemeral`: nothing persists; loading finds nothing and saving is refused.
///
/// Keyring calls block (up to [`keyring::KEYRING_TIMEOUT`]): call from `spawn_blocking` in
/// async code.
#[derive(Debug, Clone)]
pub struct LoginStore {
    home: CodexHome,
    mode: CliAuthStore,
    secrets_backend: bool,
}

impl LoginStore {
    /// The store `home`'s `config.toml` selects.
    pub fn of(home: &CodexHome) -> Result<Self> {
        let settings = StoreSettings::of(home)?;
        Ok(Self {
            home: home.clone(),
            mode: settings.cli,
            secrets_backend: settings.secrets_backend,
        })
    }

    /// `home`'s login in `mode`, whatever its config says (e.g. when runs pass
    /// `-c cli_auth_credentials_store=...`).
    pub fn with_mode(home: &CodexHome, mode: CliAuthStore) -> Self {
        Self {
            home: home.clone(),
            mode,
            secrets_backend: false,
        }
    }

    /// The mode.
    pub fn mode(&self) -> &CliAuthStore {
        &self.mode
    }

    /// The home.
    pub fn home(&self) -> &CodexHome {
        &self.home
    }

    /// The keyring account of this home's login (`cli|<16 hex>`).
    pub fn keyring_account(&self) -> String {
        cli_auth_account(self.home.path())
    }

    fn usable(&self) -> Result<()> {
        if self.secrets_backend && matches!(self.mode, CliAuthStore::Keyring | CliAuthStore::Auto) {
            return Err(Error::Keyring {
                operation: format!("using the login store of {}", self.home.path().display()),
                problem: KeyringProblem::Unsupported,
                detail: "the home enables Codex's `secret_auth_storage` backend (an encrypted \
                         secrets/codex_auth.age), which codex-driver does not read yet"
                    .into(),
            });
        }
        if let CliAuthStore::Other(word) = &self.mode {
            return Err(Error::ConfigFile {
                path: self.home.config_toml(),
                line: None,
                column: None,
                detail: format!("unknown cli_auth_credentials_store `{word}`"),
            });
        }
        Ok(())
    }

    /// The stored login and where it was (`None` when logged out).
    pub fn load(&self) -> Result<Option<(StoredLogin, StoreKind)>> {
        self.usable()?;
        match self.mode {
            CliAuthStore::File => Ok(read_file(&self.home.auth_json())?.map(file_found)),
            CliAuthStore::Keyring => self.read_keyring(),
            CliAuthStore::Auto => match self.read_keyring() {
                Ok(Some(found)) => Ok(Some(found)),
                // Codex falls back to the file on any keyring answer but a login.
                Ok(None) | Err(_) => Ok(read_file(&self.home.auth_json())?.map(file_found)),
            },
            _ => Ok(None),
        }
    }

    /// Stores `login` and says where it went. In keyring (and a working auto) mode a stale
    /// `auth.json` is removed afterwards, as Codex does.
    pub fn save(&self, login: &StoredLogin) -> Result<StoreKind> {
        self.usable()?;
        match self.mode {
            CliAuthStore::File => {
                write_file(&self.home.auth_json(), login)?;
                Ok(StoreKind::File)
            }
            CliAuthStore::Keyring => {
                keyring::set(
                    CLI_AUTH_SERVICE,
                    &self.keyring_account(),
                    &login.to_json(false),
                )?;
                remove_file(&self.home.auth_json())?;
                Ok(StoreKind::Keyring)
            }
            CliAuthStore::Auto => {
                match keyring::set(
                    CLI_AUTH_SERVICE,
                    &self.keyring_account(),
                    &login.to_json(false),
                ) {
                    Ok(()) => {
                        remove_file(&self.home.auth_json())?;
                        Ok(StoreKind::Keyring)
                    }
                    Err(_) => {
                        write_file(&self.home.auth_json(), login)?;
                        Ok(StoreKind::File)
                    }
                }
            }
            _ => Err(Error::Auth {
                path: self.home.path().to_path_buf(),
                detail: "the home keeps logins `ephemeral`ly (inside one Codex process): log in \
                         over that process's app-server instead"
                    .into(),
            }),
        }
    }

    /// Logs out everywhere a login for this home could be: `auth.json` and the keyring item.
    /// In file mode an unreachable keyring is not an error (nothing of this mode is there); in
    /// keyring and auto mode it is, and then nothing is removed.
    pub fn delete(&self) -> Result<Removed> {
        let keyring = match keyring::delete(CLI_AUTH_SERVICE, &self.keyring_account()) {
            Ok(found) => found,
            Err(e) if matches!(self.mode, CliAuthStore::Keyring | CliAuthStore::Auto) => {
                return Err(e);
            }
            Err(_) => false,
        };
        let file = remove_file(&self.home.auth_json())?;
        Ok(Removed { file, keyring })
    }

    /// Removes the login from one store only (`true` when it was there).
    pub fn remove_from(&self, kind: StoreKind) -> Result<bool> {
        match kind {
            StoreKind::File => remove_file(&self.home.auth_json()),
            StoreKind::Keyring => keyring::delete(CLI_AUTH_SERVICE, &self.keyring_account()),
        }
    }

    fn read_keyring(&self) -> Result<Option<(StoredLogin, StoreKind)>> {
        let account = self.keyring_account();
        let Some(secret) = keyring::get(CLI_AUTH_SERVICE, &account)? else {
            return Ok(None);
        };
        let login = StoredLogin::from_slice(secret.expose().as_bytes()).map_err(|detail| {
            Error::Keyring {
                operation: format!("reading `{CLI_AUTH_SERVICE}` / `{account}`"),
                problem: KeyringProblem::Other,
                detail: format!("the stored login is {detail}"),
            }
        })?;
        Ok(Some((login, StoreKind::Keyring)))
    }
}

fn file_found(login: StoredLogin) -> (StoredLogin, StoreKind) {
    (login, StoreKind::File)
}

pub(super) fn read_file(path: &Path) -> Result<Option<StoredLogin>> {
    match std::fs::read(path) {
        Ok(bytes) => StoredLogin::from_slice(&bytes)
            .map(Some)
            .map_err(|detail| auth_err(path, detail)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(auth_err(path, format!("reading: {e}"))),
    }
}

pub(super) fn write_file(path: &Path, login: &StoredLogin) -> Result<()> {
    write_atomic(path, login.to_json(true).expose().as_bytes(), 0o600)
        .map_err(|e| auth_err(path, format!("writing: {e}")))
}

pub(super) fn remove_file(path: &Path) -> Result<bool> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(auth_err(path, format!("removing: {e}"))),
    }
}

pub(super) fn auth_err(path: &Path, detail: String) -> Error {
    Error::Auth {
        path: path.to_path_buf(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Secret;

    #[test]
    fn file_mode_round_trips_and_ephemeral_keeps_nothing() {
        let t = tempfile::tempdir().unwrap();
        let h = CodexHome::new(t.path());
        let store = LoginStore::of(&h).unwrap();
        assert_eq!(store.mode(), &CliAuthStore::File);
        assert!(store.load().unwrap().is_none());
        let login = StoredLogin::api_key_login(&Secret::new("sk-canary-1234567890"));
        assert_eq!(store.save(&login).unwrap(), StoreKind::File);
        assert_eq!(
            store.load().unwrap(),
            Some((login.clone(), StoreKind::File))
        );
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(h.auth_json()).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);

        let eph = LoginStore::with_mode(&h, CliAuthStore::Ephemeral);
        assert!(
            eph.load().unwrap().is_none(),
            "an auth.json is not an ephemeral login"
        );
        let err = eph.save(&login).unwrap_err().to_string();
        assert!(
            err.contains("ephemeral") && !err.contains("canary"),
            "{err}"
        );

        let other = LoginStore::with_mode(&h, CliAuthStore::Other("vault".into()));
        assert_eq!(other.load().unwrap_err().kind(), crate::ErrorKind::Config);
    }
}
