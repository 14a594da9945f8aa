//! Record real provider sessions and replay them offline: a VCR for Codex.
//!
//! - [`Recorder`]: a proxy on 127.0.0.1 that forwards every request Codex makes to an upstream
//!   Responses-API provider (adding the API key), streams the answer back unchanged, and keeps
//!   each exchange in a [`Cassette`];
//! - [`Cassette`]: JSON Lines, a header line then one line per exchange, redacted and meant to be
//!   reviewed and checked in;
//! - [`Replayer`]: serves a cassette to Codex with no network at all, request *i* against
//!   exchange *i*, comparing the stable parts of the request ([`Normalizer`]) and reporting every
//!   [`Divergence`] with a diff.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use codex_driver_testkit::vcr::{Recorder, Replayer};
//!
//! // Once, online: OPENAI_API_KEY is sent upstream, never written down.
//! let recorder = Recorder::builder("https://api.openai.com/v1")
//!     .api_key_env("OPENAI_API_KEY")
//!     .model("gpt-5.1-codex")
//!     .save_to("tests/cassettes/hello.jsonl")
//!     .start()
//!     .await?;
//! let home = tempfile::tempdir()?;
//! recorder.write_codex_home(home.path())?;
//! // ... run `codex exec` with CODEX_HOME=home ...
//! recorder.finish().await?;
//!
//! // Every test run, offline:
//! let replayer = Replayer::load("tests/cassettes/hello.jsonl").await?;
//! let home = tempfile::tempdir()?;
//! replayer.write_codex_home(home.path())?;
//! // ... run the same `codex exec` ...
//! assert!(replayer.divergences().is_empty());
//! replayer.all_used()?;
//! # Ok(()) }
//! ```

use crate::http::{Incoming, MockServer, Shared};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The cassette format version written in the header line.
pub const CASSETTE_FORMAT: u32 = 1;

/// What redacted text is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// The placeholder for the working directory Codex reports (`<cwd>…</cwd>`).
pub const CWD_PLACEHOLDER: &str = "[CWD]";

/// The placeholder for the `CODEX_HOME` written by `write_codex_home`.
pub const HOME_PLACEHOLDER: &str = "[CODEX_HOME]";

/// What a masked (ignored) part of a string is replaced with when comparing requests.
pub const IGNORED: &str = "[IGNORED]";

/// Request headers a cassette keeps by default; every other one is dropped.
pub const DEFAULT_HEADER_ALLOW_LIST: &[&str] =
    &["content-type", "accept", "openai-beta", "originator"];

/// Headers never written to a cassette, even when allow-listed.
const NEVER_RECORDED: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "api-key",
    "x-api-key",
    "cookie",
    "set-cookie",
    "openai-organization",
    "openai-project",
    "chatgpt-account-id",
];

/// Response headers kept (and replayed) besides `content-type`: the ones Codex reads.
fn keep_response_header(name: &str) -> bool {
    name == "retry-after"
        || name == "openai-model"
        || name.starts_with("x-codex-")
        || name.starts_with("x-ratelimit-")
}

/// Hop-by-hop and framing headers a proxy must not copy.
const HOP_BY_HOP: &[&str] = &[
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
];

/// What went wrong recording, loading, saving or replaying.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VcrError {
    /// Reading or writing a cassette file failed.
    #[error("cassette {path}: {source}")]
    Io {
        /// The cassette.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A cassette line is not what the format says.
    #[error("cassette {path}, line {line}: {message}")]
    Format {
        /// The cassette (empty when parsed from text).
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// An exchange could not be serialized.
    #[error("cannot serialize the cassette: {0}")]
    Serialize(#[from] serde_json::Error),
    /// The environment variable meant to hold the API key is unset or not UTF-8.
    #[error("environment variable {var} (the upstream API key) is not set")]
    MissingApiKey {
        /// Its name.
        var: String,
    },
    /// The server could not start or the HTTP client could not be built.
    #[error("cannot start the VCR server: {0}")]
    Start(std::io::Error),
    /// Requests were still streaming when [`Recorder::finish`] gave up waiting.
    #[error("{0} exchange(s) still streaming after the wait; the cassette would miss them")]
    InFlight(usize),
    /// [`Replayer::all_used`]: exchanges were never asked for, or requests diverged.
    #[error(
        "cassette not replayed cleanly: {unused} exchange(s) unused, {divergences} divergence(s)"
    )]
    NotAllUsed {
        /// Exchanges not served.
        unused: usize,
        /// Requests that did not match.
        divergences: usize,
    },
}

// ---------------------------------------------------------------------------------------------
// Cassette
// ---------------------------------------------------------------------------------------------

/// The first line of a cassette.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CassetteHeader {
    /// Always `codex-driver-testkit/vcr`, so a stray file is recognised as not a cassette.
    pub vcr: String,
    /// Format version ([`CASSETTE_FORMAT`]).
    pub format: u32,
    /// When it was recorded, RFC 3339 UTC.
    pub recorded_at: String,
    /// The upstream base URL it was recorded from (redacted like the rest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,
}

impl CassetteHeader {
    /// A header for a recording made now.
    pub fn now(upstream: Option<String>) -> Self {
        Self {
            vcr: "codex-driver-testkit/vcr".to_owned(),
            format: CASSETTE_FORMAT,
            recorded_at: rfc3339_now(),
            upstream,
        }
    }
}

/// One request and its response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Exchange {
    /// HTTP method, e.g. `POST`.
    pub method: String,
    /// Path as Codex sent it, with the query, e.g. `/v1/responses`.
    pub path: String,
    /// The request, redacted.
    pub request: CassetteRequest,
    /// The response, redacted.
    pub response: CassetteResponse,
}

impl Exchange {
    /// An exchange answered with SSE `events` (status 200, `text/event-stream`).
    pub fn sse(method: &str, path: &str, body: Value, events: Vec<SseEvent>) -> Self {
        Self {
            method: method.to_owned(),
            path: path.to_owned(),
            request: CassetteRequest {
                headers: BTreeMap::new(),
                body,
            },
            response: CassetteResponse {
                status: 200,
                content_type: Some("text/event-stream".to_owned()),
                headers: BTreeMap::new(),
                body: ResponseBody::Events(events),
                truncated: false,
            },
        }
    }
}

/// A recorded request: allow-listed headers and the body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CassetteRequest {
    /// Allow-listed headers only (names lower-case); never credentials.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body as JSON; a string when it was not JSON; `null` when empty.
    #[serde(default)]
    pub body: Value,
}

/// A recorded response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CassetteResponse {
    /// HTTP status.
    pub status: u16,
    /// `content-type`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The few other headers Codex reads (rate limits, `retry-after`, `x-codex-*`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// SSE events or a body.
    #[serde(flatten)]
    pub body: ResponseBody,
    /// The upstream stream ended with an error or Codex went away before its end.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// A response's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ResponseBody {
    /// A `text/event-stream`, event by event.
    #[serde(rename = "events")]
    Events(Vec<SseEvent>),
    /// Any other body: JSON when it parses, else a string.
    #[serde(rename = "body")]
    Body(Value),
}

/// One server-sent event (`id:`/`retry:` fields and comments are not kept; Codex ignores them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SseEvent {
    /// The `event:` name, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// The `data:` as JSON, when it parses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// The `data:` as text, when it is not JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl SseEvent {
    /// An event with a JSON payload.
    pub fn json(event: Option<&str>, data: Value) -> Self {
        Self {
            event: event.map(str::to_owned),
            data: Some(data),
            text: None,
        }
    }

    /// The event as it goes on the wire.
    fn wire(&self) -> String {
        let mut out = String::new();
        if let Some(e) = &self.event {
            out.push_str("event: ");
            out.push_str(e);
            out.push('\n');
        }
        let data = match (&self.data, &self.text) {
            (Some(v), _) => v.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => String::new(),
        };
        for line in data.split('\n') {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        out
    }
}

