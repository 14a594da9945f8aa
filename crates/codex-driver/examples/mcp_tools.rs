//! An MCP server configured through the library, and a real Codex turn calling one of its tools
//! (offline: the test kit's model provider scripts the call, its MCP server answers it).
//!
//! `scripts/install-codex && cargo run -p codex-driver --example mcp_tools`

use codex_driver::config::ConfigFile;
use codex_driver::mcp::{self, McpServer};
use codex_driver::{Binary, CodexHome, Exec, ItemDetails};
use codex_driver_testkit::{MockMcpServer, MockProvider, MockResponse, codex_binary};
use serde_json::json;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let codex = codex_binary().ok_or_else(|| anyhow::anyhow!("run scripts/install-codex first"))?;
    let tools = MockMcpServer::start().await?;
    let provider = MockProvider::start(vec![
        MockResponse::new().mcp_tool_call("calc", "add", json!({"a": 2, "b": 40})),
        MockResponse::text("2 + 40 = 42"),
    ])
    .await?;
    let home = provider.temp_home()?;
    let workspace = tempfile::tempdir()?;

    let mut cfg = ConfigFile::for_home(&CodexHome::new(home.path()))?;
    let mut calc = McpServer::http(tools.url());
    calc.default_tools_approval_mode = Some("approve".into()); // exec never asks
    mcp::set_server(&mut cfg, "calc", &calc)?;
    cfg.save()?;
    println!("config.toml:\n{cfg}");

    let turn = Exec::new("What is 2 + 40? Use the calculator.")
        .binary(Binary::at(codex))
        .codex_home(home.path())
        .current_dir(workspace.path())
        .skip_git_repo_check(true)
        .run()
        .await?;
    for item in &turn.items {
        if let ItemDetails::McpToolCall(c) = &item.details {
            println!(
                "mcp {}.{}({}) -> {:?}",
                c.server, c.tool, c.arguments, c.result
            );
        }
    }
    println!("answer: {}", turn.final_message.unwrap_or_default());
    println!("the server saw: {:?}", tools.calls());
    Ok(())
}
