//! The legacy `codex mcp-server` (Codex 0.153.4 and older; 0.163 dropped it): Codex as an MCP
//! server over stdio, driven through [`rmcp`]. Its `codex` tool starts a thread with a first
//! prompt, `codex-reply` continues one; each call streams `codex/event` notifications
//! ([`McpEvent`], the same events a rollout keeps) and ends with the turn's last message.
//! Approvals come as `elicitation/create` requests carrying Codex's own fields and go to the same
//! [`ApprovalHandler`] as the app-server's (deny by default), as
//! [`ApprovalRequest::LegacyExecCommand`] / [`ApprovalRequest::LegacyApplyPatch`].
//! [`McpConversation`] implements [`Conversation`], so code written for exec or the app-server
//! runs unchanged on these releases; [`connect`] picks the server a binary has.
//!
//! How the server behaves, observed on 0.130.0 and 0.153.4: `docs/research/mcp-server.md`.
//! Notably: approvals must be answered with a top-level `{"decision": ...}` (not MCP's
//! `{action, content}`), which rmcp's typed elicitation answer can't express and whose Codex
//! fields its typed request drops, so the raw request is read off the wire beside rmcp; and a
//! cancelled or aborted call never gets a response, so a turn also ends on its `turn_aborted`
//! event.
//!
//! ```no_run
//! # async fn demo() -> codex_driver::Result<()> {
//! use codex_driver::conversation::Conversation;
//! use codex_driver::mcp_server::{CodexMcp, SessionOptions};
//!
//! let codex = CodexMcp::new().spawn().await?;
//! let mut thread = codex.conversation(SessionOptions::default().cwd("/srv/repo"));
//! let first = thread.send("Summarise the repo").await?;
//! let second = thread.send("Now list its TODOs").await?; // same thread
//! assert_eq!(first.thread_id, second.thread_id);
//! codex.shutdown().await;
//! # Ok(()) }
//! ```

use crate::app_server::approvals::{
    Approval, ApprovalHandler, ApprovalRequest, Approvals, DenyAll,
};
use crate::app_server::builder::{ProcessGuard, supervise};
use crate::app_server::protocol::{self as p, Repair};
use crate::app_server::rpc::lock;
use crate::conversation::{Conversation, TurnSummary};
use crate::error::{Error, Result};
use crate::events::Usage;
use crate::process::StderrTail;
use crate::sessions::rollout::EventMsg;
use crate::spawn::{SpawnOptions, spawn_setters};
use rmcp::model::{
    CallToolRequestParams, CallToolResult, CancelledNotificationParam, ClientCapabilities,
    ClientNotification, ClientRequest, ClientResult, CustomResult, ErrorCode, ErrorData,
    Implementation, InitializeRequestParams, Notification, ProtocolVersion, Request,
    ServerNotification, ServerRequest, ServerResult,
};
use rmcp::service::{
    NotificationContext, PeerRequestOptions, RequestContext, RoleClient, RunningService, Service,
};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::ffi::OsString;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How many events of a call are buffered for its reader (a slow reader slows Codex down).
const EVENT_BUFFER: usize = 256;

/// Options for spawning `codex mcp-server`.
#[derive(Clone)]
#[must_use]
pub struct CodexMcp {
    spawn: SpawnOptions,
    handler: Arc<dyn ApprovalHandler>,
    approval_timeout: Duration,
    grace: Duration,
}

impl std::fmt::Debug for CodexMcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodexMcp")
            .field("spawn", &self.spawn)
            .field("approval_timeout", &self.approval_timeout)
            .finish_non_exhaustive()
    }
}

impl Default for CodexMcp {
    fn default() -> Self {
        Self::new()
    }
}

impl CodexMcp {
    /// Defaults: the resolved binary, approvals denied, 10 min per approval, 2 s grace.
    pub fn new() -> Self {
        Self {
            spawn: SpawnOptions::new(),
            handler: Arc::new(DenyAll),
            approval_timeout: Duration::from_secs(600),
            grace: Duration::from_secs(2),
        }
    }

    spawn_setters!();

    /// Who decides approvals (default: deny everything).
    pub fn approval_handler(mut self, handler: Arc<dyn ApprovalHandler>) -> Self {
        self.handler = handler;
        self
    }

