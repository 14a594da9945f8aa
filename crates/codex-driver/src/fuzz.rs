//! Property tests ("fuzzing" without a nightly toolchain) of everything that parses outside
//! input: exec JSONL, app-server notifications (the JSON-RPC reader's own target lives beside
//! it in `app_server::rpc`), rollout files, notify payloads, `config.toml` edits and `.npmrc`.
//! Each runs `PROPTEST_CASES` cases (256 by default, which CI runs); a longer run:
//! `PROPTEST_CASES=20000 cargo test -p codex-driver --lib fuzz`. A failure proptest finds is
//! shrunk, and kept as a named regression test below the properties.

use proptest::prelude::*;
use serde_json::{Map, Value, json};

/// Any JSON value, a few levels deep.
pub(crate) fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Object keys: the ones Codex uses, and anything.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "type",
            "id",
            "item",
            "text",
            "thread_id",
            "usage",
            "status",
            "command",
            "message",
            "error",
            "turn",
            "params",
            "payload",
            "timestamp",
            "exit_code",
            "changes",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,8}",
    ]
}

/// An object with `fixed` set on top of random fields.
fn object_with(fixed: Vec<(&'static str, Value)>) -> impl Strategy<Value = Value> {
    proptest::collection::vec((key(), any_json()), 0..6).prop_map(move |kv| {
        let mut m: Map<String, Value> = kv.into_iter().collect();
        for (k, v) in &fixed {
            m.insert((*k).to_owned(), v.clone());
        }
        Value::Object(m)
    })
}

/// A value for a field Codex sends: mostly of the right type, sometimes anything.
fn field_value(name: &'static str) -> BoxedStrategy<Value> {
    let typed: BoxedStrategy<Value> = match name {
        "exit_code" => prop_oneof![Just(Value::Null), any::<i32>().prop_map(Value::from)].boxed(),
        "status" => prop::sample::select(vec![
            "completed",
            "in_progress",
            "failed",
            "declined",
            "later",
        ])
        .prop_map(Value::from)
        .boxed(),
        "usage" => (
            any::<u32>(),
            any::<u32>(),
            proptest::option::of(any::<u32>()),
        )
            .prop_map(|(i, o, r)| {
                let mut u = json!({"input_tokens": i, "output_tokens": o});
                if let Some(r) = r {
                    u["reasoning_output_tokens"] = json!(r);
                }
                u
            })
            .boxed(),
        "error" => ".{0,12}".prop_map(|m| json!({"message": m})).boxed(),
        "changes" => proptest::collection::vec(
            (
                "[a-z/]{1,8}",
                prop::sample::select(vec!["add", "delete", "update", "move"]),
            ),
            0..3,
        )
        .prop_map(|c| {
            json!(
                c.into_iter()
                    .map(|(p, k)| json!({"path": p, "kind": k}))
                    .collect::<Vec<_>>()
            )
        })
        .boxed(),
        "items" => proptest::collection::vec((".{0,8}", any::<bool>()), 0..3)
            .prop_map(|c| {
                json!(
                    c.into_iter()
                        .map(|(t, d)| json!({"text": t, "completed": d}))
                        .collect::<Vec<_>>()
                )
            })
            .boxed(),
        "receiver_thread_ids" => proptest::collection::vec("[a-z0-9]{1,6}", 0..3)
            .prop_map(|v| json!(v))
            .boxed(),
        "arguments" | "result" | "action" | "agents_states" => any_json().boxed(),
        _ => ".{0,16}".prop_map(Value::String).boxed(),
    };
    prop_oneof![8 => typed, 1 => any_json().boxed()].boxed()
}

/// Fields of an object: known names (now and then one twice) and unknown ones, in any order.
fn fields(names: &'static [&'static str]) -> impl Strategy<Value = Vec<(String, Value)>> {
    let known = prop::sample::subsequence(names.to_vec(), 0..6).prop_flat_map(|picked| {
        picked
            .into_iter()
            .map(|n| field_value(n).prop_map(move |v| (n.to_owned(), v)))
            .collect::<Vec<_>>()
    });
    let unknown = proptest::collection::vec(("[a-z_]{1,8}", any_json()), 0..2);
    (known, unknown, any::<u8>())
        .prop_map(|(mut pairs, unknown, twice)| {
            if twice < 20 && !pairs.is_empty() {
                pairs.push(pairs[0].clone());
            }
            pairs.extend(unknown);
            pairs
        })
        .prop_shuffle()
}

/// JSON text of the pairs in order (repeated keys kept, as a Codex line could carry them).
fn object_text(pairs: &[(String, Value)]) -> String {
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
        .collect();
    format!("{{{}}}", body.join(","))
}

