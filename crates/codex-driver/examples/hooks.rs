//! Codex hooks as Rust callbacks, offline: the test kit's provider scripts two shell commands;
//! a `PreToolUse` callback blocks the one that deletes, the others print what they saw.
//!
//! `scripts/install-codex && cargo run -p codex-driver --example hooks`

use codex_driver::hooks::{HookDecision, Hooks};
use codex_driver::{Binary, Exec, SandboxMode};
use codex_driver_testkit::{MockProvider, MockResponse, codex_binary};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let codex = codex_binary().ok_or_else(|| anyhow::anyhow!("run scripts/install-codex first"))?;
    let provider = MockProvider::start(vec![
        MockResponse::new().exec_command("echo keep > notes.txt"),
        MockResponse::new().exec_command("rm -f notes.txt"),
        MockResponse::text("Tidied up."),
    ])
    .await?;
    let home = provider.temp_home()?;
    let workspace = tempfile::tempdir()?;

    let hooks = Hooks::new()
        .session_start(|s| async move {
            println!("session {} started ({:?})", s.context.session_id, s.source);
            HookDecision::Continue
        })
        .user_prompt_submit(|p| async move {
            println!("prompt: {:?}", p.prompt);
            HookDecision::Continue
        })
        .pre_tool_use(|call| async move {
            let command = call.command().unwrap_or_default().to_owned();
            let decision = if command.starts_with("rm ") {
                HookDecision::block("deleting files is not allowed in this workspace")
            } else {
                HookDecision::Continue
            };
            println!("before {} `{command}` -> {decision:?}", call.tool_name);
            decision
        })
        .post_tool_use(|done| async move {
            println!(
                "after `{}`: {:?}",
                done.command().unwrap_or_default(),
                done.tool_response
            );
            HookDecision::Continue
        })
        .stop(|end| async move {
            println!("turn ends: {:?}", end.last_assistant_message);
            HookDecision::Continue
        })
        .listen()
        .await?;

    let exec = Exec::new("Write notes, then clean up")
        .binary(Binary::at(codex))
        .codex_home(home.path())
        .current_dir(workspace.path())
        .skip_git_repo_check(true)
        .sandbox(SandboxMode::WorkspaceWrite);
    let turn = hooks.apply(exec).run().await?;
    println!("final: {:?}", turn.final_message);
    println!(
        "notes.txt still there: {}",
        workspace.path().join("notes.txt").exists()
    );
    println!("hook requests answered: {}", hooks.served());
    Ok(())
}
