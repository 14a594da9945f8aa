//! Replaying a saved rollout as the [`ThreadEvent`]s that `codex exec --json` printed live.
//!
//! Each turn of the rollout comes out as the run that made it printed it: `thread.started`,
//! `turn.started`, the items (numbered from `item_0` in each turn, `item.started` before
//! `item.completed` for commands, file changes, web searches and MCP calls, in the order of
//! the start and end times Codex recorded, so overlapping commands interleave as they did),
//! then `turn.completed` with the usage exec reported (the thread's total so far, as a resumed
//! exec reports it) or `error` + `turn.failed`. A turn that was interrupted or cut off by a
//! crash ends without a terminal event, as the live stream did. A turn's items come out when
//! the turn ends (its times are known only then): memory grows with one turn, not the file.
//!
//! Fidelity: rollouts written by Codex 0.163 and later keep every completed item, so their
//! replay equals the live stream item for item. Warnings exec printed before the turn (an
//! `error` item such as unknown model metadata) are not saved and can't be replayed. Older
//! rollouts (0.130) don't keep command results as items; their commands are rebuilt from the
//! model's tool call and its output: the command is the one the model asked for (not wrapped in
//! the shell), and the output is what the model was shown; and a failed turn was saved as a
//! completed one (no error in the file), so it replays as `turn.completed` with no usage.
//!
//! ```no_run
//! # fn demo() -> codex_driver::Result<()> {
//! use codex_driver::sessions::replay::Replay;
//!
//! let mut replay = Replay::open("/home/me/.codex/sessions/2026/12/01/rollout-….jsonl")?;
//! for event in replay.by_ref() {
//!     println!("{}", event?.to_json_line());
//! }
//! if let Some(cut) = replay.truncated() {
//!     eprintln!("the rollout ends in half a line at byte {}", cut.offset);
//! }
//! # Ok(()) }
//! ```

use super::rollout::{
    EventMsg, ItemEnvelope, LineProblem, ResponseItem, RolloutItem, RolloutLine, RolloutReader,
    TokenUsage,
};
use crate::error::Result;
use crate::events::{
    AgentMessageItem, CommandExecutionItem, CommandExecutionStatus, ErrorItem, Extra,
    FileChangeItem, FileUpdateChange, ItemDetails, ItemEvent, McpToolCallError, McpToolCallItem,
    McpToolCallStatus, PatchApplyStatus, PatchChangeKind, ReasoningItem, StreamError, ThreadError,
    ThreadEvent, ThreadItem, ThreadStarted, TurnCompleted, TurnFailed, TurnStarted, Usage,
    WebSearchItem,
};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// Streams a rollout's turns as exec events (see the [module docs](self)).
#[derive(Debug)]
pub struct Replay<R> {
    reader: RolloutReader<R>,
    out: VecDeque<ThreadEvent>,
    thread_id: Option<String>,
    turn: Option<Turn>,
}

/// The state of the turn being replayed.
#[derive(Debug, Default)]
struct Turn {
    next_item: u64,
    /// The turn's items and their start and end times, emitted in time order when the turn
    /// ends (the rollout has them in completion order; parallel commands overlap).
    items: Vec<Pending>,
    /// Codex's item id → its index in `items`, for items whose start the rollout holds.
    started: HashMap<String, usize>,
    /// Lines seen: the tie-breaker after the times.
    seq: u64,
    usage: Option<TokenUsage>,
    error: Option<String>,
    /// Whether this turn's items come as `item_completed` events (0.163+) or as the legacy
    /// events and tool calls (0.130).
    legacy: Option<bool>,
    /// Legacy: shell calls waiting for their output.
    calls: HashMap<String, String>,
}

/// An item of the turn being replayed.
#[derive(Debug)]
struct Pending {
    details: ItemDetails,
    /// When it started (exec prints a start for commands, file changes, searches, MCP calls).
    start: Option<(i64, u64)>,
    /// When it completed (`None`: not yet).
    end: Option<(i64, u64)>,
}

