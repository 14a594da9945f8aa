//! Codex hooks as typed, in-process async callbacks.
//!
//! Codex runs *hooks* — commands named in its config (`[hooks]`, one list of matcher groups per
//! event) — at fixed points of a session, gives each one JSON on stdin and reads its answer
//! from stdout and the exit code. A [`Hooks`] registry turns them into Rust callbacks:
//!
//! | callback | Codex event | what the callback gets | decisions Codex honours |
//! |---|---|---|---|
//! | [`pre_tool_use`](Hooks::pre_tool_use) | `PreToolUse` | [`PreToolUseInput`] (tool, its input, e.g. the shell `command`) | `Continue`, `Block` (the tool does not run; the model gets the reason as the call's output), `AddContext` |
//! | [`post_tool_use`](Hooks::post_tool_use) | `PostToolUse` | [`PostToolUseInput`] (also the tool's response) | `Continue`, `Block` (the reason replaces the result the model sees), `AddContext`, `Halt` (sent, but Codex 0.171 goes on: tested; `Block` keeps the output from the model) |
//! | [`user_prompt_submit`](Hooks::user_prompt_submit) | `UserPromptSubmit` | [`UserPromptSubmitInput`] (the prompt) | `Continue`, `Block` (the prompt is refused), `AddContext`, `Halt` |
//! | [`stop`](Hooks::stop) | `Stop` (a turn ends) | [`StopInput`] (the last agent message) | `Continue`, `Block` (the turn goes on: the reason is the model's next instruction), `Halt` |
//! | [`session_start`](Hooks::session_start) | `SessionStart` | [`SessionStartInput`] (`startup`, `resume`, ...) | `Continue`, `AddContext`, `Halt` |
//!
//! A decision an event can't express is answered as `Continue` (with a `tracing` warning).
//! Every release in [`SUPPORTED_CODEX`](crate::SUPPORTED_CODEX) (0.130.0 to 0.171.0) runs these
//! five events from `-c` overrides and honours a `PreToolUse` block: checked against each
//! release by this crate's integration tests.
//!
//! ```no_run
//! use codex_driver::Exec;
//! use codex_driver::hooks::{HookDecision, Hooks};
//!
//! # async fn f() -> codex_driver::Result<()> {
//! let hooks = Hooks::new()
//!     .pre_tool_use(|call| async move {
//!         match call.command() {
//!             Some(cmd) if cmd.contains("rm -rf") => HookDecision::block("no recursive deletes"),
//!             _ => HookDecision::Continue,
//!         }
//!     })
//!     .stop(|end| async move {
//!         println!("turn ended: {:?}", end.last_assistant_message);
//!         HookDecision::Continue
//!     })
//!     .listen()
//!     .await?;
//! let turn = hooks.apply(Exec::new("tidy up")).run().await?;
//! # Ok(()) }
//! ```
//!
//! ## The bridge
//! [`Hooks::listen`] binds a loopback TCP port (tokio) and makes a random 256-bit secret; the
//! returned [`HookServer`] serves the callbacks until it is dropped. [`HookServer::apply`] adds
//! to an [`Exec`], [`AppServer`] or [`SpawnOptions`]:
//! - the environment variables [`PORT_ENV`] and [`TOKEN_ENV`] (hook commands inherit Codex's
//!   environment). The secret is never in argv (which `ps` shows) nor logged: the relay sends it
//!   with bash's builtin `printf`, and [`SpawnOptions`]' `Debug` redacts environment values.
//!   The secret keeps other local users, who can connect to any loopback port, out. The
//!   model's shell commands inherit these variables too (Codex's default
//!   `shell_environment_policy` keeps them); Codex's sandbox (`read-only`, `workspace-write`
//!   without network access) stops those commands from connecting to the port (checked by the
//!   integration tests); with network access or `danger-full-access` such a command could
//!   send the callbacks forged events. For those runs consider `shell_environment_policy`'s
//!   `exclude` with `CODEX_DRIVER_HOOK_*` (not covered by the tests);
//! - one `-c hooks.<Event>=[{hooks=[{type="command", command=..., timeout=...}]}]` per event
//!   with a callback, the command being a fixed bash relay ([`relay_command`]): it connects to
//!   `127.0.0.1:$PORT_ENV`, sends the secret, the event name and Codex's stdin JSON as one line
//!   each, then copies our answer back: a line with the exit code, then the body (to stdout for
//!   exit 0, to stderr for exit 2);
//! - trust for exactly those hooks (below).
//!
//! Nothing is written to the user's config. A caller setting its own `-c hooks.<Event>` for an
//! event with a callback replaces ours (the last override of a key wins); a caller's
//! `-c hooks.state` table is merged with ours.
//!
//! ## Failure handling
//! - A callback that runs longer than [`Hooks::timeout`] (default 30 s) or panics is answered
//!   with the *fallback* and logged. Codex's own timeout for the relay is ours plus 5 s, so a
//!   stuck registry can't hold Codex forever.
//! - The registry dropped (connection refused), a wrong secret or a garbled exchange: the relay
//!   answers the fallback itself.
//! - The fallback is **fail-open** by default: `Continue`, so a crashed host never wedges a
//!   Codex it left behind. With [`Hooks::fail_closed`], a `PreToolUse` that can't be answered
//!   blocks the tool call instead (exit code 2 with the reason on stderr); the other events stay
//!   fail-open, since a failing `Stop` that blocked would keep the turn going forever.
//!
//! ## Trust
//! Codex runs a hook from config only once it is *trusted*: `hooks.state."<key>".trusted_hash`
//! equal to the hook's hash (an untrusted hook is skipped silently; `--dangerously-bypass-hook-
//! trust` lifts the check for *every* hook, the user's too, and only `exec` has it, from
//! 0.153). This module trusts its own hooks and nothing else: it computes each hook's hash as
//! Codex does ([`trust_hash`]: SHA-256 of the canonical JSON of the event's label and the
//! normalised matcher group) and passes it as `-c hooks.state={...}` keyed by the session-flags
//! source (`/<session-flags>/config.toml:<event>:0:0`). Verified on 0.130.0 to 0.171.0.
//!
//! ## Related
//! - [`notify`](crate::notify): Codex's older `notify` program, a fire-and-forget turn-end
//!   notification (no answer), which this crate already spools.
//! - The app-server reports each hook run as `hook/started` / `hook/completed` notifications
//!   ([`HookStartedNotification`](crate::app_server::protocol::HookStartedNotification),
//!   [`HookCompletedNotification`](crate::app_server::protocol::HookCompletedNotification)) and
//!   lists configured hooks with their trust status through `hooks/list`.

