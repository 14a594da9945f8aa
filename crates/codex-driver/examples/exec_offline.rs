//! One real Codex turn, offline: the test kit's provider scripts a shell command and a reply.
//!
//! `scripts/install-codex && cargo run -p codex-driver --example exec_offline`

use codex_driver::exec::SandboxMode;
use codex_driver::{Binary, Exec, ItemDetails, ThreadEvent};
use codex_driver_testkit::{MockProvider, MockResponse, codex_binary};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let codex = codex_binary().ok_or_else(|| anyhow::anyhow!("run scripts/install-codex first"))?;
    let provider = MockProvider::start(vec![
        MockResponse::new().exec_command("echo hello > hello.txt && ls"),
        MockResponse::text("I created hello.txt."),
    ])
    .await?;
    let home = provider.temp_home()?;
    let workspace = tempfile::tempdir()?;

    let mut run = Exec::new("Create hello.txt")
        .binary(Binary::at(codex))
        .codex_home(home.path())
        .current_dir(workspace.path())
        .skip_git_repo_check(true)
        .sandbox(SandboxMode::WorkspaceWrite)
        .stream()
        .await?;
    while let Some(event) = run.next_event().await {
        match event? {
            ThreadEvent::ThreadStarted(t) => println!("thread {}", t.thread_id),
            ThreadEvent::ItemCompleted(done) => match &done.item.details {
                ItemDetails::CommandExecution(c) => {
                    println!("$ {} (exit {:?})", c.command, c.exit_code)
                }
                ItemDetails::AgentMessage(m) => println!("assistant: {}", m.text),
                other => println!("[{}]", other.type_name()),
            },
            ThreadEvent::TurnCompleted(t) => println!("usage: {:?}", t.usage),
            _ => {}
        }
    }
    println!(
        "hello.txt: {:?}",
        std::fs::read_to_string(workspace.path().join("hello.txt"))?
    );
    Ok(())
}
