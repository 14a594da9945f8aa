//! Decoding tests of the exec wire types.

use super::*;
use serde_json::json;

fn event(line: &str) -> ThreadEvent {
    match parse_line(line) {
        Line::Event(e) => e,
        other => panic!("not an event: {other:?}"),
    }
}

#[test]
fn thread_started() {
    let e = event(r#"{"type":"thread.started","thread_id":"t-1"}"#);
    assert_eq!(
        e,
        ThreadEvent::ThreadStarted(ThreadStarted {
            thread_id: "t-1".into(),
            extra: Map::new()
        })
    );
}

#[test]
fn usage_from_older_codex_defaults_new_fields() {
    let e = event(
        r#"{"type":"turn.completed","usage":{"input_tokens":303,"cached_input_tokens":30,"output_tokens":60}}"#,
    );
    let ThreadEvent::TurnCompleted(t) = e else {
        panic!("{e:?}")
    };
    assert_eq!(
        t.usage,
        Usage {
            input_tokens: 303,
            cached_input_tokens: 30,
            cache_write_input_tokens: None,
            output_tokens: 60,
            reasoning_output_tokens: None
        }
    );
}

#[test]
fn web_search_duplicate_id() {
    let line = r#"{"type":"item.started","item":{"id":"item_1","type":"web_search","id":"ws_1","query":"rust serde","action":{"type":"search","query":"rust serde"}}}"#;
    let e = event(line);
    let item = e.item().cloned().unwrap_or_else(|| panic!("{e:?}"));
    assert_eq!(
        item,
        ThreadItem::new(
            "item_1",
            ItemDetails::WebSearch(WebSearchItem {
                id: Some("ws_1".into()),
                query: "rust serde".into(),
                action: Some(json!({"type":"search","query":"rust serde"})),
                extra: Map::new(),
            })
        )
    );
    // Serializing gives back Codex's own line, duplicate key and order included.
    assert_eq!(e.to_json_line(), line);
}

#[test]
fn unknown_event_and_item_kept_whole() {
    let e = event(r#"{"type":"turn.paused","why":"x"}"#);
    assert_eq!(
        e,
        ThreadEvent::Unknown(json!({"type":"turn.paused","why":"x"}))
    );
    assert_eq!(e.type_name(), "turn.paused");

    let e = event(r#"{"type":"item.completed","item":{"id":"item_9","type":"hologram","beam":1}}"#);
    let item = e.item().cloned().unwrap_or_else(|| panic!("{e:?}"));
    assert_eq!(item.id, "item_9");
    assert_eq!(
        item.details,
        ItemDetails::Unknown(json!({"type":"hologram","beam":1}))
    );
    assert_eq!(item.details.type_name(), "hologram");
    assert_eq!(
        e.to_json_line(),
        r#"{"type":"item.completed","item":{"id":"item_9","type":"hologram","beam":1}}"#
    );
}

#[test]
fn unknown_fields_and_status_kept() {
    let line = r#"{"type":"item.completed","item":{"id":"item_2","type":"command_execution","command":"ls","aggregated_output":"","exit_code":0,"status":"sandboxed","duration_ms":5}}"#;
    let e = event(line);
    let Some(ThreadItem {
        details: ItemDetails::CommandExecution(c),
        ..
    }) = e.item()
    else {
        panic!("{e:?}")
    };
    assert_eq!(
        c.status,
        CommandExecutionStatus::Unknown("sandboxed".into())
    );
    assert_eq!(c.extra.get("duration_ms"), Some(&json!(5)));
    let back: Value = serde_json::from_str(&e.to_json_line()).unwrap_or_default();
    let orig: Value = serde_json::from_str(line).unwrap_or_default();
    assert_eq!(back, orig);
}

#[test]
fn known_event_with_changed_shape_becomes_unknown() {
    let e = event(r#"{"type":"turn.completed","usage":"lots"}"#);
    assert_eq!(
        e,
        ThreadEvent::Unknown(json!({"type":"turn.completed","usage":"lots"}))
    );
}

#[test]
fn garbage_and_blank_lines() {
    assert_eq!(parse_line("   "), Line::Blank);
    let Line::Diagnostic(Diagnostic::NotJson { text, .. }) = parse_line("Reading prompt...") else {
        panic!()
    };
    assert_eq!(text, "Reading prompt...");
    // JSON that is not an object is an unknown event, not a diagnostic.
    assert_eq!(
        parse_line("[1,2]"),
        Line::Event(ThreadEvent::Unknown(json!([1, 2])))
    );
}
