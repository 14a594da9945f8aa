//! The high-level client: [`AppServer`] (spawn options) → [`Codex`] → [`Thread`] → [`TurnHandle`].

use super::approvals::{ApprovalHandler, Approvals, DenyAll};
use super::protocol::{
    self as p, ClientRequest, ServerNotification, ThreadForkParams, ThreadResumeParams,
    ThreadStartParams, TurnStartParams, UserInput,
};
use super::rpc::{Closed, Routed, Rpc};
use crate::binary::Binary;
use crate::config::ConfigOverrides;
use crate::env::SpawnEnv;
use crate::error::{Error, Result};
use crate::process::{Leader, ReapGate, StderrTail};
use serde::Serialize;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::BufReader;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Options for spawning `codex app-server` (stdio).
#[derive(Clone)]
#[must_use]
pub struct AppServer {
    binary: Option<Binary>,
    env: SpawnEnv,
    current_dir: Option<PathBuf>,
    config: ConfigOverrides,
    enable: Vec<String>,
    other_options: Vec<String>,
    client_name: String,
    client_version: String,
    experimental_api: bool,
    handler: Arc<dyn ApprovalHandler>,
    approval_timeout: Duration,
    request_timeout: Duration,
    buffer: usize,
    grace: Duration,
}

impl std::fmt::Debug for AppServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppServer")
            .field("binary", &self.binary)
            .field("client_name", &self.client_name)
            .finish_non_exhaustive()
    }
}

impl Default for AppServer {
    fn default() -> Self {
        Self::new()
    }
}

impl AppServer {
    /// Defaults: binary from [`Binary::resolve`], approvals denied, approval timeout 5 minutes,
    /// request timeout 60 s, 1024 buffered notifications per subscriber.
    pub fn new() -> Self {
        Self {
            binary: None,
            env: SpawnEnv::new(),
            current_dir: None,
            config: ConfigOverrides::new(),
            enable: Vec::new(),
            other_options: Vec::new(),
            client_name: "codex_driver".into(),
            client_version: env!("CARGO_PKG_VERSION").into(),
            experimental_api: false,
            handler: Arc::new(DenyAll),
            approval_timeout: Duration::from_secs(300),
            request_timeout: Duration::from_secs(60),
            buffer: 1024,
            grace: Duration::from_secs(3),
        }
    }

    /// The Codex binary.
    pub fn binary(mut self, b: Binary) -> Self {
        self.binary = Some(b);
        self
    }

    /// `CODEX_HOME` for the server.
    pub fn codex_home(mut self, dir: impl AsRef<Path>) -> Self {
        self.env.codex_home(dir.as_ref());
        self
    }

    /// The whole spawn environment at once (replaces earlier `env*` settings). A `CODEX_HOME`
    /// set before with `codex_home` is kept unless `env` names its own.
    pub fn spawn_env(mut self, env: SpawnEnv) -> Self {
        self.env = env.or_home(self.env.home());
        self
    }

    /// Working directory of the server process.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    /// `-c key=value` overrides for the server.
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

    /// `clientInfo` sent in `initialize` (also the `client` of notify payloads).
    pub fn client_info(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.client_name = name.into();
        self.client_version = version.into();
        self
    }

    /// Opt in to experimental API methods (`capabilities.experimentalApi`).
    pub fn experimental_api(mut self, yes: bool) -> Self {
        self.experimental_api = yes;
        self
    }

    /// Who answers approval requests (default: [`DenyAll`]).
    pub fn approval_handler(mut self, h: Arc<dyn ApprovalHandler>) -> Self {
        self.handler = h;
        self
    }

    /// How long a handler may take before the request is declined (default 5 minutes).
    pub fn approval_timeout(mut self, d: Duration) -> Self {
        self.approval_timeout = d;
        self
    }

    /// Default timeout of each request (default 60 s).
    pub fn request_timeout(mut self, d: Duration) -> Self {
        self.request_timeout = d;
        self
    }

    /// Notifications buffered per subscriber before the reader waits (default 1024).
    pub fn notification_buffer(mut self, n: usize) -> Self {
        self.buffer = n;
        self
    }

