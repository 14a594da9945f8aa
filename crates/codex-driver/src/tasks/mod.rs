//! A durable map from your application's own task keys to Codex threads, so an orchestrator
//! that restarts finds the thread of each task and continues it.
//!
//! The registry is a directory you own (e.g. [`TaskRegistry::for_app`]: `~/.<app>/tasks`,
//! 0700). Each task is one small JSON file written atomically (temp + rename, 0600), so a
//! crash never leaves half a record. A task records its thread id, `CODEX_HOME`, working
//! directory, the transport it last ran on and its last turn; the thread id is written the
//! moment Codex announces it, so even a process killed during the first turn leaves a task that
//! can be continued.
//!
//! Driving a task takes an exclusive claim on it and on its thread (an OS file lock the kernel
//! releases when the holder dies, however it dies). A second process that opens the same task
//! gets [`Error::TaskBusy`] at once, unless it asks to share ([`TaskBuilder::shared`]).
//!
//! Opening an existing task checks that its thread can still be continued: in the same home,
//! neither deleted nor archived, else [`Error::ThreadGone`] says which.
//!
//! ```no_run
//! # async fn demo() -> codex_driver::Result<()> {
//! use codex_driver::conversation::Conversation;
//! use codex_driver::tasks::TaskRegistry;
//! use codex_driver::Exec;
//!
//! let registry = TaskRegistry::for_app("mybot")?;
//! let template = Exec::new("").codex_home("/var/lib/mybot/codex").cd("/srv/repo");
//! // The first run starts a thread; after a restart the same key continues it.
//! let mut task = registry.task("ticket-4711").exec(template).open().await?;
//! let turn = task.send("Fix the flaky test").await?;
//! println!("{}: {}", turn.thread_id, turn.final_message.unwrap_or_default());
//! # Ok(()) }
//! ```

use crate::app_server::protocol as p;
use crate::app_server::{AppServer, Thread};
use crate::conversation::{Conversation, TurnSummary};
use crate::error::{Error, Result, ThreadGoneReason};
use crate::events::{ItemDetails, ThreadEvent, Usage};
use crate::exec::{Exec, ResumeTarget, Session};
use crate::fsutil::{FileLock, write_atomic};
use crate::home::CodexHome;
use crate::spawn::SpawnOptions;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Which way a task's turns run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Transport {
    /// One `codex exec` (then `exec resume`) per turn.
    Exec,
    /// A `codex app-server` thread.
    AppServer,
}

/// How a task's last turn ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TurnState {
    /// Started and not known to have ended (the driver may have died).
    Running,
    /// Completed.
    Completed,
    /// Failed (the error is recorded).
    Failed,
}

/// A task's last turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LastTurn {
    /// The turn id, when the transport reports one (the app-server does).
    #[serde(default)]
    pub turn_id: Option<String>,
    /// How it ended.
    pub state: TurnState,
    /// When it started (Unix seconds).
    pub started_at: u64,
    /// When it ended (Unix seconds).
    #[serde(default)]
    pub ended_at: Option<u64>,
    /// Its last agent message.
    #[serde(default)]
    pub final_message: Option<String>,
    /// Tokens it used.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Why it failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// One task of a [`TaskRegistry`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TaskRecord {
    /// Your key.
    pub key: String,
    /// The thread, once Codex announced it.
    #[serde(default)]
    pub thread_id: Option<String>,
    /// The `CODEX_HOME` the thread lives in.
    pub codex_home: PathBuf,
    /// The working directory of its turns, when one was set.
    #[serde(default)]
    pub cwd: Option<PathBuf>,
    /// The transport of its last turn.
    pub transport: Transport,
    /// How many turns were started.
    #[serde(default)]
    pub turns: u64,
    /// The last turn.
    #[serde(default)]
    pub last_turn: Option<LastTurn>,
    /// The thread's cumulative usage as last reported (exec reports totals on resume).
    #[serde(default)]
    pub thread_usage: Option<Usage>,
    /// When the task was created (Unix seconds).
    pub created_at: u64,
    /// When it last changed (Unix seconds).
    pub updated_at: u64,
    /// Fields written by a newer version of this library, kept as they were.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The registry: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct TaskRegistry {
    dir: PathBuf,
}

