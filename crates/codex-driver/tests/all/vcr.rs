//! The test kit's VCR with the real Codex: a turn recorded through the `Recorder` (in front of
//! the scripted provider), replayed offline by the `Replayer`, and a hand-edited cassette
//! diverging.

use crate::common::{codex, tmp_base};
use codex_driver::exec::SandboxMode;
use codex_driver::{Binary, Exec, ThreadEvent};
use codex_driver_testkit::vcr::{Cassette, DivergenceKind, Recorder, Replayer};
use codex_driver_testkit::{MockProvider, MockResponse};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SECRET: &str = "sk-vcr-test-9f8e7d6c5b4a";
const PROMPT: &str = "Greet the world with a command";
const ANSWER: &str = "I ran the greeting; it printed hello-vcr.";

fn dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(tmp_base())
        .unwrap()
}

fn exec(prompt: &str, home: &Path, ws: &Path) -> Exec {
    Exec::new(prompt)
        .binary(Binary::at(codex()))
        .codex_home(home)
        .current_dir(ws)
        .skip_git_repo_check(true)
        .sandbox(SandboxMode::WorkspaceWrite)
        .env_remove("RUST_BACKTRACE")
        .timeout(Duration::from_secs(120))
}

/// Every event of a turn as JSON, the thread id (new on every run) blanked.
async fn events(e: Exec) -> codex_driver::Result<Vec<Value>> {
    let mut stream = e.stream().await?;
    let mut out = Vec::new();
    while let Some(ev) = stream.next_event().await {
        let ev = ev?;
        let mut v = serde_json::to_value(&ev).unwrap();
        if matches!(ev, ThreadEvent::ThreadStarted(_)) {
            v["thread_id"] = Value::from("<thread>");
        }
        out.push(v);
    }
    Ok(out)
}

/// The events to compare between two runs. Codex 0.130's `exec --json` reports a command's
/// completion only sometimes (a race of its own), so for it those events are left out.
fn comparable(mut events: Vec<Value>) -> Vec<Value> {
    let racy = semver::Version::parse(&crate::common::version())
        .is_ok_and(|v| v < semver::Version::new(0, 131, 0));
    if racy {
        events.retain(|e| {
            !(e["type"] == "item.completed" && e["item"]["type"] == "command_execution")
        });
    }
    events
}

fn final_message(events: &[Value]) -> Option<String> {
    events
        .iter()
        .rev()
        .filter(|e| e["type"] == "item.completed" && e["item"]["type"] == "agent_message")
        .find_map(|e| e["item"]["text"].as_str().map(str::to_owned))
}

/// Records one real turn (a command, then an answer) through a `Recorder` in front of the
/// scripted provider; returns the cassette file and the turn's events.
async fn record(cassettes: &Path) -> (PathBuf, Vec<Value>) {
    let provider = MockProvider::start(vec![
        MockResponse::new().exec_command("echo hello-vcr"),
        MockResponse::text(ANSWER),
    ])
    .await
    .unwrap();
    let path = cassettes.join("turn.jsonl");
    let recorder = Recorder::builder(provider.base_url())
        .api_key(SECRET)
        .model("mock-model")
        .save_to(&path)
        .start()
        .await
        .unwrap();
    let (home, ws) = (dir("vcr-home-"), dir("vcr-ws-"));
    recorder.write_codex_home(home.path()).unwrap();
    let recorded = events(exec(PROMPT, home.path(), ws.path())).await.unwrap();
    let cassette = recorder.finish().await.unwrap();
    assert_eq!(cassette.exchanges.len(), 2);

    // The key went upstream, and nowhere else.
    let reqs = provider.requests();
    assert_eq!(reqs.len(), 2);
    for r in &reqs {
        let bearer = format!("Bearer {SECRET}");
        assert_eq!(r.header("authorization"), Some(bearer.as_str()));
    }
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(SECRET), "{text}");
    assert!(!text.to_lowercase().contains("authorization"), "{text}");
    // Local paths became placeholders.
    let ws_path = ws.path().to_string_lossy().into_owned();
    let home_path = home.path().to_string_lossy().into_owned();
    assert!(!text.contains(&ws_path) && !text.contains(&home_path));
    assert!(text.contains("<cwd>[CWD]</cwd>"));
    assert_eq!(Cassette::load(&path).unwrap(), cassette);
    (path, recorded)
}

#[tokio::test]
async fn recorded_turn_replays_offline() {
    recorded_turn_replays().await;
}

/// Also an area of the compatibility suite.
pub(crate) async fn recorded_turn_replays() {
    let cassettes = dir("vcr-cassettes-");
    let (path, recorded) = record(cassettes.path()).await;
    // The command ran (0.130 reports only its start in `exec --json`) and the answer came.
    assert!(
        recorded
            .iter()
            .any(|e| e["type"] == "item.started" && e["item"]["type"] == "command_execution"),
        "{recorded:?}"
    );
    assert_eq!(final_message(&recorded).as_deref(), Some(ANSWER));

    // No provider at all now: the replayer answers from the cassette, in another home and
    // workspace.
    let replayer = Replayer::load(&path).await.unwrap();
    let (home, ws) = (dir("vcr-home-"), dir("vcr-ws-"));
    replayer.write_codex_home(home.path()).unwrap();
    let replayed = events(exec(PROMPT, home.path(), ws.path())).await.unwrap();
    assert_eq!(replayer.divergences(), []);
    assert_eq!(comparable(replayed.clone()), comparable(recorded));
    assert_eq!(final_message(&replayed).as_deref(), Some(ANSWER));
    assert_eq!(replayer.remaining(), 0);
    replayer.all_used().unwrap();
}

#[tokio::test]
async fn edited_cassette_diverges_with_a_diff() {
    let cassettes = dir("vcr-cassettes-");
    let (path, _) = record(cassettes.path()).await;
    // Edit the prompt the first exchange expects (line 1 is the header).
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let quoted = format!("\"{PROMPT}\"");
    assert!(lines[1].contains(&quoted), "{}", lines[1]);
    lines[1] = lines[1].replace(&quoted, "\"Greet the moon with a command\"");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();

    let replayer = Replayer::load(&path).await.unwrap();
    let (home, ws) = (dir("vcr-home-"), dir("vcr-ws-"));
    replayer.write_codex_home(home.path()).unwrap();
    let turn = exec(PROMPT, home.path(), ws.path()).run().await;
    let err = turn.expect_err("the turn must fail on a divergence");
    eprintln!("turn error: {err}");

    let divs = replayer.divergences();
    assert_eq!(divs.len(), 1, "{divs:#?}");
    let d = &divs[0];
    assert_eq!(
        (d.index, d.method.as_str(), d.path.as_str(), &d.kind),
        (0, "POST", "/v1/responses", &DivergenceKind::Body)
    );
    let changed: Vec<&str> = d
        .diff
        .lines()
        .filter(|l| (l.starts_with('-') || l.starts_with('+')) && !l.starts_with("---"))
        .filter(|l| !l.starts_with("+++"))
        .collect();
    assert_eq!(
        changed,
        [
            "-          \"text\": \"Greet the moon with a command\"",
            "+          \"text\": \"Greet the world with a command\"",
        ],
        "{}",
        d.diff
    );
    assert!(
        d.diff.starts_with("--- cassette\n+++ request\n@@ -"),
        "{}",
        d.diff
    );
    assert_eq!(replayer.remaining(), 2);
    assert!(replayer.all_used().is_err());
}
