//! The fast path of [`parse_line`](super::parse_line): one streaming pass over the line.
//!
//! The derived decoders are the reference: an internally tagged enum and `#[serde(flatten)]`
//! make serde buffer every value (a 64 KiB command output is copied four or five times before
//! it lands in its `String`). Codex writes `type` first in an event and `id`, `type` first in an
//! item, so the variant is known before its fields arrive and each field can be decoded straight
//! into place, unknown ones into `extra`.
//!
//! Anything unusual gives up (`None`) and the line goes through the derived decoders and
//! [`repair`](super::repair) as before: `type` not first, an unknown event or item type, a
//! repeated key, a field that doesn't fit its type. A property test checks that whatever this
//! path accepts decodes exactly as the reference does.

use super::{
    AgentMessageItem, CollabToolCallItem, CommandExecutionItem, ErrorItem, Extra, FileChangeItem,
    ItemDetails, ItemEvent, McpToolCallItem, ReasoningItem, StreamError, ThreadEvent, ThreadItem,
    ThreadStarted, TodoListItem, TurnCompleted, TurnFailed, TurnStarted, WebSearchItem,
};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use std::fmt;

/// `line` decoded by the fast path, or `None` to take the reference path.
pub(super) fn decode(line: &str) -> Option<ThreadEvent> {
    let mut de = serde_json::Deserializer::from_str(line);
    let ev = (&mut de).deserialize_map(EventVisitor).ok()?;
    de.end().ok()?;
    Some(ev)
}

/// Gives up on the fast path (the message is never shown).
fn give_up<E: de::Error>() -> E {
    E::custom("fast path declined")
}

/// A map key, borrowed from the line when it has no escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(s))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(s.to_owned()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(s))
            }
        }
        d.deserialize_str(V)
    }
}

/// Collects one struct's fields as they stream by.
trait Builder: Default {
    type Out;
    /// Takes the value of `key` (the next value of `map`).
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
    /// The struct, or an error when a required field is missing.
    fn finish<E: de::Error>(self) -> Result<Self::Out, E>;
}

/// Feeds the rest of `map` to a builder.
fn fill<'de, B: Builder, A: MapAccess<'de>>(mut b: B, mut map: A) -> Result<B::Out, A::Error> {
    while let Some(key) = map.next_key::<Key>()? {
        b.field(key.as_str(), &mut map)?;
    }
    b.finish()
}

/// A repeated key is left to the reference path.
fn put<T, E: de::Error>(slot: &mut Option<T>, value: T) -> Result<(), E> {
    match slot.replace(value) {
        None => Ok(()),
        Some(_) => Err(give_up()),
    }
}

fn put_extra<'de, A: MapAccess<'de>>(
    extra: &mut Extra,
    key: &str,
    map: &mut A,
) -> Result<(), A::Error> {
    // A second `type` (the tag) is the reference decoder's call.
    if key == "type" {
        return Err(give_up());
    }
    let v: Value = map.next_value()?;
    match extra.insert(key.to_owned(), v) {
        None => Ok(()),
        Some(_) => Err(give_up()),
    }
}

/// A builder for a struct of plain fields plus `extra`. `req` fields must be present; `opt`
/// ones default when missing (`#[serde(default)]` on the struct).
macro_rules! builder {
    ($name:ident => $ty:ident { req: [$($req:ident: $rt:ty),*], opt: [$($opt:ident: $ot:ty),*] }) => {
        #[derive(Default)]
        struct $name {
            $($req: Option<$rt>,)*
            $($opt: Option<$ot>,)*
            extra: Extra,
        }
        impl Builder for $name {
            type Out = $ty;
            fn field<'de, A: MapAccess<'de>>(
                &mut self,
                key: &str,
                map: &mut A,
            ) -> Result<(), A::Error> {
                match key {
                    $(stringify!($req) => put(&mut self.$req, map.next_value()?),)*
                    $(stringify!($opt) => put(&mut self.$opt, map.next_value()?),)*
                    _ => put_extra(&mut self.extra, key, map),
                }
            }
            fn finish<E: de::Error>(self) -> Result<$ty, E> {
                Ok($ty {
                    $($req: self.$req.ok_or_else(give_up)?,)*
                    $($opt: self.$opt.unwrap_or_default(),)*
                    extra: self.extra,
                })
            }
        }
    };
}

