//! The app-server client against the real Codex and the offline provider.

use crate::common::{Env, codex, eventually};
use codex_driver::app_server::protocol::{
    AskForApproval, SandboxMode, ServerNotification, ThreadItem, ThreadStartParams,
    TurnStartParams, TurnStatus, UserInput, UserInputImage, UserInputLocalImage, WriteStatus,
};
use codex_driver::app_server::{AppServer, AppServerClient};
use codex_driver::group_alive;
use codex_driver::{Binary, Error};
use codex_driver_testkit::MockResponse;
use serde_json::json;
use std::time::Duration;

pub(crate) fn server(env: &Env) -> AppServer {
    AppServer::new()
        .binary(Binary::at(codex()))
        .codex_home(env.home.path())
        .current_dir(env.ws())
        .request_timeout(Duration::from_secs(60))
        .kill_grace(Duration::from_millis(500))
}

pub(crate) fn params(env: &Env, approval: &str, sandbox: SandboxMode) -> ThreadStartParams {
    ThreadStartParams {
        cwd: Some(env.ws().display().to_string()),
        approval_policy: Some(serde_json::from_value(json!(approval)).unwrap()),
        sandbox: Some(sandbox),
        ..Default::default()
    }
}

pub(crate) async fn stop(codex: AppServerClient) {
    let pid = codex.pid().unwrap();
    codex.shutdown().await.unwrap();
    assert!(
        eventually(Duration::from_secs(5), || !group_alive(pid)).await,
        "app-server {pid} survived"
    );
}

#[tokio::test]
async fn turn_streams_text_deltas_and_a_final_message() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::new().message_chunks(["Hel", "lo ", "world"]),
    ])
    .await;
    let codex = server(&env).spawn().await?;
    let mut thread = codex
        .start_thread(params(&env, "never", SandboxMode::ReadOnly))
        .await?;
    let mut turn = thread.turn("greet me").await?;
    let mut deltas = Vec::new();
    let mut methods = Vec::new();
    while let Some(ev) = turn.next_event().await {
        let ev = ev?;
        if let ServerNotification::ItemAgentMessageDelta(d) = &ev {
            deltas.push(d.delta.clone());
        }
        methods.push(ev.method().to_owned());
    }
    assert_eq!(deltas, ["Hel", "lo ", "world"]);
    // Nothing is lost between thread/start and the thread's subscription.
    assert_eq!(
        methods.first().map(String::as_str),
        Some("thread/started"),
        "{methods:?}"
    );
    assert_eq!(methods.last().map(String::as_str), Some("turn/completed"));
    let out = thread.run("again").await;
    // The script is used up: the provider's 500 fails this second turn, typed.
    assert!(matches!(out, Err(Error::TurnFailed { .. })), "{out:?}");
    stop(codex).await;
    Ok(())
}

/// A turn, `notifications()` and `thread_status_changes()` are `Stream`s.
#[tokio::test]
async fn turns_and_notifications_are_streams() -> anyhow::Result<()> {
    use futures_util::StreamExt;
    let env = Env::new(vec![MockResponse::new().message_chunks(["a", "b"])]).await;
    let codex = server(&env).spawn().await?;
    let all = codex.notifications();
    let statuses = codex.thread_status_changes();
    let mut thread = codex
        .start_thread(params(&env, "never", SandboxMode::ReadOnly))
        .await?;
    let id = thread.id().to_owned();
    assert_eq!(thread.response().thread().id, id);
    assert_eq!(thread.response().model(), "mock-model");
    let turn = thread.turn("stream it").await?;
    assert_eq!(turn.response().turn.id, turn.id());
    let methods = turn
        .map(|ev| ev.map(|n| n.method().to_owned()))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<codex_driver::Result<Vec<_>>>()?;
    assert_eq!(methods.last().map(String::as_str), Some("turn/completed"));
    let deltas: Vec<String> = all
        .filter_map(|r| async move {
            match r.notification {
                ServerNotification::ItemAgentMessageDelta(d) => Some(d.delta),
                _ => None,
            }
        })
        .take(2)
        .collect()
        .await;
    assert_eq!(deltas, ["a", "b"]);
    let active = tokio::time::timeout(
        Duration::from_secs(10),
        statuses
            .filter(|n| std::future::ready(n.thread_id == id))
            .next(),
    )
    .await?
    .map(|n| n.status);
    assert!(
        matches!(
            active,
            Some(codex_driver::app_server::protocol::ThreadStatus::Active(_))
        ),
        "{active:?}"
    );
    stop(codex).await;
    Ok(())
}

