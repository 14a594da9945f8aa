//! Faults the real Codex can't be made to produce on demand, through a fake `codex` script.

use crate::common::{eventually, tmp_base};
use codex_driver::events::Diagnostic;
use codex_driver::group_alive;
use codex_driver::{Binary, Error, Exec, ItemDetails, ThreadEvent};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

const FAKE: &str = r#"#!/usr/bin/env bash
# Fake codex: behaviour chosen by $FAKE_MODE. Reads the prompt from stdin like the real one.
prompt=$(cat)
echo '{"type":"thread.started","thread_id":"fake-thread"}'
case "$FAKE_MODE" in
  garbage)
    echo 'Reading additional input from stdin...'
    echo '{"type":"turn.started"}'
    echo '{"type":"turn.paused","reason":"new in a future Codex"}'
    echo '{"type":"item.completed","item":{"id":"item_0","type":"hologram","beam":"on"}}'
    printf '{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":"big","aggregated_output":"'
    head -c 10485760 /dev/zero | tr '\0' 'a'
    printf '","exit_code":0,"status":"completed"}}\n'
    echo ''
    echo '{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"'"$prompt"'"}}'
    echo '{"type":"turn.completed","usage":{"input_tokens":1,"cached_input_tokens":0,"output_tokens":2}}'
    ;;
  burst)
    # Many events at once, then exit: a slow reader finds them in the pipe after Codex is gone.
    echo '{"type":"turn.started"}'
    for i in $(seq 1 30); do
      echo '{"type":"item.completed","item":{"id":"item_'$i'","type":"agent_message","text":"m'$i'"}}'
    done
    echo '{"type":"turn.completed","usage":{"input_tokens":1,"cached_input_tokens":0,"output_tokens":2}}'
    ;;
  flood)
    # Completes the turn, then exits leaving a child that writes to stdout without pause.
    echo '{"type":"turn.started"}'
    echo '{"type":"turn.completed","usage":{"input_tokens":1,"output_tokens":1}}'
    bash -c "while :; do echo '{\"type\":\"noise\",\"marker\":\"$FAKE_MARKER\"}'; echo 'not json'; done" &
    exit 0 ;;
  spew)
    # Far more non-JSON lines than the library keeps, then a complete turn.
    echo '{"type":"turn.started"}'
    yes 'not json' | head -n 5000
    echo '{"type":"turn.completed","usage":{"input_tokens":1,"output_tokens":1}}'
    exit 0 ;;
  crash)
    echo '{"type":"item.completed","item":{"id":"item_0","type":"error","message":"disk on fire"}}'
    echo "thread 'main' panicked at core/src/lib.rs:1:1: oh no" >&2
    exit 101 ;;
  drift)
    # Known events of another shape: a future Codex's turn must still end as completed.
    echo '{"type":"turn.started","turn":{"id":7}}'
    echo '{"type":"item.completed","item":{"id":"item_0","type":"agent_message","text":{"parts":["a","b"]},"phase":"final"}}'
    echo '{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"the answer"}}'
    echo '{"type":"turn.completed","usage":{"input_tokens":"12","cached_input_tokens":0,"output_tokens":5,"reasoning_output_tokens":{"n":1}}}'
    ;;
  invalid-utf8)
    # Bytes that are not UTF-8, inside and outside JSON, then a complete turn.
    echo '{"type":"turn.started"}'
    printf '\xff\xfe\xfd not text\n'
    printf '{"type":"item.completed","item":{"id":"item_0","type":"agent_message","text":"caf\xe9 \xc3\x28"}}\n'
    echo '{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"'"$prompt"'"}}'
    echo '{"type":"turn.completed","usage":{"input_tokens":1,"output_tokens":1}}'
    ;;
  huge)
    # A 100 MiB line (an event), then a complete turn.
    echo '{"type":"turn.started"}'
    printf '{"type":"item.completed","item":{"id":"item_0","type":"reasoning","text":"'
    head -c 104857600 /dev/zero | tr '\0' 'a'
    printf '"}}\n'
    echo '{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"'"$prompt"'"}}'
    echo '{"type":"turn.completed","usage":{"input_tokens":1,"output_tokens":1}}'
    ;;
  silent)
    # Hangs without a word.
    sleep 300 ;;
  no-terminal) echo '{"type":"turn.started"}' ;;
  signal) kill -9 $$ ;;
  leaky)
    # Exits after a complete turn, leaving a child that holds stdout open.
    echo '{"type":"turn.started"}'
    echo '{"type":"turn.completed","usage":{"input_tokens":1,"output_tokens":1}}'
    bash -c "sleep 300; echo $FAKE_MARKER" &
    exit 0 ;;
  closed-stdout)
    # Closes stdout, then hangs.
    exec 1>&-
    sleep 300 ;;
  stubborn)
    # Ignores SIGTERM, as does its child: only SIGKILL to the group ends them.
    trap '' TERM
    echo '{"type":"turn.started"}'
    bash -c "trap '' TERM; sleep 300; echo $FAKE_MARKER" &
    wait ;;
