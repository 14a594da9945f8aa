//! `tui`: the real interactive Codex in a pseudo-terminal (the test kit's `Terminal`): a prompt
//! given at launch runs, `/quit` exits, the thread is found afterwards, and nothing of Codex is
//! left running.

use crate::common::{Env, all_gone, codex};
use codex_driver::home::CodexHome;
use codex_driver::probe::Prober;
use codex_driver::sessions::{self, HistoryPersistence, Message, Role};
use codex_driver::tui::{Tui, TuiOutcome, stop_daemon};
use codex_driver::{Binary, SpawnOptions};
use codex_driver_testkit::{MockResponse, Terminal};
use std::time::Duration;

/// A home the TUI opens without questions (the workspace trusted, no update check), plus
/// `extra` config.
fn quiet_home(env: &Env, extra: &str) {
    codex_driver_testkit::prepare_tui_home(env.home.path(), env.ws()).unwrap();
    let cfg = env.home.path().join("config.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text.push_str(extra);
    std::fs::write(&cfg, text).unwrap();
}

async fn base(env: &Env, tui: Tui) -> Tui {
    let caps = Prober::new().probe(&Binary::at(codex())).await.unwrap();
    tui.binary(Binary::at(codex()))
        .codex_home(env.home.path())
        .current_dir(env.ws())
        .env_remove("RUST_BACKTRACE")
        .capabilities(caps)
}

/// Runs `tui` in a terminal until `answer` shows, then quits with `/quit`.
async fn session(mut tui: Tui, answer: &str) -> TuiOutcome {
    let launch = tui.prepare().unwrap();
    let mut term = Terminal::spawn_with_only_env(tui.command().unwrap(), 40, 120).unwrap();
    term.wait_for(answer, Duration::from_secs(60))
        .await
        .unwrap();
    term.type_line("/quit").await.unwrap();
    let status = term.wait(Duration::from_secs(30)).await.unwrap();
    assert!(status.success(), "{status:?}: {}", term.text());
    launch.finish(status).unwrap()
}

#[tokio::test]
async fn the_tui_runs_a_prompt_quits_and_names_its_thread() -> anyhow::Result<()> {
    let env = Env::new(Vec::new()).await;
    // By prompt: the TUI also asks the model for a title for each new prompt (the fallback).
    env.provider
        .route_exact("say hello", MockResponse::text("hello from the tui"))
        .route_exact("and more", MockResponse::text("resumed in the tui"))
        .route_exact("fork it", MockResponse::text("forked in the tui"))
        .set_fallback(Some(MockResponse::text("A title")));
    quiet_home(&env, "");
    let home = CodexHome::new(env.home.path());

    let first = session(
        base(&env, Tui::new().with_prompt("say hello")).await,
        "hello from the tui",
    )
    .await;
    let id = first.thread_id.clone().expect("the TUI's thread");
    assert!(first.daemon.is_none(), "{:?}", first.daemon);
    let saved = sessions::find(&home, &id)?.unwrap();
    assert_eq!(saved.source, Some(sessions::SessionSource::Cli));
    assert_eq!(first.session.as_ref().map(|s| &s.thread_id), Some(&id));
    // The TUI keeps its prompt history (persistence is "save-all" unless configured).
    assert_eq!(
        sessions::history_settings(&home)?.persistence,
        HistoryPersistence::SaveAll
    );
    let h = sessions::history(&home)?;
    assert_eq!(h.len(), 1);
    assert_eq!(
        (h[0].session_id.as_str(), h[0].text.as_str()),
        (id.as_str(), "say hello")
    );

    // Resumed by a prefix of its id: the same thread.
    let again = session(
        base(&env, Tui::resume(&id[..13]).with_prompt("and more")).await,
        "resumed in the tui",
    )
    .await;
    assert_eq!(again.thread_id.as_deref(), Some(id.as_str()));
    assert_eq!(
        sessions::transcript(&saved.path)?,
        [
            Message::new(Role::User, "say hello"),
            Message::new(Role::Assistant, "hello from the tui"),
            Message::new(Role::User, "and more"),
            Message::new(Role::Assistant, "resumed in the tui"),
        ]
    );

    // A fork is a new thread.
    let fork = session(
        base(&env, Tui::fork(&id).with_prompt("fork it")).await,
        "forked in the tui",
    )
    .await;
    let fork_id = fork.thread_id.unwrap();
    assert_ne!(fork_id, id);
    assert_eq!(sessions::history(&home)?.len(), 3);

    let marker = env.home.path().to_string_lossy().into_owned();
    assert!(all_gone(&marker).await, "a Codex process is still running");
    Ok(())
}

#[tokio::test]
async fn no_history_when_persistence_is_none() -> anyhow::Result<()> {
    let env = Env::new(Vec::new()).await;
    env.provider
        .route_exact("keep this out", MockResponse::text("quiet answer"))
        .set_fallback(Some(MockResponse::text("A title")));
    quiet_home(&env, "\n[history]\npersistence = \"none\"\n");
    let home = CodexHome::new(env.home.path());
    assert_eq!(
        sessions::history_settings(&home)?.persistence,
        HistoryPersistence::None
    );
    let out = session(
        base(&env, Tui::new().with_prompt("keep this out")).await,
        "quiet answer",
    )
    .await;
    assert!(out.thread_id.is_some());
    assert!(sessions::history(&home)?.is_empty());
    assert!(!home.history_jsonl().exists());
    Ok(())
}

/// Allowed a daemon, 0.169+ leaves one running: the outcome says so, and `stop_daemon` stops
/// it and its update loop.
#[tokio::test]
async fn a_daemon_left_running_is_reported_and_stopped() -> anyhow::Result<()> {
    let caps = Prober::new().probe(&Binary::at(codex())).await?;
    if !caps.top_flags.contains("--no-daemon") {
        eprintln!(
            "SKIPPED: Codex {} has no TUI daemon (no --no-daemon flag)",
            caps.version
        );
        return Ok(());
    }
    let env = Env::new(Vec::new()).await;
    env.provider
        .route_exact("use the daemon", MockResponse::text("daemon answer"))
        .set_fallback(Some(MockResponse::text("A title")));
    quiet_home(&env, "");
    let out = session(
        base(&env, Tui::new().with_prompt("use the daemon").daemon(true)).await,
        "daemon answer",
    )
    .await;
    let d = out.daemon.expect("a daemon");
    assert!(d.started_by_this_run);
    let marker = env.home.path().to_string_lossy().into_owned();
    assert!(!crate::common::processes_with(&marker).is_empty());
    stop_daemon(
        &SpawnOptions::new()
            .binary(Binary::at(codex()))
            .codex_home(env.home.path()),
    )
    .await?;
    assert!(
        all_gone(&marker).await,
        "the daemon or its update loop is still running"
    );
    Ok(())
}