#[tokio::test]
async fn run_collects_the_outcome() -> anyhow::Result<()> {
    let env = Env::new(vec![MockResponse::new().message_chunks(["4", "2"])]).await;
    let codex = server(&env).spawn().await?;
    let mut thread = codex
        .start_thread(params(&env, "never", SandboxMode::ReadOnly))
        .await?;
    let out = thread.run("the answer?").await?;
    assert_eq!(out.status, Some(TurnStatus::Completed));
    assert_eq!(out.final_message.as_deref(), Some("42"));
    assert_eq!(out.streamed_text, "42");
    assert_eq!(out.thread_id, thread.id());
    let kinds: Vec<&str> = out
        .items
        .iter()
        .map(|i| match i {
            ThreadItem::UserMessage(_) => "userMessage",
            ThreadItem::AgentMessage(_) => "agentMessage",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["userMessage", "agentMessage"]);
    assert!(out.usage.is_some());
    stop(codex).await;
    Ok(())
}

#[tokio::test]
async fn two_threads_run_concurrently_on_one_server() -> anyhow::Result<()> {
    let env = Env::new(vec![]).await;
    env.provider.route(
        "alpha",
        MockResponse::new()
            .message_chunks(["answer ", "alpha"])
            .delay_between(Duration::from_millis(150)),
    );
    env.provider.route(
        "beta",
        MockResponse::new()
            .message_chunks(["answer ", "beta"])
            .delay_between(Duration::from_millis(150)),
    );
    let codex = server(&env).spawn().await?;
    let mut a = codex
        .start_thread(params(&env, "never", SandboxMode::ReadOnly))
        .await?;
    let mut b = codex
        .start_thread(params(&env, "never", SandboxMode::ReadOnly))
        .await?;
    assert_ne!(a.id(), b.id());
    let (ra, rb) = tokio::join!(a.run("question alpha"), b.run("question beta"));
    let (ra, rb) = (ra?, rb?);
    assert_eq!(ra.final_message.as_deref(), Some("answer alpha"));
    assert_eq!(rb.final_message.as_deref(), Some("answer beta"));
    assert_eq!(
        ra.streamed_text, "answer alpha",
        "no delta of the other thread leaked in"
    );
    assert_eq!(rb.streamed_text, "answer beta");
    stop(codex).await;
    Ok(())
}

#[tokio::test]
async fn an_unread_thread_does_not_stall_the_others() -> anyhow::Result<()> {
    let env = Env::new(vec![]).await;
    let chunks: Vec<String> = (0..1500).map(|i| format!("{i} ")).collect();
    env.provider
        .route("flood", MockResponse::new().message_chunks(chunks));
    env.provider
        .route("beta", MockResponse::text("beta answer"));
    env.provider
        .route("again", MockResponse::text("alpha again"));
    let codex = server(&env).spawn().await?;
    let mut a = codex
        .start_thread(params(&env, "never", SandboxMode::ReadOnly))
        .await?;
    let mut b = codex
        .start_thread(params(&env, "never", SandboxMode::ReadOnly))
        .await?;
    // Start a turn that floods thread A with deltas, and never read them.
    drop(a.turn("flood me").await?);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let out = tokio::time::timeout(Duration::from_secs(30), b.run("beta question")).await??;
    assert_eq!(out.final_message.as_deref(), Some("beta answer"));
    // Thread A recovers with a fresh subscription for its next turn.
    let codex_a = a.client().clone();
    let first = codex_a.list_threads(Default::default()).await?;
    assert!(first.data.iter().any(|t| t.id == a.id()));
    let again = tokio::time::timeout(Duration::from_secs(30), a.run("again")).await??;
    assert_eq!(again.final_message.as_deref(), Some("alpha again"));
    stop(codex).await;
    Ok(())
}

#[tokio::test]
async fn interrupt_mid_turn() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::text("too late").delay_before(Duration::from_secs(30)),
    ])
    .await;
    let codex = server(&env).spawn().await?;
    let mut thread = codex
        .start_thread(params(&env, "never", SandboxMode::ReadOnly))
        .await?;
    let mut turn = thread.turn("slow one").await?;
    let control = turn.control();
    let mut status = None;
    while let Some(ev) = turn.next_event().await {
        match ev? {
            ServerNotification::TurnStarted(_) => control.interrupt().await?,
            ServerNotification::TurnCompleted(c) => status = Some(c.turn.status),
            _ => {}
        }
    }
    assert_eq!(status, Some(TurnStatus::Interrupted));
    stop(codex).await;
    Ok(())
}

