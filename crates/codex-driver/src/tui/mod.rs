//! The interactive TUI: `codex [PROMPT]`, `codex resume`, `codex fork`, started in the caller's
//! terminal, with the same typed options as exec plus the TUI's own.
//!
//! [`Tui`] builds the argv ([`Tui::args`], unit-tested without a process) and the command
//! ([`Tui::command`]: the terminal inherited, in the caller's process group so it can read the
//! keyboard). [`Tui::run`] starts it, waits for the user to quit, and returns what happened: the
//! exit status and the thread the TUI worked on, read from the session it saved, so the caller
//! can resume it later by id.
//!
//! No background process outlives the TUI by default: since 0.169 the TUI starts a shared
//! app-server daemon (and copies the whole binary into `CODEX_HOME/packages/`) unless given
//! `--no-daemon`, which [`Tui`] passes whenever the binary has it. When a daemon runs anyway
//! (allowed with [`Tui::daemon`], or a release that starts one without the flag),
//! [`TuiOutcome::daemon`] says so and [`stop_daemon`] stops it.
//!
//! ```no_run
//! # async fn demo() -> codex_driver::Result<()> {
//! use codex_driver::tui::Tui;
//!
//! let outcome = Tui::new()
//!     .with_prompt("Explain this repository")
//!     .codex_home("/home/me/.codex")
//!     .cd("/srv/repo")
//!     .run()
//!     .await?;
//! if let Some(id) = &outcome.thread_id {
//!     println!("continue with: codex resume {id}");
//! }
//! # Ok(()) }
//! ```
//!
//! Driving the TUI from a program (tests, recordings) works the same way inside a
//! pseudo-terminal: take a [`Launch`] with [`Tui::prepare`], spawn [`Tui::command`], and call
//! [`Launch::finish`] after the exit. The test kit's `Terminal` runs such a command.

mod flags;

pub use crate::flags::{FlagInfo, FlagValue};
pub use flags::AskForApproval;

use crate::error::{Error, Result};
use crate::exec::ResumeTarget;
use crate::flags::{Gate, Proof, Requirement};
use crate::home::CodexHome;
use crate::probe::{Capabilities, Prober};
use crate::sessions::{Archived, Query, SessionIndex, SessionInfo, SortBy};
use crate::spawn::{SpawnOptions, spawn_setters};
use flags::Flags;
use semver::Version;
use serde::Serialize;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Which session the TUI opens.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TuiSession {
    /// A new thread (`codex`).
    New,
    /// Continue a thread (`codex resume`).
    Resume {
        /// Which one.
        target: ResumeTarget,
        /// `--all`: don't limit `--last` (and the picker) to the working directory.
        all: bool,
        /// `--include-non-interactive`: let `--last` pick exec and app-server threads too.
        include_non_interactive: bool,
    },
    /// Copy a thread and continue in the copy (`codex fork`).
    Fork {
        /// Which one.
        target: ResumeTarget,
        /// `--all`.
        all: bool,
    },
}

/// The interactive TUI: see the [module docs](self).
#[derive(Debug, Clone)]
#[must_use = "a Tui does nothing until run() is awaited"]
pub struct Tui {
    prompt: Option<String>,
    session: TuiSession,
    spawn: SpawnOptions,
    flags: Flags,
    daemon: bool,
    capabilities: Option<Arc<Capabilities>>,
}

impl Default for Tui {
    fn default() -> Self {
        Self::new()
    }
}

