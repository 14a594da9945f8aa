//! `codex exec --json`: one turn, streamed as typed events.
//!
//! [`Exec`] is a builder. Building the argv ([`Exec::args`]) is separate from running it
//! ([`Exec::stream`], [`Exec::run`], [`Exec::run_typed`]), so every flag mapping is testable
//! without a process.
//!
//! The prompt always goes through stdin (no argv length limit) and stdin is then closed, so Codex
//! never blocks waiting for more input. Codex runs in its own process group; cancelling (by
//! token or by dropping the stream), an idle timeout or an overall timeout stops the whole group
//! (SIGTERM, a grace period, SIGKILL) and reaps it.
//!
//! ```no_run
//! # async fn demo() -> codex_driver::Result<()> {
//! use codex_driver::exec::{Exec, SandboxMode};
//! use std::time::Duration;
//!
//! let turn = Exec::new("List the files in this directory")
//!     .sandbox(SandboxMode::ReadOnly)
//!     .cd("/srv/repo")
//!     .idle_timeout(Duration::from_secs(120))
//!     .run()
//!     .await?;
//! println!("{}", turn.final_message.unwrap_or_default());
//! # Ok(()) }
//! ```
//!
//! Layout: [`flags`](self) holds the table of options (one entry per Codex flag, driving the
//! setters, the argv and the version gates); the stream, its supervisor task and the exit
//! classification live beside it; [`events`] holds the wire types of `--json`.

mod classify;
pub mod events;
mod flags;
mod stream;
mod supervisor;
#[cfg(test)]
mod tests;

pub use crate::flags::{FlagInfo, FlagValue};
pub(crate) use classify::config_error;
pub use flags::{Color, CyberAccessProgram, LocalProvider, SandboxMode};
pub use stream::{ExecStream, MAX_DIAGNOSTICS, TurnResult, TypedTurn};

/// How long Codex may keep running after closing its stdout before the run stops it and ends
/// with [`TimeoutKind::ExitAfterOutput`](crate::TimeoutKind::ExitAfterOutput): a Codex that
/// closed stdout and hangs must not hold a run without a deadline forever.
pub const EXIT_AFTER_EOF: std::time::Duration = std::time::Duration::from_secs(10);

use crate::error::{Error, Result};
use crate::flags::{Gate, Proof, Requirement};
use crate::probe::Capabilities;
use crate::process::{Leader, ReapGate, StderrTail};
use crate::spawn::{SpawnOptions, spawn_setters};
use flags::Flags;
use semver::Version;
use serde::de::DeserializeOwned;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use stream::{KillOnDrop, Shared};
use supervisor::{RunOptions, Supervisor, open_tee};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Which session the turn runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Session {
    /// A new thread (`codex exec`).
    New,
    /// Continue a thread (`codex exec resume`).
    Resume {
        /// Which thread.
        target: ResumeTarget,
        /// `--all`: with `Last`, consider sessions from every directory.
        all: bool,
    },
    /// Copy a thread into a new one and continue there (`codex exec fork ID`).
    Fork {
        /// Thread id (UUID) or name.
        id: String,
    },
    /// A code review of the working directory's repository (`codex exec review`), streamed
    /// like any turn; the review is the final message.
    Review(ReviewTarget),
}

/// What `exec review` reviews.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReviewTarget {
    /// `--uncommitted`: staged, unstaged and untracked changes.
    Uncommitted,
    /// `--base BRANCH`: the changes against a base branch.
    Base(String),
    /// `--commit SHA [--title TITLE]`: the changes of one commit.
    Commit {
        /// The commit.
        sha: String,
        /// Shown in the review summary.
        title: Option<String>,
    },
    /// The builder's prompt as custom review instructions (Codex takes no target with them).
    Custom,
}

/// The thread `exec resume` picks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResumeTarget {
    /// A thread id (UUID) or thread name.
    Id(String),
    /// `--last`: the most recent session.
    Last,
}

/// A turn through `codex exec --json`. See the [module docs](self).
#[derive(Debug, Clone)]
#[must_use = "an Exec does nothing until run() or stream() is awaited"]
pub struct Exec {
    prompt: String,
    session: Session,
    spawn: SpawnOptions,
    capabilities: Option<Arc<Capabilities>>,
    flags: Flags,
    runtime: RunOptions,
}

