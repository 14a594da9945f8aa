//! Typed events of `codex exec --json`, decoded tolerantly.
//!
//! The wire format is one JSON object per line, tagged by `type` (`thread.started`,
//! `item.completed`, ...). These types copy Codex's tags and field names exactly, so
//! serializing an event gives back Codex's own wire format.
//!
//! Forward compatibility is built in:
//! - every enum is `#[non_exhaustive]` and has an `Unknown` variant that keeps the raw JSON;
//! - every struct keeps fields it does not know in `extra`;
//! - the `web_search` item, whose line repeats the `id` key, parses (the first `id` is the
//!   item id, the second the search call id);
//! - a known event or item whose payload changed shape (a field missing, renamed or of another
//!   type) is still that event: the fields that fit are decoded, the others keep their
//!   default and are kept as sent in `extra` (so a `turn.completed` ends the turn whatever its
//!   usage looks like);
//! - a line that is not JSON becomes a [`Diagnostic`], never an error.
//!
//! ```
//! use codex_driver::events::{parse_line, Line, ThreadEvent, ItemDetails};
//!
//! let line = r#"{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"hi"}}"#;
//! let Line::Event(ThreadEvent::ItemCompleted(done)) = parse_line(line) else { unreachable!() };
//! assert_eq!(done.item.id, "item_1");
//! assert!(matches!(&done.item.details, ItemDetails::AgentMessage(m) if m.text == "hi"));
//! ```

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Fields a newer Codex sent that this version of the library has no name for.
pub type Extra = Map<String, Value>;

/// One event of the `codex exec --json` stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[non_exhaustive]
pub enum ThreadEvent {
    /// `thread.started`: the first event; carries the thread (session) id.
    #[serde(rename = "thread.started")]
    ThreadStarted(ThreadStarted),
    /// `turn.started`.
    #[serde(rename = "turn.started")]
    TurnStarted(TurnStarted),
    /// `turn.completed`: the turn succeeded; carries the token usage.
    #[serde(rename = "turn.completed")]
    TurnCompleted(TurnCompleted),
    /// `turn.failed`: the turn failed; carries Codex's error message.
    #[serde(rename = "turn.failed")]
    TurnFailed(TurnFailed),
    /// `item.started`.
    #[serde(rename = "item.started")]
    ItemStarted(ItemEvent),
    /// `item.updated`.
    #[serde(rename = "item.updated")]
    ItemUpdated(ItemEvent),
    /// `item.completed`.
    #[serde(rename = "item.completed")]
    ItemCompleted(ItemEvent),
    /// `error`: a fatal stream error (precedes `turn.failed`).
    #[serde(rename = "error")]
    Error(StreamError),
    /// An event of a type this library does not know, kept whole. (A known type whose payload
    /// changed shape is still decoded as that type; see the [module docs](self).)
    #[serde(untagged)]
    Unknown(Value),
}

impl ThreadEvent {
    /// The wire `type` tag of this event (for unknown events, whatever they carried).
    pub fn type_name(&self) -> &str {
        match self {
            Self::ThreadStarted(_) => "thread.started",
            Self::TurnStarted(_) => "turn.started",
            Self::TurnCompleted(_) => "turn.completed",
            Self::TurnFailed(_) => "turn.failed",
            Self::ItemStarted(_) => "item.started",
            Self::ItemUpdated(_) => "item.updated",
            Self::ItemCompleted(_) => "item.completed",
            Self::Error(_) => "error",
            Self::Unknown(v) => v.get("type").and_then(Value::as_str).unwrap_or(""),
        }
    }

    /// The item carried by `item.*` events.
    pub fn item(&self) -> Option<&ThreadItem> {
        match self {
            Self::ItemStarted(e) | Self::ItemUpdated(e) | Self::ItemCompleted(e) => Some(&e.item),
            _ => None,
        }
    }

    /// True for the events that end a turn (`turn.completed`, `turn.failed`).
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::TurnCompleted(_) | Self::TurnFailed(_))
    }

    /// The event as one line of Codex's wire format (no trailing newline).
    pub fn to_json_line(&self) -> String {
        // Serializing these types cannot fail: every key is a string and every value is JSON.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// `thread.started`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ThreadStarted {
    /// The thread id (a UUID v7); pass it to `exec resume`.
    pub thread_id: String,
    /// Fields unknown to this version.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `turn.started`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TurnStarted {
    /// Fields unknown to this version.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `turn.completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TurnCompleted {
    /// Tokens used, summed over every model call of the turn.
    pub usage: Usage,
    /// Fields unknown to this version.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `turn.failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TurnFailed {
    /// Why the turn failed.
    pub error: ThreadError,
    /// Fields unknown to this version.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The error object of `turn.failed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ThreadError {
    /// Codex's message.
    pub message: String,
    /// Fields unknown to this version.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Top-level `error` event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StreamError {
    /// Codex's message.
    pub message: String,
    /// Fields unknown to this version.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Token usage of a turn. Fields added by later Codex releases are `None` when the binary
/// doesn't report them (so the line serializes back exactly as received).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Usage {
    /// Input tokens.
    pub input_tokens: u64,
    /// Input tokens served from the prompt cache.
    #[serde(default)]
    pub cached_input_tokens: u64,
    /// Input tokens written to the prompt cache (reported since 0.169.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_input_tokens: Option<u64>,
    /// Output tokens.
    pub output_tokens: u64,
    /// Output tokens spent on reasoning (reported since 0.130.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_output_tokens: Option<u64>,
}

