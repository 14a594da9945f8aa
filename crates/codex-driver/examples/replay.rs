//! Record a real Codex turn into a cassette, then replay it offline: the test kit's VCR.
//!
//! The recorder sits in front of the test kit's scripted provider here; point it at
//! `https://api.openai.com/v1` with `.api_key_env("OPENAI_API_KEY")` to record a real model once.
//!
//! `scripts/install-codex && cargo run -p codex-driver --example replay`

use codex_driver::exec::SandboxMode;
use codex_driver::{Binary, Exec};
use codex_driver_testkit::vcr::{Cassette, Recorder, Replayer, ResponseBody};
use codex_driver_testkit::{MockProvider, MockResponse, codex_binary};
use std::path::{Path, PathBuf};

const PROMPT: &str = "Say hello with a command";

fn turn(codex: &Path, home: &Path, workspace: &Path) -> Exec {
    Exec::new(PROMPT)
        .binary(Binary::at(codex))
        .codex_home(home)
        .current_dir(workspace)
        .skip_git_repo_check(true)
        .sandbox(SandboxMode::WorkspaceWrite)
}

/// A line cut to `max` characters, for a short listing.
fn short(line: &str, max: usize) -> String {
    match line.char_indices().nth(max) {
        Some((i, _)) => format!("{}… ({} chars)", &line[..i], line.len()),
        None => line.to_owned(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let codex: PathBuf =
        codex_binary().ok_or_else(|| anyhow::anyhow!("run scripts/install-codex first"))?;
    let scratch = tempfile::tempdir()?;
    let cassette = scratch.path().join("hello.jsonl");

    // 1. Record: Codex → recorder → provider (here the scripted one; any Responses API works).
    let provider = MockProvider::start(vec![
        MockResponse::new().exec_command("echo hello"),
        MockResponse::text("The command printed hello."),
    ])
    .await?;
    let recorder = Recorder::builder(provider.base_url())
        .api_key("sk-example-not-a-real-key")
        .model("mock-model")
        .save_to(&cassette)
        .start()
        .await?;
    let (home, workspace) = (tempfile::tempdir()?, tempfile::tempdir()?);
    recorder.write_codex_home(home.path())?;
    let recorded = turn(&codex, home.path(), workspace.path()).run().await?;
    recorder.finish().await?;
    drop(provider); // from here on there is no provider at all
    println!("recorded: {:?}", recorded.final_message);

    println!("cassette {}:", cassette.display());
    for line in std::fs::read_to_string(&cassette)?.lines() {
        println!("  {}", short(line, 110));
    }
    for (i, e) in Cassette::load(&cassette)?.exchanges.iter().enumerate() {
        let events: Vec<&str> = match &e.response.body {
            ResponseBody::Events(evs) => evs.iter().filter_map(|ev| ev.event.as_deref()).collect(),
            _ => Vec::new(),
        };
        println!(
            "  #{i} {} {} -> {}: {}",
            e.method,
            e.path,
            e.response.status,
            events.join(", ")
        );
    }

    // 2. Replay offline, in a fresh home and workspace.
    let replayer = Replayer::load(&cassette).await?;
    let (home, workspace) = (tempfile::tempdir()?, tempfile::tempdir()?);
    replayer.write_codex_home(home.path())?;
    let replayed = turn(&codex, home.path(), workspace.path()).run().await?;
    println!("replayed: {:?}", replayed.final_message);
    println!(
        "divergences: {}, exchanges left: {}",
        replayer.divergences().len(),
        replayer.remaining()
    );
    replayer.all_used()?;
    anyhow::ensure!(replayed.final_message == recorded.final_message);
    Ok(())
}
