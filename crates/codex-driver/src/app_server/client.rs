//! [`AppServerClient`]: one connection to an app-server (spawned over stdio, or remote), its
//! typed requests, its notification streams, and opening threads.

use super::approvals::ApprovalHandler;
use super::builder::{ClientOptions, ProcessGuard};
use super::protocol::{
    self as p, ClientRequest, ServerNotification, ThreadForkParams, ThreadResumeParams,
    ThreadStartParams,
};
use super::rpc::{Closed, Rpc};
use super::streams::{Notifications, ThreadStatusChanges};
use super::thread::{Thread, ThreadOpened};
use crate::binary::{Binary, Support};
use crate::error::{Error, Result};
use crate::process::StderrTail;
use semver::Version;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// A connection to an app-server. Cheap to clone; the server process (when we spawned it)
/// stops when the last clone is dropped or [`shutdown`](Self::shutdown) is called.
#[derive(Clone)]
pub struct AppServerClient {
    pub(crate) rpc: Rpc,
    guard: Option<Arc<ProcessGuard>>,
    _conn: Arc<ConnGuard>,
    binary: Option<Binary>,
    server: Option<Arc<p::InitializeResponse>>,
    /// The handshake opted in to the experimental API (dynamic tools need it).
    experimental: bool,
}

/// How an app-server compares with the protocol types of this build
/// ([`AppServerClient::drift`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Drift {
    /// The server's Codex release, from its user agent (else the spawned binary's declared
    /// version).
    pub server_version: Option<Version>,
    /// Where that release stands against what this library was tested with.
    pub support: Option<Support>,
    /// The release the protocol types were generated from.
    pub schema_release: &'static str,
    /// Notification methods received so far that the types don't know, sorted.
    pub unknown_notifications: Vec<String>,
    /// Server request methods received so far that the types don't know, sorted.
    pub unknown_requests: Vec<String>,
}

impl Drift {
    /// The server is newer than every release this library was tested with.
    pub fn newer_than_tested(&self) -> bool {
        self.support == Some(Support::NewerThanTested)
    }

    /// Nothing unknown seen, and a tested or supported release.
    pub fn is_none(&self) -> bool {
        self.unknown_notifications.is_empty()
            && self.unknown_requests.is_empty()
            && matches!(self.support, Some(Support::Tested | Support::Supported))
    }
}

/// Closes our side of the connection when the last [`AppServerClient`] clone goes away (the
/// reader task holds the connection itself, so it would otherwise stay open).
struct ConnGuard(Rpc);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.close_output();
    }
}

impl std::fmt::Debug for AppServerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppServerClient")
            .field("pid", &self.guard.as_ref().map(|g| g.pgid))
            .finish_non_exhaustive()
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| Error::InvalidOptions(e.to_string()))
}

/// A typed request on a bare connection.
async fn request_on<R: ClientRequest>(
    rpc: &Rpc,
    params: &R,
    timeout: Option<Duration>,
) -> Result<R::Response> {
    let v = rpc.request(R::METHOD, to_json(params)?, timeout).await?;
    // A result of another shape is repaired (what doesn't fit kept in `extra`); one that can't
    // be is an error, with serde's own reason.
    <R::Response as super::protocol::Repair>::repair(&v).ok_or_else(|| Error::Protocol {
        method: R::METHOD.to_owned(),
        detail: serde_json::from_value::<R::Response>(v).err().map_or_else(
            || "the result does not fit its type".into(),
            |e| e.to_string(),
        ),
    })
}

