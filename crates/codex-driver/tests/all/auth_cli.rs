//! Codex's login commands through `auth::login`, against the real binary in isolated homes that
//! keep credentials in files (`cli_auth_credentials_store = "file"`): API-key login, status and
//! logout; device-code login against the mock issuer; the browser login's prompt and cancel.

use crate::common::{codex, eventually, tmp_base};
use crate::login::{callback_listening, callback_port};
use codex_driver::auth::Secret;
use codex_driver::auth::login::{self, CliLoginStatus, Login, LoginPrompt};
use codex_driver::home::CodexHome;
use codex_driver::{Binary, Error, SpawnOptions, TimeoutKind, group_alive};
use codex_driver_testkit::{IssuerOptions, MOCK_USER_CODE, MockIssuer};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

const FILE_STORE: &str = "cli_auth_credentials_store = \"file\"\n";

struct Home {
    _dir: tempfile::TempDir,
    home: CodexHome,
}

fn file_home(extra_config: &str) -> Home {
    let dir = tempfile::Builder::new()
        .prefix("auth-cli-")
        .tempdir_in(tmp_base())
        .unwrap();
    let home = CodexHome::isolated(dir.path().join("home"))
        .materialize()
        .unwrap();
    std::fs::write(home.config_toml(), format!("{FILE_STORE}{extra_config}")).unwrap();
    Home { _dir: dir, home }
}

fn opts(h: &CodexHome) -> SpawnOptions {
    SpawnOptions::new()
        .binary(Binary::at(codex()))
        .codex_home(h.path())
}

fn issuer_opts(h: &CodexHome, issuer: &MockIssuer) -> SpawnOptions {
    issuer
        .env()
        .into_iter()
        .fold(opts(h), |o, (k, v)| o.env(k, v))
}

fn auth_json(h: &CodexHome) -> Value {
    serde_json::from_slice(&std::fs::read(h.auth_json()).unwrap()).unwrap()
}

fn mode(p: &std::path::Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

/// Whether `needle` appears in any process's command line.
fn in_any_cmdline(needle: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(needle))
    })
}

fn device_polls(issuer: &MockIssuer) -> usize {
    issuer
        .requests()
        .iter()
        .filter(|r| r.path == "/api/accounts/deviceauth/token")
        .count()
}

#[tokio::test]
async fn api_key_login_status_and_logout_in_a_file_home() -> anyhow::Result<()> {
    let h = file_home("");
    let key = format!("sk-test-canary{}xyz12345", std::process::id());
    let o = opts(&h.home);
    // Holding Codex's `auth.lock` keeps the login waiting, so its process can be inspected.
    let held = codex_driver::fsutil::FileLock::acquire(&h.home.path().join("auth.lock"))?;
    let handle = Login::api_key(Secret::new(key.clone()))
        .spawn_options(o.clone())
        .start()
        .await?;
    let pid = handle.pgid().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(group_alive(pid), "the login should wait for auth.lock");
    let environ = std::fs::read(format!("/proc/{pid}/environ"))?;
    let environ = String::from_utf8_lossy(&environ);
    assert!(environ.contains("CODEX_HOME="), "not Codex's environment");
    assert!(environ.contains("RUST_BACKTRACE=0"));
    assert!(!environ.contains(&key), "the key is in Codex's environment");
    assert!(!in_any_cmdline(&key), "the key is in a command line");
    drop(held);

    let done = tokio::time::timeout(Duration::from_secs(30), handle.wait()).await??;
    assert!(done.message.starts_with("API key saved"), "{done:?}");
    assert!(!group_alive(pid));
    assert_eq!(mode(&h.home.auth_json()), 0o600);
    assert_eq!(auth_json(&h.home)["OPENAI_API_KEY"], key.as_str());

    let masked = Secret::new(key.clone()).masked();
    assert_eq!(
        login::login_status(&o).await?,
        CliLoginStatus::ApiKey { masked }
    );
    assert!(login::logout(&o).await?);
    assert!(!h.home.auth_json().exists());
    assert_eq!(login::login_status(&o).await?, CliLoginStatus::LoggedOut);
    assert!(!login::logout(&o).await?);
    Ok(())
}