esac
"#;

pub(crate) fn fake_codex() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| crate::common::write_script("fake-codex", FAKE))
        .clone()
}

pub(crate) fn fake(mode: &str) -> Exec {
    Exec::new("hello fake")
        .binary(Binary::at(fake_codex()).with_version(semver::Version::new(0, 171, 0)))
        .env("FAKE_MODE", mode)
        .kill_grace(Duration::from_millis(300))
        .timeout(Duration::from_secs(60))
}

#[tokio::test]
async fn garbage_unknown_and_huge_lines_never_fail_the_stream() -> anyhow::Result<()> {
    let turn = fake("garbage").run().await?;
    assert_eq!(turn.final_message.as_deref(), Some("hello fake"));
    assert_eq!(turn.thread_id.as_deref(), Some("fake-thread"));
    let kinds: Vec<&str> = turn.items.iter().map(|i| i.details.type_name()).collect();
    assert_eq!(kinds, ["hologram", "command_execution", "agent_message"]);
    match &turn.items[1].details {
        ItemDetails::CommandExecution(c) => assert_eq!(c.aggregated_output.len(), 10 * 1024 * 1024),
        other => panic!("{other:?}"),
    }
    assert_eq!(turn.diagnostics.len(), 1);
    assert!(matches!(
        &turn.diagnostics[0],
        Diagnostic::NotJson { line_number: 2, text, .. } if text == "Reading additional input from stdin..."
    ));
    Ok(())
}

