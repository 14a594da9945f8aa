//! Codex's configuration: typed `-c key=value` overrides ([`ConfigOverrides`]), editing a
//! `config.toml` in place ([`ConfigFile`]) and the snapshots kept before each edit
//! ([`Snapshots`]).
//!
//! ## Overrides
//!
//! Codex parses the value of `-c key=value` as TOML and silently falls back to a raw string when
//! it is not TOML, so `-c model=o3` and `-c 'model="o3"'` both work while `-c x=[1,` becomes a
//! string. We always send a TOML literal encoded by `toml_edit`, so what you pass is what Codex
//! gets.
//!
//! Overrides travel in argv, which every local user can read (`/proc/<pid>/cmdline`, `ps`):
//! never put a secret in one. Give Codex keys through the environment (a provider's `env_key`,
//! `CODEX_API_KEY`; see [`env`](crate::env)) or a login stored in its home. An override of a
//! key that holds a secret by its name (`http_headers`, `experimental_bearer_token`, an MCP
//! server's `env`, anything ending in `_token`, `_secret`, `password` or `api_key`) is refused
//! before Codex starts ([`Error::InvalidOptions`](crate::Error::InvalidOptions)); the keys that
//! only *name* a variable (`env_key`, `bearer_token_env_var`, `env_http_headers`) are fine.
//!
//! ```
//! use codex_driver::config::ConfigOverrides;
//!
//! let mut c = ConfigOverrides::new();
//! c.set("model_reasoning_effort", "high");
//! c.set_path(["projects", "/srv/my repo", "trust_level"], "trusted");
//! c.set("sandbox_workspace_write.writable_roots", toml_edit::Array::from_iter(["/data"]));
//! assert_eq!(
//!     c.to_args(),
//!     vec![
//!         "model_reasoning_effort=\"high\"",
//!         "projects.\"/srv/my repo\".trust_level=\"trusted\"",
//!         "sandbox_workspace_write.writable_roots=[\"/data\"]",
//!     ]
//! );
//! ```

use std::collections::BTreeMap;
use toml_edit::{Key, Value};

mod file;
mod snapshots;
pub use file::{ConfigFile, ModelProvider};
pub use snapshots::{DEFAULT_KEEP, Snapshot, Snapshots};

/// A set of config overrides, one per dotted key; later `set`s of a key replace earlier ones.
/// Ordered by key so the argv is deterministic.
#[derive(Debug, Clone, Default)]
pub struct ConfigOverrides {
    entries: BTreeMap<String, Value>,
}

impl ConfigOverrides {
    /// No overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a dotted key (`a.b.c`) as Codex spells it. Use [`set_path`](Self::set_path) when a
    /// segment contains dots or spaces (e.g. a project path).
    pub fn set(&mut self, dotted_key: impl Into<String>, value: impl Into<Value>) -> &mut Self {
        let mut value = value.into();
        value.decor_mut().clear();
        self.entries.insert(dotted_key.into(), value);
        self
    }

    /// The dotted keys set, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }

    /// The first key whose value would be a secret on Codex's command line (see the module
    /// docs), if any.
    pub fn secret_key(&self) -> Option<&str> {
        self.entries
            .keys()
            .map(String::as_str)
            .find(|k| holds_secret(k))
    }

    /// Sets a key given as segments; each segment is quoted when TOML requires it.
    pub fn set_path<I, S>(&mut self, segments: I, value: impl Into<Value>) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let key = segments
            .into_iter()
            .map(|s| Key::new(s.as_ref()).display_repr().into_owned())
            .collect::<Vec<_>>()
            .join(".");
        self.set(key, value)
    }

    /// Parses a command line's `key=value` as Codex does: the value as TOML (`true`, `3`,
    /// `["a", "b"]`, `"quoted"`), else as a plain string. `None` without an `=` or a key.
    pub fn parse_arg(arg: &str) -> Option<(String, Value)> {
        let (key, raw) = arg.split_once('=')?;
        let key = key.trim();
        if key.is_empty() {
            return None;
        }
        let raw = raw.trim();
        let value = raw.parse::<Value>().unwrap_or_else(|_| Value::from(raw));
        Some((key.to_owned(), value))
    }

    /// Removes an override.
    pub fn remove(&mut self, dotted_key: &str) -> Option<Value> {
        self.entries.remove(dotted_key)
    }

    /// The value of an override.
    pub fn get(&self, dotted_key: &str) -> Option<&Value> {
        self.entries.get(dotted_key)
    }

    /// True when there are no overrides.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `key=value` strings, each to follow a `-c`.
    pub fn to_args(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|(k, v)| format!("{k}={}", v.to_string().trim()))
            .collect()
    }
}

