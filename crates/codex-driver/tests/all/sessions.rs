//! `sessions`: what the real Codex saved, read back from disk.

use crate::common::{Env, codex};
use codex_driver::app_server::AppServer;
use codex_driver::home::CodexHome;
use codex_driver::sessions::{self, Message, Role};
use codex_driver::{Binary, Exec};
use codex_driver_testkit::MockResponse;

fn msg(role: Role, text: &str) -> Message {
    Message::new(role, text)
}

#[tokio::test]
async fn saved_threads_are_listed_read_and_follow_archiving() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::text("A1"),
        MockResponse::text("A2"),
        MockResponse::text("B1"),
    ])
    .await;
    let home = CodexHome::new(env.home.path());
    let a = env.exec("first").run().await?.thread_id.unwrap_or_default();
    env.configure(Exec::resume(&a, "second")).run().await?;
    let b = env.exec("other").run().await?.thread_id.unwrap_or_default();

    let all = sessions::list(&home)?;
    let ids: Vec<&str> = all.iter().map(|s| s.thread_id.as_str()).collect();
    assert_eq!(ids, [b.as_str(), a.as_str()], "newest first");
    let sa = sessions::find(&home, &a)?.unwrap();
    assert_eq!(sa.cwd.as_deref(), Some(env.ws()));
    assert_eq!(sa.originator.as_deref(), Some("codex_exec"));
    assert_eq!(sa.cli_version.as_deref(), Some("0.169.0"));
    assert_eq!(sa.source.as_deref(), Some("exec"));
    assert_eq!(sa.model_provider.as_deref(), Some("mock"));
    assert!(!sa.archived);
    assert_eq!(
        sessions::transcript(&sa.path)?,
        [
            msg(Role::User, "first"),
            msg(Role::Assistant, "A1"),
            msg(Role::User, "second"),
            msg(Role::Assistant, "A2"),
        ]
    );

    // Archived through the app-server: the list follows the file.
    let server = AppServer::new()
        .binary(Binary::at(codex()))
        .codex_home(env.home.path())
        .spawn()
        .await?;
    server.resume_thread(&a).await?.archive().await?;
    server.shutdown().await?;
    let sa = sessions::find(&home, &a)?.unwrap();
    assert!(sa.archived);
    assert!(sa.path.starts_with(home.archived_sessions_dir()));
    assert_eq!(sessions::transcript(&sa.path)?.len(), 4);
    assert!(
        sessions::history(&home)?.is_empty(),
        "exec writes no history"
    );
    Ok(())
}