use crate::app_server::AppServer;
use crate::config::ConfigOverrides;
use crate::error::{Error, Result};
use crate::exec::Exec;
use crate::spawn::SpawnOptions;
use crate::tools::BoxFuture;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The environment variable holding the registry's port, set on the Codex process.
pub const PORT_ENV: &str = "CODEX_DRIVER_HOOK_PORT";
/// The environment variable holding the registry's secret, set on the Codex process.
pub const TOKEN_ENV: &str = "CODEX_DRIVER_HOOK_TOKEN";
/// The default callback timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a relay may take to send its three lines (they are ready at once).
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// The largest request accepted (Codex's tool inputs and responses can be long).
const MAX_REQUEST: u64 = 64 * 1024 * 1024;
/// Codex's timeout for the relay, beyond the callback's own.
const RELAY_MARGIN_SECS: u64 = 5;

/// A Codex hook event with a typed callback here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum HookEvent {
    /// Before a tool call (a shell command, a patch, an MCP tool).
    PreToolUse,
    /// After a tool call.
    PostToolUse,
    /// A session starts (or is resumed).
    SessionStart,
    /// A prompt is submitted, before the model sees it.
    UserPromptSubmit,
    /// A turn is about to end.
    Stop,
}

impl HookEvent {
    /// Every event, in config order.
    pub const ALL: [HookEvent; 5] = [
        Self::PreToolUse,
        Self::PostToolUse,
        Self::SessionStart,
        Self::UserPromptSubmit,
        Self::Stop,
    ];

    /// The name as Codex's config and hook input spell it (`PreToolUse`).
    pub fn name(self) -> &'static str {
        match self {
            Self::PreToolUse => "PreToolUse",
            Self::PostToolUse => "PostToolUse",
            Self::SessionStart => "SessionStart",
            Self::UserPromptSubmit => "UserPromptSubmit",
            Self::Stop => "Stop",
        }
    }

    /// The label in hook keys and trust hashes (`pre_tool_use`).
    fn label(self) -> &'static str {
        match self {
            Self::PreToolUse => "pre_tool_use",
            Self::PostToolUse => "post_tool_use",
            Self::SessionStart => "session_start",
            Self::UserPromptSubmit => "user_prompt_submit",
            Self::Stop => "stop",
        }
    }

    /// The event of a config name (`PreToolUse`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }
}

impl std::fmt::Display for HookEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The fields every hook input carries. Decoded tolerantly: a missing field is empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HookContext {
    /// The thread (session) id.
    pub session_id: String,
    /// The turn, for per-turn events.
    pub turn_id: Option<String>,
    /// The rollout file of the session.
    pub transcript_path: Option<PathBuf>,
    /// The session's working directory.
    pub cwd: PathBuf,
    /// The event, as Codex named it (`PreToolUse`).
    pub hook_event_name: String,
    /// The model.
    pub model: Option<String>,
    /// Codex's permission mode (e.g. `bypassPermissions`, `default`).
    pub permission_mode: Option<String>,
}

/// What a `PreToolUse` callback gets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PreToolUseInput {
    /// Session, turn and working directory.
    #[serde(flatten)]
    pub context: HookContext,
    /// The tool (`Bash` for shell commands, `apply_patch`, an MCP tool's name).
    pub tool_name: String,
    /// The tool's input: `{"command": "..."}` for shell commands, the arguments for MCP tools.
    pub tool_input: Value,
    /// The call's id (the model's `call_id`).
    pub tool_use_id: String,
    /// Fields this version of the library does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl PreToolUseInput {
    /// The shell command, when the tool is a shell.
    pub fn command(&self) -> Option<&str> {
        self.tool_input.get("command").and_then(Value::as_str)
    }
}

/// What a `PostToolUse` callback gets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostToolUseInput {
    /// Session, turn and working directory.
    #[serde(flatten)]
    pub context: HookContext,
    /// The tool.
    pub tool_name: String,
    /// The tool's input.
    pub tool_input: Value,
    /// What the tool returned (for shell commands: its output as a string).
    pub tool_response: Value,
    /// The call's id.
    pub tool_use_id: String,
    /// Fields this version of the library does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl PostToolUseInput {
    /// The shell command, when the tool is a shell.
    pub fn command(&self) -> Option<&str> {
        self.tool_input.get("command").and_then(Value::as_str)
    }
}

