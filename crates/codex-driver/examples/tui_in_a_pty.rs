//! The interactive Codex TUI driven in a pseudo-terminal, offline: start it with a prompt, wait
//! for the answer on screen, quit, and learn which thread it worked on. The same as a user in a
//! terminal, for tests and recordings.
//!
//! `scripts/install-codex && cargo run -p codex-driver --example tui_in_a_pty`

use codex_driver::tui::Tui;
use codex_driver::{Binary, CodexHome};
use codex_driver_testkit::{MockProvider, MockResponse, Terminal, codex_binary, prepare_tui_home};
use std::time::Duration;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let codex = codex_binary().ok_or_else(|| anyhow::anyhow!("run scripts/install-codex first"))?;
    let provider = MockProvider::start(Vec::new()).await?;
    // The TUI also asks the model for a title for the thread: that is the fallback answer.
    provider
        .route_exact("Say hello", MockResponse::text("Hello from the TUI!"))
        .set_fallback(Some(MockResponse::text("Greeting")));
    let home = provider.temp_home()?;
    let workspace = tempfile::tempdir()?;
    let workspace_path = workspace.path().canonicalize()?;
    // Trust the workspace and skip the update check, so the TUI asks nothing first.
    prepare_tui_home(home.path(), &workspace_path)?;

    let mut tui = Tui::new()
        .with_prompt("Say hello")
        .binary(Binary::at(&codex))
        .codex_home(home.path())
        .current_dir(&workspace_path)
        .env_remove("RUST_BACKTRACE");
    let launch = tui.prepare()?;
    let mut term = Terminal::spawn_with_only_env(tui.command()?, 40, 120)?;
    term.wait_for("Hello from the TUI!", Duration::from_secs(60))
        .await?;
    println!("on screen:\n{}", term.screen());
    term.type_line("/quit").await?;
    let status = term.wait(Duration::from_secs(30)).await?;
    let outcome = launch.finish(status)?;
    println!("exit: {status}; thread: {:?}", outcome.thread_id);
    println!("daemon left running: {:?}", outcome.daemon);
    let home = CodexHome::new(home.path());
    for entry in codex_driver::sessions::history(&home)? {
        println!("history: {} {}", entry.session_id, entry.text);
    }
    Ok(())
}