/// Parses a `text/event-stream` body into events (`\n` or `\r\n` line ends).
pub fn parse_sse(text: &str) -> Vec<SseEvent> {
    let text = text.replace("\r\n", "\n");
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut event = None;
        let mut data: Option<String> = None;
        for line in block.lines() {
            let (field, value) = match line.split_once(':') {
                Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
                None => (line, ""),
            };
            match field {
                "event" => event = Some(value.to_owned()),
                "data" => match &mut data {
                    Some(d) => {
                        d.push('\n');
                        d.push_str(value);
                    }
                    None => data = Some(value.to_owned()),
                },
                _ => {}
            }
        }
        if event.is_none() && data.is_none() {
            continue;
        }
        let data = data.unwrap_or_default();
        let (data, text) = match serde_json::from_str::<Value>(&data) {
            Ok(v) => (Some(v), None),
            Err(_) => (None, Some(data)),
        };
        out.push(SseEvent { event, data, text });
    }
    out
}

/// A recording: a header and the exchanges in the order Codex made them.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Cassette {
    /// The first line.
    pub header: CassetteHeader,
    /// One per request.
    pub exchanges: Vec<Exchange>,
}

impl Default for Cassette {
    fn default() -> Self {
        Self::new()
    }
}

impl Cassette {
    /// An empty cassette dated now.
    pub fn new() -> Self {
        Self {
            header: CassetteHeader::now(None),
            exchanges: Vec::new(),
        }
    }

    /// A cassette with these exchanges, dated now.
    pub fn with_exchanges(exchanges: Vec<Exchange>) -> Self {
        Self {
            header: CassetteHeader::now(None),
            exchanges,
        }
    }

    /// Reads a cassette file.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, VcrError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| VcrError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text).map_err(|e| match e {
            VcrError::Format { line, message, .. } => VcrError::Format {
                path: path.to_path_buf(),
                line,
                message,
            },
            other => other,
        })
    }

    /// Parses the JSON Lines text of a cassette.
    pub fn parse(text: &str) -> Result<Self, VcrError> {
        let bad = |line: usize, message: String| VcrError::Format {
            path: PathBuf::new(),
            line,
            message,
        };
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (n, first) = lines
            .next()
            .ok_or_else(|| bad(1, "empty: no header line".to_owned()))?;
        let header: CassetteHeader = serde_json::from_str(first)
            .map_err(|e| bad(n + 1, format!("not a cassette header: {e}")))?;
        if header.format > CASSETTE_FORMAT {
            return Err(bad(
                n + 1,
                format!(
                    "format {} is newer than this test kit's ({CASSETTE_FORMAT})",
                    header.format
                ),
            ));
        }
        let exchanges = lines
            .map(|(n, l)| serde_json::from_str(l).map_err(|e| bad(n + 1, e.to_string())))
            .collect::<Result<_, _>>()?;
        Ok(Self { header, exchanges })
    }

    /// The JSON Lines text: the header, then one line per exchange.
    pub fn to_jsonl(&self) -> Result<String, VcrError> {
        let mut out = serde_json::to_string(&self.header)?;
        out.push('\n');
        for e in &self.exchanges {
            out.push_str(&serde_json::to_string(e)?);
            out.push('\n');
        }
        Ok(out)
    }

    /// Writes the cassette atomically (readers never see half a file), creating the directory.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), VcrError> {
        let path = path.as_ref();
        let io = |source| VcrError::Io {
            path: path.to_path_buf(),
            source,
        };
        let text = self.to_jsonl()?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        codex_driver::fsutil::write_atomic(path, text.as_bytes(), 0o644).map_err(io)
    }

    /// Applies `redaction` to every exchange (e.g. a secret noticed after recording).
    pub fn redact(&mut self, redaction: &Redaction) {
        for e in &mut self.exchanges {
            redaction.exchange(e);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Redaction
// ---------------------------------------------------------------------------------------------

/// What a cassette must not contain: header values outside an allow-list (and credentials
/// always), and secrets replaced by [`REDACTED`] wherever they appear.
#[derive(Clone)]
pub struct Redaction {
    secrets: Vec<String>,
    allow_headers: Vec<String>,
}

impl std::fmt::Debug for Redaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secrets themselves must never reach a log.
        f.debug_struct("Redaction")
            .field("secrets", &self.secrets.len())
            .field("allow_headers", &self.allow_headers)
            .finish()
    }
}

impl Default for Redaction {
    fn default() -> Self {
        Self {
            secrets: Vec::new(),
            allow_headers: DEFAULT_HEADER_ALLOW_LIST
                .iter()
                .map(|h| (*h).to_owned())
                .collect(),
        }
    }
}

impl Redaction {
    /// The default: [`DEFAULT_HEADER_ALLOW_LIST`], no secrets.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces `secret` by [`REDACTED`] everywhere (bodies, events, headers). Empty strings
    /// are ignored.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.add_secret(secret.into());
        self
    }

    fn add_secret(&mut self, secret: String) {
        if !secret.is_empty() && !self.secrets.contains(&secret) {
            self.secrets.push(secret);
            // Longest first, so a secret containing another is replaced whole.
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// Keeps request header `name` too (credentials are dropped regardless).
    pub fn allow_header(mut self, name: impl AsRef<str>) -> Self {
        self.allow_headers.push(name.as_ref().to_ascii_lowercase());
        self
    }

    /// `text` with every secret replaced.
    pub fn text(&self, text: &str) -> String {
        self.secrets
            .iter()
            .fold(text.to_owned(), |t, s| t.replace(s.as_str(), REDACTED))
    }

    /// `value` with every secret replaced, in strings and object keys.
    pub fn value(&self, value: &Value) -> Value {
        if self.secrets.is_empty() {
            return value.clone();
        }
        map_strings(value, &|s| self.text(s))
    }

    /// The request headers a cassette keeps.
    fn headers(&self, headers: &HeaderMap) -> BTreeMap<String, String> {
        headers
            .iter()
            .filter(|(k, _)| !NEVER_RECORDED.contains(&k.as_str()))
            .filter(|(k, _)| self.allow_headers.iter().any(|a| a == k.as_str()))
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    self.text(&String::from_utf8_lossy(v.as_bytes())),
                )
            })
            .collect()
    }

    fn exchange(&self, e: &mut Exchange) {
        e.path = self.text(&e.path);
        e.request.headers = std::mem::take(&mut e.request.headers)
            .into_iter()
            .filter(|(k, _)| !NEVER_RECORDED.contains(&k.as_str()))
            .map(|(k, v)| (k, self.text(&v)))
            .collect();
        e.request.body = self.value(&e.request.body);
        e.response.headers = std::mem::take(&mut e.response.headers)
            .into_iter()
            .filter(|(k, _)| !NEVER_RECORDED.contains(&k.as_str()))
            .map(|(k, v)| (k, self.text(&v)))
            .collect();
        match &mut e.response.body {
            ResponseBody::Body(v) => *v = self.value(v),
            ResponseBody::Events(evs) => {
                for ev in evs {
                    ev.event = ev.event.as_deref().map(|t| self.text(t));
                    ev.data = ev.data.as_ref().map(|v| self.value(v));
                    ev.text = ev.text.as_deref().map(|t| self.text(t));
                }
            }
        }
    }
}