impl Exec {
    /// Every option of codex exec this builder has a setter for, in argv order, with what each
    /// takes: for front ends that expose them all from this one definition (the CLI's `run`).
    pub fn options() -> Vec<FlagInfo> {
        Flags::default().infos()
    }

    /// Sets the option `flag` (its long name, e.g. `--skip-git-repo-check`) from a word, as its
    /// setter would (`None` for a switch). A flag this builder doesn't know, or a value it
    /// rejects, is [`Error::InvalidOptions`] naming it.
    pub fn option(mut self, flag: &str, value: Option<&str>) -> crate::Result<Self> {
        if self.flags.set_arg(flag, value)? {
            return Ok(self);
        }
        Err(crate::Error::InvalidOptions(format!(
            "`{flag}` is not an option of codex exec this builder knows (pass it with other_option)"
        )))
    }

    /// A new thread with this prompt.
    pub fn new(prompt: impl Into<String>) -> Self {
        Self {
            prompt: prompt.into(),
            session: Session::New,
            spawn: SpawnOptions::new(),
            capabilities: None,
            flags: Flags::default(),
            runtime: RunOptions::default(),
        }
    }

    /// Continue thread `id` (UUID or name) with this prompt (`exec resume ID`).
    pub fn resume(id: impl Into<String>, prompt: impl Into<String>) -> Self {
        Self::new(prompt).session(Session::Resume {
            target: ResumeTarget::Id(id.into()),
            all: false,
        })
    }

    /// Continue the most recent thread (`exec resume --last`).
    pub fn resume_last(prompt: impl Into<String>) -> Self {
        Self::new(prompt).session(Session::Resume {
            target: ResumeTarget::Last,
            all: false,
        })
    }

    /// A code review (`exec review`) of `target`, in the working directory's repository
    /// (set it with `cd`). [`ReviewTarget::Custom`] reviews by the instructions of
    /// [`with_prompt`](Self::with_prompt).
    pub fn review(target: ReviewTarget) -> Self {
        Self::new(String::new()).session(Session::Review(target))
    }

    /// Fork thread `id` and continue the copy with this prompt (`exec fork ID`).
    pub fn fork(id: impl Into<String>, prompt: impl Into<String>) -> Self {
        Self::new(prompt).session(Session::Fork { id: id.into() })
    }

