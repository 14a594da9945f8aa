//! `codex-driver sessions ...`: the saved threads of a home, over the library's `sessions`.

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use codex_driver::sessions::manage::SessionManager;
use codex_driver::sessions::replay::Replay;
use codex_driver::sessions::{
    self, Archived, Backend, Query, SessionChange, SessionIndex, SessionInfo, SessionSource, SortBy,
};
use codex_driver::{CodexHome, SpawnOptions};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

/// Version of the JSON printed by `sessions` commands; bumped on incompatible changes.
const SCHEMA_VERSION: u32 = 1;

#[derive(Subcommand)]
pub enum SessionsCommand {
    /// List saved threads, most recently changed first.
    List(ListArgs),
    /// One thread: its details, its tokens and their cost (when the rate card prices its
    /// model), and its conversation.
    Show {
        /// A thread id, a unique id prefix, or a thread name.
        session: String,
        #[command(flatten)]
        common: Common,
        /// A rate card (TOML) merged over the built-in one (see `run --rates`).
        #[arg(long, value_name = "FILE", env = "CODEX_DRIVER_RATES")]
        rates: Option<PathBuf>,
    },
    /// Print a thread's saved turns as `codex exec --json` printed them (JSONL on stdout).
    Replay {
        /// A thread id, a unique id prefix, or a thread name.
        session: String,
        #[command(flatten)]
        common: Common,
    },
    /// Archive a thread (Codex moves it to archived_sessions/).
    Archive(Target),
    /// Unarchive a thread.
    Unarchive(Target),
    /// Delete a thread for good.
    Delete {
        #[command(flatten)]
        target: Target,
        /// Don't ask (required without a terminal).
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Name a thread.
    Rename {
        #[command(flatten)]
        target: Target,
        /// The new name.
        name: String,
    },
    /// Copy a thread into a new one (no turn is run); prints the new thread.
    Fork(Target),
    /// Queue a message as a thread's next turn (run when it is next resumed; Codex 0.169+).
    Queue {
        #[command(flatten)]
        target: Target,
        /// The message.
        message: String,
    },
    /// Print a JSON line per new, changed, archived or deleted thread until interrupted.
    Watch {
        #[command(flatten)]
        common: Common,
        /// Poll interval in milliseconds.
        #[arg(long, default_value_t = 500)]
        interval_ms: u64,
    },
    /// The TUI's prompt history (history.jsonl).
    History {
        #[command(flatten)]
        common: Common,
    },
}

#[derive(Args, Clone)]
pub struct Common {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// The CODEX_HOME to read (default: $CODEX_HOME, then ~/.codex).
    #[arg(long, value_name = "DIR")]
    codex_home: Option<PathBuf>,
    /// Where to read from: the state database when usable (auto), only it (db), or only the
    /// rollout files (files).
    #[arg(long, value_enum, default_value_t = BackendArg::Auto)]
    backend: BackendArg,
}

#[derive(Args, Clone)]
pub struct Target {
    /// A thread id, a unique id prefix, or a thread name.
    session: String,
    #[command(flatten)]
    common: Common,
    /// The Codex binary (default: $CODEX_BINARY, managed installs, then `codex` on PATH).
    #[arg(long, value_name = "PATH")]
    codex_binary: Option<PathBuf>,
}

#[derive(Args, Clone)]
pub struct ListArgs {
    #[command(flatten)]
    common: Common,
    /// At most this many.
    #[arg(long, default_value_t = 20)]
    limit: usize,
    /// Archived threads too.
    #[arg(long, conflicts_with = "archived")]
    all: bool,
    /// Only archived threads.
    #[arg(long)]
    archived: bool,
    /// Only threads whose working directory is DIR.
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,
    /// Only threads started from SOURCE (exec, cli, vscode, mcp, subagent, ...).
    #[arg(long, value_name = "SOURCE")]
    source: Option<String>,
    /// The order.
    #[arg(long, value_enum, default_value_t = SortArg::Updated)]
    sort: SortArg,
}

#[derive(Clone, Copy, ValueEnum)]
enum BackendArg {
    Auto,
    Db,
    Files,
}

#[derive(Clone, Copy, ValueEnum)]
enum SortArg {
    Updated,
    Created,
}

impl Common {
    fn home(&self) -> Result<CodexHome> {
        crate::home_or_default(self.codex_home.clone())
    }