const ITEM_FIELDS: &[&str] = &[
    "id",
    "type",
    "text",
    "command",
    "aggregated_output",
    "exit_code",
    "status",
    "changes",
    "server",
    "tool",
    "arguments",
    "result",
    "error",
    "query",
    "action",
    "items",
    "sender_thread_id",
    "receiver_thread_ids",
    "prompt",
    "agents_states",
    "message",
];
const EVENT_FIELDS: &[&str] = &["type", "thread_id", "usage", "error", "message", "item"];

/// A line shaped like Codex's: `type` first (mostly), an item with `id` and `type` first
/// (mostly), then fields of the right type (mostly).
fn codex_like_line() -> impl Strategy<Value = String> {
    let item_type = prop::sample::select(vec![
        "agent_message",
        "reasoning",
        "command_execution",
        "file_change",
        "mcp_tool_call",
        "web_search",
        "todo_list",
        "collab_tool_call",
        "error",
        "later_item",
    ]);
    let item = (
        any::<u8>(),
        "[a-z_0-9]{1,6}",
        item_type,
        fields(ITEM_FIELDS),
    )
        .prop_map(|(lead, id, ty, rest)| {
            let mut pairs = Vec::new();
            if lead > 20 {
                pairs.push(("id".to_owned(), json!(id)));
                pairs.push(("type".to_owned(), json!(ty)));
            }
            pairs.extend(rest);
            object_text(&pairs)
        });
    let event_type = prop::sample::select([EXEC_TYPES.to_vec(), vec!["later.event"]].concat());
    (
        any::<u8>(),
        event_type,
        fields(EVENT_FIELDS),
        proptest::option::of(item),
    )
        .prop_map(|(lead, ty, rest, item)| {
            let mut pairs = Vec::new();
            if lead > 20 {
                pairs.push(("type".to_owned(), json!(ty)));
            }
            pairs.extend(rest.into_iter().filter(|(k, _)| k != "item"));
            let mut text = object_text(&pairs);
            if let Some(item) = item {
                text.pop();
                if pairs.is_empty() {
                    text.push_str(&format!(r#""item":{item}}}"#));
                } else {
                    text.push_str(&format!(r#","item":{item}}}"#));
                }
            }
            text
        })
}

const EXEC_TYPES: [&str; 8] = [
    "thread.started",
    "turn.started",
    "turn.completed",
    "turn.failed",
    "item.started",
    "item.updated",
    "item.completed",
    "error",
];

proptest! {
    /// Whatever line the fast path of `parse_line` accepts decodes exactly as the derived
    /// decoders and repair decode it: same value, same wire form.
    #[test]
    fn exec_fast_path_agrees_with_reference(line in codex_like_line()) {
        let (fast, reference) = crate::exec::events::decode_both(&line);
        if let Some(fast) = fast {
            let crate::exec::events::Line::Event(reference) = reference else {
                return Err(TestCaseError::fail(format!("{line}: reference gave {reference:?}")));
            };
            prop_assert_eq!(&fast, &reference, "{}", line);
            prop_assert_eq!(fast.to_json_line(), reference.to_json_line());
        }
    }

    /// Any text: a line is an event, a diagnostic or blank; never a panic.
    #[test]
    fn exec_jsonl_any_text(line in ".{0,300}") {
        let _ = crate::exec::events::parse_line(&line);
    }

    /// A known event type with any payload is still that event type (repaired or kept).
    #[test]
    fn exec_jsonl_known_type_any_payload(
        t in prop::sample::select(EXEC_TYPES.to_vec()),
        item in any_json(),
        extra in any_json(),
        body in object_with(vec![]),
    ) {
        let mut v = body;
        v["type"] = json!(t);
        v["item"] = item;
        v["extra_field"] = extra;
        match crate::exec::events::parse_line(&v.to_string()) {
            crate::exec::events::Line::Event(ev) => prop_assert_eq!(ev.type_name(), t),
            other => prop_assert!(false, "{t}: {other:?}"),
        }
    }

    /// Any method and params: decoding never fails, and the method is kept.
    #[test]
    fn app_server_notification_any_params(
        method in prop_oneof![
            prop::sample::select(vec![
                "error", "thread/started", "turn/started", "turn/completed", "item/started",
                "item/completed", "item/agentMessage/delta", "thread/tokenUsage/updated",
                "thread/status/changed", "account/updated", "hook/started",
            ]).prop_map(str::to_owned),
            "[a-z]{1,6}/[a-zA-Z]{1,8}",
        ],
        params in any_json(),
    ) {
        let n = crate::app_server::protocol::ServerNotification::decode(&method, params);
        prop_assert_eq!(n.method(), method.as_str());
    }

    /// Any bytes as a rollout file: every line read or reported, problems bounded.
    #[test]
    fn rollout_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let reader = crate::sessions::rollout::RolloutReader::new(std::io::Cursor::new(bytes))
            .max_line_bytes(512);
        let lines = reader.count();
        prop_assert!(lines <= 2048);
    }

    /// Rollout lines of any JSON shape: each one is read or reported, none lost silently.
    #[test]
    fn rollout_any_json_lines(lines in proptest::collection::vec(object_with(vec![]), 0..8)) {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let mut reader = crate::sessions::rollout::RolloutReader::new(std::io::Cursor::new(text));
        let read = reader.by_ref().filter(Result::is_ok).count() as u64;
        prop_assert_eq!(read + reader.problem_count(), lines.len() as u64);
    }

    /// Notify payloads: any text parses or fails cleanly; any object with the known type parses.
    #[test]
    fn notify_payload(text in ".{0,200}", body in object_with(vec![("type", json!("agent-turn-complete"))])) {
        let _ = crate::notify::Notification::parse(&text);
        let _ = crate::notify::Notification::parse(&body.to_string());
    }

    /// `.npmrc` text of any shape: never a panic, and a token never shows in `Debug`.
    #[cfg(feature = "install")]
    #[test]
    fn npmrc_any_text(text in "(.{0,40}\n){0,8}", token in "[A-Za-z0-9]{12,20}") {
        let mut cfg = crate::install::NpmConfig::new("https://registry.example/");
        cfg.add_npmrc(&text, &|_| None);
        cfg.add_npmrc(&format!("{text}\n//registry.example/:_authToken={token}\n"), &|_| None);
        prop_assert!(cfg.has_credentials_for("https://registry.example/@openai/codex"));
        let debug = format!("{cfg:?}");
        prop_assert!(!debug.contains(&token), "the token shows in {}", debug);
    }

    /// Editing `config.toml` touches only the edited key: every other line of the user's file
    /// stays, byte for byte and in order, and the value reads back.
    #[test]
    fn config_edit_keeps_every_untouched_line(doc in toml_doc(), value in "[ -~]{0,20}", existing in any::<bool>()) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let path = dir.path().join("config.toml");
        std::fs::write(&path, &doc.text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let Ok(mut file) = crate::config::ConfigFile::open(&path) else {
            // Not TOML (a duplicate key, say): refused, and the file left alone.
            prop_assert_eq!(std::fs::read_to_string(&path).ok(), Some(doc.text.clone()));
            return Ok(());
        };
        let key = match (&doc.top_key, existing) {
            (Some(k), true) => k.clone(),
            _ => "fuzz_added_key".to_owned(),
        };
        file.set(&key, value.as_str()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        file.save().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let after = std::fs::read_to_string(&path).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut kept = after.lines();
        for line in doc.text.lines().filter(|l| !l.trim_start().starts_with(&format!("{key} ")) && !l.trim_start().starts_with(&format!("{key}="))) {
            prop_assert!(kept.any(|l| l == line), "line {line:?} lost or moved:\n{}\n---\n{after}", doc.text);
        }
        let reread = crate::config::ConfigFile::open(&path).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(reread.get(&key).and_then(|v| v.as_str().map(str::to_owned)), Some(value));
    }
}

/// A generated `config.toml`: comments, blank lines, top-level keys, tables.
#[derive(Debug, Clone)]
struct TomlDoc {
    text: String,
    /// A top-level key it sets, if any.
    top_key: Option<String>,
}

fn toml_doc() -> impl Strategy<Value = TomlDoc> {
    let value = prop_oneof![
        "[a-z ]{0,10}".prop_map(|s| format!("\"{s}\"")),
        any::<i32>().prop_map(|i| i.to_string()),
        any::<bool>().prop_map(|b| b.to_string()),
        Just("[1, 2, 3]".to_owned()),
        Just("{ a = 1, b = \"x\" }".to_owned()),
    ];
    let line = prop_oneof![
        "# [ -~]{0,30}".prop_map(|c| c.to_owned()),
        Just(String::new()),
        ("[a-z]{1,6}", value.clone(), "( # [a-z ]{0,10})?")
            .prop_map(|(k, v, c)| format!("{k} = {v}{c}")),
    ];
    let table = ("[a-z]{1,6}", proptest::collection::vec(line.clone(), 0..4))
        .prop_map(|(name, lines)| format!("\n[t_{name}]\n{}", lines.join("\n")));
    (
        proptest::collection::vec(line, 0..8),
        proptest::collection::vec(table, 0..3),
    )
        .prop_map(|(top, tables)| {
            let top_key = top
                .iter()
                .find(|l| l.contains(" = ") && !l.starts_with('#'))
                .and_then(|l| l.split(" = ").next())
                .map(str::to_owned);
            TomlDoc {
                text: format!("{}\n{}\n", top.join("\n"), tables.join("\n")),
                top_key,
            }
        })
}
