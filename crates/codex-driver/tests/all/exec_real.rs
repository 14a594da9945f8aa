//! The real Codex binary, end to end, against the scripted offline provider.

use crate::common::{Env, eventually, processes_with};
use codex_driver::events::{
    AgentMessageItem, CommandExecutionStatus, FileUpdateChange, PatchApplyStatus, PatchChangeKind,
};
use codex_driver::exec::{SandboxMode, TurnResult};
use codex_driver::group_alive;
use codex_driver::{Error, ItemDetails, ThreadEvent, ThreadItem, TimeoutKind, Usage};
use codex_driver_testkit::{MockResponse, add_file_patch};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

const METADATA_WARNING: &str = "Model metadata for `mock-model` not found. Defaulting to fallback metadata; this can degrade performance and cause issues.";

fn usage(input: u64, cached: u64, output: u64, reasoning: u64) -> Usage {
    serde_json::from_value(json!({
        "input_tokens": input, "cached_input_tokens": cached, "cache_write_input_tokens": 0,
        "output_tokens": output, "reasoning_output_tokens": reasoning
    }))
    .unwrap_or_else(|e| panic!("{e}"))
}

fn warning_item(id: &str) -> ThreadItem {
    ThreadItem::new(
        id,
        ItemDetails::Error(
            serde_json::from_value(json!({"message": METADATA_WARNING}))
                .unwrap_or_else(|e| panic!("{e}")),
        ),
    )
}

fn message_item(id: &str, text: &str) -> ThreadItem {
    let m: AgentMessageItem =
        serde_json::from_value(json!({ "text": text })).unwrap_or_else(|e| panic!("{e}"));
    ThreadItem::new(id, ItemDetails::AgentMessage(m))
}

#[tokio::test]
async fn message_only_turn() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::text("Hello from mock").usage(100, 10, 20, 5),
    ])
    .await;
    let turn = env.exec("say hello").run().await?;
    let thread_id = turn.thread_id.clone().unwrap_or_default();
    assert_eq!(thread_id.len(), 36, "a UUID: {thread_id}");
    let mut expected = TurnResult::default();
    expected.thread_id = Some(thread_id);
    expected.final_message = Some("Hello from mock".into());
    expected.items = vec![
        warning_item("item_0"),
        message_item("item_1", "Hello from mock"),
    ];
    expected.usage = Some(usage(100, 10, 20, 5));
    assert_eq!(turn, expected);

    let reqs = env.provider.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].path, "/v1/responses");
    assert_eq!(
        reqs[0].user_texts().last().map(String::as_str),
        Some("say hello")
    );
    Ok(())
}

