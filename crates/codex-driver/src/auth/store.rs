//! Where Codex keeps credentials: the store settings of a home and the keys it files them under.
//!
//! Both settings are top-level `config.toml` keys. The keyring naming is Codex's own (keyring
//! 3.6 over the Secret Service on Linux), so an item written here is the item Codex reads:
//! - CLI auth: service `Codex Auth`, account [`cli_auth_account`] (per home);
//! - MCP OAuth: service `Codex MCP Credentials`, account [`mcp_store_key`] (per server, shared
//!   by every home).

use crate::config::ConfigFile;
use crate::error::Result;
use crate::home::CodexHome;
use sha2::{Digest, Sha256};
use std::path::Path;

/// The keyring service of Codex's CLI logins (`auth.json`'s content).
pub const CLI_AUTH_SERVICE: &str = "Codex Auth";
/// The keyring service of Codex's MCP OAuth tokens.
pub const MCP_OAUTH_SERVICE: &str = "Codex MCP Credentials";

/// `cli_auth_credentials_store`: where Codex keeps a home's login.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", from = "String")]
#[non_exhaustive]
pub enum CliAuthStore {
    /// `$CODEX_HOME/auth.json` (Codex's default).
    #[default]
    File,
    /// The OS keyring only; an `auth.json` beside it is ignored.
    Keyring,
    /// The keyring when it answers, else `auth.json`; decided again on every operation.
    Auto,
    /// In the memory of one Codex process; nothing is written anywhere.
    Ephemeral,
    /// A value this library does not know (a newer Codex's), kept as written.
    Other(String),
}

impl CliAuthStore {
    /// The `config.toml` word.
    pub fn as_str(&self) -> &str {
        match self {
            Self::File => "file",
            Self::Keyring => "keyring",
            Self::Auto => "auto",
            Self::Ephemeral => "ephemeral",
            Self::Other(s) => s,
        }
    }

    /// Reads the config word (unknown words are kept as [`CliAuthStore::Other`]).
    pub fn parse(word: &str) -> Self {
        match word {
            "file" => Self::File,
            "keyring" => Self::Keyring,
            "auto" => Self::Auto,
            "ephemeral" => Self::Ephemeral,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl From<CliAuthStore> for String {
    fn from(s: CliAuthStore) -> Self {
        s.as_str().to_owned()
    }
}

impl From<String> for CliAuthStore {
    fn from(s: String) -> Self {
        Self::parse(&s)
    }
}

impl From<McpOAuthStore> for String {
    fn from(s: McpOAuthStore) -> Self {
        s.as_str().to_owned()
    }
}

impl From<String> for McpOAuthStore {
    fn from(s: String) -> Self {
        Self::parse(&s)
    }
}

impl std::fmt::Display for CliAuthStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for CliAuthStore {
    type Err = String;
    /// Only the four words Codex documents; anything else is refused (for CLI arguments).
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match Self::parse(s) {
            Self::Other(o) => Err(format!(
                "unknown credential store `{o}` (expected file, keyring, auto or ephemeral)"
            )),
            known => Ok(known),
        }
    }
}

/// `mcp_oauth_credentials_store`: where Codex keeps MCP servers' OAuth tokens.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", from = "String")]
#[non_exhaustive]
pub enum McpOAuthStore {
    /// The keyring when it answers, else `.credentials.json` (Codex's default).
    #[default]
    Auto,
    /// `$CODEX_HOME/.credentials.json`.
    File,
    /// The OS keyring.
    Keyring,
    /// A value this library does not know, kept as written.
    Other(String),
}

impl McpOAuthStore {
    /// The `config.toml` word.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Auto => "auto",
            Self::File => "file",
            Self::Keyring => "keyring",
            Self::Other(s) => s,
        }
    }

    /// Reads the config word.
    pub fn parse(word: &str) -> Self {
        match word {
            "auto" => Self::Auto,
            "file" => Self::File,
            "keyring" => Self::Keyring,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl std::fmt::Display for McpOAuthStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for McpOAuthStore {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match Self::parse(s) {
            Self::Other(o) => Err(format!(
                "unknown MCP credential store `{o}` (expected auto, file or keyring)"
            )),
            known => Ok(known),
        }
    }
}

/// The store settings of one home, as its `config.toml` says (defaults when unset).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct StoreSettings {
    /// `cli_auth_credentials_store`.
    pub cli: CliAuthStore,
    /// `mcp_oauth_credentials_store`.
    pub mcp: McpOAuthStore,
    /// `features.secret_auth_storage`: keyring mode then keeps logins in an encrypted
    /// `secrets/*.age` file whose passphrase is in the keyring (not supported here yet; reported).
    pub secrets_backend: bool,
}

impl StoreSettings {
    /// Reads `home`'s `config.toml` (defaults when it has none).
    pub fn of(home: &CodexHome) -> Result<Self> {
        if !home.config_toml().is_file() {
            return Ok(Self::default());
        }
        Ok(Self::from_config(&ConfigFile::for_home(home)?))
    }

