//! The consumer's side of a running `codex exec`: [`ExecStream`] and the collected results.

use super::events::{Diagnostic, ItemDetails, ThreadEvent, ThreadItem, Usage};
use crate::error::Result;
use crate::process::{ReapGate, StderrTail};
use futures_core::Stream;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::sync::mpsc;
use tokio_util::sync::{CancellationToken, DropGuard};

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

/// A turn decoded into `T` by [`Exec::run_typed`](super::Exec::run_typed).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TypedTurn<T> {
    /// The decoded final message.
    pub value: T,
    /// Everything else about the turn.
    pub turn: TurnResult,
}

#[derive(Debug, Default)]
pub(super) struct Shared {
    pub(super) diagnostics: Mutex<Vec<Diagnostic>>,
}

/// Stops Codex when the stream is dropped. With a runtime, the supervisor (cancelled by the
/// stream's drop guard) escalates: SIGTERM now lets Codex stop the commands it started (they
/// may run outside its group), the grace, then SIGKILL. Without one (runtime shutdown), SIGKILL
/// at once; the supervisor's [`Leader`] kills the group too if it is dropped unreaped.
#[derive(Debug)]
pub(super) struct KillOnDrop {
    pub(super) pgid: u32,
    pub(super) done: Arc<ReapGate>,
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
pub(super) enum Msg {
    Event(ThreadEvent),
    /// Events that were read in one go (more lines were already buffered): one message, one
    /// wake-up of the consumer, instead of one each.
    Events(std::vec::IntoIter<ThreadEvent>),
    Done(Result<()>),
}

/// Live events of a running `codex exec`. Ends with `Err` when the run failed (turn failed,
/// timeout, crash, ...). Dropping it stops Codex and its whole process group.
#[derive(Debug)]
pub struct ExecStream {
    rx: mpsc::Receiver<Msg>,
    /// The rest of the last batch received.
    batch: std::vec::IntoIter<ThreadEvent>,
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
            Self::Events(e) => write!(f, "Events({})", e.len()),
            Self::Done(r) => write!(f, "Done({})", r.is_ok()),
        }
    }
}

impl ExecStream {
    pub(super) fn new(
        rx: mpsc::Receiver<Msg>,
        shared: Arc<Shared>,
        tail: StderrTail,
        token: CancellationToken,
        kill: KillOnDrop,
    ) -> Self {
        Self {
            rx,
            batch: Vec::new().into_iter(),
            shared,
            tail,
            pgid: kill.pgid,
            thread_id: None,
            finished: false,
            _cancel_on_drop: token.clone().drop_guard(),
            token,
            _kill_on_drop: kill,
        }
    }

    /// The thread id, once `thread.started` has been received.
    pub fn thread_id(&self) -> Option<&str> {
        self.thread_id.as_deref()
    }

    /// Codex's process group id (its pid).
    pub fn process_group(&self) -> u32 {
        self.pgid
    }

    /// Stops the run (the stream then ends with [`Error::Cancelled`](crate::Error::Cancelled)).
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

impl ExecStream {
    /// Notes what the consumer should know of an event on its way out.
    fn seen(&mut self, ev: ThreadEvent) -> ThreadEvent {
        if let ThreadEvent::ThreadStarted(t) = &ev {
            self.thread_id = Some(t.thread_id.clone());
        }
        ev
    }
}

impl Stream for ExecStream {
    type Item = Result<ThreadEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.finished {
            return Poll::Ready(None);
        }
        let msg = match self.batch.next() {
            Some(ev) => Poll::Ready(Some(Msg::Event(ev))),
            None => self.rx.poll_recv(cx),
        };
        match msg {
            Poll::Ready(Some(Msg::Events(mut batch))) => {
                let first = batch.next();
                self.batch = batch;
                match first {
                    Some(ev) => Poll::Ready(Some(Ok(self.seen(ev)))),
                    // Never sent empty; asking again is harmless.
                    None => {
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                }
            }
            Poll::Ready(Some(Msg::Event(ev))) => Poll::Ready(Some(Ok(self.seen(ev)))),
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
