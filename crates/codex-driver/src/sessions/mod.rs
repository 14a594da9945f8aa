//! Codex's saved sessions, read without running Codex: list, find and watch the threads of a
//! home, stream and replay their rollouts, and read the TUI's prompt history.
//!
//! Where Codex keeps them:
//! - every thread's rollout, `sessions/YYYY/MM/DD/rollout-<time>-<thread id>.jsonl` (moved to
//!   `archived_sessions/` when archived): the whole conversation, one JSON line per event;
//! - its state database, `state_5.sqlite` (in `sqlite_home` / `$CODEX_SQLITE_HOME` when set):
//!   one indexed row per thread.
//!
//! A [`SessionIndex`] prefers the database: it is opened read-only, never blocks Codex (which
//! writes it in WAL mode), and answers "the newest 10" in the same time whether the home holds
//! a hundred threads or a hundred thousand. When the database is absent, of a schema this
//! library doesn't know, or not yet filled from older rollouts, the index scans the rollout
//! files instead, and both give the same [`SessionInfo`]s.
//!
//! ```no_run
//! # fn demo() -> codex_driver::Result<()> {
//! use codex_driver::CodexHome;
//! use codex_driver::sessions::{Query, SessionIndex};
//!
//! let index = SessionIndex::new(&CodexHome::new("/var/lib/mybot/codex-home"));
//! for s in index.list(&Query::new().limit(5))? {
//!     println!("{} {:?} {}", s.thread_id, s.cwd, s.title.as_deref().unwrap_or(""));
//! }
//! let one = index.find("01a23a85")?; // a unique id prefix, a full id, or a thread name
//! for m in codex_driver::sessions::transcript(&one.path)? {
//!     println!("  {:?}: {}", m.role, m.text);
//! }
//! # Ok(()) }
//! ```

#[cfg(feature = "state-db")]
mod db;
mod history;
pub mod manage;
pub mod replay;
pub mod rollout;
mod scan;
mod time;
mod watch;

pub use history::{HistoryEntry, HistoryPersistence, HistorySettings, history, history_settings};
pub use rollout::{GitInfo, RolloutItem, RolloutLine, RolloutReader};
pub use watch::{SessionChange, SessionWatch};

use crate::error::{Error, Result};
use crate::home::CodexHome;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Where a thread was started, as Codex records it (`source` in its session metadata).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionSource {
    /// `codex exec`.
    Exec,
    /// The interactive TUI (`cli`).
    Cli,
    /// An app-server client (`vscode`, Codex's default source for app-server threads).
    VsCode,
    /// The legacy MCP server (`mcp`).
    Mcp,
    /// A sub-agent spawned by another thread (an object naming its parent).
    SubAgent(Value),
    /// Any other source, as written.
    Other(String),
}

impl SessionSource {
    /// Decodes Codex's value: a string, or an object for sub-agents.
    pub fn from_value(v: &Value) -> Option<Self> {
        match v {
            Value::String(s) => Some(Self::from_word(s)),
            Value::Object(m) if m.keys().any(|k| k.eq_ignore_ascii_case("subagent")) => {
                Some(Self::SubAgent(v.clone()))
            }
            Value::Null => None,
            other => Some(Self::Other(other.to_string())),
        }
    }

    /// Decodes the state database's column: a word, or the JSON of an object.
    #[cfg_attr(not(feature = "state-db"), allow(dead_code))]
    pub(crate) fn from_column(s: &str) -> Self {
        if s.starts_with('{')
            && let Ok(v) = serde_json::from_str::<Value>(s)
        {
            return Self::from_value(&v).unwrap_or(Self::Other(s.to_owned()));
        }
        Self::from_word(s)
    }

    fn from_word(s: &str) -> Self {
        match s {
            "exec" => Self::Exec,
            "cli" => Self::Cli,
            "vscode" => Self::VsCode,
            "mcp" => Self::Mcp,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The word Codex writes (`exec`, `cli`, `vscode`, `mcp`, `subagent`, or the other value).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Exec => "exec",
            Self::Cli => "cli",
            Self::VsCode => "vscode",
            Self::Mcp => "mcp",
            Self::SubAgent(_) => "subagent",
            Self::Other(s) => s,
        }
    }
}

