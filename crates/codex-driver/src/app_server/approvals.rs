//! Answering the app-server's approval requests. **The default denies.**
//!
//! Every server→client request (command execution, file change, permissions, user input, MCP
//! elicitation, and the legacy `execCommandApproval`/`applyPatchApproval`) goes to one
//! [`ApprovalHandler`]. A handler that does not answer within the configured time gets a
//! decline, so a turn never hangs. When the server resolves a request itself
//! (`serverRequest/resolved`, e.g. the turn was interrupted) the handler's future is dropped and
//! the notification reaches the turn's event stream.
//!
//! ```
//! use codex_driver::app_server::approvals::{approval_fn, ApprovalRequest, Decision};
//!
//! // Accept `git status`, decline everything else.
//! let handler = approval_fn(|approval| async move {
//!     match &approval.request {
//!         ApprovalRequest::CommandExecution(p) if p.command.as_deref() == Some("git status") => Decision::Accept,
//!         _ => Decision::Decline,
//!     }
//! });
//! # let _ = handler;
//! ```

use super::protocol::{
    ApplyPatchApprovalParams, CommandExecutionRequestApprovalParams, ExecCommandApprovalParams,
    FileChangeRequestApprovalParams, McpServerElicitationRequestParams,
    PermissionsRequestApprovalParams, ServerRequest, ToolRequestUserInputParams,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// A boxed future, as handlers return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What the server asks.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ApprovalRequest {
    /// `item/commandExecution/requestApproval`: run a command (outside the sandbox, or at all).
    CommandExecution(CommandExecutionRequestApprovalParams),
    /// `item/fileChange/requestApproval`: apply a patch.
    FileChange(FileChangeRequestApprovalParams),
    /// `item/permissions/requestApproval`: grant extra permissions.
    Permissions(PermissionsRequestApprovalParams),
    /// `item/tool/requestUserInput`: answer the agent's questions.
    UserInput(ToolRequestUserInputParams),
    /// `mcpServer/elicitation/request`: an MCP server asks the user for input.
    McpElicitation(McpServerElicitationRequestParams),
    /// Legacy `execCommandApproval`.
    LegacyExecCommand(ExecCommandApprovalParams),
    /// Legacy `applyPatchApproval`.
    LegacyApplyPatch(ApplyPatchApprovalParams),
    /// One of the methods above whose params did not decode (a newer Codex); kept raw.
    Raw {
        /// The method.
        method: String,
        /// The params.
        params: Value,
    },
}

const APPROVAL_METHODS: &[&str] = &[
    "item/commandExecution/requestApproval",
    "item/fileChange/requestApproval",
    "item/permissions/requestApproval",
    "item/tool/requestUserInput",
    "mcpServer/elicitation/request",
    "execCommandApproval",
    "applyPatchApproval",
];

impl ApprovalRequest {
    /// The JSON-RPC method.
    pub fn method(&self) -> &str {
        match self {
            Self::CommandExecution(_) => APPROVAL_METHODS[0],
            Self::FileChange(_) => APPROVAL_METHODS[1],
            Self::Permissions(_) => APPROVAL_METHODS[2],
            Self::UserInput(_) => APPROVAL_METHODS[3],
            Self::McpElicitation(_) => APPROVAL_METHODS[4],
            Self::LegacyExecCommand(_) => APPROVAL_METHODS[5],
            Self::LegacyApplyPatch(_) => APPROVAL_METHODS[6],
            Self::Raw { method, .. } => method,
        }
    }

    /// Classifies a server request; `Err(method)` for requests that are not approvals.
    pub(crate) fn from_server_request(
        r: ServerRequest,
        thread_id: Option<String>,
    ) -> Result<Approval, String> {
        let request = match r {
            ServerRequest::ItemCommandExecutionRequestApproval(p) => Self::CommandExecution(p),
            ServerRequest::ItemFileChangeRequestApproval(p) => Self::FileChange(p),
            ServerRequest::ItemPermissionsRequestApproval(p) => Self::Permissions(p),
            ServerRequest::ItemToolRequestUserInput(p) => Self::UserInput(p),
            ServerRequest::McpServerElicitationRequest(p) => Self::McpElicitation(p),
            ServerRequest::ExecCommandApproval(p) => Self::LegacyExecCommand(p),
            ServerRequest::ApplyPatchApproval(p) => Self::LegacyApplyPatch(p),
            ServerRequest::Unknown { method, params }
                if APPROVAL_METHODS.contains(&method.as_str()) =>
            {
                Self::Raw { method, params }
            }
            other => return Err(other.method().to_owned()),
        };
        Ok(Approval { thread_id, request })
    }