impl Tui {
    /// Every option of the TUI (`codex`) this builder has a setter for, in argv order, with what each
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
            "`{flag}` is not an option of the TUI (`codex`) this builder knows (pass it with other_option)"
        )))
    }

    /// A new thread, no prompt (the user types one).
    pub fn new() -> Self {
        Self {
            prompt: None,
            session: TuiSession::New,
            spawn: SpawnOptions::new(),
            flags: Flags::default(),
            daemon: false,
            capabilities: None,
        }
    }

    /// Continue thread `id` (a UUID or a thread name).
    pub fn resume(id: impl Into<String>) -> Self {
        Self::new().session(TuiSession::Resume {
            target: ResumeTarget::Id(id.into()),
            all: false,
            include_non_interactive: false,
        })
    }

    /// Continue the most recent interactive thread of the working directory (`--last`).
    pub fn resume_last() -> Self {
        Self::new().session(TuiSession::Resume {
            target: ResumeTarget::Last,
            all: false,
            include_non_interactive: false,
        })
    }

    /// Fork thread `id` and continue in the fork.
    pub fn fork(id: impl Into<String>) -> Self {
        Self::new().session(TuiSession::Fork {
            target: ResumeTarget::Id(id.into()),
            all: false,
        })
    }

    /// The session to open.
    pub fn session(mut self, session: TuiSession) -> Self {
        self.session = session;
        self
    }

    /// The first prompt, submitted as the TUI starts (it goes in argv: the terminal is the
    /// TUI's stdin).
    pub fn with_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.prompt = Some(prompt.into());
        self
    }

    /// Allow the TUI's background app-server daemon (default: no, `--no-daemon` is passed
    /// where the binary has it). A daemon outlives the TUI; [`TuiOutcome::daemon`] reports it.
    pub fn daemon(mut self, allow: bool) -> Self {
        self.daemon = allow;
        self
    }

    /// Use these capabilities (else [`run`](Self::run) probes the binary, cached per binary).
    pub fn capabilities(mut self, caps: Capabilities) -> Self {
        self.capabilities = Some(Arc::new(caps));
        self
    }

    spawn_setters!();

    /// Whether `--no-daemon` goes in argv: wanted, and the binary has it (assumed when its
    /// capabilities are not known).
    fn pass_no_daemon(&self) -> bool {
        if self.daemon {
            return false;
        }
        match &self.capabilities {
            Some(c) => NO_DAEMON.proven_by(c),
            None => true,
        }
    }

    fn gated(&self) -> Vec<Gate> {
        let mut out = self.flags.gates(Proof::TopFlag);
        match &self.session {
            TuiSession::Fork { .. } => out.push(Gate {
                option: "fork",
                proof: Proof::Version,
                req: Requirement::AFTER_0_50,
            }),
            TuiSession::Resume {
                include_non_interactive: true,
                ..
            } => out.push(Gate {
                option: "resume --include-non-interactive",
                proof: Proof::Version,
                req: Requirement::AFTER_0_130,
            }),
            _ => {}
        }
        // 0.130 reads the prompt after `resume --last` as a session id.
        if let TuiSession::Resume {
            target: ResumeTarget::Last,
            ..
        } = &self.session
            && self.prompt.is_some()
        {
            out.push(Gate {
                option: "resume --last with a prompt",
                proof: Proof::Version,
                req: Requirement::AFTER_0_130,
            });
        }
        out
    }

    /// Checks every option set against `version` (before spawning anything).
    pub fn check_against(&self, version: &Version, binary: &Path) -> Result<()> {
        for g in self.gated() {
            if !g.req.allows(version) {
                return Err(unsupported(&g, version, binary));
            }
        }
        Ok(())
    }

    /// Checks every option set against probed capabilities: flags must be listed by the
    /// binary's `codex --help`.
    pub fn check_capabilities(&self, caps: &Capabilities) -> Result<()> {
        let binary = self
            .spawn
            .binary
            .as_ref()
            .map(|b| b.path().to_path_buf())
            .unwrap_or_default();
        for g in self.gated() {
            if !g.proven_by(caps) {
                return Err(unsupported(&g, &caps.version, &binary));
            }
        }
        Ok(())
    }

    /// The argv after the binary: the sub-command (`resume`, `fork`), every option, then `--`
    /// and the positionals (so a prompt starting with `-` is not read as a flag).
    pub fn args(&self) -> Result<Vec<OsString>> {
        self.flags.validate()?;
        let mut a: Vec<OsString> = Vec::new();
        let (target, all) = match &self.session {
            TuiSession::New => (None, false),
            TuiSession::Resume { target, all, .. } => {
                a.push("resume".into());
                (Some(target), *all)
            }
            TuiSession::Fork { target, all } => {
                a.push("fork".into());
                (Some(target), *all)
            }
        };
        a.extend(self.spawn.common_args());
        a.extend(self.flags.args());
        if self.pass_no_daemon() {
            a.push("--no-daemon".into());
        }
        if all {
            a.push("--all".into());
        }
        if let TuiSession::Resume {
            include_non_interactive: true,
            ..
        } = &self.session
        {
            a.push("--include-non-interactive".into());
        }
        if target == Some(&ResumeTarget::Last) {
            a.push("--last".into());
        }
        a.extend(self.spawn.other_options.iter().cloned());
        let mut positionals: Vec<OsString> = Vec::new();
        if let Some(ResumeTarget::Id(id)) = target {
            if id.is_empty() {
                return Err(Error::InvalidOptions("the session id is empty".into()));
            }
            positionals.push(id.into());
        }
        if let Some(p) = &self.prompt {
            if p.is_empty() {
                return Err(Error::InvalidOptions("the prompt is empty".into()));
            }
            positionals.push(p.into());
        }
        if !positionals.is_empty() {
            a.push("--".into());
            a.extend(positionals);
        }
        Ok(a)
    }

    /// The command, not started: this binary and argv, the configured environment and working
    /// directory, and the caller's terminal as stdin, stdout and stderr. It stays in the
    /// caller's process group: a TUI must be in the terminal's foreground group to read keys.
    pub fn command(&self) -> Result<std::process::Command> {
        self.spawn.check_overrides()?;
        let binary = self.spawn.resolve_binary()?;
        let mut cmd = std::process::Command::new(binary.path());
        cmd.args(self.args()?);
        cmd.env_clear()
            .envs(self.spawn.env.resolve(std::env::vars_os()));
        if let Some(dir) = &self.spawn.current_dir {
            cmd.current_dir(dir);
        }
        Ok(cmd)
    }

    /// The home the TUI will use: the one set, else `$CODEX_HOME`, else `~/.codex`.
    fn home(&self) -> Result<CodexHome> {
        self.spawn.effective_home()
    }

    /// Resolves the session named (a unique id prefix or a name, which Codex does not take)
    /// to its full id, and notes what is needed to tell afterwards which thread the TUI worked
    /// on and whether it left a daemon. Call it just before spawning
    /// [`command`](Self::command).
    pub fn prepare(&mut self) -> Result<Launch> {
        self.spawn.check()?;
        let home = self.home()?;
        if let TuiSession::Resume {
            target: ResumeTarget::Id(id),
            ..
        }
        | TuiSession::Fork {
            target: ResumeTarget::Id(id),
            ..
        } = &mut self.session
            && let Ok(found) = SessionIndex::new(&home).find(id)
        {
            *id = found.thread_id;
        }
        let cwd = self
            .flags
            .cd
            .clone()
            .or_else(|| self.spawn.current_dir.clone())
            .map(Ok)
            .unwrap_or_else(std::env::current_dir)
            .map_err(|e| Error::io("finding the working directory", e))?;
        let cwd = std::fs::canonicalize(&cwd).unwrap_or(cwd);
        let opens = match &self.session {
            TuiSession::Resume {
                target: ResumeTarget::Id(id),
                ..
            } => Opens::Known(id.clone()),
            TuiSession::Resume { .. } => Opens::Recent,
            TuiSession::New | TuiSession::Fork { .. } => Opens::Created,
        };
        Ok(Launch {
            daemon_before: daemon_pid(&home),
            home,
            cwd,
            started_ms: now_ms(),
            opens,
        })
    }

    /// Starts the TUI in this terminal, waits for it to exit, and reports what happened.
    /// Refuses, before starting anything, options newer than the binary. Dropping the future
    /// kills the TUI.
    pub async fn run(mut self) -> Result<TuiOutcome> {
        let binary = self.spawn.binary_or_install().await?;
        if self.capabilities.is_none() {
            self.capabilities = Some(Arc::new(Prober::new().probe(&binary).await?));
        }
        if let Some(caps) = &self.capabilities {
            let allow = self.spawn.allow_unsupported;
            crate::spawn::admit_version(&caps.version, binary.path(), allow)?;
            self.check_capabilities(caps)?;
        }
        let launch = self.prepare()?;
        let mut cmd = tokio::process::Command::from(self.command()?);
        cmd.kill_on_drop(true);
        let mut child = crate::process::spawn(&mut cmd).map_err(|source| Error::Spawn {
            path: binary.path().to_path_buf(),
            source,
        })?;
        let status = child
            .wait()
            .await
            .map_err(|e| Error::io("waiting for the TUI", e))?;
        launch.finish(status)
    }
}

