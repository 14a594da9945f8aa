//! Codex's MCP servers: the `[mcp_servers.<name>]` tables of a home's `config.toml`, typed, and
//! what `codex mcp list --json` reports about them.
//!
//! Editing goes through [`ConfigFile`], so comments and keys this library doesn't know survive
//! and the file is replaced atomically. Environment values and HTTP header values may be
//! secrets: `Debug` never shows them.
//!
//! ```
//! use codex_driver::config::ConfigFile;
//! use codex_driver::mcp::{self, McpServer};
//!
//! # fn demo(path: &std::path::Path) -> codex_driver::Result<()> {
//! let mut cfg = ConfigFile::open(path)?;
//! let mut docs = McpServer::stdio("docs-server", ["--stdio"]);
//! docs.env_var("DOCS_TOKEN", "s3cret");
//! docs.default_tools_approval_mode = Some("approve".into());
//! mcp::set_server(&mut cfg, "docs", &docs)?;
//! mcp::set_server(&mut cfg, "search", &McpServer::http("https://mcp.example.com/mcp"))?;
//! cfg.save()?;
//! assert_eq!(mcp::servers(&cfg)?.len(), 2);
//! assert!(!format!("{docs:?}").contains("s3cret"));
//! # Ok(()) }
//! # let d = tempfile::tempdir().unwrap(); demo(&d.path().join("config.toml")).unwrap();
//! ```

use crate::config::ConfigFile;
use crate::error::{Error, Result};
use crate::home::CodexHome;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Name → value pairs that may hold secrets (environment values, HTTP headers). `Debug` shows
/// the names only.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretMap(pub BTreeMap<String, String>);

impl std::fmt::Debug for SecretMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "<redacted>")))
            .finish()
    }
}

/// How Codex reaches an MCP server.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub enum McpTransport {
    /// A program Codex starts, speaking MCP on its stdio.
    Stdio {
        /// `command`.
        command: String,
        /// `args`.
        args: Vec<String>,
        /// `env`: variables set for the server.
        env: SecretMap,
        /// `env_vars`: names of Codex's own variables passed through.
        env_vars: Vec<String>,
        /// `cwd`.
        cwd: Option<PathBuf>,
    },
    /// A streamable HTTP server.
    StreamableHttp {
        /// `url`.
        url: String,
        /// `bearer_token_env_var`: the variable holding the bearer token (its name).
        bearer_token_env_var: Option<String>,
        /// `http_headers`.
        http_headers: SecretMap,
        /// `env_http_headers`: header → name of the variable holding its value.
        env_http_headers: BTreeMap<String, String>,
    },
    /// Neither `command` nor `url` (a transport newer than this library, or a broken table):
    /// its keys stay in [`McpServer::extra`] and are written back as they were.
    Unknown,
}

/// Argument values may carry tokens (`--token=...`): `Debug` shows how many there are.
impl std::fmt::Debug for McpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stdio {
                command,
                args,
                env,
                env_vars,
                cwd,
            } => f
                .debug_struct("Stdio")
                .field("command", command)
                .field("args", &format_args!("[{} redacted]", args.len()))
                .field("env", env)
                .field("env_vars", env_vars)
                .field("cwd", cwd)
                .finish(),
            Self::StreamableHttp {
                url,
                bearer_token_env_var,
                http_headers,
                env_http_headers,
            } => f
                .debug_struct("StreamableHttp")
                .field("url", &without_userinfo(url))
                .field("bearer_token_env_var", bearer_token_env_var)
                .field("http_headers", http_headers)
                .field("env_http_headers", env_http_headers)
                .finish(),
            Self::Unknown => f.write_str("Unknown"),
        }
    }
}

/// One `[mcp_servers.<name>]` table. `Debug` redacts values that may be secrets (argument
/// and environment values, headers, unmodelled keys).
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct McpServer {
    /// How to reach it.
    pub transport: McpTransport,
    /// `enabled` (Codex's default: true).
    pub enabled: Option<bool>,
    /// `required`: Codex fails to start when it can't start this server.
    pub required: Option<bool>,
    /// `startup_timeout_sec`.
    pub startup_timeout_sec: Option<f64>,
    /// `tool_timeout_sec`.
    pub tool_timeout_sec: Option<f64>,
    /// `enabled_tools`: only these.
    pub enabled_tools: Option<Vec<String>>,
    /// `disabled_tools`.
    pub disabled_tools: Option<Vec<String>>,
    /// `default_tools_approval_mode`: `auto`, `prompt`, `writes` or `approve`. Under
    /// `codex exec` (approval policy `never`) a tool call that would need approval fails unless
    /// this is `approve`.
    pub default_tools_approval_mode: Option<String>,
    /// Keys this library does not model (kept as they are when the table is rewritten).
    pub extra: Map<String, Value>,
}