    /// How long an approval may take before it is declined.
    pub fn approval_timeout(mut self, limit: Duration) -> Self {
        self.approval_timeout = limit;
        self
    }

    /// The argv after the binary.
    pub fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["mcp-server".into()];
        a.extend(self.spawn.common_args());
        a.extend(self.spawn.other_options.iter().cloned());
        a
    }

    /// Spawns the server (its own process group) and completes the MCP handshake. A binary
    /// without `mcp-server` (0.163 and later) is refused before spawning.
    pub async fn spawn(self) -> Result<CodexMcpClient> {
        let binary = self.spawn.binary_or_install().await?;
        let caps = crate::probe::Prober::new().probe(&binary).await?;
        crate::spawn::admit_version(&caps.version, binary.path(), self.spawn.allow_unsupported)?;
        if !caps.commands.contains("mcp-server") {
            return Err(Error::Unsupported {
                option: "mcp-server".into(),
                required: "a Codex whose `--help` lists mcp-server (0.153.4 and older)".into(),
                found: caps.version.clone(),
                binary: binary.path().to_path_buf(),
            });
        }
        self.spawn.check()?;
        let (mut child, tag) = crate::process::spawn_tagged(
            &mut self.spawn.command(&binary, &self.args()),
        )
        .map_err(|source| Error::Spawn {
            path: binary.path().to_path_buf(),
            source,
        })?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(Error::InvalidOptions(
                "failed to capture the mcp-server's stdio".into(),
            ));
        };
        let tail = StderrTail::new(64 * 1024);
        if let Some(e) = child.stderr.take() {
            tokio::spawn(tail.clone().drain(e));
        }
        let closed = CancellationToken::new();
        let guard = supervise(child, Some(tag), self.grace, {
            let closed = closed.clone();
            move |_| closed.cancel()
        });
        let state = Arc::new(State {
            approvals: Approvals::new(self.handler.clone(), self.approval_timeout),
            elicitations: Mutex::new(HashMap::new()),
            routes: Mutex::new(Routes::default()),
        });
        // rmcp reads what the tee passes on; the tee keeps the raw `elicitation/create`
        // params (Codex's fields) that rmcp's typed request drops.
        let (to_rmcp, from_tee) = tokio::io::duplex(64 * 1024);
        tokio::spawn(tee(stdout, to_rmcp, state.clone()));
        let info = InitializeRequestParams::new(
            ClientCapabilities::default(),
            Implementation::new("codex_driver", env!("CARGO_PKG_VERSION")),
        )
        .with_protocol_version(ProtocolVersion::V_2025_06_18);
        let handler = Handler {
            state: state.clone(),
            info,
        };
        let service = rmcp::serve_client(handler, (from_tee, stdin))
            .await
            .map_err(|e| Error::Protocol {
                method: "initialize".into(),
                detail: format!("{e} ({})", tail.text().trim()),
            })?;
        Ok(CodexMcpClient {
            inner: Arc::new(Inner {
                service,
                state,
                _guard: guard,
                tail,
                closed,
            }),
        })
    }
}

/// A running `codex mcp-server`. Cheap to clone; the server stops when the last clone is
/// dropped or [`shutdown`](Self::shutdown) is called.
#[derive(Clone)]
pub struct CodexMcpClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for CodexMcpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodexMcpClient")
            .field("pid", &self.inner._guard.pgid)
            .finish_non_exhaustive()
    }
}

struct Inner {
    service: RunningService<RoleClient, Handler>,
    state: Arc<State>,
    _guard: Arc<ProcessGuard>,
    tail: StderrTail,
    closed: CancellationToken,
}

impl CodexMcpClient {
    /// A new thread (started by its first [`send`](Conversation::send)) with these options.
    pub fn conversation(&self, options: SessionOptions) -> McpConversation {
        McpConversation {
            client: self.clone(),
            options,
            thread_id: None,
            reported: None,
            events: None,
            cancel: CancellationToken::new(),
        }
    }

    /// The server's process id (its process group).
    pub fn pid(&self) -> u32 {
        self.inner._guard.pgid
    }

