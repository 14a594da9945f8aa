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
fn known_event_with_changed_shape_keeps_its_type() {
    let e = event(r#"{"type":"turn.completed","usage":"lots"}"#);
    let mut extra = Map::new();
    extra.insert("usage".into(), json!("lots"));
    assert_eq!(
        e,
        ThreadEvent::TurnCompleted(TurnCompleted {
            usage: Usage::default(),
            extra
        })
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

#[test]
fn a_known_event_of_another_shape_keeps_its_type_and_the_raw_fields() {
    // Usage with a field retyped: what fits is kept, the original usage is in `extra`.
    let e = event(
        r#"{"type":"turn.completed","usage":{"input_tokens":"12","output_tokens":5,"cached_input_tokens":1}}"#,
    );
    let ThreadEvent::TurnCompleted(t) = &e else {
        panic!("{e:?}")
    };
    assert_eq!(
        (
            t.usage.input_tokens,
            t.usage.output_tokens,
            t.usage.cached_input_tokens
        ),
        (0, 5, 1)
    );
    assert_eq!(
        t.extra["usage"],
        json!({"input_tokens":"12","output_tokens":5,"cached_input_tokens":1})
    );
    assert!(e.is_terminal());
    // Usage missing altogether, or renamed.
    assert!(event(r#"{"type":"turn.completed"}"#).is_terminal());
    let e = event(r#"{"type":"turn.completed","token_usage":{"in":1}}"#);
    assert!(matches!(&e, ThreadEvent::TurnCompleted(t) if t.extra["token_usage"]["in"] == 1));
    // turn.failed with a string error: still the failure.
    let e = event(r#"{"type":"turn.failed","error":"boom"}"#);
    assert!(matches!(&e, ThreadEvent::TurnFailed(t) if t.extra["error"] == "boom"));
    // An item field retyped; another field of the item kept.
    let e = event(
        r#"{"type":"item.completed","item":{"id":"item_3","type":"command_execution","command":["ls","-l"],"exit_code":"0","status":"completed","aggregated_output":"x"}}"#,
    );
    let Some(ItemDetails::CommandExecution(c)) = e.item().map(|i| &i.details) else {
        panic!("{e:?}")
    };
    assert_eq!(e.item().map(|i| i.id.as_str()), Some("item_3"));
    assert_eq!((c.command.as_str(), c.exit_code), ("", None));
    assert_eq!(c.aggregated_output, "x");
    assert_eq!(c.status, CommandExecutionStatus::Completed);
    assert_eq!(c.extra["command"], json!(["ls", "-l"]));
    assert_eq!(c.extra["exit_code"], "0");
    // An item without an id, and one whose details lost a required field.
    let e = event(r#"{"type":"item.started","item":{"type":"agent_message"}}"#);
    assert!(matches!(&e, ThreadEvent::ItemStarted(i) if i.item.id.is_empty()));
    // Unknown types stay unknown.
    assert!(matches!(
        event(r#"{"type":"turn.paused","x":1}"#),
        ThreadEvent::Unknown(_)
    ));
    assert!(matches!(
        event(r#"{"type":"item.completed","item":{"id":"i","type":"hologram"}}"#),
        ThreadEvent::ItemCompleted(i) if matches!(i.item.details, ItemDetails::Unknown(_))
    ));
}

/// Every value of another JSON type than `v`.
fn retyped(v: &Value) -> Vec<Value> {
    let all = [
        json!(null),
        json!(true),
        json!(7),
        json!("seven"),
        json!([1]),
        json!({"k": 1}),
    ];
    all.into_iter()
        .filter(|a| std::mem::discriminant(a) != std::mem::discriminant(v))
        .collect()
}

/// Mutations of an object's fields (all but `type`): each removed, renamed, and retyped.
fn mutations(obj: &Map<String, Value>) -> Vec<Map<String, Value>> {
    let mut out = Vec::new();
    for (k, v) in obj {
        if k == "type" {
            continue;
        }
        let mut removed = obj.clone();
        removed.remove(k);
        out.push(removed.clone());
        let mut renamed = removed;
        renamed.insert(format!("{k}_renamed"), v.clone());
        out.push(renamed);
        for r in retyped(v) {
            let mut m = obj.clone();
            m.insert(k.clone(), r);
            out.push(m);
        }
    }
    out
}

/// Captured output of every release: each known event, mutated field by field (at the top,
/// inside `item`, `usage` and `error`), still decodes as its own type and item type, and a
/// turn's end stays its end.
#[test]
fn mutated_real_traffic_keeps_every_known_event_and_every_turn_end() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    for v in ["0.130.0", "0.153.4", "0.163.0", "0.169.0", "0.171.0"] {
        files.push(dir.join("replay").join(v).join("live.jsonl"));
    }
    let mut checked = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        for line in text.lines() {
            let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let original = event(line);
            if matches!(original, ThreadEvent::Unknown(_)) {
                continue;
            }
            let ty = original.type_name().to_owned();
            let item_ty = original.item().map(|i| i.details.type_name().to_owned());
            let mut variants = mutations(&obj);
            for inner in ["item", "usage", "error"] {
                if let Some(Value::Object(o)) = obj.get(inner) {
                    for m in mutations(o) {
                        let mut whole = obj.clone();
                        whole.insert(inner.into(), Value::Object(m));
                        variants.push(whole);
                    }
                }
            }
            for m in variants {
                let text = Value::Object(m).to_string();
                let e = event(&text);
                assert_eq!(e.type_name(), ty, "{}: {text}", f.display());
                assert!(!matches!(e, ThreadEvent::Unknown(_)), "{text}");
                assert_eq!(e.is_terminal(), original.is_terminal(), "{text}");
                if let (Some(it), Some(item)) = (&item_ty, e.item()) {
                    // Unless the mutation took the item (or its type) away.
                    let kept = serde_json::from_str::<Value>(&text).unwrap()["item"]["type"]
                        == it.as_str();
                    if kept {
                        assert_eq!(item.details.type_name(), it, "{text}");
                    }
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "only {checked} mutations");
}

/// Every line Codex wrote in the captured fixtures takes the fast path and decodes as the
/// derived decoders do (the fast path is not quietly declining everything).
#[test]
fn captured_lines_take_the_fast_path() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir:?}: {e}")) {
        let path = entry.unwrap_or_else(|e| panic!("{e}")).path();
        if path.extension().is_none_or(|x| x != "jsonl") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (fast, reference) = decode_both(line);
            let Some(fast) = fast else {
                panic!("{path:?}: declined by the fast path: {line}")
            };
            assert_eq!(Line::Event(fast), reference, "{path:?}: {line}");
            checked += 1;
        }
    }
    assert!(checked >= 60, "only {checked} captured lines");
}
