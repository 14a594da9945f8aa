//! The Codex app-server (`codex app-server`, JSON-RPC over stdio): threads, turns, streaming
//! deltas, steering, interrupts, and approvals that fail closed.
//!
//! [`AppServer`] spawns the server (or connects to a running one) and gives an
//! [`AppServerClient`]; its [`Thread`]s start turns, each a [`TurnHandle`]: a `Stream` of typed
//! [`ServerNotification`](protocol::ServerNotification)s. Every method of the protocol is a typed
//! request: [`AppServerClient::request`] takes any `...Params` of [`protocol`] and returns its
//! `...Response`; the convenience methods (`start_thread`, `Thread::archive`, `models`, ...) are
//! built on it.
//!
//! ```no_run
//! # async fn demo() -> codex_driver::Result<()> {
//! use codex_driver::app_server::{AppServer, approvals::approval_fn, approvals::Decision};
//! use codex_driver::app_server::protocol::{ServerNotification, ThreadListParams, ThreadStartParams};
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
//! let saved = codex.request(&ThreadListParams::default()).await?;
//! println!("{} saved threads", saved.data.len());
//! codex.shutdown().await?;
//! # Ok(()) }
//! ```

mod account;
pub mod approvals;
pub(crate) mod builder;
mod client;
mod fleet;
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
pub(crate) mod rpc;
mod settings;
mod streams;
mod thread;
mod turn;

pub use account::LoginHandle;
pub use builder::AppServer;
pub use client::{AppServerClient, Drift};
pub use fleet::Fleet;
pub use restart::Restarting;
pub use rpc::{Closed, Routed, RpcError};
pub use streams::{Notifications, ThreadStatusChanges};
pub use thread::{Thread, ThreadOpened, TurnInput, text_input};
pub use turn::{TurnControl, TurnHandle, TurnOutcome};

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
    fn unknown_fields_point_at_what_the_types_did_not_know() {
        use super::protocol::UnknownFields;
        let d = ServerNotification::decode(
            "item/agentMessage/delta",
            json!({"threadId": "t", "turnId": "u", "itemId": "i", "delta": "hi", "newField": 1}),
        );
        assert_eq!(d.unknown_fields(), ["/newField"]);
        let done = ServerNotification::decode(
            "turn/completed",
            json!({"threadId": "t", "turn": {"id": "u", "items": [{"type": "hologram"}], "status": "paused"}}),
        );
        assert!(
            matches!(done, ServerNotification::TurnCompleted(_)),
            "{done:?}"
        );
        assert_eq!(done.unknown_fields(), ["/turn/items/0", "/turn/status"]);
        let odd = ServerNotification::decode("thread/teleported", json!({}));
        assert_eq!(odd.unknown_fields(), [""]);
        // Open objects (the schema allows any key) report nothing.
        let cfg: super::protocol::Config =
            serde_json::from_value(json!({"model": "o3", "some_new_key": true}))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.unknown_fields(), Vec::<String>::new());
        assert_eq!(cfg.extra.get("some_new_key"), Some(&json!(true)));
    }

    #[test]
    fn text_input_is_a_text_item() {
        let v = serde_json::to_value(super::text_input("hi")).unwrap_or_default();
        assert_eq!(v, json!({"type": "text", "text": "hi"}));
    }

    #[test]
    fn a_known_method_with_bad_params_is_repaired_or_unknown_not_an_error() {
        // Repaired: the method is still recognized, the retyped field kept in `extra`.
        let n = ServerNotification::decode("turn/completed", json!({"threadId": 5}));
        let ServerNotification::TurnCompleted(c) = &n else {
            panic!("{n:?}")
        };
        assert_eq!(c.thread_id, "");
        assert_eq!(
            c.extra,
            json!({"threadId": 5})
                .as_object()
                .cloned()
                .unwrap_or_default()
        );
        // Params that are not an object at all can't be: kept whole.
        let n = ServerNotification::decode("item/started", json!([1, 2]));
        assert_eq!(
            n,
            ServerNotification::Unknown {
                method: "item/started".into(),
                params: json!([1, 2])
            }
        );
    }

    /// A `turn/completed` of another shape still ends its turn: what fits is decoded, the rest
    /// kept in `extra`.
    #[test]
    fn a_turn_completed_of_another_shape_is_still_the_turn_end() {
        let n = ServerNotification::decode(
            "turn/completed",
            json!({"threadId": "t", "turn": {"id": "u", "status": "completed", "items": "many", "durationMs": "slow"}}),
        );
        let ServerNotification::TurnCompleted(c) = &n else {
            panic!("{n:?}")
        };
        assert_eq!(
            (c.thread_id.as_str(), c.turn.id.as_str(), &c.turn.status),
            ("t", "u", &TurnStatus::Completed)
        );
        assert!(c.turn.items.is_empty());
        // What didn't fit is kept where it was, so the JSON reads back as received.
        assert_eq!(c.turn.extra["items"], "many");
        assert_eq!(c.turn.extra["durationMs"], "slow");
        assert_eq!(
            n.params(),
            json!({"threadId": "t", "turn": {"id": "u", "status": "completed", "items": "many", "durationMs": "slow"}})
        );
        // Without a status, the turn still ends (status `Unknown`, which is not a failure).
        let n = ServerNotification::decode(
            "turn/completed",
            json!({"threadId": "t", "turn": {"id": "u", "items": []}}),
        );
        let ServerNotification::TurnCompleted(c) = &n else {
            panic!("{n:?}")
        };
        assert_eq!(c.turn.status, TurnStatus::Unknown(String::new()));
        // A failed turn stays failed, and its error message survives a retyped sibling.
        let n = ServerNotification::decode(
            "turn/completed",
            json!({"threadId": 7, "turn": {"id": "u", "status": "failed", "items": [], "error": {"message": "boom", "codexErrorInfo": 5}}}),
        );
        let ServerNotification::TurnCompleted(c) = &n else {
            panic!("{n:?}")
        };
        assert_eq!(c.turn.status, TurnStatus::Failed);
        assert_eq!(c.extra["threadId"], 7);
        // Not an object at all: kept whole.
        assert!(matches!(
            ServerNotification::decode("turn/completed", json!("done")),
            ServerNotification::Unknown { .. }
        ));
    }
}