#[tokio::test]
async fn steer_adds_input_to_a_running_turn() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::new().exec_command("sleep 2"),
        MockResponse::text("steered"),
    ])
    .await;
    let codex = server(&env).spawn().await?;
    let mut thread = codex
        .start_thread(params(&env, "never", SandboxMode::WorkspaceWrite))
        .await?;
    let mut turn = thread.turn("start working").await?;
    let control = turn.control();
    while let Some(ev) = turn.next_event().await {
        if let ServerNotification::ItemStarted(s) = ev?
            && matches!(s.item, ThreadItem::CommandExecution(_))
        {
            let steered = control.steer("also mention the weather").await?;
            assert_eq!(steered.turn_id, control.turn_id());
        }
    }
    let reqs = env.provider.requests();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs[1]
            .user_texts()
            .iter()
            .any(|t| t.contains("also mention the weather")),
        "{:?}",
        reqs[1].user_texts()
    );
    stop(codex).await;
    Ok(())
}

#[tokio::test]
async fn fork_copies_the_history_into_a_new_thread() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::text("base"),
        MockResponse::text("forked"),
    ])
    .await;
    let codex = server(&env).spawn().await?;
    let mut base = codex
        .start_thread(params(&env, "never", SandboxMode::ReadOnly))
        .await?;
    base.run("base question").await?;
    let mut fork = codex.fork_thread(base.id()).await?;
    assert_ne!(fork.id(), base.id());
    let out = fork.run("fork question").await?;
    assert_eq!(out.final_message.as_deref(), Some("forked"));
    let texts = env.provider.requests()[1].user_texts();
    assert!(
        texts.iter().any(|t| t == "base question") && texts.iter().any(|t| t == "fork question"),
        "{texts:?}"
    );
    stop(codex).await;
    Ok(())
}

#[tokio::test]
async fn thread_management_calls() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::text("one"),
        MockResponse::text("the summary"),
    ])
    .await;
    let codex = server(&env).spawn().await?;
    // The handshake's answer.
    let info = codex.server_info().unwrap();
    assert_eq!(
        std::path::Path::new(&info.codex_home).canonicalize()?,
        env.home.path().canonicalize()?
    );
    assert!(info.user_agent.starts_with("codex_driver/"), "{info:?}");
    let mut thread = codex
        .start_thread(params(&env, "never", SandboxMode::ReadOnly))
        .await?;
    thread.run("hello").await?;
    thread.set_name("my thread").await?;
    let read = thread.read().await?.thread;
    assert_eq!(read.name.as_deref(), Some("my thread"), "{read:?}");
    assert_eq!(read.turns.len(), 1, "{read:?}");
    // Compaction summarises the history with a model call of its own, as an item.
    let mut events = codex.notifications();
    thread.compact().await?;
    let compacted = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(r) = events.recv().await {
            if let ServerNotification::ItemCompleted(c) = r.notification
                && matches!(c.item, ThreadItem::ContextCompaction(_))
            {
                return Some(c.thread_id);
            }
        }
        None
    })
    .await?;
    assert_eq!(compacted.as_deref(), Some(thread.id()));
    assert_eq!(env.provider.requests().len(), 2);
    let ids = |list: codex_driver::app_server::protocol::ThreadListResponse| -> Vec<String> {
        list.data.into_iter().map(|t| t.id).collect()
    };
    let listed = ids(codex.list_threads(Default::default()).await?);
    assert!(listed.contains(&thread.id().to_owned()), "{listed:?}");
    thread.archive().await?;
    let listed = ids(codex.list_threads(Default::default()).await?);
    assert!(
        !listed.contains(&thread.id().to_owned()),
        "archived threads are not listed: {listed:?}"
    );
    let archived = codex
        .list_threads(codex_driver::app_server::protocol::ThreadListParams {
            archived: Some(true),
            ..Default::default()
        })
        .await?;
    assert!(ids(archived).contains(&thread.id().to_owned()));
    let unarchived = thread.unarchive().await?;
    assert_eq!(unarchived.thread.id, thread.id());
    assert!(ids(codex.list_threads(Default::default()).await?).contains(&thread.id().to_owned()));
    stop(codex).await;
    Ok(())
}