impl AppServerClient {
    /// Performs the `initialize`/`initialized` handshake on `rpc`. `guard` is the spawned
    /// process (none for a remote server); dropped on failure, it stops the server.
    pub(crate) async fn connect(
        rpc: Rpc,
        options: &ClientOptions,
        guard: Option<Arc<ProcessGuard>>,
        binary: Option<Binary>,
    ) -> Result<Self> {
        let conn = Arc::new(ConnGuard(rpc.clone()));
        let answer = rpc
            .request(
                p::InitializeParams::METHOD,
                to_json(&options.initialize)?,
                None,
            )
            .await?;
        // An answer of another shape (another release) is repaired; one that can't be (not an
        // object) does not fail the handshake.
        let server = <p::InitializeResponse as p::Repair>::repair(&answer).map(Arc::new);
        if server.is_none() {
            tracing::warn!("app-server: unexpected `initialize` answer: {answer}");
        }
        rpc.notify("initialized", None).await?;
        Ok(Self {
            rpc,
            guard,
            _conn: conn,
            binary,
            server,
            experimental: options
                .initialize
                .capabilities
                .as_ref()
                .and_then(|c| c.experimental_api)
                .unwrap_or(false),
        })
    }

    /// What the server said in the handshake (`initialize`): its user agent, `CODEX_HOME`
    /// and platform. `None` when the answer did not decode as this release's
    /// [`InitializeResponse`](p::InitializeResponse) (the handshake went on).
    pub fn server_info(&self) -> Option<&p::InitializeResponse> {
        self.server.as_deref()
    }

    /// How this connection's server compares with the protocol types of this build: its
    /// release (newer than every tested one?) and the methods it sent that the types don't know.
    /// An orchestrator can log it or refuse to go on.
    pub fn drift(&self) -> Drift {
        let server_version = self.server_version();
        let seen = super::rpc::lock(&self.rpc.0.unknown);
        Drift {
            support: server_version.as_ref().map(crate::binary::support),
            server_version,
            schema_release: p::SCHEMA_RELEASE,
            unknown_notifications: seen.notifications.iter().cloned().collect(),
            unknown_requests: seen.requests.iter().cloned().collect(),
        }
    }

    /// The server's Codex release: from its user agent (`name/0.171.0 (...)`), else the
    /// spawned binary's declared version.
    pub fn server_version(&self) -> Option<Version> {
        self.server
            .as_ref()
            .and_then(|s| s.user_agent.split_whitespace().next())
            .and_then(|name| name.rsplit('/').next())
            .and_then(|v| Version::parse(v).ok())
            .or_else(|| {
                self.binary
                    .as_ref()
                    .and_then(|b| b.known_version().cloned())
            })
    }