fn unsupported(g: &Gate, version: &Version, binary: &Path) -> Error {
    Error::Unsupported {
        option: g.option.to_owned(),
        required: g.req.describe(),
        found: version.clone(),
        binary: binary.to_path_buf(),
    }
}

const NO_DAEMON: Gate = Gate {
    option: "--no-daemon",
    proof: Proof::TopFlag("--no-daemon"),
    req: Requirement::AFTER_0_130,
};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Which thread a run works on, as far as known before it starts.
#[derive(Debug, Clone)]
enum Opens {
    /// This one (resumed by id).
    Known(String),
    /// One started during the run (new, forked).
    Created,
    /// The most recent one (`resume --last`).
    Recent,
}

/// What [`Tui::prepare`] noted before the TUI started.
#[derive(Debug, Clone)]
pub struct Launch {
    home: CodexHome,
    cwd: PathBuf,
    started_ms: i64,
    opens: Opens,
    daemon_before: Option<u32>,
}

/// A background app-server daemon the TUI left running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DaemonInfo {
    /// Its pid.
    pub pid: u32,
    /// Its pid file (`CODEX_HOME/app-server-daemon/daemon.pid`).
    pub pid_file: PathBuf,
    /// It was started by this run (not already running before it).
    pub started_by_this_run: bool,
}