    /// Time between closing stdin / SIGTERM and SIGKILL on shutdown (default 3 s).
    pub fn kill_grace(mut self, d: Duration) -> Self {
        self.grace = d;
        self
    }

    pub(crate) fn options(self) -> ClientOptions {
        ClientOptions {
            handler: self.handler,
            approval_timeout: self.approval_timeout,
            request_timeout: self.request_timeout,
            buffer: self.buffer,
            client_name: self.client_name,
            client_version: self.client_version,
            experimental_api: self.experimental_api,
        }
    }

    /// The argv after the binary.
    pub fn args(&self) -> Vec<String> {
        let mut a = vec!["app-server".to_owned()];
        for kv in self.config.to_args() {
            a.push("-c".into());
            a.push(kv);
        }
        for f in &self.enable {
            a.push("--enable".into());
            a.push(f.clone());
        }
        a.extend(self.other_options.iter().cloned());
        a
    }

    /// An `app-server` option this library does not know yet (say, a flag of a newer Codex),
    /// passed after every known option.
    pub fn other_option(mut self, arg: impl Into<String>) -> Self {
        self.other_options.push(arg.into());
        self
    }

    /// Several [`other_option`](Self::other_option)s, in order.
    pub fn other_options<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.other_options.extend(args.into_iter().map(Into::into));
        self
    }

    /// Spawns the server and performs the `initialize`/`initialized` handshake.
    pub async fn spawn(self) -> Result<Codex> {
        let binary = match &self.binary {
            Some(b) => b.clone(),
            None => Binary::resolve(None, true)?,
        };
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
        let mut cmd = tokio::process::Command::new(binary.path());
        cmd.args(self.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        self.env.apply(&mut cmd);
        if let Some(d) = &self.current_dir {
            cmd.current_dir(d);
        }
        let mut child = cmd.spawn().map_err(|source| Error::Spawn {
            path: binary.path().to_path_buf(),
            source,
        })?;
        let pgid = child.id().unwrap_or(0);
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(Error::InvalidOptions(
                "failed to capture the app-server's stdio".into(),
            ));
        };
        let tail = StderrTail::new(64 * 1024);
        if let Some(e) = child.stderr.take() {
            tokio::spawn(tail.clone().drain(e));
        }
        let rpc = Rpc::start(
            BufReader::with_capacity(64 * 1024, stdout),
            stdin,
            Approvals::new(self.handler.clone(), self.approval_timeout),
            self.request_timeout,
            self.buffer,
            Some(tail.clone()),
        );
        let kill = CancellationToken::new();
        let done = Arc::new(ReapGate::default());
        {
            let (rpc, kill, done, grace, tail) = (
                rpc.clone(),
                kill.clone(),
                done.clone(),
                self.grace,
                tail.clone(),
            );
            tokio::spawn(async move {
                // The group is killed before the leader is reaped (never a recycled id), and
                // `done` is closed just before reaping so that `ProcessGuard` stops signalling.
                let mut leader = Leader::new(child).reap_gate(done.clone());
                // If the runtime drops this task before it reaps (runtime shutdown), the group
                // must not outlive it (dropped before `leader`, so while the id is ours).
                let mut reap_guard = crate::process::GroupKillGuard(Some(pgid));
                let status = tokio::select! {
                    () = leader.exited() => leader.reap().await,
                    _ = kill.cancelled() => leader.terminate(grace).await,
                };
                reap_guard.disarm();
                // Let the stderr drain catch the last lines.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let reason = match status {
                    Some(s) => describe_exit(s),
                    None => "exited (status unknown)".into(),
                };
                rpc.mark_exited(Closed {
                    reason,
                    stderr_tail: tail.text(),
                });
            });
        }
        let guard = Arc::new(ProcessGuard {
            pgid,
            done,
            kill,
            grace: self.grace,
        });
        let codex = Codex {
            _conn: Arc::new(ConnGuard(rpc.clone())),
            rpc,
            guard: Some(guard),
            binary: Some(binary),
        };
        codex
            .initialize(
                &self.client_name,
                &self.client_version,
                self.experimental_api,
            )
            .await?;
        Ok(codex)
    }
}

