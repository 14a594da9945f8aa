//! Sharing one login between many isolated homes: seeding and syncing `auth.json`.
//!
//! ChatGPT logins rotate their refresh token on every refresh; two homes holding copies of one
//! login break each other (`refresh_token_reused`) unless every refresh is propagated. [`sync`]
//! does that under a lock on the source home: whichever copy was refreshed last (`last_refresh`)
//! wins, in either direction. Call it before and after each run of an isolated home.
//!
//! ```no_run
//! use codex_driver::auth;
//! use codex_driver::home::CodexHome;
//!
//! # fn demo() -> codex_driver::Result<()> {
//! let source = CodexHome::user_default()?;
//! let isolated = CodexHome::for_app("myhub")?.materialize()?;
//! auth::seed(&source, &isolated)?;            // copy the login in (0600, atomic)
//! // ... run Codex with CODEX_HOME = isolated ...
//! let outcome = auth::sync(&isolated, &source)?; // copy a refreshed login back
//! println!("{outcome:?}");
//! # Ok(()) }
//! ```
//!
//! Token values are never logged, printed or put in errors: [`AuthSummary`] is what you may show.

pub mod keyring;
pub mod login;
pub mod mcp_tokens;
mod secret;
mod status;
pub mod store;
mod stored;
mod stores;

pub use login::{
    CliLoginStatus, Login, LoginHandle, LoginOutcome, LoginPrompt, McpLogin, McpLoginHandle,
};
pub use mcp_tokens::McpTokens;
pub use secret::Secret;
pub use status::{AuthSource, AuthStatus, status, status_with_env};
pub use store::{CliAuthStore, McpOAuthStore, StoreSettings, cli_auth_account, mcp_store_key};
pub use stored::{ChatGptClaims, StoredLogin};
pub use stores::{LoginStore, Removed, StoreKind};

use crate::error::{Error, Result};
use crate::fsutil::{FileLock, write_atomic};
use crate::home::CodexHome;
use serde_json::Value;
use std::path::{Path, PathBuf};
use stores::auth_err;

/// A non-secret summary of a stored login.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct AuthSummary {
    /// `auth_mode` (`apikey`, `chatgpt`, ...), if recorded.
    pub mode: Option<String>,
    /// An API key is stored.
    pub has_api_key: bool,
    /// ChatGPT tokens are stored.
    pub has_tokens: bool,
    /// `last_refresh` (RFC 3339), if any.
    pub last_refresh: Option<String>,
    /// Where the login is.
    #[serde(default)]
    pub store: Option<StoreKind>,
}

/// A non-secret summary of `home`'s login, from the store its config names (`None` when
/// logged out).
pub fn summary(home: &CodexHome) -> Result<Option<AuthSummary>> {
    Ok(LoginStore::of(home)?
        .load()?
        .map(|(login, store)| AuthSummary {
            mode: login.mode().map(str::to_owned),
            has_api_key: login.api_key().is_some(),
            has_tokens: login.has_tokens(),
            last_refresh: login.last_refresh().map(str::to_owned),
            store: Some(store),
        }))
}

/// Where a run in a home would find its model credentials (see [`find_credentials`]). Names
/// where, never what.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Credentials {
    /// An API key in this environment variable (`CODEX_API_KEY` or `OPENAI_API_KEY`).
    ApiKeyEnv {
        /// The variable.
        var: String,
    },
    /// The home's `auth.json` (an API key or a ChatGPT login).
    AuthJson,
    /// The home's login in the OS keyring (`cli_auth_credentials_store = "keyring"|"auto"`).
    Keyring,
    /// The configured model provider is not OpenAI's and needs no OpenAI login: it uses the
    /// key in `env_key` (set), or none.
    Provider {
        /// `model_provider`.
        id: String,
        /// The provider's `env_key`, when it has one.
        env_key: Option<String>,
    },
}

/// The outcome of [`find_credentials`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialCheck {
    /// Found.
    Found(Credentials),
    /// None: each entry says what was looked at, for a message.
    Missing(Vec<String>),
}