/// Known events whose payload changed shape are still those events: the turn ends as
/// completed with what fit (the rest kept in `extra`), not as a stream without an end.
#[tokio::test]
async fn a_turn_completed_of_another_shape_still_completes_the_turn() -> anyhow::Result<()> {
    let turn = fake("drift").run().await?;
    assert_eq!(turn.final_message.as_deref(), Some("the answer"));
    let usage = turn.usage.unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (0, 5));
    match &turn.items[0].details {
        ItemDetails::AgentMessage(m) => {
            assert_eq!(m.text, "");
            assert_eq!(m.extra["text"], serde_json::json!({"parts": ["a", "b"]}));
        }
        other => panic!("{other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn unknown_event_is_streamed_not_dropped() -> anyhow::Result<()> {
    let mut s = fake("garbage").stream().await?;
    let mut types = Vec::new();
    while let Some(ev) = s.next_event().await {
        types.push(ev?.type_name().to_owned());
    }
    assert_eq!(
        types,
        [
            "thread.started",
            "turn.started",
            "turn.paused",
            "item.completed",
            "item.completed",
            "item.completed",
            "turn.completed"
        ]
    );
    Ok(())
}

#[tokio::test]
async fn line_over_the_limit_becomes_a_diagnostic() -> anyhow::Result<()> {
    let turn = fake("garbage").max_line_bytes(1024 * 1024).run().await?;
    assert!(
        turn.diagnostics.iter().any(|d| matches!(
            d,
            Diagnostic::TooLong {
                line_number: 6,
                limit: 1048576,
                ..
            }
        )),
        "{:?}",
        turn.diagnostics
    );
    assert_eq!(turn.items.len(), 2);
    Ok(())
}

#[tokio::test]
async fn crash_carries_stderr_tail_and_last_error() -> anyhow::Result<()> {
    match fake("crash").run().await {
        Err(Error::Exited {
            code,
            stderr_tail,
            last_error,
        }) => {
            assert_eq!(code, 101);
            assert_eq!(
                stderr_tail,
                "thread 'main' panicked at core/src/lib.rs:1:1: oh no\n"
            );
            assert_eq!(last_error.as_deref(), Some("disk on fire"));
        }
        other => panic!("{other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn stream_without_terminal_event() -> anyhow::Result<()> {
    assert!(matches!(
        fake("no-terminal").run().await,
        Err(Error::NoTerminalEvent { .. })
    ));
    Ok(())
}

#[tokio::test]
async fn killed_by_signal() -> anyhow::Result<()> {
    assert!(matches!(
        fake("signal").run().await,
        Err(Error::Signaled { signal: 9, .. })
    ));
    Ok(())
}

#[tokio::test]
async fn sigterm_ignoring_children_are_killed() -> anyhow::Result<()> {
    let marker = "cdrv-stubborn-marker-e3";
    let mut s = fake("stubborn")
        .env("FAKE_MARKER", marker)
        .idle_timeout(Duration::from_secs(1))
        .stream()
        .await?;
    let pgid = s.process_group();
    let mut last = None;
    while let Some(ev) = s.next_event().await {
        last = Some(ev);
    }
    assert!(matches!(last, Some(Err(Error::Timeout { .. }))), "{last:?}");
    assert!(eventually(Duration::from_secs(5), || !group_alive(pgid)).await);
    assert!(crate::common::all_gone(marker).await);
    Ok(())
}

#[tokio::test]
async fn missing_binary_is_a_spawn_error_naming_the_path() -> anyhow::Result<()> {
    let err = Exec::new("x")
        .binary(Binary::at("/nonexistent/codex"))
        .run()
        .await
        .err();
    match err {
        Some(Error::Spawn { path, .. }) => assert_eq!(path, PathBuf::from("/nonexistent/codex")),
        other => panic!("{other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn slow_consumer_backpressure_loses_nothing() -> anyhow::Result<()> {
    let mut s = fake("garbage").channel_capacity(1).stream().await?;
    let mut n = 0;
    while let Some(ev) = s.next_event().await {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if matches!(ev?, ThreadEvent::ItemCompleted(_)) {
            n += 1;
        }
    }
    assert_eq!(n, 3);
    Ok(())
}

/// The consumer takes ~3 s after Codex exited, longer than the post-exit drain window: nothing
/// already written may be dropped.
#[tokio::test]
async fn a_consumer_slower_than_the_exit_drain_gets_every_event() -> anyhow::Result<()> {
    let mut s = fake("burst").channel_capacity(1).stream().await?;
    let mut texts = Vec::new();
    let mut last = None;
    while let Some(ev) = s.next_event().await {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let ev = ev?;
        if let ThreadEvent::ItemCompleted(done) = &ev
            && let ItemDetails::AgentMessage(m) = &done.item.details
        {
            texts.push(m.text.clone());
        }
        last = Some(ev.type_name().to_owned());
    }
    let expected: Vec<String> = (1..=30).map(|i| format!("m{i}")).collect();
    assert_eq!(texts, expected);
    assert_eq!(last.as_deref(), Some("turn.completed"));
    Ok(())
}

/// After Codex exits, a descendant that keeps the pipe full is killed with the group: the run
/// ends with what Codex wrote.
#[tokio::test]
async fn a_child_flooding_stdout_after_exit_does_not_hang_the_run() -> anyhow::Result<()> {
    let marker = "cdrv-flood-marker-2d";
    let run = fake("flood").env("FAKE_MARKER", marker).run();
    let turn = tokio::time::timeout(Duration::from_secs(60), run).await??;
    assert_eq!(turn.thread_id.as_deref(), Some("fake-thread"));
    assert!(turn.diagnostics.len() <= codex_driver::exec::MAX_DIAGNOSTICS);
    assert!(crate::common::all_gone(marker).await);
    Ok(())
}

/// Diagnostics are capped: garbage can't grow memory.
#[tokio::test]
async fn diagnostics_are_capped() -> anyhow::Result<()> {
    let turn = fake("spew").run().await?;
    assert_eq!(turn.diagnostics.len(), codex_driver::exec::MAX_DIAGNOSTICS);
    Ok(())
}

#[tokio::test]
async fn a_child_holding_stdout_does_not_hang_a_finished_run() -> anyhow::Result<()> {
    let marker = "cdrv-leaky-marker-5b";
    let turn = fake("leaky").env("FAKE_MARKER", marker).run().await?;
    assert_eq!(turn.thread_id.as_deref(), Some("fake-thread"));
    assert!(crate::common::all_gone(marker).await);
    Ok(())
}

/// Regression: Codex exiting while the reader waited on a slow consumer was never handled, so
/// a descendant holding stdout hung the run until its timeout.
#[tokio::test]
async fn an_exit_during_backpressure_still_ends_the_run() -> anyhow::Result<()> {
    let marker = "cdrv-leaky-slow-marker-7c";
    let mut stream = fake("leaky")
        .env("FAKE_MARKER", marker)
        .channel_capacity(1)
        .timeout(Duration::from_secs(30))
        .stream()
        .await?;
    let mut kinds = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while let Some(ev) = tokio::time::timeout_at(deadline, stream.next_event()).await? {
        // Slow enough that Codex is gone before the reader can hand over the next event.
        tokio::time::sleep(Duration::from_millis(300)).await;
        kinds.push(
            ev?.to_json_line()
                .split('"')
                .nth(3)
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert_eq!(kinds, ["thread.started", "turn.started", "turn.completed"]);
    assert!(crate::common::all_gone(marker).await);
    Ok(())
}

#[tokio::test]
async fn overall_timeout_after_stdout_closed_is_a_timeout() -> anyhow::Result<()> {
    let err = fake("closed-stdout")
        .timeout(Duration::from_secs(2))
        .run()
        .await
        .err();
    assert!(
        matches!(
            err,
            Some(Error::Timeout {
                kind: codex_driver::TimeoutKind::Overall,
                ..
            })
        ),
        "{err:?}"
    );
    Ok(())
}

/// A binary that never answers `--version`: cancelling the run ends the version probe too, and
/// the probe's whole process group (the script and its child) is killed.
#[tokio::test]
async fn cancel_during_the_version_probe_kills_the_probe() -> anyhow::Result<()> {
    let marker = "cdrv-hung-version-7c";
    let dir = tmp_base().join(format!("hung-version-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("codex");
    std::fs::write(
        &path,
        format!("#!/usr/bin/env bash\nbash -c 'sleep 300; echo {marker}' &\nwait\n"),
    )?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    let token = codex_driver::CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        cancel.cancel();
    });
    // --worktree is version-gated, so the binary's version is probed before spawning.
    let r = Exec::new("x")
        .binary(Binary::at(&path).with_version(semver::Version::new(0, 171, 0)))
        .worktree(true)
        .cancel_token(token)
        .run()
        .await;
    // (Without the cancel, the probe would run into its 10 s limit: an Error::Version.)
    assert!(matches!(r, Err(Error::Cancelled)), "{r:?}");
    assert!(crate::common::all_gone(marker).await);
    Ok(())
}