impl Usage {
    /// Adds another turn's usage to this one.
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens += other.input_tokens;
        self.cached_input_tokens += other.cached_input_tokens;
        self.cache_write_input_tokens = add_opt(
            self.cache_write_input_tokens,
            other.cache_write_input_tokens,
        );
        self.output_tokens += other.output_tokens;
        self.reasoning_output_tokens =
            add_opt(self.reasoning_output_tokens, other.reasoning_output_tokens);
    }

    /// `self - earlier`, field by field (saturating): per-turn usage from two cumulative reports.
    pub fn since(&self, earlier: &Usage) -> Usage {
        let opt = |a: Option<u64>, b: Option<u64>| a.map(|a| a.saturating_sub(b.unwrap_or(0)));
        Usage {
            input_tokens: self.input_tokens.saturating_sub(earlier.input_tokens),
            cached_input_tokens: self
                .cached_input_tokens
                .saturating_sub(earlier.cached_input_tokens),
            cache_write_input_tokens: opt(
                self.cache_write_input_tokens,
                earlier.cache_write_input_tokens,
            ),
            output_tokens: self.output_tokens.saturating_sub(earlier.output_tokens),
            reasoning_output_tokens: opt(
                self.reasoning_output_tokens,
                earlier.reasoning_output_tokens,
            ),
        }
    }

    /// Input plus output tokens.
    pub fn total(&self) -> u64 {
        self.input_tokens + self.output_tokens
    }
}

fn add_opt(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    }
}

/// Payload of `item.started`, `item.updated` and `item.completed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ItemEvent {
    /// The item in its current state.
    pub item: ThreadItem,
    /// Fields unknown to this version.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A unit of work in a turn: a message, a command, a file change, ...
///
/// Serializes as Codex does: `{"id":…,"type":…,<details>}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ThreadItem {
    /// Item id (`item_N`), stable between `item.started` and `item.completed`.
    pub id: String,
    /// What the item is.
    #[serde(flatten)]
    pub details: ItemDetails,
}

impl ThreadItem {
    /// Builds an item (mostly useful in tests).
    pub fn new(id: impl Into<String>, details: ItemDetails) -> Self {
        Self {
            id: id.into(),
            details,
        }
    }
}

impl<'de> Deserialize<'de> for ThreadItem {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ItemVisitor;
        impl<'de> Visitor<'de> for ItemVisitor {
            type Value = ThreadItem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a thread item object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ThreadItem, A::Error> {
                // Codex flattens the details into the item object, and `web_search` details have
                // an `id` of their own, so the line carries `id` twice: the first is the item's.
                let mut id: Option<String> = None;
                let mut rest = Map::new();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "id" && id.is_none() {
                        let v: Value = map.next_value()?;
                        id = Some(match v {
                            Value::String(s) => s,
                            other => other.to_string(),
                        });
                    } else {
                        let v: Value = map.next_value()?;
                        rest.insert(key, v);
                    }
                }
                let id = id.ok_or_else(|| de::Error::missing_field("id"))?;
                let details =
                    ItemDetails::deserialize(Value::Object(rest)).map_err(de::Error::custom)?;
                Ok(ThreadItem { id, details })
            }
        }
        deserializer.deserialize_map(ItemVisitor)
    }
}

/// The kind-specific part of a [`ThreadItem`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ItemDetails {
    /// The assistant's message (JSON text when an output schema was given).
    AgentMessage(AgentMessageItem),
    /// A reasoning summary.
    Reasoning(ReasoningItem),
    /// A shell command.
    CommandExecution(CommandExecutionItem),
    /// A patch applied to files.
    FileChange(FileChangeItem),
    /// A call to a tool of an MCP server.
    McpToolCall(McpToolCallItem),
    /// A web search.
    WebSearch(WebSearchItem),
    /// The agent's plan.
    TodoList(TodoListItem),
    /// A multi-agent collaboration call.
    CollabToolCall(CollabToolCallItem),
    /// A non-fatal error or warning.
    Error(ErrorItem),
    /// An item type this library does not know, kept whole (including its `type`).
    #[serde(untagged)]
    Unknown(Value),
}