builder!(ThreadStartedB => ThreadStarted { req: [thread_id: String], opt: [] });
builder!(TurnStartedB => TurnStarted { req: [], opt: [] });
builder!(TurnCompletedB => TurnCompleted { req: [usage: super::Usage], opt: [] });
builder!(TurnFailedB => TurnFailed { req: [error: super::ThreadError], opt: [] });
builder!(StreamErrorB => StreamError { req: [message: String], opt: [] });
builder!(AgentMessageB => AgentMessageItem { req: [text: String], opt: [] });
builder!(ReasoningB => ReasoningItem { req: [text: String], opt: [] });
builder!(CommandB => CommandExecutionItem {
    req: [command: String, status: super::CommandExecutionStatus],
    opt: [aggregated_output: String, exit_code: Option<i32>]
});
builder!(FileChangeB => FileChangeItem {
    req: [changes: Vec<super::FileUpdateChange>, status: super::PatchApplyStatus],
    opt: []
});
builder!(McpToolCallB => McpToolCallItem {
    req: [server: String, tool: String, status: super::McpToolCallStatus],
    opt: [arguments: Value, result: Option<Value>, error: Option<super::McpToolCallError>]
});
builder!(WebSearchB => WebSearchItem {
    req: [],
    opt: [id: Option<String>, query: String, action: Option<Value>]
});
builder!(TodoListB => TodoListItem { req: [items: Vec<super::TodoItem>], opt: [] });
builder!(CollabB => CollabToolCallItem {
    req: [tool: String],
    opt: [
        sender_thread_id: Option<String>,
        receiver_thread_ids: Vec<String>,
        prompt: Option<String>,
        agents_states: serde_json::Map<String, Value>,
        status: Option<String>
    ]
});
builder!(ErrorItemB => ErrorItem { req: [message: String], opt: [] });

/// The builder of an item's details, chosen by its `type`.
enum DetailsB {
    AgentMessage(AgentMessageB),
    Reasoning(ReasoningB),
    Command(CommandB),
    FileChange(FileChangeB),
    Mcp(McpToolCallB),
    WebSearch(WebSearchB),
    TodoList(TodoListB),
    Collab(CollabB),
    Error(ErrorItemB),
}

impl DetailsB {
    fn for_type(ty: &str) -> Option<Self> {
        Some(match ty {
            "agent_message" => Self::AgentMessage(Default::default()),
            "reasoning" => Self::Reasoning(Default::default()),
            "command_execution" => Self::Command(Default::default()),
            "file_change" => Self::FileChange(Default::default()),
            "mcp_tool_call" => Self::Mcp(Default::default()),
            "web_search" => Self::WebSearch(Default::default()),
            "todo_list" => Self::TodoList(Default::default()),
            "collab_tool_call" => Self::Collab(Default::default()),
            "error" => Self::Error(Default::default()),
            _ => return None,
        })
    }

    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match self {
            Self::AgentMessage(b) => b.field(key, map),
            Self::Reasoning(b) => b.field(key, map),
            Self::Command(b) => b.field(key, map),
            Self::FileChange(b) => b.field(key, map),
            Self::Mcp(b) => b.field(key, map),
            Self::WebSearch(b) => b.field(key, map),
            Self::TodoList(b) => b.field(key, map),
            Self::Collab(b) => b.field(key, map),
            Self::Error(b) => b.field(key, map),
        }
    }

    fn finish<E: de::Error>(self) -> Result<ItemDetails, E> {
        Ok(match self {
            Self::AgentMessage(b) => ItemDetails::AgentMessage(b.finish()?),
            Self::Reasoning(b) => ItemDetails::Reasoning(b.finish()?),
            Self::Command(b) => ItemDetails::CommandExecution(b.finish()?),
            Self::FileChange(b) => ItemDetails::FileChange(b.finish()?),
            Self::Mcp(b) => ItemDetails::McpToolCall(b.finish()?),
            Self::WebSearch(b) => ItemDetails::WebSearch(b.finish()?),
            Self::TodoList(b) => ItemDetails::TodoList(b.finish()?),
            Self::Collab(b) => ItemDetails::CollabToolCall(b.finish()?),
            Self::Error(b) => ItemDetails::Error(b.finish()?),
        })
    }
}