impl Replay<BufReader<File>> {
    /// Replays the rollout at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Ok(Self::new(RolloutReader::open(path)?))
    }
}

impl<R: BufRead> Replay<R> {
    /// Replays what `reader` reads.
    pub fn new(reader: RolloutReader<R>) -> Self {
        Self {
            reader,
            out: VecDeque::new(),
            thread_id: None,
            turn: None,
        }
    }

    /// The thread, once its `session_meta` was read.
    pub fn thread_id(&self) -> Option<&str> {
        self.thread_id.as_deref()
    }

    /// Where the rollout was cut, once the replay reached it (see
    /// [`RolloutReader::truncated`]).
    pub fn truncated(&self) -> Option<&LineProblem> {
        self.reader.truncated()
    }

    /// Lines of the rollout that could not be read.
    pub fn problems(&self) -> &[LineProblem] {
        self.reader.problems()
    }

    /// A completed item at time `at` (ms), started at `started` (for items exec prints a start
    /// for), or completing one whose start the rollout held (`codex_id`).
    fn item(
        &mut self,
        codex_id: Option<&str>,
        details: ItemDetails,
        start: bool,
        started: Option<i64>,
        at: i64,
    ) {
        let Some(turn) = self.turn.as_mut() else {
            return;
        };
        turn.seq += 1;
        let seq = turn.seq;
        if let Some(i) = codex_id.and_then(|c| turn.started.remove(c)) {
            if let Some(p) = turn.items.get_mut(i) {
                p.details = details;
                p.end = Some((at, seq));
            }
            return;
        }
        turn.items.push(Pending {
            details,
            start: start.then(|| (started.unwrap_or(at), seq)),
            end: Some((at, seq)),
        });
    }

    fn item_started(&mut self, env: &ItemEnvelope, at: i64) {
        let Some((details, _)) = modern_item(&env.item) else {
            return;
        };
        let Some(turn) = self.turn.as_mut() else {
            return;
        };
        turn.seq += 1;
        let seq = turn.seq;
        if let Some(codex_id) = env.item.get("id").and_then(Value::as_str) {
            turn.started.insert(codex_id.to_owned(), turn.items.len());
        }
        turn.items.push(Pending {
            details,
            start: Some((env.started_at_ms.unwrap_or(at), seq)),
            end: None,
        });
    }

    /// Emits the turn's items in the order exec printed them: starts and completions by time,
    /// ids numbered as exec numbers them (at the start for items with one, else at the end).
    fn flush(&mut self, turn: &mut Turn) {
        enum Step {
            Start(usize),
            End(usize),
        }
        let mut steps: Vec<((i64, u64), Step)> = Vec::new();
        for (i, p) in turn.items.iter().enumerate() {
            if let Some(t) = p.start {
                steps.push((t, Step::Start(i)));
            }
            if let Some(t) = p.end {
                steps.push((t, Step::End(i)));
            }
        }
        // A start before its own end when both have the same time.
        steps.sort_by_key(|(t, s)| (*t, matches!(s, Step::End(_))));
        let mut ids: Vec<Option<String>> = vec![None; turn.items.len()];
        for (_, step) in steps {
            let (i, is_start) = match step {
                Step::Start(i) => (i, true),
                Step::End(i) => (i, false),
            };
            let id = ids[i].get_or_insert_with(|| {
                let id = format!("item_{}", turn.next_item);
                turn.next_item += 1;
                id
            });
            let d = &turn.items[i].details;
            self.out.push_back(if is_start {
                ThreadEvent::ItemStarted(item_event(id, in_progress(d)))
            } else {
                ThreadEvent::ItemCompleted(item_event(id, d.clone()))
            });
        }
        turn.items.clear();
        turn.started.clear();
    }

    /// Ends the open turn, if any: its items, then (when it ended) its terminal event.
    fn end_turn(&mut self, error: Option<Option<String>>) {
        let Some(mut turn) = self.turn.take() else {
            return;
        };
        self.flush(&mut turn);
        if let Some(error) = error {
            self.finish(turn, error);
        }
    }