    /// Refuses, before sending, a typed request for a method the server's release lacks (a
    /// tested release at or below the newest one without it).
    fn check_method(&self, method: &str) -> Result<()> {
        let Some((_, until)) = p::CLIENT_METHOD_ABSENT_UNTIL
            .iter()
            .find(|(m, _)| *m == method)
        else {
            return Ok(());
        };
        let (Some(found), Ok(until)) = (self.server_version(), Version::parse(until)) else {
            return Ok(());
        };
        if found > until {
            return Ok(());
        }
        Err(Error::Unsupported {
            option: format!("app-server method `{method}`"),
            required: format!("a Codex newer than {until}, whose app-server lacks it"),
            found,
            binary: self
                .binary
                .as_ref()
                .map(|b| b.path().to_path_buf())
                .unwrap_or_default(),
        })
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

    /// A typed request: any `...Params` of [`protocol`](super::protocol) (each implements
    /// [`ClientRequest`]) sends its method and decodes its `...Response`.
    pub async fn request<R: ClientRequest>(&self, params: &R) -> Result<R::Response> {
        self.check_method(R::METHOD)?;
        request_on(&self.rpc, params, None).await
    }

    /// A typed request with its own timeout.
    pub async fn request_with_timeout<R: ClientRequest>(
        &self,
        params: &R,
        timeout: Duration,
    ) -> Result<R::Response> {
        self.check_method(R::METHOD)?;
        request_on(&self.rpc, params, Some(timeout)).await
    }

    /// Any request, untyped: for a method this library's protocol types do not know.
    pub async fn request_raw(&self, method: &str, params: Value) -> Result<Value> {
        self.rpc.request(method, params, None).await
    }

    /// Any request, untyped, with its own timeout.
    pub async fn request_raw_with_timeout(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value> {
        self.rpc.request(method, params, Some(timeout)).await
    }

    /// Every notification from the server. Bounded: a subscription left unread for a few
    /// seconds while full is dropped (the stream then ends) rather than stall other threads.
    pub fn notifications(&self) -> Notifications {
        Notifications::new(self.rpc.subscribe(None))
    }

    /// `thread/status/changed` of every thread on this server (active with its flags, idle,
    /// system error, ...): what an orchestrator watching many threads needs. Only these
    /// notifications are buffered for it; same bound as [`notifications`](Self::notifications).
    pub fn thread_status_changes(&self) -> ThreadStatusChanges {
        ThreadStatusChanges::new(self.rpc.subscribe_filtered(None, |n| {
            matches!(n, ServerNotification::ThreadStatusChanged(_))
        }))
    }

    /// `thread/start`.
    pub async fn start_thread(&self, params: ThreadStartParams) -> Result<Thread> {
        let resp = self.request(&params).await?;
        Ok(self.open_thread(ThreadOpened::Started(resp)))
    }

    /// `thread/start` with in-process tools: `tools` are given to Codex as the thread's dynamic
    /// tools and every `item/tool/call` of the thread runs their handlers in this process
    /// (see [`tools`](crate::tools)). The tools are answered for as long as the returned
    /// [`Thread`] lives. Needs a client with the experimental API
    /// ([`AppServer::experimental_api`](super::AppServer::experimental_api)); refused before
    /// sending otherwise.
    pub async fn start_thread_with_tools(
        &self,
        mut params: ThreadStartParams,
        tools: crate::tools::Toolbox,
    ) -> Result<Thread> {
        if !self.experimental {
            return Err(Error::InvalidOptions(
                "in-process tools are dynamic tools, an experimental app-server API: build the \
                 client with `AppServer::experimental_api(true)`"
                    .into(),
            ));
        }
        params
            .extra
            .insert("dynamicTools".into(), Value::Array(tools.specs()));
        let resp = self.request(&params).await?;
        let thread = self.open_thread(ThreadOpened::Started(resp));
        Ok(self.attach_tools(thread, tools))
    }

    /// `thread/resume` of a thread started with in-process tools: Codex kept their specs with
    /// the thread; this answers their calls again from `tools`.
    pub async fn resume_thread_with_tools(
        &self,
        params: ThreadResumeParams,
        tools: crate::tools::Toolbox,
    ) -> Result<Thread> {
        let thread = self.resume_thread_with(params).await?;
        Ok(self.attach_tools(thread, tools))
    }

    fn attach_tools(&self, thread: Thread, tools: crate::tools::Toolbox) -> Thread {
        let id = thread.id().to_owned();
        super::rpc::lock(&self.rpc.0.tools).insert(id.clone(), Arc::new(tools));
        thread.with_tools_guard(super::thread::ToolsGuard::new(self.rpc.clone(), id))
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
        let resp = self.request(&params).await?;
        Ok(self.open_thread(ThreadOpened::Resumed(resp)))
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
        let resp = self.request(&params).await?;
        Ok(self.open_thread(ThreadOpened::Forked(resp)))
    }

    fn open_thread(&self, opened: ThreadOpened) -> Thread {
        // Events that arrived before this subscription (e.g. `thread/started`) were kept for it.
        let events = self.rpc.subscribe(Some(opened.thread().id.clone()));
        Thread::new(self.clone(), opened, events)
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
        let recent = p::ThreadTurnsListParams {
            thread_id: thread_id.to_owned(),
            sort_direction: Some(p::SortDirection::Desc),
            limit: Some(20),
            ..Default::default()
        };
        if let Ok(list) = self.request(&recent).await
            && let Some(t) = list.data.into_iter().find(|t| t.id == turn_id)
            && t.status != p::TurnStatus::InProgress
        {
            return Ok(t);
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

    pub(crate) fn closed_error(&self, what: &str) -> Error {
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
}