#[tokio::test]
async fn resume_from_a_fresh_app_server_process() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::text("first"),
        MockResponse::text("second"),
    ])
    .await;
    let first = server(&env).spawn().await?;
    let mut thread = first
        .start_thread(params(&env, "never", SandboxMode::ReadOnly))
        .await?;
    let id = thread.id().to_owned();
    thread.run("remember the number 7").await?;
    drop(thread);
    stop(first).await;

    let second = server(&env).spawn().await?;
    let mut resumed = second.resume_thread(&id).await?;
    assert_eq!(resumed.id(), id);
    let out = resumed.run("what was the number?").await?;
    assert_eq!(out.final_message.as_deref(), Some("second"));
    let texts = env.provider.requests()[1].user_texts();
    assert!(
        texts.iter().any(|t| t == "remember the number 7"),
        "{texts:?}"
    );
    let turn = second.wait_for_turn_completion(&id, &out.turn_id).await?;
    assert_eq!(turn.status, TurnStatus::Completed);
    stop(second).await;
    Ok(())
}

#[tokio::test]
async fn killed_mid_turn_gives_typed_errors_and_leaves_nothing() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::text("never").delay_before(Duration::from_secs(60)),
    ])
    .await;
    let codex = server(&env).spawn().await?;
    let pid = codex.pid().unwrap();
    let mut thread = codex
        .start_thread(params(&env, "never", SandboxMode::ReadOnly))
        .await?;
    let mut turn = thread.turn("long").await?;
    let mut last = None;
    while let Some(ev) = turn.next_event().await {
        if let Ok(ServerNotification::TurnStarted(_)) = &ev {
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid as i32),
                nix::sys::signal::Signal::SIGKILL,
            )?;
        }
        last = Some(ev);
    }
    match last {
        Some(Err(Error::AppServerClosed { reason, .. })) => {
            assert_eq!(reason, "the app-server was killed by signal 9")
        }
        other => panic!("{other:?}"),
    }
    let err = codex.request_raw("thread/list", json!({})).await.err();
    assert!(
        matches!(err, Some(Error::AppServerClosed { .. })),
        "{err:?}"
    );
    assert!(eventually(Duration::from_secs(5), || !group_alive(pid)).await);
    Ok(())
}

#[tokio::test]
async fn automatic_restart_after_a_crash_and_resume() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::text("before"),
        MockResponse::text("after"),
    ])
    .await;
    let sup = codex_driver::app_server::Restarting::start(server(&env), 2).await?;
    let first = sup.client().await?;
    let mut thread = first
        .start_thread(params(&env, "never", SandboxMode::ReadOnly))
        .await?;
    thread.run("one").await?;
    let id = thread.id().to_owned();
    let old_pid = first.pid().unwrap();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(old_pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    first.wait_closed().await;
    let second = sup.client().await?;
    assert_ne!(second.pid(), Some(old_pid));
    assert_eq!(sup.restarts(), 1);
    let mut resumed = second.resume_thread(&id).await?;
    assert_eq!(
        resumed.run("two").await?.final_message.as_deref(),
        Some("after")
    );
    drop((thread, resumed, first, second));
    sup.shutdown().await?;
    assert!(eventually(Duration::from_secs(5), || !group_alive(old_pid)).await);
    Ok(())
}

