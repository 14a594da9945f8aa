//! The one-shot sub-command wrappers (`codex_driver::commands`) against the real binary, in an
//! isolated home. Where a command needs a ChatGPT login or the cloud (apply, cloud,
//! remote-control), the test checks the typed failure Codex gives offline.

use crate::common::{Env, codex, processes_with, version};
use codex_driver::commands::Runner;
use codex_driver::commands::apply::{self, Apply};
use codex_driver::commands::cloud::Cloud;
use codex_driver::commands::completion::{Completion, Shell};
use codex_driver::commands::daemon::{self, Daemon, DaemonCommand, RemoteControl};
use codex_driver::commands::debug::DebugModels;
use codex_driver::commands::doctor::{CheckStatus, CodexDoctor};
use codex_driver::commands::features::{self, FeaturesList};
use codex_driver::commands::mcp::{McpAdd, McpGet, McpRemove};
use codex_driver::commands::plugin::{MarketplaceList, PluginList};
use codex_driver::commands::sandbox::{self, Sandbox};
use codex_driver::exec::ReviewTarget;
use codex_driver::mcp::ListedTransport;
use codex_driver::{Binary, Error, ErrorKind, Exec, SpawnOptions};
use codex_driver_testkit::MockResponse;
use std::time::Duration;

fn runner(env: &Env) -> Runner {
    Runner::new(
        SpawnOptions::new()
            .binary(Binary::at(codex()))
            .codex_home(env.home.path())
            .current_dir(env.ws())
            .env_remove("RUST_BACKTRACE"),
    )
    .timeout(Duration::from_secs(90))
}

fn at_least(v: &str) -> bool {
    semver::Version::parse(&version()).unwrap() >= semver::Version::parse(v).unwrap()
}

#[tokio::test]
async fn features_are_listed_set_per_home_and_unknown_names_refused() -> anyhow::Result<()> {
    let env = Env::new(vec![]).await;
    let r = runner(&env);
    let list = r.run(&FeaturesList).await?;
    let off = list
        .iter()
        .find(|f| !f.enabled && f.name != "apps")
        .expect("a feature that is off");
    let on = features::set(&r, &off.name, true).await?;
    assert!(on.enabled, "{on:?}");
    let config = std::fs::read_to_string(env.home.path().join("config.toml"))?;
    assert!(config.contains(&format!("{} = true", off.name)), "{config}");
    let again = features::set(&r, &off.name, false).await?;
    assert!(!again.enabled);
    let before = std::fs::read(env.home.path().join("config.toml"))?;
    let err = features::set(&r, "no_such_feature", true)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("unknown feature `no_such_feature`") && msg.contains(&off.name),
        "{msg}"
    );
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(std::fs::read(env.home.path().join("config.toml"))?, before);
    Ok(())
}

