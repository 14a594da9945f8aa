//! `notify::NotifySpool` with the real Codex: exec and app-server turns are spooled, and the
//! notify program configured before still runs.

use crate::common::{Env, codex, eventually, tmp_base};
use codex_driver::Binary;
use codex_driver::app_server::AppServer;
use codex_driver::app_server::protocol::ThreadStartParams;
use codex_driver::config::ConfigFile;
use codex_driver::home::CodexHome;
use codex_driver::notify::{AgentTurnComplete, Notification, NotifySpool};
use codex_driver_testkit::MockResponse;
use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

async fn next(spool: &mut NotifySpool) -> AgentTurnComplete {
    match tokio::time::timeout(Duration::from_secs(20), spool.next()).await {
        Ok(Ok(Notification::AgentTurnComplete(t))) => t,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn turns_are_spooled_and_the_previous_program_still_runs() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::text("first answer"),
        MockResponse::text("second answer"),
    ])
    .await;
    let home = CodexHome::isolated(env.home.path());
    let dir = tempfile::Builder::new()
        .prefix("notify-")
        .tempdir_in(tmp_base())?;

    // The user's own notify program, configured before us.
    let seen_by_user = dir.path().join("user-program.log");
    let user_program = dir.path().join("user-notify.sh");
    std::fs::write(
        &user_program,
        format!(
            "#!/usr/bin/env bash\necho \"$1 ${{@: -1}}\" >> {}\n",
            seen_by_user.display()
        ),
    )?;
    std::fs::set_permissions(&user_program, std::fs::Permissions::from_mode(0o755))?;
    let mut cfg = ConfigFile::for_home(&home)?;
    cfg.set_notify([user_program.display().to_string(), "--from-codex".into()])?;
    cfg.save()?;

    let mut spool = NotifySpool::create(dir.path().join("spool"))?;
    spool.install(&home)?;
    spool.install(&home)?; // idempotent
    let argv = ConfigFile::for_home(&home)?.get("notify");
    assert_eq!(
        argv,
        Some(json!([
            spool.hook().display().to_string(),
            spool.dir().display().to_string(),
            user_program.display().to_string(),
            "--from-codex"
        ]))
    );

    let a = env.exec("one").run().await?;
    let b = env.exec("two").run().await?;
    let (na, nb) = (next(&mut spool).await, next(&mut spool).await);
    assert_eq!(na.thread_id, a.thread_id.unwrap_or_default());
    assert_eq!(na.last_assistant_message.as_deref(), Some("first answer"));
    assert_eq!(na.input_messages, ["one"]);
    assert_eq!(na.client.as_deref(), Some("codex_exec"));
    assert_eq!(nb.thread_id, b.thread_id.unwrap_or_default());
    assert_eq!(nb.last_assistant_message.as_deref(), Some("second answer"));
    assert!(spool.drain()?.is_empty());

    // The user's program got the same JSON, after its own arguments.
    assert!(
        eventually(Duration::from_secs(10), || std::fs::read_to_string(
            &seen_by_user
        )
        .is_ok_and(|t| t.lines().count() == 2))
        .await
    );
    let log = std::fs::read_to_string(&seen_by_user)?;
    assert!(
        log.lines()
            .all(|l| l.starts_with("--from-codex {\"type\":\"agent-turn-complete\"")),
        "{log}"
    );

    // A second spool chains in front; taking the first out leaves the others intact.
    let second = NotifySpool::create(dir.path().join("spool-2"))?;
    second.install(&home)?;
    spool.uninstall(&home)?;
    spool.uninstall(&home)?; // idempotent
    assert_eq!(
        ConfigFile::for_home(&home)?.get("notify"),
        Some(json!([
            second.hook().display().to_string(),
            second.dir().display().to_string(),
            user_program.display().to_string(),
            "--from-codex"
        ]))
    );
    second.uninstall(&home)?;
    assert_eq!(
        ConfigFile::for_home(&home)?.get("notify"),
        Some(json!([user_program.display().to_string(), "--from-codex"]))
    );
    Ok(())
}

#[tokio::test]
async fn app_server_turns_name_the_client() -> anyhow::Result<()> {
    let env = Env::new(vec![MockResponse::text("from the app-server")]).await;
    let home = CodexHome::isolated(env.home.path());
    let dir = tempfile::Builder::new()
        .prefix("notify-")
        .tempdir_in(tmp_base())?;
    let mut spool = NotifySpool::create(dir.path().join("spool"))?;
    spool.install(&home)?;
    let codex_server = AppServer::new()
        .binary(Binary::at(codex()))
        .codex_home(env.home.path())
        .client_info("my-orchestrator", "1.0")
        .spawn()
        .await?;
    let mut thread = codex_server
        .start_thread(ThreadStartParams {
            cwd: Some(env.ws().display().to_string()),
            ..Default::default()
        })
        .await?;
    let out = thread.run("hi").await?;
    let n = next(&mut spool).await;
    codex_server.shutdown().await?;
    assert_eq!(n.thread_id, out.thread_id);
    assert_eq!(n.turn_id.as_deref(), Some(out.turn_id.as_str()));
    assert_eq!(n.client.as_deref(), Some("my-orchestrator"));
    assert_eq!(
        n.last_assistant_message.as_deref(),
        Some("from the app-server")
    );
    Ok(())
}
