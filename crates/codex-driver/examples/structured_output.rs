//! Structured output: the final message is decoded into a Rust type whose JSON Schema is sent to
//! Codex with `--output-schema`.
//!
//! `scripts/install-codex && cargo run -p codex-driver --example structured_output`

use codex_driver::{Binary, Exec};
use codex_driver_testkit::{MockProvider, MockResponse, codex_binary};
use serde::Deserialize;

#[derive(Deserialize, schemars::JsonSchema)]
struct Review {
    approve: bool,
    reasons: Vec<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let codex = codex_binary().ok_or_else(|| anyhow::anyhow!("run scripts/install-codex first"))?;
    let answer = serde_json::json!({"approve": true, "reasons": ["tests pass", "small diff"]});
    let provider = MockProvider::start(vec![MockResponse::new().json_output(&answer)]).await?;
    let home = provider.temp_home()?;
    let workspace = tempfile::tempdir()?;

    let review = Exec::new("Review the change")
        .binary(Binary::at(codex))
        .codex_home(home.path())
        .current_dir(workspace.path())
        .skip_git_repo_check(true)
        .run_typed::<Review>()
        .await?;
    println!(
        "approve: {}, reasons: {:?}",
        review.value.approve, review.value.reasons
    );
    println!(
        "schema sent: {}",
        provider.requests()[0].body["text"]["format"]["schema"]
    );
    Ok(())
}