impl std::fmt::Debug for McpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServer")
            .field("transport", &self.transport)
            .field("enabled", &self.enabled)
            .field("required", &self.required)
            .field("startup_timeout_sec", &self.startup_timeout_sec)
            .field("tool_timeout_sec", &self.tool_timeout_sec)
            .field("enabled_tools", &self.enabled_tools)
            .field("disabled_tools", &self.disabled_tools)
            .field(
                "default_tools_approval_mode",
                &self.default_tools_approval_mode,
            )
            .field("extra_keys", &self.extra.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl McpServer {
    fn with(transport: McpTransport) -> Self {
        Self {
            transport,
            enabled: None,
            required: None,
            startup_timeout_sec: None,
            tool_timeout_sec: None,
            enabled_tools: None,
            disabled_tools: None,
            default_tools_approval_mode: None,
            extra: Map::new(),
        }
    }

    /// A stdio server: `command args...`.
    pub fn stdio<I, S>(command: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self::with(McpTransport::Stdio {
            command: command.into(),
            args: args.into_iter().map(Into::into).collect(),
            env: SecretMap::default(),
            env_vars: Vec::new(),
            cwd: None,
        })
    }

    /// A streamable HTTP server at `url`.
    pub fn http(url: impl Into<String>) -> Self {
        Self::with(McpTransport::StreamableHttp {
            url: url.into(),
            bearer_token_env_var: None,
            http_headers: SecretMap::default(),
            env_http_headers: BTreeMap::new(),
        })
    }

    /// Sets an environment variable for a stdio server (ignored for HTTP servers).
    pub fn env_var(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        if let McpTransport::Stdio { env, .. } = &mut self.transport {
            env.0.insert(key.into(), value.into());
        }
        self
    }

    /// Reads a table as Codex's config holds it (as JSON). A value of an unexpected type is
    /// not dropped: it stays in [`extra`](Self::extra), so rewriting the table keeps it.
    pub fn from_json(v: &Value) -> std::result::Result<Self, String> {
        let mut obj = v.as_object().cloned().ok_or("not a table")?;
        // Takes `k` when `conv` accepts its value; otherwise leaves it for `extra`.
        fn take<T>(
            obj: &mut Map<String, Value>,
            k: &str,
            conv: impl Fn(&Value) -> Option<T>,
        ) -> Option<T> {
            let t = obj.get(k).and_then(&conv)?;
            obj.remove(k);
            Some(t)
        }
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let strings = |v: &Value| -> Option<Vec<String>> {
            v.as_array()?
                .iter()
                .map(|s| s.as_str().map(str::to_owned))
                .collect()
        };
        let map = |v: &Value| -> Option<BTreeMap<String, String>> {
            v.as_object()?
                .iter()
                .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
                .collect()
        };
        let transport = match (obj.contains_key("command"), obj.contains_key("url")) {
            (true, false) => match take(&mut obj, "command", text) {
                Some(command) => McpTransport::Stdio {
                    command,
                    args: take(&mut obj, "args", strings).unwrap_or_default(),
                    env: SecretMap(take(&mut obj, "env", map).unwrap_or_default()),
                    env_vars: take(&mut obj, "env_vars", strings).unwrap_or_default(),
                    cwd: take(&mut obj, "cwd", text).map(PathBuf::from),
                },
                None => McpTransport::Unknown,
            },
            (false, true) => match take(&mut obj, "url", text) {
                Some(url) => McpTransport::StreamableHttp {
                    url,
                    bearer_token_env_var: take(&mut obj, "bearer_token_env_var", text),
                    http_headers: SecretMap(
                        take(&mut obj, "http_headers", map).unwrap_or_default(),
                    ),
                    env_http_headers: take(&mut obj, "env_http_headers", map).unwrap_or_default(),
                },
                None => McpTransport::Unknown,
            },
            _ => McpTransport::Unknown,
        };
        let mut s = Self::with(transport);
        s.enabled = take(&mut obj, "enabled", Value::as_bool);
        s.required = take(&mut obj, "required", Value::as_bool);
        s.startup_timeout_sec = take(&mut obj, "startup_timeout_sec", Value::as_f64);
        s.tool_timeout_sec = take(&mut obj, "tool_timeout_sec", Value::as_f64);
        s.enabled_tools = take(&mut obj, "enabled_tools", strings);
        s.disabled_tools = take(&mut obj, "disabled_tools", strings);
        s.default_tools_approval_mode = take(&mut obj, "default_tools_approval_mode", text);
        s.extra = obj;
        Ok(s)
    }

    /// The table's keys and TOML values, in a stable order.
    fn to_toml(&self) -> Vec<(String, toml_edit::Value)> {
        use toml_edit::{Array, InlineTable, Value as T};
        let arr = |v: &[String]| T::Array(v.iter().map(String::as_str).collect::<Array>());
        let table = |m: &BTreeMap<String, String>| {
            let mut t = InlineTable::new();
            for (k, v) in m {
                t.insert(k, v.as_str().into());
            }
            T::InlineTable(t)
        };
        let mut out: Vec<(String, T)> = Vec::new();
        let mut put = |k: &str, v: T| out.push((k.to_owned(), v));
        match &self.transport {
            McpTransport::Stdio {
                command,
                args,
                env,
                env_vars,
                cwd,
            } => {
                put("command", command.as_str().into());
                if !args.is_empty() {
                    put("args", arr(args));
                }
                if !env.0.is_empty() {
                    put("env", table(&env.0));
                }
                if !env_vars.is_empty() {
                    put("env_vars", arr(env_vars));
                }
                if let Some(c) = cwd {
                    put("cwd", c.display().to_string().into());
                }
            }
            McpTransport::StreamableHttp {
                url,
                bearer_token_env_var,
                http_headers,
                env_http_headers,
            } => {
                put("url", url.as_str().into());
                if let Some(b) = bearer_token_env_var {
                    put("bearer_token_env_var", b.as_str().into());
                }
                if !http_headers.0.is_empty() {
                    put("http_headers", table(&http_headers.0));
                }
                if !env_http_headers.is_empty() {
                    put("env_http_headers", table(env_http_headers));
                }
            }
            McpTransport::Unknown => {}
        }
        if let Some(b) = self.enabled {
            put("enabled", b.into());
        }
        if let Some(b) = self.required {
            put("required", b.into());
        }
        // Codex can't make a duration of NaN, infinity or a negative number.
        let seconds = |t: f64| (t.is_finite() && t >= 0.0).then_some(t);
        if let Some(t) = self.startup_timeout_sec.and_then(seconds) {
            put("startup_timeout_sec", t.into());
        }
        if let Some(t) = self.tool_timeout_sec.and_then(seconds) {
            put("tool_timeout_sec", t.into());
        }
        if let Some(t) = &self.enabled_tools {
            put("enabled_tools", arr(t));
        }
        if let Some(t) = &self.disabled_tools {
            put("disabled_tools", arr(t));
        }
        if let Some(m) = &self.default_tools_approval_mode {
            put("default_tools_approval_mode", m.as_str().into());
        }
        for (k, v) in &self.extra {
            if let Some(t) = json_to_toml(v) {
                put(k, t);
            }
        }
        out
    }
}

fn json_to_toml(v: &Value) -> Option<toml_edit::Value> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.into(),
            (None, Some(f)) => f.into(),
            _ => return None,
        },
        Value::String(s) => s.as_str().into(),
        Value::Array(a) => toml_edit::Value::Array(a.iter().filter_map(json_to_toml).collect()),
        Value::Object(o) => {
            let mut t = toml_edit::InlineTable::new();
            for (k, v) in o {
                if let Some(v) = json_to_toml(v) {
                    t.insert(k, v);
                }
            }
            toml_edit::Value::InlineTable(t)
        }
    })
}

