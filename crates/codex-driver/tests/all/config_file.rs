//! `config::ConfigFile` against the real Codex: what it writes is what Codex reads.

use crate::common::{codex, tmp_base};
use codex_driver::config::{ConfigFile, ModelProvider};
use codex_driver::home::CodexHome;
use codex_driver::{Binary, Exec};
use codex_driver_testkit::{MockProvider, MockResponse};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

#[tokio::test]
async fn codex_runs_on_a_config_written_by_config_file() -> anyhow::Result<()> {
    let provider = MockProvider::start(vec![MockResponse::text("configured")]).await?;
    let dir = tempfile::Builder::new()
        .prefix("cfg-")
        .tempdir_in(tmp_base())?;
    let home = CodexHome::isolated(dir.path().join("home")).materialize()?;
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(&ws)?;

    // A notify program that records the JSON Codex passes as its last argument.
    let notified = dir.path().join("notified.json");
    let script = dir.path().join("notify.sh");
    std::fs::write(
        &script,
        format!(
            "#!/usr/bin/env bash\nprintf '%s' \"${{@: -1}}\" > {}.tmp && mv {0}.tmp {0}\n",
            notified.display()
        ),
    )?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))?;

    // The user's file, with a comment that must survive.
    std::fs::write(
        home.config_toml(),
        "# mine: keep me\nmodel = \"mock-model\"\n",
    )?;
    let mut cfg = ConfigFile::for_home(&home)?;
    let mut mock = ModelProvider::responses("mock", provider.base_url());
    mock.request_max_retries = Some(0);
    mock.stream_max_retries = Some(0);
    cfg.use_model_provider("mock", &mock)?;
    cfg.set_notify([script.display().to_string()])?;
    cfg.set_project_trust(&ws, true)?;
    cfg.save()?;
    assert!(std::fs::read_to_string(home.config_toml())?.starts_with("# mine: keep me\n"));

    // --strict-config: Codex rejects any key it does not know.
    let turn = Exec::new("hello")
        .binary(Binary::at(codex()))
        .codex_home(home.path())
        .current_dir(&ws)
        .skip_git_repo_check(true)
        .strict_config(true)
        .timeout(Duration::from_secs(120))
        .run()
        .await?;
    assert_eq!(turn.final_message.as_deref(), Some("configured"));
    assert_eq!(provider.requests().len(), 1);

    // Codex ran our notify program after the turn (fire-and-forget: it may lag behind exec).
    assert!(crate::common::eventually(Duration::from_secs(10), || notified.exists()).await);
    let n: Value = serde_json::from_str(&std::fs::read_to_string(&notified)?)?;
    assert_eq!(n["type"], "agent-turn-complete");
    assert_eq!(n["thread-id"].as_str(), turn.thread_id.as_deref());
    assert_eq!(n["last-assistant-message"], "configured");
    assert_eq!(n["input-messages"], serde_json::json!(["hello"]));
    Ok(())
}
