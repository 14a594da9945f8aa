//! In-process tools against the real Codex: the model (scripted) calls a Rust closure, and
//! what the closure returns reaches the model and the final answer.

use crate::app_server::{params, server, stop};
use crate::common::{Env, eventually};
use codex_driver::Error;
use codex_driver::app_server::protocol::{SandboxMode, TurnStatus};
use codex_driver::tools::{Tool, ToolOutput, Toolbox};
use codex_driver_testkit::{MockResponse, RecordedRequest};
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Add {
    /// First term.
    a: i64,
    /// Second term.
    b: i64,
}

/// The calculator tool; every call's arguments are kept in `seen`.
pub(crate) fn add_tool(seen: Arc<Mutex<Vec<(i64, i64)>>>) -> Tool {
    Tool::new("add", "Adds two integers.", move |args: Add, _call| {
        let seen = Arc::clone(&seen);
        async move {
            seen.lock().unwrap().push((args.a, args.b));
            Ok(ToolOutput::text((args.a + args.b).to_string()))
        }
    })
}

/// A model that calls `tool` with `arguments` on the first request of a turn, then answers
/// quoting what the tool returned.
pub(crate) fn model_calling<'e>(
    env: &'e Env,
    tool: &'static str,
    arguments: serde_json::Value,
) -> &'e codex_driver_testkit::MockProvider {
    env.provider.respond_with(move |req: &RecordedRequest| {
        Some(match output_this_turn(req) {
            Some(out) => MockResponse::text(format!("the tool said: {out}")),
            None => MockResponse::new().function_call(tool, arguments.clone()),
        })
    })
}

/// The output of a tool call made since the latest user message, if any.
pub(crate) fn output_this_turn(req: &RecordedRequest) -> Option<String> {
    let input = req.input();
    let last_user = input
        .iter()
        .rposition(|i| i["type"] == "message" && i["role"] == "user")?;
    input[last_user..]
        .iter()
        .rev()
        .find(|i| i["type"] == "function_call_output")
        .map(|i| match &i["output"] {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        })
}

#[tokio::test]
async fn the_real_codex_calls_a_rust_closure_and_answers_with_its_result() -> anyhow::Result<()> {
    let env = Env::new(vec![]).await;
    model_calling(&env, "add", json!({"a": 2, "b": 40}));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let codex = server(&env).experimental_api(true).spawn().await?;
    let mut thread = codex
        .start_thread_with_tools(
            params(&env, "never", SandboxMode::ReadOnly),
            Toolbox::new().with(add_tool(Arc::clone(&seen))),
        )
        .await?;
    let out = thread.run("what is 2 + 40?").await?;
    assert_eq!(out.status, Some(TurnStatus::Completed));
    assert_eq!(out.final_message.as_deref(), Some("the tool said: 42"));
    assert_eq!(*seen.lock().unwrap(), [(2, 40)]);
    // Codex offered the tool to the model with the schema derived from `Add`.
    let first = &env.provider.requests()[0];
    let offered = first.body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| t["name"] == "add")
        .cloned();
    assert_eq!(
        offered.map(|t| t["parameters"]["required"].clone()),
        Some(json!(["a", "b"]))
    );
    drop(thread);
    stop(codex).await;
    Ok(())
}

#[tokio::test]
async fn a_failing_or_panicking_handler_is_a_failed_call_the_model_reads() -> anyhow::Result<()> {
    let env = Env::new(vec![]).await;
    model_calling(&env, "flaky", json!({"mode": "panic"}));
    let tools = Toolbox::new().with(Tool::raw(
        "flaky",
        "Fails.",
        json!({"type": "object", "properties": {"mode": {"type": "string"}}}),
        |args, _| async move {
            if args["mode"] == "panic" {
                panic!("handler bug");
            }
            Err("disk on fire".into())
        },
    ));
    let codex = server(&env).experimental_api(true).spawn().await?;
    let mut thread = codex
        .start_thread_with_tools(params(&env, "never", SandboxMode::ReadOnly), tools)
        .await?;
    let out = thread.run("go").await?;
    assert_eq!(out.status, Some(TurnStatus::Completed));
    assert_eq!(
        out.final_message.as_deref(),
        Some("the tool said: the tool `flaky` failed (its handler panicked)")
    );
    // The server and the connection are fine: another turn works.
    env.provider.respond_with(|req: &RecordedRequest| {
        output_this_turn(req)
            .is_none()
            .then(|| MockResponse::text("still here"))
    });
    let again = thread.run("and now?").await?;
    assert_eq!(again.final_message.as_deref(), Some("still here"));
    drop(thread);
    stop(codex).await;
    Ok(())
}

