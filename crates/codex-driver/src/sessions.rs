//! Codex's saved sessions, read from disk without running Codex: every thread's rollout file
//! (`sessions/YYYY/MM/DD/rollout-<time>-<thread id>.jsonl`, `archived_sessions/`), its
//! transcript, and the TUI's prompt history (`history.jsonl`).
//!
//! A program that resumes threads across processes can list what there is to resume, and show
//! what was said, before spawning anything. Every line type is kept: lines this library does not
//! know are [`RolloutItem::Other`], never an error.
//!
//! ```no_run
//! # fn demo() -> codex_driver::Result<()> {
//! use codex_driver::CodexHome;
//! use codex_driver::sessions;
//!
//! let home = CodexHome::new("/var/lib/mybot/codex-home");
//! for s in sessions::list(&home)?.iter().take(5) {
//!     println!("{} {} {:?}", s.thread_id, s.started_at.as_deref().unwrap_or("?"), s.cwd);
//!     for m in sessions::transcript(&s.path)? {
//!         println!("  {:?}: {}", m.role, m.text);
//!     }
//! }
//! # Ok(()) }
//! ```

use crate::error::{Error, Result};
use crate::home::CodexHome;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// One saved thread.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The thread id (what `exec resume` and `thread/resume` take).
    pub thread_id: String,
    /// The rollout file.
    pub path: PathBuf,
    /// Under `archived_sessions/`.
    pub archived: bool,
    /// When it started (RFC 3339, from its `session_meta`).
    pub started_at: Option<String>,
    /// Its working directory.
    pub cwd: Option<PathBuf>,
    /// `codex_exec`, `codex_cli_rs`, an app-server client, ...
    pub originator: Option<String>,
    /// The Codex version that wrote it.
    pub cli_version: Option<String>,
    /// `exec`, `cli`, `vscode`, ...
    pub source: Option<String>,
    /// The model provider id.
    pub model_provider: Option<String>,
}

/// Every session of `home`, newest first (by the start time in the file name).
pub fn list(home: &CodexHome) -> Result<Vec<SessionInfo>> {
    let mut files = Vec::new();
    collect(&home.sessions_dir(), false, &mut files)?;
    collect(&home.archived_sessions_dir(), true, &mut files)?;
    let mut out: Vec<SessionInfo> = files
        .into_iter()
        .filter_map(|(path, archived)| info(&path, archived))
        .collect();
    // By start time (UTC, from session_meta), else the time in the file name
    // (`rollout-YYYY-MM-DDTHH-MM-SS-<uuid>.jsonl`); then by id (UUIDv7: time-ordered).
    out.sort_by_cached_key(|s| {
        let when = s.started_at.clone().unwrap_or_else(|| {
            let name = file_name(&s.path);
            let t = name.strip_prefix("rollout-").unwrap_or(&name);
            let t = t.get(..19).unwrap_or(t);
            // 2026-11-24T13-22-57 -> 2026-11-24T13:22:57
            t.char_indices()
                .map(|(i, c)| {
                    if (i == 13 || i == 16) && c == '-' {
                        ':'
                    } else {
                        c
                    }
                })
                .collect()
        });
        std::cmp::Reverse((when, s.thread_id.clone()))
    });
    Ok(out)
}

/// The session of thread `thread_id`, if `home` has it.
pub fn find(home: &CodexHome, thread_id: &str) -> Result<Option<SessionInfo>> {
    Ok(list(home)?.into_iter().find(|s| s.thread_id == thread_id))
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn collect(dir: &Path, archived: bool, out: &mut Vec<(PathBuf, bool)>) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(format!("reading {}", dir.display()), e)),
    };
    for e in entries.flatten() {
        let p = e.path();
        let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
        if is_dir {
            collect(&p, archived, out)?;
        } else {
            let name = file_name(&p);
            if name.starts_with("rollout-") && name.ends_with(".jsonl") {
                out.push((p, archived));
            }
        }
    }
    Ok(())
}

const FIRST_LINE_LIMIT: u64 = 4 * 1024 * 1024;

