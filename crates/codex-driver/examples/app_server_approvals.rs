//! The app-server, offline: Codex asks to run a command outside the sandbox, a handler decides,
//! and the answer's text streams in as deltas.
//!
//! `scripts/install-codex && cargo run -p codex-driver --example app_server_approvals`

use codex_driver::Binary;
use codex_driver::app_server::AppServer;
use codex_driver::app_server::approvals::{ApprovalRequest, Decision, approval_fn};
use codex_driver::app_server::protocol::{ServerNotification, ThreadItem, ThreadStartParams};
use codex_driver_testkit::{MockProvider, MockResponse, codex_binary};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let codex = codex_binary().ok_or_else(|| anyhow::anyhow!("run scripts/install-codex first"))?;
    // The scripted model asks for an escalated command, then answers in three chunks.
    let provider = MockProvider::start(vec![
        MockResponse::new().exec_command_with(json!({
            "cmd": "touch approved.txt",
            "sandbox_permissions": "require_escalated",
            "justification": "write outside the sandbox",
        })),
        MockResponse::new().message_chunks(["The file ", "is ", "there."]),
    ])
    .await?;
    let home = provider.temp_home()?;
    let workspace = tempfile::tempdir()?;

    let server = AppServer::new()
        .binary(Binary::at(codex))
        .codex_home(home.path())
        // Accept `touch`, decline anything else. Without a handler, everything is declined.
        .approval_handler(approval_fn(|a| async move {
            match &a.request {
                ApprovalRequest::CommandExecution(c) => {
                    println!("approval asked: {:?} ({:?})", c.command, c.reason);
                    match c.command.as_deref() {
                        Some(cmd) if cmd.contains("touch") => Decision::Accept,
                        _ => Decision::Decline,
                    }
                }
                _ => Decision::Decline,
            }
        }))
        .spawn()
        .await?;
    let mut thread = server
        .start_thread(ThreadStartParams {
            cwd: Some(workspace.path().display().to_string()),
            approval_policy: Some(serde_json::from_value(json!("untrusted"))?),
            ..Default::default()
        })
        .await?;
    let mut turn = thread.turn("Create approved.txt").await?;
    while let Some(event) = turn.next_event().await {
        match event? {
            ServerNotification::ItemAgentMessageDelta(d) => println!("delta: {:?}", d.delta),
            ServerNotification::ItemCompleted(done) => {
                if let ThreadItem::CommandExecution(c) = &done.item {
                    println!("command {:?}: {:?}", c.command, c.status);
                }
            }
            ServerNotification::TurnCompleted(c) => println!("turn: {:?}", c.turn.status),
            _ => {}
        }
    }
    println!(
        "approved.txt exists: {}",
        workspace.path().join("approved.txt").exists()
    );
    server.shutdown().await?;
    Ok(())
}