    fn on_line(&mut self, line: RolloutLine) {
        let at = line
            .timestamp
            .as_deref()
            .and_then(super::time::rfc3339_ms)
            .unwrap_or(0);
        match line.item {
            // The first one is the thread's; a fork repeats its parent's afterwards.
            RolloutItem::SessionMeta(m) if self.thread_id.is_none() => self.thread_id = m.id,
            RolloutItem::EventMsg(ev) => self.on_event(ev, at),
            RolloutItem::ResponseItem(ri) => self.on_response_item(ri, at),
            _ => {}
        }
    }

    fn legacy(&mut self, yes: bool) -> bool {
        match self.turn.as_mut() {
            Some(t) => *t.legacy.get_or_insert(yes),
            None => false,
        }
    }

    fn on_event(&mut self, ev: EventMsg, at: i64) {
        match ev {
            EventMsg::TaskStarted(_) => {
                // A turn left open (a crash, then a resume): what it did, without an end.
                self.end_turn(None);
                if let Some(id) = &self.thread_id {
                    self.out
                        .push_back(ThreadEvent::ThreadStarted(ThreadStarted {
                            thread_id: id.clone(),
                            extra: Extra::new(),
                        }));
                }
                self.out
                    .push_back(ThreadEvent::TurnStarted(TurnStarted::default()));
                self.turn = Some(Turn::default());
            }
            EventMsg::TokenCount(t) => {
                if let (Some(turn), Some(total)) =
                    (self.turn.as_mut(), t.info.and_then(|i| i.total_token_usage))
                {
                    turn.usage = Some(total);
                }
            }
            EventMsg::Error(e) => {
                if let Some(turn) = self.turn.as_mut() {
                    turn.error = e.message;
                }
            }
            EventMsg::TaskComplete(done) => {
                self.end_turn(Some(done.error.and_then(|e| e.message)));
            }
            EventMsg::Other { kind, payload } => self.on_other_event(&kind, &payload, at),
            // Interrupted: what it did, then nothing (exec printed no end).
            EventMsg::TurnAborted(_) => self.end_turn(None),
            EventMsg::ItemStarted(env) => {
                if !self.legacy(false) {
                    self.item_started(&env, at);
                }
            }
            EventMsg::ItemCompleted(env) => {
                if env.item_type() == "UserMessage" {
                    self.legacy(false);
                    return;
                }
                if self.legacy(false) {
                    return;
                }
                if let Some((details, start)) = modern_item(&env.item) {
                    let codex_id = env
                        .item
                        .get("id")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    let end = env.completed_at_ms.unwrap_or(at);
                    self.item(codex_id.as_deref(), details, start, env.started_at_ms, end);
                }
            }
            EventMsg::UserMessage(_) => {
                self.legacy(true);
            }
            EventMsg::AgentMessage(m) => {
                if self.legacy(true) {
                    let text = m.message.unwrap_or_default();
                    self.item(None, agent_message(text), false, None, at);
                }
            }
            EventMsg::AgentReasoning(m) => {
                if self.legacy(true) {
                    let text = m.message.unwrap_or_default();
                    if !text.is_empty() {
                        self.item(None, reasoning(text), false, None, at);
                    }
                }
            }
        }
    }