/// Record files are named by a hash of the key, so any key is a safe file name.
fn key_id(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

impl TaskRegistry {
    /// Opens (creating, 0700) the registry in `dir`, which must be private to this user.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = std::path::absolute(dir.into())
            .map_err(|e| Error::io("making the task registry path absolute", e))?;
        crate::fsutil::create_private_dir(&dir, "the task registry")?;
        for sub in ["tasks", "locks"] {
            crate::fsutil::create_private_dir(&dir.join(sub), "the task registry")?;
        }
        Ok(Self { dir })
    }

    /// The registry of app `app`: `$XDG_DATA_HOME/<app>/tasks` or `~/.<app>/tasks`.
    pub fn for_app(app: &str) -> Result<Self> {
        Self::open(crate::dirs::app_dir(app)?.join("tasks"))
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn record_path(&self, key: &str) -> PathBuf {
        self.dir.join("tasks").join(format!("{}.json", key_id(key)))
    }

    /// The task `key`, if recorded.
    pub fn get(&self, key: &str) -> Result<Option<TaskRecord>> {
        let path = self.record_path(key);
        match std::fs::read(&path) {
            Ok(bytes) => decode_record(&path, &bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
        }
    }

    /// Every task, most recently changed first. A record that can't be read is an error naming
    /// its file (nothing is removed).
    pub fn list(&self) -> Result<Vec<TaskRecord>> {
        let dir = self.dir.join("tasks");
        let entries = std::fs::read_dir(&dir)
            .map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
        let mut out = Vec::new();
        for e in entries {
            let e = e.map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
            let path = e.path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let bytes = std::fs::read(&path)
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            out.push(decode_record(&path, &bytes)?);
        }
        out.sort_by(|a, b| {
            b.updated_at
                .cmp(&a.updated_at)
                .then_with(|| a.key.cmp(&b.key))
        });
        Ok(out)
    }

    /// Writes `record` (atomically, 0600), replacing the task's previous record.
    pub fn put(&self, record: &TaskRecord) -> Result<()> {
        let path = self.record_path(&record.key);
        let mut bytes = serde_json::to_vec_pretty(record)
            .map_err(|e| Error::io("encoding a task record", std::io::Error::other(e)))?;
        bytes.push(b'\n');
        write_atomic(&path, &bytes, 0o600)
            .map_err(|e| Error::io(format!("writing {}", path.display()), e))
    }

    /// Forgets task `key` (the thread itself is left alone). Refused with
    /// [`Error::TaskBusy`] while someone drives it. Returns what was removed.
    pub fn remove(&self, key: &str) -> Result<Option<TaskRecord>> {
        let _claim = self.claim(key)?;
        let old = self.get(key)?;
        let path = self.record_path(key);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(old),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("removing {}", path.display()), e)),
        }
    }

    /// Takes the exclusive claim on task `key`, or fails at once with [`Error::TaskBusy`].
    pub fn claim(&self, key: &str) -> Result<Claim> {
        Claim::take(
            &self.dir.join("locks").join(format!("{}.lock", key_id(key))),
            key,
        )
    }

    /// Takes the exclusive claim on thread `thread_id` (whatever task drives it).
    pub fn claim_thread(&self, thread_id: &str) -> Result<Claim> {
        let name = format!("thread-{}.lock", key_id(thread_id));
        Claim::take(
            &self.dir.join("locks").join(name),
            &format!("thread:{thread_id}"),
        )
    }

    /// Starts continuing recorded task `key` after a restart (a key the registry doesn't know
    /// is [`Error::TaskUnknown`]): choose a transport (exec or the app-server, whichever the
    /// task used before), then [`TaskBuilder::open`].
    pub fn resume(&self, key: impl Into<String>) -> TaskBuilder<'_> {
        self.task(key).resume_only(true)
    }

    /// Starts opening task `key` (new or recorded): choose a transport, then
    /// [`TaskBuilder::open`].
    pub fn task(&self, key: impl Into<String>) -> TaskBuilder<'_> {
        TaskBuilder {
            registry: self,
            key: key.into(),
            driver: None,
            shared: false,
            resume_only: false,
        }
    }
}