impl Serialize for SessionSource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            Self::SubAgent(v) => v.serialize(s),
            other => s.serialize_str(other.as_str()),
        }
    }
}

impl<'de> Deserialize<'de> for SessionSource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(Self::from_value(&v).unwrap_or(Self::Other(String::new())))
    }
}

/// One saved thread. The same whether it came from the state database or a rollout scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionInfo {
    /// The thread id (what `exec resume` and `thread/resume` take).
    pub thread_id: String,
    /// The rollout file.
    pub path: PathBuf,
    /// Archived (`codex archive`, `thread/archive`): under `archived_sessions/`.
    pub archived: bool,
    /// The name given to it (`thread/name/set`), if any.
    pub name: Option<String>,
    /// Its title: the first thing the user asked.
    pub title: Option<String>,
    /// Its working directory.
    pub cwd: Option<PathBuf>,
    /// When it started (Unix ms).
    pub created_at_ms: Option<i64>,
    /// When it last changed (Unix ms).
    pub updated_at_ms: Option<i64>,
    /// The model of its last turn.
    pub model: Option<String>,
    /// The model provider id.
    pub model_provider: Option<String>,
    /// `codex_exec`, `codex_cli_rs`, an app-server client's name, ...
    pub originator: Option<String>,
    /// The Codex version that wrote it.
    pub cli_version: Option<String>,
    /// Where it was started.
    pub source: Option<SessionSource>,
    /// Tokens used so far (input + output, all turns).
    pub tokens_used: Option<u64>,
    /// The git state Codex recorded when it started.
    pub git: Option<GitInfo>,
}

impl SessionInfo {
    /// [`created_at_ms`](Self::created_at_ms) as RFC 3339 (UTC).
    pub fn created_at(&self) -> Option<String> {
        self.created_at_ms.map(time::ms_to_rfc3339)
    }

    /// [`updated_at_ms`](Self::updated_at_ms) as RFC 3339 (UTC).
    pub fn updated_at(&self) -> Option<String> {
        self.updated_at_ms.map(time::ms_to_rfc3339)
    }
}

/// Which archived threads a [`Query`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Archived {
    /// Only live ones (the default).
    #[default]
    Exclude,
    /// Both.
    Include,
    /// Only archived ones.
    Only,
}

impl Archived {
    fn admits(self, archived: bool) -> bool {
        match self {
            Self::Exclude => !archived,
            Self::Include => true,
            Self::Only => archived,
        }
    }
}

/// The order of a listing (newest first either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SortBy {
    /// Most recently changed first (the default; what `codex resume --last` continues).
    #[default]
    Updated,
    /// Most recently started first.
    Created,
}

/// What [`SessionIndex::list`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct Query {
    limit: Option<usize>,
    archived: Archived,
    cwd: Option<PathBuf>,
    source: Option<SessionSource>,
    sort: SortBy,
}

impl Query {
    /// Every unarchived thread, most recently changed first.
    pub fn new() -> Self {
        Self::default()
    }

    /// At most `n`.
    pub fn limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// Archived ones too, or only them.
    pub fn archived(mut self, which: Archived) -> Self {
        self.archived = which;
        self
    }

    /// Only threads whose working directory is `dir`.
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Only threads started from `source`.
    pub fn source(mut self, source: SessionSource) -> Self {
        self.source = Some(source);
        self
    }

    /// The order.
    pub fn sort(mut self, by: SortBy) -> Self {
        self.sort = by;
        self
    }

    fn admits_meta(
        &self,
        archived: bool,
        cwd: Option<&Path>,
        source: Option<&SessionSource>,
    ) -> bool {
        self.archived.admits(archived)
            && self.cwd.as_deref().is_none_or(|c| cwd == Some(c))
            && self
                .source
                .as_ref()
                .is_none_or(|s| source.map(SessionSource::as_str) == Some(s.as_str()))
    }
}

/// Which store answered (or must answer) an index query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Backend {
    /// The state database when it can answer, else the rollout files (the default).
    #[default]
    Auto,
    /// Only the state database (an error when it can't answer).
    StateDb,
    /// Only the rollout files.
    Files,
}

/// The sessions of one home: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct SessionIndex {
    home: CodexHome,
    sqlite_home: Option<PathBuf>,
    backend: Backend,
}