    /// Events without a typed variant: a `task_complete` whose shape changed (still the
    /// turn's end), and the legacy item events.
    fn on_other_event(&mut self, kind: &str, payload: &Value, at: i64) {
        if kind == "task_complete" {
            let error = payload
                .get("error")
                .and_then(|e| e.get("message"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            self.end_turn(Some(error));
            return;
        }
        if self.turn.as_ref().is_none_or(|t| t.legacy != Some(true)) {
            return;
        }
        let call_id = payload
            .get("call_id")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let details = match kind {
            "patch_apply_end" => Some(file_change(payload)),
            "web_search_end" => Some(web_search(call_id.clone(), payload)),
            "exec_command_end" => Some(legacy_command_end(payload)),
            "mcp_tool_call_end" => Some(legacy_mcp_end(payload)),
            _ => None,
        };
        if let Some(d) = details {
            // The call's result came as its own event: not a shell call to rebuild.
            if let (Some(turn), Some(c)) = (self.turn.as_mut(), &call_id) {
                turn.calls.remove(c);
            }
            self.item(None, d, true, None, at);
        }
    }

    fn finish(&mut self, turn: Turn, error: Option<String>) {
        let error = turn.error.or(error);
        match error {
            Some(message) => {
                self.out.push_back(ThreadEvent::Error(StreamError {
                    message: message.clone(),
                    extra: Extra::new(),
                }));
                self.out.push_back(ThreadEvent::TurnFailed(TurnFailed {
                    error: ThreadError {
                        message,
                        extra: Extra::new(),
                    },
                    extra: Extra::new(),
                }));
            }
            None => self
                .out
                .push_back(ThreadEvent::TurnCompleted(TurnCompleted {
                    usage: usage(turn.usage.unwrap_or_default()),
                    extra: Extra::new(),
                })),
        }
    }

    fn on_response_item(&mut self, ri: ResponseItem, at: i64) {
        if self.turn.as_ref().is_none_or(|t| t.legacy != Some(true)) {
            return;
        }
        match ri {
            ResponseItem::FunctionCall {
                name,
                arguments,
                call_id,
                namespace: None,
            } if matches!(name.as_str(), "exec_command" | "shell" | "local_shell") => {
                let args: Value = serde_json::from_str(&arguments).unwrap_or(Value::Null);
                let cmd = match args.get("cmd").or_else(|| args.get("command")) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Array(a)) => join_command(a),
                    _ => return,
                };
                // Patches run through the shell tool are reported as file changes.
                if cmd.trim_start().starts_with("apply_patch") {
                    return;
                }
                if let Some(t) = self.turn.as_mut() {
                    t.calls.insert(call_id, cmd);
                }
            }
            ResponseItem::FunctionCallOutput { call_id, output } => {
                let Some(cmd) = self.turn.as_mut().and_then(|t| t.calls.remove(&call_id)) else {
                    return;
                };
                let text = match &output {
                    Value::String(s) => s.clone(),
                    other => other
                        .get("content")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .unwrap_or_else(|| other.to_string()),
                };
                self.item(None, legacy_command_output(cmd, &text), true, None, at);
            }
            _ => {}
        }
    }
}

impl<R: BufRead> Iterator for Replay<R> {
    type Item = Result<ThreadEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(ev) = self.out.pop_front() {
                return Some(Ok(ev));
            }
            match self.reader.next() {
                Some(Ok(line)) => self.on_line(line),
                Some(Err(e)) => return Some(Err(e)),
                // The end (or a cut): a turn still open shows what it did, without an end.
                None if self.turn.is_some() => self.end_turn(None),
                None => return None,
            }
        }
    }
}

/// The whole replay of the rollout at `path`, in memory.
pub fn replay(path: &Path) -> Result<Vec<ThreadEvent>> {
    Replay::open(path)?.collect()
}

fn item_event(id: &str, details: ItemDetails) -> ItemEvent {
    ItemEvent {
        item: ThreadItem::new(id, details),
        extra: Extra::new(),
    }
}

fn agent_message(text: String) -> ItemDetails {
    ItemDetails::AgentMessage(AgentMessageItem {
        text,
        extra: Extra::new(),
    })
}

fn reasoning(text: String) -> ItemDetails {
    ItemDetails::Reasoning(ReasoningItem {
        text,
        extra: Extra::new(),
    })
}

