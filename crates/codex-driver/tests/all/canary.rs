//! A canary token planted in every store (a file login, a keyring login, MCP tokens in the file
//! and in the keyring) never shows up where it must not: a log line (every tracing event of the
//! library, captured at TRACE), an error, a `Debug` string, a report, or any process's argv or
//! environment while Codex runs against those homes.

use crate::common::{codex, tmp_base};
use codex_driver::auth::{self, LoginStore, McpTokens, Secret, StoredLogin, login, mcp_tokens};
use codex_driver::home::CodexHome;
use codex_driver::{Binary, SpawnOptions};
use codex_driver_testkit::SecretService;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CANARY: &str = "canary-7f3a9c1e5b2d4f60";

/// Adds a passed canary test to `target/tmp/reliability/` for RELIABILITY.md.
fn record(suite: &str, canaries: &[&str], places: &[&str]) {
    let dir = tmp_base().join("reliability");
    let _ = std::fs::create_dir_all(&dir);
    let r = serde_json::json!({
        "suite": suite,
        "secrets": {"canaries": canaries.len(), "places_checked": places.len(), "leaks": 0},
        "canaries": canaries,
        "places": places,
    });
    let _ = std::fs::write(dir.join(format!("{suite}.json")), r.to_string());
}

/// Every tracing event of this test binary, formatted, from the first call on.
fn captured_logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: std::sync::OnceLock<Arc<Mutex<Vec<u8>>>> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        // Another test may have set one first; then this test's assertion on logs is vacuous
        // and says so.
        if tracing::subscriber::set_global_default(subscriber).is_err() {
            panic!("a global tracing subscriber was already set");
        }
        buf
    })
    .clone()
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The argv and environment of every process on the machine that we may read.
fn every_process_argv_and_env() -> String {
    let mut out = String::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if !e
            .file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
        {
            continue;
        }
        for f in ["cmdline", "environ"] {
            if let Ok(b) = std::fs::read(e.path().join(f)) {
                out.push_str(&String::from_utf8_lossy(&b));
                out.push('\n');
            }
        }
    }
    out
}

