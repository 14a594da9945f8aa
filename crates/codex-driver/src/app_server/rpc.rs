//! JSON-RPC 2.0 (lite, newline-delimited) over any byte stream: request ids, a pending map,
//! per-request timeouts, notification routing by thread, server requests to a handler.

use super::approvals::{ApprovalHandler, ApprovalRequest, Approvals};
use super::protocol::{ServerNotification, ServerRequest};
use crate::error::{Error, Result};
use crate::limits::{DIAGNOSTIC_KEEP, cut};
use crate::process::{LineReader, ReadLine, StderrTail};
use crate::tools::{ToolCall, ToolOutput, Toolbox};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

/// A JSON-RPC error object from the server.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// Error code.
    pub code: i64,
    /// Message.
    pub message: String,
    /// Optional data.
    pub data: Option<Value>,
}

/// Why the connection closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// What happened (`exit status: 1`, `killed by signal 9`, `shut down`, ...).
    pub reason: String,
    /// The end of the server's stderr, when it is a child process.
    pub stderr_tail: String,
}

/// A notification with the thread it belongs to, if any.
#[derive(Debug, Clone)]
pub struct Routed {
    /// `params.threadId` (or `params.thread.id`).
    pub thread_id: Option<String>,
    /// `params.turnId` (or `params.turn.id`).
    pub turn_id: Option<String>,
    /// The decoded notification.
    pub notification: ServerNotification,
}

type Pending = HashMap<i64, oneshot::Sender<std::result::Result<Value, RpcError>>>;

/// Which notifications a subscriber wants, beside its thread.
type Filter = fn(&ServerNotification) -> bool;

struct Subscriber {
    thread: Option<String>,
    filter: Option<Filter>,
    tx: mpsc::Sender<Routed>,
}

impl Subscriber {
    fn wants(&self, r: &Routed) -> bool {
        (self.thread.is_none() || self.thread == r.thread_id)
            && self.filter.is_none_or(|f| f(&r.notification))
    }
}

/// How many notifications of threads nobody subscribed to yet are kept: they are handed to the
/// thread's subscription when it is made (events that arrive between `thread/start` being sent
/// and its response naming the thread).
const UNCLAIMED_KEEP: usize = 512;

/// How long the reader waits on a full subscriber before dropping it.
const LAG_GRACE: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Subscribers {
    list: Vec<Subscriber>,
    unclaimed: std::collections::VecDeque<Routed>,
}

/// Shared state of one connection.
pub(crate) struct Inner {
    out: Mutex<Option<mpsc::Sender<String>>>,
    pending: Mutex<Pending>,
    next_id: AtomicI64,
    subscribers: Mutex<Subscribers>,
    closed_tx: watch::Sender<Option<Closed>>,
    pub(crate) closed: watch::Receiver<Option<Closed>>,
    /// Set by the process watcher when the server exits; the reader closes the connection
    /// with it once it has read everything the server wrote.
    exit_tx: watch::Sender<Option<Closed>>,
    pub(crate) approvals: Approvals,
    pub(crate) request_timeout: Duration,
    buffer: usize,
    /// Server requests being handled: cancelled when the server resolves them itself.
    in_flight: Mutex<HashMap<String, CancellationToken>>,
    /// In-process tools by thread id (`AppServerClient::start_thread_with_tools`).
    pub(crate) tools: Mutex<HashMap<String, Arc<Toolbox>>>,
    /// Tool calls running, by (thread, turn): cancelled when that turn completes.
    tool_calls: Mutex<ToolCalls>,
    pub(crate) stderr: Option<StderrTail>,
    /// Methods received that the protocol types don't know (see `AppServerClient::drift`).
    pub(crate) unknown: Mutex<UnknownSeen>,
}

/// Running tool calls by (thread, turn), each as (request id, its cancellation).
type ToolCalls = HashMap<(String, String), Vec<(String, CancellationToken)>>;

/// Server messages of methods the types don't know, by kind.
#[derive(Default)]
pub(crate) struct UnknownSeen {
    pub(crate) notifications: std::collections::BTreeSet<String>,
    pub(crate) requests: std::collections::BTreeSet<String>,
}

/// A cheap, cloneable handle on a connection.
#[derive(Clone)]
pub(crate) struct Rpc(pub(crate) Arc<Inner>);