    fn index(&self) -> Result<SessionIndex> {
        let backend = match self.backend {
            BackendArg::Auto => Backend::Auto,
            BackendArg::Db => Backend::StateDb,
            BackendArg::Files => Backend::Files,
        };
        Ok(SessionIndex::new(&self.home()?).backend(backend))
    }
}

impl Target {
    fn manager(&self) -> Result<SessionManager> {
        let binary = crate::BinaryArgs {
            codex_binary: self.codex_binary.clone(),
            no_path: false,
            no_install: true,
        }
        .resolver()
        .resolve()?
        .binary;
        let home = self.common.home()?;
        Ok(SessionManager::new(
            SpawnOptions::new()
                .binary(binary)
                .codex_home(home.path())
                .env_remove("RUST_BACKTRACE"),
        ))
    }
}

/// Writes a line to stdout (a closed pipe is an error main reports as status 141); `true`
/// to go on.
fn out(line: &str) -> Result<bool> {
    crate::out::line(format_args!("{line}"))?;
    Ok(true)
}

fn session_json(s: &SessionInfo) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("created_at".into(), json!(s.created_at()));
        o.insert("updated_at".into(), json!(s.updated_at()));
    }
    v
}

fn one_line(s: &SessionInfo) -> String {
    let title = s.name.as_deref().or(s.title.as_deref()).unwrap_or("");
    let title: String = title
        .lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(60)
        .collect();
    format!(
        "{}  {}  {:<8} {}{}  {}",
        s.thread_id,
        s.updated_at()
            .as_deref()
            .map_or("-", |t| &t[..19.min(t.len())]),
        s.source.as_ref().map_or("-", SessionSource::as_str),
        s.cwd
            .as_ref()
            .map_or("-".into(), |c| c.display().to_string()),
        if s.archived { " (archived)" } else { "" },
        title
    )
}

