//! The app-server client over `--listen` transports: WebSocket with a capability token, unix socket.

use crate::app_server::params;
use crate::common::{Env, codex};
use codex_driver::Error;
use codex_driver::app_server::protocol::SandboxMode;
use codex_driver::app_server::{AppServer, AppServerClient};
use codex_driver_testkit::MockResponse;
use std::time::Duration;

/// A `codex app-server --listen …` process of the test's own, killed (group) on drop.
struct Listener {
    _child: tokio::process::Child,
    pgid: u32,
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(self.pgid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
}

fn listen(env: &Env, args: &[&str]) -> Listener {
    let child = tokio::process::Command::new(codex())
        .arg("app-server")
        .args(args)
        .env("CODEX_HOME", env.home.path())
        .current_dir(env.ws())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pgid = child.id().unwrap();
    Listener {
        _child: child,
        pgid,
    }
}

async fn retry<F, Fut>(mut f: F) -> codex_driver::Result<AppServerClient>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = codex_driver::Result<AppServerClient>>,
{
    let mut last = None;
    for _ in 0..100 {
        match f().await {
            Ok(c) => return Ok(c),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(last.unwrap())
}

/// `codex app-server --listen ws://127.0.0.1:<free port>` requiring capability `token`; its
/// URL.
fn ws_listener(env: &Env, token: &str) -> (Listener, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let token_file = env.ws().join("token");
    std::fs::write(&token_file, token).unwrap();
    let url = format!("ws://127.0.0.1:{port}");
    let server = listen(
        env,
        &[
            "--listen",
            &url,
            "--ws-auth",
            "capability-token",
            "--ws-token-file",
            token_file.to_str().unwrap(),
        ],
    );
    (server, url)
}

#[tokio::test]
async fn connects_over_websocket_with_a_capability_token() -> anyhow::Result<()> {
    let env = Env::new(vec![MockResponse::text("over ws")]).await;
    let (_server, url) = ws_listener(&env, "s3cret-capability");
    let codex = retry(|| AppServer::new().connect_ws(&url, Some("s3cret-capability"))).await?;
    let mut thread = codex
        .start_thread(params(&env, "never", SandboxMode::ReadOnly))
        .await?;
    assert_eq!(
        thread.run("hi").await?.final_message.as_deref(),
        Some("over ws")
    );
    // A wrong token is refused at the handshake, and the error doesn't echo it.
    let err = AppServer::new()
        .connect_ws(&url, Some("wrong-token"))
        .await
        .err()
        .unwrap();
    assert!(!err.to_string().contains("wrong-token"), "{err}");
    assert!(
        matches!(err, Error::AppServerClosed { ref method, .. } if method == "connect"),
        "{err}"
    );
    codex.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn connects_over_a_unix_socket() -> anyhow::Result<()> {
    let env = Env::new(vec![MockResponse::text("over uds")]).await;
    let sock = env.ws().join("as.sock");
    let _server = listen(&env, &["--listen", &format!("unix://{}", sock.display())]);
    let codex = retry(|| AppServer::new().connect_unix(&sock, None)).await?;
    let mut thread = codex
        .start_thread(params(&env, "never", SandboxMode::ReadOnly))
        .await?;
    assert_eq!(
        thread.run("hi").await?.final_message.as_deref(),
        Some("over uds")
    );
    codex.shutdown().await?;
    Ok(())
}

/// `codex exec --remote` (0.171+): the turn runs on a listening app-server, the token passed
/// by the name of its variable.
#[tokio::test]
async fn exec_runs_its_turn_on_a_listening_app_server() -> anyhow::Result<()> {
    let caps = codex_driver::probe::Prober::new()
        .probe(&codex_driver::Binary::at(codex()))
        .await?;
    if !caps.exec_flags.contains("--remote") {
        eprintln!(
            "SKIPPED: Codex {}'s `exec --help` has no --remote",
            caps.version
        );
        return Ok(());
    }
    let env = Env::new(vec![MockResponse::text("through the server")]).await;
    let (_server, url) = ws_listener(&env, "exec-remote-capability");
    // Up once a client gets through.
    retry(|| AppServer::new().connect_ws(&url, Some("exec-remote-capability")))
        .await?
        .shutdown()
        .await?;
    let turn = env
        .exec("hello over the wire")
        .capabilities(caps)
        .remote(&url)
        .remote_auth_token_env("CODEX_TEST_REMOTE_TOKEN")
        .env("CODEX_TEST_REMOTE_TOKEN", "exec-remote-capability")
        .run()
        .await?;
    assert_eq!(turn.final_message.as_deref(), Some("through the server"));
    let id = turn.thread_id.unwrap();
    let saved = codex_driver::sessions::find(&codex_driver::CodexHome::new(env.home.path()), &id)?;
    assert_eq!(saved.map(|s| s.thread_id), Some(id));
    Ok(())
}
