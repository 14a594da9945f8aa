//! ChatGPT logins against the testkit's mock issuer, through the real Codex: device-code login,
//! token refresh, and copy-back keeping homes that share one login from reusing a refresh token.

use crate::common::{codex, tmp_base};
use codex_driver::app_server::protocol::CancelLoginAccountStatus;
use codex_driver::app_server::{AppServer, AppServerClient};
use codex_driver::auth::{self, SyncOutcome};
use codex_driver::env::SpawnEnv;
use codex_driver::home::CodexHome;
use codex_driver::{Binary, Error};
use codex_driver_testkit::{IssuerOptions, MOCK_API_KEY, MOCK_USER_CODE, MockIssuer};
use serde_json::Value;
use std::time::Duration;

fn home(name: &str, base: &tempfile::TempDir, issuer: &MockIssuer) -> CodexHome {
    let h = CodexHome::isolated(base.path().join(name))
        .materialize()
        .unwrap();
    // Keep Codex's ChatGPT backend calls on loopback too.
    std::fs::write(h.config_toml(), issuer.config_toml()).unwrap();
    h
}

async fn server(h: &CodexHome, issuer: &MockIssuer) -> AppServerClient {
    let mut env = SpawnEnv::new();
    for (k, v) in issuer.env() {
        env.set(k, v);
    }
    AppServer::new()
        .binary(Binary::at(codex()))
        .codex_home(h.path())
        .spawn_env(env)
        .request_timeout(Duration::from_secs(60))
        .kill_grace(Duration::from_millis(500))
        .spawn()
        .await
        .unwrap()
}

/// Codex's browser-login callback listens on a fixed port (1455) and cancels whatever login
/// already holds it, so browser logins take turns: within this process (the mutex) and across
/// processes on the machine (a lock file), e.g. two checkouts testing at once.
static CALLBACK_PORT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub(crate) async fn callback_port() -> (
    tokio::sync::MutexGuard<'static, ()>,
    codex_driver::fsutil::FileLock,
) {
    let local = CALLBACK_PORT.lock().await;
    let path = std::env::temp_dir().join("codex-driver-tests-port-1455.lock");
    let file = tokio::task::spawn_blocking(move || codex_driver::fsutil::FileLock::acquire(&path))
        .await
        .unwrap()
        .unwrap();
    (local, file)
}

/// Whether something accepts connections on Codex's login callback port.
pub(crate) fn callback_listening() -> bool {
    std::net::TcpStream::connect(("127.0.0.1", 1455)).is_ok()
}

fn auth_json(h: &CodexHome) -> Value {
    serde_json::from_slice(&std::fs::read(h.auth_json()).unwrap()).unwrap()
}

fn refresh_token(h: &CodexHome) -> String {
    let v: Value = serde_json::from_slice(&std::fs::read(h.auth_json()).unwrap()).unwrap();
    v["tokens"]["refresh_token"].as_str().unwrap().to_owned()
}

fn base() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("login-")
        .tempdir_in(tmp_base())
        .unwrap()
}

#[tokio::test]
async fn synced_homes_share_one_login_without_reusing_a_refresh_token() -> anyhow::Result<()> {
    let issuer = MockIssuer::start().await?;
    let dir = base();
    let source = home("source", &dir, &issuer);
    issuer.write_auth_json(source.path(), false)?;
    let (a, b, stale) = (
        home("a", &dir, &issuer),
        home("b", &dir, &issuer),
        home("stale", &dir, &issuer),
    );
    for h in [&a, &b, &stale] {
        auth::seed(&source, h)?;
    }

    // Codex in home A refreshes: rt-1 is spent, A holds rt-2.
    let codex_a = server(&a, &issuer).await;
    let account = codex_a.account_refreshed().await?;
    codex_a.shutdown().await?;
    assert_eq!(issuer.refreshes(), ["rt-1"]);
    assert_eq!(refresh_token(&a), "rt-2");
    let email = serde_json::to_value(&account)?["account"]["email"].clone();
    assert_eq!(email, "dev@example.com");

    // Copy-back makes rt-2 the shared login; B picks it up before it runs.
    assert_eq!(auth::sync(&a, &source)?, SyncOutcome::CopiedBack);
    assert_eq!(refresh_token(&source), "rt-2");
    assert_eq!(auth::sync(&b, &source)?, SyncOutcome::Refreshed);
    let codex_b = server(&b, &issuer).await;
    codex_b.account_refreshed().await?;
    codex_b.shutdown().await?;
    assert_eq!(issuer.refreshes(), ["rt-1", "rt-2"]);
    assert_eq!(refresh_token(&b), "rt-3");
    assert_eq!(auth::sync(&b, &source)?, SyncOutcome::CopiedBack);

    // A home that was never synced presents the spent rt-1: the issuer calls it reuse.
    let codex_s = server(&stale, &issuer).await;
    let reused = codex_s.account_refreshed().await?;
    codex_s.shutdown().await?;
    assert_eq!(issuer.refreshes(), ["rt-1", "rt-2", "rt-1"]);
    // Codex treats the rejected refresh as signed out.
    assert!(reused.account.is_none() && reused.requires_openai_auth);
    assert_eq!(refresh_token(&stale), "rt-1");
    // Syncing repairs it: the source's newer login wins.
    assert_eq!(auth::sync(&stale, &source)?, SyncOutcome::Refreshed);
    assert_eq!(refresh_token(&stale), "rt-3");
    Ok(())
}