#[tokio::test]
async fn command_turn_runs_a_real_command() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::new()
            .reasoning("I will write a file.")
            .exec_command("echo made-by-codex > out.txt && echo wrote"),
        MockResponse::text("Done."),
    ])
    .await;
    let turn = env
        .exec("write a file")
        .sandbox(SandboxMode::WorkspaceWrite)
        .run()
        .await?;
    assert_eq!(
        std::fs::read_to_string(env.ws().join("out.txt"))?,
        "made-by-codex\n"
    );
    let cmd = turn
        .items
        .iter()
        .find_map(|i| match &i.details {
            ItemDetails::CommandExecution(c) => Some(c.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no command item: {turn:?}"));
    assert_eq!(
        cmd.command,
        "/bin/bash -lc 'echo made-by-codex > out.txt && echo wrote'"
    );
    assert_eq!(cmd.exit_code, Some(0));
    assert_eq!(cmd.status, CommandExecutionStatus::Completed);
    assert!(
        cmd.aggregated_output.ends_with("wrote\n"),
        "{:?}",
        cmd.aggregated_output
    );
    let kinds: Vec<&str> = turn.items.iter().map(|i| i.details.type_name()).collect();
    assert_eq!(
        kinds,
        ["error", "reasoning", "command_execution", "agent_message"]
    );
    assert_eq!(turn.final_message.as_deref(), Some("Done."));
    // The command's output went back to the model in the follow-up request.
    let reqs = env.provider.requests();
    assert_eq!(reqs.len(), 2);
    let outputs = reqs[1].function_call_outputs();
    assert_eq!(outputs.len(), 1);
    assert!(outputs[0].contains("wrote"), "{outputs:?}");
    Ok(())
}

#[tokio::test]
async fn file_change_item() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::new().apply_patch(add_file_patch("notes/hello.txt", "hello\nworld")),
        MockResponse::text("Patched."),
    ])
    .await;
    let mut stream = env
        .exec("add a file")
        .sandbox(SandboxMode::WorkspaceWrite)
        .stream()
        .await?;
    let mut started = Vec::new();
    let mut completed = Vec::new();
    while let Some(ev) = stream.next().await {
        match ev? {
            ThreadEvent::ItemStarted(e) => started.push(e.item),
            ThreadEvent::ItemCompleted(e) => completed.push(e.item),
            _ => {}
        }
    }
    let path = env.ws().canonicalize()?.join("notes/hello.txt");
    assert_eq!(std::fs::read_to_string(&path)?, "hello\nworld\n");
    let change: Vec<FileUpdateChange> =
        serde_json::from_value(json!([{"path": path.to_string_lossy(), "kind": "add"}]))?;
    let fc = completed
        .iter()
        .find_map(|i| match &i.details {
            ItemDetails::FileChange(f) => Some(f.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{completed:?}"));
    assert_eq!(fc.changes, change);
    assert_eq!(fc.changes[0].kind, PatchChangeKind::Add);
    assert_eq!(fc.status, PatchApplyStatus::Completed);
    assert!(
        started
            .iter()
            .any(|i| i.details.type_name() == "file_change")
    );
    Ok(())
}

#[tokio::test]
async fn provider_500_is_a_typed_turn_failure() -> anyhow::Result<()> {
    let env = Env::new(vec![MockResponse::http_error(500, "upstream exploded")]).await;
    let err = env.exec("fail please").run().await.err();
    match err {
        Some(Error::TurnFailed {
            message, thread_id, ..
        }) => {
            assert_eq!(
                message,
                "We’re currently experiencing high demand, which may cause temporary errors."
            );
            assert!(thread_id.is_some());
        }
        other => panic!("expected TurnFailed, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn stream_cut_mid_response_fails_the_turn() -> anyhow::Result<()> {
    let env = Env::new(vec![MockResponse::text("never finished").cut_after(2)]).await;
    let mut stream = env.exec("cut").stream().await?;
    let mut events = Vec::new();
    let mut last_err = None;
    while let Some(ev) = stream.next().await {
        match ev {
            Ok(e) => events.push(e),
            Err(e) => last_err = Some(e),
        }
    }
    let types: Vec<&str> = events.iter().map(|e| e.type_name()).collect();
    assert_eq!(
        types,
        [
            "thread.started",
            "item.completed",
            "turn.started",
            "error",
            "turn.failed"
        ]
    );
    match last_err {
        Some(Error::TurnFailed { message, .. }) => {
            assert!(
                message.contains("stream disconnected before completion"),
                "{message}"
            );
        }
        other => panic!("expected TurnFailed, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn resume_continues_the_same_thread() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::text("first answer"),
        MockResponse::text("second answer"),
    ])
    .await;
    let first = env.exec("first question").run().await?;
    let id = first.thread_id.clone().unwrap_or_default();
    let second = env
        .configure(codex_driver::Exec::resume(&id, "second question"))
        .run()
        .await?;
    assert_eq!(second.thread_id.as_deref(), Some(id.as_str()));
    assert_eq!(second.final_message.as_deref(), Some("second answer"));
    // Observed in 0.169.0: a resumed turn reports the thread's cumulative usage (100 + 100).
    assert_eq!(second.usage.map(|u| u.input_tokens), Some(200));
    // The resumed request carries the whole conversation.
    let reqs = env.provider.requests();
    assert_eq!(reqs.len(), 2);
    let texts = reqs[1].user_texts();
    assert!(texts.iter().any(|t| t == "first question"), "{texts:?}");
    assert_eq!(texts.last().map(String::as_str), Some("second question"));
    Ok(())
}

#[tokio::test]
async fn fork_makes_a_new_thread_with_the_history() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::text("original"),
        MockResponse::text("forked"),
    ])
    .await;
    let first = env.exec("base question").run().await?;
    let id = first.thread_id.clone().unwrap_or_default();
    let forked = env
        .configure(codex_driver::Exec::fork(&id, "branch question"))
        .run()
        .await?;
    assert_ne!(forked.thread_id.as_deref(), Some(id.as_str()));
    assert_eq!(forked.final_message.as_deref(), Some("forked"));
    assert!(
        env.provider.requests()[1]
            .user_texts()
            .iter()
            .any(|t| t == "base question")
    );
    Ok(())
}

#[derive(Debug, PartialEq, Deserialize, schemars::JsonSchema)]
struct Weather {
    city: String,
    celsius: i32,
    raining: bool,
}

#[tokio::test]
async fn structured_output_parses_into_a_rust_type() -> anyhow::Result<()> {
    let env =
        Env::new(vec![MockResponse::new().json_output(
            &json!({"city": "Oslo", "celsius": -3, "raining": false}),
        )])
        .await;
    let typed = env.exec("weather in Oslo?").run_typed::<Weather>().await?;
    assert_eq!(
        typed.value,
        Weather {
            city: "Oslo".into(),
            celsius: -3,
            raining: false
        }
    );
    // Codex forwarded our schema to the provider as a strict json_schema format.
    let body = &env.provider.requests()[0].body;
    assert_eq!(body["text"]["format"]["type"], "json_schema");
    assert_eq!(body["text"]["format"]["strict"], true);
    assert_eq!(
        body["text"]["format"]["schema"]["required"],
        json!(["city", "celsius", "raining"])
    );
    Ok(())
}

#[tokio::test]
async fn structured_output_mismatch_is_a_typed_error() -> anyhow::Result<()> {
    let env = Env::new(vec![MockResponse::text("not json at all")]).await;
    match env.exec("weather?").run_typed::<Weather>().await {
        Err(Error::StructuredOutput { text, .. }) => assert_eq!(text, "not json at all"),
        other => panic!("{other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn tee_writes_the_raw_jsonl() -> anyhow::Result<()> {
    let env = Env::new(vec![MockResponse::text("teed")]).await;
    let tee = env.ws().join("run.jsonl");
    let turn = env.exec("tee").tee_jsonl(&tee).run().await?;
    let text = std::fs::read_to_string(&tee)?;
    let (events, diags) = codex_driver::events::parse_jsonl(&text);
    assert!(diags.is_empty());
    assert_eq!(events.len(), 5);
    assert_eq!(
        events.last().map(ThreadEvent::type_name),
        Some("turn.completed")
    );
    assert_eq!(turn.final_message.as_deref(), Some("teed"));
    Ok(())
}

#[tokio::test]
async fn config_override_and_model_reach_codex() -> anyhow::Result<()> {
    let env = Env::new(vec![MockResponse::text("ok")]).await;
    env.exec("m")
        .model("other-model")
        .config("model_reasoning_effort", "high")
        .run()
        .await?;
    let req = &env.provider.requests()[0];
    assert_eq!(req.model(), Some("other-model"));
    assert_eq!(req.body["reasoning"]["effort"], "high");
    Ok(())
}

#[tokio::test]
async fn bad_feature_flag_is_a_config_error() -> anyhow::Result<()> {
    let env = Env::new(vec![]).await;
    match env.exec("x").enable("no_such_feature_xyz").run().await {
        Err(Error::Config { message, .. }) => {
            assert_eq!(message, "Error: Unknown feature flag: no_such_feature_xyz")
        }
        other => panic!("{other:?}"),
    }
    Ok(())
}

/// A turn whose command sleeps "forever" carries a unique marker, so leftovers are findable.
async fn long_running(marker: &str) -> (Env, codex_driver::ExecStream) {
    let env = Env::new(vec![
        MockResponse::new().exec_command(format!("sleep 300; echo {marker}")),
    ])
    .await;
    let stream = env
        .exec("sleep")
        .sandbox(SandboxMode::WorkspaceWrite)
        .kill_grace(Duration::from_millis(500))
        .stream()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (env, stream)
}

async fn wait_for_command_start(stream: &mut codex_driver::ExecStream) {
    while let Some(ev) = stream.next_event().await {
        if let Ok(ThreadEvent::ItemStarted(e)) = &ev
            && e.item.details.type_name() == "command_execution"
        {
            return;
        }
        assert!(ev.is_ok(), "{ev:?}");
    }
    panic!("stream ended before the command started");
}

#[tokio::test]
async fn cancel_kills_the_whole_group() -> anyhow::Result<()> {
    let marker = "cdrv-cancel-marker-7c1";
    let (_env, mut stream) = long_running(marker).await;
    wait_for_command_start(&mut stream).await;
    assert!(
        !processes_with(marker).is_empty(),
        "the command should be running"
    );
    let pgid = stream.process_group();
    stream.cancel();
    let mut last = None;
    while let Some(ev) = stream.next_event().await {
        last = Some(ev);
    }
    assert!(matches!(last, Some(Err(Error::Cancelled))), "{last:?}");
    // Orphans that were killed may linger as zombies until init reaps them.
    assert!(
        eventually(Duration::from_secs(5), || !group_alive(pgid)).await,
        "group {pgid} survived"
    );
    assert!(
        processes_with(marker).is_empty(),
        "{:?}",
        processes_with(marker)
    );
    Ok(())
}

#[tokio::test]
async fn dropping_the_stream_kills_the_whole_group() -> anyhow::Result<()> {
    let marker = "cdrv-drop-marker-91a";
    let (_env, mut stream) = long_running(marker).await;
    wait_for_command_start(&mut stream).await;
    let pgid = stream.process_group();
    drop(stream);
    assert!(
        eventually(Duration::from_secs(10), || !group_alive(pgid)).await,
        "group {pgid} survived"
    );
    assert!(crate::common::all_gone(marker).await);
    Ok(())
}

#[tokio::test]
async fn idle_timeout_kills_the_whole_group() -> anyhow::Result<()> {
    // The provider stalls before answering: Codex prints nothing more.
    let env = Env::new(vec![
        MockResponse::text("late").delay_before(Duration::from_secs(60)),
    ])
    .await;
    let mut stream = env
        .exec("stall")
        .idle_timeout(Duration::from_secs(2))
        .kill_grace(Duration::from_millis(500))
        .stream()
        .await?;
    let pgid = stream.process_group();
    let mut last = None;
    while let Some(ev) = stream.next_event().await {
        last = Some(ev);
    }
    match last {
        Some(Err(Error::Timeout { kind, after, .. })) => {
            assert_eq!(kind, TimeoutKind::Idle);
            assert_eq!(after, Duration::from_secs(2));
        }
        other => panic!("{other:?}"),
    }
    assert!(!group_alive(pgid));
    Ok(())
}

#[tokio::test]
async fn overall_timeout_kills_a_running_command() -> anyhow::Result<()> {
    let marker = "cdrv-timeout-marker-4f2";
    let env = Env::new(vec![
        MockResponse::new().exec_command(format!("sleep 300; echo {marker}")),
    ])
    .await;
    let err = env
        .exec("sleep")
        .sandbox(SandboxMode::WorkspaceWrite)
        .timeout(Duration::from_secs(4))
        .kill_grace(Duration::from_millis(500))
        .run()
        .await
        .err();
    assert!(
        matches!(
            err,
            Some(Error::Timeout {
                kind: TimeoutKind::Overall,
                ..
            })
        ),
        "{err:?}"
    );
    assert!(crate::common::all_gone(marker).await);
    Ok(())
}

#[tokio::test]
async fn version_guard_refuses_before_spawning() -> anyhow::Result<()> {
    let env = Env::new(vec![]).await;
    let old = codex_driver::Binary::at(crate::common::codex())
        .with_version(semver::Version::new(0, 130, 0));
    let err = env.exec("x").binary(old).worktree(true).run().await.err();
    match err {
        Some(Error::Unsupported { option, found, .. }) => {
            assert_eq!(option, "--worktree");
            assert_eq!(found, semver::Version::new(0, 130, 0));
        }
        other => panic!("{other:?}"),
    }
    assert!(env.provider.requests().is_empty(), "nothing was run");
    // The real binary's probed version allows it.
    let v = codex_driver::Binary::at(crate::common::codex())
        .version()
        .await?;
    assert!(v >= semver::Version::new(0, 169, 0), "{v}");
    Ok(())
}

/// An older real Codex (0.130.0, installed by scripts/install-codex from CODEX_VERSIONS).
fn codex_0_130() -> std::path::PathBuf {
    codex_driver_testkit::pinned_binary("0.130.0")
        .unwrap_or_else(|| panic!("run scripts/install-codex 0.130.0"))
}

#[tokio::test]
async fn older_real_codex_is_refused_a_newer_flag_before_spawning() -> anyhow::Result<()> {
    let env = Env::new(vec![]).await;
    let err = env
        .exec("x")
        .binary(codex_driver::Binary::at(codex_0_130()))
        .worktree(true)
        .run()
        .await
        .err();
    match err {
        Some(Error::Unsupported {
            option,
            found,
            required,
            ..
        }) => {
            assert_eq!(option, "--worktree");
            assert_eq!(found, semver::Version::new(0, 130, 0));
            assert_eq!(required, "newer than 0.130.0 (present in 0.169.0)");
        }
        other => panic!("{other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn without_the_guard_the_older_codex_rejects_the_flag() -> anyhow::Result<()> {
    let env = Env::new(vec![]).await;
    let err = env
        .exec("x")
        .binary(codex_driver::Binary::at(codex_0_130()))
        .worktree(true)
        .check_versions(false)
        .run()
        .await
        .err();
    match err {
        Some(Error::UnknownArgument {
            argument, message, ..
        }) => {
            assert_eq!(argument, "--worktree");
            assert_eq!(message, "error: unexpected argument '--worktree' found");
        }
        other => panic!("{other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn older_real_codex_runs_a_turn() -> anyhow::Result<()> {
    let env = Env::new(vec![MockResponse::text("hello from 0.130")]).await;
    let turn = env
        .exec("hi")
        .binary(codex_driver::Binary::at(codex_0_130()))
        .run()
        .await?;
    assert_eq!(turn.final_message.as_deref(), Some("hello from 0.130"));
    // 0.130.0 reports no cache-write tokens.
    assert_eq!(turn.usage.and_then(|u| u.cache_write_input_tokens), None);
    Ok(())
}

#[tokio::test]
async fn web_search_item_from_the_provider() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::new()
            .web_search("rust serde")
            .message("searched"),
    ])
    .await;
    let turn = env.exec("search").run().await?;
    let ws = turn
        .items
        .iter()
        .find_map(|i| match &i.details {
            ItemDetails::WebSearch(w) => Some(w.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{turn:?}"));
    assert_eq!(ws.query, "rust serde");
    assert_eq!(
        ws.action,
        Some(json!({"type": "search", "query": "rust serde"}))
    );
    Ok(())
}

#[tokio::test]
async fn images_are_sent_to_the_model() -> anyhow::Result<()> {
    let env = Env::new(vec![MockResponse::text("a pixel")]).await;
    let png = env.ws().join("pixel.png");
    std::fs::write(&png, crate::common::PNG_2X2)?;
    let turn = env.exec("what is this?").image(&png).run().await?;
    assert_eq!(turn.final_message.as_deref(), Some("a pixel"));
    let reqs = env.provider.requests();
    let images = crate::common::input_images(&reqs[0]);
    assert_eq!(images.len(), 1, "{images:?}");
    assert!(
        images[0].starts_with("data:image/png;base64,"),
        "{}",
        images[0]
    );
    Ok(())
}
