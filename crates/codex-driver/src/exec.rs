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

use crate::binary::Binary;
use crate::config::ConfigOverrides;
use crate::env::SpawnEnv;
use crate::error::{Error, Result, TimeoutKind};
use crate::events::{
    Diagnostic, ItemDetails, Line, ThreadEvent, ThreadItem, Usage, parse_numbered_line,
};
use crate::probe::Capabilities;
use crate::process::{Leader, LineReader, ReadLine, ReapGate, StderrTail};
use futures_core::Stream;
use semver::Version;
use serde::de::DeserializeOwned;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

/// `-s/--sandbox`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SandboxMode {
    /// `read-only`.
    ReadOnly,
    /// `workspace-write`.
    WorkspaceWrite,
    /// `danger-full-access`.
    DangerFullAccess,
}

impl SandboxMode {
    /// The value Codex expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "read-only",
            Self::WorkspaceWrite => "workspace-write",
            Self::DangerFullAccess => "danger-full-access",
        }
    }
}

impl std::str::FromStr for SandboxMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "read-only" => Ok(Self::ReadOnly),
            "workspace-write" => Ok(Self::WorkspaceWrite),
            "danger-full-access" => Ok(Self::DangerFullAccess),
            other => Err(Error::InvalidOptions(format!(
                "unknown sandbox mode `{other}` (read-only, workspace-write, danger-full-access)"
            ))),
        }
    }
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Color {
    /// `always`.
    Always,
    /// `never`.
    Never,
    /// `auto`.
    Auto,
}

impl Color {
    fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::Never => "never",
            Self::Auto => "auto",
        }
    }
}

/// `--local-provider`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalProvider {
    /// `lmstudio`.
    LmStudio,
    /// `ollama`.
    Ollama,
    /// Another provider id, passed through.
    Other(String),
}

impl LocalProvider {
    fn as_str(&self) -> &str {
        match self {
            Self::LmStudio => "lmstudio",
            Self::Ollama => "ollama",
            Self::Other(s) => s,
        }
    }
}

/// `--cyber-access-program`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CyberAccessProgram {
    /// `standard`.
    Standard,
    /// `daybreak_blue`.
    DaybreakBlue,
    /// `daybreak_red`.
    DaybreakRed,
    /// Another program name, passed through.
    Other(String),
}

impl CyberAccessProgram {
    fn as_str(&self) -> &str {
        match self {
            Self::Standard => "standard",
            Self::DaybreakBlue => "daybreak_blue",
            Self::DaybreakRed => "daybreak_red",
            Self::Other(s) => s,
        }
    }
}

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

/// What a flag needs of the binary: it is absent from `absent_in` (and every older release)
/// and was verified present in `verified_in`.
#[derive(Debug, Clone, Copy)]
struct Requirement {
    absent_in: (u64, u64, u64),
    verified_in: (u64, u64, u64),
}

impl Requirement {
    const AFTER_0_50: Self = Self {
        absent_in: (0, 50, 0),
        verified_in: (0, 130, 0),
    };
    const AFTER_0_130: Self = Self {
        absent_in: (0, 130, 0),
        verified_in: (0, 169, 0),
    };

    fn allows(&self, v: &Version) -> bool {
        let (a, b, c) = self.absent_in;
        // A pre-release of a later version counts as that version.
        (v.major, v.minor, v.patch) > (a, b, c)
    }

    fn describe(&self) -> String {
        let (a, b, c) = self.absent_in;
        let (x, y, z) = self.verified_in;
        format!("newer than {a}.{b}.{c} (present in {x}.{y}.{z})")
    }
}

/// How an option's presence in a binary is proven.
#[derive(Debug, Clone, Copy)]
enum Proof {
    /// `exec --help` lists this long flag.
    ExecFlag(&'static str),
    /// `exec --help` lists this sub-command.
    ExecCommand(&'static str),
    /// Only the version rule applies (e.g. flags of `exec resume`, not probed).
    Version,
}

#[derive(Debug, Clone, Copy)]
struct Gate {
    option: &'static str,
    proof: Proof,
    req: Requirement,
}

/// A turn through `codex exec --json`. See the [module docs](self).
#[derive(Debug, Clone)]
#[must_use = "an Exec does nothing until run() or stream() is awaited"]
pub struct Exec {
    prompt: String,
    session: Session,
    binary: Option<Binary>,
    env: SpawnEnv,
    capabilities: Option<Arc<Capabilities>>,
    current_dir: Option<PathBuf>,
    config: ConfigOverrides,
    enable: Vec<String>,
    disable: Vec<String>,
    strict_config: bool,
    images: Vec<PathBuf>,
    other_options: Vec<OsString>,
    model: Option<String>,
    oss: bool,
    local_provider: Option<LocalProvider>,
    profile: Option<String>,
    sandbox: Option<SandboxMode>,
    approve_for_me: bool,
    bypass_approvals_and_sandbox: bool,
    bypass_hook_trust: bool,
    cd: Option<PathBuf>,
    worktree: bool,
    add_dirs: Vec<PathBuf>,
    thread_source: Option<String>,
    cyber_access_program: Option<CyberAccessProgram>,
    skip_git_repo_check: bool,
    trust: bool,
    ephemeral: bool,
    ignore_user_config: bool,
    ignore_rules: bool,
    output_schema: Option<PathBuf>,
    color: Option<Color>,
    output_last_message: Option<PathBuf>,
    runtime: RunOptions,
}

/// How the process is supervised (not passed to Codex).
#[derive(Debug, Clone)]
struct RunOptions {
    idle_timeout: Option<Duration>,
    timeout: Option<Duration>,
    grace: Duration,
    cancel: Option<CancellationToken>,
    tee: Option<PathBuf>,
    channel_capacity: usize,
    max_line_bytes: usize,
    stderr_tail_bytes: usize,
    check_versions: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            idle_timeout: None,
            timeout: None,
            grace: Duration::from_secs(3),
            cancel: None,
            tee: None,
            channel_capacity: 64,
            max_line_bytes: 256 * 1024 * 1024,
            stderr_tail_bytes: 64 * 1024,
            check_versions: true,
        }
    }
}

macro_rules! flag_setters {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, yes: bool) -> Self {
            self.$name = yes;
            self
        }
    )*};
}

