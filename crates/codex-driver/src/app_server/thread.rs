//! [`Thread`]: a thread on the server, the turns it starts, and its management calls.

use super::client::AppServerClient;
use super::protocol::{self as p, TurnStartParams, UserInput};
use super::rpc::Routed;
use super::turn::{TurnControl, TurnHandle, TurnOutcome};
use crate::error::Result;
use tokio::sync::mpsc;

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

/// The server's answer that opened a [`Thread`]: the thread and the settings it runs with.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // one per thread, never moved around in bulk
pub enum ThreadOpened {
    /// `thread/start`.
    Started(p::ThreadStartResponse),
    /// `thread/resume`.
    Resumed(p::ThreadResumeResponse),
    /// `thread/fork`.
    Forked(p::ThreadForkResponse),
}

impl ThreadOpened {
    /// The thread (id, name, status, cwd, turns when resumed, ...).
    pub fn thread(&self) -> &p::Thread {
        match self {
            Self::Started(r) => &r.thread,
            Self::Resumed(r) => &r.thread,
            Self::Forked(r) => &r.thread,
        }
    }

    /// The model the thread runs.
    pub fn model(&self) -> &str {
        match self {
            Self::Started(r) => &r.model,
            Self::Resumed(r) => &r.model,
            Self::Forked(r) => &r.model,
        }
    }

    /// The thread's working directory.
    pub fn cwd(&self) -> &str {
        match self {
            Self::Started(r) => &r.cwd,
            Self::Resumed(r) => &r.cwd,
            Self::Forked(r) => &r.cwd,
        }
    }

    /// The sandbox its commands run in.
    pub fn sandbox(&self) -> &p::SandboxPolicy {
        match self {
            Self::Started(r) => &r.sandbox,
            Self::Resumed(r) => &r.sandbox,
            Self::Forked(r) => &r.sandbox,
        }
    }

    /// When Codex asks for approval.
    pub fn approval_policy(&self) -> &p::AskForApproval {
        match self {
            Self::Started(r) => &r.approval_policy,
            Self::Resumed(r) => &r.approval_policy,
            Self::Forked(r) => &r.approval_policy,
        }
    }
}

/// A thread on the server, with its event subscription.
#[derive(Debug)]
pub struct Thread {
    client: AppServerClient,
    id: String,
    opened: ThreadOpened,
    events: mpsc::Receiver<Routed>,
    /// Held for a [`Fleet`](super::Fleet): counts this thread against its server while it lives.
    _lease: Option<super::fleet::Lease>,
    /// Answers this thread's in-process tool calls while it lives.
    _tools: Option<ToolsGuard>,
    /// The thread's token total last reported: a report repeating it (0.130 repeats the last
    /// one when a turn starts) is no new model call.
    pub(crate) last_total: Option<p::TokenUsageBreakdown>,
}

/// Unregisters a thread's in-process tools when its [`Thread`] goes away.
pub(crate) struct ToolsGuard {
    rpc: super::rpc::Rpc,
    thread_id: String,
}

impl ToolsGuard {
    pub(crate) fn new(rpc: super::rpc::Rpc, thread_id: String) -> Self {
        Self { rpc, thread_id }
    }
}

impl std::fmt::Debug for ToolsGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolsGuard")
            .field("thread_id", &self.thread_id)
            .finish_non_exhaustive()
    }
}

impl Drop for ToolsGuard {
    fn drop(&mut self) {
        super::rpc::lock(&self.rpc.0.tools).remove(&self.thread_id);
    }
}

impl Thread {
    pub(crate) fn new(
        client: AppServerClient,
        opened: ThreadOpened,
        events: mpsc::Receiver<Routed>,
    ) -> Self {
        Self {
            client,
            id: opened.thread().id.clone(),
            opened,
            events,
            _lease: None,
            _tools: None,
            last_total: None,
        }
    }

    pub(crate) fn with_tools_guard(mut self, guard: ToolsGuard) -> Self {
        self._tools = Some(guard);
        self
    }

    pub(crate) fn leased(mut self, lease: super::fleet::Lease) -> Self {
        self._lease = Some(lease);
        self
    }

    /// Takes the response of a `thread/resume` of this same thread (loaded again, e.g. on
    /// another model provider), keeping its lease and tools; events are subscribed afresh.
    pub(crate) fn reopen(&mut self, opened: ThreadOpened) {
        self.events = self.client.rpc.subscribe(Some(self.id.clone()));
        self.opened = opened;
    }

    /// The thread id (durable: resume it from another process with the same `CODEX_HOME`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The response of `thread/start`/`resume`/`fork` (model, sandbox, cwd, ...).
    pub fn response(&self) -> &ThreadOpened {
        &self.opened
    }

    /// The client.
    pub fn client(&self) -> &AppServerClient {
        &self.client
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
        if self.events.is_closed() && self.client.closed().is_none() {
            // The subscription was dropped for falling behind (events left unread between
            // turns): start a fresh one.
            self.events = self.client.rpc.subscribe(Some(self.id.clone()));
        }
        let response = self.client.request(&params).await?;
        let control = TurnControl::new(self.client.clone(), self.id.clone(), &response);
        Ok(TurnHandle::new(self, control, response))
    }

    /// Runs one text turn to the end.
    pub async fn run(&mut self, input: impl Into<TurnInput>) -> Result<TurnOutcome> {
        self.turn(input).await?.run().await
    }

    /// `thread/name/set`.
    pub async fn set_name(&self, name: &str) -> Result<()> {
        let params = p::ThreadSetNameParams {
            thread_id: self.id.clone(),
            name: name.to_owned(),
            ..Default::default()
        };
        self.client.request(&params).await.map(drop)
    }

    /// `thread/archive`.
    pub async fn archive(&self) -> Result<()> {
        let params = p::ThreadArchiveParams {
            thread_id: self.id.clone(),
            ..Default::default()
        };
        self.client.request(&params).await.map(drop)
    }

    /// `thread/unarchive`: returns the thread as it is now.
    pub async fn unarchive(&self) -> Result<p::ThreadUnarchiveResponse> {
        let params = p::ThreadUnarchiveParams {
            thread_id: self.id.clone(),
            ..Default::default()
        };
        self.client.request(&params).await
    }

    /// `thread/compact/start`: the server compacts the thread's history.
    pub async fn compact(&self) -> Result<()> {
        let params = p::ThreadCompactStartParams {
            thread_id: self.id.clone(),
            ..Default::default()
        };
        self.client.request(&params).await.map(drop)
    }

    /// `thread/read`, with the thread's turns.
    pub async fn read(&self) -> Result<p::ThreadReadResponse> {
        let params = p::ThreadReadParams {
            thread_id: self.id.clone(),
            include_turns: Some(true),
            ..Default::default()
        };
        self.client.request(&params).await
    }

    pub(crate) fn events(&mut self) -> &mut mpsc::Receiver<Routed> {
        &mut self.events
    }
}
