//! Rollout files, streamed: one typed [`RolloutLine`] at a time, in constant memory however
//! large the file, with every line Codex may write kept (unknown types and payload shapes
//! included) and every line that could not be read reported, not fatal.
//!
//! A rollout is JSONL: `{"timestamp", "ordinal"?, "type", "payload", "metadata"?}` per line.
//! A Codex killed mid-write leaves half a line at the end; [`RolloutReader`] reads up to the cut
//! and reports it as [`RolloutReader::truncated`].
//!
//! ```no_run
//! # fn demo() -> codex_driver::Result<()> {
//! use codex_driver::sessions::rollout::{RolloutItem, RolloutReader, EventMsg};
//!
//! let mut reader = RolloutReader::open("/home/me/.codex/sessions/2026/12/01/rollout-….jsonl")?;
//! for line in reader.by_ref() {
//!     if let RolloutItem::EventMsg(EventMsg::TaskComplete(done)) = &line?.item {
//!         println!("turn ended: {:?}", done.last_agent_message);
//!     }
//! }
//! if let Some(cut) = reader.truncated() {
//!     eprintln!("the file ends in half a line at byte {}", cut.offset);
//! }
//! # Ok(()) }
//! ```

use crate::error::{Error, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// Longest line kept by default (64 MiB); longer ones are skipped and reported.
pub const DEFAULT_MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

/// How many problems a reader keeps (later ones are counted only).
pub const MAX_PROBLEMS: usize = 64;

/// One line of a rollout file.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RolloutLine {
    /// When it was written (RFC 3339).
    pub timestamp: Option<String>,
    /// Its position in the thread (written since 0.169).
    pub ordinal: Option<u64>,
    /// What it holds, typed.
    pub item: RolloutItem,
    /// The whole line as Codex wrote it.
    pub raw: Value,
}

impl RolloutLine {
    /// Decodes one line's JSON. `None` when it is not an object with a string `type`.
    pub fn from_value(raw: Value) -> Option<Self> {
        let kind = raw.get("type")?.as_str()?.to_owned();
        let payload = raw.get("payload").cloned().unwrap_or(Value::Null);
        Some(Self {
            timestamp: raw
                .get("timestamp")
                .and_then(Value::as_str)
                .map(str::to_owned),
            ordinal: raw.get("ordinal").and_then(Value::as_u64),
            item: RolloutItem::decode(&kind, payload),
            raw,
        })
    }

    /// The line's `type` (`session_meta`, `response_item`, `event_msg`, ...).
    pub fn kind(&self) -> &str {
        self.raw.get("type").and_then(Value::as_str).unwrap_or("")
    }

    /// The line's payload as Codex wrote it.
    pub fn payload(&self) -> &Value {
        self.raw.get("payload").unwrap_or(&Value::Null)
    }
}

/// What a rollout line holds.
///
/// A payload whose shape changed is still recognized by its type: fields that do not fit are
/// `None`, and the line's [`raw`](RolloutLine::raw) JSON has everything.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RolloutItem {
    /// `session_meta`: the thread's identity (first line; again after a fork's history).
    SessionMeta(Box<SessionMeta>),
    /// `response_item`: what went to or came from the model.
    ResponseItem(ResponseItem),
    /// `event_msg`: a protocol event.
    EventMsg(EventMsg),
    /// `turn_context`: a turn's settings.
    TurnContext(Box<TurnContext>),
    /// `compacted`: the history was summarised.
    Compacted(Compacted),
    /// Any other type (`world_state`, `token_usage_record`, newer ones), with its payload.
    Other {
        /// The line's `type`.
        kind: String,
        /// Its payload.
        payload: Value,
    },
}

impl RolloutItem {
    fn decode(kind: &str, payload: Value) -> Self {
        match kind {
            "session_meta" => Self::SessionMeta(Box::new(lenient(&payload))),
            "response_item" => Self::ResponseItem(ResponseItem::decode(payload)),
            "event_msg" => Self::EventMsg(EventMsg::decode(payload)),
            "turn_context" => Self::TurnContext(Box::new(lenient(&payload))),
            "compacted" => Self::Compacted(lenient(&payload)),
            other => Self::Other {
                kind: other.to_owned(),
                payload,
            },
        }
    }
}

/// Decodes `T` from `v`; a value that does not fit gives `T::default()` (every field of these
/// types is optional and itself tolerant, so this only happens when `v` is not an object).
fn lenient<T: DeserializeOwned + Default>(v: &Value) -> T {
    T::deserialize(v).unwrap_or_default()
}