/// Finds the credentials a run in `home` would use, without a network request or a Codex
/// process: an API key variable, the configured provider's `env_key`, and the home's login in
/// the store its config names (`auth.json` or the OS keyring). Reads; writes nothing. A keyring
/// that cannot be read in `keyring` mode is an error ([`Error::Keyring`]).
pub async fn find_credentials(home: &CodexHome) -> Result<CredentialCheck> {
    let home = home.clone();
    tokio::task::spawn_blocking(move || {
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).is_some();
        find_credentials_offline(&home, &env)
    })
    .await
    .map_err(|e| Error::io("looking for credentials", std::io::Error::other(e)))?
}

/// The model provider a `config.toml` selects: the active legacy profile's (`profile = "x"`
/// with `[profiles.x] model_provider`, which Codex ranks above the top-level key), else the
/// top-level `model_provider`.
pub fn configured_provider(cfg: &crate::config::ConfigFile) -> Option<String> {
    let text = |v: serde_json::Value| v.as_str().map(str::to_owned);
    cfg.get("profile")
        .and_then(text)
        .and_then(|p| cfg.get_path(["profiles", p.as_str(), "model_provider"]))
        .and_then(text)
        .or_else(|| cfg.get("model_provider").and_then(text))
}

/// The variable holding the key of the model provider `home`'s `config.toml` selects (its
/// `env_key`), when it names one: what a run there needs in its environment. `None` without a
/// `config.toml`.
pub fn provider_env_key(home: &CodexHome) -> Result<Option<String>> {
    if !home.config_toml().is_file() {
        return Ok(None);
    }
    let cfg = crate::config::ConfigFile::for_home(home)?;
    Ok(configured_provider(&cfg).and_then(|id| env_key_of(&cfg, &id)))
}

fn env_key_of(cfg: &crate::config::ConfigFile, provider: &str) -> Option<String> {
    cfg.get_path(["model_providers", provider, "env_key"])
        .and_then(|v| v.as_str().map(str::to_owned))
}

/// [`find_credentials`], blocking, with the environment given as `is_set`.
pub fn find_credentials_offline(
    home: &CodexHome,
    is_set: &dyn Fn(&str) -> bool,
) -> Result<CredentialCheck> {
    let cfg = crate::config::ConfigFile::for_home(home)?;
    let provider = configured_provider(&cfg).filter(|p| p != "openai");
    let mut looked = Vec::new();
    if let Some(id) = provider {
        let env_key = env_key_of(&cfg, &id);
        let openai_auth = cfg
            .get_path(["model_providers", id.as_str(), "requires_openai_auth"])
            .and_then(|v| v.as_bool())
            == Some(true);
        match env_key {
            Some(var) if is_set(&var) => {
                return Ok(CredentialCheck::Found(Credentials::Provider {
                    id,
                    env_key: Some(var),
                }));
            }
            Some(var) => {
                looked.push(format!("${var} (the key of model provider `{id}`)"));
                return Ok(CredentialCheck::Missing(looked));
            }
            None if !openai_auth => {
                return Ok(CredentialCheck::Found(Credentials::Provider {
                    id,
                    env_key: None,
                }));
            }
            None => {}
        }
    }
    for var in ["CODEX_API_KEY", "OPENAI_API_KEY"] {
        if is_set(var) {
            return Ok(CredentialCheck::Found(Credentials::ApiKeyEnv {
                var: var.into(),
            }));
        }
        looked.push(format!("${var}"));
    }
    let store = LoginStore::of(home)?;
    match store.load()? {
        Some((_, StoreKind::Keyring)) => return Ok(CredentialCheck::Found(Credentials::Keyring)),
        Some(_) => return Ok(CredentialCheck::Found(Credentials::AuthJson)),
        None => {}
    }
    match store.mode() {
        CliAuthStore::Keyring => looked.push(format!(
            "the OS keyring (`{}` / `{}`)",
            store::CLI_AUTH_SERVICE,
            store.keyring_account()
        )),
        CliAuthStore::Auto => {
            looked.push("the OS keyring".into());
            looked.push(home.auth_json().display().to_string());
        }
        CliAuthStore::Ephemeral => looked.push("an ephemeral login (none persists)".into()),
        _ => looked.push(home.auth_json().display().to_string()),
    }
    Ok(CredentialCheck::Missing(looked))
}