/// What a `SessionStart` callback gets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SessionStartInput {
    /// Session and working directory.
    #[serde(flatten)]
    pub context: HookContext,
    /// Why the session started: `startup`, `resume`, `clear`, ...
    pub source: Option<String>,
    /// Fields this version of the library does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a `UserPromptSubmit` callback gets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserPromptSubmitInput {
    /// Session, turn and working directory.
    #[serde(flatten)]
    pub context: HookContext,
    /// The prompt.
    pub prompt: String,
    /// Fields this version of the library does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a `Stop` callback gets.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StopInput {
    /// Session, turn and working directory.
    #[serde(flatten)]
    pub context: HookContext,
    /// True when the turn already continued because of a `Stop` block (check it to avoid
    /// blocking forever).
    pub stop_hook_active: bool,
    /// The turn's last agent message.
    pub last_assistant_message: Option<String>,
    /// Fields this version of the library does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One hook invocation, decoded.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum HookInput {
    /// `PreToolUse`.
    PreToolUse(PreToolUseInput),
    /// `PostToolUse`.
    PostToolUse(PostToolUseInput),
    /// `SessionStart`.
    SessionStart(SessionStartInput),
    /// `UserPromptSubmit`.
    UserPromptSubmit(UserPromptSubmitInput),
    /// `Stop`.
    Stop(StopInput),
    /// An event this library has no type for, or an input that did not decode, kept whole.
    Unknown {
        /// The event name the relay sent.
        event: String,
        /// Codex's stdin JSON (`Null` when it was not JSON).
        raw: Value,
    },
}

impl HookInput {
    /// Decodes Codex's stdin JSON for `event` (a config name such as `PreToolUse`).
    pub fn decode(event: &str, raw: Value) -> Self {
        fn typed<T: serde::de::DeserializeOwned>(raw: &Value) -> Option<T> {
            if raw.is_object() {
                T::deserialize(raw).ok()
            } else {
                None
            }
        }
        let decoded = match HookEvent::from_name(event) {
            Some(HookEvent::PreToolUse) => typed(&raw).map(Self::PreToolUse),
            Some(HookEvent::PostToolUse) => typed(&raw).map(Self::PostToolUse),
            Some(HookEvent::SessionStart) => typed(&raw).map(Self::SessionStart),
            Some(HookEvent::UserPromptSubmit) => typed(&raw).map(Self::UserPromptSubmit),
            Some(HookEvent::Stop) => typed(&raw).map(Self::Stop),
            None => None,
        };
        decoded.unwrap_or_else(|| Self::Unknown {
            event: event.to_owned(),
            raw,
        })
    }
}

/// A callback's answer. What each event honours is in the [module docs](self).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum HookDecision {
    /// Go on as if there were no hook.
    #[default]
    Continue,
    /// `PreToolUse`: don't run the tool (the model sees the reason); `PostToolUse`: replace the
    /// result the model sees with the reason; `UserPromptSubmit`: refuse the prompt; `Stop`:
    /// don't end the turn, give the model the reason as its next instruction.
    Block {
        /// Why (never empty: Codex ignores a block without a reason).
        reason: String,
    },
    /// Extra context for the model (`additionalContext`).
    AddContext(String),
    /// Stop processing altogether (`continue: false` with a `stopReason`).
    Halt {
        /// Why.
        reason: String,
    },
}

impl HookDecision {
    /// [`Block`](Self::Block) with a reason.
    pub fn block(reason: impl Into<String>) -> Self {
        Self::Block {
            reason: reason.into(),
        }
    }

    /// [`Halt`](Self::Halt) with a reason.
    pub fn halt(reason: impl Into<String>) -> Self {
        Self::Halt {
            reason: reason.into(),
        }
    }
}

/// What a relay passes back to Codex: the hook command's exit code and output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookAnswer {
    /// 0, or 2 (a block, with [`body`](Self::body) as the reason on stderr).
    pub exit_code: i32,
    /// Stdout for exit 0 (JSON or empty), stderr for exit 2.
    pub body: String,
}

impl HookAnswer {
    fn empty() -> Self {
        Self {
            exit_code: 0,
            body: String::new(),
        }
    }

    fn json(v: Value) -> Self {
        Self {
            exit_code: 0,
            body: v.to_string(),
        }
    }

    /// The bytes sent to the relay: the exit code line, then the body.
    pub fn to_wire(&self) -> String {
        format!("{}\n{}", self.exit_code, self.body)
    }

    /// Encodes `decision` for `event` as Codex reads a command hook's output. A decision the
    /// event can't express becomes [`HookDecision::Continue`] (logged).
    pub fn encode(event: HookEvent, decision: &HookDecision) -> Self {
        use HookDecision as D;
        use HookEvent as E;
        let specific = |extra: Value| {
            let mut out = json!({ "hookEventName": event.name() });
            if let (Some(o), Value::Object(e)) = (out.as_object_mut(), extra) {
                o.extend(e);
            }
            json!({ "hookSpecificOutput": out })
        };
        match (event, decision) {
            (_, D::Continue) => Self::empty(),
            (E::PreToolUse, D::Block { reason }) => Self::json(specific(json!({
                "permissionDecision": "deny",
                "permissionDecisionReason": non_empty(reason),
            }))),
            (E::PostToolUse | E::UserPromptSubmit | E::Stop, D::Block { reason }) => {
                Self::json(json!({ "decision": "block", "reason": non_empty(reason) }))
            }
            (
                E::PreToolUse | E::PostToolUse | E::UserPromptSubmit | E::SessionStart,
                D::AddContext(text),
            ) => Self::json(specific(json!({ "additionalContext": text }))),
            (
                E::PostToolUse | E::UserPromptSubmit | E::Stop | E::SessionStart,
                D::Halt { reason },
            ) => Self::json(json!({ "continue": false, "stopReason": non_empty(reason) })),
            (event, decision) => {
                tracing::warn!(%event, ?decision, "Codex can't take this decision for this hook event; continuing");
                Self::empty()
            }
        }
    }
}