/// How a TUI run ended.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TuiOutcome {
    /// The TUI's exit status.
    pub status: std::process::ExitStatus,
    /// The thread it worked on, when one was saved (none if the user quit before sending a
    /// prompt).
    pub thread_id: Option<String>,
    /// That thread's saved session.
    pub session: Option<SessionInfo>,
    /// A daemon left running, if any.
    pub daemon: Option<DaemonInfo>,
}

impl Launch {
    /// After the TUI exited with `status`: the thread it worked on (the resumed one, else the
    /// most recently changed thread started in its working directory since the launch) and
    /// any daemon left running.
    pub fn finish(&self, status: std::process::ExitStatus) -> Result<TuiOutcome> {
        let index = SessionIndex::new(&self.home);
        // A second of slack: the database stores whole seconds for some times.
        let since = self.started_ms - 1000;
        let session = match &self.opens {
            Opens::Known(id) => index.get(id)?,
            Opens::Created | Opens::Recent => index
                .list(
                    &Query::new()
                        .archived(Archived::Include)
                        .cwd(&self.cwd)
                        .sort(SortBy::Updated)
                        .limit(20),
                )?
                .into_iter()
                .filter(|s| s.updated_at_ms.unwrap_or(0) >= since)
                // New and forked threads start during the run; `--last` continues an old one.
                .find(|s| {
                    matches!(self.opens, Opens::Recent) || s.created_at_ms.unwrap_or(0) >= since
                }),
        };
        let daemon = daemon_pid(&self.home).map(|pid| DaemonInfo {
            pid,
            pid_file: daemon_dir(&self.home).join("daemon.pid"),
            started_by_this_run: self.daemon_before != Some(pid),
        });
        Ok(TuiOutcome {
            status,
            thread_id: session.as_ref().map(|s| s.thread_id.clone()),
            session,
            daemon,
        })
    }
}