    /// Reads an open `config.toml`.
    pub fn from_config(cfg: &ConfigFile) -> Self {
        let word = |k: &str| cfg.get(k).and_then(|v| v.as_str().map(str::to_owned));
        Self {
            cli: word("cli_auth_credentials_store")
                .map(|w| CliAuthStore::parse(&w))
                .unwrap_or_default(),
            mcp: word("mcp_oauth_credentials_store")
                .map(|w| McpOAuthStore::parse(&w))
                .unwrap_or_default(),
            secrets_backend: cfg
                .get_path(["features", "secret_auth_storage"])
                .and_then(|v| v.as_bool())
                == Some(true),
        }
    }
}

/// Sets `home`'s `cli_auth_credentials_store` in its `config.toml` (comments and other keys
/// kept, written atomically). Moves no credentials: [`crate::auth::move_login`] does both.
pub fn set_cli_store(home: &CodexHome, store: &CliAuthStore) -> Result<()> {
    let mut cfg = ConfigFile::for_home(home)?;
    cfg.set("cli_auth_credentials_store", store.as_str())?;
    cfg.save()
}

/// Sets `home`'s `mcp_oauth_credentials_store`.
pub fn set_mcp_store(home: &CodexHome, store: &McpOAuthStore) -> Result<()> {
    let mut cfg = ConfigFile::for_home(home)?;
    cfg.set("mcp_oauth_credentials_store", store.as_str())?;
    cfg.save()
}

/// The keyring account Codex files `home`'s login under: `cli|` and the first 16 hex digits of
/// the SHA-256 of the canonical home path (symlinks resolved; the path as given when it cannot
/// be resolved).
pub fn cli_auth_account(home: &Path) -> String {
    let canonical = std::fs::canonicalize(home).unwrap_or_else(|_| home.to_path_buf());
    format!("cli|{}", hex16(canonical.to_string_lossy().as_bytes()))
}

/// The key Codex files an HTTP MCP server's OAuth tokens under, in the keyring (account) and
/// in `.credentials.json` (map key): `NAME|` and 16 hex digits of the SHA-256 of
/// `{"type":"http","url":URL,"headers":{}}` (compact, in that order, the URL verbatim).
pub fn mcp_store_key(server_name: &str, url: &str) -> String {
    // serde_json writes this exact shape: fields in insertion order, raw UTF-8.
    let mut payload = String::from("{\"type\":\"http\",\"url\":");
    payload.push_str(&serde_json::Value::String(url.to_owned()).to_string());
    payload.push_str(",\"headers\":{}}");
    format!("{server_name}|{}", hex16(payload.as_bytes()))
}

fn hex16(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_what_codex_wrote() {
        // Vectors observed on Codex 0.169.0 (docs/design/auth-stores.md).
        assert_eq!(
            cli_auth_account(Path::new("/home/alice/.codex")),
            "cli|186293cbcd01a1e8"
        );
        assert_eq!(
            cli_auth_account(Path::new("/var/lib/mybot/codex-home")),
            "cli|053f2f1fe0d77426"
        );
        assert_eq!(
            mcp_store_key("docs", "http://127.0.0.1:18931/mcp"),
            "docs|bc2f82879bb8b25d"
        );
        assert_eq!(
            mcp_store_key("docs", "https://mcp.example.com/mcp"),
            "docs|4282f2a9112820d2"
        );
    }

    #[test]
    fn the_account_follows_symlinks() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert_eq!(cli_auth_account(&link), cli_auth_account(&real));
        let slash = format!("{}/", real.display());
        assert_eq!(cli_auth_account(Path::new(&slash)), cli_auth_account(&real));
    }

    #[test]
    fn settings_read_from_config() {
        let t = tempfile::tempdir().unwrap();
        let h = CodexHome::new(t.path());
        assert_eq!(StoreSettings::of(&h).unwrap(), StoreSettings::default());
        std::fs::write(
            h.config_toml(),
            "# mine\ncli_auth_credentials_store = \"keyring\"\n[features]\nsecret_auth_storage = true\n",
        )
        .unwrap();
        let s = StoreSettings::of(&h).unwrap();
        assert_eq!(
            (s.cli, s.mcp, s.secrets_backend),
            (CliAuthStore::Keyring, McpOAuthStore::Auto, true)
        );
        set_cli_store(&h, &CliAuthStore::Auto).unwrap();
        set_mcp_store(&h, &McpOAuthStore::File).unwrap();
        let text = std::fs::read_to_string(h.config_toml()).unwrap();
        assert!(text.starts_with("# mine\n"), "{text}");
        let s = StoreSettings::of(&h).unwrap();
        assert_eq!((s.cli, s.mcp), (CliAuthStore::Auto, McpOAuthStore::File));
        // Top-level keys stay top-level even though a table comes first in the file.
        let cfg = ConfigFile::for_home(&h).unwrap();
        assert_eq!(
            cfg.get_path(["features", "mcp_oauth_credentials_store"]),
            None
        );
        assert_eq!(
            "bogus".parse::<CliAuthStore>().unwrap_err(),
            "unknown credential store `bogus` (expected file, keyring, auto or ephemeral)"
        );
        assert_eq!(
            CliAuthStore::parse("vault"),
            CliAuthStore::Other("vault".into())
        );
    }
}