/// Client-side options shared by every transport.
pub(crate) struct ClientOptions {
    pub(crate) handler: Arc<dyn ApprovalHandler>,
    pub(crate) approval_timeout: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) buffer: usize,
    pub(crate) client_name: String,
    pub(crate) client_version: String,
    pub(crate) experimental_api: bool,
}

fn describe_exit(s: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (s.code(), s.signal()) {
        (Some(c), _) => format!("the app-server exited with status {c}"),
        (None, Some(sig)) => format!("the app-server was killed by signal {sig}"),
        _ => format!("the app-server exited: {s}"),
    }
}

/// SIGKILLs a process group when dropped while still armed.
/// Kills the server when the last [`Codex`] clone goes away.
struct ProcessGuard {
    pgid: u32,
    done: Arc<ReapGate>,
    kill: CancellationToken,
    grace: Duration,
}

impl Drop for ProcessGuard {
    fn drop(&mut self) {
        if !self.done.is_closed() {
            // Start the graceful stop now (the watcher may never run again if the runtime is
            // shutting down; its guard then SIGKILLs the group), and let the watcher escalate.
            // Signals go through the gate: never after the server was reaped.
            self.done
                .signal(self.pgid, nix::sys::signal::Signal::SIGTERM);
            self.kill.cancel();
            if tokio::runtime::Handle::try_current().is_err() {
                self.done
                    .signal(self.pgid, nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}

/// A connection to an app-server. Cheap to clone; the server process (when we spawned it)
/// stops when the last clone is dropped or [`shutdown`](Self::shutdown) is called.
#[derive(Clone)]
pub struct Codex {
    rpc: Rpc,
    guard: Option<Arc<ProcessGuard>>,
    _conn: Arc<ConnGuard>,
    binary: Option<Binary>,
}

/// Closes our side of the connection when the last [`Codex`] clone goes away (the reader task
/// holds the connection itself, so it would otherwise stay open).
struct ConnGuard(Rpc);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.close_output();
    }
}

impl std::fmt::Debug for Codex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codex")
            .field("pid", &self.guard.as_ref().map(|g| g.pgid))
            .finish_non_exhaustive()
    }
}

impl Codex {
    /// A client over an established connection (no process of ours).
    pub(crate) async fn from_connection(
        rpc: Rpc,
        name: String,
        version: String,
        experimental: bool,
    ) -> Result<Self> {
        let codex = Codex {
            _conn: Arc::new(ConnGuard(rpc.clone())),
            rpc,
            guard: None,
            binary: None,
        };
        codex.initialize(&name, &version, experimental).await?;
        Ok(codex)
    }

    async fn initialize(&self, name: &str, version: &str, experimental: bool) -> Result<()> {
        let mut params = json!({"clientInfo": {"name": name, "version": version}});
        if experimental {
            params["capabilities"] = json!({"experimentalApi": true});
        }
        self.rpc.request("initialize", params, None).await?;
        self.rpc.notify("initialized", None).await
    }

    /// The server's process id (its process group), when we spawned it.
    pub fn pid(&self) -> Option<u32> {
        self.guard.as_ref().map(|g| g.pgid)
    }

    /// The binary, when we spawned it.
    pub fn binary(&self) -> Option<&Binary> {
        self.binary.as_ref()
    }

    /// Why the connection closed, once it has.
    pub fn closed(&self) -> Option<Closed> {
        self.rpc.0.closed.borrow().clone()
    }

    /// Completes when the connection closes (server exit, crash or shutdown), with the reason.
    pub async fn wait_closed(&self) -> Closed {
        let mut rx = self.rpc.0.closed.clone();
        let res = rx.wait_for(Option::is_some).await.map(|c| c.clone());
        match res {
            Ok(Some(c)) => c,
            _ => Closed {
                reason: "connection closed".into(),
                stderr_tail: String::new(),
            },
        }
    }

    /// The end of the server's stderr.
    pub fn stderr_tail(&self) -> String {
        self.rpc
            .0
            .stderr
            .as_ref()
            .map(StderrTail::text)
            .unwrap_or_default()
    }

