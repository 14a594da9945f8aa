//! The saved sessions of a home, offline: two real threads, listed through Codex's state
//! database and through the rollout files (the same answer), one replayed as the events exec
//! printed, then renamed and archived through Codex.
//!
//! `scripts/install-codex && cargo run -p codex-driver --example sessions`

use codex_driver::sessions::manage::SessionManager;
use codex_driver::sessions::replay::Replay;
use codex_driver::sessions::{Archived, Backend, Query, SessionIndex};
use codex_driver::{Binary, CodexHome, Exec, SpawnOptions};
use codex_driver_testkit::{MockProvider, MockResponse, codex_binary};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let codex = codex_binary().ok_or_else(|| anyhow::anyhow!("run scripts/install-codex first"))?;
    let provider = MockProvider::start(vec![
        MockResponse::new().exec_command("echo hi"),
        MockResponse::text("Said hi."),
        MockResponse::text("Nothing to do."),
    ])
    .await?;
    let home = provider.temp_home()?;
    let workspace = tempfile::tempdir()?;
    let spawn = SpawnOptions::new()
        .binary(Binary::at(&codex))
        .codex_home(home.path())
        .current_dir(workspace.path());
    let first = Exec::new("Say hi in the shell")
        .spawn_options(spawn.clone())
        .skip_git_repo_check(true)
        .run()
        .await?;
    Exec::new("Anything else?")
        .spawn_options(spawn.clone())
        .skip_git_repo_check(true)
        .run()
        .await?;

    let home = CodexHome::new(home.path());
    let index = SessionIndex::new(&home);
    println!("answered by: {:?}", index.active_backend()?);
    for s in index.list(&Query::new().limit(10))? {
        println!(
            "{}  {:?}  {}",
            s.thread_id,
            s.source,
            s.title.unwrap_or_default()
        );
    }
    let scanned = SessionIndex::new(&home)
        .backend(Backend::Files)
        .list(&Query::new().limit(10))?;
    println!("the rollout scan lists {} threads too", scanned.len());

    let id = first.thread_id.unwrap_or_default();
    let saved = index.find(&id[..13])?; // a unique prefix is enough
    for event in Replay::open(&saved.path)? {
        println!("replay: {}", event?.to_json_line());
    }

    let manager = SessionManager::new(spawn);
    manager.rename(&id, "greeting").await?;
    let archived = manager.archive("greeting").await?;
    println!("archived {} ({:?})", archived.thread_id, archived.name);
    let left = index.list(&Query::new().archived(Archived::Exclude))?.len();
    println!("{left} thread(s) left unarchived");
    Ok(())
}
