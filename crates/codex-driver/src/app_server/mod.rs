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
#[cfg(feature = "websocket")]
mod remote;
mod restart;
mod rpc;

pub use client::{
    AppServer, Codex, LoginHandle, Thread, TurnControl, TurnHandle, TurnInput, TurnOutcome,
    text_input,
};
pub use restart::Restarting;
pub use rpc::{Closed, Routed, RpcError};

#[cfg(test)]
mod tests {
    use super::protocol::{ServerNotification, ThreadItem, TurnStatus};
    use serde_json::json;

    #[test]
    fn unknown_methods_enum_values_and_fields_are_kept() {
        let n =
            ServerNotification::decode("thread/teleported", json!({"threadId": "t", "to": "mars"}));
        assert_eq!(
            n,
            ServerNotification::Unknown {
                method: "thread/teleported".into(),
                params: json!({"threadId": "t", "to": "mars"})
            }
        );
        assert_eq!(n.method(), "thread/teleported");
        let d = ServerNotification::decode(
            "item/agentMessage/delta",
            json!({"threadId": "t", "turnId": "u", "itemId": "i", "delta": "hi", "newField": 1}),
        );
        let ServerNotification::ItemAgentMessageDelta(delta) = &d else {
            panic!("{d:?}")
        };
        assert_eq!(delta.delta, "hi");
        assert_eq!(delta.extra.get("newField"), Some(&json!(1)));
        // Round trip keeps the unknown field.
        assert_eq!(d.params()["newField"], json!(1));
        let s: TurnStatus =
            serde_json::from_value(json!("paused")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s, TurnStatus::Unknown("paused".into()));
        let item: ThreadItem = serde_json::from_value(json!({"type": "hologram", "id": "x"}))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            item,
            ThreadItem::Unknown(json!({"type": "hologram", "id": "x"}))
        );
    }

    #[test]
    fn a_known_method_with_bad_params_is_unknown_not_an_error() {
        let n = ServerNotification::decode("turn/completed", json!({"threadId": 5}));
        assert!(matches!(n, ServerNotification::Unknown { .. }));
    }
}