/// `url` without `user:password@` (for `Debug`).
fn without_userinfo(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            let sep = if rest.contains('/') { "/" } else { "" };
            format!("{scheme}://{host}{sep}{path}")
        }
        None => url.to_owned(),
    }
}

/// Whether Codex accepts `name` as a server name (letters, digits and `-_:@/.`).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_:@/.".contains(c))
}

/// Every MCP server in `cfg`, by name (a table of a transport this library does not know has
/// [`McpTransport::Unknown`]). An entry that is not a table is an error naming it.
pub fn servers(cfg: &ConfigFile) -> Result<BTreeMap<String, McpServer>> {
    let Some(Value::Object(all)) = cfg.get_path(["mcp_servers"]) else {
        return Ok(BTreeMap::new());
    };
    all.into_iter()
        .map(|(name, v)| {
            McpServer::from_json(&v)
                .map(|s| (name.clone(), s))
                .map_err(|d| config_err(cfg.path(), format!("[mcp_servers.{name}]: {d}")))
        })
        .collect()
}

/// Writes `[mcp_servers.<name>]`, replacing a server of that name (as `codex mcp add` does)
/// while keeping the comments around its table.
pub fn set_server(cfg: &mut ConfigFile, name: &str, server: &McpServer) -> Result<()> {
    if !valid_name(name) {
        return Err(config_err(
            cfg.path(),
            format!("`{name}` is not a valid MCP server name (letters, digits, -_:@/.)"),
        ));
    }
    let new = server.to_toml();
    // Edit the table in place (its comments stay): drop keys the new server lacks, set the rest.
    if let Some(Value::Object(old)) = cfg.get_path(["mcp_servers", name]) {
        for key in old.keys().filter(|k| !new.iter().any(|(n, _)| n == *k)) {
            cfg.remove_path(["mcp_servers", name, key]);
        }
    }
    for (key, value) in new {
        cfg.set_path(["mcp_servers", name, &key], value)?;
    }
    Ok(())
}