/// A field that keeps `None` instead of failing when Codex sends a value of another type.
fn opt<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let v = Value::deserialize(d)?;
    Ok(T::deserialize(v).ok())
}

/// `session_meta`'s payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct SessionMeta {
    /// The thread id.
    #[serde(default, deserialize_with = "opt")]
    pub id: Option<String>,
    /// When the thread started (RFC 3339).
    #[serde(default, deserialize_with = "opt")]
    pub timestamp: Option<String>,
    /// Its working directory.
    #[serde(default, deserialize_with = "opt")]
    pub cwd: Option<PathBuf>,
    /// `codex_exec`, `codex_cli_rs`, an app-server client's name, ...
    #[serde(default, deserialize_with = "opt")]
    pub originator: Option<String>,
    /// The Codex version that wrote it.
    #[serde(default, deserialize_with = "opt")]
    pub cli_version: Option<String>,
    /// Where it was started: `exec`, `cli`, `vscode`, `mcp`, or an object for sub-agents.
    #[serde(default)]
    pub source: Option<Value>,
    /// The model provider id.
    #[serde(default, deserialize_with = "opt")]
    pub model_provider: Option<String>,
    /// The thread it was forked from.
    #[serde(default, deserialize_with = "opt")]
    pub forked_from_id: Option<String>,
    /// The git state Codex recorded.
    #[serde(default, deserialize_with = "opt")]
    pub git: Option<GitInfo>,
}

/// Git state recorded with a thread.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct GitInfo {
    /// `HEAD`'s commit.
    #[serde(default, deserialize_with = "opt")]
    pub commit_hash: Option<String>,
    /// The branch.
    #[serde(default, deserialize_with = "opt")]
    pub branch: Option<String>,
    /// The `origin` remote's URL.
    #[serde(default, deserialize_with = "opt")]
    pub repository_url: Option<String>,
}

/// `turn_context`'s payload (the fields a reader usually wants; the rest is in the line's raw
/// JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct TurnContext {
    /// The turn (0.130+).
    #[serde(default, deserialize_with = "opt")]
    pub turn_id: Option<String>,
    /// The working directory.
    #[serde(default, deserialize_with = "opt")]
    pub cwd: Option<PathBuf>,
    /// The model.
    #[serde(default, deserialize_with = "opt")]
    pub model: Option<String>,
    /// The approval policy.
    #[serde(default)]
    pub approval_policy: Option<Value>,
    /// The sandbox policy.
    #[serde(default)]
    pub sandbox_policy: Option<Value>,
}

/// `compacted`'s payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct Compacted {
    /// The summary that replaced the history.
    #[serde(default, deserialize_with = "opt")]
    pub message: Option<String>,
}

/// A `response_item`: what went to or came from the model (the Responses API's items).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ResponseItem {
    /// `message`: a user, developer or assistant message.
    Message {
        /// `user`, `assistant`, `developer`, `system`.
        role: String,
        /// The text parts, joined.
        text: String,
    },
    /// `reasoning`: the summary parts, one per line.
    Reasoning {
        /// The summary.
        summary: String,
    },
    /// `function_call` (tools such as `exec_command`, MCP tools with a `namespace`).
    FunctionCall {
        /// The tool.
        name: String,
        /// The MCP namespace (`mcp__<server>`), if any.
        namespace: Option<String>,
        /// The arguments' JSON text.
        arguments: String,
        /// Pairs the call with its output.
        call_id: String,
    },
    /// `function_call_output`.
    FunctionCallOutput {
        /// The call it answers.
        call_id: String,
        /// The output (text, or the JSON of structured output).
        output: Value,
    },
    /// Any other item type (`custom_tool_call`, `web_search_call`, `local_shell_call`, ...),
    /// or a known one whose shape changed, with its type.
    Other {
        /// The item's `type`.
        kind: String,
        /// The item.
        payload: Value,
    },
}

impl ResponseItem {
    fn decode(payload: Value) -> Self {
        let s = |k: &str| payload.get(k).and_then(Value::as_str).map(str::to_owned);
        let kind = s("type").unwrap_or_default();
        let known = match kind.as_str() {
            "message" => s("role").map(|role| Self::Message {
                role,
                text: text_parts(payload.get("content")),
            }),
            "reasoning" => Some(Self::Reasoning {
                summary: payload
                    .get("summary")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n"),
            }),
            "function_call" => match (s("name"), s("call_id")) {
                (Some(name), Some(call_id)) => Some(Self::FunctionCall {
                    name,
                    namespace: s("namespace"),
                    arguments: s("arguments").unwrap_or_default(),
                    call_id,
                }),
                _ => None,
            },
            "function_call_output" => s("call_id").map(|call_id| Self::FunctionCallOutput {
                call_id,
                output: payload.get("output").cloned().unwrap_or(Value::Null),
            }),
            _ => None,
        };
        known.unwrap_or(Self::Other { kind, payload })
    }
}

