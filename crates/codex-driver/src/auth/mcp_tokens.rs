//! MCP servers' OAuth tokens, where Codex keeps them: `.credentials.json` (one map entry per
//! server) or one keyring item per server (service `Codex MCP Credentials`). The two shapes
//! differ (`server_url` and flat fields vs `url` and a nested `token_response`); [`McpTokens`]
//! reads and writes both.
//!
//! Keyring items are keyed by server name and URL, not by home: every home on the machine that
//! configures the same server shares one keyring login.

use super::store::{MCP_OAUTH_SERVICE, McpOAuthStore, StoreSettings, mcp_store_key};
use super::stores::{auth_err, remove_file};
use super::{Secret, StoreKind, keyring};
use crate::config::ConfigFile;
use crate::error::{Error, KeyringProblem, Result};
use crate::fsutil::{FileLock, write_atomic};
use crate::home::CodexHome;
use crate::mcp::McpTransport;
use serde_json::{Map, Value, json};
use std::path::Path;

/// One MCP server's OAuth login. `Debug` shows no token.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct McpTokens {
    /// The server's name in `config.toml`.
    pub server_name: String,
    /// Its URL, as configured.
    pub server_url: String,
    /// The authorization server.
    pub issuer: Option<String>,
    /// The OAuth client (from dynamic registration).
    pub client_id: Option<String>,
    /// The access token.
    pub access_token: Secret,
    /// The refresh token.
    pub refresh_token: Option<Secret>,
    /// When the access token expires (Unix milliseconds).
    pub expires_at_ms: Option<u64>,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Fields this library does not know, kept for the copy.
    extra: Map<String, Value>,
}

impl std::fmt::Debug for McpTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpTokens")
            .field("server_name", &self.server_name)
            .field("server_url", &self.server_url)
            .field("issuer", &self.issuer)
            .field("expires_at_ms", &self.expires_at_ms)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

impl McpTokens {
    /// The store key (`NAME|<16 hex>`).
    pub fn key(&self) -> String {
        mcp_store_key(&self.server_name, &self.server_url)
    }

    /// Reads a `.credentials.json` entry.
    pub fn from_file_entry(v: &Value) -> Option<Self> {
        let mut extra = v.as_object()?.clone();
        for k in [
            "server_name",
            "server_url",
            "issuer",
            "client_id",
            "access_token",
            "refresh_token",
            "expires_at",
            "scopes",
        ] {
            extra.remove(k);
        }
        Some(Self {
            server_name: text(v, "server_name")?,
            server_url: text(v, "server_url")?,
            issuer: text(v, "issuer"),
            client_id: text(v, "client_id"),
            access_token: Secret::new(text(v, "access_token")?),
            refresh_token: text(v, "refresh_token").map(Secret::new),
            expires_at_ms: v.get("expires_at").and_then(Value::as_u64),
            scopes: v
                .get("scopes")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            extra,
        })
    }