fn daemon_dir(home: &CodexHome) -> PathBuf {
    home.path().join("app-server-daemon")
}

/// A live process recorded in a daemon pid file (`{"pid", "processIdentity": {"startTicks"}}`):
/// the pid must be alive and, when the file records its start time, still be that process (not
/// a recycled pid).
fn live_pid(file: &Path) -> Option<u32> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    let pid = u32::try_from(v.get("pid")?.as_u64()?).ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the `(comm)`, which may hold spaces: state is field 3, starttime 22.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    let ticks = v
        .get("processIdentity")
        .and_then(|i| i.get("startTicks"))
        .and_then(serde_json::Value::as_u64);
    if let Some(t) = ticks
        && fields.get(19).and_then(|f| f.parse::<u64>().ok()) != Some(t)
    {
        return None;
    }
    Some(pid)
}

fn daemon_pid(home: &CodexHome) -> Option<u32> {
    live_pid(&daemon_dir(home).join("daemon.pid"))
}

/// Stops the app-server daemon of the home in `spawn` (`codex app-server daemon stop`) and
/// its update loop, which that command leaves running. Nothing running is not an error.
pub async fn stop_daemon(spawn: &SpawnOptions) -> Result<()> {
    let binary = spawn.binary_or_install().await?;
    let home = spawn.effective_home()?;
    if daemon_pid(&home).is_some() {
        let args: Vec<OsString> = ["app-server", "daemon", "stop"]
            .into_iter()
            .map(OsString::from)
            .collect();
        let mut cmd = spawn.command(&binary, &args);
        cmd.env_remove("RUST_BACKTRACE");
        let out = crate::process::run_command_bounded(cmd, Duration::from_secs(30))
            .await
            .map_err(|source| Error::Spawn {
                path: binary.path().to_path_buf(),
                source,
            })?;
        match out {
            Some(o) if o.status.success() => {}
            Some(o) => {
                return Err(Error::Command {
                    command: "app-server daemon stop".into(),
                    code: o.status.code(),
                    message: String::from_utf8_lossy(&o.stderr).trim().to_owned(),
                });
            }
            None => {
                return Err(Error::Command {
                    command: "app-server daemon stop".into(),
                    code: None,
                    message: "no answer within 30 s".into(),
                });
            }
        }
    }
    stop_updater(&home);
    Ok(())
}

