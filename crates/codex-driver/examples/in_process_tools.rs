//! In-process tools, offline: the model calls a Rust function of this program, and its answer
//! uses what the function returned.
//!
//! `scripts/install-codex && cargo run -p codex-driver --example in_process_tools`

use codex_driver::Binary;
use codex_driver::app_server::AppServer;
use codex_driver::app_server::protocol::ThreadStartParams;
use codex_driver::tools::{Tool, ToolOutput, Toolbox};
use codex_driver_testkit::{MockProvider, MockResponse, codex_binary};
use serde_json::json;

/// The tool's arguments: their JSON Schema (with these doc comments) is what the model sees.
#[derive(serde::Deserialize, schemars::JsonSchema)]
struct Lookup {
    /// The ticket number, e.g. 1234.
    ticket: u32,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let codex = codex_binary().ok_or_else(|| anyhow::anyhow!("run scripts/install-codex first"))?;
    // The scripted model: on the user's question it calls `ticket_status`; once the tool's
    // output is in the request, it answers quoting it.
    let provider = MockProvider::start(vec![]).await?;
    provider.respond_with(|req| {
        Some(match req.function_call_outputs().last() {
            Some(out) => MockResponse::text(format!("Ticket 1234: {out}")),
            None => MockResponse::new().function_call("ticket_status", json!({"ticket": 1234})),
        })
    });
    let home = provider.temp_home()?;

    let tools = Toolbox::new().with(Tool::new(
        "ticket_status",
        "Looks a ticket up in our tracker.",
        |args: Lookup, call| async move {
            println!(
                "tool called by turn {}: ticket {}",
                call.turn_id, args.ticket
            );
            // Any error returned here (or a panic) is a failed call the model reads.
            Ok(ToolOutput::text("fixed in release 2.4, waiting for deploy"))
        },
    ));

    // Dynamic tools are an experimental app-server API: opt in.
    let server = AppServer::new()
        .binary(Binary::at(codex))
        .codex_home(home.path())
        .experimental_api(true)
        .spawn()
        .await?;
    let mut thread = server
        .start_thread_with_tools(ThreadStartParams::default(), tools)
        .await?;
    let out = thread.run("What's the status of ticket 1234?").await?;
    println!("answer: {}", out.final_message.unwrap_or_default());
    drop(thread);
    server.shutdown().await?;
    Ok(())
}