/// `value` with `f` applied to every string (and object key).
fn map_strings(value: &Value, f: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::String(s) => Value::String(f(s)),
        Value::Array(a) => Value::Array(a.iter().map(|v| map_strings(v, f)).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (f(k), map_strings(v, f))).collect())
        }
        other => other.clone(),
    }
}

// ---------------------------------------------------------------------------------------------
// Normalization
// ---------------------------------------------------------------------------------------------

/// The request fields Codex fills differently on every run (observed by recording the same
/// scripted `codex exec` turn twice, Codex 0.171), ignored when comparing:
///
/// - `/prompt_cache_key`: the thread id;
/// - `/client_metadata`: installation, session, thread, turn and window ids, and turn metadata
///   with a start timestamp;
/// - `/input/*/id`: every input item's id (time-based UUIDs).
pub const DEFAULT_IGNORED_POINTERS: &[&str] =
    &["/prompt_cache_key", "/client_metadata", "/input/*/id"];

/// XML-ish tags in Codex's environment context whose content is masked: the date changes daily,
/// the time zone with the machine.
pub const DEFAULT_MASKED_TAGS: &[&str] = &["current_date", "timezone"];

/// Line prefixes whose rest is masked: `exec_command` output starts with a random chunk id and
/// the command's wall time.
pub const DEFAULT_MASKED_LINE_PREFIXES: &[&str] = &["Chunk ID: ", "Wall time: "];

/// How requests are made comparable across runs: local paths become placeholders (the working
/// directory Codex reports in `<cwd>…</cwd>` always; others as registered, e.g. the
/// `CODEX_HOME`), volatile strings are masked, volatile fields removed.
#[derive(Debug, Clone)]
pub struct Normalizer {
    ignored: Vec<String>,
    masked_tags: Vec<String>,
    masked_prefixes: Vec<String>,
    paths: Vec<(String, String)>,
    detect_cwd: bool,
}

impl Default for Normalizer {
    fn default() -> Self {
        let own = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect();
        Self {
            ignored: own(DEFAULT_IGNORED_POINTERS),
            masked_tags: own(DEFAULT_MASKED_TAGS),
            masked_prefixes: own(DEFAULT_MASKED_LINE_PREFIXES),
            paths: Vec::new(),
            detect_cwd: true,
        }
    }
}

impl Normalizer {
    /// The defaults: [`DEFAULT_IGNORED_POINTERS`], [`DEFAULT_MASKED_TAGS`],
    /// [`DEFAULT_MASKED_LINE_PREFIXES`], the working directory detected.
    pub fn new() -> Self {
        Self::default()
    }

    /// No rule at all (bodies compared as they are).
    pub fn none() -> Self {
        Self {
            ignored: Vec::new(),
            masked_tags: Vec::new(),
            masked_prefixes: Vec::new(),
            paths: Vec::new(),
            detect_cwd: false,
        }
    }

    /// Also ignores the field at this JSON pointer; a `*` segment matches every array element
    /// or object member (e.g. `/input/*/id`, `/tools`).
    pub fn ignore(mut self, pointer: impl Into<String>) -> Self {
        self.ignored.push(pointer.into());
        self
    }

    /// Also masks the content of `<tag>…</tag>` in every string.
    pub fn mask_tag(mut self, tag: impl Into<String>) -> Self {
        self.masked_tags.push(tag.into());
        self
    }

    /// Also masks the rest of every line starting with `prefix` (after indentation).
    pub fn mask_line_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.masked_prefixes.push(prefix.into());
        self
    }

    /// Replaces the local path `path` by `placeholder` (in cassettes, and before comparing).
    pub fn path(mut self, path: impl AsRef<Path>, placeholder: impl Into<String>) -> Self {
        self.add_path(path.as_ref(), placeholder.into());
        self
    }

    fn add_path(&mut self, path: &Path, placeholder: String) {
        let p = path.to_string_lossy().into_owned();
        if p.is_empty() {
            return;
        }
        self.paths.retain(|(_, ph)| *ph != placeholder);
        self.paths.push((p, placeholder));
    }

    /// Whether the working directory reported in `<cwd>…</cwd>` becomes [`CWD_PLACEHOLDER`]
    /// (default: yes).
    pub fn detect_cwd(mut self, yes: bool) -> Self {
        self.detect_cwd = yes;
        self
    }

    /// The path substitutions for this body: registered ones plus its working directory,
    /// longest path first (so a path inside another is replaced whole).
    fn paths_for(&self, body: &Value) -> Vec<(String, String)> {
        let mut paths = self.paths.clone();
        if self.detect_cwd
            && let Some(cwd) = find_tag(body, "cwd")
            && !paths.iter().any(|(p, _)| *p == cwd)
        {
            paths.push((cwd, CWD_PLACEHOLDER.to_owned()));
        }
        paths.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        paths
    }

    /// `body` with local paths replaced by their placeholders (what a cassette stores).
    pub fn placeholders(&self, body: &Value) -> Value {
        let paths = self.paths_for(body);
        replace_paths(body, &paths)
    }

    /// The comparable form of a request body: placeholders, masks, ignored fields removed.
    pub fn normalize(&self, body: &Value) -> Value {
        let mut v = self.placeholders(body);
        v = map_strings(&v, &|s| self.mask(s));
        for pointer in &self.ignored {
            let segments: Vec<String> = pointer
                .split('/')
                .skip(1)
                .map(|s| s.replace("~1", "/").replace("~0", "~"))
                .collect();
            remove_at(&mut v, &segments);
        }
        v
    }

    fn mask(&self, s: &str) -> String {
        let mut out = s.to_owned();
        for tag in &self.masked_tags {
            out = mask_tag(&out, tag);
        }
        let masked = |line: &str| {
            let body = line.trim_start();
            self.masked_prefixes
                .iter()
                .find(|p| body.starts_with(p.as_str()))
                .map(|p| format!("{}{p}{IGNORED}", &line[..line.len() - body.len()]))
        };
        if out.split('\n').any(|l| masked(l).is_some()) {
            out = out
                .split('\n')
                .map(|l| masked(l).unwrap_or_else(|| l.to_owned()))
                .collect::<Vec<_>>()
                .join("\n");
        }
        out
    }
}

/// The content of the first `<tag>…</tag>` in any string of `value`.
fn find_tag(value: &Value, tag: &str) -> Option<String> {
    match value {
        Value::String(s) => {
            let open = format!("<{tag}>");
            let close = format!("</{tag}>");
            let start = s.find(&open)? + open.len();
            let len = s.get(start..)?.find(&close)?;
            let found = s.get(start..start + len)?.trim();
            // A placeholder is not a path to replace.
            (!found.is_empty() && !found.starts_with('[')).then(|| found.to_owned())
        }
        Value::Array(a) => a.iter().find_map(|v| find_tag(v, tag)),
        Value::Object(o) => o.values().find_map(|v| find_tag(v, tag)),
        _ => None,
    }
}

fn mask_tag(s: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(&open) {
        let after = i + open.len();
        let Some(len) = rest.get(after..).and_then(|r| r.find(&close)) else {
            break;
        };
        out.push_str(&rest[..after]);
        out.push_str(IGNORED);
        rest = &rest[after + len..];
    }
    out.push_str(rest);
    out
}

fn replace_paths(value: &Value, paths: &[(String, String)]) -> Value {
    if paths.is_empty() {
        return value.clone();
    }
    map_strings(value, &|s| {
        paths
            .iter()
            .fold(s.to_owned(), |t, (p, ph)| t.replace(p.as_str(), ph))
    })
}