fn assert_clean(what: &str, text: &str) {
    assert!(
        !text.contains(CANARY),
        "the canary leaked into {what}: {text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_canary_never_leaks() {
    let logs = captured_logs();
    if let Err(e) = auth::keyring::probe() {
        panic!("no usable Secret Service ({e}); run the tests through scripts/test");
    }
    let dir = tempfile::Builder::new()
        .prefix("canary-")
        .tempdir_in(tmp_base())
        .unwrap();
    let mk = |name: &str, config: &str| {
        let h = CodexHome::isolated(dir.path().join(name))
            .materialize()
            .unwrap();
        std::fs::write(h.config_toml(), config).unwrap();
        h
    };
    let mcp = "[mcp_servers.docs]\nurl = \"http://127.0.0.1:9/mcp\"\n";
    let file = mk(
        "file",
        &format!(
            "cli_auth_credentials_store = \"file\"\nmcp_oauth_credentials_store = \"file\"\n{mcp}"
        ),
    );
    let kr = mk(
        "kr",
        &format!(
            "cli_auth_credentials_store = \"keyring\"\nmcp_oauth_credentials_store = \"keyring\"\n{mcp}"
        ),
    );
    let copy = mk("copy", "cli_auth_credentials_store = \"auto\"\n");

    // Plant it: an API key in the file, a ChatGPT login in the keyring, MCP tokens in both.
    let key = Secret::new(format!("sk-{CANARY}"));
    LoginStore::of(&file)
        .unwrap()
        .save(&StoredLogin::api_key_login(&key))
        .unwrap();
    let chatgpt = StoredLogin::from_slice(
        serde_json::json!({
            "auth_mode": "chatgpt", "OPENAI_API_KEY": null, "last_refresh": "2026-01-01T00:00:00Z",
            "tokens": {"id_token": format!("x.e30.{CANARY}"), "access_token": format!("at-{CANARY}"),
                       "refresh_token": format!("rt-{CANARY}"), "account_id": "acct"},
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    LoginStore::of(&kr).unwrap().save(&chatgpt).unwrap();
    let tokens = McpTokens::from_file_entry(&serde_json::json!({
        "server_name": "docs", "server_url": "http://127.0.0.1:9/mcp", "client_id": "c",
        "access_token": format!("mcp-at-{CANARY}"), "refresh_token": format!("mcp-rt-{CANARY}"),
        "expires_at": 4_000_000_000_000u64, "scopes": ["read"],
    }))
    .unwrap();
    mcp_tokens::save(&file, &tokens).unwrap();
    mcp_tokens::save(&kr, &tokens).unwrap();

    // Everything the library shows about them.
    let mut shown = String::new();
    for h in [&file, &kr] {
        let store = LoginStore::of(h).unwrap();
        shown += &format!("{store:?} {:?}", store.load().unwrap());
        shown += &format!("{:?}", auth::status(h));
        shown += &serde_json::to_string(&auth::status(h)).unwrap();
        shown += &format!("{:?}", auth::summary(h).unwrap());
        shown += &format!("{:?}", mcp_tokens::load(h, "docs").unwrap());
        shown += &format!("{:?}", auth::find_credentials(h).await.unwrap());
        let report = codex_driver::doctor::Report::collect(
            &codex_driver::Resolver::new().explicit(codex()),
            h,
        )
        .await;
        shown += &format!("{report:?}");
        shown += &serde_json::to_string(&report).unwrap();
    }
    shown += &format!("{:?}", auth::seed(&kr, &copy).unwrap());
    shown += &format!("{:?}", auth::sync(&copy, &kr).unwrap());
    shown += &format!(
        "{:?}",
        mcp_tokens::materialize(&file, &copy, "docs").unwrap()
    );
    shown += &format!("{key:?} {key} {chatgpt:?} {tokens:?}");
    assert_clean("what the library shows", &shown);

    // Errors about damaged stores name where, never what.
    let mut errors = String::new();
    std::fs::write(
        file.auth_json(),
        format!("{{\"OPENAI_API_KEY\": \"sk-{CANARY}"),
    )
    .unwrap();
    errors += &format!(
        "{:?} {}",
        auth::status(&file),
        LoginStore::of(&file).unwrap().load().unwrap_err()
    );
    auth::keyring::set(
        auth::store::CLI_AUTH_SERVICE,
        &LoginStore::of(&kr).unwrap().keyring_account(),
        &Secret::new(format!("not json {CANARY}")),
    )
    .unwrap();
    let err = LoginStore::of(&kr).unwrap().load().unwrap_err();
    errors += &format!("{err} {err:?}");
    // A failing Codex login in a keyring home without a Secret Service: Codex's own words.
    let no_ss = SecretService::no_provider().unwrap();
    let mut l = login::Login::api_key(key.clone())
        .binary(Binary::at(codex()))
        .codex_home(kr.path());
    for (k, v) in no_ss.env() {
        l = l.env(k, v);
    }
    let err = l.start().await.unwrap().wait().await.unwrap_err();
    assert_eq!(
        err.kind(),
        codex_driver::ErrorKind::CredentialStore,
        "{err}"
    );
    errors += &format!("{err} {err:?}");
    assert_clean("errors", &errors);

    // While Codex runs against these homes, no process carries the canary in argv or env.
    let mut spawned = Vec::new();
    for h in [&copy, &kr] {
        let opts = SpawnOptions::new()
            .binary(Binary::at(codex()))
            .codex_home(h.path());
        spawned.push(tokio::spawn(
            async move { login::login_status(&opts).await },
        ));
    }
    let server = codex_driver::app_server::AppServer::new()
        .binary(Binary::at(codex()))
        .codex_home(copy.path())
        .request_timeout(Duration::from_secs(60))
        .spawn()
        .await
        .unwrap();
    let mut seen = every_process_argv_and_env();
    let _ = server.account().await;
    seen += &every_process_argv_and_env();
    server.shutdown().await.unwrap();
    for s in spawned {
        let _ = s.await.unwrap();
    }
    assert_clean("a process's argv or environment", &seen);

    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert_clean("the library's logs", &logs);
    // The capture works (so a leak would have been seen).
    tracing::info!("canary log check");
    let logs = String::from_utf8_lossy(&captured_logs().lock().unwrap()).into_owned();
    assert!(logs.contains("canary log check"), "{logs}");

    LoginStore::of(&kr).unwrap().delete().unwrap();
    let _ = mcp_tokens::delete(&kr, "docs");
    record(
        "secrets-stores",
        &[
            "API key login (auth.json)",
            "ChatGPT tokens (auth.json)",
            "login in the keyring",
            "MCP OAuth tokens (file)",
            "MCP OAuth tokens (keyring)",
        ],
        &[
            "Debug and Display of every library type",
            "status, summary and doctor reports (JSON too)",
            "errors about damaged stores",
            "argv and environment of every process",
            "logs at TRACE",
        ],
    );
}

/// Canaries in the environment (Codex's API key, an MCP server's bearer-token variable) and in
/// an MCP server's `http_headers` never show in argv, in the environment of the commands Codex
/// runs (the library excludes Codex's credential variables from it; the caller's other
/// variables pass), in the library's logs (TRACE), errors, `Debug` or a panic message; an override that
/// would put one on the command line is refused, naming the key and not the value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn env_header_and_bearer_canaries_never_leak() {
    use codex_driver::mcp::{self, McpServer, McpTransport};
    use codex_driver_testkit::{MockMcpServer, MockProvider, MockResponse};
    let logs = captured_logs();
    let provider = MockProvider::start(vec![
        MockResponse::new().exec_command("env; echo listed"),
        MockResponse::text("done"),
    ])
    .await
    .unwrap();
    let home = provider.temp_home_in(&tmp_base()).unwrap();
    let ws = tempfile::tempdir_in(tmp_base()).unwrap();
    let docs = MockMcpServer::start().await.unwrap();
    let mut cfg = codex_driver::config::ConfigFile::open(home.path().join("config.toml")).unwrap();
    let mut server = McpServer::http(docs.url());
    if let McpTransport::StreamableHttp {
        http_headers,
        bearer_token_env_var,
        ..
    } = &mut server.transport
    {
        http_headers
            .0
            .insert("X-Api-Key".into(), format!("hdr-{CANARY}"));
        *bearer_token_env_var = Some("DOCS_BEARER".into());
    }
    mcp::set_server(&mut cfg, "docs", &server).unwrap();
    cfg.save().unwrap();
    let exec = codex_driver::Exec::new("list the environment")
        .binary(Binary::at(codex()))
        .codex_home(home.path())
        .current_dir(ws.path())
        .skip_git_repo_check(true)
        .sandbox(codex_driver::exec::SandboxMode::WorkspaceWrite)
        .env("OPENAI_API_KEY", format!("sk-env-{CANARY}"))
        .env("DOCS_BEARER", format!("bearer-{CANARY}"))
        // The caller's own variable: commands may need it (a `gh` token, say), so it passes.
        .env("MY_SERVICE_TOKEN", "not-codex-credential-51c")
        .timeout(Duration::from_secs(120));
    let mut shown = format!("{exec:?} {server:?} {:?}", mcp::servers(&cfg).unwrap());
    let panic = std::panic::catch_unwind(|| panic!("while holding {exec:?}")).unwrap_err();
    shown += panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .unwrap_or("");

    // argv of every process, sampled while the turn runs.
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut argv = String::new();
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                for p in codex_driver_testkit::all_processes() {
                    argv.push_str(&p.cmdline);
                    argv.push('\n');
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            argv
        })
    };
    let result = exec.clone().run().await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let argv = watcher.join().unwrap();
    let result = result.unwrap();
    assert_eq!(result.final_message.as_deref(), Some("done"));
    assert!(
        argv.contains("list the environment") || argv.contains("exec"),
        "the sampler saw Codex"
    );
    assert_clean("a process's argv", &argv);
    // What the command printed is what its environment held.
    let outputs = provider.requests()[1].function_call_outputs().join("\n");
    assert!(outputs.contains("listed"), "{outputs}");
    assert!(
        outputs.contains("MY_SERVICE_TOKEN=not-codex-credential-51c"),
        "{outputs}"
    );
    assert_clean("the environment of a command Codex ran", &outputs);
    shown += &format!("{result:?}");
    assert_clean("what the library shows", &shown);

    // An override that would carry a secret in argv: refused, naming the key only.
    let err = exec
        .config(
            "mcp_servers.docs.http_headers.X-Api-Key",
            format!("hdr-{CANARY}"),
        )
        .run()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), codex_driver::ErrorKind::Config, "{err}");
    let text = format!("{err} {err:?}");
    assert!(
        text.contains("mcp_servers.docs.http_headers.X-Api-Key"),
        "{text}"
    );
    assert_clean("errors", &text);

    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    assert_clean("the library's logs", &logs);
    record(
        "secrets-env-and-mcp",
        &[
            "OPENAI_API_KEY",
            "an MCP bearer_token_env_var variable",
            "an MCP http_headers value",
        ],
        &[
            "argv of every process during a turn",
            "environment of the commands Codex ran",
            "Debug",
            "a panic message",
            "errors",
            "logs at TRACE",
        ],
    );
}