    /// The end of the server's stderr.
    pub fn stderr_tail(&self) -> String {
        self.inner.tail.text()
    }

    /// Stops the server: closes the session, then its process group (SIGTERM, then SIGKILL
    /// after the grace period).
    pub async fn shutdown(self) {
        self.inner.service.cancellation_token().cancel();
        self.inner._guard.kill.cancel();
        let grace = self.inner._guard.grace + Duration::from_secs(1);
        let _ = tokio::time::timeout(grace, self.inner.closed.cancelled()).await;
    }

    /// Calls `tool` and waits for its result, streaming its events to `events`. Ends early,
    /// with an error, when the turn is aborted (a cancelled or aborted call gets no response).
    async fn call(
        &self,
        tool: &'static str,
        arguments: Map<String, Value>,
        events: Option<&mpsc::Sender<McpEvent>>,
        cancel: &CancellationToken,
    ) -> Result<Call> {
        let protocol = |detail: String| Error::Protocol {
            method: format!("tools/call {tool}"),
            detail,
        };
        let request = ClientRequest::CallToolRequest(Request::new(
            CallToolRequestParams::new(tool).with_arguments(arguments),
        ));
        let (tx, mut rx) = mpsc::channel(EVENT_BUFFER);
        let handle = self
            .inner
            .service
            .peer()
            .send_cancellable_request(request, PeerRequestOptions::no_options())
            .await
            .map_err(|e| protocol(e.to_string()))?;
        let key = id_key(&handle.id);
        self.inner.state.route(&key, tx);
        // Dropped before the result (the caller's future dropped, or cancelled): tells Codex,
        // which aborts the turn (it never answers a cancelled call).
        let mut cancel_on_drop = CancelOnDrop(Some((handle.peer.clone(), handle.id.clone())));
        let mut response = std::pin::pin!(handle.await_response());
        let mut call = Call::default();
        let outcome = loop {
            tokio::select! {
                biased;
                Some(ev) = rx.recv() => {
                    let aborted = matches!(ev.msg, EventMsg::TurnAborted(_));
                    call.observe(&ev);
                    if let Some(out) = events {
                        let _ = out.send(ev).await;
                    }
                    if aborted {
                        break Err(Error::TurnFailed {
                            message: "the turn was aborted".into(),
                            thread_id: call.thread_id.clone(),
                            stderr_tail: self.stderr_tail(),
                            info: None,
                        });
                    }
                }
                r = &mut response => {
                    cancel_on_drop.0 = None;
                    break r.map_err(|e| protocol(e.to_string()));
                }
                () = cancel.cancelled() => break Err(Error::Cancelled),
                () = self.inner.closed.cancelled() => break Err(Error::AppServerClosed {
                    method: format!("tools/call {tool}"),
                    reason: "codex mcp-server exited".into(),
                    stderr_tail: self.stderr_tail(),
                }),
            }
        };
        drop(cancel_on_drop);
        self.inner.state.unroute(&key);
        // What is still queued (the result can overtake the last events).
        while let Ok(ev) = rx.try_recv() {
            call.observe(&ev);
            if let Some(out) = events {
                let _ = out.send(ev).await;
            }
        }
        let result = match outcome? {
            ServerResult::CallToolResult(r) => r,
            other => return Err(protocol(format!("unexpected answer {other:?}"))),
        };
        call.finish(result, self.stderr_tail())
    }
}

/// Sends `notifications/cancelled` for a call still running when dropped.
struct CancelOnDrop(Option<(rmcp::Peer<RoleClient>, rmcp::model::RequestId)>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some((peer, id)) = self.0.take() else {
            return;
        };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let params = CancelledNotificationParam::new(Some(id), Some("cancelled".into()));
                let n = ClientNotification::CancelledNotification(Notification::new(params));
                let _ = peer.send_notification(n).await;
            });
        }
    }
}

/// What one tool call saw.
#[derive(Default)]
struct Call {
    thread_id: Option<String>,
    total: Option<Usage>,
    last_message: Option<String>,
}