#[tokio::test]
async fn an_empty_api_key_is_a_typed_login_error() -> anyhow::Result<()> {
    let h = file_home("");
    let err = Login::api_key(Secret::new(""))
        .spawn_options(opts(&h.home))
        .start()
        .await?
        .wait()
        .await
        .unwrap_err();
    match err {
        Error::Login {
            command,
            message,
            store,
        } => {
            assert_eq!(command, "login --with-api-key");
            assert_eq!(message, "No API key provided via stdin.");
            assert_eq!(store, None);
        }
        other => panic!("{other:?}"),
    }
    assert!(!h.home.auth_json().exists());
    Ok(())
}

#[tokio::test]
async fn a_non_jwt_access_token_is_refused_without_echoing_it() -> anyhow::Result<()> {
    let h = file_home("");
    let token = "not-a-jwt-canary-0123456789";
    let err = Login::access_token(Secret::new(token))
        .spawn_options(opts(&h.home))
        .start()
        .await?
        .wait()
        .await
        .unwrap_err();
    let shown = err.to_string();
    assert!(!shown.contains("canary"), "{shown}");
    match err {
        Error::Login {
            command, message, ..
        } => {
            assert_eq!(command, "login --with-access-token");
            assert!(
                message.starts_with("Error logging in with access token:"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!h.home.auth_json().exists());
    Ok(())
}

/// `mcp logout` and `mcp login` failures, without an OAuth server (the lead's MockMcpServer
/// tests cover a real `mcp login`).
#[tokio::test]
async fn mcp_logout_and_a_failing_mcp_login() -> anyhow::Result<()> {
    let h = file_home(
        "mcp_oauth_credentials_store = \"file\"\n[mcp_servers.docs]\nurl = \"http://127.0.0.1:9/mcp\"\n",
    );
    let o = opts(&h.home);
    assert!(!login::mcp_logout(&o, "docs").await?);
    match login::mcp_logout(&o, "nope").await {
        Err(Error::Login {
            command, message, ..
        }) => {
            assert_eq!(command, "mcp logout nope");
            assert_eq!(
                message,
                "Error: No MCP server named 'nope' found in configuration."
            );
        }
        other => panic!("{other:?}"),
    }
    let mut handle = login::McpLogin::new("docs")
        .spawn_options(o)
        .start()
        .await?;
    let pgid = handle.pgid().unwrap();
    assert_eq!(handle.prompt().await, None);
    match handle.wait().await {
        Err(Error::Login { message, store, .. }) => {
            assert!(
                message.starts_with("Error: Metadata error: OAuth metadata discovery failed"),
                "{message}"
            );
            assert_eq!(store, None);
        }
        other => panic!("{other:?}"),
    }
    assert!(!group_alive(pgid));
    Ok(())
}

#[tokio::test]
async fn device_code_login_through_the_cli_against_the_issuer() -> anyhow::Result<()> {
    let issuer = MockIssuer::start().await?;
    let h = file_home(&issuer.config_toml());
    let o = issuer_opts(&h.home, &issuer);
    let mut handle = Login::device_code()
        .issuer(issuer.url())
        .client_id("app_codex_driver_test")
        .spawn_options(o.clone())
        .start()
        .await?;
    let prompt = tokio::time::timeout(Duration::from_secs(30), handle.prompt()).await?;
    assert_eq!(
        prompt,
        Some(LoginPrompt::DeviceCode {
            url: format!("{}/codex/device", issuer.url()),
            code: MOCK_USER_CODE.into()
        })
    );
    let done = tokio::time::timeout(Duration::from_secs(60), handle.wait()).await??;
    assert_eq!(done.message, "Successfully logged in");

    // `--experimental_client-id` reached the issuer.
    let first = &issuer.requests()[0];
    assert_eq!(first.path, "/api/accounts/deviceauth/usercode");
    assert_eq!(first.json().unwrap()["client_id"], "app_codex_driver_test");
    let stored = auth_json(&h.home);
    assert_eq!(stored["auth_mode"], "chatgpt");
    assert_eq!(stored["tokens"]["refresh_token"], "rt-2");
    assert_eq!(stored["tokens"]["account_id"], "acct-mock");
    assert_eq!(mode(&h.home.auth_json()), 0o600);
    assert_eq!(login::login_status(&o).await?, CliLoginStatus::ChatGpt);
    Ok(())
}

#[tokio::test]
async fn cancelling_a_device_code_login_stops_polling_and_leaves_nothing() -> anyhow::Result<()> {
    let issuer = MockIssuer::start_with(IssuerOptions {
        pending_polls: u32::MAX,
        ..Default::default()
    })
    .await?;
    let h = file_home(&issuer.config_toml());
    let mut handle = Login::device_code()
        .issuer(issuer.url())
        .spawn_options(issuer_opts(&h.home, &issuer))
        .start()
        .await?;
    let pgid = handle.pgid().unwrap();
    assert!(matches!(
        handle.prompt().await,
        Some(LoginPrompt::DeviceCode { .. })
    ));
    assert!(eventually(Duration::from_secs(15), || device_polls(&issuer) >= 1).await);
    handle.cancel().await;
    assert!(!group_alive(pgid), "the login's group outlived cancel");
    let at_cancel = device_polls(&issuer);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(device_polls(&issuer) <= at_cancel + 1);
    assert!(!h.home.auth_json().exists());
    Ok(())
}

#[tokio::test]
async fn a_login_past_its_deadline_is_killed() -> anyhow::Result<()> {
    let issuer = MockIssuer::start_with(IssuerOptions {
        pending_polls: u32::MAX,
        ..Default::default()
    })
    .await?;
    let h = file_home(&issuer.config_toml());
    let handle = Login::device_code()
        .issuer(issuer.url())
        .timeout(Duration::from_secs(3))
        .spawn_options(issuer_opts(&h.home, &issuer))
        .start()
        .await?;
    let pgid = handle.pgid().unwrap();
    match handle.wait().await {
        Err(Error::Timeout { kind, after, .. }) => {
            assert_eq!(
                (kind, after),
                (TimeoutKind::Overall, Duration::from_secs(3))
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(!group_alive(pgid));
    assert!(!h.home.auth_json().exists());
    Ok(())
}

/// Codex 0.169's CLI browser login ignores `--experimental_issuer` (only device auth honours
/// it): its URL is OpenAI's, so the mock issuer cannot complete it. What can be checked offline
/// is the prompt and that cancelling frees the callback port and stores nothing.
#[tokio::test]
async fn browser_login_prompt_and_cancel_free_the_callback_port() -> anyhow::Result<()> {
    let _port = callback_port().await;
    let issuer = MockIssuer::start().await?;
    let h = file_home(&issuer.config_toml());
    let mut handle = Login::browser()
        .issuer(issuer.url())
        .spawn_options(issuer_opts(&h.home, &issuer))
        .start()
        .await?;
    let pgid = handle.pgid().unwrap();
    let prompt = tokio::time::timeout(Duration::from_secs(30), handle.prompt()).await?;
    let Some(LoginPrompt::Browser { url }) = prompt else {
        panic!("{prompt:?}");
    };
    assert!(
        url.starts_with("https://auth.openai.com/oauth/authorize?"),
        "{url}"
    );
    assert!(
        url.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A1455%2Fauth%2Fcallback"),
        "{url}"
    );
    assert!(eventually(Duration::from_secs(5), callback_listening).await);
    handle.cancel().await;
    assert!(!group_alive(pgid));
    assert!(eventually(Duration::from_secs(10), || !callback_listening()).await);
    assert!(issuer.requests().is_empty());
    assert!(!h.home.auth_json().exists());
    Ok(())
}