impl SessionIndex {
    /// The index of `home`. Its database is looked for where Codex puts it:
    /// `$CODEX_SQLITE_HOME`, else `sqlite_home` in the home's `config.toml`, else the home.
    pub fn new(home: &CodexHome) -> Self {
        Self {
            home: home.clone(),
            sqlite_home: None,
            backend: Backend::Auto,
        }
    }

    /// Look for the database in `dir` (what Codex was given as `sqlite_home`).
    pub fn sqlite_home(mut self, dir: impl Into<PathBuf>) -> Self {
        self.sqlite_home = Some(dir.into());
        self
    }

    /// Force one store (default [`Backend::Auto`]).
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// The home.
    pub fn home(&self) -> &CodexHome {
        &self.home
    }

    /// Where the state database is (it may not exist).
    pub fn state_db_path(&self) -> PathBuf {
        let dir = self
            .sqlite_home
            .clone()
            .or_else(|| {
                std::env::var_os("CODEX_SQLITE_HOME")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .or_else(|| configured_sqlite_home(&self.home))
            .unwrap_or_else(|| self.home.path().to_path_buf());
        dir.join("state_5.sqlite")
    }

    /// The database, when this index may and can use it. `Ok(None)`: use the files.
    #[cfg(feature = "state-db")]
    fn db(&self) -> Result<Option<db::StateDb>> {
        match self.backend {
            Backend::Files => Ok(None),
            Backend::StateDb => db::StateDb::open(&self.state_db_path())?
                .map(Some)
                .ok_or_else(|| Error::StateDb {
                    path: self.state_db_path(),
                    detail: "not found".into(),
                }),
            Backend::Auto => match db::StateDb::open(&self.state_db_path()) {
                Ok(Some(db)) if db.is_complete() => Ok(Some(db)),
                Ok(_) => Ok(None),
                Err(e) => {
                    tracing::debug!(error = %e, "state database unusable; scanning rollouts");
                    Ok(None)
                }
            },
        }
    }

    #[cfg(not(feature = "state-db"))]
    fn db(&self) -> Result<Option<std::convert::Infallible>> {
        match self.backend {
            Backend::StateDb => Err(Error::StateDb {
                path: self.state_db_path(),
                detail: "this build has no state-db feature".into(),
            }),
            _ => Ok(None),
        }
    }

    /// Which store would answer now.
    pub fn active_backend(&self) -> Result<Backend> {
        Ok(match self.db()? {
            Some(_) => Backend::StateDb,
            None => Backend::Files,
        })
    }

    /// What an older database lacks, from the files, so both stores give the same answer:
    /// names from `session_index.jsonl`, originators from the rollouts' first lines.
    #[cfg(feature = "state-db")]
    fn fill_from_files(&self, db: &db::StateDb, rows: &mut [SessionInfo]) {
        if !db.has_column("name") {
            let names = scan::names(&self.home);
            for r in rows.iter_mut() {
                r.name = names.get(&r.thread_id).cloned();
            }
        }
        if !db.has_column("originator") {
            for r in rows.iter_mut() {
                r.originator = scan::first_meta(&r.path).and_then(|m| m.originator);
            }
        }
    }

    /// The threads `query` selects, newest first.
    pub fn list(&self, query: &Query) -> Result<Vec<SessionInfo>> {
        #[cfg(feature = "state-db")]
        if let Some(db) = self.db()? {
            let mut rows = db.list(query)?;
            self.fill_from_files(&db, &mut rows);
            return Ok(rows);
        }
        #[cfg(not(feature = "state-db"))]
        self.db()?;
        scan::list(&self.home, query)
    }

    /// How many threads there are (archived ones included) and how many are archived.
    pub fn count(&self) -> Result<(usize, usize)> {
        #[cfg(feature = "state-db")]
        if let Some(db) = self.db()? {
            return db.count();
        }
        #[cfg(not(feature = "state-db"))]
        self.db()?;
        scan::count(&self.home)
    }

    /// Thread `id` exactly (archived or not), if saved. A thread whose rollout file is gone
    /// counts as gone, whatever the database still says.
    pub fn get(&self, id: &str) -> Result<Option<SessionInfo>> {
        #[cfg(feature = "state-db")]
        if let Some(db) = self.db()? {
            match db.get(id)? {
                Some(s) if s.path.is_file() => {
                    let mut one = [s];
                    self.fill_from_files(&db, &mut one);
                    let [s] = one;
                    return Ok(Some(s));
                }
                // A row whose rollout moved (or went): the files say where it is now.
                Some(_) => {}
                // A complete database that lacks it: it isn't there.
                None => return Ok(None),
            }
        }
        #[cfg(not(feature = "state-db"))]
        self.db()?;
        scan::get(&self.home, id)
    }

    /// The thread `what` names: a full id, a unique id prefix (at least 4 characters), or a
    /// thread name (the most recently changed thread of that name). Archived threads count.
    /// [`Error::SessionNotFound`] when nothing matches, listing the candidates when several
    /// ids share the prefix.
    pub fn find(&self, what: &str) -> Result<SessionInfo> {
        let not_found = |candidates: Vec<String>| Error::SessionNotFound {
            query: what.to_owned(),
            home: self.home.path().to_path_buf(),
            candidates,
        };
        if what.is_empty() {
            return Err(not_found(Vec::new()));
        }
        if let Some(s) = self.get(what)? {
            return Ok(s);
        }
        let is_prefix = what.len() >= 4
            && what.len() < 36
            && what.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        if is_prefix {
            let ids = self.ids_with_prefix(&what.to_ascii_lowercase())?;
            match ids.as_slice() {
                [one] => {
                    if let Some(s) = self.get(one)? {
                        return Ok(s);
                    }
                }
                [] => {}
                many => return Err(not_found(many.iter().take(10).cloned().collect())),
            }
        }
        let named = self
            .list(&Query::new().archived(Archived::Include))?
            .into_iter()
            .find(|s| s.name.as_deref() == Some(what));
        named.ok_or_else(|| not_found(Vec::new()))
    }

    fn ids_with_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        #[cfg(feature = "state-db")]
        if let Some(db) = self.db()? {
            return db.ids_with_prefix(prefix);
        }
        #[cfg(not(feature = "state-db"))]
        self.db()?;
        scan::ids_with_prefix(&self.home, prefix)
    }

    /// The most recently changed unarchived thread, in `cwd` when given (what
    /// `codex resume --last` continues).
    pub fn latest(&self, cwd: Option<&Path>) -> Result<Option<SessionInfo>> {
        let mut q = Query::new().limit(1);
        if let Some(c) = cwd {
            q = q.cwd(c);
        }
        Ok(self.list(&q)?.into_iter().next())
    }

    /// New and changed threads as they happen (see [`SessionWatch`]). Needs a Tokio runtime.
    pub fn watch(&self) -> Result<SessionWatch> {
        SessionWatch::start(self.clone(), watch::DEFAULT_INTERVAL)
    }

    /// [`watch`](Self::watch), polling every `every`.
    pub fn watch_every(&self, every: std::time::Duration) -> Result<SessionWatch> {
        SessionWatch::start(self.clone(), every)
    }

    /// Every thread's id with its change marker (updated time, archived) for the watcher.
    pub(crate) fn markers(&self) -> Result<Vec<(String, Option<i64>, bool)>> {
        #[cfg(feature = "state-db")]
        if let Some(db) = self.db()? {
            return db.markers();
        }
        #[cfg(not(feature = "state-db"))]
        self.db()?;
        scan::markers(&self.home)
    }
}

/// `sqlite_home` from the home's `config.toml`, when set (relative paths are the home's).
fn configured_sqlite_home(home: &CodexHome) -> Option<PathBuf> {
    let text = std::fs::read_to_string(home.config_toml()).ok()?;
    let doc: toml_edit::DocumentMut = text.parse().ok()?;
    let v = doc.get("sqlite_home")?.as_str()?;
    let p = PathBuf::from(v);
    Some(if p.is_relative() {
        home.path().join(p)
    } else {
        p
    })
}

/// Every session of `home`, archived ones included, most recently changed first.
pub fn list(home: &CodexHome) -> Result<Vec<SessionInfo>> {
    SessionIndex::new(home).list(&Query::new().archived(Archived::Include))
}

/// The session of thread `thread_id` exactly, if `home` has it.
pub fn find(home: &CodexHome, thread_id: &str) -> Result<Option<SessionInfo>> {
    SessionIndex::new(home).get(thread_id)
}

/// Thread `id` of `home` (archived or not), if saved.
pub(crate) fn locate(home: &CodexHome, id: &str) -> Result<Option<SessionInfo>> {
    SessionIndex::new(home).get(id)
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
/// 0.50/0.130 (`user_message`, `agent_message`). Streams the file.
pub fn transcript(path: &Path) -> Result<Vec<Message>> {
    transcript_inner(path)
}

/// The thread's token usage, all turns: the last total its rollout recorded (`None` before
/// any model response). Price it with [`cost::RateCard`](crate::cost::RateCard) and
/// [`SessionInfo::model`].
pub fn usage(path: &Path) -> Result<Option<crate::events::Usage>> {
    use rollout::EventMsg;
    let mut total = None;
    for line in RolloutReader::open(path)? {
        if let RolloutItem::EventMsg(EventMsg::TokenCount(t)) = line?.item
            && let Some(u) = t.info.and_then(|i| i.total_token_usage)
        {
            total = Some(replay::usage(u));
        }
    }
    Ok(total)
}

fn transcript_inner(path: &Path) -> Result<Vec<Message>> {
    use rollout::EventMsg;
    let mut out = Vec::new();
    for line in RolloutReader::open(path)? {
        let RolloutItem::EventMsg(ev) = line?.item else {
            continue;
        };
        match ev {
            EventMsg::ItemCompleted(item) => {
                let role = match item.item_type() {
                    "UserMessage" => Role::User,
                    "AgentMessage" => Role::Assistant,
                    _ => continue,
                };
                out.push(Message::new(role, item.text()));
            }
            EventMsg::UserMessage(m) => {
                out.extend(m.message.map(|t| Message::new(Role::User, t)));
            }
            EventMsg::AgentMessage(m) => {
                out.extend(m.message.map(|t| Message::new(Role::Assistant, t)));
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Reads a whole rollout into memory (small files; stream big ones with [`RolloutReader`]).
pub fn read(path: &Path) -> Result<Vec<RolloutLine>> {
    rollout::read(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name)
    }

    #[test]
    fn captured_rollout_reads_whole() -> Result<()> {
        let lines = read(&fixture("sessions/rollout-0.169.0.jsonl"))?;
        assert_eq!(lines.len(), 31);
        assert!(
            matches!(&lines[0].item, RolloutItem::SessionMeta(m) if m.cli_version.as_deref() == Some("0.169.0"))
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
                Message::new(Role::User, "do stuff"),
                Message::new(Role::Assistant, "All done"),
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
        let mut bytes = concat!(
            r#"{"timestamp":"t","type":"event_msg","payload":{"type":"user_message","message":"hi","images":[]}}"#,
            "\n",
            r#"{"timestamp":"t","type":"event_msg","payload":{"type":"agent_message","message":"hello"}}"#,
            "\n",
        )
        .as_bytes()
        .to_vec();
        // And half a multi-byte character, as a file being written may end.
        bytes.extend_from_slice(b"{\"type\":\"event_msg\",\"payload\":{\"message\":\"\xE2\x82");
        std::fs::write(&p, bytes).map_err(|e| Error::io("write", e))?;
        assert_eq!(
            transcript(&p)?,
            [
                Message::new(Role::User, "hi"),
                Message::new(Role::Assistant, "hello")
            ]
        );
        Ok(())
    }

    #[test]
    fn sources_decode_from_rollouts_and_columns() {
        assert_eq!(
            SessionSource::from_value(&serde_json::json!("exec")),
            Some(SessionSource::Exec)
        );
        assert_eq!(SessionSource::from_column("cli"), SessionSource::Cli);
        let sub = r#"{"subagent":{"thread_spawn":{"parent_thread_id":"p"}}}"#;
        assert!(matches!(
            SessionSource::from_column(sub),
            SessionSource::SubAgent(_)
        ));
        assert_eq!(SessionSource::from_column(sub).as_str(), "subagent");
        assert_eq!(
            SessionSource::from_column("brand_new"),
            SessionSource::Other("brand_new".into())
        );
        assert_eq!(
            serde_json::to_value(SessionSource::VsCode).ok(),
            Some(serde_json::json!("vscode"))
        );
    }
}