fn non_empty(reason: &str) -> &str {
    if reason.trim().is_empty() {
        "blocked by a codex-driver hook"
    } else {
        reason
    }
}

type Handler<I> = Arc<dyn Fn(I) -> BoxFuture<HookDecision> + Send + Sync>;

fn handler<I, F, Fut>(f: F) -> Handler<I>
where
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = HookDecision> + Send + 'static,
{
    Arc::new(move |i| Box::pin(f(i)))
}

/// A registry of hook callbacks. Build it, then [`listen`](Self::listen). See the
/// [module docs](self).
#[derive(Clone)]
#[must_use]
pub struct Hooks {
    pre_tool_use: Option<Handler<PreToolUseInput>>,
    post_tool_use: Option<Handler<PostToolUseInput>>,
    session_start: Option<Handler<SessionStartInput>>,
    user_prompt_submit: Option<Handler<UserPromptSubmitInput>>,
    stop: Option<Handler<StopInput>>,
    timeout: Duration,
    fail_closed: bool,
}

impl Default for Hooks {
    fn default() -> Self {
        Self {
            pre_tool_use: None,
            post_tool_use: None,
            session_start: None,
            user_prompt_submit: None,
            stop: None,
            timeout: DEFAULT_TIMEOUT,
            fail_closed: false,
        }
    }
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("events", &self.events())
            .field("timeout", &self.timeout)
            .field("fail_closed", &self.fail_closed)
            .finish()
    }
}

impl Hooks {
    /// No callbacks; timeout [`DEFAULT_TIMEOUT`], fail-open.
    pub fn new() -> Self {
        Self::default()
    }

    /// Called before each tool call; may block it.
    pub fn pre_tool_use<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(PreToolUseInput) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HookDecision> + Send + 'static,
    {
        self.pre_tool_use = Some(handler(f));
        self
    }

    /// Called after each tool call.
    pub fn post_tool_use<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(PostToolUseInput) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HookDecision> + Send + 'static,
    {
        self.post_tool_use = Some(handler(f));
        self
    }

    /// Called when a session starts.
    pub fn session_start<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(SessionStartInput) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HookDecision> + Send + 'static,
    {
        self.session_start = Some(handler(f));
        self
    }

    /// Called when a prompt is submitted.
    pub fn user_prompt_submit<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(UserPromptSubmitInput) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HookDecision> + Send + 'static,
    {
        self.user_prompt_submit = Some(handler(f));
        self
    }

    /// Called when a turn is about to end.
    pub fn stop<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(StopInput) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = HookDecision> + Send + 'static,
    {
        self.stop = Some(handler(f));
        self
    }