fn decode_record(path: &Path, bytes: &[u8]) -> Result<TaskRecord> {
    serde_json::from_slice(bytes).map_err(|e| Error::ConfigFile {
        path: path.to_path_buf(),
        line: Some(e.line()),
        column: Some(e.column()),
        detail: format!(
            "not a task record: {}",
            match e.classify() {
                serde_json::error::Category::Io => "unreadable",
                serde_json::error::Category::Syntax => "invalid JSON",
                serde_json::error::Category::Data => "unexpected fields or values",
                serde_json::error::Category::Eof => "cut short",
            }
        ),
    })
}

/// An exclusive claim on a task or thread, released when dropped (or when the process ends,
/// however it ends).
#[derive(Debug)]
pub struct Claim {
    lock: FileLock,
    key: String,
}

impl Claim {
    fn take(path: &Path, key: &str) -> Result<Self> {
        let lock = FileLock::try_acquire(path)
            .map_err(|e| Error::io(format!("locking {}", path.display()), e))?;
        let Some(lock) = lock else {
            return Err(Error::TaskBusy {
                key: key.to_owned(),
                holder: holder_pid(path),
            });
        };
        // Who holds it, for the error a second process gets.
        let mut f = lock.file();
        let _ = f.set_len(0);
        let _ = f.rewind();
        let _ = write!(f, "{}", std::process::id());
        Ok(Self {
            lock,
            key: key.to_owned(),
        })
    }

    /// What is claimed: the task key, or `thread:<id>`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        self.lock.path()
    }
}

fn holder_pid(path: &Path) -> Option<u32> {
    let mut s = String::new();
    std::fs::File::open(path)
        .ok()?
        .read_to_string(&mut s)
        .ok()?;
    s.trim().parse().ok()
}

/// How a task's turns run.
#[derive(Debug, Clone)]
enum Driver {
    Exec(Box<Exec>),
    AppServer {
        server: Box<AppServer>,
        params: Box<p::ThreadStartParams>,
    },
}

impl Driver {
    fn transport(&self) -> Transport {
        match self {
            Self::Exec(_) => Transport::Exec,
            Self::AppServer { .. } => Transport::AppServer,
        }
    }

    /// The home the driver runs Codex with: the one set, else `$CODEX_HOME`, else `~/.codex`.
    fn home(&self) -> Result<PathBuf> {
        let set = match self {
            Self::Exec(e) => e.spawn_options_ref().home().map(Path::to_path_buf),
            Self::AppServer { server, .. } => {
                server.spawn_options_ref().home().map(Path::to_path_buf)
            }
        };
        let home = match set {
            Some(h) => h,
            None => SpawnOptions::new().effective_home()?.path().to_path_buf(),
        };
        Ok(canonical(&home))
    }

    fn cwd(&self) -> Option<PathBuf> {
        match self {
            Self::Exec(e) => e
                .cd_ref()
                .or(e.spawn_options_ref().current_dir_ref())
                .map(canonical),
            Self::AppServer { server, params } => params
                .cwd
                .as_ref()
                .map(PathBuf::from)
                .or_else(|| {
                    server
                        .spawn_options_ref()
                        .current_dir_ref()
                        .map(Path::to_path_buf)
                })
                .map(|p| canonical(&p)),
        }
    }
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Options for opening a task: see [`TaskRegistry::task`].
#[derive(Debug)]
#[must_use = "a TaskBuilder does nothing until open() is awaited"]
pub struct TaskBuilder<'r> {
    registry: &'r TaskRegistry,
    key: String,
    driver: Option<Driver>,
    shared: bool,
    resume_only: bool,
}