/// The text of a message's content parts (`input_text`, `output_text`, `text`), joined.
pub(crate) fn text_parts(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter(|p| {
                p.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.ends_with("text") || t.eq_ignore_ascii_case("text"))
            })
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect(),
        _ => String::new(),
    }
}

/// An `event_msg`: one of Codex's protocol events, as the rollout keeps them.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventMsg {
    /// `task_started`: a turn began.
    TaskStarted(TaskStarted),
    /// `task_complete`: a turn ended.
    TaskComplete(TaskComplete),
    /// `turn_aborted`: a turn was interrupted.
    TurnAborted(TurnAborted),
    /// `token_count`: usage so far.
    TokenCount(TokenCount),
    /// `user_message` (0.50-0.130 and still alongside items): the user's prompt.
    UserMessage(TextEvent),
    /// `agent_message`: an assistant message.
    AgentMessage(TextEvent),
    /// `agent_reasoning`: a reasoning summary.
    AgentReasoning(TextEvent),
    /// `item_started` (0.169+): a turn item began.
    ItemStarted(ItemEnvelope),
    /// `item_completed` (0.169+): a turn item is done.
    ItemCompleted(ItemEnvelope),
    /// `error`: the turn failed with this message.
    Error(ErrorEvent),
    /// Any other event (`exec_command_end`, `patch_apply_end`, newer ones), or a known one
    /// whose shape changed, with its type.
    Other {
        /// The event's `type`.
        kind: String,
        /// The event.
        payload: Value,
    },
}

impl EventMsg {
    /// An event from its JSON (`{"type": ..., ...}`), as a rollout line's payload or a
    /// `codex/event`'s `msg`.
    pub fn from_payload(payload: Value) -> Self {
        Self::decode(payload)
    }

    fn decode(payload: Value) -> Self {
        let kind = payload
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        fn typed<T: DeserializeOwned>(v: &Value) -> Option<T> {
            T::deserialize(v).ok()
        }
        let known = match kind.as_str() {
            "task_started" => typed(&payload).map(Self::TaskStarted),
            "task_complete" => typed(&payload).map(Self::TaskComplete),
            "turn_aborted" => typed(&payload).map(Self::TurnAborted),
            "token_count" => typed(&payload).map(Self::TokenCount),
            "user_message" => typed(&payload).map(Self::UserMessage),
            "agent_message" => typed(&payload).map(Self::AgentMessage),
            "agent_reasoning" => typed(&payload).map(Self::AgentReasoning),
            "item_started" => typed(&payload).map(Self::ItemStarted),
            "item_completed" => typed(&payload).map(Self::ItemCompleted),
            "error" => typed(&payload).map(Self::Error),
            _ => None,
        };
        known.unwrap_or(Self::Other { kind, payload })
    }

    /// The event's `type`.
    pub fn kind(&self) -> &str {
        match self {
            Self::TaskStarted(_) => "task_started",
            Self::TaskComplete(_) => "task_complete",
            Self::TurnAborted(_) => "turn_aborted",
            Self::TokenCount(_) => "token_count",
            Self::UserMessage(_) => "user_message",
            Self::AgentMessage(_) => "agent_message",
            Self::AgentReasoning(_) => "agent_reasoning",
            Self::ItemStarted(_) => "item_started",
            Self::ItemCompleted(_) => "item_completed",
            Self::Error(_) => "error",
            Self::Other { kind, .. } => kind,
        }
    }
}

/// `task_started`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct TaskStarted {
    /// The turn.
    #[serde(default, deserialize_with = "opt")]
    pub turn_id: Option<String>,
    /// The model's context window.
    #[serde(default, deserialize_with = "opt")]
    pub model_context_window: Option<u64>,
}

/// `task_complete`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct TaskComplete {
    /// The turn.
    #[serde(default, deserialize_with = "opt")]
    pub turn_id: Option<String>,
    /// The turn's last assistant message.
    #[serde(default, deserialize_with = "opt")]
    pub last_agent_message: Option<String>,
    /// How long the turn took (0.169+).
    #[serde(default, deserialize_with = "opt")]
    pub duration_ms: Option<u64>,
    /// Why the turn failed (0.169+; older releases wrote an `error` event before).
    #[serde(default, deserialize_with = "opt")]
    pub error: Option<ErrorEvent>,
}