/// Ends the daemon's update loop of `home`, if one runs (`daemon stop` leaves it behind).
pub(crate) fn stop_updater(home: &CodexHome) {
    if let Some(pid) = live_pid(&daemon_dir(home).join("daemon-updater.pid"))
        && let Ok(pid) = i32::try_from(pid)
    {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::SandboxMode;

    fn words(t: &Tui) -> Vec<String> {
        t.args()
            .unwrap()
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn argv_new_resume_fork() {
        assert_eq!(words(&Tui::new()), ["--no-daemon"]);
        assert_eq!(
            words(
                &Tui::new()
                    .with_prompt("-x: fix it")
                    .model("gpt-5.5")
                    .sandbox(SandboxMode::WorkspaceWrite)
                    .ask_for_approval(AskForApproval::OnRequest)
                    .search(true)
                    .no_alt_screen(true)
                    .remote("ws://127.0.0.1:4500")
                    .remote_auth_token_env("TOKEN_VAR")
                    .config("model_reasoning_effort", "high")
            ),
            [
                "-c",
                "model_reasoning_effort=\"high\"",
                "--model",
                "gpt-5.5",
                "--sandbox",
                "workspace-write",
                "--ask-for-approval",
                "on-request",
                "--search",
                "--no-alt-screen",
                "--remote",
                "ws://127.0.0.1:4500",
                "--remote-auth-token-env",
                "TOKEN_VAR",
                "--no-daemon",
                "--",
                "-x: fix it"
            ]
        );
        assert_eq!(
            words(&Tui::resume("019a-id").with_prompt("go on").daemon(true)),
            ["resume", "--", "019a-id", "go on"]
        );
        assert_eq!(
            words(&Tui::resume_last().session(TuiSession::Resume {
                target: ResumeTarget::Last,
                all: true,
                include_non_interactive: true
            })),
            [
                "resume",
                "--no-daemon",
                "--all",
                "--include-non-interactive",
                "--last"
            ]
        );
        assert_eq!(
            words(&Tui::fork("abc")),
            ["fork", "--no-daemon", "--", "abc"]
        );
        assert!(matches!(
            Tui::new().with_prompt("").args(),
            Err(Error::InvalidOptions(_))
        ));
        assert!(matches!(
            Tui::new().profile("../evil").args(),
            Err(Error::InvalidOptions(_) | Error::Home { .. })
        ));
    }

    fn caps(version: &str, top: &[&str]) -> Capabilities {
        serde_json::from_value(serde_json::json!({
            "version": version, "features": [], "commands": [], "exec_flags": [],
            "exec_commands": [], "top_flags": top, "probed_at": 0
        }))
        .unwrap()
    }

    #[test]
    fn no_daemon_only_where_the_binary_has_it() {
        let old = caps("0.130.0", &["--model", "--search"]);
        assert_eq!(
            words(&Tui::new().capabilities(old.clone())),
            Vec::<String>::new()
        );
        let new = caps("0.169.0", &["--model", "--no-daemon"]);
        assert_eq!(words(&Tui::new().capabilities(new)), ["--no-daemon"]);
        // A cache without the top-level flags falls back to the version.
        assert_eq!(
            words(&Tui::new().capabilities(caps("0.169.0", &[]))),
            ["--no-daemon"]
        );
        let e = Tui::new()
            .worktree(true)
            .check_capabilities(&old)
            .unwrap_err();
        assert!(
            matches!(&e, Error::Unsupported { option, found, .. } if option == "--worktree" && found.to_string() == "0.130.0"),
            "{e}"
        );
        let e = Tui::new()
            .strict_config(true)
            .check_against(&Version::new(0, 130, 0), Path::new("/c"))
            .unwrap_err();
        assert!(matches!(&e, Error::Unsupported { option, .. } if option == "--strict-config"));
        let e = Tui::resume_last()
            .with_prompt("go on")
            .check_capabilities(&old)
            .unwrap_err();
        assert!(
            matches!(&e, Error::Unsupported { option, .. } if option == "resume --last with a prompt")
        );
        assert!(Tui::resume_last().check_capabilities(&old).is_ok());
        assert!(Tui::new().search(true).check_capabilities(&old).is_ok());
    }

    #[test]
    fn daemon_pid_files_are_checked_against_the_live_process() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("daemon.pid");
        // Ourselves, with our real start time: alive.
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let ticks: u64 = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .nth(19)
            .unwrap()
            .parse()
            .unwrap();
        let me = std::process::id();
        std::fs::write(
            &f,
            format!(r#"{{"pid":{me},"processIdentity":{{"startTicks":{ticks}}}}}"#),
        )
        .unwrap();
        assert_eq!(live_pid(&f), Some(me));
        // The same pid with another start time: a recycled pid, not the daemon.
        std::fs::write(
            &f,
            format!(
                r#"{{"pid":{me},"processIdentity":{{"startTicks":{}}}}}"#,
                ticks + 1
            ),
        )
        .unwrap();
        assert_eq!(live_pid(&f), None);
        std::fs::write(&f, r#"{"pid":4194304}"#).unwrap();
        assert_eq!(live_pid(&f), None);
        std::fs::write(&f, "garbage").unwrap();
        assert_eq!(live_pid(&f), None);
    }
}