impl TaskBuilder<'_> {
    /// Run turns through `codex exec`, with the options of `template` (its prompt and session
    /// are ignored: each turn's prompt is given to [`Task::send`], and the session is the
    /// task's).
    pub fn exec(mut self, template: Exec) -> Self {
        self.driver = Some(Driver::Exec(Box::new(template)));
        self
    }

    /// Run turns on an app-server thread, spawned from `server`; a new thread starts with
    /// `params` (cwd, sandbox, approval policy, model, ...), an existing one is resumed.
    pub fn app_server(mut self, server: AppServer, params: p::ThreadStartParams) -> Self {
        self.driver = Some(Driver::AppServer {
            server: Box::new(server),
            params: Box::new(params),
        });
        self
    }

    /// Don't take the exclusive claim: the caller accepts that another process may drive the
    /// same task or thread at the same time (Codex then interleaves their turns).
    pub fn shared(mut self, yes: bool) -> Self {
        self.shared = yes;
        self
    }

    /// Only continue a recorded task: a key the registry doesn't know is
    /// [`Error::TaskUnknown`] instead of a new thread.
    pub fn resume_only(mut self, yes: bool) -> Self {
        self.resume_only = yes;
        self
    }

    /// Claims the task, loads its record and checks its thread can be continued: in the same
    /// home ([`ThreadGoneReason::OtherHome`]), still saved ([`ThreadGoneReason::Deleted`]), not
    /// archived ([`ThreadGoneReason::Archived`]). Nothing is spawned yet.
    pub async fn open(self) -> Result<Task> {
        let Some(driver) = self.driver else {
            return Err(Error::InvalidOptions(format!(
                "task `{}`: choose a transport (exec or app_server) before opening it",
                self.key
            )));
        };
        if self.key.is_empty() {
            return Err(Error::InvalidOptions("a task key can't be empty".into()));
        }
        let claim = if self.shared {
            None
        } else {
            Some(self.registry.claim(&self.key)?)
        };
        let record = self.registry.get(&self.key)?;
        if record.is_none() && self.resume_only {
            return Err(Error::TaskUnknown {
                key: self.key,
                registry: self.registry.dir.clone(),
            });
        }
        let home = driver.home()?;
        let mut thread_claim = None;
        if let Some(r) = &record
            && let Some(id) = &r.thread_id
        {
            if canonical(&r.codex_home) != home {
                return Err(Error::ThreadGone {
                    thread_id: id.clone(),
                    home,
                    reason: ThreadGoneReason::OtherHome {
                        recorded: r.codex_home.clone(),
                    },
                });
            }
            check_thread(&home, id)?;
            if !self.shared {
                thread_claim = Some(self.registry.claim_thread(id)?);
            }
        }
        Ok(Task {
            registry: self.registry.clone(),
            key: self.key,
            record,
            home,
            driver,
            thread: None,
            _claim: claim,
            thread_claim,
            shared: self.shared,
        })
    }
}

/// Fails unless thread `id` is saved, unarchived, in `home`.
fn check_thread(home: &Path, id: &str) -> Result<()> {
    let gone = |reason| Error::ThreadGone {
        thread_id: id.to_owned(),
        home: home.to_path_buf(),
        reason,
    };
    match crate::sessions::locate(&CodexHome::new(home), id)? {
        None => Err(gone(ThreadGoneReason::Deleted)),
        Some(s) if s.archived => Err(gone(ThreadGoneReason::Archived)),
        Some(_) => Ok(()),
    }
}