impl Exec {
    /// A new thread with this prompt.
    pub fn new(prompt: impl Into<String>) -> Self {
        Self {
            prompt: prompt.into(),
            session: Session::New,
            binary: None,
            env: SpawnEnv::new(),
            capabilities: None,
            current_dir: None,
            config: ConfigOverrides::new(),
            enable: Vec::new(),
            disable: Vec::new(),
            strict_config: false,
            images: Vec::new(),
            other_options: Vec::new(),
            model: None,
            oss: false,
            local_provider: None,
            profile: None,
            sandbox: None,
            approve_for_me: false,
            bypass_approvals_and_sandbox: false,
            bypass_hook_trust: false,
            cd: None,
            worktree: false,
            add_dirs: Vec::new(),
            thread_source: None,
            cyber_access_program: None,
            skip_git_repo_check: false,
            trust: false,
            ephemeral: false,
            ignore_user_config: false,
            ignore_rules: false,
            output_schema: None,
            color: None,
            output_last_message: None,
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

    /// The Codex binary to run (default: resolved by [`Binary::resolve`] with PATH search).
    pub fn binary(mut self, binary: Binary) -> Self {
        self.binary = Some(binary);
        self
    }

    /// Shorthand for `binary(Binary::at(path))`.
    pub fn binary_path(self, path: impl Into<PathBuf>) -> Self {
        self.binary(Binary::at(path))
    }

    /// `CODEX_HOME` for this run only (the parent's environment is never changed).
    pub fn codex_home(mut self, dir: impl AsRef<Path>) -> Self {
        self.env.codex_home(dir.as_ref());
        self
    }

    /// Sets an environment variable for this run only.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.set(key, value);
        self
    }

    /// Removes an inherited environment variable for this run only.
    pub fn env_remove(mut self, key: impl Into<OsString>) -> Self {
        self.env.remove(key);
        self
    }

    /// Runs Codex in a clean environment holding only the parent's variables named in `allow`
    /// (see [`env::DEFAULT_ALLOW`](crate::env::DEFAULT_ALLOW)), plus what this builder sets.
    pub fn env_clear<I, S>(mut self, allow: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.env.clear(allow);
        self
    }

    /// `RUST_LOG` for Codex (`None` removes an inherited one).
    pub fn rust_log(mut self, value: Option<&str>) -> Self {
        self.env.rust_log(value);
        self
    }

    /// Keep an inherited `RUST_BACKTRACE` (removed by default: it adds stack traces to Codex's
    /// error messages).
    pub fn keep_backtrace(mut self, yes: bool) -> Self {
        self.env.keep_backtrace(yes);
        self
    }

    /// The whole spawn environment at once (replaces earlier `env*` settings). A `CODEX_HOME`
    /// set before with `codex_home` is kept unless `env` names its own.
    pub fn spawn_env(mut self, env: SpawnEnv) -> Self {
        self.env = env.or_home(self.env.home());
        self
    }

    /// Guard options with probed capabilities (see [`Prober`](crate::probe::Prober)) instead of
    /// version numbers: an option is refused before spawning unless the binary's own
    /// `exec --help` lists it; `--json` degrades to `--experimental-json` when only that exists.
    pub fn capabilities(mut self, caps: Capabilities) -> Self {
        self.capabilities = Some(Arc::new(caps));
        self
    }

    /// The process's working directory (Codex's workspace defaults to it; see also [`cd`](Self::cd)).
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    /// `-c key=value` overrides (replaces any set before).
    pub fn config_overrides(mut self, overrides: ConfigOverrides) -> Self {
        self.config = overrides;
        self
    }

    /// One `-c key=value` override, value encoded as TOML.
    pub fn config(
        mut self,
        dotted_key: impl Into<String>,
        value: impl Into<toml_edit::Value>,
    ) -> Self {
        self.config.set(dotted_key, value);
        self
    }

    /// `--enable FEATURE`.
    pub fn enable(mut self, feature: impl Into<String>) -> Self {
        self.enable.push(feature.into());
        self
    }

    /// An option this library does not know yet (say, a flag of a newer Codex), passed after
    /// every known option and before `resume`/`fork`. With probed
    /// [`capabilities`](Self::capabilities), a `--flag` the binary's `exec --help` does not list
    /// is refused before spawning, like the known ones.
    pub fn other_option(mut self, arg: impl Into<OsString>) -> Self {
        self.other_options.push(arg.into());
        self
    }

    /// Several [`other_option`](Self::other_option)s, in order.
    pub fn other_options<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.other_options.extend(args.into_iter().map(Into::into));
        self
    }

    /// `--disable FEATURE`.
    pub fn disable(mut self, feature: impl Into<String>) -> Self {
        self.disable.push(feature.into());
        self
    }

    /// `-i/--image FILE` (repeatable).
    pub fn image(mut self, path: impl Into<PathBuf>) -> Self {
        self.images.push(path.into());
        self
    }

    /// `-m/--model`.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// `--local-provider` (implies nothing; combine with [`oss`](Self::oss)).
    pub fn local_provider(mut self, provider: LocalProvider) -> Self {
        self.local_provider = Some(provider);
        self
    }