    /// The `result` to send for `decision`. Decisions that don't apply to a request kind are
    /// treated as a decline (fail closed).
    pub fn response(&self, decision: &Decision) -> Value {
        if let Decision::Raw(v) = decision {
            return v.clone();
        }
        let kind = ResponseKind::of(self.method());
        match kind {
            ResponseKind::Command => json!({"decision": match decision {
                Decision::Accept => json!("accept"),
                Decision::AcceptForSession => json!("acceptForSession"),
                Decision::Cancel => json!("cancel"),
                Decision::AcceptWithExecpolicyAmendment(cmd) =>
                    json!({"acceptWithExecpolicyAmendment": {"execpolicy_amendment": cmd}}),
                _ => json!("decline"),
            }}),
            ResponseKind::FileChange => json!({"decision": match decision {
                Decision::Accept => "accept",
                Decision::AcceptForSession => "acceptForSession",
                Decision::Cancel => "cancel",
                _ => "decline",
            }}),
            ResponseKind::Permissions => {
                let requested = match self {
                    Self::Permissions(p) => {
                        serde_json::to_value(&p.permissions).unwrap_or(Value::Null)
                    }
                    Self::Raw { params, .. } => {
                        params.get("permissions").cloned().unwrap_or(Value::Null)
                    }
                    _ => Value::Null,
                };
                match decision {
                    Decision::Accept => json!({"permissions": requested, "scope": "turn"}),
                    Decision::AcceptForSession => {
                        json!({"permissions": requested, "scope": "session"})
                    }
                    _ => json!({"permissions": {}, "scope": "turn"}),
                }
            }
            ResponseKind::UserInput => match decision {
                Decision::Answers(a) => {
                    json!({"answers": a.iter().map(|(k, v)| (k.clone(), json!({"answers": v}))).collect::<serde_json::Map<_, _>>()})
                }
                _ => json!({"answers": {}}),
            },
            ResponseKind::Elicitation => match decision {
                Decision::Accept | Decision::AcceptForSession => {
                    json!({"action": "accept", "content": {}})
                }
                Decision::Cancel => json!({"action": "cancel"}),
                _ => json!({"action": "decline"}),
            },
            ResponseKind::Legacy => json!({"decision": match decision {
                Decision::Accept => json!("approved"),
                Decision::AcceptForSession => json!("approved_for_session"),
                Decision::Cancel => json!("abort"),
                Decision::AcceptWithExecpolicyAmendment(cmd) =>
                    json!({"approved_execpolicy_amendment": {"proposed_execpolicy_amendment": cmd}}),
                _ => json!("denied"),
            }}),
        }
    }
}

enum ResponseKind {
    Command,
    FileChange,
    Permissions,
    UserInput,
    Elicitation,
    Legacy,
}

impl ResponseKind {
    fn of(method: &str) -> Self {
        match method {
            "item/fileChange/requestApproval" => Self::FileChange,
            "item/permissions/requestApproval" => Self::Permissions,
            "item/tool/requestUserInput" => Self::UserInput,
            "mcpServer/elicitation/request" => Self::Elicitation,
            "execCommandApproval" | "applyPatchApproval" => Self::Legacy,
            _ => Self::Command,
        }
    }
}

/// An approval request with the thread it came from.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Approval {
    /// The thread (when the request names one).
    pub thread_id: Option<String>,
    /// What is asked.
    pub request: ApprovalRequest,
}

/// An answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Decision {
    /// Approve this once.
    Accept,
    /// Approve this and the same kind of request for the rest of the session.
    AcceptForSession,
    /// Refuse; the agent continues the turn.
    Decline,
    /// Refuse and interrupt the turn.
    Cancel,
    /// Approve and add an execpolicy rule allowing commands starting with these words.
    AcceptWithExecpolicyAmendment(Vec<String>),
    /// Answers to `item/tool/requestUserInput`, by question id.
    Answers(BTreeMap<String, Vec<String>>),
    /// A complete `result` object, sent as is.
    Raw(Value),
}

/// Decides approval requests.
pub trait ApprovalHandler: Send + Sync + 'static {
    /// Returns the decision. Dropped unanswered when the server resolves the request itself;
    /// replaced by [`Decision::Decline`] when it takes longer than the configured timeout.
    fn decide(&self, approval: Approval) -> BoxFuture<Decision>;
}