/// Removes what `segments` (a JSON pointer, `*` for any member) points at.
fn remove_at(v: &mut Value, segments: &[String]) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    match v {
        Value::Object(o) => {
            if rest.is_empty() {
                if first == "*" {
                    o.clear();
                } else {
                    o.shift_remove(first.as_str());
                }
            } else if first == "*" {
                o.values_mut().for_each(|c| remove_at(c, rest));
            } else if let Some(c) = o.get_mut(first.as_str()) {
                remove_at(c, rest);
            }
        }
        Value::Array(a) => {
            if first == "*" {
                if rest.is_empty() {
                    a.clear();
                } else {
                    a.iter_mut().for_each(|c| remove_at(c, rest));
                }
            } else if let Ok(i) = first.parse::<usize>() {
                if rest.is_empty() {
                    if i < a.len() {
                        a.remove(i);
                    }
                } else if let Some(c) = a.get_mut(i) {
                    remove_at(c, rest);
                }
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------------------------------------
// Diff
// ---------------------------------------------------------------------------------------------

/// Longest line shown in a diff; instructions can be one 20 KB line.
const DIFF_LINE_MAX: usize = 200;

/// A unified diff (3 lines of context) of two JSON values, pretty-printed, multi-line strings
/// shown one line per array element; `-` lines are `expected`'s, `+` lines `actual`'s. Empty
/// when they are equal.
pub fn diff_json(expected: &Value, actual: &Value) -> String {
    let render = |v: &Value| {
        serde_json::to_string_pretty(&split_multiline(v)).unwrap_or_else(|_| v.to_string())
    };
    diff_text(&render(expected), &render(actual), "cassette", "request")
}

fn split_multiline(v: &Value) -> Value {
    match v {
        Value::String(s) if s.contains('\n') => {
            Value::Array(s.split('\n').map(|l| Value::String(l.to_owned())).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(split_multiline).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| (k.clone(), split_multiline(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A line-based unified diff of `old` and `new` ("" when equal), long lines cut.
pub fn diff_text(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    codex_driver::diff::unified_cut(old, new, old_name, new_name, DIFF_LINE_MAX)
}

// ---------------------------------------------------------------------------------------------
// Provider configuration shared by the recorder and the replayer
// ---------------------------------------------------------------------------------------------

/// A `config.toml` pointing Codex at `base_url` as provider `mock` (like
/// [`MockProvider::config_toml`](crate::MockProvider::config_toml)), retries off so a
/// divergence fails the turn at once.
fn provider_config(base_url: &str, model: Option<&str>) -> String {
    let mut doc = toml_edit::DocumentMut::new();
    if let Some(model) = model {
        doc["model"] = toml_edit::value(model);
    }
    doc["model_provider"] = toml_edit::value("mock");
    let mut p = toml_edit::Table::new();
    p["name"] = toml_edit::value("mock");
    p["base_url"] = toml_edit::value(base_url);
    p["wire_api"] = toml_edit::value("responses");
    p["request_max_retries"] = toml_edit::value(0);
    p["stream_max_retries"] = toml_edit::value(0);
    let mut providers = toml_edit::Table::new();
    providers.set_implicit(true);
    providers.insert("mock", toml_edit::Item::Table(p));
    doc.insert("model_providers", toml_edit::Item::Table(providers));
    doc.to_string()
}

fn write_home(dir: &Path, config: &str) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("config.toml"), config)?;
    Ok(dir.to_path_buf())
}

// ---------------------------------------------------------------------------------------------
// Recorder
// ---------------------------------------------------------------------------------------------

/// An upstream API key: sent as `Authorization: Bearer`, never shown.
#[derive(Clone)]
struct ApiKey(String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey([REDACTED])")
    }
}

/// Configures a [`Recorder`]; from [`Recorder::builder`].
#[derive(Debug)]
pub struct RecorderBuilder {
    upstream: String,
    api_key_env: Option<String>,
    api_key: Option<ApiKey>,
    redaction: Redaction,
    normalizer: Normalizer,
    model: Option<String>,
    save_to: Option<PathBuf>,
    timeout: Duration,
}

impl RecorderBuilder {
    /// Reads the upstream API key from this environment variable when starting.
    pub fn api_key_env(mut self, var: impl Into<String>) -> Self {
        self.api_key_env = Some(var.into());
        self
    }

    /// The upstream API key itself (e.g. from a secret store); takes precedence over
    /// [`api_key_env`](Self::api_key_env).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(ApiKey(key.into()));
        self
    }

    /// Replaces `secret` by [`REDACTED`] everywhere in the cassette. The API key is always
    /// redacted.
    pub fn redact(mut self, secret: impl Into<String>) -> Self {
        self.redaction = self.redaction.secret(secret);
        self
    }

    /// Keeps request header `name` in the cassette too (credentials never).
    pub fn allow_header(mut self, name: impl AsRef<str>) -> Self {
        self.redaction = self.redaction.allow_header(name);
        self
    }

    /// Path placeholders for the cassette (default: [`Normalizer::new`]; only its paths and
    /// working-directory detection are used when recording).
    pub fn normalizer(mut self, normalizer: Normalizer) -> Self {
        self.normalizer = normalizer;
        self
    }

    /// The `model` written by [`Recorder::config_toml`] (default: none, Codex's own default).
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Where [`Recorder::finish`] saves the cassette.
    pub fn save_to(mut self, path: impl Into<PathBuf>) -> Self {
        self.save_to = Some(path.into());
        self
    }

    /// Upstream request timeout, whole response included (default 10 minutes).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Starts the proxy on 127.0.0.1 (ephemeral port).
    pub async fn start(mut self) -> Result<Recorder, VcrError> {
        let key = match (self.api_key.take(), &self.api_key_env) {
            (Some(k), _) => Some(k),
            (None, Some(var)) => Some(ApiKey(
                std::env::var(var).map_err(|_| VcrError::MissingApiKey { var: var.clone() })?,
            )),
            (None, None) => None,
        };
        if let Some(k) = &key {
            self.redaction.add_secret(k.0.clone());
        }
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .build()
            .map_err(|e| VcrError::Start(std::io::Error::other(e)))?;
        let upstream = self.upstream.trim_end_matches('/').to_owned();
        let state = RecState {
            exchanges: Vec::new(),
            in_flight: 0,
            redaction: self.redaction,
            normalizer: self.normalizer,
        };
        let server = MockServer::start(state, |_, shared| {
            let ctx = Arc::new(RecCtx {
                shared,
                client,
                upstream: upstream.clone(),
                key,
            });
            Router::new().fallback(record).with_state(ctx)
        })
        .await
        .map_err(VcrError::Start)?;
        Ok(Recorder {
            server,
            upstream,
            model: self.model,
            save_to: self.save_to,
        })
    }
}

struct RecState {
    /// By arrival order; `None` until the response has been read to its end.
    exchanges: Vec<Option<Exchange>>,
    in_flight: usize,
    redaction: Redaction,
    normalizer: Normalizer,
}

struct RecCtx {
    shared: Shared<RecState>,
    client: reqwest::Client,
    upstream: String,
    key: Option<ApiKey>,
}

/// A recording proxy in front of an upstream Responses-API provider. Stops when dropped.
pub struct Recorder {
    server: MockServer<RecState>,
    upstream: String,
    model: Option<String>,
    save_to: Option<PathBuf>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.server.debug(f, "Recorder")
    }
}

impl Recorder {
    /// A recorder forwarding to `upstream_base_url` (e.g. `https://api.openai.com/v1`): Codex's
    /// `POST /v1/responses` goes to `{upstream_base_url}/responses`.
    pub fn builder(upstream_base_url: impl Into<String>) -> RecorderBuilder {
        RecorderBuilder {
            upstream: upstream_base_url.into(),
            api_key_env: None,
            api_key: None,
            redaction: Redaction::new(),
            normalizer: Normalizer::new(),
            model: None,
            save_to: None,
            timeout: Duration::from_secs(600),
        }
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The base URL Codex should use, `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.server.addr())
    }

    /// A `config.toml` that makes Codex use this recorder (provider `mock`, retries off).
    pub fn config_toml(&self) -> String {
        provider_config(&self.base_url(), self.model.as_deref())
    }

    /// Writes [`config_toml`](Self::config_toml) into `dir/config.toml` (creating `dir`), and
    /// records `dir` as [`HOME_PLACEHOLDER`] (Codex names paths inside its home in prompts).
    pub fn write_codex_home(&self, dir: &Path) -> std::io::Result<PathBuf> {
        self.server
            .state()
            .normalizer
            .add_path(dir, HOME_PLACEHOLDER.to_owned());
        write_home(dir, &self.config_toml())
    }

    /// Exchanges completed so far.
    pub fn len(&self) -> usize {
        self.server.state().exchanges.iter().flatten().count()
    }

    /// Whether no exchange is complete yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cassette so far (exchanges still streaming are left out).
    pub fn cassette(&self) -> Cassette {
        let state = self.server.state();
        let redacted = state.redaction.text(&self.upstream);
        Cassette {
            header: CassetteHeader::now(Some(redacted)),
            exchanges: state.exchanges.iter().flatten().cloned().collect(),
        }
    }

    /// Saves [`cassette`](Self::cassette) to `path` (atomically).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), VcrError> {
        self.cassette().save(path)
    }

    /// Waits (up to 10 s) for exchanges still streaming, saves to the
    /// [`save_to`](RecorderBuilder::save_to) path if one was given, stops the proxy and returns
    /// the cassette.
    pub async fn finish(self) -> Result<Cassette, VcrError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = self.server.state().in_flight;
            if left == 0 {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(VcrError::InFlight(left));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let cassette = self.cassette();
        if let Some(path) = &self.save_to {
            cassette.save(path)?;
        }
        Ok(cassette)
    }
}

/// Counts a request in flight until dropped, even when Codex hangs up mid-way.
struct InFlight(Shared<RecState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
    }
}

async fn record(State(ctx): State<Arc<RecCtx>>, req: Incoming) -> Response {
    let slot = {
        let mut s = ctx.shared.lock();
        s.exchanges.push(None);
        s.in_flight += 1;
        s.exchanges.len() - 1
    };
    let guard = InFlight(ctx.shared.clone());
    let path_and_query = req
        .uri
        .path_and_query()
        .map_or_else(|| req.uri.path().to_owned(), |p| p.as_str().to_owned());
    // Our base URL ends in /v1; the upstream's base URL replaces it.
    let rest = path_and_query
        .strip_prefix("/v1")
        .filter(|r| r.is_empty() || r.starts_with(['/', '?']))
        .unwrap_or(&path_and_query);
    let url = format!("{}{rest}", ctx.upstream);

    let mut headers = HeaderMap::new();
    for (k, v) in &req.headers {
        let name = k.as_str();
        // accept-encoding: the body is recorded as text, so ask for it uncompressed.
        if HOP_BY_HOP.contains(&name) || name == "authorization" || name == "accept-encoding" {
            continue;
        }
        headers.append(k.clone(), v.clone());
    }
    if let Some(key) = &ctx.key
        && let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {}", key.0))
    {
        v.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, v);
    }
    let request_body = request_json(&req.headers, &req.body);
    let sent = ctx
        .client
        .request(req.method.clone(), &url)
        .headers(headers)
        .body(req.body.clone())
        .send()
        .await;
    let base = Base {
        method: req.method.to_string(),
        path: path_and_query.clone(),
        headers: req.headers.clone(),
        body: request_body,
    };
    let upstream = match sent {
        Ok(r) => r,
        Err(e) => {
            let message = format!("codex-driver-testkit recorder: upstream request failed: {e}");
            store(
                &ctx.shared,
                slot,
                base,
                Upstream {
                    status: 502,
                    headers: HeaderMap::new(),
                    bytes: message.clone().into_bytes(),
                    truncated: false,
                },
            );
            drop(guard);
            return (StatusCode::BAD_GATEWAY, message).into_response();
        }
    };
    let status = upstream.status();
    let resp_headers = upstream.headers().clone();
    let stored_headers = resp_headers.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    let shared = ctx.shared.clone();
    tokio::spawn(async move {
        let _guard = guard;
        let mut upstream = upstream;
        let mut buf = Vec::new();
        let mut truncated = false;
        loop {
            match upstream.chunk().await {
                Ok(Some(chunk)) => {
                    buf.extend_from_slice(&chunk);
                    // Passed on as it arrives: Codex sees the stream's own timing.
                    if tx.send(Ok(chunk)).await.is_err() {
                        truncated = true;
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    truncated = true;
                    let _ = tx.send(Err(std::io::Error::other(e))).await;
                    break;
                }
            }
        }
        store(
            &shared,
            slot,
            base,
            Upstream {
                status: status.as_u16(),
                headers: stored_headers,
                bytes: buf,
                truncated,
            },
        );
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = status;
    for (k, v) in &resp_headers {
        if !HOP_BY_HOP.contains(&k.as_str()) {
            response.headers_mut().append(k.clone(), v.clone());
        }
    }
    response
}

/// The request's side of an exchange, before redaction.
struct Base {
    method: String,
    path: String,
    headers: HeaderMap,
    body: Value,
}

/// The upstream's answer as read.
struct Upstream {
    status: u16,
    headers: HeaderMap,
    bytes: Vec<u8>,
    truncated: bool,
}

/// A body as JSON when it parses (and is not compressed), else as text.
fn request_json(headers: &HeaderMap, body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    if headers.contains_key(header::CONTENT_ENCODING) {
        return Value::String(format!("[{} compressed bytes]", body.len()));
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn store(shared: &Shared<RecState>, slot: usize, base: Base, up: Upstream) {
    let mut s = shared.lock();
    let content_type = up
        .headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let is_sse = content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("text/event-stream"));
    let body = if is_sse {
        ResponseBody::Events(parse_sse(&String::from_utf8_lossy(&up.bytes)))
    } else {
        ResponseBody::Body(request_json(&up.headers, &up.bytes))
    };
    let headers = up
        .headers
        .iter()
        .filter(|(k, _)| keep_response_header(k.as_str()))
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut exchange = Exchange {
        method: base.method,
        path: base.path,
        request: CassetteRequest {
            headers: s.redaction.headers(&base.headers),
            body: base.body,
        },
        response: CassetteResponse {
            status: up.status,
            content_type,
            headers,
            body,
            truncated: up.truncated,
        },
    };
    // Paths of this request's run (its cwd, the home) become placeholders on both sides.
    let paths = s.normalizer.paths_for(&exchange.request.body);
    exchange.request.body = replace_paths(&exchange.request.body, &paths);
    match &mut exchange.response.body {
        ResponseBody::Body(v) => *v = replace_paths(v, &paths),
        ResponseBody::Events(evs) => {
            for ev in evs {
                ev.data = ev.data.as_ref().map(|v| replace_paths(v, &paths));
            }
        }
    }
    s.redaction.exchange(&mut exchange);
    if let Some(place) = s.exchanges.get_mut(slot) {
        *place = Some(exchange);
    }
}

// ---------------------------------------------------------------------------------------------
// Replayer
// ---------------------------------------------------------------------------------------------

/// Why a request did not get its recorded answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DivergenceKind {
    /// Same method and path, different (normalized) body; see [`Divergence::diff`].
    Body,
    /// Another method or path than the exchange recorded (`expected`: e.g. `POST /v1/responses`).
    Route {
        /// The exchange's method and path.
        expected: String,
    },
    /// Every exchange was used already.
    Exhausted,
}

/// A request that did not match the cassette.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Divergence {
    /// The exchange it was compared with (for [`DivergenceKind::Exhausted`]: the request's
    /// 0-based number, i.e. one past the cassette's end or more).
    pub index: usize,
    /// The request's method.
    pub method: String,
    /// The request's path.
    pub path: String,
    /// What differed.
    pub kind: DivergenceKind,
    /// A unified diff of the normalized bodies (`-` cassette, `+` request); empty unless
    /// [`DivergenceKind::Body`].
    pub diff: String,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            DivergenceKind::Body => write!(
                f,
                "request {} {} diverges from cassette exchange #{}:\n{}",
                self.method, self.path, self.index, self.diff
            ),
            DivergenceKind::Route { expected } => write!(
                f,
                "request {} {} diverges from cassette exchange #{}, recorded as {expected}",
                self.method, self.path, self.index
            ),
            DivergenceKind::Exhausted => write!(
                f,
                "cassette used up: request #{} ({} {}) has no recorded exchange",
                self.index, self.method, self.path
            ),
        }
    }
}

/// Configures a [`Replayer`]; from [`Replayer::builder`].
#[derive(Debug)]
pub struct ReplayerBuilder {
    cassette: Cassette,
    normalizer: Normalizer,
    redaction: Redaction,
    by_path: bool,
    model: Option<String>,
}

impl ReplayerBuilder {
    /// How requests are compared (default [`Normalizer::new`]).
    pub fn normalizer(mut self, normalizer: Normalizer) -> Self {
        self.normalizer = normalizer;
        self
    }

    /// A secret the recording redacted: redacted in requests too before comparing.
    pub fn redact(mut self, secret: impl Into<String>) -> Self {
        self.redaction = self.redaction.secret(secret);
        self
    }

    /// Answer each request with the first unused exchange of the same method and path, instead
    /// of strictly the next one (for requests whose relative order is not fixed).
    pub fn match_by_path(mut self, yes: bool) -> Self {
        self.by_path = yes;
        self
    }

    /// The `model` written by [`Replayer::config_toml`] (default: the model of the cassette's
    /// first request, so Codex asks for what was recorded).
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Starts serving on 127.0.0.1 (ephemeral port).
    pub async fn start(self) -> Result<Replayer, VcrError> {
        let model = self.model.or_else(|| {
            self.cassette
                .exchanges
                .iter()
                .find_map(|e| e.request.body.get("model").and_then(Value::as_str))
                .map(str::to_owned)
        });
        let used = vec![false; self.cassette.exchanges.len()];
        let state = ReplayState {
            exchanges: self.cassette.exchanges,
            used,
            cursor: 0,
            requests: 0,
            divergences: Vec::new(),
            normalizer: self.normalizer,
            redaction: self.redaction,
            by_path: self.by_path,
        };
        let server = MockServer::start(state, |_, shared| {
            Router::new().fallback(replay).with_state(shared)
        })
        .await
        .map_err(VcrError::Start)?;
        Ok(Replayer { server, model })
    }
}

struct ReplayState {
    exchanges: Vec<Exchange>,
    used: Vec<bool>,
    /// The next exchange in order mode.
    cursor: usize,
    requests: usize,
    divergences: Vec<Divergence>,
    normalizer: Normalizer,
    redaction: Redaction,
    by_path: bool,
}

/// Serves a [`Cassette`] to Codex offline. Stops when dropped.
pub struct Replayer {
    server: MockServer<ReplayState>,
    model: Option<String>,
}

impl std::fmt::Debug for Replayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.server.debug(f, "Replayer")
    }
}

impl Replayer {
    /// A replayer of `cassette` to configure.
    pub fn builder(cassette: Cassette) -> ReplayerBuilder {
        ReplayerBuilder {
            cassette,
            normalizer: Normalizer::new(),
            redaction: Redaction::new(),
            by_path: false,
            model: None,
        }
    }

    /// Starts replaying `cassette` with the defaults.
    pub async fn start(cassette: Cassette) -> Result<Self, VcrError> {
        Self::builder(cassette).start().await
    }

    /// Starts replaying the cassette file at `path` with the defaults.
    pub async fn load(path: impl AsRef<Path>) -> Result<Self, VcrError> {
        Self::start(Cassette::load(path)?).await
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The base URL Codex should use, `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.server.addr())
    }

    /// A `config.toml` that makes Codex use this replayer (provider `mock`, retries off).
    pub fn config_toml(&self) -> String {
        provider_config(&self.base_url(), self.model.as_deref())
    }

    /// Writes [`config_toml`](Self::config_toml) into `dir/config.toml` (creating `dir`), and
    /// takes `dir` as [`HOME_PLACEHOLDER`] when comparing and answering.
    pub fn write_codex_home(&self, dir: &Path) -> std::io::Result<PathBuf> {
        self.server
            .state()
            .normalizer
            .add_path(dir, HOME_PLACEHOLDER.to_owned());
        write_home(dir, &self.config_toml())
    }

    /// Every divergence so far, in order.
    pub fn divergences(&self) -> Vec<Divergence> {
        self.server.state().divergences.clone()
    }

    /// Exchanges not served yet.
    pub fn remaining(&self) -> usize {
        self.server.state().used.iter().filter(|u| !**u).count()
    }

    /// Requests received so far (served or not).
    pub fn requests(&self) -> usize {
        self.server.state().requests
    }

    /// `Ok` when every exchange was served and no request diverged.
    pub fn all_used(&self) -> Result<(), VcrError> {
        let state = self.server.state();
        let unused = state.used.iter().filter(|u| !**u).count();
        let divergences = state.divergences.len();
        if unused == 0 && divergences == 0 {
            Ok(())
        } else {
            Err(VcrError::NotAllUsed {
                unused,
                divergences,
            })
        }
    }
}

async fn replay(State(shared): State<Shared<ReplayState>>, req: Incoming) -> Response {
    let method = req.method.to_string();
    let path = req
        .uri
        .path_and_query()
        .map_or_else(|| req.uri.path().to_owned(), |p| p.as_str().to_owned());
    let mut s = shared.lock();
    let n = s.requests;
    s.requests += 1;
    let body = s.redaction.value(&request_json(&req.headers, &req.body));
    let paths = s.normalizer.paths_for(&body);
    let candidate = if s.by_path {
        (0..s.exchanges.len())
            .find(|&i| !s.used[i] && s.exchanges[i].method == method && s.exchanges[i].path == path)
    } else {
        Some(s.cursor).filter(|&i| i < s.exchanges.len())
    };
    let diverge = |s: &mut ReplayState, index, kind, diff: String, status: StatusCode| {
        let d = Divergence {
            index,
            method: method.clone(),
            path: path.clone(),
            kind,
            diff,
        };
        let message = format!("codex-driver-testkit replayer: {d}");
        s.divergences.push(d);
        let body = json!({"error": {"type": "vcr_divergence", "code": "vcr_divergence", "message": message}});
        (status, axum::Json(body)).into_response()
    };
    let Some(index) = candidate else {
        return diverge(
            &mut s,
            n,
            DivergenceKind::Exhausted,
            String::new(),
            StatusCode::INTERNAL_SERVER_ERROR,
        );
    };
    let (exp_method, exp_path) = (
        s.exchanges[index].method.clone(),
        s.exchanges[index].path.clone(),
    );
    if exp_method != method || exp_path != path {
        let expected = format!("{exp_method} {exp_path}");
        return diverge(
            &mut s,
            index,
            DivergenceKind::Route { expected },
            String::new(),
            StatusCode::BAD_REQUEST,
        );
    }
    let expected = s.normalizer.normalize(&s.exchanges[index].request.body);
    let actual = s.normalizer.normalize(&body);
    if expected != actual {
        let diff = diff_json(&expected, &actual);
        return diverge(
            &mut s,
            index,
            DivergenceKind::Body,
            diff,
            StatusCode::BAD_REQUEST,
        );
    }
    s.used[index] = true;
    if !s.by_path {
        s.cursor += 1;
    }
    let exchange = s.exchanges[index].clone();
    drop(s);
    // Placeholders back to this run's paths (a recorded tool call may name the workspace).
    let back: Vec<(String, String)> = paths.into_iter().map(|(p, ph)| (ph, p)).collect();
    serve(&exchange.response, &back)
}

fn serve(r: &CassetteResponse, back: &[(String, String)]) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match &r.body {
        ResponseBody::Events(evs) => evs
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e.data = e.data.as_ref().map(|v| replace_paths(v, back));
                e.wire()
            })
            .collect::<String>(),
        ResponseBody::Body(Value::String(s)) => s.clone(),
        ResponseBody::Body(Value::Null) => String::new(),
        ResponseBody::Body(v) => replace_paths(v, back).to_string(),
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    if let Some(ct) = &r.content_type
        && let Ok(v) = HeaderValue::from_str(ct)
    {
        headers.insert(header::CONTENT_TYPE, v);
    }
    for (k, v) in &r.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            headers.insert(k, v);
        }
    }
    response
}