    /// `-p/--profile NAME` (0.169: layers `$CODEX_HOME/NAME.config.toml`).
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into());
        self
    }

    /// `-s/--sandbox`.
    pub fn sandbox(mut self, mode: SandboxMode) -> Self {
        self.sandbox = Some(mode);
        self
    }

    /// `-C/--cd DIR`: the agent's working root.
    pub fn cd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cd = Some(dir.into());
        self
    }

    /// `--add-dir DIR` (repeatable).
    pub fn add_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.add_dirs.push(dir.into());
        self
    }

    /// `--thread-source SOURCE`.
    pub fn thread_source(mut self, source: impl Into<String>) -> Self {
        self.thread_source = Some(source.into());
        self
    }

    /// `--cyber-access-program`.
    pub fn cyber_access_program(mut self, program: CyberAccessProgram) -> Self {
        self.cyber_access_program = Some(program);
        self
    }

    /// `--output-schema FILE` (see also [`run_typed`](Self::run_typed)).
    pub fn output_schema(mut self, path: impl Into<PathBuf>) -> Self {
        self.output_schema = Some(path.into());
        self
    }

    /// `--color` (stdout is JSONL, so this only affects stderr).
    pub fn color(mut self, color: Color) -> Self {
        self.color = Some(color);
        self
    }

    /// `-o/--output-last-message FILE`.
    pub fn output_last_message(mut self, path: impl Into<PathBuf>) -> Self {
        self.output_last_message = Some(path.into());
        self
    }

    flag_setters! {
        /// `--strict-config`.
        strict_config;
        /// `--oss`.
        oss;
        /// `--approve-for-me`.
        approve_for_me;
        /// `--dangerously-bypass-approvals-and-sandbox`. Only for externally sandboxed hosts.
        bypass_approvals_and_sandbox;
        /// `--dangerously-bypass-hook-trust`.
        bypass_hook_trust;
        /// `--worktree`.
        worktree;
        /// `--skip-git-repo-check`.
        skip_git_repo_check;
        /// `--trust`.
        trust;
        /// `--ephemeral`: no session files written.
        ephemeral;
        /// `--ignore-user-config`.
        ignore_user_config;
        /// `--ignore-rules`.
        ignore_rules;
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

    /// The prompt.
    pub fn prompt(&self) -> &str {
        &self.prompt
    }

    /// Options set on this run that not every Codex has, with how to prove them.
    fn gated_flags(&self) -> Vec<Gate> {
        use Requirement as R;
        let mut out = Vec::new();
        let mut gate = |on: bool, option: &'static str, proof: Proof, req: R| {
            if on {
                out.push(Gate { option, proof, req });
            }
        };
        let flag = Proof::ExecFlag;
        gate(
            !self.add_dirs.is_empty(),
            "--add-dir",
            flag("--add-dir"),
            R::AFTER_0_50,
        );
        gate(
            self.ephemeral,
            "--ephemeral",
            flag("--ephemeral"),
            R::AFTER_0_50,
        );
        gate(
            self.ignore_user_config,
            "--ignore-user-config",
            flag("--ignore-user-config"),
            R::AFTER_0_50,
        );
        gate(
            self.ignore_rules,
            "--ignore-rules",
            flag("--ignore-rules"),
            R::AFTER_0_50,
        );
        gate(
            self.local_provider.is_some(),
            "--local-provider",
            flag("--local-provider"),
            R::AFTER_0_50,
        );
        gate(
            self.approve_for_me,
            "--approve-for-me",
            flag("--approve-for-me"),
            R::AFTER_0_130,
        );
        gate(
            self.cyber_access_program.is_some(),
            "--cyber-access-program",
            flag("--cyber-access-program"),
            R::AFTER_0_130,
        );
        gate(
            self.bypass_hook_trust,
            "--dangerously-bypass-hook-trust",
            flag("--dangerously-bypass-hook-trust"),
            R::AFTER_0_130,
        );
        gate(
            self.strict_config,
            "--strict-config",
            flag("--strict-config"),
            R::AFTER_0_130,
        );
        gate(
            self.thread_source.is_some(),
            "--thread-source",
            flag("--thread-source"),
            R::AFTER_0_130,
        );
        gate(self.trust, "--trust", flag("--trust"), R::AFTER_0_130);
        gate(
            self.worktree,
            "--worktree",
            flag("--worktree"),
            R::AFTER_0_130,
        );
        match &self.session {
            Session::Fork { .. } => gate(
                true,
                "exec fork",
                Proof::ExecCommand("fork"),
                R::AFTER_0_130,
            ),
            Session::Resume { all, .. } => {
                gate(*all, "exec resume --all", Proof::Version, R::AFTER_0_50);
                gate(
                    self.output_schema.is_some(),
                    "exec resume --output-schema",
                    Proof::Version,
                    R::AFTER_0_130,
                );
            }
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
            self.binary
                .as_ref()
                .map(|b| b.path().to_path_buf())
                .unwrap_or_default()
        };
        for flag in self.other_flags() {
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
            let ok = match g.proof {
                Proof::ExecFlag(f) => caps.exec_flags.contains(f),
                Proof::ExecCommand(c) => caps.exec_commands.contains(c),
                Proof::Version => g.req.allows(&caps.version),
            };
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

    /// The `--long` flag names among [`other_options`](Self::other_options) (`--x=1` → `--x`).
    fn other_flags(&self) -> Vec<String> {
        self.other_options
            .iter()
            .filter_map(|a| a.to_str())
            .filter(|a| a.starts_with("--") && a.len() > 2)
            .map(|a| a.split('=').next().unwrap_or(a).to_owned())
            .collect()
    }

    /// The argv after the binary, exactly as it will be passed. The prompt is not in it: it
    /// goes through stdin (the `-` argument).
    pub fn args(&self) -> Result<Vec<OsString>> {
        if self.prompt.is_empty() {
            return Err(Error::InvalidOptions("the prompt is empty".into()));
        }
        // `--experimental-json` is the older spelling, still accepted as a hidden alias.
        let json = match &self.capabilities {
            Some(c) if !c.exec_flags.contains("--json") && !c.exec_flags.is_empty() => {
                "--experimental-json"
            }
            _ => "--json",
        };
        let mut a: Vec<OsString> = vec!["exec".into(), json.into()];
        let mut push = |flag: &str, value: &dyn AsRef<std::ffi::OsStr>| {
            a.push(flag.into());
            a.push(value.as_ref().to_owned());
        };
        for kv in self.config.to_args() {
            push("-c", &kv);
        }
        for f in &self.enable {
            push("--enable", f);
        }
        for f in &self.disable {
            push("--disable", f);
        }
        for img in &self.images {
            push("--image", img);
        }
        if let Some(m) = &self.model {
            push("--model", m);
        }
        if let Some(p) = &self.local_provider {
            push("--local-provider", &p.as_str());
        }
        if let Some(p) = &self.profile {
            // Codex reads `<home>/<name>.config.toml`: the name must stay inside the home.
            crate::home::check_name("profile", p)?;
            push("--profile", p);
        }
        if let Some(s) = self.sandbox {
            push("--sandbox", &s.as_str());
        }
        if let Some(d) = &self.cd {
            push("--cd", d);
        }
        for d in &self.add_dirs {
            push("--add-dir", d);
        }
        if let Some(s) = &self.thread_source {
            push("--thread-source", s);
        }
        if let Some(p) = &self.cyber_access_program {
            push("--cyber-access-program", &p.as_str());
        }
        if let Some(p) = &self.output_schema {
            push("--output-schema", p);
        }
        if let Some(c) = self.color {
            push("--color", &c.as_str());
        }
        if let Some(p) = &self.output_last_message {
            push("--output-last-message", p);
        }
        let switches = [
            (self.strict_config, "--strict-config"),
            (self.oss, "--oss"),
            (self.approve_for_me, "--approve-for-me"),
            (
                self.bypass_approvals_and_sandbox,
                "--dangerously-bypass-approvals-and-sandbox",
            ),
            (self.bypass_hook_trust, "--dangerously-bypass-hook-trust"),
            (self.worktree, "--worktree"),
            (self.skip_git_repo_check, "--skip-git-repo-check"),
            (self.trust, "--trust"),
            (self.ephemeral, "--ephemeral"),
            (self.ignore_user_config, "--ignore-user-config"),
            (self.ignore_rules, "--ignore-rules"),
        ];
        a.extend(
            switches
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, f)| OsString::from(*f)),
        );
        a.extend(self.other_options.iter().cloned());
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
                    ResumeTarget::Id(id) => {
                        if id.is_empty() || id.starts_with('-') {
                            return Err(Error::InvalidOptions(format!(
                                "invalid session id `{id}`"
                            )));
                        }
                        a.push(id.into());
                    }
                }
            }
            Session::Fork { id } => {
                if id.is_empty() || id.starts_with('-') {
                    return Err(Error::InvalidOptions(format!("invalid session id `{id}`")));
                }
                a.push("fork".into());
                a.push(id.into());
            }
        }
        a.push("-".into());
        Ok(a)
    }

    fn resolve_binary(&self) -> Result<Binary> {
        match &self.binary {
            Some(b) => Ok(b.clone()),
            None => Binary::resolve(None, true),
        }
    }

    /// The configured, not yet spawned, command (argv, env, stdio, process group).
    pub fn command(&self) -> Result<tokio::process::Command> {
        let binary = self.resolve_binary()?;
        self.command_for(&binary)
    }

    fn command_for(&self, binary: &Binary) -> Result<tokio::process::Command> {
        let mut cmd = tokio::process::Command::new(binary.path());
        cmd.args(self.args()?)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        self.env.apply(&mut cmd);
        if let Some(dir) = &self.current_dir {
            cmd.current_dir(dir);
        }
        Ok(cmd)
    }

    /// Spawns Codex and returns the event stream.
    pub async fn stream(self) -> Result<ExecStream> {
        let binary = self.resolve_binary()?;
        if self.runtime.check_versions {
            match &self.capabilities {
                Some(caps) => self.check_capabilities(caps)?,
                None if self.gated_flags().is_empty() => {}
                None => {
                    // The probe honours the caller's cancel token like the run itself.
                    let v = match &self.runtime.cancel {
                        Some(t) => tokio::select! {
                            v = binary.version() => v?,
                            _ = t.cancelled() => return Err(Error::Cancelled),
                        },
                        None => binary.version().await?,
                    };
                    self.check_against(&v, binary.path())?;
                }
            }
        }
        if let Some(home) = self.env.home()
            && !home.is_dir()
        {
            return Err(Error::InvalidOptions(format!(
                "CODEX_HOME {} does not exist or is not a directory",
                home.display()
            )));
        }
        // A home someone else owns or can write to could hold their `notify` or MCP command.
        if let Some(home) = self.env.home() {
            crate::CodexHome::new(home).check()?;
        }
        let mut cmd = self.command_for(&binary)?;
        let rt = self.runtime.clone();
        let tee = match &rt.tee {
            Some(p) => Some(tokio::fs::File::from_std(open_tee(p).map_err(|e| {
                Error::io(format!("creating tee file {}", p.display()), e)
            })?)),
            None => None,
        };
        let mut child = cmd.spawn().map_err(|source| Error::Spawn {
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

        let token = rt
            .cancel
            .as_ref()
            .map(CancellationToken::child_token)
            .unwrap_or_default();
        let (tx, rx) = mpsc::channel(rt.channel_capacity);
        let shared = Arc::new(Shared::default());
        let done = Arc::new(ReapGate::default());
        let sup = Supervisor {
            leader: Leader::new(child).reap_gate(done.clone()),
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
        Ok(ExecStream {
            rx,
            shared,
            tail,
            pgid,
            thread_id: None,
            finished: false,
            _cancel_on_drop: token.clone().drop_guard(),
            token,
            _kill_on_drop: KillOnDrop { pgid, done },
        })
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

/// What a finished turn produced.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct TurnResult {
    /// The thread id (for `Exec::resume`).
    pub thread_id: Option<String>,
    /// The last agent message's text.
    pub final_message: Option<String>,
    /// Every completed item, in order.
    pub items: Vec<ThreadItem>,
    /// Token usage as `turn.completed` reports it. For a resumed thread Codex (0.169) reports
    /// the thread's cumulative usage, not the turn's: subtract the previous report
    /// ([`Usage::since`]), as [`ExecConversation`](crate::conversation::ExecConversation) does.
    pub usage: Option<Usage>,
    /// Non-event stdout lines (the first [`MAX_DIAGNOSTICS`]).
    pub diagnostics: Vec<Diagnostic>,
}

/// How many diagnostics (non-event stdout lines) a run keeps; later ones are dropped.
pub const MAX_DIAGNOSTICS: usize = 1000;

/// A turn decoded into `T` by [`Exec::run_typed`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TypedTurn<T> {
    /// The decoded final message.
    pub value: T,
    /// Everything else about the turn.
    pub turn: TurnResult,
}

#[derive(Debug, Default)]
struct Shared {
    diagnostics: Mutex<Vec<Diagnostic>>,
}

/// Stops Codex when the stream is dropped. With a runtime, the supervisor (cancelled by the
/// stream's drop guard) escalates: SIGTERM now lets Codex stop the commands it started (they
/// may run outside its group), the grace, then SIGKILL. Without one (runtime shutdown), SIGKILL
/// at once; the supervisor's [`Leader`] kills the group too if it is dropped unreaped.
#[derive(Debug)]
struct KillOnDrop {
    pgid: u32,
    done: Arc<ReapGate>,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        use nix::sys::signal::Signal;
        // Through the gate: never after Codex was reaped.
        let signal = match tokio::runtime::Handle::try_current() {
            Ok(_) => Signal::SIGTERM,
            Err(_) => Signal::SIGKILL,
        };
        self.done.signal(self.pgid, signal);
    }
}

#[allow(clippy::large_enum_variant)] // one Done per run; boxing every event would cost more
enum Msg {
    Event(ThreadEvent),
    Done(Result<()>),
}

/// Live events of a running `codex exec`. Ends with `Err` when the run failed (turn failed,
/// timeout, crash, ...). Dropping it stops Codex and its whole process group.
#[derive(Debug)]
pub struct ExecStream {
    rx: mpsc::Receiver<Msg>,
    shared: Arc<Shared>,
    tail: StderrTail,
    pgid: u32,
    thread_id: Option<String>,
    finished: bool,
    token: CancellationToken,
    _cancel_on_drop: DropGuard,
    _kill_on_drop: KillOnDrop,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Event(e) => write!(f, "Event({})", e.type_name()),
            Self::Done(r) => write!(f, "Done({})", r.is_ok()),
        }
    }
}

