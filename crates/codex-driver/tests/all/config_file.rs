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

/// Two edits keep two snapshots; diff and restore work on them; Codex runs on the restored
/// file with the snapshot directory beside it in its home.
#[tokio::test]
async fn snapshots_list_diff_restore_and_codex_ignores_them() -> anyhow::Result<()> {
    let provider = MockProvider::start(vec![MockResponse::text("restored")]).await?;
    let dir = tempfile::Builder::new()
        .prefix("cfg-snap-")
        .tempdir_in(tmp_base())?;
    let home = CodexHome::isolated(dir.path().join("home")).materialize()?;
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(&ws)?;

    // The first save creates the file (nothing to keep); the next two replace it.
    let mut cfg = ConfigFile::for_home(&home)?;
    let mut mock = ModelProvider::responses("mock", provider.base_url());
    mock.request_max_retries = Some(0);
    mock.stream_max_retries = Some(0);
    cfg.use_model_provider("mock", &mock)?;
    cfg.set("model", "mock-model")?;
    cfg.save()?;
    let good = std::fs::read_to_string(home.config_toml())?;
    cfg.set("model", "second")?;
    cfg.save()?;
    cfg.use_model_provider(
        "mock",
        &ModelProvider::responses("mock", "http://127.0.0.1:9/v1"),
    )?;
    cfg.save()?;

    let snaps = cfg.snapshots()?;
    assert_eq!(snaps.len(), 2, "{snaps:?}");
    assert!(snaps[0].taken_at >= snaps[1].taken_at);
    let dir_of_snaps = home.path().join(".config.toml.snapshots");
    assert_eq!(snaps[1].path.parent(), Some(dir_of_snaps.as_path()));
    assert_eq!(std::fs::read_to_string(&snaps[1].path)?, good);
    let mode = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.permissions().mode() & 0o777);
    assert_eq!(mode(&snaps[1].path)?, 0o600);
    assert_eq!(mode(&dir_of_snaps)?, 0o700);

    let diff = cfg.diff(&snaps[1])?;
    let base = provider.base_url();
    assert!(
        diff.contains(&format!("-base_url = \"{base}\"\n")),
        "{diff}"
    );
    assert!(
        diff.contains("+base_url = \"http://127.0.0.1:9/v1\"\n"),
        "{diff}"
    );
    assert!(
        diff.contains("-model = \"mock-model\"\n+model = \"second\"\n"),
        "{diff}"
    );

    let undo = cfg.restore(&snaps[1])?;
    assert_eq!(std::fs::read_to_string(home.config_toml())?, good);
    assert_eq!(cfg.diff(&snaps[1])?, "");
    assert_eq!(cfg.snapshots()?.len(), 3);
    assert_eq!(cfg.snapshots()?.first(), undo.as_ref());

    // --strict-config: Codex rejects any key it does not know; the snapshots beside the file
    // are not read at all.
    let turn = Exec::new("hello")
        .binary(Binary::at(codex()))
        .codex_home(home.path())
        .current_dir(&ws)
        .skip_git_repo_check(true)
        .strict_config(true)
        .timeout(Duration::from_secs(120))
        .run()
        .await?;
    assert_eq!(turn.final_message.as_deref(), Some("restored"));
    assert_eq!(provider.requests().len(), 1);
    assert_eq!(cfg.snapshots()?.len(), 3);
    Ok(())
}
