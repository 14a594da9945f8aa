//! The Codex app-server (`codex app-server`, JSON-RPC over stdio): threads, turns, streaming
//! deltas, steering, interrupts, and approvals that fail closed.
//!
//! ```no_run
//! # async fn demo() -> codex_driver::Result<()> {
//! use codex_driver::app_server::{AppServer, approvals::approval_fn, approvals::Decision};
//! use codex_driver::app_server::protocol::{ServerNotification, ThreadStartParams};
//!
//! let codex = AppServer::new()
//!     .codex_home("/var/lib/mybot/codex-home")
//!     // Without this, every approval request is declined.
//!     .approval_handler(approval_fn(|_approval| async { Decision::Accept }))
//!     .spawn()
//!     .await?;
//! let mut thread = codex.start_thread(ThreadStartParams::default()).await?;
//! let mut turn = thread.turn("Summarise the README").await?;
//! while let Some(event) = turn.next_event().await {
//!     if let ServerNotification::ItemAgentMessageDelta(d) = event? {
//!         print!("{}", d.delta);
//!     }
//! }
//! // Later, from another process: `codex.resume_thread(&id)` continues the same thread.
//! codex.shutdown().await?;
//! # Ok(()) }
//! ```

pub mod approvals;
mod client;
#[allow(
    missing_docs,
    clippy::large_enum_variant,
    clippy::enum_variant_names,
    clippy::doc_lazy_continuation,
    clippy::too_long_first_doc_paragraph,
    clippy::doc_overindented_list_items,
    rustdoc::bare_urls,
    rustdoc::invalid_html_tags,
    rustdoc::broken_intra_doc_links
)]
pub mod protocol;
mod rpc;

pub use client::{
    AppServer, Codex, LoginHandle, Thread, TurnControl, TurnHandle, TurnInput, TurnOutcome,
    text_input,
};
pub use rpc::{Closed, Routed, RpcError};