pub async fn run(cmd: SessionsCommand) -> Result<ExitCode> {
    match cmd {
        SessionsCommand::List(a) => list(&a),
        SessionsCommand::Show {
            session,
            common,
            rates,
        } => show(&session, &common, rates.as_deref()),
        SessionsCommand::Replay { session, common } => replay(&session, &common),
        SessionsCommand::Archive(t) => {
            let s = t.manager()?.archive(&t.session).await?;
            report(&t.common, "archived", &s)
        }
        SessionsCommand::Unarchive(t) => {
            let s = t.manager()?.unarchive(&t.session).await?;
            report(&t.common, "unarchived", &s)
        }
        SessionsCommand::Delete { target, yes } => delete(&target, yes).await,
        SessionsCommand::Rename { target, name } => {
            let s = target.manager()?.rename(&target.session, &name).await?;
            report(&target.common, "renamed", &s)
        }
        SessionsCommand::Fork(t) => {
            let s = t.manager()?.fork(&t.session).await?;
            report(&t.common, "forked into", &s)
        }
        SessionsCommand::Queue { target, message } => {
            let q = target.manager()?.queue(&target.session, &message).await?;
            if target.common.json {
                out(&json!({"schema_version": SCHEMA_VERSION, "queued": q}).to_string())?;
            } else {
                eprintln!("queued message {} for thread {}", q.id, q.thread_id);
            }
            Ok(ExitCode::SUCCESS)
        }
        SessionsCommand::Watch {
            common,
            interval_ms,
        } => watch(&common, interval_ms).await,
        SessionsCommand::History { common } => {
            let home = common.home()?;
            let h = sessions::history(&home)?;
            if common.json {
                out(&serde_json::to_string_pretty(&h)?)?;
            } else {
                for e in h {
                    if !out(&format!("{}  {}  {}", e.ts, e.session_id, e.text))? {
                        break;
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn list(a: &ListArgs) -> Result<ExitCode> {
    let index = a.common.index()?;
    let mut q = Query::new().limit(a.limit).sort(match a.sort {
        SortArg::Updated => SortBy::Updated,
        SortArg::Created => SortBy::Created,
    });
    if a.all {
        q = q.archived(Archived::Include);
    } else if a.archived {
        q = q.archived(Archived::Only);
    }
    if let Some(c) = &a.cwd {
        q = q.cwd(std::fs::canonicalize(c).unwrap_or_else(|_| c.clone()));
    }
    if let Some(s) = &a.source {
        q = q.source(
            SessionSource::from_value(&json!(s)).unwrap_or(SessionSource::Other(s.clone())),
        );
    }
    let list = index.list(&q)?;
    if a.common.json {
        let v: Vec<_> = list.iter().map(session_json).collect();
        out(&serde_json::to_string_pretty(&v)?)?;
    } else {
        for s in &list {
            if !out(&one_line(s))? {
                break;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn show(session: &str, common: &Common, rates: Option<&std::path::Path>) -> Result<ExitCode> {
    let s = common.index()?.find(session)?;
    let messages = sessions::transcript(&s.path)?;
    let usage = sessions::usage(&s.path)?;
    let pricing = crate::pricing::Pricing::for_model(rates, s.model.clone())?;
    if common.json {
        let mut v = session_json(&s);
        if let Some(o) = v.as_object_mut() {
            o.insert("usage".into(), serde_json::to_value(usage)?);
            let priced = usage
                .map(|u| pricing.json(&u))
                .unwrap_or_else(|| json!({"cost_usd": null, "rates_effective": null}));
            if let Some(p) = priced.as_object() {
                o.extend(p.clone());
            }
            o.insert("messages".into(), serde_json::to_value(&messages)?);
        }
        out(&serde_json::to_string_pretty(&v)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    out(&one_line(&s))?;
    if let Some(u) = usage {
        let cost = pricing
            .line(&u)
            .map(|l| format!(", {l}"))
            .unwrap_or_default();
        out(&format!(
            "tokens: {} input ({} cached), {} output{cost}",
            u.input_tokens, u.cached_input_tokens, u.output_tokens
        ))?;
    }
    for m in messages {
        let who = match m.role {
            sessions::Role::User => "user",
            _ => "codex",
        };
        if !out(&format!("{who}: {}", m.text))? {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn replay(session: &str, common: &Common) -> Result<ExitCode> {
    let s = common.index()?.find(session)?;
    let mut r = Replay::open(&s.path)?;
    for ev in r.by_ref() {
        if !out(&ev?.to_json_line())? {
            return Ok(ExitCode::SUCCESS);
        }
    }
    if let Some(cut) = r.truncated() {
        eprintln!(
            "warning: {} ends in half a line (byte {}, line {}): read up to there",
            s.path.display(),
            cut.offset,
            cut.line
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn report(common: &Common, what: &str, s: &SessionInfo) -> Result<ExitCode> {
    if common.json {
        out(&serde_json::to_string_pretty(&session_json(s))?)?;
    } else {
        eprintln!("{what} {}", s.thread_id);
    }
    Ok(ExitCode::SUCCESS)
}

async fn delete(t: &Target, yes: bool) -> Result<ExitCode> {
    use std::io::IsTerminal;
    let s = t.common.index()?.find(&t.session)?;
    if !yes {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!(
                "deleting {} needs --yes without a terminal to confirm on",
                s.thread_id
            );
        }
        eprint!(
            "delete thread {} ({})? [y/N] ",
            s.thread_id,
            s.title.as_deref().unwrap_or("")
        );
        let mut answer = String::new();
        std::io::stdin()
            .read_line(&mut answer)
            .context("reading the answer")?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("not deleted");
            return Ok(ExitCode::FAILURE);
        }
    }
    let id = t.manager()?.delete(&s.thread_id).await?;
    if t.common.json {
        out(&json!({"schema_version": SCHEMA_VERSION, "deleted": id}).to_string())?;
    } else {
        eprintln!("deleted {id}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn watch(common: &Common, interval_ms: u64) -> Result<ExitCode> {
    let index = common.index()?;
    let mut w = index.watch_every(std::time::Duration::from_millis(interval_ms.max(50)))?;
    eprintln!("watching {}; Ctrl-C to stop", index.home().path().display());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        let change = tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
            _ = term.recv() => return Ok(ExitCode::SUCCESS),
            c = w.next_change() => c,
        };
        let Some(change) = change else {
            return Ok(ExitCode::SUCCESS);
        };
        let change = match change {
            Ok(c) => c,
            Err(e) => {
                eprintln!("warning: {e}");
                continue;
            }
        };
        let (kind, session) = match &change {
            SessionChange::Added(s) => ("added", Some(s)),
            SessionChange::Updated(s) => ("updated", Some(s)),
            SessionChange::Archived(s) => ("archived", Some(s)),
            SessionChange::Unarchived(s) => ("unarchived", Some(s)),
            SessionChange::Removed(_) => ("removed", None),
            _ => ("changed", None),
        };
        let line = if common.json {
            json!({
                "schema_version": SCHEMA_VERSION,
                "change": kind,
                "thread_id": change.thread_id(),
                "session": session.map(session_json),
            })
            .to_string()
        } else {
            format!(
                "{kind:<10} {}",
                session.map_or(change.thread_id().to_owned(), one_line)
            )
        };
        if !out(&line)? {
            return Ok(ExitCode::SUCCESS);
        }
    }
}