impl Rpc {
    /// Starts the writer and reader tasks over `reader`/`writer`.
    pub(crate) fn start<R, W>(
        reader: R,
        writer: W,
        approvals: Approvals,
        request_timeout: Duration,
        buffer: usize,
        stderr: Option<StderrTail>,
    ) -> Self
    where
        R: AsyncBufRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (out_tx, out_rx) = mpsc::channel::<String>(256);
        let (closed_tx, closed) = watch::channel(None);
        let (exit_tx, _) = watch::channel(None);
        let inner = Arc::new(Inner {
            out: Mutex::new(Some(out_tx)),
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicI64::new(1),
            subscribers: Mutex::new(Subscribers::default()),
            closed_tx,
            closed,
            exit_tx,
            approvals,
            request_timeout,
            buffer: buffer.max(1),
            in_flight: Mutex::new(HashMap::new()),
            tools: Mutex::new(HashMap::new()),
            tool_calls: Mutex::new(HashMap::new()),
            stderr,
            unknown: Mutex::new(UnknownSeen::default()),
        });
        tokio::spawn(write_loop(writer, out_rx));
        let rpc = Rpc(inner);
        tokio::spawn(rpc.clone().read_loop(reader));
        rpc
    }

    /// Sends a request and waits for its result (or the timeout, or the connection's end).
    pub(crate) async fn request(
        &self,
        method: &str,
        params: Value,
        timeout: Option<Duration>,
    ) -> Result<Value> {
        if let Some(c) = self.0.closed.borrow().clone() {
            return Err(closed_error(method, c));
        }
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        lock(&self.0.pending).insert(id, tx);
        // close() may have drained the map between the check above and the insert.
        if let Some(c) = self.0.closed.borrow().clone() {
            lock(&self.0.pending).remove(&id);
            return Err(closed_error(method, c));
        }
        let line = json!({"id": id, "method": method, "params": params}).to_string();
        if self.send_line(line).await.is_err() {
            lock(&self.0.pending).remove(&id);
            return Err(self.closed_now(method));
        }
        let timeout = timeout.unwrap_or(self.0.request_timeout);
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(e))) => Err(Error::Rpc {
                method: method.to_owned(),
                code: e.code,
                message: e.message,
                data: e.data.map(Box::new),
            }),
            Ok(Err(_)) => Err(self.closed_now(method)),
            Err(_) => {
                lock(&self.0.pending).remove(&id);
                Err(Error::RequestTimeout {
                    method: method.to_owned(),
                    after: timeout,
                })
            }
        }
    }

    /// Sends a notification.
    pub(crate) async fn notify(&self, method: &str, params: Option<Value>) -> Result<()> {
        let mut msg = json!({ "method": method });
        if let Some(p) = params {
            msg["params"] = p;
        }
        self.send_line(msg.to_string())
            .await
            .map_err(|_| self.closed_now(method))
    }

    async fn send_line(&self, line: String) -> std::result::Result<(), ()> {
        let tx = lock(&self.0.out).clone().ok_or(())?;
        tx.send(line).await.map_err(|_| ())
    }

    /// Stops sending: the writer closes the server's stdin once queued lines are written.
    pub(crate) fn close_output(&self) {
        lock(&self.0.out).take();
    }

    fn closed_now(&self, method: &str) -> Error {
        let c = self.0.closed.borrow().clone().unwrap_or_else(|| Closed {
            reason: "connection closed".into(),
            stderr_tail: String::new(),
        });
        closed_error(method, c)
    }

    /// Receives notifications for `thread` (or every notification when `None`).
    pub(crate) fn subscribe(&self, thread: Option<String>) -> mpsc::Receiver<Routed> {
        self.subscribe_with(thread, None)
    }

    /// Like [`subscribe`](Self::subscribe), keeping only what `filter` accepts: nothing else
    /// takes room in its buffer.
    pub(crate) fn subscribe_filtered(
        &self,
        thread: Option<String>,
        filter: Filter,
    ) -> mpsc::Receiver<Routed> {
        self.subscribe_with(thread, Some(filter))
    }

    fn subscribe_with(
        &self,
        thread: Option<String>,
        filter: Option<Filter>,
    ) -> mpsc::Receiver<Routed> {
        let (tx, rx) = mpsc::channel(self.0.buffer.max(UNCLAIMED_KEEP));
        if self.0.closed.borrow().is_none() {
            let mut subs = lock(&self.0.subscribers);
            if let Some(id) = &thread {
                // Hand over what arrived for this thread before anyone listened, in order.
                let (mine, rest): (Vec<Routed>, Vec<Routed>) = subs
                    .unclaimed
                    .drain(..)
                    .partition(|r| r.thread_id.as_deref() == Some(id));
                subs.unclaimed = rest.into();
                for r in mine {
                    if filter.is_none_or(|f| f(&r.notification)) {
                        let _ = tx.try_send(r);
                    }
                }
            }
            subs.list.push(Subscriber { thread, filter, tx });
        }
        rx
    }

    fn close(&self, c: Closed) {
        if self.0.closed.borrow().is_some() {
            return;
        }
        tracing::debug!(reason = %c.reason, "app-server connection closed");
        let _ = self.0.closed_tx.send(Some(c.clone()));
        // Fail every pending request, end every subscription, stop every approval in flight.
        for (_, tx) in lock(&self.0.pending).drain() {
            drop(tx);
        }
        let mut subs = lock(&self.0.subscribers);
        subs.list.clear();
        subs.unclaimed.clear();
        drop(subs);
        for (_, t) in lock(&self.0.in_flight).drain() {
            t.cancel();
        }
    }

    async fn read_loop<R: AsyncBufRead + Unpin>(self, reader: R) {
        // However the reader ends (a panic or the runtime dropping the task included), the
        // connection closes: pending requests fail and subscriptions end instead of hanging.
        let guard = CloseOnDrop(self.clone());
        let mut lines = LineReader::new(reader, 256 * 1024 * 1024);
        loop {
            match lines.next_line().await {
                Ok(ReadLine::Line) => {}
                Ok(ReadLine::TooLong(n)) => {
                    tracing::warn!("app-server: skipped a {n}-byte line");
                    continue;
                }
                Ok(ReadLine::Eof) | Err(_) => break,
            }
            let msg: Value = match serde_json::from_slice(lines.line()) {
                Ok(v) => v,
                Err(e) => {
                    let text = String::from_utf8_lossy(lines.line());
                    tracing::warn!(
                        "app-server: non-JSON line ({e}): {}",
                        cut(&text, DIAGNOSTIC_KEEP)
                    );
                    continue;
                }
            };
            self.dispatch(msg).await;
        }
        // The stream ended; the owner (process supervisor) may refine the reason first.
        let reason = self.wait_for_exit_reason().await;
        self.close(reason);
        drop(guard);
    }

    async fn wait_for_exit_reason(&self) -> Closed {
        let mut rx = self.0.exit_tx.subscribe();
        // Give the process watcher a moment to report the exit status (none for sockets).
        let _ =
            tokio::time::timeout(Duration::from_millis(500), rx.wait_for(Option::is_some)).await;
        let reported = rx.borrow().clone();
        reported.unwrap_or_else(|| Closed {
            reason: "the server closed its output".into(),
            stderr_tail: self
                .0
                .stderr
                .as_ref()
                .map(StderrTail::text)
                .unwrap_or_default(),
        })
    }

    /// Records why the server process exited. The connection closes when the reader has
    /// consumed everything the server wrote (EOF follows, since the group is killed).
    pub(crate) fn mark_exited(&self, c: Closed) {
        self.0.exit_tx.send_replace(Some(c));
    }

    /// Closes the connection now (no process of ours to wait for).
    pub(crate) fn mark_closed(&self, c: Closed) {
        self.close(c);
    }

    async fn dispatch(&self, msg: Value) {
        let method = msg.get("method").and_then(Value::as_str).map(str::to_owned);
        let id = msg.get("id").cloned();
        match (method, id) {
            (None, Some(id)) => {
                let Some(id) = id.as_i64() else { return };
                let Some(tx) = lock(&self.0.pending).remove(&id) else {
                    return;
                };
                let result = match msg.get("error") {
                    Some(e) => Err(RpcError {
                        code: e.get("code").and_then(Value::as_i64).unwrap_or(0),
                        message: e
                            .get("message")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        data: e.get("data").cloned(),
                    }),
                    None => Ok(msg.get("result").cloned().unwrap_or(Value::Null)),
                };
                let _ = tx.send(result);
            }
            (Some(method), Some(id)) => {
                let params = msg.get("params").cloned().unwrap_or(Value::Null);
                self.handle_server_request(id, method, params);
            }
            (Some(method), None) => {
                let params = msg.get("params").cloned().unwrap_or(Value::Null);
                if method == "serverRequest/resolved"
                    && let Some(rid) = params.get("requestId")
                    && let Some(t) = lock(&self.0.in_flight).remove(&rid.to_string())
                {
                    t.cancel();
                }
                let thread_id =
                    str_at(&params, &["threadId"]).or_else(|| str_at(&params, &["thread", "id"]));
                let turn_id =
                    str_at(&params, &["turnId"]).or_else(|| str_at(&params, &["turn", "id"]));
                if method == "turn/completed"
                    && let (Some(t), Some(u)) = (&thread_id, &turn_id)
                    && let Some(calls) = lock(&self.0.tool_calls).remove(&(t.clone(), u.clone()))
                {
                    // A tool still running when its turn ended (interrupted, failed) stops.
                    calls.iter().for_each(|(_, t)| t.cancel());
                }
                // Repairs what doesn't fit (`protocol::Repair`): a `turn/completed` of another
                // shape still ends its turn.
                let notification = ServerNotification::decode(&method, params);
                if let ServerNotification::Unknown { method, .. } = &notification {
                    lock(&self.0.unknown).notifications.insert(method.clone());
                }
                let routed = Routed {
                    thread_id,
                    turn_id,
                    notification,
                };
                self.route(routed).await;
            }
            (None, None) => tracing::warn!("app-server: message without id or method"),
        }
    }

    async fn route(&self, r: Routed) {
        let targets: Vec<mpsc::Sender<Routed>> = {
            let mut subs = lock(&self.0.subscribers);
            subs.list.retain(|s| !s.tx.is_closed());
            let claimed = r.thread_id.is_none()
                || subs
                    .list
                    .iter()
                    .any(|s| s.thread.is_some() && s.thread == r.thread_id);
            if !claimed {
                if subs.unclaimed.len() >= UNCLAIMED_KEEP {
                    subs.unclaimed.pop_front();
                }
                subs.unclaimed.push_back(r.clone());
            }
            subs.list
                .iter()
                .filter(|s| s.wants(&r))
                .map(|s| s.tx.clone())
                .collect()
        };
        for tx in targets {
            // Bounded: a full subscriber slows the reader (and so the server) down rather than
            // growing memory, but only for LAG_GRACE: a subscriber that stays full (nobody
            // reads it) is dropped, its stream ends, and every other thread goes on.
            match tx.try_send(r.clone()) {
                Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
                Err(mpsc::error::TrySendError::Full(r)) => {
                    if tokio::time::timeout(LAG_GRACE, tx.send(r)).await.is_err() {
                        tracing::warn!("app-server: dropping a subscriber that stopped reading");
                        lock(&self.0.subscribers)
                            .list
                            .retain(|s| !s.tx.same_channel(&tx));
                    }
                }
            }
        }
    }

    fn handle_server_request(&self, id: Value, method: String, params: Value) {
        let rpc = self.clone();
        let token = CancellationToken::new();
        lock(&self.0.in_flight).insert(id.to_string(), token.clone());
        tokio::spawn(async move {
            let thread_id =
                str_at(&params, &["threadId"]).or_else(|| str_at(&params, &["conversationId"]));
            if method == "item/tool/call" {
                let reply = rpc
                    .call_tool(id.to_string(), params, thread_id, token)
                    .await;
                lock(&rpc.0.in_flight).remove(&id.to_string());
                if let Some(result) = reply {
                    let _ = rpc
                        .send_line(json!({"id": id, "result": result}).to_string())
                        .await;
                }
                return;
            }
            let request = ServerRequest::decode(&method, params);
            if let ServerRequest::Unknown { method, .. } = &request {
                lock(&rpc.0.unknown).requests.insert(method.clone());
            }
            let reply = match ApprovalRequest::from_server_request(request, thread_id) {
                Ok(req) => {
                    let answer = rpc.0.approvals.decide(req, token.clone()).await;
                    match answer {
                        Some(result) => json!({"id": id, "result": result}),
                        // Resolved by the server (or the connection closed): no reply is due.
                        None => return,
                    }
                }
                Err(method) => json!({
                    "id": id,
                    "error": {"code": -32601, "message": format!("codex-driver: no handler for server request `{method}`")},
                }),
            };
            lock(&rpc.0.in_flight).remove(&id.to_string());
            let _ = rpc.send_line(reply.to_string()).await;
        });
    }

    /// Answers `item/tool/call` from the thread's toolbox; `None` when the call was cancelled
    /// (resolved by the server, its turn ended, the connection closed): no answer is due.
    async fn call_tool(
        &self,
        request_id: String,
        params: Value,
        thread_id: Option<String>,
        token: CancellationToken,
    ) -> Option<Value> {
        let thread_id = thread_id.unwrap_or_default();
        let turn_id = str_at(&params, &["turnId"]).unwrap_or_default();
        let call = ToolCall {
            tool: str_at(&params, &["tool"]).unwrap_or_default(),
            call_id: str_at(&params, &["callId"]).unwrap_or_default(),
            arguments: params.get("arguments").cloned().unwrap_or(Value::Null),
            thread_id: thread_id.clone(),
            turn_id: turn_id.clone(),
            cancelled: token.clone(),
        };
        let toolbox = lock(&self.0.tools).get(&thread_id).cloned();
        let Some(toolbox) = toolbox else {
            return Some(
                ToolOutput::failure(format!(
                    "codex-driver: no in-process tools are registered for thread {thread_id}"
                ))
                .to_response(),
            );
        };
        let key = (thread_id, turn_id);
        lock(&self.0.tool_calls)
            .entry(key.clone())
            .or_default()
            .push((request_id.clone(), token));
        let out = toolbox.call(call).await;
        let mut calls = lock(&self.0.tool_calls);
        if let Some(list) = calls.get_mut(&key) {
            list.retain(|(r, _)| *r != request_id);
            if list.is_empty() {
                calls.remove(&key);
            }
        }
        out.map(|o| o.to_response())
    }

    /// The approval handler in use.
    pub(crate) fn set_handler(&self, h: Arc<dyn ApprovalHandler>) {
        self.0.approvals.set_handler(h);
    }
}