impl ExecStream {
    /// The thread id, once `thread.started` has been received.
    pub fn thread_id(&self) -> Option<&str> {
        self.thread_id.as_deref()
    }

    /// Codex's process group id (its pid).
    pub fn process_group(&self) -> u32 {
        self.pgid
    }

    /// Stops the run (the stream then ends with [`Error::Cancelled`]).
    pub fn cancel(&self) {
        self.token.cancel();
    }

    /// A token that cancels this run.
    pub fn cancel_token(&self) -> CancellationToken {
        self.token.clone()
    }

    /// Non-event stdout lines seen so far.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        self.shared
            .diagnostics
            .lock()
            .map(|d| d.clone())
            .unwrap_or_default()
    }

    /// The end of Codex's stderr so far.
    pub fn stderr_tail(&self) -> String {
        self.tail.text()
    }

    /// The next event; `None` after the end. An `Err` is the last item.
    pub async fn next_event(&mut self) -> Option<Result<ThreadEvent>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Consumes the rest of the stream into a [`TurnResult`].
    pub async fn collect_result(mut self) -> Result<TurnResult> {
        let mut r = TurnResult::default();
        while let Some(ev) = self.next_event().await {
            match ev? {
                ThreadEvent::ItemCompleted(done) => {
                    if let ItemDetails::AgentMessage(m) = &done.item.details {
                        r.final_message = Some(m.text.clone());
                    }
                    r.items.push(done.item);
                }
                ThreadEvent::TurnCompleted(t) => {
                    r.usage.get_or_insert_with(Usage::default).add(&t.usage);
                }
                _ => {}
            }
        }
        r.thread_id = self.thread_id.clone();
        r.diagnostics = self.diagnostics();
        Ok(r)
    }
}