    /// How long a callback may run before its answer is the fallback (default
    /// [`DEFAULT_TIMEOUT`]). Codex waits for the relay this long plus 5 s.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = limit;
        self
    }

    /// Fail closed: a `PreToolUse` that can't be answered (timeout, panic, registry gone)
    /// blocks the tool call. Default off (fail-open). See the [module docs](self).
    pub fn fail_closed(mut self, yes: bool) -> Self {
        self.fail_closed = yes;
        self
    }

    /// The events with a callback.
    pub fn events(&self) -> Vec<HookEvent> {
        HookEvent::ALL
            .into_iter()
            .filter(|e| match e {
                HookEvent::PreToolUse => self.pre_tool_use.is_some(),
                HookEvent::PostToolUse => self.post_tool_use.is_some(),
                HookEvent::SessionStart => self.session_start.is_some(),
                HookEvent::UserPromptSubmit => self.user_prompt_submit.is_some(),
                HookEvent::Stop => self.stop.is_some(),
            })
            .collect()
    }

    /// Binds a loopback port with a fresh secret and serves the callbacks until the returned
    /// server is dropped. Needs a tokio runtime.
    pub async fn listen(self) -> Result<HookServer> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .map_err(|e| Error::io("binding the hook registry's loopback port", e))?;
        let port = listener
            .local_addr()
            .map_err(|e| Error::io("reading the hook registry's port", e))?
            .port();
        let token = random_token()?;
        let shared = Arc::new(Shared {
            hooks: self,
            token: token.clone(),
            served: AtomicU64::new(0),
        });
        let task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(HookServer {
            port,
            token,
            shared,
            task,
        })
    }

    /// Runs the callback for one decoded input and encodes its answer; never fails: a
    /// missing callback or an unknown event is `Continue`, a timeout or panic the fallback.
    pub async fn answer(&self, input: HookInput) -> HookAnswer {
        let (event, decision) = match input {
            HookInput::PreToolUse(i) => (
                HookEvent::PreToolUse,
                self.run(HookEvent::PreToolUse, &self.pre_tool_use, i).await,
            ),
            HookInput::PostToolUse(i) => (
                HookEvent::PostToolUse,
                self.run(HookEvent::PostToolUse, &self.post_tool_use, i)
                    .await,
            ),
            HookInput::SessionStart(i) => (
                HookEvent::SessionStart,
                self.run(HookEvent::SessionStart, &self.session_start, i)
                    .await,
            ),
            HookInput::UserPromptSubmit(i) => (
                HookEvent::UserPromptSubmit,
                self.run(HookEvent::UserPromptSubmit, &self.user_prompt_submit, i)
                    .await,
            ),
            HookInput::Stop(i) => (
                HookEvent::Stop,
                self.run(HookEvent::Stop, &self.stop, i).await,
            ),
            HookInput::Unknown { event, .. } => {
                tracing::warn!(event, "hook input of no known shape; continuing");
                return HookAnswer::empty();
            }
        };
        HookAnswer::encode(event, &decision)
    }

    async fn run<I: Send + 'static>(
        &self,
        event: HookEvent,
        handler: &Option<Handler<I>>,
        input: I,
    ) -> HookDecision {
        let Some(handler) = handler else {
            return HookDecision::Continue;
        };
        // Its own task, so a panic is a JoinError here rather than a dead connection task.
        let mut task = tokio::spawn(handler(input));
        let why = match tokio::time::timeout(self.timeout, &mut task).await {
            Ok(Ok(decision)) => return decision,
            Ok(Err(e)) if e.is_panic() => "its callback panicked".to_owned(),
            Ok(Err(_)) => "its callback was cancelled".to_owned(),
            Err(_) => {
                task.abort();
                format!("its callback timed out after {:?}", self.timeout)
            }
        };
        let fallback = self.fallback(event, &why);
        tracing::warn!(%event, reason = %why, ?fallback, "hook callback failed; answering the fallback");
        fallback
    }

    fn fallback(&self, event: HookEvent, why: &str) -> HookDecision {
        if self.fail_closed && event == HookEvent::PreToolUse {
            HookDecision::block(format!("codex-driver hook PreToolUse failed: {why}"))
        } else {
            HookDecision::Continue
        }
    }

    /// Codex's timeout for the relay, in whole seconds.
    fn relay_timeout_secs(&self) -> u64 {
        let secs = self.timeout.as_secs() + u64::from(self.timeout.subsec_nanos() > 0);
        secs.max(1) + RELAY_MARGIN_SECS
    }

    /// The `-c` overrides configuring and trusting a relay for each event with a callback,
    /// merged into `config` (an existing `hooks.state` inline table keeps its entries).
    pub fn config_overrides(&self, config: &mut ConfigOverrides) {
        let timeout = self.relay_timeout_secs();
        let mut states = match config.get("hooks.state") {
            Some(toml_edit::Value::InlineTable(t)) => t.clone(),
            _ => toml_edit::InlineTable::new(),
        };
        for event in self.events() {
            let closed = self.fail_closed && event == HookEvent::PreToolUse;
            let command = relay_command(event, closed);
            let mut handler = toml_edit::InlineTable::new();
            handler.insert("type", "command".into());
            handler.insert("command", command.as_str().into());
            handler.insert("timeout", i64::try_from(timeout).unwrap_or(i64::MAX).into());
            let mut group = toml_edit::InlineTable::new();
            group.insert(
                "hooks",
                toml_edit::Value::Array(toml_edit::Array::from_iter([handler])),
            );
            config.set(
                format!("hooks.{}", event.name()),
                toml_edit::Value::Array(toml_edit::Array::from_iter([group])),
            );
            let mut state = toml_edit::InlineTable::new();
            state.insert(
                "trusted_hash",
                trust_hash(event, &command, timeout).as_str().into(),
            );
            states.insert(session_flags_key(event), state.into());
        }
        if !states.is_empty() {
            config.set("hooks.state", toml_edit::Value::InlineTable(states));
        }
    }
}

/// The key Codex gives the first hook of `event` set by `-c` (the session-flags layer).
fn session_flags_key(event: HookEvent) -> String {
    format!("/<session-flags>/config.toml:{}:0:0", event.label())
}

/// The relay: bash connecting to `127.0.0.1:$PORT_ENV`, sending `$TOKEN_ENV`, the event name
/// and stdin (newlines dropped: JSON never has a raw one inside a string), then relaying the
/// answer. Unreachable registry or no answer: exit 0 (fail-open), or with `closed` exit 2 with
/// the reason on stderr. No single quote inside, so it sits in one `bash -c '...'`.
pub fn relay_command(event: HookEvent, closed: bool) -> String {
    let script = [
        "mode=$2",
        "die() { if [ \"$mode\" = closed ]; then printf \"%s\\n\" \"codex-driver hooks: $1\" >&2; exit 2; fi; exit 0; }",
        "[ -n \"$CODEX_DRIVER_HOOK_PORT\" ] || die \"CODEX_DRIVER_HOOK_PORT is not set\"",
        "{ exec 3<>\"/dev/tcp/127.0.0.1/$CODEX_DRIVER_HOOK_PORT\"; } 2>/dev/null || die \"the hook registry is gone (port $CODEX_DRIVER_HOOK_PORT)\"",
        "{ printf \"%s\\n%s\\n\" \"$CODEX_DRIVER_HOOK_TOKEN\" \"$1\"; tr -d \"\\n\"; printf \"\\n\"; } >&3 || die \"the event could not be sent\"",
        "IFS= read -r code <&3 || die \"the hook registry did not answer\"",
        "case \"$code\" in 0) cat <&3; exit 0;; 2) cat <&3 >&2; exit 2;; *) die \"bad answer\";; esac",
    ]
    .join("; ");
    format!(
        "bash -c '{script}' codex-driver-hook {} {}",
        event.name(),
        if closed { "closed" } else { "open" }
    )
}