/// The default: declines everything (grants no permissions, answers no questions).
#[derive(Debug, Clone, Copy, Default)]
pub struct DenyAll;

impl ApprovalHandler for DenyAll {
    fn decide(&self, _: Approval) -> BoxFuture<Decision> {
        Box::pin(async { Decision::Decline })
    }
}

/// Approves everything. Only for hosts that sandbox Codex themselves.
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptAll;

impl ApprovalHandler for AcceptAll {
    fn decide(&self, _: Approval) -> BoxFuture<Decision> {
        Box::pin(async { Decision::Accept })
    }
}

struct FnHandler<F>(F);

impl<F, Fut> ApprovalHandler for FnHandler<F>
where
    F: Fn(Approval) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Decision> + Send + 'static,
{
    fn decide(&self, approval: Approval) -> BoxFuture<Decision> {
        Box::pin((self.0)(approval))
    }
}

/// A handler from an async closure.
pub fn approval_fn<F, Fut>(f: F) -> Arc<dyn ApprovalHandler>
where
    F: Fn(Approval) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Decision> + Send + 'static,
{
    Arc::new(FnHandler(f))
}

/// An approval waiting for an answer from elsewhere (another task, another process).
#[derive(Debug)]
pub struct PendingApproval {
    /// What is asked.
    pub approval: Approval,
    reply: oneshot::Sender<Decision>,
    resolved: CancellationToken,
}

impl PendingApproval {
    /// Answers. `Err` gives the decision back when it is too late (timed out or resolved by the
    /// server).
    pub fn respond(self, decision: Decision) -> Result<(), Decision> {
        self.reply.send(decision)
    }

    /// True once the request no longer needs an answer.
    pub fn is_resolved(&self) -> bool {
        self.resolved.is_cancelled() || self.reply.is_closed()
    }

    /// Completes when the request no longer needs an answer.
    pub async fn resolved(&self) {
        self.resolved.cancelled().await
    }
}

/// A handler that hands every request to a queue (see [`approval_queue`]).
struct QueueHandler(mpsc::Sender<PendingApproval>);

impl ApprovalHandler for QueueHandler {
    fn decide(&self, approval: Approval) -> BoxFuture<Decision> {
        let tx = self.0.clone();
        Box::pin(async move {
            let (reply, rx) = oneshot::channel();
            let resolved = CancellationToken::new();
            let guard = resolved.clone().drop_guard();
            let pending = PendingApproval {
                approval,
                reply,
                resolved,
            };
            if tx.send(pending).await.is_err() {
                return Decision::Decline;
            }
            let d = rx.await.unwrap_or(Decision::Decline);
            drop(guard);
            d
        })
    }
}

/// A handler plus the stream of requests it queues, for orchestrators that answer from another
/// task or process. Unanswered requests still get declined after the timeout.
pub fn approval_queue(
    capacity: usize,
) -> (Arc<dyn ApprovalHandler>, mpsc::Receiver<PendingApproval>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (Arc::new(QueueHandler(tx)), rx)
}

/// Shared per connection: the handler and the timeout.
pub(crate) struct Approvals {
    handler: RwLock<Arc<dyn ApprovalHandler>>,
    timeout: Duration,
}

impl Approvals {
    pub(crate) fn new(handler: Arc<dyn ApprovalHandler>, timeout: Duration) -> Self {
        Self {
            handler: RwLock::new(handler),
            timeout,
        }
    }

    pub(crate) fn set_handler(&self, h: Arc<dyn ApprovalHandler>) {
        if let Ok(mut g) = self.handler.write() {
            *g = h;
        }
    }