/// Removes `[mcp_servers.<name>]`; whether it was there.
pub fn remove_server(cfg: &mut ConfigFile, name: &str) -> bool {
    cfg.remove_path(["mcp_servers", name])
}

fn config_err(path: &Path, detail: String) -> Error {
    Error::ConfigFile {
        path: path.to_path_buf(),
        line: None,
        column: None,
        detail,
    }
}

/// One server as `codex mcp list --json` / `codex mcp get NAME --json` report it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct McpServerStatus {
    /// The name.
    pub name: String,
    /// Whether Codex will start it.
    pub enabled: bool,
    /// Why not, when disabled.
    #[serde(default)]
    pub disabled_reason: Option<String>,
    /// Its transport as Codex resolved it.
    pub transport: ListedTransport,
    /// `startup_timeout_sec`.
    #[serde(default)]
    pub startup_timeout_sec: Option<f64>,
    /// `tool_timeout_sec`.
    #[serde(default)]
    pub tool_timeout_sec: Option<f64>,
    /// `unsupported` (stdio), `bearer_token`, `unknown`, OAuth states (`list` only).
    #[serde(default)]
    pub auth_status: Option<String>,
    /// Fields this version of the library does not know (`enabled_tools`, ... from `get`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A transport in `codex mcp list --json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[non_exhaustive]
pub enum ListedTransport {
    /// `stdio`.
    #[serde(rename = "stdio")]
    Stdio {
        /// The command.
        command: String,
        /// Its arguments.
        #[serde(default)]
        args: Vec<String>,
        /// Variables set for it (values in clear in Codex's output; redacted in `Debug`).
        #[serde(default)]
        env: Option<SecretMap>,
        /// Variables passed through.
        #[serde(default)]
        env_vars: Vec<String>,
        /// Working directory.
        #[serde(default)]
        cwd: Option<PathBuf>,
    },
    /// `streamable_http`.
    #[serde(rename = "streamable_http")]
    StreamableHttp {
        /// The URL.
        url: String,
        /// The variable holding the bearer token.
        #[serde(default)]
        bearer_token_env_var: Option<String>,
        /// Static headers (redacted in `Debug`).
        #[serde(default)]
        http_headers: Option<SecretMap>,
        /// Headers from variables.
        #[serde(default)]
        env_http_headers: Option<BTreeMap<String, String>>,
    },
    /// A transport this version of the library does not know, kept whole.
    #[serde(untagged)]
    Unknown(Value),
}

/// Parses `codex mcp list --json`.
pub fn parse_list(json: &str) -> std::result::Result<Vec<McpServerStatus>, serde_json::Error> {
    serde_json::from_str(json)
}