/// What [`seed`] copied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Seeded {
    /// Files written into the target home.
    pub copied: Vec<PathBuf>,
    /// Where the login went in the target (`None`: the source has none).
    pub login: Option<StoreKind>,
}

/// Copies `source`'s login into `target`, each in the store its config names (file to
/// keyring, keyring to file, keyring to keyring under the target's own key; files atomic and
/// 0600), and `.credentials.json` (MCP OAuth tokens kept in files; keyring-held MCP tokens are
/// shared by every home already, see [`mcp_tokens::materialize`]). Nothing missing from
/// `source` is touched in `target`.
pub fn seed(source: &CodexHome, target: &CodexHome) -> Result<Seeded> {
    let _lock = lock(source)?;
    let mut out = Seeded::default();
    let (from, to) = (LoginStore::of(source)?, LoginStore::of(target)?);
    if let Some((login, _)) = from.load()? {
        let kind = to.save(&login)?;
        if kind == StoreKind::File {
            out.copied.push(target.auth_json());
        }
        out.login = Some(kind);
    }
    let (from, to) = (source.credentials_json(), target.credentials_json());
    if from != to
        && let Some(bytes) = read_bytes(&from)?
    {
        write_secret(&to, &bytes)?;
        out.copied.push(to);
    }
    Ok(out)
}

/// Switches `home` to store `to` and moves its login there, so nothing is lost: the login is
/// written to the new store first, then `config.toml` is changed, then the old copy is removed.
/// Returns where the login is now (`None`: there was none; only the setting changed).
pub fn move_login(home: &CodexHome, to: &CliAuthStore) -> Result<Option<StoreKind>> {
    let _lock = lock(home)?;
    let from = LoginStore::of(home)?;
    let found = from.load()?;
    let target = LoginStore::with_mode(home, to.clone());
    let now = match &found {
        Some((login, _)) => Some(target.save(login)?),
        None => None,
    };
    store::set_cli_store(home, to)?;
    if let (Some((_, old)), Some(new)) = (found, now)
        && old != new
    {
        from.remove_from(old)?;
    }
    Ok(now)
}

/// What [`sync`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyncOutcome {
    /// Both homes hold the same login (or neither has one).
    InSync,
    /// The isolated copy was refreshed by Codex; it was copied back to the source.
    CopiedBack,
    /// The source was refreshed (e.g. by another isolated home); the isolated copy was updated.
    Refreshed,
    /// Only the source has a login; it was copied in.
    Seeded,
}

/// Reconciles `isolated`'s login with `source`'s under a lock on the source, each in the store
/// its config names: the copy with the newer `last_refresh` wins. `.credentials.json` (MCP
/// OAuth tokens) is merged per server, independently of that direction: each server's newest
/// entry wins and no server is dropped.
pub fn sync(isolated: &CodexHome, source: &CodexHome) -> Result<SyncOutcome> {
    let _lock = lock(source)?;
    let (iso_store, src_store) = (LoginStore::of(isolated)?, LoginStore::of(source)?);
    let iso = iso_store.load()?.map(|(l, _)| l);
    let src = src_store.load()?.map(|(l, _)| l);
    let outcome = match (&iso, &src) {
        (None, None) => SyncOutcome::InSync,
        (None, Some(s)) => {
            iso_store.save(s)?;
            SyncOutcome::Seeded
        }
        (Some(i), None) => {
            src_store.save(i)?;
            SyncOutcome::CopiedBack
        }
        (Some(i), Some(s)) if i == s => SyncOutcome::InSync,
        (Some(i), Some(s)) => {
            if newer(i.last_refresh(), s.last_refresh()) {
                src_store.save(i)?;
                SyncOutcome::CopiedBack
            } else {
                // The source is newer or equally new with other content: the source is the
                // shared truth.
                iso_store.save(s)?;
                SyncOutcome::Refreshed
            }
        }
    };
    sync_credentials(isolated, source)?;
    Ok(outcome)
}

