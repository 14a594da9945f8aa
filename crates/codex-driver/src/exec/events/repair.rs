//! Known events whose payload doesn't fit the types: still recognized by their `type`.
//!
//! A newer (or older) Codex may send a known event with a field missing, renamed or of another
//! type. Rather than losing the event (a `turn.completed` that doesn't decode would leave the
//! turn without an end), each field is tested on its own against the type: the fields that fit
//! are kept, the ones that don't are taken out and kept as sent in the payload's `extra` (the
//! typed field then holds its default), and missing required fields get their default. The
//! same is done inside the `item` of `item.*` events.

use super::{ItemDetails, ThreadEvent};
use crate::repair::sort_fields;
use serde_json::{Map, Value, json};

/// The smallest valid payload of each known event type: what a missing required field
/// defaults to, and the background against which each field is tested alone.
fn event_skeleton(ty: &str) -> Option<Map<String, Value>> {
    let v = match ty {
        "thread.started" => json!({"thread_id": ""}),
        "turn.started" => json!({}),
        "turn.completed" => json!({"usage": {"input_tokens": 0, "output_tokens": 0}}),
        "turn.failed" => json!({"error": {"message": ""}}),
        "error" => json!({"message": ""}),
        // No item: an empty one of no known type (not a made-up item).
        "item.started" | "item.updated" | "item.completed" => {
            json!({"item": {"id": "", "type": ""}})
        }
        _ => return None,
    };
    match v {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// The same for each known item type (an unknown status is a status of its own).
fn item_skeleton(ty: &str) -> Option<Map<String, Value>> {
    let v = match ty {
        "agent_message" | "reasoning" => json!({"text": ""}),
        "command_execution" => json!({"command": "", "status": ""}),
        "file_change" => json!({"changes": [], "status": ""}),
        "mcp_tool_call" => json!({"server": "", "tool": "", "status": ""}),
        "web_search" => json!({}),
        "todo_list" => json!({"items": []}),
        "collab_tool_call" => json!({"tool": ""}),
        "error" => json!({"message": ""}),
        _ => return None,
    };
    match v {
        Value::Object(m) => Some(m),
        _ => None,
    }
}

/// `payload` decoded as a `ty` event, when it fits: an item of a known type must decode as
/// that type (not fall back to `ItemDetails::Unknown`).
fn decodes(ty: &str, payload: &Map<String, Value>) -> Option<ThreadEvent> {
    let mut obj = payload.clone();
    obj.insert("type".into(), Value::String(ty.to_owned()));
    let ev = match serde_json::from_value::<ThreadEvent>(Value::Object(obj)) {
        Ok(ThreadEvent::Unknown(_)) | Err(_) => return None,
        Ok(ev) => ev,
    };
    let known_item_lost = payload
        .get("item")
        .and_then(|i| i.get("type"))
        .and_then(Value::as_str)
        .is_some_and(|t| item_skeleton(t).is_some())
        && ev
            .item()
            .is_some_and(|i| matches!(i.details, ItemDetails::Unknown(_)));
    (!known_item_lost).then_some(ev)
}

/// Whether `ev` should be looked at again: a known item type that fell back to
/// `ItemDetails::Unknown` because its fields didn't fit.
pub(super) fn lost_a_known_item(ev: &ThreadEvent) -> bool {
    ev.item().is_some_and(|i| match &i.details {
        ItemDetails::Unknown(v) => v
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| item_skeleton(t).is_some()),
        _ => false,
    })
}

/// A known event that failed to decode, decoded field by field; `None` for an unknown type
/// (kept as [`ThreadEvent::Unknown`] by the caller).
pub(super) fn repair(value: &Value) -> Option<ThreadEvent> {
    let obj = value.as_object()?;
    let ty = obj.get("type")?.as_str()?;
    let skeleton = event_skeleton(ty)?;
    let mut fields = obj.clone();
    fields.remove("type");
    // An object that doesn't fit (`usage`, `error`): what of it fits is kept; the original
    // goes to `extra` with the rest.
    let (mut good, mut bad) =
        crate::repair::fit_nested(&skeleton, fields, |p| decodes(ty, p).is_some());
    // An item that doesn't fit: repaired the same way, inside.
    let mut bad_item_fields = Map::new();
    if let Some(Value::Object(item)) = bad.get("item").cloned()
        && let Some(item_ty) = item.get("type").and_then(Value::as_str)
        && let Some(item_skel) = item_skeleton(item_ty)
    {
        let mut item_fields = item.clone();
        item_fields.remove("type");
        let id = item_fields
            .remove("id")
            .unwrap_or(Value::String(String::new()));
        let mut base = item_skel;
        base.insert("type".into(), Value::String(item_ty.to_owned()));
        base.insert("id".into(), json!(""));
        let event_with = |it: &Map<String, Value>| {
            let mut p = good.clone();
            p.insert("item".into(), Value::Object(it.clone()));
            decodes(ty, &p).is_some()
        };
        let (mut fixed, item_bad) = sort_fields(&base, item_fields, event_with);
        fixed.insert(
            "id".into(),
            match id {
                Value::String(s) => Value::String(s),
                other => Value::String(other.to_string()),
            },
        );
        good.insert("item".into(), Value::Object(fixed));
        bad.remove("item");
        bad_item_fields = item_bad;
    }
    let mut ev = decodes(ty, &good)?;
    // What didn't fit, kept as sent.
    if let Some(extra) = extra_mut(&mut ev) {
        extra.extend(bad);
    }
    if !bad_item_fields.is_empty()
        && let ThreadEvent::ItemStarted(e)
        | ThreadEvent::ItemUpdated(e)
        | ThreadEvent::ItemCompleted(e) = &mut ev
        && let Some(extra) = details_extra_mut(&mut e.item.details)
    {
        extra.extend(bad_item_fields);
    }
    Some(ev)
}

fn extra_mut(ev: &mut ThreadEvent) -> Option<&mut Map<String, Value>> {
    Some(match ev {
        ThreadEvent::ThreadStarted(e) => &mut e.extra,
        ThreadEvent::TurnStarted(e) => &mut e.extra,
        ThreadEvent::TurnCompleted(e) => &mut e.extra,
        ThreadEvent::TurnFailed(e) => &mut e.extra,
        ThreadEvent::ItemStarted(e)
        | ThreadEvent::ItemUpdated(e)
        | ThreadEvent::ItemCompleted(e) => &mut e.extra,
        ThreadEvent::Error(e) => &mut e.extra,
        ThreadEvent::Unknown(_) => return None,
    })
}

fn details_extra_mut(d: &mut ItemDetails) -> Option<&mut Map<String, Value>> {
    Some(match d {
        ItemDetails::AgentMessage(i) => &mut i.extra,
        ItemDetails::Reasoning(i) => &mut i.extra,
        ItemDetails::CommandExecution(i) => &mut i.extra,
        ItemDetails::FileChange(i) => &mut i.extra,
        ItemDetails::McpToolCall(i) => &mut i.extra,
        ItemDetails::WebSearch(i) => &mut i.extra,
        ItemDetails::TodoList(i) => &mut i.extra,
        ItemDetails::CollabToolCall(i) => &mut i.extra,
        ItemDetails::Error(i) => &mut i.extra,
        ItemDetails::Unknown(_) => return None,
    })
}