    /// Replaces the approval handler for subsequent requests.
    pub fn set_approval_handler(&self, h: Arc<dyn ApprovalHandler>) {
        self.rpc.set_handler(h);
    }

    /// A typed request (see [`protocol::ClientRequest`](super::protocol::ClientRequest)).
    pub async fn request<R: ClientRequest>(&self, params: &R) -> Result<R::Response> {
        let v = self.request_raw(R::METHOD, to_value(params)?).await?;
        serde_json::from_value(v).map_err(|e| Error::Protocol {
            method: R::METHOD.to_owned(),
            detail: e.to_string(),
        })
    }

    /// Any request, untyped.
    pub async fn request_raw(&self, method: &str, params: Value) -> Result<Value> {
        self.rpc.request(method, params, None).await
    }

    /// Any request with its own timeout.
    pub async fn request_with_timeout(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value> {
        self.rpc.request(method, params, Some(timeout)).await
    }

    /// Every notification from the server. Bounded: a subscription left unread for a few
    /// seconds while full is dropped (its receiver then ends) rather than stall other threads.
    pub fn notifications(&self) -> mpsc::Receiver<Routed> {
        self.rpc.subscribe(None)
    }

    /// `thread/status/changed` of every thread on this server (active with its flags, idle,
    /// system error, ...): what an orchestrator watching many threads needs. Same bound as
    /// [`Codex::notifications`].
    pub fn thread_status_changes(&self) -> mpsc::Receiver<p::ThreadStatusChangedNotification> {
        let mut all = self.rpc.subscribe(None);
        let (tx, rx) = mpsc::channel(256);
        tokio::spawn(async move {
            while let Some(r) = all.recv().await {
                if let ServerNotification::ThreadStatusChanged(n) = r.notification
                    && tx.send(n).await.is_err()
                {
                    return;
                }
            }
        });
        rx
    }

    /// `thread/start`.
    pub async fn start_thread(&self, params: ThreadStartParams) -> Result<Thread> {
        self.open_thread("thread/start", to_value(&params)?).await
    }

    /// `thread/resume` of thread `id` (from any earlier server process, with the same
    /// `CODEX_HOME`).
    pub async fn resume_thread(&self, id: &str) -> Result<Thread> {
        self.resume_thread_with(ThreadResumeParams {
            thread_id: id.to_owned(),
            ..Default::default()
        })
        .await
    }

    /// `thread/resume` with full params.
    pub async fn resume_thread_with(&self, params: ThreadResumeParams) -> Result<Thread> {
        self.open_thread("thread/resume", to_value(&params)?).await
    }

    /// `thread/fork`: a new thread with the history of `id`.
    pub async fn fork_thread(&self, id: &str) -> Result<Thread> {
        self.fork_thread_with(ThreadForkParams {
            thread_id: id.to_owned(),
            ..Default::default()
        })
        .await
    }

    /// `thread/fork` with full params.
    pub async fn fork_thread_with(&self, params: ThreadForkParams) -> Result<Thread> {
        self.open_thread("thread/fork", to_value(&params)?).await
    }

    async fn open_thread(&self, method: &str, params: Value) -> Result<Thread> {
        let resp = self.rpc.request(method, params, None).await?;
        let id = resp
            .pointer("/thread/id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Error::Protocol {
                method: method.to_owned(),
                detail: "the response has no thread.id".into(),
            })?;
        // Events that arrived before this subscription (e.g. `thread/started`) were kept for it.
        let events = self.rpc.subscribe(Some(id.clone()));
        Ok(Thread {
            codex: self.clone(),
            id,
            response: resp,
            events,
        })
    }

    /// `thread/list` (one page; see `next_cursor` for more).
    pub async fn list_threads(&self, params: p::ThreadListParams) -> Result<p::ThreadListResponse> {
        self.request(&params).await
    }