impl Call {
    fn observe(&mut self, ev: &McpEvent) {
        if self.thread_id.is_none() {
            self.thread_id.clone_from(&ev.thread_id);
        }
        match &ev.msg {
            EventMsg::TokenCount(t) => {
                if let Some(u) = t.info.as_ref().and_then(|i| i.total_token_usage) {
                    self.total = Some(crate::sessions::replay::usage(u));
                }
            }
            EventMsg::TaskComplete(t) if t.last_agent_message.is_some() => {
                self.last_message.clone_from(&t.last_agent_message);
            }
            _ => {}
        }
    }

    fn finish(mut self, result: CallToolResult, stderr_tail: String) -> Result<Self> {
        let structured = result.structured_content.unwrap_or(Value::Null);
        if let Some(id) = structured.get("threadId").and_then(Value::as_str) {
            self.thread_id = Some(id.to_owned());
        }
        let text = structured
            .get("content")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if result.is_error == Some(true) {
            return Err(Error::TurnFailed {
                message: text.unwrap_or_else(|| "the codex tool failed".into()),
                thread_id: self.thread_id,
                stderr_tail,
                info: None,
            });
        }
        if self.last_message.is_none() {
            self.last_message = text.filter(|t| !t.is_empty());
        }
        Ok(self)
    }
}

/// The options of a thread started through the `codex` tool (its kebab-case arguments).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct SessionOptions {
    /// `model`.
    pub model: Option<String>,
    /// `cwd`: the thread's working directory.
    pub cwd: Option<String>,
    /// `sandbox`: `read-only`, `workspace-write` or `danger-full-access`.
    pub sandbox: Option<String>,
    /// `approval-policy`: `on-request` or `never` (0.130 also `untrusted`, `on-failure`).
    pub approval_policy: Option<String>,
    /// `config`: `-c`-style overrides, dotted keys to JSON values.
    pub config: Map<String, Value>,
    /// `base-instructions`.
    pub base_instructions: Option<String>,
    /// `developer-instructions`.
    pub developer_instructions: Option<String>,
}

impl SessionOptions {
    /// Sets `cwd`.
    #[must_use]
    pub fn cwd(mut self, dir: impl Into<String>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// Sets `model`.
    #[must_use]
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Sets `sandbox`.
    #[must_use]
    pub fn sandbox(mut self, mode: impl Into<String>) -> Self {
        self.sandbox = Some(mode.into());
        self
    }

    /// Sets `approval-policy`.
    #[must_use]
    pub fn approval_policy(mut self, policy: impl Into<String>) -> Self {
        self.approval_policy = Some(policy.into());
        self
    }

    /// Adds a `config` override (`key` dotted, as with `-c`).
    #[must_use]
    pub fn config(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.config.insert(key.into(), value.into());
        self
    }

    /// The `codex` tool's arguments for a first `prompt`.
    pub fn arguments(&self, prompt: &str) -> Map<String, Value> {
        let mut a = Map::new();
        a.insert("prompt".into(), prompt.into());
        let mut put = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                a.insert(k.into(), v.clone().into());
            }
        };
        put("model", &self.model);
        put("cwd", &self.cwd);
        put("sandbox", &self.sandbox);
        put("approval-policy", &self.approval_policy);
        put("base-instructions", &self.base_instructions);
        put("developer-instructions", &self.developer_instructions);
        if !self.config.is_empty() {
            a.insert("config".into(), Value::Object(self.config.clone()));
        }
        a
    }
}

/// One `codex/event` notification of a call.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct McpEvent {
    /// `_meta.threadId`.
    pub thread_id: Option<String>,
    /// The event's `id` (the turn's id; empty for session events).
    pub id: String,
    /// The event, as a rollout keeps it (unknown or changed ones kept with their type).
    pub msg: EventMsg,
}

/// A thread over `codex mcp-server`: the first turn calls the `codex` tool, later ones
/// `codex-reply` on the same thread. Threads live in the server process (the server can't
/// resume one from another process).
#[derive(Debug)]
pub struct McpConversation {
    client: CodexMcpClient,
    options: SessionOptions,
    thread_id: Option<String>,
    /// The thread's total usage after the last turn.
    reported: Option<Usage>,
    events: Option<mpsc::Sender<McpEvent>>,
    cancel: CancellationToken,
}