/// What exec showed when the item started: the same item, running, with no result yet.
fn in_progress(d: &ItemDetails) -> ItemDetails {
    let mut d = d.clone();
    match &mut d {
        ItemDetails::CommandExecution(c) => {
            c.aggregated_output.clear();
            c.exit_code = None;
            c.status = CommandExecutionStatus::InProgress;
        }
        ItemDetails::FileChange(f) => f.status = PatchApplyStatus::InProgress,
        ItemDetails::McpToolCall(m) => {
            m.result = None;
            m.error = None;
            m.status = McpToolCallStatus::InProgress;
        }
        _ => {}
    }
    d
}

/// exec's command line: the argv joined with shell quoting, as Codex joins it.
fn join_command(argv: &[Value]) -> String {
    let words: Vec<&str> = argv.iter().filter_map(Value::as_str).collect();
    shlex::try_join(words.iter().copied()).unwrap_or_else(|_| words.join(" "))
}

/// A 0.163+ `item_completed` item as exec reports it, and whether exec printed a start for it.
/// `None` for items exec doesn't print (the user's message, unknown types).
fn modern_item(item: &Value) -> Option<(ItemDetails, bool)> {
    let s = |k: &str| item.get(k).and_then(Value::as_str).map(str::to_owned);
    let kind = item.get("type").and_then(Value::as_str)?;
    Some(match kind {
        "AgentMessage" => (
            agent_message(super::rollout::text_parts(item.get("content"))),
            false,
        ),
        "Reasoning" => {
            let parts: Vec<&str> = item
                .get("summary_text")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            // exec prints no item for an empty summary (and spends no id on it).
            let text = parts.join("\n");
            if text.is_empty() {
                return None;
            }
            (reasoning(text), false)
        }
        "CommandExecution" => {
            let command = match item.get("command") {
                Some(Value::Array(a)) => join_command(a),
                Some(Value::String(c)) => c.clone(),
                _ => String::new(),
            };
            let status = match s("status").as_deref() {
                Some("completed") => CommandExecutionStatus::Completed,
                Some("failed") => CommandExecutionStatus::Failed,
                Some("declined") => CommandExecutionStatus::Declined,
                Some("in_progress" | "inProgress") => CommandExecutionStatus::InProgress,
                Some(other) => CommandExecutionStatus::Unknown(other.to_owned()),
                None => CommandExecutionStatus::Completed,
            };
            let exit_code = item
                .get("exit_code")
                .and_then(Value::as_i64)
                .and_then(|c| i32::try_from(c).ok());
            (
                ItemDetails::CommandExecution(CommandExecutionItem {
                    command,
                    aggregated_output: s("aggregated_output").unwrap_or_default(),
                    exit_code,
                    status,
                    extra: Extra::new(),
                }),
                true,
            )
        }
        "FileChange" => (file_change(item), true),
        "WebSearch" => (web_search(s("id"), item), true),
        "McpToolCall" => (legacy_mcp_end(item), true),
        "Error" => (
            ItemDetails::Error(ErrorItem {
                message: s("message").unwrap_or_default(),
                extra: Extra::new(),
            }),
            false,
        ),
        _ => return None,
    })
}

/// `changes: {path: {type: add|delete|update, ...}}`.
fn file_change(v: &Value) -> ItemDetails {
    let mut changes: Vec<FileUpdateChange> = v
        .get("changes")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(path, c)| FileUpdateChange {
            path: path.clone(),
            kind: match c.get("type").and_then(Value::as_str) {
                Some("add") => PatchChangeKind::Add,
                Some("delete") => PatchChangeKind::Delete,
                Some("update") => PatchChangeKind::Update,
                other => PatchChangeKind::Unknown(other.unwrap_or_default().to_owned()),
            },
            extra: Extra::new(),
        })
        .collect();
    // exec lists them by path.
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    let ok = match v.get("status").and_then(Value::as_str) {
        Some(s) => s == "completed",
        None => v.get("success").and_then(Value::as_bool).unwrap_or(true),
    };
    ItemDetails::FileChange(FileChangeItem {
        changes,
        status: if ok {
            PatchApplyStatus::Completed
        } else {
            PatchApplyStatus::Failed
        },
        extra: Extra::new(),
    })
}