/// The `session_meta` of a rollout (its first line), or the thread id from the file name.
fn info(path: &Path, archived: bool) -> Option<SessionInfo> {
    // The first line holds the instructions (tens of KB); a file without newlines must not be
    // read whole.
    let mut line = Vec::new();
    let first = std::fs::File::open(path)
        .ok()
        .and_then(|f| {
            BufReader::new(f.take(FIRST_LINE_LIMIT))
                .read_until(b'\n', &mut line)
                .ok()
        })
        .and_then(|_| serde_json::from_slice::<Value>(&line).ok());
    let meta = first
        .as_ref()
        .filter(|v| v.get("type").and_then(Value::as_str) == Some("session_meta"))
        .and_then(|v| v.get("payload"));
    let s = |k: &str| {
        meta.and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let thread_id = s("id").or_else(|| id_from_name(path))?;
    Some(SessionInfo {
        thread_id,
        path: path.to_path_buf(),
        archived,
        started_at: s("timestamp"),
        cwd: s("cwd").map(PathBuf::from),
        originator: s("originator"),
        cli_version: s("cli_version"),
        source: s("source"),
        model_provider: s("model_provider"),
    })
}

/// `rollout-2026-11-24T13-22-57-<uuid>.jsonl` -> the uuid (the last 36 characters).
fn id_from_name(path: &Path) -> Option<String> {
    let stem = file_name(path);
    let stem = stem.strip_suffix(".jsonl")?;
    let id = stem.get(stem.len().checked_sub(36)?..)?;
    // 8-4-4-4-12 hex digits.
    let shape = id
        .split('-')
        .map(|g| (g.len(), g.chars().all(|c| c.is_ascii_hexdigit())))
        .collect::<Vec<_>>();
    (shape == [(8, true), (4, true), (4, true), (4, true), (12, true)]).then(|| id.to_owned())
}

/// One line of a rollout file.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RolloutLine {
    /// When it was written (RFC 3339).
    pub timestamp: Option<String>,
    /// Its position (0.169+).
    pub ordinal: Option<u64>,
    /// What it holds.
    pub item: RolloutItem,
}

/// What a rollout line holds; the payloads are Codex's own JSON.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RolloutItem {
    /// `session_meta`: id, cwd, originator, cli_version, instructions, ...
    SessionMeta(Value),
    /// `response_item`: a Responses API item (message, reasoning, function call, ...).
    ResponseItem(Value),
    /// `event_msg`: a protocol event (task started/complete, item completed, token count, ...).
    EventMsg(Value),
    /// `turn_context`: a turn's settings.
    TurnContext(Value),
    /// Any other line type (`compacted`, `world_state`, newer ones), with its type name.
    Other {
        /// The line's `type`.
        kind: String,
        /// Its payload.
        payload: Value,
    },
}

/// Reads a whole rollout. Lines that are not JSON are skipped (a file being written may end
/// in half a line).
pub fn read(path: &Path) -> Result<Vec<RolloutLine>> {
    let f = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let mut out = Vec::new();
    let mut reader = BufReader::new(f);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
        if n == 0 {
            break;
        }
        // Bytes, not text: a file being written may end inside a character.
        let Ok(mut v) = serde_json::from_slice::<Value>(&line) else {
            continue;
        };
        let payload = v.get_mut("payload").map(Value::take).unwrap_or_default();
        let kind = v.get("type").and_then(Value::as_str).unwrap_or_default();
        let item = match kind {
            "session_meta" => RolloutItem::SessionMeta(payload),
            "response_item" => RolloutItem::ResponseItem(payload),
            "event_msg" => RolloutItem::EventMsg(payload),
            "turn_context" => RolloutItem::TurnContext(payload),
            other => RolloutItem::Other {
                kind: other.to_owned(),
                payload,
            },
        };
        out.push(RolloutLine {
            timestamp: v
                .get("timestamp")
                .and_then(Value::as_str)
                .map(str::to_owned),
            ordinal: v.get("ordinal").and_then(Value::as_u64),
            item,
        });
    }
    Ok(out)
}

/// Who said it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The user's prompt.
    User,
    /// Codex's answer.
    Assistant,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Message {
    /// Who.
    pub role: Role,
    /// The text.
    pub text: String,
}

impl Message {
    /// A message.
    pub fn new(role: Role, text: impl Into<String>) -> Self {
        Self {
            role,
            text: text.into(),
        }
    }
}

