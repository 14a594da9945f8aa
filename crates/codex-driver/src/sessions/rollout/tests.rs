//! Tests of the parent module.

use super::*;
use serde_json::json;

fn reader(text: &[u8]) -> RolloutReader<&[u8]> {
    RolloutReader::new(text)
}

#[test]
fn lines_are_typed_and_unknown_ones_kept() -> Result<()> {
    let text = concat!(
        r#"{"timestamp":"t0","ordinal":0,"type":"session_meta","payload":{"id":"abc","cwd":"/w","cli_version":"0.169.0","source":"exec","git":{"branch":"main"},"new_field":1}}"#,
        "\n",
        r#"{"timestamp":"t1","type":"response_item","payload":{"type":"message","role":"user","content":[{"type":"input_text","text":"hi"}]}}"#,
        "\n",
        r#"{"timestamp":"t2","type":"event_msg","payload":{"type":"task_complete","turn_id":"u1","last_agent_message":"done"}}"#,
        "\n",
        r#"{"timestamp":"t3","type":"event_msg","payload":{"type":"brand_new","x":1}}"#,
        "\n",
        r#"{"timestamp":"t4","type":"world_state","payload":{"a":1}}"#,
        "\n",
    );
    let lines: Vec<RolloutLine> = reader(text.as_bytes()).collect::<Result<_>>()?;
    assert_eq!(lines.len(), 5);
    let RolloutItem::SessionMeta(meta) = &lines[0].item else {
        panic!("{:?}", lines[0].item)
    };
    assert_eq!(
        **meta,
        SessionMeta {
            id: Some("abc".into()),
            cwd: Some("/w".into()),
            cli_version: Some("0.169.0".into()),
            source: Some(json!("exec")),
            git: Some(GitInfo {
                branch: Some("main".into()),
                ..GitInfo::default()
            }),
            ..SessionMeta::default()
        }
    );
    assert_eq!(lines[0].payload()["new_field"], 1);
    assert_eq!(
        lines[1].item,
        RolloutItem::ResponseItem(ResponseItem::Message {
            role: "user".into(),
            text: "hi".into()
        })
    );
    assert_eq!(
        lines[2].item,
        RolloutItem::EventMsg(EventMsg::TaskComplete(TaskComplete {
            turn_id: Some("u1".into()),
            last_agent_message: Some("done".into()),
            duration_ms: None,
            error: None,
        }))
    );
    assert_eq!(
        lines[3].item,
        RolloutItem::EventMsg(EventMsg::Other {
            kind: "brand_new".into(),
            payload: json!({"type":"brand_new","x":1})
        })
    );
    assert_eq!(lines[4].kind(), "world_state");
    Ok(())
}

#[test]
fn a_changed_payload_keeps_its_type() {
    // Every field retyped: still a task_complete and still a session_meta.
    let line = RolloutLine::from_value(json!({
        "type":"event_msg","payload":{"type":"task_complete","turn_id":7,"last_agent_message":{"a":1}}
    }));
    assert_eq!(
        line.map(|l| l.item),
        Some(RolloutItem::EventMsg(EventMsg::TaskComplete(
            TaskComplete::default()
        )))
    );
    let line = RolloutLine::from_value(json!({"type":"session_meta","payload":"garbage"}));
    assert_eq!(
        line.map(|l| l.item),
        Some(RolloutItem::SessionMeta(Box::default()))
    );
}

#[test]
fn a_cut_last_line_is_reported_and_everything_before_it_read() {
    let mut text =
        br#"{"type":"event_msg","payload":{"type":"task_started","turn_id":"a"}}"#.to_vec();
    text.push(b'\n');
    let cut_at = text.len() as u64;
    // Half a line ending inside a multi-byte character.
    text.extend_from_slice(b"{\"type\":\"event_msg\",\"payload\":{\"message\":\"\xE2\x82");
    let mut r = reader(&text);
    let lines: Vec<_> = r.by_ref().collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(
        r.truncated(),
        Some(&LineProblem {
            line: 2,
            offset: cut_at,
            bytes: text.len() as u64 - cut_at,
            kind: ProblemKind::Truncated
        })
    );
    assert_eq!(r.offset(), text.len() as u64);
}

#[test]
fn garbage_and_too_long_lines_are_skipped_and_reported() {
    let long = format!(r#"{{"type":"x","payload":"{}"}}"#, "y".repeat(100));
    let text = format!(
        "not json\n{long}\n\n{}\n",
        r#"{"type":"turn_context","payload":{"cwd":"/w","model":"m"}}"#
    );
    let mut r = reader(text.as_bytes()).max_line_bytes(64);
    let lines: Vec<_> = r.by_ref().filter_map(|l| l.ok()).collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(
        lines[0].item,
        RolloutItem::TurnContext(Box::new(TurnContext {
            cwd: Some("/w".into()),
            model: Some("m".into()),
            ..TurnContext::default()
        }))
    );
    assert_eq!(
        r.problems(),
        [
            LineProblem {
                line: 1,
                offset: 0,
                bytes: 8,
                kind: ProblemKind::NotJson {
                    excerpt: "not json".into()
                }
            },
            LineProblem {
                line: 2,
                offset: 9,
                bytes: long.len() as u64,
                kind: ProblemKind::TooLong
            }
        ]
    );
    assert!(r.truncated().is_none());
}

/// Memory stays bounded by one line: a reader over an endless stream of lines holds only
/// its current line.
#[test]
fn constant_memory_over_many_lines() {
    let line = br#"{"type":"event_msg","payload":{"type":"token_count","info":null}}"#;
    let mut data = Vec::new();
    for _ in 0..10_000 {
        data.extend_from_slice(line);
        data.push(b'\n');
    }
    let mut r = RolloutReader::new(std::io::BufReader::with_capacity(256, &data[..]));
    let n = r.by_ref().count();
    assert_eq!(n, 10_000);
    assert!(r.buf.capacity() < 4 * line.len(), "{}", r.buf.capacity());
}