impl McpConversation {
    /// Cancels a turn in progress (and every later one) when `token` is cancelled: Codex gets
    /// `notifications/cancelled` and aborts the turn; `send` returns [`Error::Cancelled`].
    /// Dropping a `send` future cancels its turn the same way. Codex 0.130-0.153 keep a cancelled
    /// call listening on the thread, so start a new conversation after a cancel.
    pub fn cancel_token(&mut self, token: CancellationToken) {
        self.cancel = token;
    }

    /// The events of the coming turns, as they arrive (bounded: an unread receiver slows the
    /// turn down; drop it to stop streaming).
    pub fn events(&mut self) -> mpsc::Receiver<McpEvent> {
        let (tx, rx) = mpsc::channel(EVENT_BUFFER);
        self.events = Some(tx);
        rx
    }
}

impl Conversation for McpConversation {
    fn thread_id(&self) -> Option<&str> {
        self.thread_id.as_deref()
    }

    async fn send(&mut self, prompt: &str) -> Result<TurnSummary> {
        let (tool, args) = match &self.thread_id {
            None => ("codex", self.options.arguments(prompt)),
            Some(id) => {
                let mut a = Map::new();
                a.insert("prompt".into(), prompt.into());
                a.insert("threadId".into(), id.clone().into());
                ("codex-reply", a)
            }
        };
        let call = self
            .client
            .call(tool, args, self.events.as_ref(), &self.cancel)
            .await?;
        let thread_id = call.thread_id.clone().unwrap_or_default();
        if self.thread_id.is_none() && !thread_id.is_empty() {
            self.thread_id = Some(thread_id.clone());
        }
        let usage =
            crate::conversation::turn_usage(&mut self.reported, call.total.unwrap_or_default());
        Ok(TurnSummary {
            thread_id,
            final_message: call.last_message,
            usage,
            cost_usd: None,
        })
    }
}

/// Which transport [`connect`] chose.
#[derive(Debug)]
#[non_exhaustive]
pub enum AnyConversation {
    /// A thread on a spawned `codex app-server` (every release that has it).
    AppServer(Box<crate::app_server::Thread>),
    /// A thread on a spawned `codex mcp-server` (a binary without the app-server).
    McpServer(Box<McpConversation>),
}

impl Conversation for AnyConversation {
    fn thread_id(&self) -> Option<&str> {
        match self {
            Self::AppServer(t) => t.thread_id(),
            Self::McpServer(c) => c.thread_id(),
        }
    }

    async fn send(&mut self, prompt: &str) -> Result<TurnSummary> {
        match self {
            Self::AppServer(t) => t.send(prompt).await,
            Self::McpServer(c) => c.send(prompt).await,
        }
    }
}

/// Which server a binary with these capabilities is driven through: the app-server when its
/// `--help` lists it, else `mcp-server`; `None` when it has neither.
pub fn transport_for(caps: &crate::probe::Capabilities) -> Option<&'static str> {
    ["app-server", "mcp-server"]
        .into_iter()
        .find(|c| caps.commands.contains(*c))
}

/// A new thread in `cwd`, through whichever server the binary has ([`transport_for`]), with the
/// spawn options and approval handler given: the same caller code on every release.
pub async fn connect(
    spawn: SpawnOptions,
    cwd: Option<String>,
    handler: Arc<dyn ApprovalHandler>,
) -> Result<AnyConversation> {
    let binary = spawn.binary_or_install().await?;
    let caps = crate::probe::Prober::new().probe(&binary).await?;
    match transport_for(&caps) {
        Some("app-server") => {
            let client = crate::app_server::AppServer::new()
                .spawn_options(spawn)
                .approval_handler(handler)
                .spawn()
                .await?;
            let params = p::ThreadStartParams {
                cwd,
                ..Default::default()
            };
            let thread = client.start_thread(params).await?;
            Ok(AnyConversation::AppServer(Box::new(thread)))
        }
        Some(_) => {
            let client = CodexMcp::new()
                .spawn_options(spawn)
                .approval_handler(handler)
                .spawn()
                .await?;
            let options = SessionOptions {
                cwd,
                ..Default::default()
            };
            Ok(AnyConversation::McpServer(Box::new(
                client.conversation(options),
            )))
        }
        None => Err(Error::Unsupported {
            option: "app-server or mcp-server".into(),
            required: "a Codex whose `--help` lists either".into(),
            found: caps.version.clone(),
            binary: binary.path().to_path_buf(),
        }),
    }
}

