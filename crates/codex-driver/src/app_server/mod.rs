//! The Codex app-server (`codex app-server`, JSON-RPC over stdio): threads, turns, streaming
//! deltas, approvals.

#[allow(
    missing_docs,
    clippy::large_enum_variant,
    clippy::enum_variant_names,
    clippy::doc_lazy_continuation,
    clippy::too_long_first_doc_paragraph,
    clippy::doc_overindented_list_items
)]
pub mod protocol;