    /// Reads a keyring item's secret.
    pub fn from_keyring_value(v: &Value) -> Option<Self> {
        let tr = v.get("token_response")?;
        let mut extra = v.as_object()?.clone();
        for k in [
            "server_name",
            "url",
            "issuer",
            "client_id",
            "token_response",
            "expires_at",
        ] {
            extra.remove(k);
        }
        Some(Self {
            server_name: text(v, "server_name")?,
            server_url: text(v, "url")?,
            issuer: text(v, "issuer"),
            client_id: text(v, "client_id"),
            access_token: Secret::new(text(tr, "access_token")?),
            refresh_token: text(tr, "refresh_token").map(Secret::new),
            expires_at_ms: v.get("expires_at").and_then(Value::as_u64),
            scopes: text(tr, "scope")
                .map(|s| s.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default(),
            extra,
        })
    }

    /// The `.credentials.json` entry. Holds secrets.
    pub fn to_file_entry(&self) -> Value {
        let mut m = self.extra.clone();
        m.insert("server_name".into(), json!(self.server_name));
        m.insert("server_url".into(), json!(self.server_url));
        if let Some(i) = &self.issuer {
            m.insert("issuer".into(), json!(i));
        }
        if let Some(c) = &self.client_id {
            m.insert("client_id".into(), json!(c));
        }
        m.insert("access_token".into(), json!(self.access_token.expose()));
        if let Some(e) = self.expires_at_ms {
            m.insert("expires_at".into(), json!(e));
        }
        if let Some(r) = &self.refresh_token {
            m.insert("refresh_token".into(), json!(r.expose()));
        }
        m.insert("scopes".into(), json!(self.scopes));
        Value::Object(m)
    }

    /// The keyring item's secret. Holds secrets. `expires_in` is recomputed from `expires_at`
    /// (Codex does the same when loading).
    pub fn to_keyring_value(&self) -> Value {
        let mut tr = Map::new();
        tr.insert("access_token".into(), json!(self.access_token.expose()));
        tr.insert("token_type".into(), json!("bearer"));
        if let Some(at) = self.expires_at_ms {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or_default();
            tr.insert("expires_in".into(), json!(at.saturating_sub(now) / 1000));
        }
        if let Some(r) = &self.refresh_token {
            tr.insert("refresh_token".into(), json!(r.expose()));
        }
        if !self.scopes.is_empty() {
            tr.insert("scope".into(), json!(self.scopes.join(" ")));
        }
        let mut m = self.extra.clone();
        m.insert("server_name".into(), json!(self.server_name));
        m.insert("url".into(), json!(self.server_url));
        if let Some(i) = &self.issuer {
            m.insert("issuer".into(), json!(i));
        }
        if let Some(c) = &self.client_id {
            m.insert("client_id".into(), json!(c));
        }
        m.insert("token_response".into(), Value::Object(tr));
        if let Some(e) = self.expires_at_ms {
            m.insert("expires_at".into(), json!(e));
        }
        Value::Object(m)
    }
}

/// The URL of HTTP MCP server `name` in `home`'s `config.toml`.
pub fn server_url(home: &CodexHome, name: &str) -> Result<String> {
    let servers = crate::mcp::servers(&ConfigFile::for_home(home)?)?;
    match servers.get(name).map(|s| &s.transport) {
        Some(McpTransport::StreamableHttp { url, .. }) => Ok(url.clone()),
        Some(_) => Err(not_oauth(home, name, "is not an HTTP server")),
        None => Err(not_oauth(home, name, "is not configured")),
    }
}

fn not_oauth(home: &CodexHome, name: &str, why: &str) -> Error {
    Error::ConfigFile {
        path: home.config_toml(),
        line: None,
        column: None,
        detail: format!("MCP server `{name}` {why}"),
    }
}

/// Server `name`'s tokens in `home` (in the store its `mcp_oauth_credentials_store` names; `auto`
/// = keyring, then file) and where they were.
pub fn load(home: &CodexHome, name: &str) -> Result<Option<(McpTokens, StoreKind)>> {
    let url = server_url(home, name)?;
    let key = mcp_store_key(name, &url);
    let from_file = || -> Result<Option<(McpTokens, StoreKind)>> {
        Ok(read_file_map(&home.credentials_json())?
            .get(&key)
            .and_then(McpTokens::from_file_entry)
            .map(|t| (t, StoreKind::File)))
    };
    match mode(home)? {
        McpOAuthStore::File => from_file(),
        McpOAuthStore::Keyring => read_keyring(&key),
        _ => match read_keyring(&key) {
            Ok(Some(found)) => Ok(Some(found)),
            Ok(None) | Err(_) => from_file(),
        },
    }
}

/// Stores `tokens` in `home`'s MCP store and says where they went (`auto`: the keyring, else
/// the file). Writing to the keyring removes a stale file entry, as Codex does.
pub fn save(home: &CodexHome, tokens: &McpTokens) -> Result<StoreKind> {
    match mode(home)? {
        McpOAuthStore::File => {
            update_file(home, |m| {
                m.insert(tokens.key(), tokens.to_file_entry());
            })?;
            Ok(StoreKind::File)
        }
        McpOAuthStore::Keyring => {
            write_keyring(tokens)?;
            update_file(home, |m| {
                m.remove(&tokens.key());
            })?;
            Ok(StoreKind::Keyring)
        }
        _ => match write_keyring(tokens) {
            Ok(()) => {
                update_file(home, |m| {
                    m.remove(&tokens.key());
                })?;
                Ok(StoreKind::Keyring)
            }
            Err(_) => {
                update_file(home, |m| {
                    m.insert(tokens.key(), tokens.to_file_entry());
                })?;
                Ok(StoreKind::File)
            }
        },
    }
}

/// Forgets server `name`'s tokens in both stores (the keyring item is shared by every home that
/// configures the server). A keyring error is fatal unless the home's mode is `file`.
pub fn delete(home: &CodexHome, name: &str) -> Result<bool> {
    let key = mcp_store_key(name, &server_url(home, name)?);
    let in_keyring = match keyring::delete(MCP_OAUTH_SERVICE, &key) {
        Ok(found) => found,
        Err(e) if mode(home)? != McpOAuthStore::File => return Err(e),
        Err(_) => false,
    };
    let mut in_file = false;
    update_file(home, |m| in_file = m.remove(&key).is_some())?;
    Ok(in_keyring || in_file)
}

/// What [`materialize`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Materialized {
    /// Where the tokens were found in the source home.
    pub from: StoreKind,
    /// Where they are now for the target home.
    pub to: StoreKind,
    /// The target's config gained the server's table (it had none).
    pub configured: bool,
}