/// Shared between the rmcp handler, the tee and the calls.
struct State {
    approvals: Approvals,
    /// Raw `elicitation/create` params by request id, put by the tee before rmcp sees them.
    elicitations: Mutex<HashMap<String, Value>>,
    routes: Mutex<Routes>,
}

/// Where each call's events go, by the call's request id (`_meta.requestId`).
#[derive(Default)]
struct Routes {
    calls: HashMap<String, mpsc::Sender<McpEvent>>,
    /// Events of calls not routed: early ones (before their call was routed) and late ones
    /// (after its result). The oldest calls' are dropped first, so late ones never crowd out
    /// a new call's early events.
    unrouted: std::collections::VecDeque<(String, Vec<McpEvent>)>,
}

/// How many calls' unrouted events are kept.
const UNROUTED_CALLS: usize = 16;

impl State {
    fn route(&self, key: &str, tx: mpsc::Sender<McpEvent>) {
        let mut r = lock(&self.routes);
        if let Some(i) = r.unrouted.iter().position(|(k, _)| k == key)
            && let Some((_, early)) = r.unrouted.remove(i)
        {
            for ev in early {
                let _ = tx.try_send(ev);
            }
        }
        r.calls.insert(key.to_owned(), tx);
    }

    fn unroute(&self, key: &str) {
        lock(&self.routes).calls.remove(key);
    }

    async fn deliver(&self, key: String, ev: McpEvent) {
        let tx = {
            let mut r = lock(&self.routes);
            match r.calls.get(&key) {
                Some(tx) => tx.clone(),
                None => {
                    match r.unrouted.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, evs)) if evs.len() < EVENT_BUFFER => evs.push(ev),
                        Some(_) => {}
                        None => {
                            if r.unrouted.len() >= UNROUTED_CALLS {
                                r.unrouted.pop_front();
                            }
                            r.unrouted.push_back((key, vec![ev]));
                        }
                    }
                    return;
                }
            }
        };
        let _ = tx.send(ev).await;
    }
}

/// A JSON-RPC id as a map key (`0`, `"req-a"`): the same for rmcp's ids and raw ones.
fn id_key(id: &impl serde::Serialize) -> String {
    serde_json::to_string(id).unwrap_or_default()
}

/// Copies the server's stdout to rmcp line by line, except `codex/event` notifications, which
/// it delivers to their call itself (before any later line, so a call's events are all in
/// before its result); keeps the raw params of every `elicitation/create` request first.
async fn tee(
    stdout: tokio::process::ChildStdout,
    mut to_rmcp: tokio::io::DuplexStream,
    state: Arc<State>,
) {
    let mut lines = BufReader::new(stdout).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if line.contains("codex/event")
            && let Ok(msg) = serde_json::from_str::<Value>(&line)
            && msg.get("method").and_then(Value::as_str) == Some("codex/event")
        {
            if let Some((key, ev)) = event_of(msg) {
                state.deliver(key, ev).await;
            }
            continue;
        }
        if line.contains("elicitation/create")
            && let Ok(msg) = serde_json::from_str::<Value>(&line)
            && msg.get("method").and_then(Value::as_str) == Some("elicitation/create")
            && let Some(id) = msg.get("id")
        {
            let params = msg.get("params").cloned().unwrap_or(Value::Null);
            lock(&state.elicitations).insert(id_key(id), params);
        }
        if to_rmcp.write_all(line.as_bytes()).await.is_err()
            || to_rmcp.write_all(b"\n").await.is_err()
        {
            break;
        }
    }
    let _ = to_rmcp.shutdown().await;
}