/// `turn_aborted`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct TurnAborted {
    /// The turn.
    #[serde(default, deserialize_with = "opt")]
    pub turn_id: Option<String>,
    /// `interrupted`, `replaced`, ...
    #[serde(default, deserialize_with = "opt")]
    pub reason: Option<String>,
}

/// `token_count`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct TokenCount {
    /// Usage (absent before the first model response).
    #[serde(default, deserialize_with = "opt")]
    pub info: Option<TokenInfo>,
}

/// `token_count.info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct TokenInfo {
    /// The thread's total so far.
    #[serde(default, deserialize_with = "opt")]
    pub total_token_usage: Option<TokenUsage>,
    /// The last model call's.
    #[serde(default, deserialize_with = "opt")]
    pub last_token_usage: Option<TokenUsage>,
    /// The model's context window.
    #[serde(default, deserialize_with = "opt")]
    pub model_context_window: Option<u64>,
}

/// Token counts as a rollout records them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct TokenUsage {
    /// Input tokens.
    #[serde(default, deserialize_with = "opt")]
    pub input_tokens: Option<u64>,
    /// Input tokens from the prompt cache.
    #[serde(default, deserialize_with = "opt")]
    pub cached_input_tokens: Option<u64>,
    /// Input tokens written to the prompt cache (0.169+).
    #[serde(default, deserialize_with = "opt")]
    pub cache_write_input_tokens: Option<u64>,
    /// Output tokens.
    #[serde(default, deserialize_with = "opt")]
    pub output_tokens: Option<u64>,
    /// Reasoning output tokens.
    #[serde(default, deserialize_with = "opt")]
    pub reasoning_output_tokens: Option<u64>,
    /// Everything.
    #[serde(default, deserialize_with = "opt")]
    pub total_tokens: Option<u64>,
}

/// An event carrying a text (`user_message`, `agent_message`, `agent_reasoning`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct TextEvent {
    /// `message` (messages) or `text` (reasoning).
    #[serde(default, alias = "text", deserialize_with = "opt")]
    pub message: Option<String>,
}

/// `item_started` / `item_completed`: a turn item (`UserMessage`, `AgentMessage`, `Reasoning`,
/// `CommandExecution`, ...), kept as Codex wrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ItemEnvelope {
    /// The turn.
    #[serde(default, deserialize_with = "opt")]
    pub turn_id: Option<String>,
    /// When the item started (Unix ms; 0.163+).
    #[serde(default, deserialize_with = "opt")]
    pub started_at_ms: Option<i64>,
    /// When it completed (Unix ms; 0.163+).
    #[serde(default, deserialize_with = "opt")]
    pub completed_at_ms: Option<i64>,
    /// The item.
    #[serde(default)]
    pub item: Value,
}

impl ItemEnvelope {
    /// The item's `type` (`UserMessage`, `AgentMessage`, ...).
    pub fn item_type(&self) -> &str {
        self.item.get("type").and_then(Value::as_str).unwrap_or("")
    }

    /// The item's text parts, joined (messages), or its `text` (reasoning, plans).
    pub fn text(&self) -> String {
        match self.item.get("content") {
            Some(c) => text_parts(Some(c)),
            None => self
                .item
                .get("text")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        }
    }
}

/// `error`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[non_exhaustive]
pub struct ErrorEvent {
    /// What went wrong.
    #[serde(default, deserialize_with = "opt")]
    pub message: Option<String>,
}

/// A line that could not be read as a rollout line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct LineProblem {
    /// 1-based line number.
    pub line: u64,
    /// Byte offset of the line's start.
    pub offset: u64,
    /// Its length in bytes (without the newline).
    pub bytes: u64,
    /// What was wrong.
    pub kind: ProblemKind,
}

/// What was wrong with a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum ProblemKind {
    /// The last line has no newline and is not whole JSON: the writer stopped mid-line (a
    /// crash, or a file still being written).
    Truncated,
    /// A whole line that is not a JSON object with a `type`.
    NotJson {
        /// Its first bytes (lossy UTF-8, at most 120 characters).
        excerpt: String,
    },
    /// Longer than the reader's limit; skipped without being held in memory.
    TooLong,
}

/// Streams a rollout's lines (see the [module docs](self)).
pub struct RolloutReader<R> {
    input: R,
    path: Option<PathBuf>,
    buf: Vec<u8>,
    max_line: usize,
    offset: u64,
    line_no: u64,
    problems: Vec<LineProblem>,
    problem_count: u64,
    truncated: Option<LineProblem>,
    done: bool,
}