impl ItemDetails {
    /// The wire `type` tag of this item.
    pub fn type_name(&self) -> &str {
        match self {
            Self::AgentMessage(_) => "agent_message",
            Self::Reasoning(_) => "reasoning",
            Self::CommandExecution(_) => "command_execution",
            Self::FileChange(_) => "file_change",
            Self::McpToolCall(_) => "mcp_tool_call",
            Self::WebSearch(_) => "web_search",
            Self::TodoList(_) => "todo_list",
            Self::CollabToolCall(_) => "collab_tool_call",
            Self::Error(_) => "error",
            Self::Unknown(v) => v.get("type").and_then(Value::as_str).unwrap_or(""),
        }
    }
}

/// `agent_message`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AgentMessageItem {
    /// The message text.
    pub text: String,
    /// Fields unknown to this version.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `reasoning`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReasoningItem {
    /// The reasoning summary text.
    pub text: String,
    /// Fields unknown to this version.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `command_execution`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CommandExecutionItem {
    /// The command line as Codex ran it (e.g. `/bin/bash -lc '…'`).
    pub command: String,
    /// Combined stdout and stderr.
    #[serde(default)]
    pub aggregated_output: String,
    /// Exit code; `None` while running (0.50.0 omitted the field).
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Status.
    pub status: CommandExecutionStatus,
    /// Fields unknown to this version.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Status of a `command_execution` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CommandExecutionStatus {
    /// Running.
    InProgress,
    /// Exited 0.
    Completed,
    /// Exited non-zero or could not run.
    Failed,
    /// Refused by approval policy.
    Declined,
    /// A status this library does not know.
    #[serde(untagged)]
    Unknown(String),
}

/// `file_change`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileChangeItem {
    /// The files touched.
    pub changes: Vec<FileUpdateChange>,
    /// Status.
    pub status: PatchApplyStatus,
    /// Fields unknown to this version.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One file of a `file_change` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileUpdateChange {
    /// Absolute path.
    pub path: String,
    /// What happened to it.
    pub kind: PatchChangeKind,
    /// Fields unknown to this version.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Kind of a file change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PatchChangeKind {
    /// Created.
    Add,
    /// Removed.
    Delete,
    /// Modified.
    Update,
    /// A kind this library does not know.
    #[serde(untagged)]
    Unknown(String),
}

/// Status of a `file_change` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PatchApplyStatus {
    /// Being applied.
    InProgress,
    /// Applied.
    Completed,
    /// Not applied.
    Failed,
    /// A status this library does not know.
    #[serde(untagged)]
    Unknown(String),
}

/// `mcp_tool_call`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct McpToolCallItem {
    /// MCP server name.
    pub server: String,
    /// Tool name.
    pub tool: String,
    /// Arguments as sent.
    #[serde(default)]
    pub arguments: Value,
    /// The tool's result (`{content, structured_content}`) once completed.
    #[serde(default)]
    pub result: Option<Value>,
    /// The error, if the call failed.
    #[serde(default)]
    pub error: Option<McpToolCallError>,
    /// Status.
    pub status: McpToolCallStatus,
    /// Fields unknown to this version.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Error of an `mcp_tool_call` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct McpToolCallError {
    /// Message.
    pub message: String,
    /// Fields unknown to this version.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Status of an `mcp_tool_call` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum McpToolCallStatus {
    /// Running.
    InProgress,
    /// Succeeded.
    Completed,
    /// Failed.
    Failed,
    /// A status this library does not know.
    #[serde(untagged)]
    Unknown(String),
}