/// A `codex/event` notification: the key of the call it belongs to (`_meta.requestId`) and
/// the event.
fn event_of(msg: Value) -> Option<(String, McpEvent)> {
    let Value::Object(mut msg) = msg else {
        return None;
    };
    let Some(Value::Object(mut params)) = msg.remove("params") else {
        return None;
    };
    let meta = params.remove("_meta").unwrap_or(Value::Null);
    let key = id_key(meta.get("requestId")?);
    let ev = McpEvent {
        thread_id: meta
            .get("threadId")
            .and_then(Value::as_str)
            .map(str::to_owned),
        id: params
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        msg: EventMsg::from_payload(params.remove("msg").unwrap_or(Value::Null)),
    };
    Some((key, ev))
}

/// Codex's approval request in an `elicitation/create`, as the legacy approval the app-server
/// handler knows; `None` for another elicitation (one of Codex's own MCP servers asking).
fn approval_of(params: &Value) -> Option<Approval> {
    let field = |k: &str| params.get(k).cloned().unwrap_or(Value::Null);
    let thread = params
        .get("threadId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let request = match params.get("codex_elicitation").and_then(Value::as_str)? {
        "exec-approval" => {
            ApprovalRequest::LegacyExecCommand(p::ExecCommandApprovalParams::repair(&json!({
                "conversationId": thread,
                "callId": field("codex_call_id"),
                "command": field("codex_command"),
                "cwd": field("codex_cwd"),
                "reason": field("codex_reason"),
                "parsedCmd": field("codex_parsed_cmd"),
            }))?)
        }
        "patch-approval" => {
            ApprovalRequest::LegacyApplyPatch(p::ApplyPatchApprovalParams::repair(&json!({
                "conversationId": thread,
                "callId": field("codex_call_id"),
                "fileChanges": field("codex_changes"),
                "reason": field("codex_reason"),
                "grantRoot": field("codex_grant_root"),
            }))?)
        }
        _ => return None,
    };
    Some(Approval {
        thread_id: thread,
        request,
    })
}

/// rmcp's client side: answers approvals.
struct Handler {
    state: Arc<State>,
    info: InitializeRequestParams,
}

impl Service<RoleClient> for Handler {
    async fn handle_request(
        &self,
        request: ServerRequest,
        context: RequestContext<RoleClient>,
    ) -> std::result::Result<ClientResult, ErrorData> {
        let elicitation = match &request {
            ServerRequest::ElicitRequest(_) => true,
            ServerRequest::CustomRequest(r) => r.method == "elicitation/create",
            _ => false,
        };
        if !elicitation {
            return match request {
                ServerRequest::PingRequest(_) => Ok(ClientResult::empty(())),
                _ => Err(ErrorData::new(
                    ErrorCode::METHOD_NOT_FOUND,
                    "codex-driver: no handler for this request",
                    None,
                )),
            };
        }
        let raw = lock(&self.state.elicitations)
            .remove(&id_key(&context.id))
            .unwrap_or(Value::Null);
        // Never an error reply: Codex would wait on it forever. What it can't read declines.
        let answer = match approval_of(&raw) {
            Some(approval) => self
                .state
                .approvals
                .decide(approval, context.ct.clone())
                .await
                .unwrap_or_else(|| json!({"decision": "denied"})),
            None => json!({"action": "decline"}),
        };
        Ok(ClientResult::CustomResult(CustomResult(answer)))
    }

    async fn handle_notification(
        &self,
        _notification: ServerNotification,
        _context: NotificationContext<RoleClient>,
    ) -> std::result::Result<(), ErrorData> {
        // `codex/event`s are taken off the wire by the tee: rmcp would drop their `_meta`
        // (which call they belong to). Nothing else is sent.
        Ok(())
    }