/// Runs `codex mcp list --json` in `home`: what Codex itself makes of the configuration.
pub async fn list_via_codex(
    binary: &crate::Binary,
    home: &CodexHome,
) -> Result<Vec<McpServerStatus>> {
    let out = crate::probe::run_codex(
        binary.path(),
        &["mcp", "list", "--json"],
        &[("CODEX_HOME", home.path().as_os_str())],
        std::time::Duration::from_secs(30),
    )
    .await?;
    if !out.status.success() {
        return Err(Error::Config {
            message: String::from_utf8_lossy(&out.stderr)
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("`codex mcp list` failed")
                .to_owned(),
            stderr_tail: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    parse_list(&String::from_utf8_lossy(&out.stdout)).map_err(|e| Error::Protocol {
        method: "codex mcp list --json".into(),
        detail: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_list_and_get_outputs_parse() {
        let list = parse_list(include_str!("../tests/fixtures/mcp/list.json"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(list.len(), 2);
        assert!(matches!(
            &list[0].transport,
            ListedTransport::StreamableHttp { url, bearer_token_env_var: Some(v), .. }
                if url == "https://example.invalid/mcp" && v == "DUMMY_TOKEN"
        ));
        assert_eq!(list[1].auth_status.as_deref(), Some("unsupported"));
        match &list[1].transport {
            ListedTransport::Stdio {
                command, args, env, ..
            } => {
                assert_eq!(command, "python3");
                assert_eq!(args, &["-m", "dummy_server", "--flag"]);
                let shown = format!("{env:?}");
                assert!(shown.contains("FOO") && !shown.contains("bar"), "{shown}");
            }
            other => panic!("{other:?}"),
        }
        let get: McpServerStatus =
            serde_json::from_str(include_str!("../tests/fixtures/mcp/get-stdio.json"))
                .unwrap_or_else(|e| panic!("{e}"));
        assert!(get.extra.contains_key("enabled_tools"));
        let odd = parse_list(
            r#"[{"name":"x","enabled":false,"transport":{"type":"websocket","url":"ws://x"}}]"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(odd[0].transport, ListedTransport::Unknown(_)));
    }

    #[test]
    fn tables_round_trip_and_keep_unknown_keys() -> Result<()> {
        let d = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let path = d.path().join("config.toml");
        std::fs::write(
            &path,
            "# servers\n[mcp_servers.old]\ncommand = \"old\"\nfuture_key = \"kept\"\n",
        )
        .map_err(|e| Error::io("write", e))?;
        let mut cfg = ConfigFile::open(&path)?;
        let mut old = servers(&cfg)?
            .remove("old")
            .ok_or_else(|| Error::InvalidOptions("old".into()))?;
        assert_eq!(old.extra.get("future_key"), Some(&Value::from("kept")));
        old.enabled = Some(false);
        set_server(&mut cfg, "old", &old)?;
        let mut http = McpServer::http("https://mcp.example.com/mcp");
        if let McpTransport::StreamableHttp {
            bearer_token_env_var,
            http_headers,
            ..
        } = &mut http.transport
        {
            *bearer_token_env_var = Some("MCP_TOKEN".into());
            http_headers.0.insert("X-Team".into(), "secret-team".into());
        }
        http.tool_timeout_sec = Some(12.5);
        set_server(&mut cfg, "team.search@v2", &http)?;
        cfg.save()?;
        let again = ConfigFile::open(&path)?;
        let all = servers(&again)?;
        assert_eq!(all.len(), 2);
        assert_eq!(all["old"], old);
        assert_eq!(all["team.search@v2"], http);
        assert!(!format!("{http:?}").contains("secret-team"));
        assert!(
            std::fs::read_to_string(&path)
                .unwrap_or_default()
                .starts_with("# servers\n")
        );
        let mut cfg = again;
        // Values of an unexpected type and unknown transports survive a rewrite.
        cfg.set_path(["mcp_servers", "odd", "command"], "x")?;
        cfg.set_path(["mcp_servers", "odd", "args"], "--not-a-list")?;
        cfg.set_path(["mcp_servers", "ws", "websocket"], "ws://x")?;
        let all = servers(&cfg)?;
        assert_eq!(
            all["odd"].extra.get("args"),
            Some(&Value::from("--not-a-list"))
        );
        assert_eq!(all["ws"].transport, McpTransport::Unknown);
        set_server(&mut cfg, "odd", &all["odd"])?;
        set_server(&mut cfg, "ws", &all["ws"])?;
        assert_eq!(servers(&cfg)?["odd"], all["odd"]);
        assert_eq!(
            cfg.get("mcp_servers.ws.websocket"),
            Some(Value::from("ws://x"))
        );
        assert!(!format!("{:?}", McpServer::stdio("s", ["--token=abc"])).contains("abc"));
        assert!(remove_server(&mut cfg, "old"));
        assert!(!remove_server(&mut cfg, "old"));
        assert!(set_server(&mut cfg, "bad name", &old).is_err());
        Ok(())
    }
}