    /// The response to send, or `None` when `resolved` fired first (no reply is due).
    pub(crate) async fn decide(
        &self,
        approval: Approval,
        resolved: CancellationToken,
    ) -> Option<Value> {
        let handler = self
            .handler
            .read()
            .map(|h| h.clone())
            .unwrap_or_else(|_| Arc::new(DenyAll));
        let request = approval.request.clone();
        // Run the handler as its own task so that a panicking handler declines instead of
        // leaving the server waiting for an answer; aborted when no longer needed.
        let task = tokio::spawn(handler.decide(approval));
        let abort = task.abort_handle();
        let decision = tokio::select! {
            _ = resolved.cancelled() => {
                abort.abort();
                return None;
            }
            d = tokio::time::timeout(self.timeout, task) => match d {
                Ok(Ok(d)) => d,
                Ok(Err(e)) => {
                    tracing::warn!(method = request.method(), "approval handler failed ({e}); declining");
                    Decision::Decline
                }
                Err(_) => {
                    abort.abort();
                    tracing::warn!(method = request.method(), "approval handler timed out after {:?}; declining", self.timeout);
                    Decision::Decline
                }
            },
        };
        tracing::debug!(method = request.method(), ?decision, "approval answered");
        Some(request.response(&decision))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(method: &str) -> ApprovalRequest {
        ApprovalRequest::Raw {
            method: method.into(),
            params: json!({"permissions": {"network": {"enabled": true}}}),
        }
    }

    #[test]
    fn responses_per_kind() {
        let cmd = raw("item/commandExecution/requestApproval");
        assert_eq!(
            cmd.response(&Decision::Accept),
            json!({"decision": "accept"})
        );
        assert_eq!(
            cmd.response(&Decision::Decline),
            json!({"decision": "decline"})
        );
        assert_eq!(
            cmd.response(&Decision::AcceptWithExecpolicyAmendment(vec!["git".into()])),
            json!({"decision": {"acceptWithExecpolicyAmendment": {"execpolicy_amendment": ["git"]}}})
        );
        let fc = raw("item/fileChange/requestApproval");
        assert_eq!(
            fc.response(&Decision::AcceptForSession),
            json!({"decision": "acceptForSession"})
        );
        assert_eq!(
            fc.response(&Decision::AcceptWithExecpolicyAmendment(vec![])),
            json!({"decision": "decline"}),
            "a decision that doesn't apply fails closed"
        );
        let perm = raw("item/permissions/requestApproval");
        assert_eq!(
            perm.response(&Decision::Accept),
            json!({"permissions": {"network": {"enabled": true}}, "scope": "turn"})
        );
        assert_eq!(
            perm.response(&Decision::Decline),
            json!({"permissions": {}, "scope": "turn"})
        );
        let input = raw("item/tool/requestUserInput");
        let answers = BTreeMap::from([("q1".to_string(), vec!["yes".to_string()])]);
        assert_eq!(
            input.response(&Decision::Answers(answers)),
            json!({"answers": {"q1": {"answers": ["yes"]}}})
        );
        assert_eq!(input.response(&Decision::Decline), json!({"answers": {}}));
        assert_eq!(
            raw("mcpServer/elicitation/request").response(&Decision::Decline),
            json!({"action": "decline"})
        );
        assert_eq!(
            raw("execCommandApproval").response(&Decision::Accept),
            json!({"decision": "approved"})
        );
        assert_eq!(
            raw("applyPatchApproval").response(&Decision::Decline),
            json!({"decision": "denied"})
        );
    }

    #[tokio::test]
    async fn default_denies_and_slow_handlers_time_out() {
        let a = Approvals::new(Arc::new(DenyAll), Duration::from_secs(5));
        let req = Approval {
            thread_id: None,
            request: raw("item/commandExecution/requestApproval"),
        };
        assert_eq!(
            a.decide(req.clone(), CancellationToken::new()).await,
            Some(json!({"decision": "decline"}))
        );
        let slow = approval_fn(|_| async {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Decision::Accept
        });
        let a = Approvals::new(slow, Duration::from_millis(50));
        assert_eq!(
            a.decide(req.clone(), CancellationToken::new()).await,
            Some(json!({"decision": "decline"}))
        );
        let t = CancellationToken::new();
        t.cancel();
        assert_eq!(
            a.decide(req, t).await,
            None,
            "resolved by the server: no reply"
        );
    }

    #[tokio::test]
    async fn a_panicking_handler_declines() {
        #[allow(clippy::panic)]
        let bad = approval_fn(|_| async { panic!("handler bug") });
        let a = Approvals::new(bad, Duration::from_secs(5));
        let req = Approval {
            thread_id: None,
            request: raw("item/commandExecution/requestApproval"),
        };
        assert_eq!(
            a.decide(req, CancellationToken::new()).await,
            Some(json!({"decision": "decline"}))
        );
    }

    #[tokio::test]
    async fn queue_answers_from_another_task() {
        let (h, mut rx) = approval_queue(4);
        let a = Approvals::new(h, Duration::from_secs(5));
        tokio::spawn(async move {
            if let Some(p) = rx.recv().await {
                assert!(!p.is_resolved());
                let _ = p.respond(Decision::AcceptForSession);
            }
        });
        let req = Approval {
            thread_id: Some("t".into()),
            request: raw("item/fileChange/requestApproval"),
        };
        assert_eq!(
            a.decide(req, CancellationToken::new()).await,
            Some(json!({"decision": "acceptForSession"}))
        );
    }
}