#[tokio::test]
async fn a_crash_fails_pending_requests() -> anyhow::Result<()> {
    // A fake server that completes the handshake, then never answers, then dies.
    let dir = tempfile::Builder::new()
        .prefix("fake-as-")
        .tempdir_in(crate::common::tmp_base())?;
    let fake = dir.path().join("codex");
    std::fs::write(
        &fake,
        "#!/usr/bin/env bash\nread -r _\necho '{\"id\":1,\"result\":{}}'\nread -r _\nread -r _\necho 'fatal: out of cheese' >&2\nexit 3\n",
    )?;
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let fake = Binary::at(&fake).with_version(semver::Version::new(0, 171, 0));
    let codex = AppServer::new().binary(fake).spawn().await?;
    let err = codex.request_raw("thread/list", json!({})).await.err();
    match err {
        Some(Error::AppServerClosed {
            method,
            reason,
            stderr_tail,
        }) => {
            assert_eq!(method, "thread/list");
            assert_eq!(reason, "the app-server exited with status 3");
            assert_eq!(stderr_tail, "fatal: out of cheese\n");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        codex.wait_closed().await.reason,
        "the app-server exited with status 3"
    );
    Ok(())
}

#[tokio::test]
async fn dropping_the_client_stops_the_server() -> anyhow::Result<()> {
    let env = Env::new(vec![]).await;
    let codex = server(&env).spawn().await?;
    let pid = codex.pid().unwrap();
    assert!(group_alive(pid));
    drop(codex);
    assert!(eventually(Duration::from_secs(5), || !group_alive(pid)).await);
    Ok(())
}

#[tokio::test]
async fn account_and_config_calls() -> anyhow::Result<()> {
    let env = Env::new(vec![]).await;
    let codex = server(&env).spawn().await?;
    let account = codex.account().await?;
    assert!(account.account.is_none(), "not logged in: {account:?}");
    codex.login_api_key("sk-test-0123456789").await?;
    // The key went over the pipe into the home's auth.json (0600), never into argv.
    let home = codex_driver::CodexHome::new(env.home.path());
    let summary = codex_driver::auth::summary(&home)?.unwrap();
    assert!(summary.has_api_key, "{summary:?}");
    codex.logout().await?;
    assert_eq!(codex_driver::auth::summary(&home)?, None);
    let cfg = codex.config_read().await?;
    assert_eq!(
        serde_json::to_value(&cfg.config)?["model_provider"],
        json!("mock"),
        "{:?}",
        cfg.config
    );
    let written = codex
        .config_value_write("model_reasoning_effort", json!("high"))
        .await?;
    assert_eq!(written.status, WriteStatus::Ok);
    assert_eq!(
        std::path::Path::new(&written.file_path).canonicalize()?,
        env.home.path().join("config.toml").canonicalize()?
    );
    let toml = std::fs::read_to_string(env.home.path().join("config.toml"))?;
    assert!(toml.contains("model_reasoning_effort = \"high\""), "{toml}");
    assert_eq!(codex.mcp_server_status().await?.data, []);
    let models = codex.models().await?.data;
    assert!(
        !models.is_empty() && models.iter().all(|m| !m.id.is_empty()),
        "{models:?}"
    );
    stop(codex).await;
    Ok(())
}

#[allow(dead_code)]
fn _approval_policy_is_typed(p: AskForApproval) -> AskForApproval {
    p
}

const DATA_URL: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8AARAwQCgAf7gP9i18U1AAAAABJRU5ErkJggg==";

#[tokio::test]
async fn per_turn_model_output_schema_and_images_reach_the_model() -> anyhow::Result<()> {
    let env = Env::new(vec![MockResponse::text(r#"{"ok":true}"#)]).await;
    let png = env.ws().join("pixel.png");
    std::fs::write(&png, crate::common::PNG_2X2)?;
    let codex = server(&env).spawn().await?;
    let mut thread = codex
        .start_thread(params(&env, "never", SandboxMode::ReadOnly))
        .await?;
    let schema = json!({
        "type": "object",
        "properties": {"ok": {"type": "boolean"}},
        "required": ["ok"],
        "additionalProperties": false
    });
    let out = thread
        .turn_with(TurnStartParams {
            input: vec![
                codex_driver::app_server::text_input("look at these"),
                UserInput::LocalImage(UserInputLocalImage {
                    path: png.display().to_string(),
                    ..Default::default()
                }),
                // Codex 0.169 takes inline data URLs only (remote URLs are refused).
                UserInput::Image(UserInputImage {
                    url: Some(DATA_URL.into()),
                    ..Default::default()
                }),
            ],
            model: Some("mock-model-b".into()),
            output_schema: Some(schema.clone()),
            ..Default::default()
        })
        .await?
        .run()
        .await?;
    stop(codex).await;
    assert_eq!(out.final_message.as_deref(), Some(r#"{"ok":true}"#));
    let reqs = env.provider.requests();
    let req = reqs.last().unwrap();
    assert_eq!(req.model(), Some("mock-model-b"));
    assert_eq!(req.body["text"]["format"]["schema"], schema);
    let images = crate::common::input_images(req);
    assert_eq!(images.len(), 2, "{images:?}");
    assert!(
        images[0].starts_with("data:image/png;base64,"),
        "{}",
        images[0]
    );
    assert_eq!(images[1], DATA_URL);
    Ok(())
}

/// Drift: the server's release (from its user agent) and the methods it sent that the types
/// don't know are reported, for an orchestrator to log or refuse.
#[tokio::test]
async fn drift_names_a_newer_server_and_the_methods_it_sent() -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("fake-drift-")
        .tempdir_in(crate::common::tmp_base())?;
    let fake = dir.path().join("codex");
    std::fs::write(
        &fake,
        r#"#!/usr/bin/env bash
read -r _
echo '{"id":1,"result":{"userAgent":"codex_driver/0.999.0 (Test OS)","codexHome":"/h","platformFamily":"unix","platformOs":"linux"}}'
read -r _
echo '{"method":"thread/teleported","params":{"threadId":"t"}}'
echo '{"method":"turn/started","params":{"threadId":"t","turn":{"id":"u","items":[],"status":"inProgress"}}}'
echo '{"id":0,"method":"item/hologram/requestApproval","params":{"threadId":"t"}}'
read -r _
read -r line
echo '{"id":2,"result":{"data":[]}}'
sleep 30
"#,
    )?;
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    let fake = Binary::at(&fake).with_version(semver::Version::new(0, 171, 0));
    let codex = AppServer::new().binary(fake).spawn().await?;
    codex.request_raw("thread/list", json!({})).await?;
    let seen = eventually(Duration::from_secs(5), || {
        !codex.drift().unknown_requests.is_empty()
    })
    .await;
    assert!(seen);
    let drift = codex.drift();
    assert_eq!(drift.server_version, Some(semver::Version::new(0, 999, 0)));
    assert!(drift.newer_than_tested());
    assert!(!drift.is_none());
    assert_eq!(
        drift.schema_release,
        codex_driver::app_server::protocol::SCHEMA_RELEASE
    );
    assert_eq!(drift.unknown_notifications, ["thread/teleported"]);
    assert_eq!(drift.unknown_requests, ["item/hologram/requestApproval"]);
    codex.shutdown().await?;
    Ok(())
}

/// The throughput tuning changes nothing a turn does: a command still runs (in a login shell of
/// its own) and its output reaches the model, but no shell snapshot is taken for the thread.
#[tokio::test]
async fn a_throughput_fleet_runs_commands_without_taking_a_shell_snapshot() -> anyhow::Result<()> {
    throughput_fleet_runs_a_command().await
}

/// The body of the test above, shared with the compatibility suite.
pub(crate) async fn throughput_fleet_runs_a_command() -> anyhow::Result<()> {
    use codex_driver::app_server::Fleet;
    let env = Env::new(vec![
        MockResponse::new().exec_command("echo $((6 * 7)) > answer.txt && cat answer.txt"),
        MockResponse::text("wrote it"),
    ])
    .await;
    let fleet = Fleet::for_throughput(server(&env)).await?;
    assert_eq!(fleet.len(), Fleet::recommended_size());
    let mut thread = fleet
        .start_thread(params(&env, "never", SandboxMode::WorkspaceWrite))
        .await?;
    let out = thread.run("write the answer").await?;
    assert_eq!(out.final_message.as_deref(), Some("wrote it"));
    assert_eq!(
        std::fs::read_to_string(env.ws().join("answer.txt"))?,
        "42\n"
    );
    let reqs = env.provider.requests();
    assert_eq!(reqs.len(), 2);
    let output = reqs[1].function_call_outputs();
    assert!(output.iter().any(|o| o.contains("42")), "{output:?}");
    let snapshots = env.home.path().join("shell_snapshots");
    let taken = std::fs::read_dir(&snapshots).map_or(0, |d| d.count());
    assert_eq!(taken, 0, "{}", snapshots.display());
    drop(thread);
    fleet.shutdown().await?;
    Ok(())
}

/// A fleet of two servers: eight concurrent threads spread four and four, each turn gets its
/// own answer, and every event a turn streams belongs to its own thread.
#[tokio::test]
async fn a_fleet_spreads_threads_and_keeps_each_turns_events_apart() -> anyhow::Result<()> {
    use codex_driver::app_server::Fleet;
    let env = Env::new(Vec::new()).await;
    for i in 0..8 {
        env.provider.route_exact(
            format!("fleet task {i}"),
            MockResponse::text(format!("fleet answer {i}")),
        );
    }
    let fleet = Fleet::spawn(server(&env).for_throughput(), 2).await?;
    assert_eq!(fleet.len(), 2);
    let pids: Vec<u32> = fleet.clients().filter_map(|c| c.pid()).collect();
    assert_eq!(pids.len(), 2);
    assert_ne!(pids[0], pids[1]);
    let mut threads = Vec::new();
    for _ in 0..8 {
        threads.push(
            fleet
                .start_thread(params(&env, "never", SandboxMode::ReadOnly))
                .await?,
        );
    }
    assert_eq!(fleet.load(), vec![4, 4]);
    let servers: Vec<u32> = threads.iter().filter_map(|t| t.client().pid()).collect();
    assert_eq!(servers.iter().filter(|p| **p == pids[0]).count(), 4);
    let runs = threads
        .iter_mut()
        .enumerate()
        .map(|(i, thread)| async move {
            let id = thread.id().to_owned();
            let mut turn = thread.turn(format!("fleet task {i}").as_str()).await?;
            let mut foreign = Vec::new();
            let mut text = String::new();
            while let Some(ev) = turn.next_event().await {
                let ev = ev?;
                let params = ev.params();
                if let Some(t) = params.get("threadId").and_then(|t| t.as_str())
                    && t != id
                {
                    foreign.push(ev.method().to_owned());
                }
                if let ServerNotification::ItemAgentMessageDelta(d) = &ev {
                    text.push_str(&d.delta);
                }
            }
            anyhow::Ok((i, text, foreign))
        });
    for r in futures_util::future::join_all(runs).await {
        let (i, text, foreign) = r?;
        assert_eq!(
            (text.as_str(), foreign.len()),
            (format!("fleet answer {i}").as_str(), 0),
            "turn {i}: {foreign:?}"
        );
    }
    drop(threads);
    assert_eq!(fleet.load(), vec![0, 0]);
    fleet.shutdown().await?;
    for pid in pids {
        assert!(
            eventually(Duration::from_secs(5), || !group_alive(pid)).await,
            "fleet server {pid} survived"
        );
    }
    Ok(())
}
