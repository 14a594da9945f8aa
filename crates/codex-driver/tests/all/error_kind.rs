//! `Error::kind()` on real failures of the real Codex: a refused key, a provider outage, a
//! config Codex rejects, a missing binary, and what a sandbox denial is (and is not).

use crate::common::{Env, codex};
use codex_driver::app_server::AppServer;
use codex_driver::events::CommandExecutionStatus;
use codex_driver::exec::SandboxMode;
use codex_driver::{Binary, Error, ErrorKind, Exec, ItemDetails};
use codex_driver_testkit::MockResponse;
use serde_json::json;
use std::time::Duration;

const BAD_KEY: &str = r#"{"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}}"#;

/// Enough copies of one fault for Codex's retries.
fn faults(status: u16, body: &str) -> Vec<MockResponse> {
    vec![MockResponse::http_error(status, body); 8]
}

async fn app_server_turn(env: &Env) -> anyhow::Result<Error> {
    let codex = AppServer::new()
        .binary(Binary::at(codex()))
        .codex_home(env.home.path())
        .current_dir(env.ws())
        .kill_grace(Duration::from_millis(500))
        .spawn()
        .await?;
    let mut thread = codex.start_thread(Default::default()).await?;
    let err = thread.run("x").await.err();
    codex.shutdown().await?;
    err.ok_or_else(|| anyhow::anyhow!("the turn succeeded"))
}

#[tokio::test]
async fn a_refused_key_is_auth() -> anyhow::Result<()> {
    let env = Env::new(faults(401, BAD_KEY)).await;
    let err = env.exec("x").run().await.err();
    let err = err.ok_or_else(|| anyhow::anyhow!("exec succeeded"))?;
    assert_eq!(
        (err.kind(), err.http_status()),
        (ErrorKind::Auth, Some(401)),
        "{err:?}"
    );

    let env = Env::new(faults(401, BAD_KEY)).await;
    let err = app_server_turn(&env).await?;
    assert_eq!(
        (err.kind(), err.http_status()),
        (ErrorKind::Auth, Some(401)),
        "{err:?}"
    );
    match &err {
        Error::TurnFailed { info, .. } => assert_eq!(
            info.as_deref(),
            Some(&json!({"httpConnectionFailed": {"httpStatusCode": 401}}))
        ),
        other => panic!("{other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn a_provider_outage_is_provider() -> anyhow::Result<()> {
    let env = Env::new(faults(503, "unavailable")).await;
    let err = env.exec("x").run().await.err();
    let err = err.ok_or_else(|| anyhow::anyhow!("exec succeeded"))?;
    assert_eq!(
        (err.kind(), err.http_status()),
        (ErrorKind::Provider, Some(503)),
        "{err:?}"
    );
    // A 500 is reworded by Codex ("high demand") and carries no status in exec's stream.
    let env = Env::new(faults(500, "boom")).await;
    let err = env.exec("x").run().await.err();
    let err = err.ok_or_else(|| anyhow::anyhow!("exec succeeded"))?;
    assert_eq!(
        (err.kind(), err.http_status()),
        (ErrorKind::Provider, None),
        "{err:?}"
    );
    let env = Env::new(faults(429, r#"{"error":{"message":"Rate limit reached"}}"#)).await;
    let err = app_server_turn(&env).await?;
    assert_eq!(
        (err.kind(), err.http_status()),
        (ErrorKind::Provider, Some(429)),
        "{err:?}"
    );
    let env = Env::new(faults(500, "boom")).await;
    let err = app_server_turn(&env).await?;
    match &err {
        Error::TurnFailed { info, .. } => {
            assert_eq!(info.as_deref(), Some(&json!("internalServerError")))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.kind(), ErrorKind::Provider);
    Ok(())
}

#[tokio::test]
async fn a_config_codex_rejects_is_config() -> anyhow::Result<()> {
    let env = Env::new(vec![]).await;
    let config = env.home.path().join("config.toml");
    // Not TOML: refused before Codex starts, naming the file, line and column.
    std::fs::write(&config, "model = [unclosed\n")?;
    let err = env.exec("x").run().await.err();
    match &err {
        Some(
            e @ Error::ConfigFile {
                path,
                line,
                column,
                detail,
            },
        ) => {
            assert_eq!((path, *line, *column), (&config, Some(1), Some(18)));
            assert_eq!(detail, "unclosed array, expected `]`");
            assert_eq!(e.kind(), ErrorKind::Config);
        }
        other => panic!("{other:?}"),
    }
    // TOML that Codex refuses: its own words, as a Config error.
    let original = env.provider.config_toml();
    std::fs::write(
        &config,
        format!("model_context_window = \"big\"\n{original}"),
    )?;
    let err = env.exec("x").run().await.err();
    match &err {
        Some(e @ Error::Config { message, .. }) => {
            assert!(
                message.starts_with("Error loading config.toml"),
                "{message}"
            );
            assert_eq!(e.kind(), ErrorKind::Config);
        }
        other => panic!("{other:?}"),
    }
    // A missing binary is not a config problem, nor a missing working directory a binary one.
    let err = Exec::new("x")
        .binary_path("/nonexistent/codex")
        .run()
        .await
        .err();
    assert_eq!(err.map(|e| e.kind()), Some(ErrorKind::Binary));
    let err = env
        .exec("x")
        .current_dir("/nonexistent/workdir")
        .run()
        .await
        .err();
    assert_eq!(
        err.map(|e| (e.kind(), e.to_string())),
        Some((
            ErrorKind::Config,
            "invalid options: the working directory /nonexistent/workdir does not exist or is not a directory".to_owned()
        ))
    );
    Ok(())
}

/// A write the sandbox refuses fails that command, which the model sees; the turn goes on and
/// is no `Error` (`ErrorKind::Sandbox` is for Codex reporting its sandbox itself failed).
#[tokio::test]
async fn a_sandbox_denial_fails_the_command_not_the_turn() -> anyhow::Result<()> {
    let marker = crate::common::tmp_base().join("sandbox-denied-marker");
    let _ = std::fs::remove_file(&marker);
    let env = Env::new(vec![
        MockResponse::new().exec_command(format!("touch {}", marker.display())),
        MockResponse::text("done"),
    ])
    .await;
    let turn = env
        .exec("x")
        .sandbox(SandboxMode::ReadOnly)
        .config("approval_policy", "never")
        .run()
        .await?;
    let commands: Vec<(CommandExecutionStatus, Option<i32>, bool)> = turn
        .items
        .iter()
        .filter_map(|i| match &i.details {
            ItemDetails::CommandExecution(c) => Some((
                c.status.clone(),
                c.exit_code,
                c.aggregated_output.contains("Read-only file system"),
            )),
            _ => None,
        })
        .collect();
    // Codex reports the command as an item, except when its unified exec finished it before
    // the first yield (seen with 0.171.0 on an idle machine): then only the model sees it.
    assert!(
        commands.is_empty() || commands == [(CommandExecutionStatus::Failed, Some(1), true)],
        "{commands:?}"
    );
    let outputs: Vec<String> = env
        .provider
        .requests()
        .iter()
        .flat_map(|r| r.function_call_outputs())
        .collect();
    assert!(
        outputs.len() == 1
            && outputs[0].contains("Process exited with code 1")
            && outputs[0].contains("Read-only file system"),
        "{outputs:?}"
    );
    assert!(!marker.exists());
    assert_eq!(turn.final_message.as_deref(), Some("done"));
    Ok(())
}