/// Merges the two `.credentials.json` files (MCP OAuth tokens, one entry per server) entry by
/// entry, whatever direction `auth.json` went: an entry only one side has is kept, and where
/// both differ the one that expires later (it was refreshed later) wins, else the one in the
/// more recently modified file. Both homes end with the merged map. A server logged out in one
/// home is therefore logged back in from the other: log out of every home (or remove the entry
/// from both files) to forget a server.
fn sync_credentials(isolated: &CodexHome, source: &CodexHome) -> Result<()> {
    let (i, s) = (isolated.credentials_json(), source.credentials_json());
    let (ib, sb) = (read_bytes(&i)?, read_bytes(&s)?);
    match (ib, sb) {
        (None, None) => Ok(()),
        (Some(ib), Some(sb)) if ib == sb => Ok(()),
        (Some(ib), None) => write_secret(&s, &ib),
        (None, Some(sb)) => write_secret(&i, &sb),
        (Some(ib), Some(sb)) => {
            let iv = credentials_map(&i, &ib)?;
            let sv = credentials_map(&s, &sb)?;
            let isolated_newer = mtime(&i) > mtime(&s);
            let merged = merge_credentials(&iv, &sv, isolated_newer);
            let bytes = serde_json::to_vec_pretty(&Value::Object(merged.clone()))
                .map_err(|e| auth_err(&s, format!("encoding the merged credentials: {e}")))?;
            if merged != iv {
                write_secret(&i, &bytes)?;
            }
            if merged != sv {
                write_secret(&s, &bytes)?;
            }
            Ok(())
        }
    }
}

fn credentials_map(path: &Path, bytes: &[u8]) -> Result<serde_json::Map<String, Value>> {
    match parse(path, bytes)? {
        Value::Object(m) => Ok(m),
        _ => Err(auth_err(path, "not a JSON object of MCP servers".into())),
    }
}

/// Entry-wise merge of two MCP OAuth stores; `a_newer` breaks ties between differing entries
/// that carry no (or equal) `expires_at`.
fn merge_credentials(
    a: &serde_json::Map<String, Value>,
    b: &serde_json::Map<String, Value>,
    a_newer: bool,
) -> serde_json::Map<String, Value> {
    let mut out = b.clone();
    for (key, av) in a {
        let take_a = match b.get(key) {
            None => true,
            Some(bv) if bv == av => false,
            Some(bv) => {
                let expiry = |v: &Value| v.get("expires_at").and_then(Value::as_u64);
                match (expiry(av), expiry(bv)) {
                    (Some(x), Some(y)) if x != y => x > y,
                    (Some(_), None) => true,
                    (None, Some(_)) => false,
                    _ => a_newer,
                }
            }
        };
        if take_a {
            out.insert(key.clone(), av.clone());
        }
    }
    out
}

fn mtime(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

fn lock(source: &CodexHome) -> Result<FileLock> {
    let path = source.path().join(".codex-driver-auth.lock");
    FileLock::acquire(&path).map_err(|e| auth_err(&path, format!("locking: {e}")))
}

fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, bytes, 0o600).map_err(|e| auth_err(path, format!("writing: {e}")))
}

fn read_bytes(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(auth_err(path, format!("reading: {e}"))),
    }
}

fn parse(path: &Path, bytes: &[u8]) -> Result<Value> {
    // The serde error names a position, never the content.
    serde_json::from_slice(bytes).map_err(|e| {
        auth_err(
            path,
            format!("not valid JSON (line {}, column {})", e.line(), e.column()),
        )
    })
}

/// Whether RFC 3339 UTC timestamp `a` is later than `b` (a missing one is the oldest).
fn newer(a: Option<&str>, b: Option<&str>) -> bool {
    match (a.and_then(timestamp_key), b.and_then(timestamp_key)) {
        (Some(a), Some(b)) => a > b,
        (Some(_), None) => true,
        _ => false,
    }
}

