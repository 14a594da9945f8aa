//! One interface over both transports, so switching between `codex exec` and the app-server is
//! a one-line change.
//!
//! ```no_run
//! # async fn demo() -> codex_driver::Result<()> {
//! use codex_driver::conversation::{Conversation, ExecConversation};
//! use codex_driver::Exec;
//!
//! async fn two_turns(c: &mut impl Conversation) -> codex_driver::Result<()> {
//!     c.send("Summarise the repo").await?;
//!     let second = c.send("Now list its TODOs").await?; // same thread
//!     println!("{}: {}", second.thread_id, second.final_message.unwrap_or_default());
//!     Ok(())
//! }
//!
//! // One `codex exec` per turn ...
//! two_turns(&mut ExecConversation::new(Exec::new("").cd("/srv/repo"))).await?;
//! // ... or one persistent app-server thread.
//! let codex = codex_driver::app_server::AppServer::new().spawn().await?;
//! two_turns(&mut codex.start_thread(Default::default()).await?).await?;
//! # Ok(()) }
//! ```

use crate::cost::Meter;
use crate::error::Result;
use crate::events::Usage;
use crate::exec::{Exec, ResumeTarget, Session};

/// What a turn produced, whichever transport ran it.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct TurnSummary {
    /// The thread.
    pub thread_id: String,
    /// The last agent message.
    pub final_message: Option<String>,
    /// Tokens used by this turn.
    pub usage: Usage,
    /// What the turn cost in dollars, when run through a [`Metered`](crate::cost::Metered)
    /// conversation whose rate card prices the model.
    pub cost_usd: Option<f64>,
}

/// This turn's usage from the thread total a transport reports after it, given (and updating)
/// the total reported after the previous turn.
pub(crate) fn turn_usage(reported: &mut Option<Usage>, total: Usage) -> Usage {
    let usage = match reported {
        Some(before) => total.since(before),
        None => total,
    };
    *reported = Some(total);
    usage
}

/// A thread that takes turns.
pub trait Conversation {
    /// The thread id, once known.
    fn thread_id(&self) -> Option<&str>;

    /// Runs one turn with `prompt` on this thread and waits for its end. The future is `Send`,
    /// so generic code can run it on another task (`tokio::spawn`).
    fn send(&mut self, prompt: &str) -> impl Future<Output = Result<TurnSummary>> + Send;

    /// [`send`](Self::send) held to `meter`: refused before it starts once a limit is reached,
    /// counted and priced when it ends. Transports that report usage while a turn runs (the
    /// app-server) interrupt it as soon as it crosses the budget. Called by
    /// [`Metered`](crate::cost::Metered); implementations rarely need to override it.
    fn send_metered(
        &mut self,
        prompt: &str,
        meter: &mut Meter,
    ) -> impl Future<Output = Result<TurnSummary>> + Send
    where
        Self: Send,
    {
        async move {
            meter.check(self.thread_id().unwrap_or_default(), None)?;
            let mut summary = self.send(prompt).await?;
            summary.cost_usd = meter.record(&summary.usage, None);
            Ok(summary)
        }
    }
}

/// A conversation over `codex exec`: the first turn starts a thread, later ones resume it. Every
/// turn uses the options of the template `Exec` (its prompt is ignored).
#[derive(Debug, Clone)]
pub struct ExecConversation {
    template: Exec,
    thread_id: Option<String>,
    /// The cumulative usage last reported (exec reports thread totals on resume).
    reported: Option<Usage>,
}

impl ExecConversation {
    /// A new thread with these options.
    pub fn new(template: Exec) -> Self {
        Self {
            template,
            thread_id: None,
            reported: None,
        }
    }

    /// Continues an existing thread. The first turn's usage is then the thread's total so far
    /// (Codex reports cumulative usage on resume); later turns' are their own.
    pub fn resume(template: Exec, thread_id: impl Into<String>) -> Self {
        Self {
            template,
            thread_id: Some(thread_id.into()),
            reported: None,
        }
    }
}

/// For [`routing`](crate::routing): the provider is switched in the template, and a failed
/// first turn's thread is adopted so the retry continues it.
impl ExecConversation {
    pub(crate) fn template_mut(&mut self) -> &mut Exec {
        &mut self.template
    }

    pub(crate) fn adopt_thread(&mut self, id: String) {
        self.thread_id = Some(id);
    }
}

impl Conversation for ExecConversation {
    fn thread_id(&self) -> Option<&str> {
        self.thread_id.as_deref()
    }

    async fn send(&mut self, prompt: &str) -> Result<TurnSummary> {
        let mut exec = self.template.clone().with_prompt(prompt);
        if let Some(id) = &self.thread_id {
            exec = exec.session(Session::Resume {
                target: ResumeTarget::Id(id.clone()),
                all: false,
            });
        }
        let turn = exec.run().await?;
        if self.thread_id.is_none() {
            self.thread_id = turn.thread_id.clone();
        }
        let usage = turn_usage(&mut self.reported, turn.usage.unwrap_or_default());
        Ok(TurnSummary {
            thread_id: turn.thread_id.unwrap_or_default(),
            final_message: turn.final_message,
            usage,
            cost_usd: None,
        })
    }
}

impl Conversation for crate::app_server::Thread {
    fn thread_id(&self) -> Option<&str> {
        Some(self.id())
    }

    async fn send(&mut self, prompt: &str) -> Result<TurnSummary> {
        let out = self.run(prompt).await?;
        Ok(TurnSummary {
            thread_id: out.thread_id,
            final_message: out.final_message,
            usage: out.turn_usage,
            cost_usd: None,
        })
    }

    async fn send_metered(&mut self, prompt: &str, meter: &mut Meter) -> Result<TurnSummary> {
        let model = self.response().model().to_owned();
        meter.check(self.id(), Some(&model))?;
        let turn = self.turn(prompt).await?;
        // Each `thread/tokenUsage/updated` is a model call just made: interrupt the turn as
        // soon as its running total takes the spend past the budget.
        let (out, interrupted) = turn
            .run_until(|so_far| meter.crosses(so_far, Some(&model)))
            .await;
        let out = out?;
        let cost_usd = meter.record(&out.turn_usage, Some(&model));
        if interrupted {
            let limit = meter.budget().max_usd.unwrap_or_default();
            return Err(meter.exceeded(format!("max_budget ${limit}"), self.id(), true));
        }
        Ok(TurnSummary {
            thread_id: out.thread_id,
            final_message: out.final_message,
            usage: out.turn_usage,
            cost_usd,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Generic code can move any conversation into a task: both transports' `send` futures are
    /// `Send` (this only has to compile).
    fn spawnable<C: Conversation + Send + 'static>(mut c: C) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let _ = c.send("hello").await;
        })
    }

    fn is_send<T: Send>(_: &T) {}

    #[allow(dead_code)]
    fn futures_are_send(exec: &mut ExecConversation, thread: &mut crate::app_server::Thread) {
        is_send(&exec.send("hello"));
        is_send(&thread.send("hello"));
    }

    #[test]
    fn both_transports_send_futures_are_send() {
        let _ = spawnable::<ExecConversation>;
        let _ = spawnable::<crate::app_server::Thread>;
        let _ = futures_are_send;
    }
}