/// Makes MCP server `name` logged in in `target` with `source`'s tokens, in the target's store:
/// file to keyring, keyring to file, file to file (keyring to keyring is one shared item
/// already). A target that does not configure the server gets the source's table for it; one
/// that configures it at another URL is refused (the tokens belong to the URL).
pub fn materialize(source: &CodexHome, target: &CodexHome, name: &str) -> Result<Materialized> {
    let Some((tokens, from)) = load(source, name)? else {
        return Err(Error::Auth {
            path: source.path().to_path_buf(),
            detail: format!("MCP server `{name}` is not logged in there"),
        });
    };
    let mut configured = false;
    let mut cfg = ConfigFile::for_home(target)?;
    match crate::mcp::servers(&cfg)?.get(name).map(|s| &s.transport) {
        Some(McpTransport::StreamableHttp { url, .. }) if *url == tokens.server_url => {}
        Some(_) => return Err(not_oauth(target, name, "is configured at another URL")),
        None => {
            let source_cfg = ConfigFile::for_home(source)?;
            if let Some(server) = crate::mcp::servers(&source_cfg)?.get(name) {
                crate::mcp::set_server(&mut cfg, name, server)?;
                cfg.save()?;
                configured = true;
            }
        }
    }
    let to = save(target, &tokens)?;
    Ok(Materialized {
        from,
        to,
        configured,
    })
}

fn mode(home: &CodexHome) -> Result<McpOAuthStore> {
    let m = StoreSettings::of(home)?.mcp;
    if let McpOAuthStore::Other(word) = &m {
        return Err(Error::ConfigFile {
            path: home.config_toml(),
            line: None,
            column: None,
            detail: format!("unknown mcp_oauth_credentials_store `{word}`"),
        });
    }
    Ok(m)
}

fn read_keyring(key: &str) -> Result<Option<(McpTokens, StoreKind)>> {
    let Some(secret) = keyring::get(MCP_OAUTH_SERVICE, key)? else {
        return Ok(None);
    };
    let bad = || Error::Keyring {
        operation: format!("reading `{MCP_OAUTH_SERVICE}` / `{key}`"),
        problem: KeyringProblem::Other,
        detail: "the stored tokens are not Codex's JSON shape".into(),
    };
    let v: Value = serde_json::from_str(secret.expose()).map_err(|_| bad())?;
    McpTokens::from_keyring_value(&v)
        .map(|t| Some((t, StoreKind::Keyring)))
        .ok_or_else(bad)
}

fn write_keyring(tokens: &McpTokens) -> Result<()> {
    let value = Secret::new(tokens.to_keyring_value().to_string());
    keyring::set(MCP_OAUTH_SERVICE, &tokens.key(), &value)
}

fn read_file_map(path: &Path) -> Result<Map<String, Value>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
        Err(e) => return Err(auth_err(path, format!("reading: {e}"))),
    };
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(auth_err(path, "not a JSON object of MCP servers".into())),
        Err(e) => Err(auth_err(
            path,
            format!("not valid JSON (line {}, column {})", e.line(), e.column()),
        )),
    }
}