/// The hash Codex trusts a command hook by: SHA-256 of the canonical (sorted keys, compact)
/// JSON of `{event_name, hooks: [the normalised handler]}`, as `sha256:<hex>`. Matches Codex
/// 0.130.0 to 0.171.0 for a group without a matcher.
pub fn trust_hash(event: HookEvent, command: &str, timeout_secs: u64) -> String {
    let identity = json!({
        "event_name": event.label(),
        "hooks": [{
            "type": "command",
            "command": command,
            "timeout": timeout_secs.max(1),
            "async": false,
        }],
    });
    let canonical = canonical_json(&identity).to_string();
    let digest = Sha256::digest(canonical.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

/// `v` with every object's keys sorted (this crate's `serde_json` keeps insertion order).
fn canonical_json(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical_json(&m[k])))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(canonical_json).collect()),
        other => other.clone(),
    }
}

fn random_token() -> Result<String> {
    crate::fsutil::random_hex(32, "the hook secret")
}

struct Shared {
    hooks: Hooks,
    token: String,
    served: AtomicU64,
}

/// A listening hook registry: serves the callbacks while it lives (dropping it stops the
/// listener; relays then fail open, or closed for `PreToolUse` with
/// [`Hooks::fail_closed`]). Attach it to a run with [`apply`](Self::apply).
#[must_use = "dropping the server stops the hooks"]
pub struct HookServer {
    port: u16,
    token: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for HookServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookServer")
            .field("port", &self.port)
            .field("token", &"<redacted>")
            .field("hooks", &self.shared.hooks)
            .finish()
    }
}

impl Drop for HookServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HookServer {
    /// The loopback port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many hook requests were answered so far (with a valid secret).
    pub fn served(&self) -> u64 {
        self.shared.served.load(Ordering::Relaxed)
    }

    /// The registry's callbacks and settings.
    pub fn hooks(&self) -> &Hooks {
        &self.shared.hooks
    }

    /// Adds the port and secret to the environment and the hooks with their trust to the
    /// `-c` overrides of `options`.
    pub fn spawn_options(&self, mut options: SpawnOptions) -> SpawnOptions {
        options = options
            .env(PORT_ENV, self.port.to_string())
            .env(TOKEN_ENV, self.token.clone());
        self.shared.hooks.config_overrides(&mut options.config);
        options
    }

    /// Attaches the hooks to an [`Exec`], an [`AppServer`] or [`SpawnOptions`].
    pub fn apply<T: HookTarget>(&self, target: T) -> T {
        target.map_spawn_options(|o| self.spawn_options(o))
    }
}

/// A builder [`HookServer::apply`] can attach hooks to.
pub trait HookTarget: Sized {
    /// Replaces the builder's spawn options with `f` of them.
    fn map_spawn_options(self, f: impl FnOnce(SpawnOptions) -> SpawnOptions) -> Self;
}

impl HookTarget for SpawnOptions {
    fn map_spawn_options(self, f: impl FnOnce(SpawnOptions) -> SpawnOptions) -> Self {
        f(self)
    }
}

impl HookTarget for Exec {
    fn map_spawn_options(self, f: impl FnOnce(SpawnOptions) -> SpawnOptions) -> Self {
        let options = f(self.spawn_options_ref().clone());
        self.spawn_options(options)
    }
}

