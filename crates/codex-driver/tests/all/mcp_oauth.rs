//! MCP OAuth against the real Codex: `codex mcp login` through the test kit's OAuth-protected
//! MCP server (discovery, dynamic registration, PKCE, loopback callback), the tokens in
//! `.credentials.json`, then a turn whose tool call carries the bearer token. Then the same
//! through the library: [`McpLogin`], `mcp_tokens::{load, materialize}` across file and keyring
//! homes, [`mcp_logout`], and refresh-token rotation seen through the stores.
//!
//! The keyring tests need a Secret Service: run them under `scripts/with-keyring` (or
//! `scripts/test`), e.g. `scripts/with-keyring cargo test -p codex-driver --test all mcp_oauth`.

use crate::common::{Env, codex};
use codex_driver::auth::login::{McpLogin, mcp_logout};
use codex_driver::auth::mcp_tokens::{self, Materialized};
use codex_driver::auth::store::MCP_OAUTH_SERVICE;
use codex_driver::auth::{self, McpTokens, StoreKind};
use codex_driver::{Binary, CodexHome, SpawnOptions};
use codex_driver_testkit::{McpCall, McpOAuthOptions, MockMcpServer, MockResponse};
use serde_json::{Value, json};
use sha2::Digest;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

/// Codex's MCP store key: `name|` + 16 hex of sha256 of `{"type":"http","url":…,"headers":{}}`.
fn store_key(name: &str, url: &str) -> String {
    let j = format!(
        "{{\"type\":\"http\",\"url\":{},\"headers\":{{}}}}",
        Value::String(url.into())
    );
    let hex: String = sha2::Sha256::digest(j.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{name}|{}", &hex[..16])
}

#[tokio::test]
async fn codex_logs_in_to_an_oauth_mcp_server_and_uses_its_token() -> anyhow::Result<()> {
    let server = MockMcpServer::start_with_oauth(McpOAuthOptions::default()).await?;
    let env = Env::new(vec![
        MockResponse::new().mcp_tool_call("docs", "echo", json!({"text": "hello with OAuth"})),
        MockResponse::text("echoed"),
    ])
    .await;
    let config = env.home.path().join("config.toml");
    let provider = std::fs::read_to_string(&config)?;
    // Top level, before any table: after a header it would be a field of that table.
    std::fs::write(
        &config,
        format!(
            "mcp_oauth_credentials_store = \"file\"\n{provider}\n{}",
            server.config_toml("docs")
        ),
    )?;

    let mut login = tokio::process::Command::new(codex())
        .args(["mcp", "login", "docs"])
        .env("CODEX_HOME", env.home.path())
        .env("BROWSER", "true") // never a real browser, even on a desktop
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("RUST_BACKTRACE")
        .current_dir(env.ws())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut stdout = BufReader::new(login.stdout.take().expect("stdout")).lines();
    let mut seen = Vec::new();
    let url = tokio::time::timeout(Duration::from_secs(60), async {
        while let Some(line) = stdout.next_line().await? {
            seen.push(line.clone());
            let prompted = seen
                .iter()
                .any(|l| l.contains("Authorize `docs` by opening this URL in your browser:"));
            if let Some(u) = line.split_whitespace().find(|w| w.starts_with("http"))
                && prompted
            {
                return Ok::<_, std::io::Error>(Some(u.to_owned()));
            }
        }
        Ok(None)
    })
    .await??
    .ok_or_else(|| anyhow::anyhow!("no authorize URL in {seen:?}"))?;
    assert!(url.starts_with(&format!(
        "{}/authorize?",
        server.url().trim_end_matches("/mcp")
    )));

    let landed = server.approve_in_browser(&url).await?;
    assert!(landed.starts_with("http://127.0.0.1:"), "{landed}");

    let mut rest = String::new();
    while let Some(line) = stdout.next_line().await? {
        rest.push_str(&line);
        rest.push('\n');
    }
    let mut stderr = String::new();
    login
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .await?;
    let status = tokio::time::timeout(Duration::from_secs(30), login.wait()).await??;
    assert!(status.success(), "{status}: {rest}\n{stderr}");
    assert!(
        rest.contains("Successfully logged in to MCP server 'docs'."),
        "{rest}\n{stderr}"
    );

    // The tokens, where `file` mode keeps them.
    let creds = env.home.path().join(".credentials.json");
    assert_eq!(
        std::fs::metadata(&creds)?.permissions().mode() & 0o777,
        0o600
    );
    let stored: Value = serde_json::from_slice(&std::fs::read(&creds)?)?;
    let key = store_key("docs", &server.url());
    let entry = &stored[&key];
    assert_eq!(entry["client_id"], "mock-client-id", "{key} in {stored}");
    assert_eq!(entry["server_url"], server.url().as_str());
    assert_eq!(
        entry["access_token"].as_str(),
        server.current_access_token().as_deref()
    );
    assert_eq!(
        entry["refresh_token"].as_str(),
        server.current_refresh_token().as_deref()
    );
    // The exchange carried the PKCE verifier and the code from the redirect.
    let exchange = server
        .oauth_requests()
        .into_iter()
        .find(|r| r.path == "/token")
        .ok_or_else(|| anyhow::anyhow!("no token request"))?;
    assert_eq!(exchange.form["grant_type"], "authorization_code");
    assert!(exchange.form.contains_key("code_verifier"));

    // Codex found the server by its 401 challenge.
    assert_eq!(server.presented_authorizations().first(), Some(&None));

    // A turn: Codex presents the stored token, and the tool runs.
    let turn = env.exec("use the tool").run().await?;
    assert_eq!(turn.final_message.as_deref(), Some("echoed"));
    assert_eq!(
        server.calls(),
        [McpCall {
            tool: "echo".into(),
            arguments: json!({"text": "hello with OAuth"})
        }]
    );
    let bearer = format!(
        "Bearer {}",
        server.current_access_token().unwrap_or_default()
    );
    assert!(
        server
            .presented_authorizations()
            .iter()
            .any(|a| a.as_deref() == Some(bearer.as_str())),
        "{:?}",
        server.presented_authorizations()
    );
    Ok(())
}

/// The session keyring must answer: these tests prove keyring mode, so a missing one fails them.
fn require_keyring() {
    if let Err(e) = auth::keyring::probe() {
        panic!(
            "no usable Secret Service for the MCP OAuth keyring tests ({e}); run them through \
             scripts/with-keyring (or scripts/test)"
        );
    }
}

/// A home (with its own provider) whose model calls `docs`'s `echo` once, then says `echoed`.
/// `store` is its `mcp_oauth_credentials_store`; `server` adds the server's table.
async fn oauth_env(store: &str, server: Option<&MockMcpServer>, text: &str) -> Env {
    let env = Env::new(vec![
        MockResponse::new().mcp_tool_call("docs", "echo", json!({ "text": text })),
        MockResponse::text("echoed"),
    ])
    .await;
    let config = env.home.path().join("config.toml");
    let provider = std::fs::read_to_string(&config).unwrap();
    let table = server.map(|s| s.config_toml("docs")).unwrap_or_default();
    // Top level, before any table: after a header it would be a field of that table.
    std::fs::write(
        &config,
        format!("mcp_oauth_credentials_store = \"{store}\"\n{provider}\n{table}"),
    )
    .unwrap();
    env
}

/// [`Materialized`] is `non_exhaustive`: its fields, whole.
fn parts(m: Materialized) -> (StoreKind, StoreKind, bool) {
    (m.from, m.to, m.configured)
}

fn home_of(env: &Env) -> CodexHome {
    CodexHome::new(env.home.path())
}

fn spawn_in(env: &Env) -> SpawnOptions {
    SpawnOptions::new()
        .binary(Binary::at(codex()))
        .codex_home(env.home.path())
        .env_remove("RUST_BACKTRACE")
}

/// `codex mcp login docs` through [`McpLogin`], the browser played by the server.
async fn library_login(env: &Env, server: &MockMcpServer) -> String {
    let mut handle = McpLogin::new("docs")
        .binary(Binary::at(codex()))
        .codex_home(env.home.path())
        .env("BROWSER", "true") // never a real browser, even on a desktop
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .timeout(Duration::from_secs(90))
        .start()
        .await
        .unwrap();
    let url = tokio::time::timeout(Duration::from_secs(60), handle.prompt())
        .await
        .unwrap()
        .expect("Codex printed no authorize URL");
    assert!(
        url.starts_with(&format!(
            "{}/authorize?",
            server.url().trim_end_matches("/mcp")
        )),
        "{url}"
    );
    server.approve_in_browser(&url).await.unwrap();
    handle.wait().await.unwrap().message
}

/// The tokens the server issued last, as Codex's file entry for `docs` would hold them
/// (`expires_at` taken from `stored`, which only Codex knows to the millisecond).
fn issued(server: &MockMcpServer, stored: &McpTokens) -> McpTokens {
    McpTokens::from_file_entry(&json!({
        "server_name": "docs",
        "server_url": server.url(),
        "issuer": server.url().trim_end_matches("/mcp"),
        "client_id": "mock-client-id",
        "access_token": server.current_access_token(),
        "refresh_token": server.current_refresh_token(),
        "expires_at": stored.expires_at_ms,
        "scopes": ["read"],
    }))
    .unwrap()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A turn in `env` whose `echo` call reached the server carrying the current access token.
async fn tool_call_with_bearer(env: &Env, server: &MockMcpServer, text: &str) {
    let (calls, presented) = (
        server.calls().len(),
        server.presented_authorizations().len(),
    );
    let turn = env.exec("use the tool").run().await.unwrap();
    assert_eq!(turn.final_message.as_deref(), Some("echoed"));
    assert_eq!(
        server.calls()[calls..],
        [McpCall {
            tool: "echo".into(),
            arguments: json!({ "text": text })
        }]
    );
    // The server answers /mcp only with a token it issued and has not rotated away, so the
    // successful call proves the token; with short-lived tokens Codex may refresh once more
    // after its last request, so the current token need not be among those presented.
    let seen = server.presented_authorizations()[presented..].to_vec();
    assert!(
        seen.iter()
            .any(|a| a.as_deref().is_some_and(|a| a.starts_with("Bearer at-"))),
        "no bearer token among {seen:?}"
    );
}

fn file_map(home: &CodexHome) -> Value {
    serde_json::from_slice(&std::fs::read(home.credentials_json()).unwrap()).unwrap()
}

#[tokio::test]
async fn library_login_materializes_file_to_keyring_to_file_and_logs_out() {
    require_keyring();
    let server = MockMcpServer::start_with_oauth(McpOAuthOptions::default())
        .await
        .unwrap();
    let key = store_key("docs", &server.url());

    // 1. Login through the wrapper, file store.
    let a = oauth_env("file", Some(&server), "from a").await;
    let message = library_login(&a, &server).await;
    assert_eq!(message, "Successfully logged in to MCP server 'docs'.");
    let (tokens, from) = mcp_tokens::load(&home_of(&a), "docs").unwrap().unwrap();
    assert_eq!(from, StoreKind::File);
    assert_eq!(tokens, issued(&server, &tokens));
    assert_eq!(tokens.key(), key);
    let expires = tokens.expires_at_ms.unwrap();
    assert!(
        (now_ms() + 3_500_000..now_ms() + 3_600_001).contains(&expires),
        "expires_at {expires} is not about an hour from now, in milliseconds"
    );
    let a_file = file_map(&home_of(&a));
    assert_eq!(
        a_file.as_object().unwrap().keys().collect::<Vec<_>>(),
        [&key]
    );

    // 2. File -> a keyring home that does not configure the server yet.
    let b = oauth_env("keyring", None, "from b").await;
    assert_eq!(
        parts(mcp_tokens::materialize(&home_of(&a), &home_of(&b), "docs").unwrap()),
        (StoreKind::File, StoreKind::Keyring, true)
    );
    assert_eq!(
        mcp_tokens::load(&home_of(&b), "docs").unwrap(),
        Some((tokens.clone(), StoreKind::Keyring))
    );
    let secret = auth::keyring::get(MCP_OAUTH_SERVICE, &key)
        .unwrap()
        .unwrap();
    let item: Value = serde_json::from_str(secret.expose()).unwrap();
    assert_eq!(McpTokens::from_keyring_value(&item).as_ref(), Some(&tokens));
    tool_call_with_bearer(&b, &server, "from b").await;
    assert!(!home_of(&b).credentials_json().exists());

    // 3. Keyring -> a file home: Codex's own file shape, byte for byte the entry Codex wrote in a.
    let c = oauth_env("file", None, "from c").await;
    assert_eq!(
        parts(mcp_tokens::materialize(&home_of(&b), &home_of(&c), "docs").unwrap()),
        (StoreKind::Keyring, StoreKind::File, true)
    );
    let c_creds = home_of(&c).credentials_json();
    assert_eq!(
        std::fs::metadata(&c_creds).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(file_map(&home_of(&c)), a_file);
    tool_call_with_bearer(&c, &server, "from c").await;

    // Keyring MCP logins are shared: the item is per server (name and URL), not per home, so
    // any keyring home that configures the server is logged in, without a copy.
    let d = oauth_env("keyring", Some(&server), "from d").await;
    assert_eq!(
        mcp_tokens::load(&home_of(&d), "docs").unwrap(),
        Some((tokens.clone(), StoreKind::Keyring))
    );

    // 4. Logout in the keyring home removes the one shared item: every keyring home that
    // configures the server is logged out with it (d too). File homes keep their own copies.
    assert!(mcp_logout(&spawn_in(&b), "docs").await.unwrap());
    assert_eq!(auth::keyring::get(MCP_OAUTH_SERVICE, &key).unwrap(), None);
    assert_eq!(mcp_tokens::load(&home_of(&b), "docs").unwrap(), None);
    assert_eq!(mcp_tokens::load(&home_of(&d), "docs").unwrap(), None);
    assert_eq!(
        mcp_tokens::load(&home_of(&c), "docs").unwrap(),
        Some((tokens, StoreKind::File))
    );
    assert!(!mcp_logout(&spawn_in(&b), "docs").await.unwrap());
}

/// The HTTP status of a form POST to `path` on `server`'s host (a plain HTTP/1.1 client).
async fn post_form_status(server: &MockMcpServer, path: &str, body: &str) -> u16 {
    use tokio::io::AsyncWriteExt;
    let url = server.url();
    let host = url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&host).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    tcp.read_to_string(&mut response).await.unwrap();
    response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {response:?}"))
}

#[tokio::test]
async fn refreshed_tokens_go_back_to_the_store_that_ran_and_materialize_copies_them() {
    require_keyring();
    // Tokens live 5 s; Codex refreshes within 30 s of expiry whenever a client starts.
    let server = MockMcpServer::start_with_oauth(McpOAuthOptions {
        expires_in: 5,
        ..McpOAuthOptions::default()
    })
    .await
    .unwrap();
    let a = oauth_env("file", Some(&server), "from a").await;
    library_login(&a, &server).await;
    let (first, _) = mcp_tokens::load(&home_of(&a), "docs").unwrap().unwrap();
    assert_eq!(first, issued(&server, &first));
    let old_refresh = first.refresh_token.as_ref().unwrap().expose().to_owned();

    // A turn in the file home refreshes (rotating the refresh token) and writes back there.
    tool_call_with_bearer(&a, &server, "from a").await;
    let refreshes = server
        .oauth_requests()
        .iter()
        .filter(|r| {
            r.path == "/token"
                && r.form.get("grant_type").map(String::as_str) == Some("refresh_token")
        })
        .count();
    assert!(refreshes >= 1, "{:?}", server.oauth_requests());
    let (rotated, from) = mcp_tokens::load(&home_of(&a), "docs").unwrap().unwrap();
    assert_eq!(from, StoreKind::File);
    assert_eq!(rotated, issued(&server, &rotated));
    assert_ne!(
        rotated.refresh_token.as_ref().unwrap().expose(),
        old_refresh
    );
    // The server now rejects the old refresh token as reused: a copy taken before the turn
    // would be dead.
    assert_eq!(
        post_form_status(
            &server,
            "/token",
            &format!(
                "grant_type=refresh_token&refresh_token={old_refresh}&client_id=mock-client-id"
            )
        )
        .await,
        400
    );

    // Materializing afterwards copies the new tokens, and they work (and rotate again, in the
    // keyring this time).
    let b = oauth_env("keyring", None, "from b").await;
    assert_eq!(
        parts(mcp_tokens::materialize(&home_of(&a), &home_of(&b), "docs").unwrap()),
        (StoreKind::File, StoreKind::Keyring, true)
    );
    assert_eq!(
        mcp_tokens::load(&home_of(&b), "docs").unwrap(),
        Some((rotated.clone(), StoreKind::Keyring))
    );
    tool_call_with_bearer(&b, &server, "from b").await;
    let (again, from) = mcp_tokens::load(&home_of(&b), "docs").unwrap().unwrap();
    assert_eq!(from, StoreKind::Keyring);
    assert_eq!(again, issued(&server, &again));
    assert_ne!(again.refresh_token, rotated.refresh_token);
    assert!(!home_of(&b).credentials_json().exists());
    // a's file copy is now stale: its refresh token was rotated away by b's turn.
    assert_eq!(
        mcp_tokens::load(&home_of(&a), "docs").unwrap(),
        Some((rotated, StoreKind::File))
    );
    assert!(mcp_logout(&spawn_in(&b), "docs").await.unwrap());
}