/// An open task: send it turns. See the [module docs](self).
#[derive(Debug)]
pub struct Task {
    registry: TaskRegistry,
    key: String,
    record: Option<TaskRecord>,
    home: PathBuf,
    driver: Driver,
    thread: Option<Thread>,
    _claim: Option<Claim>,
    thread_claim: Option<Claim>,
    shared: bool,
}

impl Task {
    /// The task key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The record as last written (`None` before the first turn of a new task).
    pub fn record(&self) -> Option<&TaskRecord> {
        self.record.as_ref()
    }

    /// The thread, once known.
    pub fn thread_id(&self) -> Option<&str> {
        self.record.as_ref().and_then(|r| r.thread_id.as_deref())
    }

    /// The home the task's thread lives in.
    pub fn codex_home(&self) -> &Path {
        &self.home
    }

    /// Writes the record after `f` changed it (creating it on first use).
    fn update(&mut self, f: impl FnOnce(&mut TaskRecord)) -> Result<()> {
        let t = now();
        let mut r = self.record.take().unwrap_or_else(|| TaskRecord {
            key: self.key.clone(),
            thread_id: None,
            codex_home: self.home.clone(),
            cwd: self.driver.cwd(),
            transport: self.driver.transport(),
            turns: 0,
            last_turn: None,
            thread_usage: None,
            created_at: t,
            updated_at: t,
            extra: Map::new(),
        });
        f(&mut r);
        r.updated_at = t;
        let res = self.registry.put(&r);
        self.record = Some(r);
        res
    }

    /// Records the thread id as soon as it is known, and claims the thread.
    fn thread_known(&mut self, id: &str) -> Result<()> {
        if self.thread_id() == Some(id) {
            return Ok(());
        }
        if !self.shared && self.thread_claim.is_none() {
            self.thread_claim = Some(self.registry.claim_thread(id)?);
        }
        self.update(|r| r.thread_id = Some(id.to_owned()))
    }

    fn turn_started(&mut self) -> Result<()> {
        let transport = self.driver.transport();
        let cwd = self.driver.cwd();
        self.update(|r| {
            r.turns += 1;
            r.transport = transport;
            if cwd.is_some() {
                r.cwd = cwd;
            }
            r.last_turn = Some(LastTurn {
                turn_id: None,
                state: TurnState::Running,
                started_at: now(),
                ended_at: None,
                final_message: None,
                usage: None,
                error: None,
            });
        })
    }

    fn turn_ended(&mut self, outcome: &Result<TurnSummary>, turn_id: Option<String>) -> Result<()> {
        self.update(|r| {
            if let Some(last) = &mut r.last_turn {
                last.ended_at = Some(now());
                last.turn_id = turn_id.or(last.turn_id.take());
                match outcome {
                    Ok(s) => {
                        last.state = TurnState::Completed;
                        last.final_message = s.final_message.clone();
                        last.usage = Some(s.usage);
                    }
                    Err(e) => {
                        last.state = TurnState::Failed;
                        last.error = Some(e.to_string());
                    }
                }
            }
        })
    }