#[tokio::test]
async fn device_code_login_runs_against_the_issuer() -> anyhow::Result<()> {
    let issuer = MockIssuer::start().await?;
    let dir = base();
    let h = home("device", &dir, &issuer);
    let codex = server(&h, &issuer).await;
    let login = codex.login_chatgpt(true).await?;
    assert_eq!(login.user_code(), Some(MOCK_USER_CODE));
    let verify = format!("{}/codex/device", issuer.url());
    assert_eq!(login.verification_url(), Some(verify.as_str()));
    let done = tokio::time::timeout(Duration::from_secs(30), login.wait()).await??;
    assert_eq!((done.success, done.error.as_deref()), (true, None));
    let account = serde_json::to_value(codex.account().await?)?;
    codex.shutdown().await?;
    assert_eq!(
        account["account"],
        serde_json::json!({"type": "chatgpt", "email": "dev@example.com", "planType": "plus"})
    );

    let paths: Vec<String> = issuer.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/api/accounts/deviceauth/usercode",
            "/api/accounts/deviceauth/token",
            "/api/accounts/deviceauth/token",
            "/oauth/token",
        ]
    );
    let exchange = issuer.requests()[3].form();
    assert_eq!(exchange["grant_type"], "authorization_code");
    assert_eq!(exchange["code"], "mock-code-2");
    assert_eq!(exchange["code_verifier"], "mock-verifier");
    assert_eq!(
        exchange["redirect_uri"],
        format!("{}/deviceauth/callback", issuer.url())
    );
    assert!(
        issuer
            .backend_requests()
            .iter()
            .any(|r| r.path == "/backend-api/wham/accounts/check")
    );
    // Codex stored the issued login, owner-only.
    assert_eq!(refresh_token(&h), "rt-2");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(h.auth_json())?.permissions());
    assert_eq!(mode & 0o777, 0o600);
    Ok(())
}

#[tokio::test]
async fn device_code_login_disabled_on_the_issuer_is_a_typed_error() -> anyhow::Result<()> {
    let issuer = MockIssuer::start_with(IssuerOptions {
        device_code_disabled: true,
        ..Default::default()
    })
    .await?;
    let dir = base();
    let h = home("disabled", &dir, &issuer);
    let codex = server(&h, &issuer).await;
    let err = codex.login_chatgpt(true).await.err();
    codex.shutdown().await?;
    match err {
        Some(Error::Rpc {
            method, message, ..
        }) => {
            assert_eq!(method, "account/login/start");
            assert!(
                message.contains("device code login is not enabled"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn cancelling_a_device_code_login_stops_the_polling() -> anyhow::Result<()> {
    let issuer = MockIssuer::start_with(IssuerOptions {
        pending_polls: u32::MAX,
        ..Default::default()
    })
    .await?;
    let dir = base();
    let h = home("cancel", &dir, &issuer);
    let codex = server(&h, &issuer).await;
    let login = codex.login_chatgpt(true).await?;
    let polls = || {
        issuer
            .requests()
            .iter()
            .filter(|r| r.path == "/api/accounts/deviceauth/token")
            .count()
    };
    assert!(crate::common::eventually(Duration::from_secs(10), || polls() >= 1).await);
    assert_eq!(
        login.cancel().await?.status,
        CancelLoginAccountStatus::Canceled
    );
    let at_cancel = polls();
    // The issuer asks for a poll a second; after three seconds at most a poll already under way
    // when the cancel came may have landed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        polls() <= at_cancel + 1,
        "{} polls after {at_cancel}",
        polls()
    );
    assert!(!h.auth_json().exists());
    codex.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn browser_login_completes_through_codexs_callback() -> anyhow::Result<()> {
    let _port = callback_port().await;
    let issuer = MockIssuer::start().await?;
    let dir = base();
    let h = home("browser", &dir, &issuer);
    let codex = server(&h, &issuer).await;
    let login = codex.login_chatgpt(false).await?;
    let url = login.auth_url().unwrap_or_default().to_owned();
    assert!(
        url.starts_with(&format!("{}/oauth/authorize?", issuer.url())),
        "{url}"
    );
    let end = issuer.approve_in_browser(&url).await?;
    assert!(end.contains("/success"), "{end}");
    let done = tokio::time::timeout(Duration::from_secs(30), login.wait()).await??;
    codex.shutdown().await?;
    assert_eq!((done.success, done.error.as_deref()), (true, None));

    let grants: Vec<String> = issuer
        .requests()
        .iter()
        .filter_map(|r| r.field("grant_type"))
        .collect();
    assert_eq!(
        grants,
        [
            "authorization_code",
            "urn:ietf:params:oauth:grant-type:token-exchange"
        ]
    );
    let stored = auth_json(&h);
    assert_eq!(stored["auth_mode"], "chatgpt");
    assert_eq!(stored["OPENAI_API_KEY"], MOCK_API_KEY);
    assert_eq!(stored["tokens"]["refresh_token"], "rt-2");
    assert_eq!(stored["tokens"]["account_id"], "acct-mock");
    Ok(())
}

#[tokio::test]
async fn browser_login_can_be_cancelled() -> anyhow::Result<()> {
    let _port = callback_port().await;
    let issuer = MockIssuer::start().await?;
    let dir = base();
    let h = home("browser-cancel", &dir, &issuer);
    let codex = server(&h, &issuer).await;
    let login = codex.login_chatgpt(false).await?;
    assert!(!login.login_id().is_empty());
    let url = login.auth_url().unwrap_or_default().to_owned();
    assert!(url.contains("redirect_uri="), "{url}");
    assert!(callback_listening());
    assert_eq!(
        login.cancel().await?.status,
        CancelLoginAccountStatus::Canceled
    );
    // The callback server goes away (it may take a moment after the answer); then the browser
    // can no longer complete the login.
    assert!(crate::common::eventually(Duration::from_secs(10), || !callback_listening()).await);
    assert!(issuer.approve_in_browser(&url).await.is_err());
    codex.shutdown().await?;
    assert!(!h.auth_json().exists());
    Ok(())
}