impl Stream for ExecStream {
    type Item = Result<ThreadEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(Msg::Event(ev))) => {
                if let ThreadEvent::ThreadStarted(t) = &ev {
                    self.thread_id = Some(t.thread_id.clone());
                }
                Poll::Ready(Some(Ok(ev)))
            }
            Poll::Ready(Some(Msg::Done(res))) => {
                self.finished = true;
                Poll::Ready(res.err().map(Err))
            }
            Poll::Ready(None) => {
                self.finished = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// What the reader saw, for classifying the exit.
#[derive(Debug, Default, Clone)]
struct Seen {
    thread_id: Option<String>,
    completed: bool,
    failed: Option<String>,
    last_error: Option<String>,
}

impl Seen {
    fn observe(&mut self, ev: &ThreadEvent) {
        match ev {
            ThreadEvent::ThreadStarted(t) => self.thread_id = Some(t.thread_id.clone()),
            ThreadEvent::TurnCompleted(_) => self.completed = true,
            ThreadEvent::TurnFailed(f) => self.failed = Some(f.error.message.clone()),
            ThreadEvent::Error(e) => self.last_error = Some(e.message.clone()),
            ThreadEvent::ItemCompleted(i) => {
                if let ItemDetails::Error(e) = &i.item.details {
                    self.last_error = Some(e.message.clone());
                }
            }
            _ => {}
        }
    }
}

enum Pumped {
    Read(std::io::Result<ReadLine>),
    Exited,
}

enum Stop {
    Eof,
    Cancelled,
    Timeout(TimeoutKind, Duration),
    ReadError(std::io::Error),
}

struct Supervisor {
    /// Codex, reaped only after its group was killed.
    leader: Leader,
    stdout: Option<tokio::process::ChildStdout>,
    stderr_task: Option<tokio::task::JoinHandle<()>>,
    tail: StderrTail,
    tx: mpsc::Sender<Msg>,
    token: CancellationToken,
    rt: RunOptions,
    tee: Option<tokio::fs::File>,
    shared: Arc<Shared>,
    /// Closed just before Codex is reaped: [`KillOnDrop`] must not signal the group after that.
    done: Arc<ReapGate>,
}

async fn sleep_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

impl Supervisor {
    async fn run(mut self) {
        let start = Instant::now();
        let overall = self.rt.timeout.map(|d| start + d);
        let mut seen = Seen::default();
        let stop = self.pump(overall, &mut seen).await;
        let result = self.finish(stop, overall, seen).await;
        self.done.close();
        let _ = self.tx.send(Msg::Done(result)).await;
    }

    /// Reads stdout until EOF, cancellation or a deadline.
    async fn pump(&mut self, overall: Option<Instant>, seen: &mut Seen) -> Stop {
        let Some(stdout) = self.stdout.take() else {
            return Stop::Eof;
        };
        let mut lines = LineReader::new(
            BufReader::with_capacity(64 * 1024, stdout),
            self.rt.max_line_bytes,
        );
        let mut tee = self.tee.take().map(tokio::io::BufWriter::new);
        let mut line_no = 0u64;
        // Set when Codex itself exited: what it wrote is read until EOF or this deadline (a
        // descendant that inherited stdout may keep the pipe open).
        let mut drain_until: Option<Instant> = None;
        let stop = loop {
            let idle = self.rt.idle_timeout.map(|d| Instant::now() + d);
            // Not `has_exited()`: an exit that happened while this loop was busy elsewhere must
            // still be handled once, below.
            let waiting = drain_until.is_none();
            let next = tokio::select! {
                biased;
                _ = self.token.cancelled() => break Stop::Cancelled,
                _ = sleep_opt(overall) => break Stop::Timeout(TimeoutKind::Overall, self.rt.timeout.unwrap_or_default()),
                _ = sleep_opt(idle), if drain_until.is_none() => break Stop::Timeout(TimeoutKind::Idle, self.rt.idle_timeout.unwrap_or_default()),
                // A bound on reading after Codex exited (a descendant may hold stdout open, or
                // write for ever). Time spent waiting for a slow consumer does not count (see
                // below), so nothing Codex wrote before exiting is dropped.
                _ = sleep_opt(drain_until) => break Stop::Eof,
                () = self.leader.exited(), if waiting => Pumped::Exited,
                r = lines.next_line() => Pumped::Read(r),
            };
            let read = match next {
                // Exited, not reaped: the group id stays ours until `finish` reaps. What is left
                // of the group (a background command, a descendant holding or flooding stdout)
                // goes now; what Codex wrote is still in the pipe and is read to EOF.
                Pumped::Exited => {
                    self.leader.signal(nix::sys::signal::Signal::SIGKILL);
                    drain_until = Some(Instant::now() + Duration::from_secs(2));
                    continue;
                }
                Pumped::Read(r) => r,
            };
            line_no += 1;
            let parsed = match read {
                Err(e) => break Stop::ReadError(e),
                Ok(ReadLine::Eof) => break Stop::Eof,
                Ok(ReadLine::TooLong(len)) => Line::Diagnostic(Diagnostic::TooLong {
                    line_number: line_no,
                    len,
                    limit: self.rt.max_line_bytes,
                }),
                Ok(ReadLine::Line) => {
                    if let Some(t) = tee.as_mut() {
                        // Tee failures must not kill the run; they are logged.
                        if let Err(e) = async {
                            t.write_all(lines.line()).await?;
                            t.write_all(b"\n").await
                        }
                        .await
                        {
                            tracing::warn!("JSONL tee write failed: {e}");
                        }
                    }
                    parse_numbered_line(&String::from_utf8_lossy(lines.line()), line_no)
                }
            };
            match parsed {
                Line::Blank => {}
                Line::Diagnostic(d) => {
                    // Kept up to a bound: a process spewing garbage must not grow memory.
                    if let Ok(mut v) = self.shared.diagnostics.lock()
                        && v.len() < MAX_DIAGNOSTICS
                    {
                        tracing::warn!("codex exec: {d}");
                        v.push(d);
                    }
                }
                Line::Event(ev) => {
                    seen.observe(&ev);
                    if let Some(t) = tee.as_mut() {
                        let _ = t.flush().await;
                    }
                    let waited = Instant::now();
                    tokio::select! {
                        biased;
                        _ = self.token.cancelled() => break Stop::Cancelled,
                        _ = sleep_opt(overall) => break Stop::Timeout(TimeoutKind::Overall, self.rt.timeout.unwrap_or_default()),
                        sent = self.tx.send(Msg::Event(ev)) => {
                            // The consumer went away: same as a cancel.
                            if sent.is_err() { break Stop::Cancelled; }
                        }
                    }
                    if let Some(d) = drain_until.as_mut() {
                        *d += waited.elapsed();
                    }
                }
            }
        };
        if let Some(mut t) = tee {
            let _ = t.flush().await;
        }
        stop
    }

    async fn finish(&mut self, stop: Stop, overall: Option<Instant>, seen: Seen) -> Result<()> {
        let grace = self.rt.grace;
        // Why we stopped waiting, when stdout ended before Codex exited.
        let mut late = None;
        let status = match &stop {
            Stop::Eof if self.leader.has_exited() => self.leader.reap().await,
            Stop::Eof => {
                // stdout is closed; Codex is exiting. Still honour cancel and the deadline.
                tokio::select! {
                    biased;
                    _ = self.token.cancelled() => late = Some(Stop::Cancelled),
                    _ = sleep_opt(overall) => late = Some(Stop::Timeout(TimeoutKind::Overall, self.rt.timeout.unwrap_or_default())),
                    () = self.leader.exited() => {}
                }
                match late {
                    Some(_) => self.leader.terminate(grace).await,
                    None => self.leader.reap().await,
                }
            }
            _ => self.leader.terminate(grace).await,
        };
        // Stragglers (background commands, a descendant holding stdout) went with the group,
        // killed before Codex was reaped; say so before anything slow.
        self.done.close();
        if let Some(task) = self.stderr_task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
        let tail = self.tail.text();
        match late.unwrap_or(stop) {
            Stop::Cancelled => Err(Error::Cancelled),
            Stop::Timeout(kind, after) => Err(Error::Timeout {
                kind,
                after,
                stderr_tail: tail,
            }),
            Stop::ReadError(e) => Err(Error::io("reading Codex's stdout", e)),
            Stop::Eof => match status {
                Some(status) => classify(status, &seen, tail),
                None => Err(Error::Exited {
                    code: -1,
                    stderr_tail: tail,
                    last_error: seen.last_error,
                }),
            },
        }
    }
}

/// Turns an exit status plus what the stream showed into the run's outcome.
fn classify(status: std::process::ExitStatus, seen: &Seen, stderr_tail: String) -> Result<()> {
    use std::os::unix::process::ExitStatusExt;
    if let Some(message) = &seen.failed {
        return Err(Error::TurnFailed {
            message: message.clone(),
            thread_id: seen.thread_id.clone(),
            stderr_tail,
        });
    }
    if status.success() {
        return if seen.completed {
            Ok(())
        } else {
            Err(Error::NoTerminalEvent {
                stderr_tail,
                last_error: seen.last_error.clone(),
            })
        };
    }
    if let Some(signal) = status.signal() {
        return Err(Error::Signaled {
            signal,
            stderr_tail,
            last_error: seen.last_error.clone(),
        });
    }
    if let Some((argument, message)) = unknown_argument(&stderr_tail) {
        return Err(Error::UnknownArgument {
            argument,
            message,
            stderr_tail,
        });
    }
    if let Some(message) = config_error(&stderr_tail) {
        return Err(Error::Config {
            message,
            stderr_tail,
        });
    }
    Err(Error::Exited {
        code: status.code().unwrap_or(-1),
        stderr_tail,
        last_error: seen.last_error.clone(),
    })
}

/// clap's `error: unexpected argument '--x' found`: the argument and the line.
fn unknown_argument(stderr: &str) -> Option<(String, String)> {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("error: unexpected argument '"))?;
    let rest = line.strip_prefix("error: unexpected argument '")?;
    let arg = rest.split('\'').next()?.to_owned();
    Some((arg, line.trim().to_owned()))
}