    async fn send_exec(
        &mut self,
        template: Exec,
        prompt: &str,
        on_event: &mut (dyn FnMut(&ThreadEvent) + Send),
    ) -> Result<(TurnSummary, Usage)> {
        let mut exec = template.with_prompt(prompt);
        if let Some(id) = self.thread_id() {
            exec = exec.session(Session::Resume {
                target: ResumeTarget::Id(id.to_owned()),
                all: false,
            });
        }
        let resumed = self.thread_id().is_some();
        let mut stream = exec.stream().await?;
        let mut final_message = None;
        let mut reported: Option<Usage> = None;
        while let Some(ev) = stream.next_event().await {
            let ev = ev?;
            on_event(&ev);
            match ev {
                ThreadEvent::ThreadStarted(t) => self.thread_known(&t.thread_id)?,
                ThreadEvent::ItemCompleted(done) => {
                    if let ItemDetails::AgentMessage(m) = &done.item.details {
                        final_message = Some(m.text.clone());
                    }
                }
                ThreadEvent::TurnCompleted(t) => {
                    reported.get_or_insert_with(Usage::default).add(&t.usage)
                }
                _ => {}
            }
        }
        let reported = reported.unwrap_or_default();
        // A resumed exec reports the thread's totals: the turn's share is the difference.
        let before = self.record.as_ref().and_then(|r| r.thread_usage);
        let usage = match (resumed, before) {
            (true, Some(b)) => reported.since(&b),
            _ => reported,
        };
        let summary = TurnSummary {
            thread_id: self.thread_id().unwrap_or_default().to_owned(),
            final_message,
            usage,
            cost_usd: None,
        };
        let total = if resumed {
            reported
        } else {
            let mut t = before.unwrap_or_default();
            t.add(&reported);
            t
        };
        Ok((summary, total))
    }

    async fn send_app_server(&mut self, prompt: &str) -> Result<(TurnSummary, Option<String>)> {
        if self.thread.is_none() {
            let Driver::AppServer { server, params } = &self.driver else {
                return Err(Error::InvalidOptions("not an app-server task".into()));
            };
            let client = server.as_ref().clone().spawn().await?;
            let thread = match self.thread_id() {
                Some(id) => client.resume_thread(id).await?,
                None => client.start_thread(params.as_ref().clone()).await?,
            };
            let id = thread.id().to_owned();
            self.thread = Some(thread);
            self.thread_known(&id)?;
        }
        let Some(thread) = self.thread.as_mut() else {
            return Err(Error::InvalidOptions("no app-server thread".into()));
        };
        let out = thread.run(prompt).await?;
        Ok((
            TurnSummary {
                thread_id: out.thread_id,
                final_message: out.final_message,
                usage: out.turn_usage,
                cost_usd: None,
            },
            Some(out.turn_id),
        ))
    }

    /// Runs one turn on the task's thread (starting it on the first turn) and records it.
    pub async fn send(&mut self, prompt: &str) -> Result<TurnSummary> {
        self.send_with(prompt, |_| {}).await
    }

    /// [`send`](Self::send), showing `on_event` each event of the turn as it streams (exec
    /// transport; the app-server's notifications are not passed).
    pub async fn send_with<F>(&mut self, prompt: &str, mut on_event: F) -> Result<TurnSummary>
    where
        F: FnMut(&ThreadEvent) + Send,
    {
        self.turn_started()?;
        let (outcome, turn_id, total) = match self.driver.clone() {
            Driver::Exec(template) => {
                match self.send_exec(*template, prompt, &mut on_event).await {
                    Ok((s, total)) => (Ok(s), None, Some(total)),
                    Err(e) => (Err(e), None, None),
                }
            }
            Driver::AppServer { .. } => match self.send_app_server(prompt).await {
                Ok((s, id)) => (Ok(s), id, None),
                Err(e) => (Err(e), None, None),
            },
        };
        if let Some(total) = total {
            self.update(|r| r.thread_usage = Some(total))?;
        } else if let Ok(s) = &outcome {
            let turn = s.usage;
            self.update(|r| r.thread_usage.get_or_insert_with(Usage::default).add(&turn))?;
        }
        self.turn_ended(&outcome, turn_id)?;
        outcome
    }

    /// Shuts down the app-server (if one was started) and releases the claims.
    pub async fn close(mut self) -> Result<()> {
        if let Some(t) = self.thread.take() {
            t.client().clone().shutdown().await?;
        }
        Ok(())
    }
}

impl Conversation for Task {
    fn thread_id(&self) -> Option<&str> {
        Task::thread_id(self)
    }

    fn send(&mut self, prompt: &str) -> impl Future<Output = Result<TurnSummary>> + Send {
        Task::send(self, prompt)
    }
}

#[cfg(test)]
mod tests;
