//! Being told about every finished turn of a home (whoever ran it), then reading the saved
//! conversation back from disk.
//!
//! `scripts/install-codex && cargo run -p codex-driver --example turn_notifications`

use codex_driver::notify::{Notification, NotifySpool};
use codex_driver::sessions;
use codex_driver::{Binary, CodexHome, Exec};
use codex_driver_testkit::{MockProvider, MockResponse, codex_binary};
use std::time::Duration;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let codex = codex_binary().ok_or_else(|| anyhow::anyhow!("run scripts/install-codex first"))?;
    let provider = MockProvider::start(vec![
        MockResponse::text("First answer."),
        MockResponse::text("Second answer."),
    ])
    .await?;
    let home_dir = provider.temp_home()?;
    let home = CodexHome::new(home_dir.path());
    let workspace = tempfile::tempdir()?;
    let spool_dir = tempfile::tempdir()?;

    // Every turn of this home now lands in the spool (and any notify program set before
    // still runs).
    let mut spool = NotifySpool::create(spool_dir.path())?;
    spool.install(&home)?;

    let exec = |prompt: &str| {
        Exec::new(prompt)
            .binary(Binary::at(&codex))
            .codex_home(home.path())
            .current_dir(workspace.path())
            .skip_git_repo_check(true)
    };
    let first = exec("Hello").run().await?;
    let thread = first.thread_id.unwrap_or_default();
    Exec::resume(&thread, "And again")
        .binary(Binary::at(&codex))
        .codex_home(home.path())
        .current_dir(workspace.path())
        .skip_git_repo_check(true)
        .run()
        .await?;

    for _ in 0..2 {
        match tokio::time::timeout(Duration::from_secs(10), spool.next()).await?? {
            Notification::AgentTurnComplete(t) => println!(
                "turn {} of {} done: {:?}",
                t.turn_id.unwrap_or_default(),
                t.thread_id,
                t.last_assistant_message
            ),
            other => println!("{other:?}"),
        }
    }

    // The conversation, from the rollout file Codex saved.
    if let Some(saved) = sessions::find(&home, &thread)? {
        for m in sessions::transcript(&saved.path)? {
            println!("{:?}: {}", m.role, m.text);
        }
    }
    spool.uninstall(&home)?;
    Ok(())
}