/// The stderr line that says Codex refused its configuration or arguments, if any.
fn config_error(stderr: &str) -> Option<String> {
    const MARKERS: &[&str] = &[
        "Error loading configuration",
        "unknown configuration field",
        "Unknown feature flag",
        "error: invalid value",
        "error: the argument",
        "is no longer supported",
        "Model provider `",
        "CODEX_HOME points to",
        "Not inside a trusted directory",
        "error parsing",
    ];
    stderr
        .lines()
        .find(|l| MARKERS.iter().any(|m| l.contains(m)))
        .map(|l| l.trim().to_owned())
}

/// Opens the tee file for writing: never through a symlink (`O_NOFOLLOW`), never blocking on a
/// FIFO (`O_NONBLOCK`), only a regular file, and private (0600, also when it existed).
fn open_tee(path: &Path) -> std::io::Result<std::fs::File> {
    use nix::fcntl::OFlag;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(code) if code == nix::errno::Errno::ELOOP as i32 => {
                std::io::Error::other("it is a symbolic link")
            }
            _ => e,
        })?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    // A hard link planted to another file (or someone else's file) would be truncated and
    // overwritten through it.
    use std::os::unix::fs::MetadataExt;
    if meta.nlink() > 1 {
        return Err(std::io::Error::other("it has other hard links"));
    }
    if crate::fsutil::current_uid().is_ok_and(|uid| uid != meta.uid()) {
        return Err(std::io::Error::other("it belongs to another user"));
    }
    if meta.permissions().mode() & 0o777 != 0o600 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.set_len(0)?;
    Ok(file)
}