    /// Waits for turn `turn_id` of thread `thread_id` to finish, whoever started it; returns the
    /// final turn (from `turn/completed`, or from `thread/turns/list` when it had already ended).
    pub async fn wait_for_turn_completion(
        &self,
        thread_id: &str,
        turn_id: &str,
    ) -> Result<p::Turn> {
        let mut events = self.rpc.subscribe(Some(thread_id.to_owned()));
        // It may have finished before we subscribed.
        if let Ok(list) = self
            .request_raw(
                "thread/turns/list",
                json!({"threadId": thread_id, "sortDirection": "desc", "limit": 20}),
            )
            .await
            && let Some(t) = list.get("data").and_then(Value::as_array).and_then(|d| {
                d.iter()
                    .find(|t| t.get("id").and_then(Value::as_str) == Some(turn_id))
            })
            && t.get("status").and_then(Value::as_str) != Some("inProgress")
        {
            return serde_json::from_value(t.clone()).map_err(|e| Error::Protocol {
                method: "thread/turns/list".into(),
                detail: e.to_string(),
            });
        }
        while let Some(r) = events.recv().await {
            if let ServerNotification::TurnCompleted(c) = r.notification
                && c.turn.id == turn_id
            {
                return Ok(c.turn);
            }
        }
        Err(self.closed_error("turn/completed"))
    }

    fn closed_error(&self, what: &str) -> Error {
        let c = self.closed().unwrap_or(Closed {
            reason: "connection closed".into(),
            stderr_tail: String::new(),
        });
        Error::AppServerClosed {
            method: what.to_owned(),
            reason: c.reason,
            stderr_tail: c.stderr_tail,
        }
    }

    /// Stops the server: closes its stdin, waits up to the grace period, then kills its process
    /// group, and reaps it. Pending requests fail with [`Error::AppServerClosed`].
    pub async fn shutdown(self) -> Result<Closed> {
        self.rpc.close_output();
        match &self.guard {
            Some(g) => {
                if let Ok(c) = tokio::time::timeout(g.grace, self.wait_closed()).await {
                    return Ok(c);
                }
                g.kill.cancel();
                Ok(self.wait_closed().await)
            }
            // A remote server: we only close our connection, and don't wait for ever.
            None => match tokio::time::timeout(Duration::from_secs(5), self.wait_closed()).await {
                Ok(c) => Ok(c),
                Err(_) => {
                    self.rpc.mark_closed(Closed {
                        reason: "shut down by the client".into(),
                        stderr_tail: String::new(),
                    });
                    Ok(self.wait_closed().await)
                }
            },
        }
    }

    /// `account/read`.
    pub async fn account(&self) -> Result<p::GetAccountResponse> {
        self.request(&p::GetAccountParams::default()).await
    }

    /// `account/read` with `refreshToken: true`: Codex refreshes a ChatGPT login's tokens
    /// (rotating the refresh token in `auth.json`) before answering. Follow with
    /// [`crate::auth::sync`] when the home shares its login with others.
    pub async fn account_refreshed(&self) -> Result<p::GetAccountResponse> {
        self.request(&p::GetAccountParams {
            refresh_token: Some(true),
            ..Default::default()
        })
        .await
    }

    /// `account/login/start` with an API key (sent over the pipe, never in argv).
    pub async fn login_api_key(&self, api_key: &str) -> Result<()> {
        self.request_raw(
            "account/login/start",
            json!({"type": "apiKey", "apiKey": api_key}),
        )
        .await
        .map(|_| ())
    }