/// Read-modify-write of `.credentials.json` under Codex's own lock for it
/// (`mcp-oauth-locks/file-store.lock`); the file goes when its last entry does, as Codex does.
fn update_file(home: &CodexHome, edit: impl FnOnce(&mut Map<String, Value>)) -> Result<()> {
    let path = home.credentials_json();
    let locks = home.path().join("mcp-oauth-locks");
    std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
        .create(&locks)
        .map_err(|e| auth_err(&locks, format!("creating: {e}")))?;
    let lock_path = locks.join("file-store.lock");
    let _lock =
        FileLock::acquire(&lock_path).map_err(|e| auth_err(&lock_path, format!("locking: {e}")))?;
    let before = read_file_map(&path)?;
    let mut map = before.clone();
    edit(&mut map);
    if map == before {
        return Ok(());
    }
    if map.is_empty() {
        return remove_file(&path).map(|_| ());
    }
    let bytes = Secret::new(Value::Object(map).to_string());
    write_atomic(&path, bytes.expose().as_bytes(), 0o600)
        .map_err(|e| auth_err(&path, format!("writing: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring_sample() -> Value {
        // As Codex 0.169.0 stored it (docs/design/auth-stores.md).
        json!({"server_name":"docs","url":"http://127.0.0.1:18931/mcp","issuer":"http://127.0.0.1:18931",
            "client_id":"mock-client-id","token_response":{"access_token":"at-1","token_type":"bearer",
            "expires_in":3600,"refresh_token":"rt-1","scope":"read"},"expires_at":1796168823154u64})
    }

    #[test]
    fn shapes_convert_both_ways() {
        let t = McpTokens::from_keyring_value(&keyring_sample()).unwrap();
        assert_eq!(t.key(), "docs|bc2f82879bb8b25d");
        assert_eq!(
            t.to_file_entry(),
            json!({"server_name":"docs","server_url":"http://127.0.0.1:18931/mcp",
                "issuer":"http://127.0.0.1:18931","client_id":"mock-client-id","access_token":"at-1",
                "expires_at":1796168823154u64,"refresh_token":"rt-1","scopes":["read"]})
        );
        let back = McpTokens::from_file_entry(&t.to_file_entry()).unwrap();
        assert_eq!(back, t);
        let kv = back.to_keyring_value();
        assert_eq!(kv["url"], "http://127.0.0.1:18931/mcp");
        assert_eq!(kv["token_response"]["scope"], "read");
        assert_eq!(kv["token_response"]["refresh_token"], "rt-1");
        let debug = format!("{t:?}");
        assert!(
            !debug.contains("at-1") && !debug.contains("rt-1"),
            "{debug}"
        );
    }

    #[test]
    fn file_store_materializes_into_another_home() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (
            CodexHome::new(t.path().join("a")),
            CodexHome::new(t.path().join("b")),
        );
        for h in [&a, &b] {
            std::fs::create_dir_all(h.path()).unwrap();
            std::fs::write(h.config_toml(), "mcp_oauth_credentials_store = \"file\"\n").unwrap();
        }
        std::fs::write(
            a.config_toml(),
            "mcp_oauth_credentials_store = \"file\"\n[mcp_servers.docs]\nurl = \"http://127.0.0.1:18931/mcp\"\n",
        )
        .unwrap();
        let tokens = McpTokens::from_keyring_value(&keyring_sample()).unwrap();
        assert_eq!(save(&a, &tokens).unwrap(), StoreKind::File);
        let m = materialize(&a, &b, "docs").unwrap();
        assert_eq!(
            m,
            Materialized {
                from: StoreKind::File,
                to: StoreKind::File,
                configured: true
            }
        );
        assert_eq!(load(&b, "docs").unwrap(), Some((tokens, StoreKind::File)));
        assert!(delete(&b, "docs").unwrap());
        assert!(
            !b.credentials_json().exists(),
            "the last entry takes the file"
        );
        assert_eq!(load(&b, "docs").unwrap(), None);
        let err = materialize(&b, &a, "docs").unwrap_err().to_string();
        assert!(err.contains("not logged in"), "{err}");
    }
}