// ---------------------------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------------------------

/// Now as RFC 3339 UTC, seconds precision (no date crate for one timestamp).
fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    rfc3339(secs)
}

fn rfc3339(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt() -> anyhow::Result<tokio::runtime::Runtime> {
        Ok(tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?)
    }

    fn exchange(prompt: &str) -> Exchange {
        Exchange::sse(
            "POST",
            "/v1/responses",
            json!({"model": "m", "input": [{"type": "message", "role": "user", "id": "msg_1",
                "content": [{"type": "input_text", "text": prompt}]}]}),
            vec![
                SseEvent::json(
                    Some("response.created"),
                    json!({"type": "response.created"}),
                ),
                SseEvent::json(
                    Some("response.completed"),
                    json!({"type": "response.completed"}),
                ),
            ],
        )
    }

    #[test]
    fn redaction_replaces_secrets_everywhere_and_drops_credentials() {
        let r = Redaction::new()
            .secret("s3cret")
            .secret("s3cret-longer")
            .allow_header("Authorization");
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer s3cret"));
        headers.insert("cookie", HeaderValue::from_static("a=b"));
        headers.insert("x-other", HeaderValue::from_static("x"));
        headers.insert(
            "content-type",
            HeaderValue::from_static("application/json; s3cret"),
        );
        assert_eq!(
            r.headers(&headers),
            BTreeMap::from([(
                "content-type".to_owned(),
                "application/json; [REDACTED]".to_owned()
            )])
        );
        assert_eq!(
            r.value(&json!({"s3cret": ["a s3cret-longer b", 1, {"k": "s3cret"}]})),
            json!({"[REDACTED]": ["a [REDACTED] b", 1, {"k": "[REDACTED]"}]})
        );
        let mut e = exchange("my s3cret");
        e.response.body = ResponseBody::Events(vec![SseEvent {
            event: Some("s3cret".into()),
            data: None,
            text: Some("raw s3cret".into()),
        }]);
        r.exchange(&mut e);
        assert_eq!(
            e.request.body["input"][0]["content"][0]["text"],
            "my [REDACTED]"
        );
        assert_eq!(
            e.response.body,
            ResponseBody::Events(vec![SseEvent {
                event: Some("[REDACTED]".into()),
                data: None,
                text: Some("raw [REDACTED]".into()),
            }])
        );
        assert_eq!(
            format!("{r:?}"),
            "Redaction { secrets: 2, allow_headers: [\"content-type\", \"accept\", \"openai-beta\", \"originator\", \"authorization\"] }"
        );
    }

    #[test]
    fn normalization_ignores_what_varies_between_runs() {
        let run = |cwd: &str, home: &str, id: &str, date: &str, chunk: &str| {
            json!({
                "model": "m",
                "prompt_cache_key": id,
                "client_metadata": {"session_id": id},
                "input": [
                    {"type": "message", "id": format!("msg_{id}"), "role": "user", "content": [
                        {"type": "input_text", "text": format!("<environment_context>\n  <cwd>{cwd}</cwd>\n  <current_date>{date}</current_date>\n  <timezone>Etc/UTC</timezone>\n</environment_context>")},
                        {"type": "input_text", "text": format!("- `r0` = `{home}/skills/.system`; roots `/tmp`, `{cwd}`.")},
                    ]},
                    {"type": "function_call_output", "id": format!("fco_{id}"), "call_id": "call_1",
                     "output": format!("Chunk ID: {chunk}\nWall time: 0.01 seconds\nOutput:\nhi\n")},
                ],
            })
        };
        let n1 = Normalizer::new().path("/h/one", HOME_PLACEHOLDER);
        let n2 = Normalizer::new().path("/h/two", HOME_PLACEHOLDER);
        let a = n1.normalize(&run("/w/one", "/h/one", "1", "2026-01-01", "ab12"));
        let b = n2.normalize(&run("/w/two", "/h/two", "2", "2026-01-02", "cd34"));
        assert_eq!(a, b);
        assert_eq!(
            a,
            json!({
                "model": "m",
                "input": [
                    {"type": "message", "role": "user", "content": [
                        {"type": "input_text", "text": "<environment_context>\n  <cwd>[CWD]</cwd>\n  <current_date>[IGNORED]</current_date>\n  <timezone>[IGNORED]</timezone>\n</environment_context>"},
                        {"type": "input_text", "text": "- `r0` = `[CODEX_HOME]/skills/.system`; roots `/tmp`, `[CWD]`."},
                    ]},
                    {"type": "function_call_output", "call_id": "call_1",
                     "output": "Chunk ID: [IGNORED]\nWall time: [IGNORED]\nOutput:\nhi\n"},
                ],
            })
        );
        // A real change survives normalization; user rules extend the defaults.
        let c = n1.normalize(&run("/w/one", "/h/one", "1", "2026-01-01", "ab12"));
        assert_eq!(a, c);
        let strict = Normalizer::none();
        assert_ne!(
            strict.normalize(&run("/w/one", "/h/one", "1", "d", "c")),
            strict.normalize(&run("/w/one", "/h/one", "2", "d", "c"))
        );
        let custom = Normalizer::none()
            .ignore("/input/*/content")
            .ignore("/model");
        assert_eq!(
            custom.normalize(&json!({"model": "m", "input": [{"content": 1, "k": 2}]})),
            json!({"input": [{"k": 2}]})
        );
    }

    #[test]
    fn diff_shows_changed_lines_with_context() {
        let d = diff_json(
            &json!({"a": 1, "b": ["x", "y"], "c": "line1\nold\nline3", "d": 4}),
            &json!({"a": 1, "b": ["x", "y"], "c": "line1\nnew\nline3", "d": 4}),
        );
        assert_eq!(
            d,
            "--- cassette\n+++ request\n@@ -6,7 +6,7 @@\n   ],\n   \"c\": [\n     \"line1\",\n-    \"old\",\n+    \"new\",\n     \"line3\"\n   ],\n   \"d\": 4\n"
        );
        assert_eq!(diff_json(&json!({"a": 1}), &json!({"a": 1})), "");
        assert_eq!(
            diff_text("a\nb\nc", "a\nc\nd", "old", "new"),
            "--- old\n+++ new\n@@ -1,3 +1,3 @@\n a\n-b\n c\n+d\n"
        );
    }

    #[test]
    fn cassette_round_trips_through_jsonl_and_a_file() -> anyhow::Result<()> {
        let mut c = Cassette::with_exchanges(vec![exchange("hello")]);
        c.exchanges.push(Exchange {
            method: "GET".into(),
            path: "/v1/models".into(),
            request: CassetteRequest {
                headers: BTreeMap::new(),
                body: Value::Null,
            },
            response: CassetteResponse {
                status: 404,
                content_type: Some("text/plain".into()),
                headers: BTreeMap::from([("retry-after".into(), "1".into())]),
                body: ResponseBody::Body(json!("nope")),
                truncated: true,
            },
        });
        let text = c.to_jsonl()?;
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            format!(
                "{{\"vcr\":\"codex-driver-testkit/vcr\",\"format\":1,\"recorded_at\":\"{}\"}}",
                c.header.recorded_at
            )
        );
        assert_eq!(
            lines[2],
            r#"{"method":"GET","path":"/v1/models","request":{"headers":{},"body":null},"response":{"status":404,"content_type":"text/plain","headers":{"retry-after":"1"},"body":"nope","truncated":true}}"#
        );
        assert_eq!(Cassette::parse(&text)?, c);
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sub/c.jsonl");
        c.save(&path)?;
        assert_eq!(Cassette::load(&path)?, c);
        let err = Cassette::parse("{\"not\": 1}\n")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "cassette , line 1: not a cassette header: missing field `vcr` at line 1 column 10"
            )
        );
        Ok(())
    }

    #[test]
    fn sse_parsing_keeps_names_and_payloads() {
        let evs = parse_sse(
            "event: a\ndata: {\"x\":1}\n\n: comment\r\nevent: b\r\ndata: one\r\ndata: two\r\n\r\n",
        );
        assert_eq!(
            evs,
            vec![
                SseEvent::json(Some("a"), json!({"x": 1})),
                SseEvent {
                    event: Some("b".into()),
                    data: None,
                    text: Some("one\ntwo".into())
                },
            ]
        );
        assert_eq!(evs[1].wire(), "event: b\ndata: one\ndata: two\n\n");
    }

    #[test]
    fn dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_369_647), "2026-12-04T07:34:07Z");
    }

    #[test]
    fn replayer_serves_in_order_and_reports_divergences() -> anyhow::Result<()> {
        rt()?.block_on(async {
            let cassette = Cassette::with_exchanges(vec![exchange("one"), exchange("two")]);
            let replayer = Replayer::start(cassette.clone()).await?;
            let client = reqwest::Client::new();
            let url = format!("{}/responses", replayer.base_url());
            let post = |body: Value| client.post(&url).json(&body).send();
            let ok = post(cassette.exchanges[0].request.body.clone()).await?;
            assert_eq!(ok.status(), 200);
            assert_eq!(
                ok.text().await?,
                "event: response.created\ndata: {\"type\":\"response.created\"}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\"}\n\n"
            );
            let bad = post(exchange("TWO").request.body).await?;
            assert_eq!(bad.status(), 400);
            let text = bad.text().await?;
            assert!(text.contains("cassette exchange #1"), "{text}");
            let divs = replayer.divergences();
            assert_eq!(divs.len(), 1);
            assert_eq!((divs[0].index, divs[0].kind.clone()), (1, DivergenceKind::Body));
            assert_eq!(
                divs[0].diff,
                "--- cassette\n+++ request\n@@ -7,7 +7,7 @@\n       \"content\": [\n         {\n           \"type\": \"input_text\",\n-          \"text\": \"two\"\n+          \"text\": \"TWO\"\n         }\n       ]\n     }\n"
            );
            assert_eq!(replayer.remaining(), 1);
            assert!(replayer.all_used().is_err());
            assert_eq!(post(exchange("two").request.body).await?.status(), 200);
            let done = post(exchange("three").request.body).await?;
            assert_eq!(done.status(), 500);
            assert_eq!(
                replayer.divergences()[1],
                Divergence {
                    index: 3,
                    method: "POST".into(),
                    path: "/v1/responses".into(),
                    kind: DivergenceKind::Exhausted,
                    diff: String::new(),
                }
            );
            assert_eq!(replayer.remaining(), 0);
            assert_eq!(
                replayer.config_toml(),
                format!(
                    "model = \"m\"\nmodel_provider = \"mock\"\n\n[model_providers.mock]\nname = \"mock\"\nbase_url = \"{}\"\nwire_api = \"responses\"\nrequest_max_retries = 0\nstream_max_retries = 0\n",
                    replayer.base_url()
                )
            );
            Ok(())
        })
    }

    #[test]
    fn recorder_forwards_with_the_key_and_records_redacted() -> anyhow::Result<()> {
        rt()?.block_on(async {
            let provider =
                crate::MockProvider::start(vec![crate::MockResponse::text("hi there")]).await?;
            let recorder = Recorder::builder(provider.base_url())
                .api_key("sk-unit-secret")
                .redact("hidden-word")
                .start()
                .await?;
            assert_eq!(
                format!("{recorder:?}"),
                format!("Recorder {{ addr: {} }}", recorder.addr())
            );
            let resp = reqwest::Client::new()
                .post(format!("{}/responses", recorder.base_url()))
                .header("cookie", "c=1")
                .json(&json!({"input": "say the hidden-word and sk-unit-secret"}))
                .send()
                .await?;
            assert_eq!(resp.status(), 200);
            let streamed = resp.text().await?;
            assert!(streamed.contains("hi there"), "{streamed}");
            let reqs = provider.requests();
            assert_eq!(
                reqs[0].header("authorization"),
                Some("Bearer sk-unit-secret")
            );
            assert_eq!(reqs[0].header("cookie"), Some("c=1"));
            let cassette = recorder.finish().await?;
            assert_eq!(cassette.exchanges.len(), 1);
            let e = &cassette.exchanges[0];
            assert_eq!(
                e.request,
                CassetteRequest {
                    headers: BTreeMap::from([
                        ("accept".into(), "*/*".into()),
                        ("content-type".into(), "application/json".into()),
                    ]),
                    body: json!({"input": "say the [REDACTED] and [REDACTED]"}),
                }
            );
            let ResponseBody::Events(evs) = &e.response.body else {
                anyhow::bail!("not SSE: {e:?}");
            };
            let names: Vec<_> = evs.iter().filter_map(|e| e.event.as_deref()).collect();
            assert_eq!(
                names,
                [
                    "response.created",
                    "response.output_item.added",
                    "response.output_text.delta",
                    "response.output_item.done",
                    "response.completed"
                ]
            );
            let text = cassette.to_jsonl()?;
            assert!(
                !text.contains("sk-unit-secret") && !text.contains("hidden-word"),
                "{text}"
            );
            Ok(())
        })
    }

    #[test]
    fn missing_key_variable_is_an_error() -> anyhow::Result<()> {
        rt()?.block_on(async {
            let err = Recorder::builder("http://127.0.0.1:9/v1")
                .api_key_env("CODEX_DRIVER_VCR_SURELY_UNSET_VAR")
                .start()
                .await
                .err()
                .map(|e| e.to_string());
            assert_eq!(
                err.as_deref(),
                Some("environment variable CODEX_DRIVER_VCR_SURELY_UNSET_VAR (the upstream API key) is not set")
            );
            Ok(())
        })
    }
}