    /// `account/login/start` for a ChatGPT browser login or device code: returns a handle
    /// with the URL (or user code) to show, to wait for completion or cancel.
    pub async fn login_chatgpt(&self, device_code: bool) -> Result<LoginHandle> {
        let mut events = self.rpc.subscribe(None);
        let kind = if device_code {
            "chatgptDeviceCode"
        } else {
            "chatgpt"
        };
        let resp = self
            .request_raw("account/login/start", json!({"type": kind}))
            .await?;
        let login_id = resp
            .get("loginId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let id = login_id.clone();
        tokio::spawn(async move {
            while let Some(r) = events.recv().await {
                if let ServerNotification::AccountLoginCompleted(c) = r.notification
                    && c.login_id.as_deref().is_none_or(|l| l == id)
                {
                    let _ = tx.send(c);
                    return;
                }
            }
        });
        Ok(LoginHandle {
            codex: self.clone(),
            login_id,
            response: resp,
            done: rx,
        })
    }

    /// `account/logout`.
    pub async fn logout(&self) -> Result<()> {
        self.request_raw("account/logout", Value::Null)
            .await
            .map(|_| ())
    }

    /// `config/read`.
    pub async fn config_read(&self) -> Result<p::ConfigReadResponse> {
        self.request(&p::ConfigReadParams::default()).await
    }

    /// `config/value/write`: sets `key_path` (dotted) to `value` in the user's config.toml.
    pub async fn config_value_write(&self, key_path: &str, value: Value) -> Result<Value> {
        self.request_raw(
            "config/value/write",
            json!({"keyPath": key_path, "value": value, "mergeStrategy": "replace"}),
        )
        .await
    }

    /// `mcpServerStatus/list`.
    pub async fn mcp_server_status(&self) -> Result<Value> {
        self.request_raw("mcpServerStatus/list", json!({})).await
    }

    /// `model/list`.
    pub async fn models(&self) -> Result<Value> {
        self.request_raw("model/list", json!({})).await
    }
}

/// A pending ChatGPT login.
pub struct LoginHandle {
    codex: Codex,
    login_id: String,
    response: Value,
    done: tokio::sync::oneshot::Receiver<p::AccountLoginCompletedNotification>,
}

impl LoginHandle {
    /// The login id.
    pub fn login_id(&self) -> &str {
        &self.login_id
    }

    /// The URL to open (browser login).
    pub fn auth_url(&self) -> Option<&str> {
        self.response.get("authUrl").and_then(Value::as_str)
    }

    /// The code to enter (device-code login).
    pub fn user_code(&self) -> Option<&str> {
        self.response.get("userCode").and_then(Value::as_str)
    }

    /// Where to enter the code (device-code login).
    pub fn verification_url(&self) -> Option<&str> {
        self.response.get("verificationUrl").and_then(Value::as_str)
    }

    /// Waits for `account/login/completed`.
    pub async fn wait(self) -> Result<p::AccountLoginCompletedNotification> {
        self.done
            .await
            .map_err(|_| self.codex.closed_error("account/login/completed"))
    }

    /// `account/login/cancel`.
    pub async fn cancel(self) -> Result<()> {
        self.codex
            .request_raw("account/login/cancel", json!({"loginId": self.login_id}))
            .await
            .map(|_| ())
    }
}

fn to_value<T: Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| Error::InvalidOptions(e.to_string()))
}

/// What a turn's input can be built from.
#[derive(Debug, Clone)]
pub struct TurnInput(pub Vec<UserInput>);

impl From<&str> for TurnInput {
    fn from(s: &str) -> Self {
        Self(vec![text_input(s)])
    }
}

impl From<String> for TurnInput {
    fn from(s: String) -> Self {
        Self(vec![text_input(&s)])
    }
}

impl From<Vec<UserInput>> for TurnInput {
    fn from(v: Vec<UserInput>) -> Self {
        Self(v)
    }
}

/// A text input item.
pub fn text_input(text: &str) -> UserInput {
    UserInput::Text(p::UserInputText {
        text: text.to_owned(),
        ..Default::default()
    })
}

/// A thread on the server, with its event subscription.
#[derive(Debug)]
pub struct Thread {
    codex: Codex,
    id: String,
    response: Value,
    events: mpsc::Receiver<Routed>,
}

impl Thread {
    /// The thread id (durable: resume it from another process with the same `CODEX_HOME`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The raw response of `thread/start`/`resume`/`fork` (model, sandbox, cwd, ...).
    pub fn response(&self) -> &Value {
        &self.response
    }

    /// The client.
    pub fn codex(&self) -> &Codex {
        &self.codex
    }