impl HookTarget for AppServer {
    fn map_spawn_options(self, f: impl FnOnce(SpawnOptions) -> SpawnOptions) -> Self {
        let options = f(self.spawn_options_ref().clone());
        self.spawn_options(options)
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) if peer.ip().is_loopback() => {
                tokio::spawn(serve_one(stream, shared.clone()));
            }
            Ok(_) => {}
            Err(e) => {
                // Transient (e.g. too many open files): back off instead of spinning.
                tracing::warn!(error = %e, "hook registry accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// One relay connection: three lines in, the answer out. Anything wrong closes it unanswered,
/// and the relay falls back on its own.
async fn serve_one(stream: TcpStream, shared: Arc<Shared>) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read.take(MAX_REQUEST));
    let request = tokio::time::timeout(REQUEST_DEADLINE, read_request(&mut reader)).await;
    let Ok(Some((token, event, body))) = request else {
        tracing::warn!("hook relay sent no complete request");
        return;
    };
    if !constant_time_eq(token.as_bytes(), shared.token.as_bytes()) {
        tracing::warn!("hook relay connection with a wrong secret; closed");
        return;
    }
    shared.served.fetch_add(1, Ordering::Relaxed);
    let raw = serde_json::from_str(&body).unwrap_or(Value::Null);
    let answer = shared.hooks.answer(HookInput::decode(&event, raw)).await;
    if let Err(e) = write.write_all(answer.to_wire().as_bytes()).await {
        tracing::warn!(error = %e, %event, "could not answer the hook relay");
        return;
    }
    let _ = write.shutdown().await;
}

/// The secret, the event name and the JSON body, one line each.
async fn read_request<R: tokio::io::AsyncBufRead + Unpin>(
    r: &mut R,
) -> Option<(String, String, String)> {
    let token = read_line(r).await?;
    let event = read_line(r).await?;
    let body = read_line(r).await?;
    Some((token, event, body))
}

/// One `\n`-terminated line without its `\n`; `None` at EOF or on a cut line.
async fn read_line<R: tokio::io::AsyncBufRead + Unpin>(r: &mut R) -> Option<String> {
    let mut s = String::new();
    let n = r.read_line(&mut s).await.ok()?;
    if n == 0 || !s.ends_with('\n') {
        return None;
    }
    s.pop();
    Some(s)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;
    use tokio::io::AsyncWriteExt;

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/hooks/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn decodes_each_event_from_real_codex_input() {
        let HookInput::PreToolUse(pre) = HookInput::decode("PreToolUse", fixture("PreToolUse"))
        else {
            panic!("not PreToolUse");
        };
        assert_eq!(pre.tool_name, "Bash");
        assert_eq!(pre.command(), Some("touch x"));
        assert!(pre.tool_use_id.starts_with("call_"));
        assert_eq!(pre.context.hook_event_name, "PreToolUse");
        assert_eq!(pre.context.model.as_deref(), Some("mock-model"));
        assert!(pre.context.turn_id.is_some());
        assert!(pre.extra.is_empty(), "{:?}", pre.extra);

        let old = HookInput::decode("PreToolUse", fixture("PreToolUse-0.130.0"));
        assert!(matches!(old, HookInput::PreToolUse(p) if p.command() == Some("touch x")));

        let HookInput::PostToolUse(post) = HookInput::decode("PostToolUse", fixture("PostToolUse"))
        else {
            panic!("not PostToolUse");
        };
        assert_eq!(post.command(), Some("touch x"));
        assert!(post.tool_response.is_string());

        let HookInput::SessionStart(start) =
            HookInput::decode("SessionStart", fixture("SessionStart"))
        else {
            panic!("not SessionStart");
        };
        assert_eq!(start.source.as_deref(), Some("startup"));
        assert_eq!(start.context.turn_id, None);

        let HookInput::UserPromptSubmit(prompt) =
            HookInput::decode("UserPromptSubmit", fixture("UserPromptSubmit"))
        else {
            panic!("not UserPromptSubmit");
        };
        assert_eq!(prompt.prompt, "do it");

        let HookInput::Stop(stop) = HookInput::decode("Stop", fixture("Stop")) else {
            panic!("not Stop");
        };
        assert!(!stop.stop_hook_active);
        assert!(stop.last_assistant_message.unwrap().starts_with("done"));
    }

    #[test]
    fn unknown_fields_and_events_are_kept() {
        let mut raw = fixture("PreToolUse");
        raw["agent_id"] = json!("a1");
        let HookInput::PreToolUse(pre) = HookInput::decode("PreToolUse", raw) else {
            panic!("not PreToolUse");
        };
        assert_eq!(pre.extra.get("agent_id"), Some(&json!("a1")));
        assert_eq!(pre.extra.len(), 1);

        let raw = json!({"hook_event_name": "PreCompact", "trigger": "auto"});
        assert_eq!(
            HookInput::decode("PreCompact", raw.clone()),
            HookInput::Unknown {
                event: "PreCompact".into(),
                raw
            }
        );
        // A field of another type doesn't lose the event.
        let raw = json!({"tool_name": 3});
        assert!(matches!(
            HookInput::decode("PreToolUse", raw),
            HookInput::Unknown { .. }
        ));
    }

    #[test]
    fn decisions_encode_as_codex_reads_them() {
        let body = |e, d: HookDecision| {
            let a = HookAnswer::encode(e, &d);
            assert_eq!(a.exit_code, 0);
            if a.body.is_empty() {
                Value::Null
            } else {
                serde_json::from_str::<Value>(&a.body).unwrap()
            }
        };
        assert_eq!(
            body(HookEvent::PreToolUse, HookDecision::block("no")),
            json!({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny", "permissionDecisionReason": "no"}})
        );
        assert_eq!(
            body(HookEvent::Stop, HookDecision::block("keep going")),
            json!({"decision": "block", "reason": "keep going"})
        );
        assert_eq!(
            body(
                HookEvent::SessionStart,
                HookDecision::AddContext("ctx".into())
            ),
            json!({"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": "ctx"}})
        );
        assert_eq!(
            body(HookEvent::PostToolUse, HookDecision::halt("enough")),
            json!({"continue": false, "stopReason": "enough"})
        );
        assert_eq!(
            body(HookEvent::PreToolUse, HookDecision::block("  ")),
            json!({"hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny", "permissionDecisionReason": "blocked by a codex-driver hook"}})
        );
        // Not expressible: continue.
        assert_eq!(
            body(HookEvent::PreToolUse, HookDecision::halt("x")),
            Value::Null
        );
        assert_eq!(
            body(HookEvent::SessionStart, HookDecision::block("x")),
            Value::Null
        );
        assert_eq!(
            body(HookEvent::Stop, HookDecision::AddContext("x".into())),
            Value::Null
        );
        assert_eq!(body(HookEvent::Stop, HookDecision::Continue), Value::Null);
    }

    #[test]
    fn trust_hash_matches_codex() {
        // Hashes Codex 0.171.0 reported through `hooks/list` for these hooks.
        assert_eq!(
            trust_hash(HookEvent::PreToolUse, "echo hi", 600),
            "sha256:c2ab198fe0750494126041254c4d031ad06f4b267edca02168d8a6745e4141c5"
        );
        assert_eq!(
            trust_hash(HookEvent::Stop, "echo hi", 5),
            "sha256:bfacd2ac32f50a02273be5e5139bce873be2be18aed3f7228a6c4b3c28b1beb1"
        );
    }

    #[test]
    fn overrides_configure_and_trust_each_event_without_the_secret() {
        let hooks = Hooks::new()
            .pre_tool_use(|_| async { HookDecision::Continue })
            .stop(|_| async { HookDecision::Continue })
            .timeout(Duration::from_millis(1500));
        let mut c = ConfigOverrides::new();
        c.set("hooks.state", {
            let mut t = toml_edit::InlineTable::new();
            t.insert("mine", "kept".into());
            toml_edit::Value::InlineTable(t)
        });
        hooks.config_overrides(&mut c);
        let args = c.to_args();
        let pre = args
            .iter()
            .find(|a| a.starts_with("hooks.PreToolUse="))
            .unwrap();
        assert!(pre.contains("timeout = 7"), "{pre}");
        assert!(pre.contains("codex-driver-hook PreToolUse open"), "{pre}");
        let state = args.iter().find(|a| a.starts_with("hooks.state=")).unwrap();
        assert!(state.contains("mine = \"kept\""), "{state}");
        assert!(state.contains("\"/<session-flags>/config.toml:pre_tool_use:0:0\""));
        assert!(state.contains(&trust_hash(
            HookEvent::PreToolUse,
            &relay_command(HookEvent::PreToolUse, false),
            7
        )));
        assert!(state.contains(":stop:0:0"));
        assert!(!args.iter().any(|a| a.contains("PostToolUse")));
        assert!(c.secret_key().is_none());
    }

    /// Runs the real bash relay against `port` with `stdin`, as Codex would.
    async fn relay(
        event: HookEvent,
        closed: bool,
        port: u16,
        token: &str,
        stdin: &str,
    ) -> std::process::Output {
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(relay_command(event, closed))
            .env(PORT_ENV, port.to_string())
            .env(TOKEN_ENV, token)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        // A relay that gives up early (registry gone) exits without reading: a broken pipe
        // here is part of what is tested, as it is for Codex.
        let _ = input.write_all(stdin.as_bytes()).await;
        drop(input);
        child.wait_with_output().await.unwrap()
    }

    #[tokio::test]
    async fn relay_round_trip_blocks_and_observes() {
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let server = Hooks::new()
            .pre_tool_use(move |i| {
                log.lock()
                    .unwrap()
                    .push(i.command().unwrap_or("").to_owned());
                async { HookDecision::block("not today") }
            })
            .listen()
            .await
            .unwrap();
        // Pretty-printed input: the relay folds it into one line.
        let input = serde_json::to_string_pretty(&fixture("PreToolUse")).unwrap();
        let out = relay(
            HookEvent::PreToolUse,
            false,
            server.port,
            &server.token,
            &input,
        )
        .await;
        assert_eq!(out.status.code(), Some(0));
        let answer: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            answer["hookSpecificOutput"]["permissionDecisionReason"],
            "not today"
        );
        assert_eq!(*seen.lock().unwrap(), ["touch x"]);
        assert_eq!(server.served(), 1);

        // No callback for Stop: continue, empty output.
        let out = relay(HookEvent::Stop, false, server.port, &server.token, "{}").await;
        assert_eq!((out.status.code(), out.stdout.len()), (Some(0), 0));
    }