    /// Replaces the prompt.
    pub fn with_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = prompt.into();
        self
    }

    /// Sets the session kind.
    pub fn session(mut self, session: Session) -> Self {
        self.session = session;
        self
    }

    spawn_setters!();

    /// Guard options with probed capabilities (see [`Prober`](crate::probe::Prober)) instead of
    /// version numbers: an option is refused before spawning unless the binary's own
    /// `exec --help` lists it; `--json` degrades to `--experimental-json` when only that exists.
    pub fn capabilities(mut self, caps: Capabilities) -> Self {
        self.capabilities = Some(Arc::new(caps));
        self
    }

    /// Kill the run when stdout is silent this long.
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.runtime.idle_timeout = Some(d);
        self
    }

    /// Kill the run when it takes longer than this in all.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.runtime.timeout = Some(d);
        self
    }

    /// Time between SIGTERM and SIGKILL when stopping (default 3 s).
    pub fn kill_grace(mut self, d: Duration) -> Self {
        self.runtime.grace = d;
        self
    }

    /// Cancel the run when this token is cancelled.
    pub fn cancel_token(mut self, token: CancellationToken) -> Self {
        self.runtime.cancel = Some(token);
        self
    }

    /// Copy every stdout line, as received, to this file (created or truncated, mode 0600: it
    /// holds prompts and output). A symlink, a FIFO or other non-regular file, a file with other
    /// hard links or one of another user there is refused.
    pub fn tee_jsonl(mut self, path: impl Into<PathBuf>) -> Self {
        self.runtime.tee = Some(path.into());
        self
    }

    /// Events buffered between the reader and the consumer (default 64); when full, Codex's
    /// stdout is not read, so a slow consumer slows Codex instead of growing memory.
    pub fn channel_capacity(mut self, n: usize) -> Self {
        self.runtime.channel_capacity = n.max(1);
        self
    }

    /// Longest stdout line decoded (default 256 MiB); longer lines become diagnostics.
    pub fn max_line_bytes(mut self, n: usize) -> Self {
        self.runtime.max_line_bytes = n;
        self
    }

    /// Bytes of stderr kept for errors (default 64 KiB).
    pub fn stderr_tail_bytes(mut self, n: usize) -> Self {
        self.runtime.stderr_tail_bytes = n.max(1);
        self
    }

    /// Whether options newer than the binary are refused before spawning (default true; needs
    /// one `codex --version` per binary and process, only when such an option is set).
    pub fn check_versions(mut self, yes: bool) -> Self {
        self.runtime.check_versions = yes;
        self
    }

    /// The `--cd` directory set, if any.
    pub fn cd_ref(&self) -> Option<&Path> {
        self.flags.cd.as_deref()
    }

    /// The prompt.
    pub fn prompt(&self) -> &str {
        &self.prompt
    }

    /// Options set on this run that not every Codex has, with how to prove them: the table's,
    /// then those of the session's sub-command.
    fn gated_flags(&self) -> Vec<Gate> {
        let mut out = self.flags.gates(Proof::ExecFlag);
        match &self.session {
            Session::Fork { .. } => out.push(Gate {
                option: "exec fork",
                proof: Proof::ExecCommand("fork"),
                req: Requirement::AFTER_0_130,
            }),
            Session::Resume { all, .. } => {
                if *all {
                    out.push(Gate {
                        option: "exec resume --all",
                        proof: Proof::Version,
                        req: Requirement::AFTER_0_50,
                    });
                }
                if self.flags.output_schema.is_some() {
                    out.push(Gate {
                        option: "exec resume --output-schema",
                        proof: Proof::Version,
                        req: Requirement::AFTER_0_130,
                    });
                }
            }
            Session::Review(_) => out.push(Gate {
                option: "exec review",
                proof: Proof::ExecCommand("review"),
                req: Requirement::AFTER_0_50,
            }),
            Session::New => {}
        }
        out
    }

    /// Checks every gated option against `version`; the first one missing is an error.
    pub fn check_against(&self, version: &Version, binary: &Path) -> Result<()> {
        for g in self.gated_flags() {
            if !g.req.allows(version) {
                return Err(Error::Unsupported {
                    option: g.option.to_owned(),
                    required: g.req.describe(),
                    found: version.clone(),
                    binary: binary.to_path_buf(),
                });
            }
        }
        Ok(())
    }

    /// Checks every gated option against probed capabilities: flags and sub-commands must be
    /// listed by the binary's `exec --help`; the rest fall back to the version rule.
    pub fn check_capabilities(&self, caps: &Capabilities) -> Result<()> {
        let binary = || {
            self.spawn
                .binary
                .as_ref()
                .map(|b| b.path().to_path_buf())
                .unwrap_or_default()
        };
        for flag in self.spawn.other_flags() {
            if !caps.exec_flags.is_empty() && !caps.exec_flags.contains(flag.as_str()) {
                return Err(Error::Unsupported {
                    option: flag,
                    required: "a Codex whose `exec --help` lists it".into(),
                    found: caps.version.clone(),
                    binary: binary(),
                });
            }
        }
        for g in self.gated_flags() {
            let ok = g.proven_by(caps);
            if !ok {
                return Err(Error::Unsupported {
                    option: g.option.to_owned(),
                    required: format!(
                        "{}; not listed by this binary's `exec --help`",
                        g.req.describe()
                    ),
                    found: caps.version.clone(),
                    binary: binary(),
                });
            }
        }
        Ok(())
    }

    /// The argv after the binary, exactly as it will be passed. The prompt is not in it: it
    /// goes through stdin (the `-` argument).
    pub fn args(&self) -> Result<Vec<OsString>> {
        let prompt_read =
            !matches!(&self.session, Session::Review(t) if *t != ReviewTarget::Custom);
        if self.prompt.is_empty() && prompt_read {
            return Err(Error::InvalidOptions("the prompt is empty".into()));
        }
        if !self.prompt.is_empty() && !prompt_read {
            return Err(Error::InvalidOptions(
                "exec review takes no prompt with --uncommitted, --base or --commit (use ReviewTarget::Custom)".into(),
            ));
        }
        self.flags.validate()?;
        // `--experimental-json` is the older spelling, still accepted as a hidden alias.
        let json = match &self.capabilities {
            Some(c) if !c.exec_flags.contains("--json") && !c.exec_flags.is_empty() => {
                "--experimental-json"
            }
            _ => "--json",
        };
        let mut a: Vec<OsString> = vec!["exec".into(), json.into()];
        a.extend(self.spawn.common_args());
        a.extend(self.flags.args());
        a.extend(self.spawn.other_options.iter().cloned());
        // Every option above precedes the sub-command: `exec resume`/`exec fork` accept only a
        // subset after it (no -s, -C, -p, --add-dir, --color, --oss) but honour all of them before.
        match &self.session {
            Session::New => {}
            Session::Resume { target, all } => {
                a.push("resume".into());
                if *all {
                    a.push("--all".into());
                }
                match target {
                    ResumeTarget::Last => a.push("--last".into()),
                    ResumeTarget::Id(id) => a.push(session_id(id)?.into()),
                }
            }
            Session::Fork { id } => {
                a.push("fork".into());
                a.push(session_id(id)?.into());
            }
            Session::Review(target) => {
                a.push("review".into());
                let word = |flag: &str, v: &str| -> Result<OsString> {
                    if v.is_empty() || v.starts_with('-') {
                        return Err(Error::InvalidOptions(format!(
                            "`{v}` is not a value for exec review {flag}"
                        )));
                    }
                    Ok(format!("{flag}={v}").into())
                };
                match target {
                    ReviewTarget::Uncommitted => a.push("--uncommitted".into()),
                    ReviewTarget::Base(b) => a.push(word("--base", b)?),
                    ReviewTarget::Commit { sha, title } => {
                        a.push(word("--commit", sha)?);
                        if let Some(t) = title {
                            let mut w = OsString::from("--title=");
                            w.push(t);
                            a.push(w);
                        }
                    }
                    ReviewTarget::Custom => {}
                }
                if !prompt_read {
                    return Ok(a);
                }
            }
        }
        a.push("-".into());
        Ok(a)
    }

    /// The configured, not yet spawned, command (argv, env, stdio, process group).
    pub fn command(&self) -> Result<tokio::process::Command> {
        self.spawn.check_overrides()?;
        let binary = self.spawn.resolve_binary()?;
        self.turn_command(&binary)
    }

    /// The command for `binary`: Codex's credential variables kept from the model's commands
    /// unless the turn runs on a remote app-server (`--remote`).
    fn turn_command(&self, binary: &crate::Binary) -> Result<tokio::process::Command> {
        let args = self.args()?;
        Ok(match self.flags.remote {
            Some(_) => self.spawn.command(binary, &args),
            None => self.spawn.turn_command(binary, &args),
        })
    }

    /// The files the options name, checked before Codex starts: Codex skips a missing image
    /// without a word, and fails on a missing schema or last-message directory with a message
    /// in its stderr only. Relative paths are checked against the working directory, and only
    /// when no `--cd` moves Codex elsewhere.
    fn check_paths(&self) -> Result<()> {
        let cwd = self.spawn.current_dir.clone();
        let at = |p: &std::path::Path| -> Option<PathBuf> {
            match (p.is_absolute(), &cwd, self.flags.cd.is_some()) {
                (true, _, _) => Some(p.to_path_buf()),
                (false, _, true) => None,
                (false, Some(dir), false) => Some(dir.join(p)),
                (false, None, false) => Some(p.to_path_buf()),
            }
        };
        for image in &self.flags.image {
            if let Some(path) = at(image)
                && !path.is_file()
            {
                return Err(Error::InvalidOptions(format!(
                    "the image {} does not exist or is not a file",
                    path.display()
                )));
            }
        }
        if let Some(path) = self.flags.output_schema.as_deref().and_then(at) {
            let text = std::fs::read(&path).map_err(|e| {
                Error::InvalidOptions(format!(
                    "the output schema {} can't be read: {e}",
                    path.display()
                ))
            })?;
            serde_json::from_slice::<serde_json::Value>(&text).map_err(|e| {
                Error::InvalidOptions(format!(
                    "the output schema {} is not JSON: {e}",
                    path.display()
                ))
            })?;
        }
        if let Some(path) = self.flags.output_last_message.as_deref().and_then(at)
            && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
            && !dir.is_dir()
        {
            return Err(Error::InvalidOptions(format!(
                "the directory {} of the last-message file does not exist",
                dir.display()
            )));
        }
        Ok(())
    }

    /// Spawns Codex and returns the event stream.
    pub async fn stream(self) -> Result<ExecStream> {
        let binary = self.spawn.binary_or_install().await?;
        if self.runtime.check_versions {
            match &self.capabilities {
                Some(caps) => {
                    let allow = self.spawn.allow_unsupported;
                    crate::spawn::admit_version(&caps.version, binary.path(), allow)?;
                    self.check_capabilities(caps)?;
                }
                None => {
                    // The probe honours the caller's cancel token like the run itself.
                    let v = match &self.runtime.cancel {
                        Some(t) => tokio::select! {
                            v = self.spawn.admit(&binary) => v?,
                            _ = t.cancelled() => return Err(Error::Cancelled),
                        },
                        None => self.spawn.admit(&binary).await?,
                    };
                    if let Some(v) = v {
                        self.check_against(&v, binary.path())?;
                    }
                }
            }
        }
        self.spawn.check()?;
        self.check_paths()?;
        let mut cmd = self.turn_command(&binary)?;
        let rt = self.runtime.clone();
        let tee = match &rt.tee {
            Some(p) => Some(tokio::fs::File::from_std(open_tee(p).map_err(|e| {
                Error::io(format!("creating tee file {}", p.display()), e)
            })?)),
            None => None,
        };
        let (mut child, tag) =
            crate::process::spawn_tagged(&mut cmd).map_err(|source| Error::Spawn {
                path: binary.path().to_path_buf(),
                source,
            })?;
        let pgid = child.id().unwrap_or(0);
        tracing::debug!(pid = pgid, binary = %binary.path().display(), "codex exec started");

        let stdin = child.stdin.take();
        let prompt = self.prompt;
        tokio::spawn(async move {
            if let Some(mut stdin) = stdin {
                // A write error means Codex exited early; the exit status says why.
                let _ = stdin.write_all(prompt.as_bytes()).await;
                let _ = stdin.shutdown().await;
            }
        });
        let tail = StderrTail::new(rt.stderr_tail_bytes);
        let stderr_task = child
            .stderr
            .take()
            .map(|e| tokio::spawn(tail.clone().drain(e)));
        let stdout = child.stdout.take();
        if let Some(out) = &stdout {
            crate::process::widen_pipe(out);
        }

        let token = rt
            .cancel
            .as_ref()
            .map(CancellationToken::child_token)
            .unwrap_or_default();
        let (tx, rx) = mpsc::channel(rt.channel_capacity);
        let shared = Arc::new(Shared::default());
        let done = Arc::new(ReapGate::default());
        let sup = Supervisor {
            leader: Leader::new(child).reap_gate(done.clone()).tagged(Some(tag)),
            stdout,
            stderr_task,
            tail: tail.clone(),
            tx,
            token: token.clone(),
            rt,
            tee,
            shared: shared.clone(),
            done: done.clone(),
        };
        tokio::spawn(sup.run());
        Ok(ExecStream::new(
            rx,
            shared,
            tail,
            token,
            KillOnDrop { pgid, done },
        ))
    }

    /// Runs the turn to the end and collects the result.
    pub async fn run(self) -> Result<TurnResult> {
        self.stream().await?.collect_result().await
    }

    /// Runs the turn with an output schema generated from `T` and decodes the final message.
    pub async fn run_typed<T>(self) -> Result<TypedTurn<T>>
    where
        T: schemars::JsonSchema + DeserializeOwned,
    {
        let schema = crate::schema::strict_schema_for::<T>();
        let file = tempfile::Builder::new()
            .prefix("codex-output-schema-")
            .suffix(".json")
            .tempfile()
            .map_err(|e| Error::io("creating the output schema file", e))?;
        std::fs::write(file.path(), schema.to_string())
            .map_err(|e| Error::io(format!("writing {}", file.path().display()), e))?;
        let turn = self.output_schema(file.path()).run().await?;
        drop(file);
        let text = turn.final_message.clone().ok_or(Error::NoFinalMessage)?;
        let value = serde_json::from_str(&text).map_err(|source| Error::StructuredOutput {
            type_name: std::any::type_name::<T>(),
            text,
            source,
        })?;
        Ok(TypedTurn { value, turn })
    }
}

/// A session id or name as the sub-command's positional argument: never empty, never an option.
fn session_id(id: &str) -> Result<&str> {
    if id.is_empty() || id.starts_with('-') {
        return Err(Error::InvalidOptions(format!("invalid session id `{id}`")));
    }
    Ok(id)
}