#[tokio::test]
async fn mcp_servers_are_added_read_and_removed_through_codex() -> anyhow::Result<()> {
    let env = Env::new(vec![]).await;
    let r = runner(&env);
    r.run(&McpAdd::stdio("docs", "my-server", ["--port", "7"]))
        .await?;
    r.run(&McpAdd::http("remote", "https://mcp.example.com/mcp").bearer_token_env_var("MCP_TOKEN"))
        .await?;
    let docs = r
        .run(&McpGet {
            name: "docs".into(),
        })
        .await?;
    assert_eq!(docs.name, "docs");
    assert!(
        matches!(&docs.transport, ListedTransport::Stdio { command, args, .. }
            if command == "my-server" && args == &["--port", "7"]),
        "{docs:?}"
    );
    let remote = r
        .run(&McpGet {
            name: "remote".into(),
        })
        .await?;
    assert!(
        matches!(&remote.transport, ListedTransport::StreamableHttp { url, bearer_token_env_var: Some(v), .. }
            if url == "https://mcp.example.com/mcp" && v == "MCP_TOKEN"),
        "{remote:?}"
    );
    r.run(&McpRemove {
        name: "docs".into(),
    })
    .await?;
    let err = r
        .run(&McpGet {
            name: "docs".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("docs"), "{err}");
    Ok(())
}

#[tokio::test]
async fn completion_models_and_doctor_are_typed() -> anyhow::Result<()> {
    let env = Env::new(vec![]).await;
    let r = runner(&env);
    let script = r.run(&Completion { shell: Shell::Zsh }).await?;
    assert!(
        script.starts_with("#compdef codex"),
        "{}",
        &script[..80.min(script.len())]
    );
    let models = r.run(&DebugModels { bundled: true }).await?;
    assert!(!models.is_empty());
    assert!(
        models
            .iter()
            .all(|m| !m.slug.is_empty() && !m.supported_reasoning_levels.is_empty()),
        "{models:#?}"
    );
    if !at_least("0.153.0") {
        let err = r.run(&CodexDoctor::default()).await.unwrap_err();
        assert!(
            matches!(&err, Error::Unsupported { option, .. } if option == "codex doctor"),
            "{err:?}"
        );
        return Ok(());
    }
    let report = r.run(&CodexDoctor::default()).await?;
    assert_eq!(report.schema_version, 1);
    assert_eq!(report.codex_version, version());
    assert_eq!(report.checks["config.load"].status, CheckStatus::Ok);
    assert!(
        report
            .checks
            .iter()
            .all(|(id, c)| *id == c.id && !c.summary.is_empty()),
        "{report:#?}"
    );
    Ok(())
}

#[tokio::test]
async fn the_sandbox_lets_the_workspace_be_written_and_denies_the_rest() -> anyhow::Result<()> {
    let env = Env::new(vec![]).await;
    let r = runner(&env);
    let outside = env.home.path().join("outside.txt");
    let inside = env.ws().join("inside.txt");
    let write = |path: &std::path::Path| {
        Sandbox::new(["sh", "-c", &format!("echo hi > '{}'", path.display())]).cd(env.ws())
    };
    let ok = sandbox::run(&r, &write(&inside).permission_profile(":workspace")).await?;
    assert!(ok.success(), "{ok:?}");
    assert_eq!(std::fs::read_to_string(&inside)?, "hi\n");
    let denied = sandbox::run(&r, &write(&outside).permission_profile(":workspace")).await?;
    assert!(!denied.success(), "{denied:?}");
    assert!(
        denied.stderr.contains("Read-only file system"),
        "{denied:?}"
    );
    assert!(!outside.exists());
    let ro = sandbox::run(&r, &write(&inside).permission_profile(":read-only")).await?;
    assert!(
        !ro.success() && ro.stderr.contains("Read-only file system"),
        "{ro:?}"
    );
    Ok(())
}

#[tokio::test]
async fn cloud_commands_without_a_chatgpt_login_fail_as_auth() -> anyhow::Result<()> {
    let env = Env::new(vec![]).await;
    std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(env.ws())
        .status()?;
    let r = runner(&env);
    let err = apply::run(
        &r,
        &Apply {
            task_id: "task_e_1".into(),
        },
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    let err = r
        .run(&Cloud::List {
            env: None,
            limit: Some(1),
            cursor: None,
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(err.to_string().contains("codex login"), "{err}");
    Ok(())
}

#[tokio::test]
async fn plugins_and_the_daemon_where_the_release_has_them() -> anyhow::Result<()> {
    let env = Env::new(vec![]).await;
    let r = runner(&env);
    if !at_least("0.153.0") {
        let err = r.run(&PluginList::default()).await.unwrap_err();
        assert!(
            matches!(&err, Error::Unsupported { option, required, .. }
                if option == "codex plugin list" && required.starts_with("Codex 0.153.4")),
            "{err:?}"
        );
        return Ok(());
    }
    let plugins = r
        .run(&PluginList {
            available: false,
            marketplace: None,
        })
        .await?;
    assert!(plugins.installed.is_empty(), "{plugins:?}");
    assert!(r.run(&MarketplaceList).await?.marketplaces.is_empty());

    assert_eq!(daemon::status(&r).await?, None);
    r.run(&Daemon(DaemonCommand::Start)).await?;
    let running = daemon::status(&r).await?.expect("a running daemon");
    assert!(running.running(), "{running:?}");
    assert_eq!(running.cli_version.as_deref(), Some(version().as_str()));
    let stopped = daemon::stop(&r).await?.expect("a status");
    assert_eq!(stopped.status, "stopped");
    let marker = env.home.path().to_string_lossy().into_owned();
    assert!(
        crate::common::eventually(Duration::from_secs(5), || processes_with(&marker)
            .is_empty())
        .await,
        "left running: {:?}",
        processes_with(&marker)
    );
    // Remote control needs a ChatGPT login: a typed failure, nothing left running.
    let err = r.run(&RemoteControl::Status).await.unwrap_err();
    assert!(matches!(err, Error::Command { .. }), "{err:?}");
    daemon::stop(&r).await.ok();
    assert!(
        crate::common::eventually(Duration::from_secs(5), || processes_with(&marker)
            .is_empty())
        .await,
        "left running: {:?}",
        processes_with(&marker)
    );
    Ok(())
}

#[tokio::test]
async fn exec_review_streams_a_review_of_uncommitted_changes() -> anyhow::Result<()> {
    let env = Env::new(vec![MockResponse::text("Looks fine.")]).await;
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(env.ws())
            .status()
    };
    git(&["init", "-q"])?;
    std::fs::write(env.ws().join("a.txt"), "new\n")?;
    let turn = env
        .configure(Exec::review(ReviewTarget::Uncommitted))
        .run()
        .await?;
    assert_eq!(turn.final_message.as_deref(), Some("Looks fine."));
    let texts = env.provider.requests()[0].user_texts();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("staged, unstaged, and untracked")),
        "{texts:?}"
    );
    let err = env
        .configure(Exec::review(ReviewTarget::Uncommitted).with_prompt("focus"))
        .args()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config, "{err}");
    Ok(())
}
