//! `mcp` against the real Codex: what we write, `codex mcp list` reads; what `codex mcp add`
//! writes, we read.

use crate::common::{Env, codex, tmp_base};
use codex_driver::config::ConfigFile;
use codex_driver::home::CodexHome;
use codex_driver::mcp::{self, ListedTransport, McpServer, McpTransport};
use codex_driver::{Binary, ItemDetails};
use codex_driver_testkit::{McpCall, MockMcpServer, MockResponse};
use serde_json::json;

#[tokio::test]
async fn codex_and_the_library_read_each_others_mcp_servers() -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("mcp-")
        .tempdir_in(tmp_base())?;
    let home = CodexHome::isolated(dir.path().join("home")).materialize()?;
    let binary = Binary::at(codex());

    let mut cfg = ConfigFile::for_home(&home)?;
    let mut docs = McpServer::stdio("docs-server", ["--stdio"]);
    docs.env_var("FOO", "bar");
    docs.default_tools_approval_mode = Some("approve".into());
    mcp::set_server(&mut cfg, "docs", &docs)?;
    let mut search = McpServer::http("https://mcp.example.invalid/mcp");
    if let McpTransport::StreamableHttp {
        bearer_token_env_var,
        ..
    } = &mut search.transport
    {
        *bearer_token_env_var = Some("MCP_TOKEN".into());
    }
    mcp::set_server(&mut cfg, "team.search@v2", &search)?;
    cfg.save()?;

    let listed = mcp::list_via_codex(&binary, &home).await?;
    let names: Vec<&str> = listed.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["docs", "team.search@v2"]);
    match &listed[0].transport {
        ListedTransport::Stdio {
            command, args, env, ..
        } => {
            assert_eq!(command, "docs-server");
            assert_eq!(args, &["--stdio"]);
            assert_eq!(
                env.as_ref().map(|e| e.0.get("FOO").cloned()),
                Some(Some("bar".into()))
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(listed[0].auth_status.as_deref(), Some("unsupported"));
    assert!(matches!(
        &listed[1].transport,
        ListedTransport::StreamableHttp { url, bearer_token_env_var: Some(v), .. }
            if url == "https://mcp.example.invalid/mcp" && v == "MCP_TOKEN"
    ));
    assert_eq!(listed[1].auth_status.as_deref(), Some("bearer_token"));

    // Codex writes one; the library reads it, and ours are as we left them.
    let out = std::process::Command::new(codex())
        .env("CODEX_HOME", home.path())
        .args(["mcp", "add", "added", "--", "my-server", "--x"])
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cfg = ConfigFile::for_home(&home)?;
    let all = mcp::servers(&cfg)?;
    assert_eq!(all["added"], McpServer::stdio("my-server", ["--x"]));
    assert_eq!(all["docs"], docs);
    assert_eq!(all["team.search@v2"], search);

    // Removed by the library: gone for Codex too.
    let mut cfg = cfg;
    assert!(mcp::remove_server(&mut cfg, "docs"));
    cfg.save()?;
    let names: Vec<String> = mcp::list_via_codex(&binary, &home)
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["added", "team.search@v2"]);
    Ok(())
}

/// End to end: an MCP server configured through the library, a tool call scripted by the
/// provider, the real Codex calling the server.
#[tokio::test]
async fn codex_calls_tools_of_a_server_configured_by_the_library() -> anyhow::Result<()> {
    let tools = MockMcpServer::start().await?;
    let env = Env::new(vec![
        MockResponse::new().mcp_tool_call("mock", "echo", json!({"text": "hello over MCP"})),
        MockResponse::text("echoed"),
    ])
    .await;
    let home = CodexHome::new(env.home.path());
    let mut cfg = ConfigFile::for_home(&home)?;
    let mut server = McpServer::http(tools.url());
    // `codex exec` never asks: the server's tools must be pre-approved.
    server.default_tools_approval_mode = Some("approve".into());
    mcp::set_server(&mut cfg, "mock", &server)?;
    cfg.save()?;

    let turn = env.exec("use the tool").run().await?;
    assert_eq!(turn.final_message.as_deref(), Some("echoed"));
    assert_eq!(
        tools.calls(),
        [McpCall {
            tool: "echo".into(),
            arguments: json!({"text": "hello over MCP"})
        }]
    );
    let call = turn
        .items
        .iter()
        .find_map(|i| match &i.details {
            ItemDetails::McpToolCall(c) => Some(c.clone()),
            _ => None,
        })
        .ok_or_else(|| anyhow::anyhow!("no mcp_tool_call item: {:?}", turn.items))?;
    assert_eq!((call.server.as_str(), call.tool.as_str()), ("mock", "echo"));
    assert_eq!(call.arguments, json!({"text": "hello over MCP"}));
    assert!(call.error.is_none(), "{:?}", call.error);
    assert!(
        call.result
            .as_ref()
            .is_some_and(|r| r.to_string().contains("hello over MCP")),
        "{:?}",
        call.result
    );
    // The model saw the tool's output.
    let reqs = env.provider.requests();
    assert!(
        reqs[1]
            .function_call_outputs()
            .iter()
            .any(|o| o.contains("hello over MCP")),
        "{:?}",
        reqs[1].function_call_outputs()
    );

    // The app-server reports the server and its tools.
    let app = codex_driver::app_server::AppServer::new()
        .binary(Binary::at(codex()))
        .codex_home(env.home.path())
        .spawn()
        .await?;
    let status = app.mcp_server_status().await?;
    app.shutdown().await?;
    let mock = status
        .data
        .iter()
        .find(|s| s.name == "mock")
        .ok_or_else(|| anyhow::anyhow!("{status:?}"))?;
    let names: Vec<&str> = mock.tools.keys().map(String::as_str).collect();
    assert_eq!(names, ["add", "echo", "fail"], "{mock:?}");
    Ok(())
}