    fn get_info(&self) -> InitializeRequestParams {
        self.info.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_and_tool_arguments() {
        let m = CodexMcp::new().config("model", "o3").enable("x");
        assert_eq!(
            m.args(),
            ["mcp-server", "-c", "model=\"o3\"", "--enable", "x"]
        );
        let o = SessionOptions::default()
            .cwd("/w")
            .sandbox("read-only")
            .approval_policy("on-request")
            .config("model_reasoning_effort", "high");
        assert_eq!(
            Value::Object(o.arguments("hi")),
            json!({"prompt": "hi", "cwd": "/w", "sandbox": "read-only",
                   "approval-policy": "on-request",
                   "config": {"model_reasoning_effort": "high"}})
        );
    }

    fn event(id: &str) -> McpEvent {
        McpEvent {
            thread_id: None,
            id: id.into(),
            msg: EventMsg::from_payload(json!({"type": "task_started"})),
        }
    }

    /// Events that come before their call is routed reach it; late events of finished calls
    /// are kept only for the newest few calls, so they never crowd out a new call's.
    #[tokio::test]
    async fn events_are_routed_to_their_call_early_or_not() {
        let state = State {
            approvals: Approvals::new(Arc::new(DenyAll), Duration::from_secs(1)),
            elicitations: Mutex::new(HashMap::new()),
            routes: Mutex::new(Routes::default()),
        };
        for late in 0..20 {
            state.deliver(format!("{late}"), event("late")).await;
        }
        state.deliver("21".into(), event("early")).await;
        let (tx, mut rx) = mpsc::channel(8);
        state.route("21", tx);
        state.deliver("21".into(), event("routed")).await;
        let got: Vec<String> = [rx.try_recv(), rx.try_recv()]
            .into_iter()
            .flatten()
            .map(|e| e.id)
            .collect();
        assert_eq!(got, ["early", "routed"]);
        let kept: Vec<String> = lock(&state.routes)
            .unrouted
            .iter()
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(kept.len(), UNROUTED_CALLS - 1);
        assert_eq!(kept.first().map(String::as_str), Some("5"));
    }

    #[test]
    fn the_app_server_is_preferred_then_mcp_server() {
        let caps = |commands: &[&str]| crate::probe::Capabilities {
            version: semver::Version::new(0, 153, 4),
            features: vec![],
            commands: commands.iter().map(|c| (*c).to_owned()).collect(),
            exec_flags: Default::default(),
            top_flags: Default::default(),
            exec_commands: Default::default(),
            probed_at: 0,
        };
        assert_eq!(
            transport_for(&caps(&["exec", "mcp-server", "app-server"])),
            Some("app-server")
        );
        assert_eq!(
            transport_for(&caps(&["exec", "mcp-server"])),
            Some("mcp-server")
        );
        assert_eq!(transport_for(&caps(&["exec"])), None);
    }

    /// The params 0.153.4 sent (docs/research/mcp-server.md), as the legacy approvals.
    #[test]
    fn elicitations_become_legacy_approvals() {
        let exec = json!({
            "message": "Allow Codex to run `touch a` in `/w`?",
            "requestedSchema": {"type": "object", "properties": {}},
            "threadId": "t1",
            "codex_elicitation": "exec-approval",
            "codex_mcp_tool_call_id": "2",
            "codex_event_id": "e1",
            "codex_call_id": "call_1_0",
            "codex_command": ["/bin/bash", "-lc", "touch a"],
            "codex_cwd": "/w",
            "codex_parsed_cmd": [{"type": "unknown", "cmd": "touch a"}]
        });
        let a = approval_of(&exec).unwrap_or_else(|| panic!("not an approval"));
        assert_eq!(a.thread_id.as_deref(), Some("t1"));
        match &a.request {
            ApprovalRequest::LegacyExecCommand(p) => {
                assert_eq!(
                    (p.call_id.as_str(), p.command.as_slice(), p.cwd.as_str()),
                    (
                        "call_1_0",
                        &["/bin/bash".to_owned(), "-lc".into(), "touch a".into()][..],
                        "/w"
                    )
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            a.request
                .response(&crate::app_server::approvals::Decision::Accept),
            json!({"decision": "approved"})
        );
        let patch = json!({
            "threadId": "t1",
            "codex_elicitation": "patch-approval",
            "codex_call_id": "call_2",
            "codex_changes": {"/w/a.txt": {"type": "add", "content": "hi\n"}}
        });
        match approval_of(&patch).map(|a| a.request) {
            Some(ApprovalRequest::LegacyApplyPatch(p)) => {
                assert_eq!(p.call_id, "call_2");
                assert_eq!(p.file_changes.len(), 1);
            }
            other => panic!("{other:?}"),
        }
        // Another MCP server's elicitation (no codex_elicitation): not an approval.
        assert!(approval_of(&json!({"message": "name?"})).is_none());
    }
}