/// A temporary directory holding `config.toml` (written when `text` is given), for the tests of
/// the config file and its snapshots.
#[cfg(test)]
pub(crate) fn temp_config(text: Option<&str>) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let p = d.path().join("config.toml");
    if let Some(t) = text {
        std::fs::write(&p, t).unwrap_or_else(|e| panic!("{e}"));
    }
    (d, p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_overrides_parse_like_codex() {
        let parse = |a: &str| {
            ConfigOverrides::parse_arg(a).map(|(k, v)| (k, v.to_string().trim().to_owned()))
        };
        assert_eq!(parse("model=o3"), Some(("model".into(), "\"o3\"".into())));
        assert_eq!(
            parse("sandbox_workspace_write.network_access=true"),
            Some((
                "sandbox_workspace_write.network_access".into(),
                "true".into()
            ))
        );
        assert_eq!(parse("x=[1, 2]"), Some(("x".into(), "[1, 2]".into())));
        assert_eq!(parse("a=\"b c\""), Some(("a".into(), "\"b c\"".into())));
        assert_eq!(parse("noequals"), None);
        assert_eq!(parse("=v"), None);
    }

    #[test]
    fn values_are_toml_literals() {
        let mut c = ConfigOverrides::new();
        c.set("a", true)
            .set("b", 3i64)
            .set("c", "it's \"quoted\"")
            .set("d", toml_edit::Array::from_iter([1i64, 2]))
            .set("a", false);
        let mut t = toml_edit::InlineTable::new();
        t.insert("inherit", "all".into());
        c.set("shell_environment_policy", t);
        let args = c.to_args();
        assert_eq!(args[0], "a=false");
        assert_eq!(args[1], "b=3");
        assert_eq!(args[3], "d=[1, 2]");
        assert_eq!(args[4], r#"shell_environment_policy={ inherit = "all" }"#);
        // A string with both quote kinds survives a TOML round trip.
        let lit = args[2].strip_prefix("c=").unwrap_or_default();
        let back: toml_edit::Value = lit.parse().unwrap_or_else(|e| panic!("{lit}: {e}"));
        assert_eq!(back.as_str(), Some("it's \"quoted\""));
    }

    #[test]
    fn path_segments_are_quoted() {
        let mut c = ConfigOverrides::new();
        c.set_path(["mcp_servers", "docs.v2", "enabled"], false);
        assert_eq!(c.to_args(), vec![r#"mcp_servers."docs.v2".enabled=false"#]);
    }
}

/// Whether Codex reads a secret from `dotted_key` (by its name: header values, bearer tokens,
/// passwords, an MCP server's environment), as opposed to the name of a variable holding one.
pub(crate) fn holds_secret(dotted_key: &str) -> bool {
    let segments: Vec<String> = match Key::parse(dotted_key) {
        Ok(keys) => keys.iter().map(|k| k.get().to_ascii_lowercase()).collect(),
        Err(_) => dotted_key.split('.').map(str::to_ascii_lowercase).collect(),
    };
    segments.iter().enumerate().any(|(i, s)| {
        let names_a_variable = s.ends_with("_env_var") || s == "env_key" || s == "env_http_headers";
        !names_a_variable
            && (s == "http_headers"
                || s.ends_with("_token")
                || s.ends_with("_secret")
                || s.ends_with("password")
                || s.ends_with("api_key")
                || (s == "env" && i > 0 && segments[0] == "mcp_servers"))
    })
}

#[cfg(test)]
mod secret_tests {
    use super::*;

    #[test]
    fn overrides_that_would_put_a_secret_in_argv_are_found() {
        for key in [
            "model_providers.corp.experimental_bearer_token",
            "model_providers.corp.http_headers",
            "model_providers.corp.http_headers.X-Api-Key",
            "mcp_servers.docs.http_headers.Authorization",
            "mcp_servers.docs.env.GITHUB_TOKEN",
            "mcp_servers.docs.bearer_token",
            "some.future.client_secret",
            "proxy.password",
            "openai_api_key",
        ] {
            assert!(holds_secret(key), "{key}");
        }
        for key in [
            "model",
            "model_auto_compact_token_limit",
            "tool_output_token_limit",
            "model_providers.corp.env_key",
            "mcp_servers.docs.bearer_token_env_var",
            "mcp_servers.docs.env_http_headers.Authorization",
            "mcp_servers.docs.env_vars",
            "shell_environment_policy.inherit",
        ] {
            assert!(!holds_secret(key), "{key}");
        }
        let mut c = ConfigOverrides::new();
        c.set("model", "o3");
        assert_eq!(c.secret_key(), None);
        c.set("mcp_servers.docs.http_headers.Authorization", "Bearer x");
        assert_eq!(
            c.secret_key(),
            Some("mcp_servers.docs.http_headers.Authorization")
        );
    }
}