fn web_search(id: Option<String>, v: &Value) -> ItemDetails {
    ItemDetails::WebSearch(WebSearchItem {
        id,
        query: v
            .get("query")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        action: v.get("action").cloned(),
        extra: Extra::new(),
    })
}

fn legacy_command_end(v: &Value) -> ItemDetails {
    let command = match v.get("command") {
        Some(Value::Array(a)) => join_command(a),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let exit_code = v
        .get("exit_code")
        .and_then(Value::as_i64)
        .and_then(|c| i32::try_from(c).ok());
    ItemDetails::CommandExecution(CommandExecutionItem {
        command,
        aggregated_output: v
            .get("aggregated_output")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        exit_code,
        status: if exit_code == Some(0) {
            CommandExecutionStatus::Completed
        } else {
            CommandExecutionStatus::Failed
        },
        extra: Extra::new(),
    })
}

/// A shell tool call rebuilt from its output text (`Process exited with code N`, `Output:`).
fn legacy_command_output(command: String, text: &str) -> ItemDetails {
    let exit_code = text
        .lines()
        .find_map(|l| l.strip_prefix("Process exited with code "))
        .and_then(|c| c.trim().parse::<i32>().ok())
        .or_else(|| {
            text.lines()
                .find_map(|l| l.strip_prefix("Exit code: "))
                .and_then(|c| c.trim().parse().ok())
        });
    let output = text
        .split_once("Output:\n")
        .map(|(_, o)| o.to_owned())
        .unwrap_or_else(|| text.to_owned());
    ItemDetails::CommandExecution(CommandExecutionItem {
        command,
        aggregated_output: output,
        exit_code,
        status: if exit_code.unwrap_or(0) == 0 {
            CommandExecutionStatus::Completed
        } else {
            CommandExecutionStatus::Failed
        },
        extra: Extra::new(),
    })
}

/// An MCP call's end (a 0.163+ `McpToolCall` item, or 0.130's `mcp_tool_call_end`).
fn legacy_mcp_end(v: &Value) -> ItemDetails {
    let inv = v.get("invocation").unwrap_or(v);
    let s = |o: &Value, k: &str| {
        o.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let result = v.get("result").cloned().filter(|r| !r.is_null());
    let (result, error) = match result {
        Some(r) if r.get("Err").is_some() => (
            None,
            Some(McpToolCallError {
                message: r["Err"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| r["Err"].to_string()),
                extra: Extra::new(),
            }),
        ),
        Some(r) => (Some(r.get("Ok").cloned().unwrap_or(r)), None),
        None => (None, None),
    };
    let error = error.or_else(|| {
        v.get("error")
            .and_then(|e| e.get("message").or(Some(e)))
            .and_then(Value::as_str)
            .map(|m| McpToolCallError {
                message: m.to_owned(),
                extra: Extra::new(),
            })
    });
    let status = match v.get("status").and_then(Value::as_str) {
        Some("completed") => McpToolCallStatus::Completed,
        Some("failed") => McpToolCallStatus::Failed,
        Some(other) => McpToolCallStatus::Unknown(other.to_owned()),
        None if error.is_some() => McpToolCallStatus::Failed,
        None => McpToolCallStatus::Completed,
    };
    ItemDetails::McpToolCall(McpToolCallItem {
        server: s(inv, "server"),
        tool: s(inv, "tool"),
        arguments: inv.get("arguments").cloned().unwrap_or(Value::Null),
        result,
        error,
        status,
        extra: Extra::new(),
    })
}

pub(crate) fn usage(u: TokenUsage) -> Usage {
    Usage {
        input_tokens: u.input_tokens.unwrap_or(0),
        cached_input_tokens: u.cached_input_tokens.unwrap_or(0),
        cache_write_input_tokens: u.cache_write_input_tokens,
        output_tokens: u.output_tokens.unwrap_or(0),
        reasoning_output_tokens: u.reasoning_output_tokens,
    }
}

#[cfg(test)]
mod tests;