/// The user prompts and assistant answers of a rollout, in order, as the user saw them (no
/// instructions or injected context). Reads the events of 0.169 (`item_completed`) and of
/// 0.50/0.130 (`user_message`, `agent_message`).
pub fn transcript(path: &Path) -> Result<Vec<Message>> {
    let mut out = Vec::new();
    for line in read(path)? {
        let RolloutItem::EventMsg(ev) = line.item else {
            continue;
        };
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        match ev.get("type").and_then(Value::as_str) {
            Some("item_completed") => {
                let item = ev.get("item").cloned().unwrap_or_default();
                let role = match item.get("type").and_then(Value::as_str) {
                    Some("UserMessage") => Role::User,
                    Some("AgentMessage") => Role::Assistant,
                    _ => continue,
                };
                let text: Vec<String> = item
                    .get("content")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|c| {
                        c.get("type")
                            .and_then(Value::as_str)
                            .is_some_and(|t| t.eq_ignore_ascii_case("text"))
                    })
                    .filter_map(|c| s(c, "text"))
                    .collect();
                out.push(Message {
                    role,
                    text: text.join(""),
                });
            }
            Some("user_message") => out.extend(s(&ev, "message").map(|text| Message {
                role: Role::User,
                text,
            })),
            Some("agent_message") => out.extend(s(&ev, "message").map(|text| Message {
                role: Role::Assistant,
                text,
            })),
            _ => {}
        }
    }
    Ok(out)
}

/// One prompt the user typed in the TUI (`history.jsonl`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HistoryEntry {
    /// The thread it was typed in.
    pub session_id: String,
    /// Unix seconds.
    pub ts: i64,
    /// The prompt.
    pub text: String,
}

/// The TUI's prompt history of `home`, oldest first (empty when there is none; `codex exec`
/// does not write it). Lines that don't parse are skipped.
pub fn history(home: &CodexHome) -> Result<Vec<HistoryEntry>> {
    let path = home.history_jsonl();
    let f = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(format!("opening {}", path.display()), e)),
    };
    Ok(BufReader::new(f)
        .split(b'\n')
        .map_while(std::result::Result::ok)
        .filter_map(|l| serde_json::from_slice(&l).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }

    #[test]
    fn captured_rollout_reads_whole() -> Result<()> {
        let lines = read(&fixture("sessions/rollout-0.169.0.jsonl"))?;
        assert_eq!(lines.len(), 31);
        assert!(
            matches!(&lines[0].item, RolloutItem::SessionMeta(m) if m["cli_version"] == "0.169.0")
        );
        assert_eq!(lines[0].ordinal, Some(0));
        let other: Vec<&str> = lines
            .iter()
            .filter_map(|l| match &l.item {
                RolloutItem::Other { kind, .. } => Some(kind.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            other,
            [
                "world_state",
                "token_usage_record",
                "token_usage_record",
                "token_usage_record",
                "token_usage_record"
            ]
        );
        assert_eq!(
            transcript(&fixture("sessions/rollout-0.169.0.jsonl"))?,
            [
                Message {
                    role: Role::User,
                    text: "do stuff".into()
                },
                Message {
                    role: Role::Assistant,
                    text: "All done".into()
                }
            ]
        );
        Ok(())
    }

    #[test]
    fn older_event_names_and_partial_lines() -> Result<()> {
        let d = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let p = d
            .path()
            .join("rollout-2025-01-01T00-00-00-01a20dbe-5679-7c23-b495-86ea8e462391.jsonl");
        std::fs::write(
            &p,
            concat!(
                r#"{"timestamp":"t","type":"event_msg","payload":{"type":"user_message","message":"hi","images":[]}}"#,
                "\n",
                r#"{"timestamp":"t","type":"event_msg","payload":{"type":"agent_message","message":"hello"}}"#,
                "\n",
                r#"{"timestamp":"t","type":"event_msg","payl"#,
            ),
        )
        .map_err(|e| Error::io("write", e))?;
        // And half a multi-byte character, as a file being written may end.
        let mut bytes = std::fs::read(&p).map_err(|e| Error::io("read", e))?;
        bytes.extend_from_slice(b"\n{\"type\":\"event_msg\",\"payload\":{\"message\":\"\xE2\x82");
        std::fs::write(&p, bytes).map_err(|e| Error::io("write", e))?;
        assert_eq!(transcript(&p)?.len(), 2);
        // No session_meta line: the id comes from the file name.
        let i = info(&p, false).map(|i| i.thread_id);
        assert_eq!(i.as_deref(), Some("01a20dbe-5679-7c23-b495-86ea8e462391"));
        Ok(())
    }

    #[test]
    fn history_lines() -> Result<()> {
        let d = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let home = CodexHome::new(d.path());
        assert!(history(&home)?.is_empty());
        std::fs::copy(fixture("sessions/history.jsonl"), home.history_jsonl())
            .map_err(|e| Error::io("copy", e))?;
        let h = history(&home)?;
        assert_eq!(h[0].text, "hello from tui");
        assert_eq!(h[0].ts, 1795526692);
        Ok(())
    }
}