/// `web_search`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WebSearchItem {
    /// The search call id (the line's second `id` key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The query.
    #[serde(default)]
    pub query: String,
    /// The action (`{"type":"search","query":…}` and others), as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Value>,
    /// Fields unknown to this version.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `todo_list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TodoListItem {
    /// The plan's steps.
    pub items: Vec<TodoItem>,
    /// Fields unknown to this version.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One step of a `todo_list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TodoItem {
    /// Step text.
    pub text: String,
    /// Whether it is done.
    pub completed: bool,
    /// Fields unknown to this version.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `collab_tool_call` (multi-agent tools).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CollabToolCallItem {
    /// `spawn_agent`, `send_input`, `wait`, `close_agent`, ...
    pub tool: String,
    /// Thread that made the call.
    #[serde(default)]
    pub sender_thread_id: Option<String>,
    /// Threads addressed.
    #[serde(default)]
    pub receiver_thread_ids: Vec<String>,
    /// Prompt sent, if any.
    #[serde(default)]
    pub prompt: Option<String>,
    /// State of each agent, by id, as sent.
    #[serde(default)]
    pub agents_states: Map<String, Value>,
    /// Status (`in_progress`, `completed`, `failed`, ...).
    #[serde(default)]
    pub status: Option<String>,
    /// Fields unknown to this version.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `error` item: a non-fatal error or warning (e.g. unknown model metadata).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ErrorItem {
    /// Message.
    pub message: String,
    /// Fields unknown to this version.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Something on stdout that is not an event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Diagnostic {
    /// A line that is not JSON (kept, cut to [`DIAGNOSTIC_KEEP`] bytes).
    NotJson {
        /// 1-based line number on stdout.
        line_number: u64,
        /// The line (possibly cut).
        text: String,
        /// The parser's message.
        error: String,
    },
    /// A line longer than the reader's limit; it was skipped.
    TooLong {
        /// 1-based line number on stdout.
        line_number: u64,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// Copying stdout to the [`tee_jsonl`](crate::Exec::tee_jsonl) file failed (a full disk, a
    /// size limit, an I/O error): the file holds the lines before `line_number`, the tee stopped
    /// there, and the run went on. Reported once.
    TeeFailed {
        /// The first line that could not be copied (1-based).
        line_number: u64,
        /// The tee file.
        path: std::path::PathBuf,
        /// The write error.
        error: String,
    },
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotJson {
                line_number,
                text,
                error,
            } => write!(f, "stdout line {line_number} is not JSON ({error}): {text}"),
            Self::TooLong {
                line_number,
                len,
                limit,
            } => write!(
                f,
                "stdout line {line_number} is {len} bytes, over the {limit}-byte limit; skipped"
            ),
            Self::TeeFailed {
                line_number,
                path,
                error,
            } => write!(
                f,
                "copying stdout to {} failed at line {line_number} ({error}); the copy stops there",
                path.display()
            ),
        }
    }
}

/// How much of a non-JSON line a [`Diagnostic`] keeps.
pub use crate::limits::DIAGNOSTIC_KEEP;
use crate::limits::cut;

/// One decoded stdout line.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // transient; events are the common case
pub enum Line {
    /// An event (known or [`ThreadEvent::Unknown`]).
    Event(ThreadEvent),
    /// Not an event.
    Diagnostic(Diagnostic),
    /// A blank line.
    Blank,
}

/// Decodes one line of `codex exec --json` output. Never fails.
pub fn parse_line(line: &str) -> Line {
    parse_numbered_line(line, 0)
}

pub(crate) fn parse_numbered_line(line: &str, line_number: u64) -> Line {
    let trimmed = line.trim_end_matches(['\n', '\r']);
    if trimmed.trim().is_empty() {
        return Line::Blank;
    }
    if let Some(ev) = fast::decode(trimmed) {
        return Line::Event(ev);
    }
    reference_decode(trimmed, line_number)
}

/// The fast path's verdict and the reference decoders' on one line (for the property test
/// that holds them equal).
#[cfg(test)]
pub(crate) fn decode_both(line: &str) -> (Option<ThreadEvent>, Line) {
    (fast::decode(line), reference_decode(line, 0))
}

/// The derived decoders, then field-by-field repair: every line the fast path declines.
fn reference_decode(trimmed: &str, line_number: u64) -> Line {
    match serde_json::from_str::<ThreadEvent>(trimmed) {
        Ok(ThreadEvent::Unknown(v)) => {
            Line::Event(repair::repair(&v).unwrap_or(ThreadEvent::Unknown(v)))
        }
        // A known item type whose fields didn't fit fell back to `ItemDetails::Unknown`.
        Ok(ev) if repair::lost_a_known_item(&ev) => {
            let fixed = serde_json::from_str::<Value>(trimmed)
                .ok()
                .and_then(|v| repair::repair(&v));
            Line::Event(fixed.unwrap_or(ev))
        }
        Ok(ev) => Line::Event(ev),
        // Valid JSON that is not an object, or an object whose known-tag payload failed:
        // a known type is decoded field by field (see `repair`), anything else kept whole.
        Err(err) => match serde_json::from_str::<Value>(trimmed) {
            Ok(v) => Line::Event(repair::repair(&v).unwrap_or(ThreadEvent::Unknown(v))),
            Err(_) => Line::Diagnostic(Diagnostic::NotJson {
                line_number,
                text: cut(trimmed, DIAGNOSTIC_KEEP),
                error: err.to_string(),
            }),
        },
    }
}

/// Decodes a whole JSONL text (e.g. a saved `--json` run) into events and diagnostics.
pub fn parse_jsonl(text: &str) -> (Vec<ThreadEvent>, Vec<Diagnostic>) {
    let mut events = Vec::new();
    let mut diags = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match parse_numbered_line(line, i as u64 + 1) {
            Line::Event(e) => events.push(e),
            Line::Diagnostic(d) => diags.push(d),
            Line::Blank => {}
        }
    }
    (events, diags)
}

mod fast;
mod repair;
#[cfg(test)]
mod tests;