#[cfg(test)]
mod tee_tests {
    use super::open_tee;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn the_tee_file_is_private_and_never_followed() -> anyhow::Result<()> {
        let d = tempfile::tempdir()?;
        let mode = |p: &std::path::Path| -> anyhow::Result<u32> {
            Ok(std::fs::metadata(p)?.permissions().mode() & 0o777)
        };
        let new = d.path().join("new.jsonl");
        drop(open_tee(&new)?);
        assert_eq!(mode(&new)?, 0o600);
        // An existing, world-readable file is made private and truncated.
        let old = d.path().join("old.jsonl");
        std::fs::write(&old, "old content")?;
        std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o644))?;
        drop(open_tee(&old)?);
        assert_eq!((mode(&old)?, std::fs::read(&old)?.len()), (0o600, 0));
        // A planted symlink (to a file the attacker wants overwritten or read) is refused.
        let target = d.path().join("victim");
        std::fs::write(&target, "keep me")?;
        let link = d.path().join("link.jsonl");
        std::os::unix::fs::symlink(&target, &link)?;
        let err = open_tee(&link).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("it is a symbolic link"));
        assert_eq!(std::fs::read_to_string(&target)?, "keep me");
        // Nor a hard link to another file.
        let hard = d.path().join("hard.jsonl");
        std::fs::hard_link(&target, &hard)?;
        let err = open_tee(&hard).err().map(|e| e.to_string());
        assert_eq!(err.as_deref(), Some("it has other hard links"));
        assert_eq!(std::fs::read_to_string(&target)?, "keep me");
        // A FIFO neither blocks nor is accepted.
        let fifo = d.path().join("fifo.jsonl");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU)?;
        assert!(open_tee(&fifo).is_err());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn argv(e: &Exec) -> Vec<String> {
        e.args()
            .unwrap_or_else(|err| panic!("{err}"))
            .into_iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn minimal_argv_reads_prompt_from_stdin() {
        assert_eq!(argv(&Exec::new("hi")), ["exec", "--json", "-"]);
    }

    #[test]
    fn other_options_go_before_the_sub_command_and_are_checked_against_help() {
        let e = Exec::resume("t1", "p")
            .model("m")
            .other_option("--new-flag")
            .other_options(["--level=3", "x"]);
        assert_eq!(
            argv(&e),
            [
                "exec",
                "--json",
                "--model",
                "m",
                "--new-flag",
                "--level=3",
                "x",
                "resume",
                "t1",
                "-"
            ]
        );
        let caps = |flags: &[&str]| Capabilities {
            version: Version::new(0, 169, 0),
            features: Vec::new(),
            commands: std::collections::BTreeSet::new(),
            exec_flags: flags.iter().map(|f| f.to_string()).collect(),
            exec_commands: ["resume".to_owned()].into(),
            probed_at: 0,
        };
        assert!(
            e.check_capabilities(&caps(&["--new-flag", "--level"]))
                .is_ok()
        );
        match e.check_capabilities(&caps(&["--new-flag"])) {
            Err(Error::Unsupported { option, .. }) => assert_eq!(option, "--level"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn profile_names_stay_inside_the_home() {
        for bad in ["../x", "/etc/x", ".hidden", ""] {
            let err = Exec::new("p").profile(bad).args().err();
            assert!(
                matches!(err, Some(Error::InvalidOptions(_))),
                "{bad}: {err:?}"
            );
        }
        assert_eq!(
            argv(&Exec::new("p").profile("ci")),
            ["exec", "--json", "--profile", "ci", "-"]
        );
    }

    #[test]
    fn a_codex_home_is_taken_as_a_path() {
        let home = crate::CodexHome::new("/h");
        let e = Exec::new("p").codex_home(&home);
        assert_eq!(e.env.home(), Some(&PathBuf::from("/h")));
    }

    /// An exec with every option set.
    fn every_option() -> Exec {
        Exec::new("p")
            .config("model_reasoning_effort", "high")
            .enable("web_search")
            .disable("memories")
            .image("a.png")
            .image("b.png")
            .model("gpt-5")
            .local_provider(LocalProvider::Ollama)
            .profile("ci")
            .sandbox(SandboxMode::WorkspaceWrite)
            .cd("/w")
            .add_dir("/x")
            .add_dir("/y")
            .thread_source("bot")
            .cyber_access_program(CyberAccessProgram::DaybreakBlue)
            .output_schema("/s.json")
            .color(Color::Never)
            .output_last_message("/o.txt")
            .strict_config(true)
            .oss(true)
            .approve_for_me(true)
            .bypass_approvals_and_sandbox(true)
            .bypass_hook_trust(true)
            .worktree(true)
            .skip_git_repo_check(true)
            .trust(true)
            .ephemeral(true)
            .ignore_user_config(true)
            .ignore_rules(true)
    }

    #[test]
    fn every_flag_maps() {
        let e = every_option();
        assert_eq!(
            argv(&e),
            [
                "exec",
                "--json",
                "-c",
                "model_reasoning_effort=\"high\"",
                "--enable",
                "web_search",
                "--disable",
                "memories",
                "--image",
                "a.png",
                "--image",
                "b.png",
                "--model",
                "gpt-5",
                "--local-provider",
                "ollama",
                "--profile",
                "ci",
                "--sandbox",
                "workspace-write",
                "--cd",
                "/w",
                "--add-dir",
                "/x",
                "--add-dir",
                "/y",
                "--thread-source",
                "bot",
                "--cyber-access-program",
                "daybreak_blue",
                "--output-schema",
                "/s.json",
                "--color",
                "never",
                "--output-last-message",
                "/o.txt",
                "--strict-config",
                "--oss",
                "--approve-for-me",
                "--dangerously-bypass-approvals-and-sandbox",
                "--dangerously-bypass-hook-trust",
                "--worktree",
                "--skip-git-repo-check",
                "--trust",
                "--ephemeral",
                "--ignore-user-config",
                "--ignore-rules",
                "-",
            ]
        );
    }

    /// Every option `codex exec --help` (0.169.0, captured) lists has a builder method: a new
    /// Codex's flags show up here when its help is captured.
    #[test]
    fn the_builder_covers_every_flag_of_the_captured_help() {
        let help =
            crate::probe::parse_help(include_str!("../tests/fixtures/help/0.169.0/exec.txt"));
        let e = every_option();
        let emitted: std::collections::BTreeSet<String> = argv(&e)
            .into_iter()
            .map(|a| match a.as_str() {
                "-c" => "--config".to_owned(),
                _ => a,
            })
            .filter(|a| a.starts_with("--"))
            .collect();
        let missing: Vec<&String> = help
            .flags
            .iter()
            .filter(|f| !["--help", "--version"].contains(&f.as_str()))
            .filter(|f| !emitted.contains(*f))
            .collect();
        assert!(missing.is_empty(), "no builder method for {missing:?}");
    }

    #[test]
    fn resume_and_fork_put_options_before_the_subcommand() {
        let e = Exec::resume("0199-abc", "go on")
            .sandbox(SandboxMode::ReadOnly)
            .cd("/w");
        assert_eq!(
            argv(&e),
            [
                "exec",
                "--json",
                "--sandbox",
                "read-only",
                "--cd",
                "/w",
                "resume",
                "0199-abc",
                "-"
            ]
        );
        let e = Exec::resume_last("again").session(Session::Resume {
            target: ResumeTarget::Last,
            all: true,
        });
        assert_eq!(
            argv(&e),
            ["exec", "--json", "resume", "--all", "--last", "-"]
        );
        assert_eq!(
            argv(&Exec::fork("t1", "branch").model("m")),
            ["exec", "--json", "--model", "m", "fork", "t1", "-"]
        );
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(matches!(
            Exec::new("").args(),
            Err(Error::InvalidOptions(_))
        ));
        assert!(matches!(
            Exec::resume("--last", "x").args(),
            Err(Error::InvalidOptions(_))
        ));
    }

    #[test]
    fn version_guards() {
        let old = Version::new(0, 130, 0);
        let e = Exec::new("p").worktree(true);
        let err = e.check_against(&old, Path::new("/bin/codex")).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some(
                "option `--worktree` needs Codex newer than 0.130.0 (present in 0.169.0), but /bin/codex is 0.130.0"
            )
        );
        assert!(
            e.check_against(&Version::new(0, 169, 0), Path::new("c"))
                .is_ok()
        );
        let pre = Version::parse("0.131.0-alpha.2").unwrap_or_else(|e| panic!("{e}"));
        assert!(e.check_against(&pre, Path::new("c")).is_ok());
        assert!(
            Exec::new("p")
                .ephemeral(true)
                .check_against(&old, Path::new("c"))
                .is_ok()
        );
        assert!(matches!(
            Exec::fork("t", "p").check_against(&old, Path::new("c")),
            Err(Error::Unsupported { option, .. }) if option == "exec fork"
        ));
        assert!(Exec::new("p").gated_flags().is_empty());
    }

    #[test]
    fn json_flag_degrades_when_the_probe_lacks_it() {
        let mut caps: Capabilities = serde_json::from_value(serde_json::json!({
            "version": "0.40.0", "features": [], "commands": [], "exec_flags": ["--experimental-json", "--model"],
            "exec_commands": [], "probed_at": 0
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            argv(&Exec::new("p").capabilities(caps.clone())),
            ["exec", "--experimental-json", "-"]
        );
        caps.exec_flags.insert("--json".into());
        assert_eq!(
            argv(&Exec::new("p").capabilities(caps)),
            ["exec", "--json", "-"]
        );
    }

    fn seen(f: impl FnOnce(&mut Seen)) -> Seen {
        let mut s = Seen::default();
        f(&mut s);
        s
    }

    #[test]
    fn classification() {
        let ok = std::process::ExitStatus::from_raw(0);
        let one = std::process::ExitStatus::from_raw(1 << 8);
        let killed = std::process::ExitStatus::from_raw(9);
        assert!(classify(ok, &seen(|s| s.completed = true), String::new()).is_ok());
        assert!(matches!(
            classify(one, &seen(|s| s.failed = Some("boom".into())), String::new()),
            Err(Error::TurnFailed { message, .. }) if message == "boom"
        ));
        assert!(matches!(
            classify(ok, &Seen::default(), String::new()),
            Err(Error::NoTerminalEvent { .. })
        ));
        assert!(matches!(
            classify(killed, &Seen::default(), String::new()),
            Err(Error::Signaled { signal: 9, .. })
        ));
        let clap = "error: unexpected argument '--worktree' found\n\n  tip: …\n".to_string();
        assert!(matches!(
            classify(std::process::ExitStatus::from_raw(2 << 8), &Seen::default(), clap),
            Err(Error::UnknownArgument { argument, .. }) if argument == "--worktree"
        ));
        let tail = "Error: Unknown feature flag: bogus\n".to_string();
        assert!(matches!(
            classify(one, &Seen::default(), tail),
            Err(Error::Config { message, .. }) if message == "Error: Unknown feature flag: bogus"
        ));
        assert!(matches!(
            classify(one, &seen(|s| s.last_error = Some("x".into())), "panic\n".into()),
            Err(Error::Exited { code: 1, last_error: Some(e), .. }) if e == "x"
        ));
    }
}