/// An item: `id` (the first one is the item's; a `web_search` carries a second one of its
/// own), then `type`, then the details.
#[derive(Default)]
struct ItemB {
    id: Option<String>,
    details: Option<DetailsB>,
}

impl Builder for ItemB {
    type Out = ThreadItem;
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match (&mut self.details, key) {
            (None, "id") if self.id.is_none() => {
                self.id = Some(map.next_value()?);
                Ok(())
            }
            (None, "type") => {
                let ty: Key = map.next_value()?;
                self.details = Some(DetailsB::for_type(ty.as_str()).ok_or_else(give_up)?);
                Ok(())
            }
            (Some(_), "type") | (None, _) => Err(give_up()),
            (Some(_), "id") if self.id.is_none() => {
                self.id = Some(map.next_value()?);
                Ok(())
            }
            (Some(d), _) => d.field(key, map),
        }
    }
    fn finish<E: de::Error>(self) -> Result<ThreadItem, E> {
        Ok(ThreadItem {
            id: self.id.ok_or_else(give_up)?,
            details: self.details.ok_or_else(give_up)?.finish()?,
        })
    }
}

/// Decodes a value with a builder (for nested objects).
struct Seed<B>(B);

impl<'de, B: Builder> DeserializeSeed<'de> for Seed<B> {
    type Value = B::Out;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<B::Out, D::Error> {
        struct V<B>(B);
        impl<'de, B: Builder> Visitor<'de> for V<B> {
            type Value = B::Out;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<B::Out, A::Error> {
                fill(self.0, map)
            }
        }
        d.deserialize_map(V(self.0))
    }
}

#[derive(Default)]
struct ItemEventB {
    item: Option<ThreadItem>,
    extra: Extra,
}

impl Builder for ItemEventB {
    type Out = ItemEvent;
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "item" => {
                let item = map.next_value_seed(Seed(ItemB::default()))?;
                put(&mut self.item, item)
            }
            _ => put_extra(&mut self.extra, key, map),
        }
    }
    fn finish<E: de::Error>(self) -> Result<ItemEvent, E> {
        Ok(ItemEvent {
            item: self.item.ok_or_else(give_up)?,
            extra: self.extra,
        })
    }
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = ThreadEvent;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an event object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ThreadEvent, A::Error> {
        match map.next_key::<Key>()? {
            Some(k) if k.as_str() == "type" => {}
            _ => return Err(give_up()),
        }
        let ty: Key = map.next_value()?;
        Ok(match ty.as_str() {
            "thread.started" => ThreadEvent::ThreadStarted(fill(ThreadStartedB::default(), map)?),
            "turn.started" => ThreadEvent::TurnStarted(fill(TurnStartedB::default(), map)?),
            "turn.completed" => ThreadEvent::TurnCompleted(fill(TurnCompletedB::default(), map)?),
            "turn.failed" => ThreadEvent::TurnFailed(fill(TurnFailedB::default(), map)?),
            "item.started" => ThreadEvent::ItemStarted(fill(ItemEventB::default(), map)?),
            "item.updated" => ThreadEvent::ItemUpdated(fill(ItemEventB::default(), map)?),
            "item.completed" => ThreadEvent::ItemCompleted(fill(ItemEventB::default(), map)?),
            "error" => ThreadEvent::Error(fill(StreamErrorB::default(), map)?),
            _ => return Err(give_up()),
        })
    }
}