impl<R> std::fmt::Debug for RolloutReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RolloutReader")
            .field("path", &self.path)
            .field("offset", &self.offset)
            .field("line", &self.line_no)
            .field("problems", &self.problem_count)
            .finish()
    }
}

impl RolloutReader<BufReader<File>> {
    /// Opens a rollout file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let f =
            File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let mut r = Self::new(BufReader::with_capacity(64 * 1024, f));
        r.path = Some(path.to_path_buf());
        Ok(r)
    }
}

impl<R: BufRead> RolloutReader<R> {
    /// Reads rollout lines from any buffered input.
    pub fn new(input: R) -> Self {
        Self {
            input,
            path: None,
            buf: Vec::new(),
            max_line: DEFAULT_MAX_LINE_BYTES,
            offset: 0,
            line_no: 0,
            problems: Vec::new(),
            problem_count: 0,
            truncated: None,
            done: false,
        }
    }

    /// Lines longer than this are skipped (and reported) without being held in memory.
    pub fn max_line_bytes(mut self, n: usize) -> Self {
        self.max_line = n.max(1);
        self
    }

    /// Lines that could not be read so far (the first [`MAX_PROBLEMS`]).
    pub fn problems(&self) -> &[LineProblem] {
        &self.problems
    }

    /// How many lines could not be read so far (all of them, not only those kept).
    pub fn problem_count(&self) -> u64 {
        self.problem_count
    }

    /// The cut last line, once the reader has reached it.
    pub fn truncated(&self) -> Option<&LineProblem> {
        self.truncated.as_ref()
    }

    /// Bytes consumed so far: where a later reader of a growing file can resume.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    fn problem(&mut self, p: LineProblem) {
        self.problem_count += 1;
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        }
    }

    /// Reads one physical line into `self.buf` (without the newline), at most `max_line`
    /// bytes of it. Returns (bytes in the line, ended with a newline, fit in the limit).
    fn read_line(&mut self) -> std::io::Result<Option<(u64, bool, bool)>> {
        self.buf.clear();
        let mut len = 0u64;
        let mut fits = true;
        loop {
            let chunk = match self.input.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                return Ok((len > 0).then_some((len, false, fits)));
            }
            let (part, newline) = match memchr(chunk) {
                Some(i) => (&chunk[..i], true),
                None => (chunk, false),
            };
            let take = part.len();
            if fits && self.buf.len() + take <= self.max_line {
                self.buf.extend_from_slice(part);
            } else if fits {
                fits = false;
                self.buf.clear();
            }
            len += take as u64;
            self.input.consume(take + usize::from(newline));
            if newline {
                return Ok(Some((len, true, fits)));
            }
        }
    }
}

fn memchr(b: &[u8]) -> Option<usize> {
    memchr::memchr(b'\n', b)
}

impl<R: BufRead> Iterator for RolloutReader<R> {
    type Item = Result<RolloutLine>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            let start = self.offset;
            let (len, newline, fits) = match self.read_line() {
                Ok(Some(l)) => l,
                Ok(None) => {
                    self.done = true;
                    return None;
                }
                Err(e) => {
                    self.done = true;
                    let place = self
                        .path
                        .as_ref()
                        .map(|p| p.display().to_string())
                        .unwrap_or_else(|| "a rollout".into());
                    return Some(Err(Error::io(format!("reading {place}"), e)));
                }
            };
            self.offset += len + u64::from(newline);
            self.line_no += 1;
            let problem = |kind| LineProblem {
                line: self.line_no,
                offset: start,
                bytes: len,
                kind,
            };
            if !fits {
                let p = problem(ProblemKind::TooLong);
                self.problem(p);
                continue;
            }
            if self.buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            // Bytes, not text: a cut file may end inside a character.
            let parsed = serde_json::from_slice::<Value>(&self.buf)
                .ok()
                .and_then(RolloutLine::from_value);
            match parsed {
                Some(line) => return Some(Ok(line)),
                None if !newline => {
                    let p = problem(ProblemKind::Truncated);
                    self.truncated = Some(p.clone());
                    self.problem(p);
                }
                None => {
                    let excerpt: String =
                        String::from_utf8_lossy(&self.buf[..self.buf.len().min(480)])
                            .chars()
                            .take(120)
                            .collect();
                    let p = problem(ProblemKind::NotJson { excerpt });
                    self.problem(p);
                }
            }
        }
        None
    }
}

/// Reads a whole rollout into memory (small files; stream big ones with [`RolloutReader`]).
/// Unreadable lines are skipped; use the reader to see them.
pub fn read(path: &Path) -> Result<Vec<RolloutLine>> {
    RolloutReader::open(path)?.collect()
}

#[cfg(test)]
mod tests;