/// Closes the connection when the reader task ends without doing so itself.
struct CloseOnDrop(Rpc);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        if self.0.0.closed.borrow().is_none() {
            let why = if std::thread::panicking() {
                "the connection's reader failed (panicked)"
            } else {
                "the connection's reader stopped"
            };
            self.0.close(Closed {
                reason: why.into(),
                stderr_tail: self
                    .0
                    .0
                    .stderr
                    .as_ref()
                    .map(StderrTail::text)
                    .unwrap_or_default(),
            });
        }
    }
}

fn closed_error(method: &str, c: Closed) -> Error {
    Error::AppServerClosed {
        method: method.to_owned(),
        reason: c.reason,
        stderr_tail: c.stderr_tail,
    }
}

fn str_at(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str().map(str::to_owned)
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

async fn write_loop<W: AsyncWrite + Unpin>(mut w: W, mut rx: mpsc::Receiver<String>) {
    while let Some(line) = rx.recv().await {
        if w.write_all(line.as_bytes()).await.is_err()
            || w.write_all(b"\n").await.is_err()
            || w.flush().await.is_err()
        {
            break;
        }
    }
    // Dropping the writer closes the server's stdin: its signal to exit.
    let _ = w.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app_server::approvals::DenyAll;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tokio::io::{AsyncWriteExt, BufReader};

    /// A subscriber that enables everything, so `warn!` arguments are evaluated.
    struct Everything;
    impl tracing::Subscriber for Everything {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, e: &tracing::Event<'_>) {
            // Format the fields, as a real subscriber would.
            struct V;
            impl tracing::field::Visit for V {
                fn record_debug(&mut self, _: &tracing::field::Field, v: &dyn std::fmt::Debug) {
                    let _ = format!("{v:?}");
                }
            }
            e.record(&mut V);
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    fn start<R: AsyncBufRead + Unpin + Send + 'static>(r: R) -> (Rpc, tokio::io::DuplexStream) {
        let (ours, theirs) = tokio::io::duplex(1 << 16);
        let rpc = Rpc::start(
            r,
            ours,
            Approvals::new(Arc::new(DenyAll), Duration::from_secs(5)),
            Duration::from_secs(5),
            16,
            None,
        );
        (rpc, theirs)
    }

    #[test]
    fn a_long_non_json_line_cut_inside_a_character_is_a_warning() -> anyhow::Result<()> {
        let _sub = tracing::subscriber::set_default(Everything);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            let (mut server, client) = tokio::io::duplex(1 << 20);
            let (rpc, _requests) = start(BufReader::new(client));
            // 4095 ASCII bytes, then 'é' (2 bytes) straddles the DIAGNOSTIC_KEEP cut.
            let mut garbage = "x".repeat(DIAGNOSTIC_KEEP - 1);
            garbage.push_str("é and more\n");
            server.write_all(garbage.as_bytes()).await?;
            server
                .write_all(b"{\"id\":1,\"result\":{\"ok\":true}}\n")
                .await?;
            let got = rpc.request("ping", Value::Null, None).await?;
            assert_eq!(got, json!({"ok": true}));
            assert!(rpc.0.closed.borrow().is_none(), "the reader survived");
            anyhow::Ok(())
        })
    }

    /// A reader that panics on its first read.
    struct Exploding;
    impl tokio::io::AsyncRead for Exploding {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            Poll::Pending
        }
    }
    impl AsyncBufRead for Exploding {
        fn poll_fill_buf(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<std::io::Result<&[u8]>> {
            panic!("reader bug")
        }
        fn consume(self: Pin<&mut Self>, _: usize) {}
    }

    #[tokio::test]
    async fn a_panicking_reader_closes_the_connection() {
        let (rpc, _requests) = start(Exploding);
        let err = rpc
            .request("ping", Value::Null, Some(Duration::from_secs(20)))
            .await
            .err();
        match err {
            Some(Error::AppServerClosed { reason, .. }) => {
                assert_eq!(reason, "the connection's reader failed (panicked)");
            }
            other => panic!("expected a closed connection, got {other:?}"),
        }
        let mut sub = rpc.subscribe(None);
        assert!(sub.recv().await.is_none(), "subscriptions end");
    }

    /// What an app-server may write before the answer: garbage bytes (invalid UTF-8 too), any
    /// JSON, and JSON-RPC-shaped messages with odd ids and methods.
    fn hostile_line() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let id = prop_oneof![
            (2i64..1000).prop_map(Value::from),
            Just(json!("1")),
            Just(json!(1.5)),
            Just(json!(-1)),
            Just(Value::Null),
            Just(json!({"id": 1})),
        ];
        prop_oneof![
            proptest::collection::vec(
                any::<u8>().prop_filter("no newline", |b| *b != b'\n'),
                0..200
            ),
            crate::fuzz::any_json().prop_map(|v| v.to_string().into_bytes()),
            (id.clone(), crate::fuzz::any_json())
                .prop_map(|(id, r)| json!({"id": id, "result": r}).to_string().into_bytes()),
            (id.clone(), crate::fuzz::any_json())
                .prop_map(|(id, e)| json!({"id": id, "error": e}).to_string().into_bytes()),
            ("[a-z/]{0,20}", crate::fuzz::any_json())
                .prop_map(|(m, p)| json!({"method": m, "params": p}).to_string().into_bytes()),
            (id, "[a-z/]{0,20}", crate::fuzz::any_json()).prop_map(|(id, m, p)| {
                json!({"id": id, "method": m, "params": p})
                    .to_string()
                    .into_bytes()
            }),
        ]
    }

    proptest::proptest! {
        /// Whatever comes before it, the answer to a pending request reaches it, and the
        /// reader never dies.
        #[test]
        fn fuzz_jsonrpc_reader_survives_any_line_before_the_answer(
            lines in proptest::collection::vec(hostile_line(), 0..12),
            answer in crate::fuzz::any_json(),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()
                .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let got = rt.block_on(async {
                let (mut server, client) = tokio::io::duplex(1 << 20);
                let (rpc, mut requests) = start(BufReader::new(client));
                // Drain what the client writes (its answers to server requests).
                tokio::spawn(async move {
                    let mut sink = Vec::new();
                    let _ = tokio::io::AsyncReadExt::read_to_end(&mut requests, &mut sink).await;
                });
                for l in &lines {
                    server.write_all(l).await?;
                    server.write_all(b"\n").await?;
                }
                server
                    .write_all(format!("{}\n", json!({"id": 1, "result": answer})).as_bytes())
                    .await?;
                let got = rpc.request("ping", Value::Null, Some(Duration::from_secs(5))).await?;
                anyhow::ensure!(rpc.0.closed.borrow().is_none(), "the reader died");
                anyhow::Ok(got)
            });
            // As serde_json reads it back (floats are not parsed bit-exact without its
            // `float_roundtrip` feature; Codex's numbers are integers).
            let expected: Value = serde_json::from_str(&answer.to_string()).unwrap_or_default();
            match got {
                Ok(v) => proptest::prop_assert_eq!(v, expected),
                Err(e) => proptest::prop_assert!(false, "{e:#}"),
            }
        }
    }
}
