//! The cassette: a header line, then one JSON line per exchange.

use super::*;

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
            recorded_at: crate::clock::now_rfc3339(),
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
    pub(super) fn wire(&self) -> String {
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
