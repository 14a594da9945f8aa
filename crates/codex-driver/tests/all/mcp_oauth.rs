//! MCP OAuth against the real Codex: `codex mcp login` through the test kit's OAuth-protected
//! MCP server (discovery, dynamic registration, PKCE, loopback callback), the tokens in
//! `.credentials.json`, then a turn whose tool call carries the bearer token.

use crate::common::{Env, codex};
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
