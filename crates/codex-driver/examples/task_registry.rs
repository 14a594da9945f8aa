//! A task of your application mapped to a Codex thread that survives restarts: the first
//! "process" starts the thread, a second one (after the first is gone) continues it by the
//! task's key, and a concurrent driver is refused.
//!
//! `scripts/install-codex && cargo run -p codex-driver --example task_registry`

use codex_driver::tasks::TaskRegistry;
use codex_driver::{Binary, Error, Exec};
use codex_driver_testkit::{MockProvider, MockResponse, codex_binary};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let codex = codex_binary().ok_or_else(|| anyhow::anyhow!("run scripts/install-codex first"))?;
    let provider = MockProvider::start(vec![
        MockResponse::text("Looked at the bug."),
        MockResponse::text("Fixed it."),
    ])
    .await?;
    let home = provider.temp_home()?;
    let workspace = tempfile::tempdir()?;
    let app_dir = tempfile::tempdir()?; // your app's data directory
    let template = Exec::new("")
        .binary(Binary::at(&codex))
        .codex_home(home.path())
        .current_dir(workspace.path())
        .skip_git_repo_check(true);

    // First orchestrator process.
    {
        let registry = TaskRegistry::open(app_dir.path().join("tasks"))?;
        let mut task = registry
            .task("BUG-1234")
            .exec(template.clone())
            .open()
            .await?;
        let turn = task.send("Look at BUG-1234").await?;
        println!(
            "started thread {}: {:?}",
            turn.thread_id, turn.final_message
        );
        // While it holds the task, nobody else may drive it.
        match registry
            .task("BUG-1234")
            .exec(template.clone())
            .open()
            .await
        {
            Err(e @ Error::TaskBusy { .. }) => println!("second driver refused: {e}"),
            other => anyhow::bail!("expected TaskBusy, got {other:?}"),
        }
    } // ... the process ends (or crashes) here.

    // A later process: same key, same thread.
    let registry = TaskRegistry::open(app_dir.path().join("tasks"))?;
    let mut task = registry.resume("BUG-1234").exec(template).open().await?;
    let turn = task.send("Now fix it").await?;
    println!(
        "continued thread {}: {:?}",
        turn.thread_id, turn.final_message
    );
    let record = registry
        .get("BUG-1234")?
        .ok_or_else(|| anyhow::anyhow!("the task was not recorded"))?;
    println!(
        "{} turns recorded, last: {:?}",
        record.turns,
        record.last_turn.map(|t| t.state)
    );
    Ok(())
}