/// `2025-10-01T12:34:56.123Z` -> ("2025-10-01T12:34:56", nanoseconds), for UTC stamps as Codex
/// writes them (`Z` or `+00:00`).
fn timestamp_key(s: &str) -> Option<(String, u64)> {
    let s = s.trim();
    let base = s.get(..19)?;
    let rest = &s[19..];
    let frac = rest
        .strip_prefix('.')
        .map(|r| {
            r.chars()
                .take_while(char::is_ascii_digit)
                .collect::<String>()
        })
        .unwrap_or_default();
    let nanos = format!("{frac:0<9}").get(..9)?.parse().ok()?;
    Some((base.to_owned(), nanos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn home(dir: &Path) -> CodexHome {
        std::fs::create_dir_all(dir).unwrap();
        CodexHome::new(dir)
    }

    fn login(refresh: &str, token: &str) -> String {
        serde_json::json!({
            "auth_mode": "chatgpt",
            "OPENAI_API_KEY": null,
            "tokens": {"id_token": "id", "access_token": token, "refresh_token": format!("r-{token}")},
            "last_refresh": refresh,
        })
        .to_string()
    }

    #[test]
    fn moving_to_the_same_kind_of_store_keeps_the_login() {
        let t = tempfile::tempdir().unwrap();
        let h = home(t.path());
        std::fs::write(h.auth_json(), login("2025-01-01T00:00:00Z", "a")).unwrap();
        // file -> ephemeral is refused before anything changes.
        assert!(move_login(&h, &CliAuthStore::Ephemeral).is_err());
        assert!(h.auth_json().is_file());
        assert_eq!(StoreSettings::of(&h).unwrap().cli, CliAuthStore::File);
        // file -> file (explicit) keeps the file and writes the setting.
        assert_eq!(
            move_login(&h, &CliAuthStore::File).unwrap(),
            Some(StoreKind::File)
        );
        assert!(h.auth_json().is_file());
        let text = std::fs::read_to_string(h.config_toml()).unwrap();
        assert_eq!(text, "cli_auth_credentials_store = \"file\"\n");
    }

    #[test]
    fn timestamps() {
        assert!(newer(
            Some("2025-10-01T12:00:00.5Z"),
            Some("2025-10-01T12:00:00.123456789Z")
        ));
        assert!(!newer(
            Some("2025-10-01T12:00:00Z"),
            Some("2025-10-01T12:00:00.000000001Z")
        ));
        assert!(newer(Some("2025-10-01T12:00:00Z"), None));
        assert!(!newer(None, None));
    }

    #[test]
    fn the_provider_env_key_follows_the_active_profile() {
        let t = tempfile::tempdir().unwrap();
        let h = home(t.path());
        assert_eq!(provider_env_key(&h).unwrap(), None);
        let providers =
            "[model_providers.a]\nenv_key = \"A_KEY\"\n[model_providers.b]\nenv_key = \"B_KEY\"\n";
        std::fs::write(
            h.config_toml(),
            format!("model_provider = \"a\"\n{providers}"),
        )
        .unwrap();
        assert_eq!(provider_env_key(&h).unwrap().as_deref(), Some("A_KEY"));
        std::fs::write(
            h.config_toml(),
            format!("model_provider = \"a\"\nprofile = \"p\"\n[profiles.p]\nmodel_provider = \"b\"\n{providers}"),
        )
        .unwrap();
        assert_eq!(provider_env_key(&h).unwrap().as_deref(), Some("B_KEY"));
        std::fs::write(h.config_toml(), "model_provider = \"openai\"\n").unwrap();
        assert_eq!(provider_env_key(&h).unwrap(), None);
    }

    #[test]
    fn seed_copies_with_0600() {
        let t = tempfile::tempdir().unwrap();
        let (src, dst) = (home(&t.path().join("src")), home(&t.path().join("dst")));
        std::fs::write(src.auth_json(), login("2025-01-01T00:00:00Z", "a")).unwrap();
        std::fs::write(src.credentials_json(), "{}").unwrap();
        let s = seed(&src, &dst).unwrap();
        assert_eq!(s.copied, vec![dst.auth_json(), dst.credentials_json()]);
        for p in s.copied {
            assert_eq!(
                std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(s.login, Some(StoreKind::File));
        assert_eq!(json_of(&dst.auth_json()), json_of(&src.auth_json()));
    }

    fn json_of(p: &Path) -> Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    }

    #[test]
    fn refreshed_copy_goes_back_and_stale_copy_is_updated() {
        let t = tempfile::tempdir().unwrap();
        let (src, a, b) = (
            home(&t.path().join("src")),
            home(&t.path().join("a")),
            home(&t.path().join("b")),
        );
        std::fs::write(src.auth_json(), login("2025-01-01T00:00:00Z", "t0")).unwrap();
        seed(&src, &a).unwrap();
        seed(&src, &b).unwrap();
        assert_eq!(sync(&a, &src).unwrap(), SyncOutcome::InSync);
        // Codex refreshed a's login.
        std::fs::write(a.auth_json(), login("2025-01-02T00:00:00Z", "t1")).unwrap();
        assert_eq!(sync(&a, &src).unwrap(), SyncOutcome::CopiedBack);
        let t1: Value = serde_json::from_str(&login("2025-01-02T00:00:00Z", "t1")).unwrap();
        assert_eq!(json_of(&src.auth_json()), t1);
        // b still holds the rotated-away token: it gets the new one.
        assert_eq!(sync(&b, &src).unwrap(), SyncOutcome::Refreshed);
        assert_eq!(json_of(&b.auth_json()), t1);
    }

    fn mcp_entry(server: &str, access: &str, expires_at: u64) -> Value {
        serde_json::json!({
            "server_name": server, "server_url": format!("https://{server}.example/mcp"),
            "client_id": "c", "access_token": access, "refresh_token": format!("r-{access}"),
            "expires_at": expires_at, "scopes": [],
        })
    }

    #[test]
    fn mcp_logins_merge_per_server_whatever_way_auth_json_goes() {
        let t = tempfile::tempdir().unwrap();
        let (src, a) = (home(&t.path().join("src")), home(&t.path().join("a")));
        // The source holds server x (refreshed later than a's copy) and y; a logged into z and
        // holds an older x. a's auth.json is the newer one, so auth.json goes back to the source.
        std::fs::write(src.auth_json(), login("2025-01-01T00:00:00Z", "t0")).unwrap();
        std::fs::write(a.auth_json(), login("2025-01-02T00:00:00Z", "t1")).unwrap();
        let src_creds = serde_json::json!({
            "x|1": mcp_entry("x", "x-new", 2_000), "y|1": mcp_entry("y", "y", 1_000),
        });
        let a_creds = serde_json::json!({
            "x|1": mcp_entry("x", "x-rotated-away", 1_500), "z|1": mcp_entry("z", "z", 1_000),
        });
        std::fs::write(src.credentials_json(), src_creds.to_string()).unwrap();
        std::fs::write(a.credentials_json(), a_creds.to_string()).unwrap();
        assert_eq!(sync(&a, &src).unwrap(), SyncOutcome::CopiedBack);
        let want = serde_json::json!({
            "x|1": mcp_entry("x", "x-new", 2_000), "y|1": mcp_entry("y", "y", 1_000),
            "z|1": mcp_entry("z", "z", 1_000),
        });
        for h in [&src, &a] {
            let got: Value =
                serde_json::from_slice(&std::fs::read(h.credentials_json()).unwrap()).unwrap();
            assert_eq!(got, want, "{}", h.path().display());
            assert_eq!(
                std::fs::metadata(h.credentials_json())
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o600
            );
        }
        // In sync now: nothing is rewritten.
        assert_eq!(sync(&a, &src).unwrap(), SyncOutcome::InSync);
    }

    #[test]
    fn a_damaged_credentials_file_is_an_error_and_nothing_is_lost() {
        let t = tempfile::tempdir().unwrap();
        let (src, a) = (home(&t.path().join("src")), home(&t.path().join("a")));
        let good = serde_json::json!({"x|1": mcp_entry("x", "sekrit", 1)}).to_string();
        std::fs::write(src.credentials_json(), &good).unwrap();
        std::fs::write(
            a.credentials_json(),
            "{\"x|1\": {\"access_token\": \"sekrit",
        )
        .unwrap();
        let err = sync(&a, &src).unwrap_err().to_string();
        assert!(
            err.contains("not valid JSON") && !err.contains("sekrit"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(src.credentials_json()).unwrap(),
            good
        );
    }

    #[test]
    fn credentials_are_found_where_codex_looks() {
        let t = tempfile::tempdir().unwrap();
        let h = home(t.path());
        let none = |_: &str| false;
        assert_eq!(
            find_credentials_offline(&h, &none).unwrap(),
            CredentialCheck::Missing(vec![
                "$CODEX_API_KEY".into(),
                "$OPENAI_API_KEY".into(),
                h.auth_json().display().to_string()
            ])
        );
        let openai = |k: &str| k == "OPENAI_API_KEY";
        assert_eq!(
            find_credentials_offline(&h, &openai).unwrap(),
            CredentialCheck::Found(Credentials::ApiKeyEnv {
                var: "OPENAI_API_KEY".into()
            })
        );
        std::fs::write(
            h.config_toml(),
            "model_provider = \"corp\"\n[model_providers.corp]\nbase_url = \"https://llm.corp/v1\"\nenv_key = \"CORP_KEY\"\n",
        )
        .unwrap();
        assert_eq!(
            find_credentials_offline(&h, &openai).unwrap(),
            CredentialCheck::Missing(vec!["$CORP_KEY (the key of model provider `corp`)".into()])
        );
        assert_eq!(
            find_credentials_offline(&h, &|k| k == "CORP_KEY").unwrap(),
            CredentialCheck::Found(Credentials::Provider {
                id: "corp".into(),
                env_key: Some("CORP_KEY".into())
            })
        );
        // An active legacy profile's provider ranks above the top-level one.
        std::fs::write(
            h.config_toml(),
            "profile = \"work\"\nmodel_provider = \"openai\"\n[profiles.work]\nmodel_provider = \"corp\"\n[model_providers.corp]\nenv_key = \"CORP_KEY\"\n",
        )
        .unwrap();
        assert_eq!(
            find_credentials_offline(&h, &|k| k == "CORP_KEY").unwrap(),
            CredentialCheck::Found(Credentials::Provider {
                id: "corp".into(),
                env_key: Some("CORP_KEY".into())
            })
        );
        std::fs::write(h.config_toml(), "model_provider = \"ollama\"\n").unwrap();
        assert_eq!(
            find_credentials_offline(&h, &none).unwrap(),
            CredentialCheck::Found(Credentials::Provider {
                id: "ollama".into(),
                env_key: None
            })
        );
        std::fs::write(h.config_toml(), "model = \"gpt-5\"\n").unwrap();
        std::fs::write(h.auth_json(), login("2025-01-01T00:00:00Z", "a")).unwrap();
        assert_eq!(
            find_credentials_offline(&h, &none).unwrap(),
            CredentialCheck::Found(Credentials::AuthJson)
        );
    }

    #[test]
    fn summary_has_no_secrets_and_bad_json_names_no_content() {
        let t = tempfile::tempdir().unwrap();
        let h = home(t.path());
        std::fs::write(h.auth_json(), login("2025-01-01T00:00:00Z", "sekrit-token")).unwrap();
        let s = summary(&h).unwrap().unwrap();
        assert_eq!(
            s,
            AuthSummary {
                mode: Some("chatgpt".into()),
                has_api_key: false,
                has_tokens: true,
                last_refresh: Some("2025-01-01T00:00:00Z".into()),
                store: Some(StoreKind::File),
            }
        );
        assert!(!format!("{s:?}").contains("sekrit"));
        std::fs::write(h.auth_json(), "{\"OPENAI_API_KEY\": \"sk-sekrit").unwrap();
        let err = summary(&h).unwrap_err().to_string();
        assert!(!err.contains("sekrit"), "{err}");
        assert!(err.contains("not valid JSON"), "{err}");
    }
}