#[tokio::test]
async fn interrupting_the_turn_cancels_a_running_handler() -> anyhow::Result<()> {
    let env = Env::new(vec![]).await;
    model_calling(&env, "wait", json!({}));
    let cancelled = Arc::new(Mutex::new(None::<bool>));
    let started = Arc::new(tokio::sync::Notify::new());
    let tools = {
        let (cancelled, started) = (Arc::clone(&cancelled), Arc::clone(&started));
        Toolbox::new().with(Tool::raw(
            "wait",
            "Waits for ever.",
            json!({"type": "object"}),
            move |_, call| {
                let (cancelled, started) = (Arc::clone(&cancelled), Arc::clone(&started));
                async move {
                    started.notify_one();
                    call.cancelled.cancelled().await;
                    *cancelled.lock().unwrap() = Some(true);
                    Ok(ToolOutput::text("too late"))
                }
            },
        ))
    };
    let codex = server(&env).experimental_api(true).spawn().await?;
    let mut thread = codex
        .start_thread_with_tools(params(&env, "never", SandboxMode::ReadOnly), tools)
        .await?;
    let turn = thread.turn("wait please").await?;
    tokio::time::timeout(Duration::from_secs(30), started.notified()).await?;
    turn.control().interrupt().await?;
    let out = turn.run().await?;
    assert_eq!(out.status, Some(TurnStatus::Interrupted));
    // The handler's token fired (its future is dropped right after, so it may not get to
    // record it: either way it is no longer running).
    assert!(
        eventually(Duration::from_secs(10), || {
            cancelled.lock().unwrap().is_some() || Arc::strong_count(&cancelled) == 2
        })
        .await
    );
    drop(thread);
    stop(codex).await;
    Ok(())
}

#[tokio::test]
async fn tools_need_the_experimental_api_and_say_so_before_sending() -> anyhow::Result<()> {
    let env = Env::new(vec![]).await;
    let codex = server(&env).spawn().await?;
    let err = codex
        .start_thread_with_tools(
            params(&env, "never", SandboxMode::ReadOnly),
            Toolbox::new().with(add_tool(Arc::default())),
        )
        .await
        .err();
    assert!(
        matches!(&err, Some(Error::InvalidOptions(m)) if m.contains("experimental_api(true)")),
        "{err:?}"
    );
    assert!(env.provider.requests().is_empty());
    stop(codex).await;
    Ok(())
}

/// `codex exec` has no dynamic tools: the same toolbox is served as an in-process MCP server
/// for the run, and the real Codex calls the Rust closure through it.
#[tokio::test]
async fn exec_calls_the_same_tools_through_an_in_process_mcp_server() -> anyhow::Result<()> {
    exec_tools_over_mcp().await
}

/// Also part of the compatibility suite's `in-process tools` area.
pub(crate) async fn exec_tools_over_mcp() -> anyhow::Result<()> {
    use codex_driver::ItemDetails;
    let env = Env::new(vec![]).await;
    env.provider.respond_with(|req: &RecordedRequest| {
        Some(match output_this_turn(req) {
            Some(out) => MockResponse::text(format!("the tool said: {out}")),
            // 0.130 names the server's namespace `mcp__SERVER__`.
            None if offers(req, "mcp__mine__") => MockResponse::new().raw_item(json!({
                "type": "function_call",
                "name": "add",
                "namespace": "mcp__mine__",
                "arguments": "{\"a\":2,\"b\":40}",
                "call_id": "call_old_1",
            })),
            None => MockResponse::new().mcp_tool_call("mine", "add", json!({"a": 2, "b": 40})),
        })
    });
    let seen = Arc::new(Mutex::new(Vec::new()));
    let server = Toolbox::new()
        .with(add_tool(Arc::clone(&seen)))
        .serve_mcp()
        .await?;
    let turn = server
        .attach(env.exec("what is 2 + 40?"), "mine")
        .run()
        .await?;
    assert_eq!(*seen.lock().unwrap(), [(2, 40)], "{:?}", turn.items);
    let call = turn
        .items
        .iter()
        .find_map(|i| match &i.details {
            ItemDetails::McpToolCall(c) => Some(c.clone()),
            _ => None,
        })
        .ok_or_else(|| anyhow::anyhow!("no mcp_tool_call item: {:?}", turn.items))?;
    assert_eq!((call.server.as_str(), call.tool.as_str()), ("mine", "add"));
    assert!(call.error.is_none(), "{:?}", call.error);
    let answer = turn.final_message.unwrap_or_default();
    assert!(
        answer.starts_with("the tool said: ") && answer.contains("42"),
        "{answer}"
    );
    // Without the token (another local process), the server refuses.
    let status = reqwest_status(&server.url()).await?;
    assert_eq!(status, 401);
    Ok(())
}

/// Whether the request offers the model a tool of this name.
fn offers(req: &RecordedRequest, name: &str) -> bool {
    req.body["tools"]
        .as_array()
        .is_some_and(|tools| tools.iter().any(|t| t["name"] == name))
}

/// The status of an unauthenticated POST (a bare HTTP/1.1 request: no client crate needed).
async fn reqwest_status(url: &str) -> anyhow::Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.trim_start_matches("http://");
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut s = tokio::net::TcpStream::connect(host).await?;
    s.write_all(
        format!("POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}").as_bytes(),
    )
    .await?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).await?;
    Ok(buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0))
}
