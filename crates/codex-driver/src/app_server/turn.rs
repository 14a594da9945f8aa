//! A running turn: [`TurnHandle`] (its notification stream, then its outcome) and
//! [`TurnControl`] (steer or interrupt it from anywhere).

use super::client::AppServerClient;
use super::protocol::{self as p, ServerNotification};
use super::thread::{Thread, TurnInput};
use crate::error::{Error, Result};
use futures_core::Stream;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Steer or interrupt a running turn from anywhere (cloneable, `Send`).
#[derive(Debug, Clone)]
pub struct TurnControl {
    client: AppServerClient,
    thread_id: String,
    turn_id: String,
}

impl TurnControl {
    pub(crate) fn new(
        client: AppServerClient,
        thread_id: String,
        started: &p::TurnStartResponse,
    ) -> Self {
        Self {
            client,
            thread_id,
            turn_id: started.turn.id.clone(),
        }
    }

    /// The turn id.
    pub fn turn_id(&self) -> &str {
        &self.turn_id
    }

    /// `turn/steer`: adds input to the running turn.
    pub async fn steer(&self, input: impl Into<TurnInput>) -> Result<p::TurnSteerResponse> {
        let params = p::TurnSteerParams {
            thread_id: self.thread_id.clone(),
            expected_turn_id: self.turn_id.clone(),
            input: input.into().0,
            ..Default::default()
        };
        self.client.request(&params).await
    }

    /// `turn/interrupt`: the turn ends with status `interrupted`.
    pub async fn interrupt(&self) -> Result<()> {
        let params = p::TurnInterruptParams {
            thread_id: self.thread_id.clone(),
            turn_id: self.turn_id.clone(),
            ..Default::default()
        };
        self.client.request(&params).await.map(drop)
    }
}

/// A running turn: a [`Stream`] of its notifications (and thread-level ones such as
/// `thread/status/changed` and `serverRequest/resolved`), ending after `turn/completed`; then
/// [`run`](Self::run) gives its outcome. An `Err` item means the server went away mid-turn.
#[derive(Debug)]
pub struct TurnHandle<'a> {
    thread: &'a mut Thread,
    control: TurnControl,
    response: p::TurnStartResponse,
    finished: bool,
}

impl<'a> TurnHandle<'a> {
    pub(crate) fn new(
        thread: &'a mut Thread,
        control: TurnControl,
        response: p::TurnStartResponse,
    ) -> Self {
        Self {
            thread,
            control,
            response,
            finished: false,
        }
    }
}

impl TurnHandle<'_> {
    /// The turn id.
    pub fn id(&self) -> &str {
        &self.control.turn_id
    }

    /// The response of `turn/start` (the turn as it started).
    pub fn response(&self) -> &p::TurnStartResponse {
        &self.response
    }

    /// A handle to steer or interrupt this turn from another task.
    pub fn control(&self) -> TurnControl {
        self.control.clone()
    }

    /// The next notification; `None` after `turn/completed` (see [`TurnHandle`]).
    pub async fn next_event(&mut self) -> Option<Result<ServerNotification>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    /// Consumes the events and returns the outcome; a failed turn is [`Error::TurnFailed`].
    pub async fn run(self) -> Result<TurnOutcome> {
        self.run_until(|_| false).await.0
    }

    /// [`run`](Self::run), interrupting the turn (once) when `stop` says so after a usage
    /// report, given the turn's usage so far. Also says whether it interrupted.
    pub(crate) async fn run_until(
        mut self,
        mut stop: impl FnMut(&crate::events::Usage) -> bool,
    ) -> (Result<TurnOutcome>, bool) {
        let mut interrupted = false;
        let out = self.collect(&mut stop, &mut interrupted).await;
        (out, interrupted)
    }

    async fn collect(
        &mut self,
        stop: &mut impl FnMut(&crate::events::Usage) -> bool,
        interrupted: &mut bool,
    ) -> Result<TurnOutcome> {
        let mut out = TurnOutcome {
            thread_id: self.thread.id().to_owned(),
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
                    // `last` is the model call just made: their sum is the turn's usage. A
                    // report repeating the thread's total is no new call.
                    if self.thread.last_total.as_ref() != Some(&u.token_usage.total) {
                        out.turn_usage.add(&breakdown_usage(&u.token_usage.last));
                        self.thread.last_total = Some(u.token_usage.total.clone());
                    }
                    out.usage = Some(u.token_usage);
                    if !*interrupted && stop(&out.turn_usage) {
                        *interrupted = true;
                        self.control.interrupt().await?;
                    }
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
                            stderr_tail: self.thread.client().stderr_tail(),
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

impl Stream for TurnHandle<'_> {
    type Item = Result<ServerNotification>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        loop {
            let r = match this.thread.events().poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(r)) => r,
                Poll::Ready(None) => {
                    this.finished = true;
                    let client = this.thread.client();
                    if client.closed().is_none() {
                        return Poll::Ready(Some(Err(Error::Protocol {
                            method: "turn".into(),
                            detail: "this thread's events were not read for too long and its subscription was dropped".into(),
                        })));
                    }
                    return Poll::Ready(Some(Err(client.closed_error("turn"))));
                }
            };
            if r.turn_id
                .as_deref()
                .is_some_and(|t| t != this.control.turn_id)
            {
                continue; // an event of an earlier turn
            }
            if let ServerNotification::TurnCompleted(c) = &r.notification
                && c.turn.id == this.control.turn_id
            {
                this.finished = true;
            }
            return Poll::Ready(Some(Ok(r.notification)));
        }
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