    /// Starts a turn with this input and default options.
    pub async fn turn(&mut self, input: impl Into<TurnInput>) -> Result<TurnHandle<'_>> {
        self.turn_with(TurnStartParams {
            input: input.into().0,
            ..Default::default()
        })
        .await
    }

    /// Starts a turn with full options (model, cwd, sandbox policy, approval policy, output
    /// schema, ...). `thread_id` is filled in.
    pub async fn turn_with(&mut self, mut params: TurnStartParams) -> Result<TurnHandle<'_>> {
        params.thread_id = self.id.clone();
        if self.events.is_closed() && self.codex.closed().is_none() {
            // The subscription was dropped for falling behind (events left unread between
            // turns): start a fresh one.
            self.events = self.codex.rpc.subscribe(Some(self.id.clone()));
        }
        let resp = self
            .codex
            .rpc
            .request("turn/start", to_value(&params)?, None)
            .await?;
        let turn_id = resp
            .pointer("/turn/id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Error::Protocol {
                method: "turn/start".into(),
                detail: "the response has no turn.id".into(),
            })?;
        Ok(TurnHandle {
            control: TurnControl {
                codex: self.codex.clone(),
                thread_id: self.id.clone(),
                turn_id,
            },
            thread: self,
            finished: false,
        })
    }

    /// Runs one text turn to the end.
    pub async fn run(&mut self, input: impl Into<TurnInput>) -> Result<TurnOutcome> {
        self.turn(input).await?.run().await
    }

    /// `thread/name/set`.
    pub async fn set_name(&self, name: &str) -> Result<()> {
        self.codex
            .request_raw(
                "thread/name/set",
                json!({"threadId": self.id, "name": name}),
            )
            .await
            .map(|_| ())
    }

    /// `thread/archive`.
    pub async fn archive(&self) -> Result<()> {
        self.codex
            .request_raw("thread/archive", json!({"threadId": self.id}))
            .await
            .map(|_| ())
    }

    /// `thread/unarchive`.
    pub async fn unarchive(&self) -> Result<()> {
        self.codex
            .request_raw("thread/unarchive", json!({"threadId": self.id}))
            .await
            .map(|_| ())
    }

    /// `thread/compact/start`.
    pub async fn compact(&self) -> Result<()> {
        self.codex
            .request_raw("thread/compact/start", json!({"threadId": self.id}))
            .await
            .map(|_| ())
    }

    /// `thread/read` (with turns).
    pub async fn read(&self) -> Result<Value> {
        self.codex
            .request_raw(
                "thread/read",
                json!({"threadId": self.id, "includeTurns": true}),
            )
            .await
    }

    async fn next_routed(&mut self) -> Option<Routed> {
        self.events.recv().await
    }
}

/// Steer or interrupt a running turn from anywhere (cloneable, `Send`).
#[derive(Debug, Clone)]
pub struct TurnControl {
    codex: Codex,
    thread_id: String,
    turn_id: String,
}

impl TurnControl {
    /// The turn id.
    pub fn turn_id(&self) -> &str {
        &self.turn_id
    }

    /// `turn/steer`: adds input to the running turn.
    pub async fn steer(&self, input: impl Into<TurnInput>) -> Result<()> {
        let params = p::TurnSteerParams {
            thread_id: self.thread_id.clone(),
            expected_turn_id: self.turn_id.clone(),
            input: input.into().0,
            client_user_message_id: None,
            extra: Default::default(),
        };
        self.codex.request(&params).await.map(|_| ())
    }

    /// `turn/interrupt`: the turn ends with status `interrupted`.
    pub async fn interrupt(&self) -> Result<()> {
        self.codex
            .request_raw(
                "turn/interrupt",
                json!({"threadId": self.thread_id, "turnId": self.turn_id}),
            )
            .await
            .map(|_| ())
    }
}

/// A running turn: its events, then its outcome.
#[derive(Debug)]
pub struct TurnHandle<'a> {
    thread: &'a mut Thread,
    control: TurnControl,
    finished: bool,
}