    #[tokio::test]
    async fn wrong_secret_and_dropped_registry_fail_open_or_closed() {
        let server = Hooks::new()
            .pre_tool_use(|_| async { HookDecision::block("x") })
            .listen()
            .await
            .unwrap();
        let port = server.port;
        let input = fixture("PreToolUse").to_string();
        let out = relay(HookEvent::PreToolUse, false, port, "wrong", &input).await;
        assert_eq!((out.status.code(), out.stdout.len()), (Some(0), 0));
        assert_eq!(server.served(), 0);
        let out = relay(HookEvent::PreToolUse, true, port, "wrong", &input).await;
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("did not answer"));

        drop(server);
        tokio::time::sleep(Duration::from_millis(50)).await;
        let out = relay(HookEvent::PreToolUse, false, port, "t", &input).await;
        assert_eq!((out.status.code(), out.stdout.len()), (Some(0), 0));
        assert!(out.stderr.is_empty(), "{out:?}");
        let out = relay(HookEvent::PreToolUse, true, port, "t", &input).await;
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("registry is gone"));
    }

    #[tokio::test]
    async fn timeouts_and_panics_answer_the_fallback() {
        let slow = Hooks::new()
            .timeout(Duration::from_millis(50))
            .pre_tool_use(|_| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                HookDecision::block("too late")
            });
        let input = || HookInput::PreToolUse(PreToolUseInput::default());
        assert_eq!(slow.answer(input()).await, HookAnswer::empty());
        let closed = slow.clone().fail_closed(true).answer(input()).await;
        assert!(closed.body.contains("timed out"), "{closed:?}");

        let panicky = Hooks::new().post_tool_use(|i| async move {
            if i.tool_name.is_empty() {
                panic!("boom");
            }
            HookDecision::Continue
        });
        let post = HookInput::PostToolUse(PostToolUseInput::default());
        assert_eq!(panicky.answer(post.clone()).await, HookAnswer::empty());
        // Fail-closed covers PreToolUse only.
        assert_eq!(
            panicky.fail_closed(true).answer(post).await,
            HookAnswer::empty()
        );
    }

    #[test]
    fn relay_command_keeps_the_secret_out_of_argv() {
        let cmd = relay_command(HookEvent::PreToolUse, false);
        let script = &cmd[cmd.find('\'').unwrap() + 1..cmd.rfind('\'').unwrap()];
        assert!(!script.contains('\''), "{cmd}");
        assert!(!script.contains("codex-driver-hook"), "{cmd}");
        assert!(cmd.contains("$CODEX_DRIVER_HOOK_TOKEN"));
        assert!(cmd.ends_with("codex-driver-hook PreToolUse open"));
    }
}
