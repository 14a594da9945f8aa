//! Tests of the parent module.

use super::*;
use crate::events::{Line, parse_line};

fn fixture(version: &str) -> (Vec<ThreadEvent>, Vec<ThreadEvent>) {
    let dir = super::super::tests::fixture("replay").join(version);
    let live = std::fs::read_to_string(dir.join("live.jsonl")).unwrap();
    let live = live
        .lines()
        .map(|l| match parse_line(l) {
            Line::Event(e) => e,
            other => panic!("{other:?}"),
        })
        .collect();
    (live, replay(&dir.join("rollout.jsonl")).unwrap())
}

/// Rollouts of 0.153.4 and later replay exactly as exec printed them: three runs of one
/// thread (commands, a failing command, a file change, a web search, a resumed turn, a
/// failed turn).
#[test]
fn replays_equal_the_live_streams_captured_from_each_release() {
    for v in ["0.153.4", "0.163.0", "0.169.0", "0.171.0"] {
        let (live, replayed) = fixture(v);
        assert_eq!(replayed, live, "{v}");
    }
}

/// 0.130 saved no command items: the replay rebuilds them from the tool calls. Everything
/// else is as live; commands keep their order, exit codes and statuses, with the command
/// as the model asked for it and the output the model saw. A failed turn 0.130 saved as a
/// completed one without output or usage (no error is in the file): it replays so.
#[test]
fn a_0_130_rollout_replays_with_rebuilt_commands() {
    let (mut live, mut replayed) = fixture("0.130.0");
    assert!(matches!(live.pop(), Some(ThreadEvent::TurnFailed(_))));
    assert!(matches!(live.pop(), Some(ThreadEvent::Error(_))));
    assert_eq!(
        replayed.pop(),
        Some(ThreadEvent::TurnCompleted(TurnCompleted {
            usage: Usage::default(),
            extra: Extra::new()
        }))
    );
    let shape = |evs: &[ThreadEvent]| -> Vec<String> {
        evs.iter()
            .filter(|e| !matches!(e, ThreadEvent::ItemStarted(_)))
            .map(|e| match e.item().map(|i| &i.details) {
                Some(ItemDetails::CommandExecution(c)) => {
                    format!("command {:?} {:?}", c.exit_code, c.status)
                }
                Some(d) => format!("{} {}", d.type_name(), serde_json::to_string(d).unwrap()),
                None => serde_json::to_string(e).unwrap(),
            })
            .collect()
    };
    let mut a = shape(&live);
    let mut b = shape(&replayed);
    // Live, the failing command ended after the file change had started (exec ran them
    // concurrently); compare the turn's items as sets.
    a.sort();
    b.sort();
    assert_eq!(a, b);
    let commands: Vec<String> = replayed
        .iter()
        .filter_map(|e| match (e, e.item().map(|i| &i.details)) {
            (ThreadEvent::ItemCompleted(_), Some(ItemDetails::CommandExecution(c))) => {
                Some(c.command.clone())
            }
            _ => None,
        })
        .collect();
    assert_eq!(commands, ["echo hi", "exit 3"]);
}

/// Overlapping commands: the rollout has them in completion order; exec printed them by
/// time, numbering each at its start. An empty reasoning summary is no item.
#[test]
fn overlapping_items_come_out_in_time_order() {
    let cmd = |id: &str, cmd: &str, start: i64, end: i64| {
        format!(
            r#"{{"type":"event_msg","payload":{{"type":"item_completed","item":{{"type":"CommandExecution","id":"{id}","command":["sh","-c","{cmd}"],"status":"completed","aggregated_output":"","exit_code":0}},"started_at_ms":{start},"completed_at_ms":{end}}}}}"#
        )
    };
    let text = [
        r#"{"type":"session_meta","payload":{"id":"t"}}"#.to_owned(),
        r#"{"type":"event_msg","payload":{"type":"task_started"}}"#.to_owned(),
        r#"{"type":"event_msg","payload":{"type":"item_completed","item":{"type":"Reasoning","id":"r","summary_text":[]},"completed_at_ms":5}}"#.to_owned(),
        cmd("b", "quick", 20, 30),
        cmd("a", "slow", 10, 50),
        r#"{"type":"event_msg","payload":{"type":"item_completed","item":{"type":"AgentMessage","id":"m","content":[{"type":"Text","text":"done"}]},"completed_at_ms":60}}"#.to_owned(),
        r#"{"type":"event_msg","payload":{"type":"task_complete"}}"#.to_owned(),
    ]
    .join("\n");
    let evs: Vec<ThreadEvent> = Replay::new(RolloutReader::new(text.as_bytes()))
        .collect::<Result<_>>()
        .unwrap();
    let got: Vec<String> = evs
        .iter()
        .filter_map(|e| {
            let item = e.item()?;
            let what = match &item.details {
                ItemDetails::CommandExecution(c) => c.command.clone(),
                other => other.type_name().to_owned(),
            };
            Some(format!("{} {} {what}", e.type_name(), item.id))
        })
        .collect();
    assert_eq!(
        got,
        [
            "item.started item_0 sh -c slow",
            "item.started item_1 sh -c quick",
            "item.completed item_1 sh -c quick",
            "item.completed item_0 sh -c slow",
            "item.completed item_2 agent_message",
        ]
    );
}

#[test]
fn a_task_complete_of_another_shape_still_ends_the_turn() {
    let text = concat!(
        r#"{"type":"session_meta","payload":{"id":"t"}}"#,
        "\n",
        r#"{"type":"event_msg","payload":{"type":"task_started","turn_id":"u"}}"#,
        "\n",
        r#"{"type":"event_msg","payload":{"type":"task_complete","turn_id":["changed"],"error":{"message":"boom"}}}"#,
        "\n",
    );
    let evs: Vec<ThreadEvent> = Replay::new(RolloutReader::new(text.as_bytes()))
        .collect::<Result<_>>()
        .unwrap();
    let types: Vec<&str> = evs.iter().map(ThreadEvent::type_name).collect();
    assert_eq!(
        types,
        ["thread.started", "turn.started", "error", "turn.failed"]
    );
}