impl TurnHandle<'_> {
    /// The turn id.
    pub fn id(&self) -> &str {
        &self.control.turn_id
    }

    /// A handle to steer or interrupt this turn from another task.
    pub fn control(&self) -> TurnControl {
        self.control.clone()
    }

    /// The next notification of this turn (and thread-level ones such as
    /// `thread/status/changed` and `serverRequest/resolved`); ends after `turn/completed`.
    /// An `Err` means the server went away mid-turn.
    pub async fn next_event(&mut self) -> Option<Result<ServerNotification>> {
        if self.finished {
            return None;
        }
        loop {
            let Some(r) = self.thread.next_routed().await else {
                self.finished = true;
                if self.thread.codex.closed().is_none() {
                    return Some(Err(Error::Protocol {
                        method: "turn".into(),
                        detail: "this thread's events were not read for too long and its subscription was dropped".into(),
                    }));
                }
                return Some(Err(self.thread.codex.closed_error("turn")));
            };
            if r.turn_id
                .as_deref()
                .is_some_and(|t| t != self.control.turn_id)
            {
                continue; // an event of an earlier turn
            }
            if let ServerNotification::TurnCompleted(c) = &r.notification
                && c.turn.id == self.control.turn_id
            {
                self.finished = true;
            }
            return Some(Ok(r.notification));
        }
    }

    /// Consumes the events and returns the outcome; a failed turn is [`Error::TurnFailed`].
    pub async fn run(mut self) -> Result<TurnOutcome> {
        let mut out = TurnOutcome {
            thread_id: self.thread.id.clone(),
            turn_id: self.control.turn_id.clone(),
            ..Default::default()
        };
        while let Some(ev) = self.next_event().await {
            match ev? {
                ServerNotification::ItemCompleted(c) => {
                    if let p::ThreadItem::AgentMessage(m) = &c.item {
                        out.final_message = Some(m.text.clone());
                    }
                    out.items.push(c.item);
                }
                ServerNotification::ItemAgentMessageDelta(d) => {
                    out.streamed_text.push_str(&d.delta)
                }
                ServerNotification::ThreadTokenUsageUpdated(u) => {
                    // `last` is the model call just made: their sum is the turn's usage.
                    out.turn_usage.add(&breakdown_usage(&u.token_usage.last));
                    out.usage = Some(u.token_usage);
                }
                ServerNotification::TurnCompleted(c) => {
                    out.status = Some(c.turn.status.clone());
                    if c.turn.status == p::TurnStatus::Failed {
                        let (message, info) = match c.turn.error {
                            Some(e) => (e.message, e.codex_error_info.map(Box::new)),
                            None => ("turn failed".into(), None),
                        };
                        return Err(Error::TurnFailed {
                            message,
                            thread_id: Some(out.thread_id),
                            stderr_tail: self.thread.codex.stderr_tail(),
                            info,
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

/// What a finished app-server turn produced.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct TurnOutcome {
    /// The thread.
    pub thread_id: String,
    /// The turn.
    pub turn_id: String,
    /// `completed`, `interrupted`, ...
    pub status: Option<p::TurnStatus>,
    /// The last agent message.
    pub final_message: Option<String>,
    /// Every agent-message text delta, concatenated, as streamed.
    pub streamed_text: String,
    /// Every completed item, in order.
    pub items: Vec<p::ThreadItem>,
    /// The last token usage report (thread totals and the last model call).
    pub usage: Option<p::ThreadTokenUsage>,
    /// Tokens used by this turn (every model call of it), in the exec side's type.
    pub turn_usage: crate::events::Usage,
}

fn breakdown_usage(b: &p::TokenUsageBreakdown) -> crate::events::Usage {
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    crate::events::Usage {
        input_tokens: n(b.input_tokens),
        cached_input_tokens: n(b.cached_input_tokens),
        cache_write_input_tokens: b.cache_write_input_tokens.map(n),
        output_tokens: n(b.output_tokens),
        reasoning_output_tokens: Some(n(b.reasoning_output_tokens)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv() {
        let s = AppServer::new().config("model", "o3").enable("web_search");
        assert_eq!(
            s.args(),
            ["app-server", "-c", "model=\"o3\"", "--enable", "web_search"]
        );
        assert_eq!(AppServer::new().args(), ["app-server"]);
        let s = AppServer::new()
            .enable("x")
            .other_option("--new-flag")
            .other_options(["--level", "3"]);
        assert_eq!(
            s.args(),
            ["app-server", "--enable", "x", "--new-flag", "--level", "3"]
        );
    }

    #[test]
    fn text_input_is_a_text_item() {
        let v = serde_json::to_value(text_input("hi")).unwrap_or_default();
        assert_eq!(v, json!({"type": "text", "text": "hi"}));
    }
}
