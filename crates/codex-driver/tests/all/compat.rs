//! The compatibility suite: one test per area, run against whichever release `CODEX_BINARY`
//! is. `scripts/compat VERSION` runs it for one release; CI runs the whole suite on the
//! default release and this one on every other release of `CODEX_VERSIONS`.
//!
//! A test a release cannot support is skipped, printing the reason the capability probe gives
//! (`SKIP compat::<area> on Codex <release>: <reason>`). With `COMPAT_REPORT=<file>`, each test
//! appends one line `{"release", "area", "outcome": "pass"|"skip"|"fail", "reason"}`: what
//! `scripts/compat` summarizes and the README's support table is generated from.

use crate::app_server::{params, server, stop};
use crate::common::{Env, codex, tmp_base, touch_needing_approval};
use codex_driver::app_server::approvals::{ApprovalRequest, Decision, DenyAll, approval_fn};
use codex_driver::app_server::protocol::{
    CLIENT_METHOD_ABSENT_UNTIL, ModelProviderDefaultSetParams, SandboxMode, ServerNotification,
};
use codex_driver::auth::login::{CliLoginStatus, Login, login_status};
use codex_driver::config::ConfigFile;
use codex_driver::conversation::{Conversation, ExecConversation};
use codex_driver::home::CodexHome;
use codex_driver::mcp::{self, McpServer};
use codex_driver::mcp_server::{AnyConversation, CodexMcp, SessionOptions};
use codex_driver::notify::{Notification, NotifySpool};
use codex_driver::probe::{Capabilities, Prober};
use codex_driver::sessions::SessionIndex;
use codex_driver::sessions::replay::Replay;
use codex_driver::sessions::rollout::EventMsg;
use codex_driver::spawn::SpawnOptions;
use codex_driver::{Binary, Error, Exec, ThreadEvent};
use codex_driver_testkit::MockResponse;
use serde_json::json;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// One area's run: recorded as passed, skipped (with a reason) or, if dropped before either
/// (a failed assertion), failed.
struct Area {
    name: &'static str,
    release: String,
    done: bool,
}

impl Area {
    async fn start(name: &'static str) -> (Self, Capabilities) {
        let cache = tmp_base().join("compat-probe-cache");
        let caps = Prober::new()
            .cache_dir(Some(cache))
            .probe(&Binary::at(codex()))
            .await
            .unwrap_or_else(|e| panic!("probing {}: {e}", codex().display()));
        let area = Self {
            name,
            release: caps.version.to_string(),
            done: false,
        };
        (area, caps)
    }

    fn record(&self, outcome: &str, reason: &str) {
        let Some(path) = std::env::var_os("COMPAT_REPORT") else {
            return;
        };
        let line = json!({"release": self.release, "area": self.name, "outcome": outcome, "reason": reason});
        // One write of one line, appended: concurrent tests don't interleave.
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .unwrap();
        f.write_all(format!("{line}\n").as_bytes()).unwrap();
    }

    fn pass(mut self) {
        self.done = true;
        self.record("pass", "");
    }

    fn skip(mut self, reason: &str) {
        self.done = true;
        eprintln!(
            "SKIP compat::{} on Codex {}: {reason}",
            self.name, self.release
        );
        self.record("skip", reason);
    }
}

impl Drop for Area {
    fn drop(&mut self) {
        if !self.done {
            self.record("fail", "see the test's output");
        }
    }
}

/// `exec --json`: a streamed message turn, typed from start to end, with usage.
#[tokio::test]
async fn exec_streaming() -> anyhow::Result<()> {
    let (area, _) = Area::start("exec streaming").await;
    let env = Env::new(vec![
        MockResponse::new()
            .reasoning("thinking")
            .message("Hello")
            .usage(100, 10, 20, 5),
    ])
    .await;
    let mut stream = env.exec("say hello").stream().await?;
    let mut kinds = Vec::new();
    let mut usage = None;
    while let Some(ev) = stream.next_event().await {
        let ev = ev?;
        if let ThreadEvent::TurnCompleted(t) = &ev {
            usage = Some((t.usage.input_tokens, t.usage.output_tokens));
        }
        kinds.push(ev.type_name().to_owned());
    }
    assert_eq!(kinds.first().map(String::as_str), Some("thread.started"));
    assert!(kinds.iter().any(|k| k == "turn.started"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "item.completed"), "{kinds:?}");
    assert_eq!(kinds.last().map(String::as_str), Some("turn.completed"));
    assert_eq!(usage, Some((100, 20)));
    area.pass();
    Ok(())
}

/// `exec resume` continues the thread with its history; `exec fork` branches it.
#[tokio::test]
async fn resume_and_fork() -> anyhow::Result<()> {
    let (area, caps) = Area::start("resume/fork").await;
    let env = Env::new(vec![
        MockResponse::text("first answer"),
        MockResponse::text("second answer"),
        MockResponse::text("forked answer"),
    ])
    .await;
    let first = env.exec("first question").run().await?;
    let id = first.thread_id.clone().unwrap_or_default();
    let second = env.configure(Exec::resume(&id, "second")).run().await?;
    assert_eq!(second.thread_id.as_deref(), Some(id.as_str()));
    assert_eq!(second.final_message.as_deref(), Some("second answer"));
    let texts = env.provider.requests()[1].user_texts();
    assert!(texts.iter().any(|t| t == "first question"), "{texts:?}");
    if !caps.exec_commands.contains("fork") {
        // The builder refuses it before spawning, naming the option and the version.
        let err = env
            .configure(Exec::fork(&id, "branch"))
            .capabilities(caps.clone())
            .run()
            .await
            .err();
        assert!(
            matches!(&err, Some(Error::Unsupported { option, .. }) if option == "exec fork"),
            "{err:?}"
        );
        area.skip("exec fork: this release's `exec --help` lists no `fork` subcommand (refused before spawning, tested)");
        return Ok(());
    }
    let forked = env.configure(Exec::fork(&id, "branch")).run().await?;
    assert_ne!(forked.thread_id.as_deref(), Some(id.as_str()));
    assert_eq!(forked.final_message.as_deref(), Some("forked answer"));
    area.pass();
    Ok(())
}

/// `--output-schema`: the schema reaches the model request; the final message is the JSON.
#[tokio::test]
async fn structured_output() -> anyhow::Result<()> {
    let (area, caps) = Area::start("structured output").await;
    if !caps.exec_flags.contains("--output-schema") {
        area.skip("`exec --help` lists no --output-schema");
        return Ok(());
    }
    let env = Env::new(vec![MockResponse::text(r#"{"answer":42}"#)]).await;
    let schema = json!({
        "type": "object",
        "properties": {"answer": {"type": "integer"}},
        "required": ["answer"],
        "additionalProperties": false
    });
    let file = env.ws().join("schema.json");
    std::fs::write(&file, schema.to_string())?;
    let turn = env.exec("the answer?").output_schema(&file).run().await?;
    assert_eq!(turn.final_message.as_deref(), Some(r#"{"answer":42}"#));
    let body = env.provider.requests()[0].body.clone();
    assert_eq!(body["text"]["format"]["schema"], schema, "{body}");
    area.pass();
    Ok(())
}

/// The app-server: a thread, a streamed turn with deltas, an approval answered by the caller's
/// handler (accepted: the command ran, its result went back to the model), and no drift.
#[tokio::test]
async fn app_server_threads_turns_approvals() -> anyhow::Result<()> {
    let (area, caps) = Area::start("app-server").await;
    if !caps.commands.contains("app-server") {
        area.skip("`codex --help` lists no app-server");
        return Ok(());
    }
    let env = Env::new(vec![
        MockResponse::new().message_chunks(["Hel", "lo"]),
        touch_needing_approval("approved.txt"),
        MockResponse::text("done"),
    ])
    .await;
    let asked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = asked.clone();
    let codex = server(&env)
        .approval_handler(approval_fn(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async { Decision::Accept }
        }))
        .spawn()
        .await?;
    let mut thread = codex
        .start_thread(params(&env, "untrusted", SandboxMode::ReadOnly))
        .await?;
    let mut turn = thread.turn("greet me").await?;
    let mut deltas = Vec::new();
    while let Some(ev) = turn.next_event().await {
        if let ServerNotification::ItemAgentMessageDelta(d) = ev? {
            deltas.push(d.delta);
        }
    }
    assert_eq!(deltas, ["Hel", "lo"]);
    let out = thread.run("touch a file").await?;
    assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
    // The approved command ran and its result went back to the model (0.130 reports no
    // command item over the app-server, so the provider is the witness).
    let last = env.provider.requests().last().cloned().unwrap();
    assert_eq!(last.function_call_outputs().len(), 1, "{:?}", last.body);
    assert_eq!(out.final_message.as_deref(), Some("done"));
    // Drift: the server names this release, and it sent nothing the types don't know.
    let drift = codex.drift();
    assert_eq!(drift.server_version, Some(caps.version.clone()));
    assert!(drift.is_none(), "{drift:?}");
    stop(codex).await;
    area.pass();
    Ok(())
}

/// In-process tools (dynamic tools over the app-server): the model calls a Rust closure and
/// answers with its result, and the thread, resumed on a new server, still has the tool.
#[tokio::test]
async fn in_process_tools() -> anyhow::Result<()> {
    use crate::tools::{add_tool, model_calling};
    use codex_driver::app_server::protocol::ThreadResumeParams;
    use codex_driver::tools::Toolbox;
    let (area, caps) = Area::start("in-process tools").await;
    if !caps.commands.contains("app-server") {
        area.skip("`codex --help` lists no app-server");
        return Ok(());
    }
    let env = Env::new(vec![]).await;
    model_calling(&env, "add", json!({"a": 20, "b": 22}));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let tools = Toolbox::new().with(add_tool(Arc::clone(&seen)));
    let codex = server(&env).experimental_api(true).spawn().await?;
    let mut thread = codex
        .start_thread_with_tools(params(&env, "never", SandboxMode::ReadOnly), tools.clone())
        .await?;
    let out = thread.run("add 20 and 22").await?;
    assert_eq!(out.final_message.as_deref(), Some("the tool said: 42"));
    let id = thread.id().to_owned();
    drop(thread);
    stop(codex).await;
    // Codex keeps the thread's tool specs: a new server answers the tool again from `tools`.
    let codex = server(&env).experimental_api(true).spawn().await?;
    let resume = ThreadResumeParams {
        thread_id: id,
        ..Default::default()
    };
    let mut thread = codex.resume_thread_with_tools(resume, tools).await?;
    let out = thread.run("and again").await?;
    assert_eq!(out.final_message.as_deref(), Some("the tool said: 42"));
    assert_eq!(*seen.lock().unwrap(), [(20, 22), (20, 22)]);
    drop(thread);
    stop(codex).await;
    // `codex exec`: the same tools through an in-process MCP server.
    crate::tools::exec_tools_over_mcp().await?;
    area.pass();
    Ok(())
}

/// The throughput fleet: `for_throughput()`'s `-c` overrides are accepted (0.130 knows no
/// `skill_search` and ignores the key), a command still runs, and no shell snapshot is taken.
#[tokio::test]
async fn throughput_fleet() -> anyhow::Result<()> {
    let (area, caps) = Area::start("throughput fleet").await;
    if !caps.commands.contains("app-server") {
        area.skip("`codex --help` lists no app-server");
        return Ok(());
    }
    crate::app_server::throughput_fleet_runs_a_command().await?;
    area.pass();
    Ok(())
}

/// Budgets: an app-server turn is interrupted when its token reports cross `max_budget`.
#[tokio::test]
async fn cost_and_budgets() -> anyhow::Result<()> {
    let (area, caps) = Area::start("cost and budgets").await;
    if !caps.commands.contains("app-server") {
        area.skip("`codex --help` lists no app-server");
        return Ok(());
    }
    crate::cost::interrupted_past_the_budget().await?;
    area.pass();
    Ok(())
}

/// Provider routing: a turn failing on an outage is retried on the next provider in the same
/// thread (exec everywhere; the app-server where the release can reload a thread, else a typed
/// refusal).
#[tokio::test]
async fn provider_routing() -> anyhow::Result<()> {
    let (area, _) = Area::start("provider routing").await;
    crate::routing::exec_second_turn_case().await?;
    crate::routing::app_server_case().await?;
    area.pass();
    Ok(())
}

/// Hooks as callbacks: a `PreToolUse` callback blocks a command (the model reads why), and
/// the session-start, prompt and stop callbacks observe.
#[tokio::test]
async fn hooks_as_callbacks() -> anyhow::Result<()> {
    let (area, _) = Area::start("hooks as callbacks").await;
    crate::hooks::block_case().await;
    area.pass();
    Ok(())
}

/// Record and replay: a turn recorded through the test kit's `Recorder` replays offline from
/// its cassette, event for event.
#[tokio::test]
async fn record_and_replay() -> anyhow::Result<()> {
    let (area, _) = Area::start("record and replay").await;
    crate::vcr::recorded_turn_replays().await;
    area.pass();
    Ok(())
}

/// The same `Conversation` code over exec, the app-server and, where the release has it, the
/// legacy `codex mcp-server`.
#[tokio::test]
async fn conversation_over_both_transports() -> anyhow::Result<()> {
    let (area, caps) = Area::start("conversation").await;
    async fn two(c: &mut impl Conversation) -> anyhow::Result<()> {
        let a = c.send("one").await?;
        let b = c.send("two").await?;
        assert_eq!(a.thread_id, b.thread_id);
        assert_eq!(
            (a.final_message.as_deref(), b.final_message.as_deref()),
            (Some("first"), Some("second"))
        );
        Ok(())
    }
    let script = || vec![MockResponse::text("first"), MockResponse::text("second")];
    let env = Env::new(script()).await;
    two(&mut ExecConversation::new(env.configure(Exec::new("")))).await?;
    if !caps.commands.contains("app-server") {
        area.skip("`codex --help` lists no app-server (exec half passed)");
        return Ok(());
    }
    let env = Env::new(script()).await;
    let codex = server(&env).spawn().await?;
    let mut thread = codex.start_thread(Default::default()).await?;
    two(&mut thread).await?;
    stop(codex).await;
    // Through `connect`, which picks the server this binary has (the app-server on every
    // tested release).
    let env = Env::new(script()).await;
    let spawn = codex_driver::SpawnOptions::new()
        .binary(Binary::at(crate::common::codex()))
        .codex_home(env.home.path())
        .current_dir(env.ws());
    let cwd = Some(env.ws().display().to_string());
    let mut any = codex_driver::mcp_server::connect(spawn, cwd, Arc::new(DenyAll)).await?;
    assert!(matches!(any, AnyConversation::AppServer(_)), "{any:?}");
    two(&mut any).await?;
    drop(any);
    // And over the legacy `codex mcp-server`, where the release has it.
    if caps.commands.contains("mcp-server") {
        let env = Env::new(script()).await;
        let codex = mcp_server(&env).spawn().await?;
        let ws = env.ws().display().to_string();
        two(&mut codex.conversation(SessionOptions::default().cwd(ws))).await?;
        codex.shutdown().await;
    }
    area.pass();
    Ok(())
}

fn mcp_server(env: &Env) -> CodexMcp {
    CodexMcp::new()
        .binary(Binary::at(codex()))
        .codex_home(env.home.path())
        .current_dir(env.ws())
        .env_remove("RUST_BACKTRACE")
}

/// The legacy `codex mcp-server` (0.153.4 and older): a turn's events stream to the caller, an
/// approval (MCP elicitation) goes to the caller's handler: accepted, the command runs; with no
/// handler it is denied and doesn't.
#[tokio::test]
async fn legacy_mcp_server() -> anyhow::Result<()> {
    let (area, caps) = Area::start("mcp-server").await;
    if !caps.commands.contains("mcp-server") {
        // Refused before spawning, naming the command.
        let env = Env::new(vec![]).await;
        let err = mcp_server(&env).spawn().await.err();
        assert!(
            matches!(&err, Some(Error::Unsupported { option, .. }) if option == "mcp-server"),
            "{err:?}"
        );
        area.skip("`codex --help` lists no mcp-server (removed in 0.163; use the app-server)");
        return Ok(());
    }
    let touch = |file: &str| {
        MockResponse::new().exec_command_with(json!({
            "cmd": format!("touch {file}"),
            "sandbox_permissions": "require_escalated",
            "justification": "need to write",
        }))
    };
    let env = Env::new(vec![
        touch("yes.txt"),
        MockResponse::text("done"),
        touch("no.txt"),
        MockResponse::text("not done"),
    ])
    .await;
    let options = || {
        SessionOptions::default()
            .cwd(env.ws().display().to_string())
            .sandbox("read-only")
            .approval_policy("on-request")
    };
    let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = asked.clone();
    let codex = mcp_server(&env)
        .approval_handler(approval_fn(move |a| {
            seen.lock().unwrap().push(a.request.clone());
            async { Decision::Accept }
        }))
        .spawn()
        .await?;
    let mut thread = codex.conversation(options());
    let mut events = thread.events();
    let out = thread.send("touch yes.txt").await?;
    assert_eq!(out.final_message.as_deref(), Some("done"));
    assert!(
        env.ws().join("yes.txt").exists(),
        "the approved command ran"
    );
    match asked.lock().unwrap().as_slice() {
        [ApprovalRequest::LegacyExecCommand(p)] => {
            assert_eq!(p.command.last().map(String::as_str), Some("touch yes.txt"));
            assert_eq!(Some(p.conversation_id.as_str()), thread.thread_id());
        }
        other => panic!("{other:?}"),
    }
    let mut kinds = Vec::new();
    while let Ok(ev) = events.try_recv() {
        kinds.push(match ev.msg {
            EventMsg::TaskStarted(_) => "task_started".to_owned(),
            EventMsg::TaskComplete(_) => "task_complete".to_owned(),
            EventMsg::Other { kind, .. } => kind,
            _ => continue,
        });
    }
    for k in [
        "task_started",
        "exec_approval_request",
        "exec_command_begin",
        "task_complete",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} not in {kinds:?}");
    }
    codex.shutdown().await;

    // Deny by default.
    let codex = mcp_server(&env).spawn().await?;
    let out = codex.conversation(options()).send("touch no.txt").await?;
    assert_eq!(out.final_message.as_deref(), Some("not done"));
    assert!(
        !env.ws().join("no.txt").exists(),
        "the denied command did not run"
    );
    codex.shutdown().await;

    // Cancelled by token while the model is slow: the turn ends at once, the server goes on,
    // and shutting it down leaves no process.
    let env = Env::new(vec![
        MockResponse::text("too late").delay_before(Duration::from_secs(60)),
    ])
    .await;
    let codex = mcp_server(&env).spawn().await?;
    let pid = codex.pid();
    let mut thread =
        codex.conversation(SessionOptions::default().cwd(env.ws().display().to_string()));
    let token = tokio_util::sync::CancellationToken::new();
    thread.cancel_token(token.clone());
    let started = std::time::Instant::now();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        token.cancel();
    });
    let out = thread.send("take your time").await;
    assert!(matches!(out, Err(Error::Cancelled)), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(30));
    codex.shutdown().await;
    assert!(
        crate::common::eventually(Duration::from_secs(5), || !codex_driver::group_alive(pid)).await,
        "mcp-server {pid} survived its shutdown"
    );
    area.pass();
    Ok(())
}

/// The notify hook's payload, as this release sends it, read through the spool.
#[tokio::test]
async fn notify_payloads() -> anyhow::Result<()> {
    let (area, _) = Area::start("notify").await;
    let env = Env::new(vec![MockResponse::text("noted")]).await;
    let home = CodexHome::isolated(env.home.path());
    let dir = tempfile::Builder::new()
        .prefix("compat-notify-")
        .tempdir_in(tmp_base())?;
    let mut spool = NotifySpool::create(dir.path().join("spool"))?;
    spool.install(&home)?;
    let turn = env.exec("note this").run().await?;
    let got = tokio::time::timeout(Duration::from_secs(20), spool.next()).await;
    match got {
        Ok(Ok(Notification::AgentTurnComplete(t))) => {
            assert_eq!(Some(t.thread_id), turn.thread_id);
            assert_eq!(t.input_messages, ["note this"]);
            assert_eq!(t.last_assistant_message.as_deref(), Some("noted"));
        }
        other => panic!("{other:?}"),
    }
    area.pass();
    Ok(())
}

/// The session index finds the run's thread, and its rollout replays into the events exec
/// printed.
#[tokio::test]
async fn rollout_and_session_reading() -> anyhow::Result<()> {
    let (area, _) = Area::start("sessions").await;
    let env = Env::new(vec![MockResponse::text("recorded")]).await;
    let turn = env.exec("remember me").run().await?;
    let id = turn.thread_id.clone().unwrap_or_default();
    let index = SessionIndex::new(&CodexHome::new(env.home.path()));
    let info = index
        .get(&id)?
        .unwrap_or_else(|| panic!("{id} not in the index"));
    assert_eq!(info.title.as_deref(), Some("remember me"));
    assert_eq!(
        info.cwd.map(|c| c.canonicalize()).transpose()?,
        Some(env.ws().canonicalize()?)
    );
    let mut kinds = Vec::new();
    let mut last_message = None;
    for ev in Replay::open(&info.path)? {
        let ev = ev?;
        if let ThreadEvent::ItemCompleted(i) = &ev
            && let codex_driver::ItemDetails::AgentMessage(m) = &i.item.details
        {
            last_message = Some(m.text.clone());
        }
        kinds.push(ev.type_name().to_owned());
    }
    assert_eq!(kinds.first().map(String::as_str), Some("thread.started"));
    assert_eq!(kinds.last().map(String::as_str), Some("turn.completed"));
    assert_eq!(last_message.as_deref(), Some("recorded"));
    area.pass();
    Ok(())
}

/// What the library writes under `[mcp_servers]`, `codex mcp list --json` reads.
#[tokio::test]
async fn mcp_config_round_trip() -> anyhow::Result<()> {
    let (area, _) = Area::start("mcp config").await;
    let dir = tempfile::Builder::new()
        .prefix("compat-mcp-")
        .tempdir_in(tmp_base())?;
    let home = CodexHome::isolated(dir.path().join("home")).materialize()?;
    let mut cfg = ConfigFile::for_home(&home)?;
    mcp::set_server(
        &mut cfg,
        "docs",
        &McpServer::stdio("docs-server", ["--stdio"]),
    )?;
    mcp::set_server(
        &mut cfg,
        "web",
        &McpServer::http("https://mcp.example.invalid/mcp"),
    )?;
    cfg.save()?;
    let listed = mcp::list_via_codex(&Binary::at(codex()), &home).await?;
    let names: Vec<&str> = listed.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["docs", "web"]);
    area.pass();
    Ok(())
}

/// `codex login --with-api-key` then `codex login status`, through the library.
#[tokio::test]
async fn login_status_after_an_api_key_login() -> anyhow::Result<()> {
    let (area, _) = Area::start("login status").await;
    let dir = tempfile::Builder::new()
        .prefix("compat-login-")
        .tempdir_in(tmp_base())?;
    let home = dir.path().join("home");
    std::fs::create_dir(&home)?;
    std::fs::write(
        home.join("config.toml"),
        "cli_auth_credentials_store = \"file\"\n",
    )?;
    let opts = SpawnOptions::new()
        .binary(Binary::at(codex()))
        .codex_home(&home)
        .env_remove("OPENAI_API_KEY");
    assert_eq!(login_status(&opts).await?, CliLoginStatus::LoggedOut);
    let key = "sk-compat-0123456789abcdef";
    Login::api_key(key.into())
        .spawn_options(opts.clone())
        .start()
        .await?
        .wait()
        .await?;
    assert_eq!(
        login_status(&opts).await?,
        CliLoginStatus::ApiKey {
            masked: "sk-compa***bcdef".into()
        }
    );
    area.pass();
    Ok(())
}

/// Options are refused before spawning exactly when the binary's help lacks them, a binary
/// older than the supported range is refused outright, and an app-server method the release
/// lacks is refused before it is sent.
#[tokio::test]
async fn capability_guards() -> anyhow::Result<()> {
    let (area, caps) = Area::start("capability guards").await;
    let probes: [(&str, Exec); 4] = [
        ("--worktree", Exec::new("x").worktree(true)),
        ("--strict-config", Exec::new("x").strict_config(true)),
        ("--ephemeral", Exec::new("x").ephemeral(true)),
        ("--remote", Exec::new("x").remote("ws://127.0.0.1:1")),
    ];
    for (flag, exec) in probes {
        let listed = caps.exec_flags.contains(flag);
        let refused = exec.check_capabilities(&caps).is_err();
        assert_eq!(
            refused, !listed,
            "{flag}: listed {listed}, refused {refused}"
        );
    }
    // A binary older than the range: refused before spawning, on every transport, naming
    // both versions; with the opt-in it runs (and warns).
    let env = Env::new(vec![MockResponse::text("ran anyway")]).await;
    let too_old = Binary::at(codex()).with_version(semver::Version::new(0, 129, 0));
    let err = env.exec("x").binary(too_old.clone()).run().await.err();
    assert!(
        matches!(&err, Some(Error::BinaryTooOld { found, supported, .. })
            if found.to_string() == "0.129.0" && supported == codex_driver::SUPPORTED_CODEX),
        "{err:?}"
    );
    let message = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.contains("0.129.0") && message.contains(">=0.130.0"),
        "{message}"
    );
    let err = server(&env).binary(too_old.clone()).spawn().await.err();
    assert!(matches!(err, Some(Error::BinaryTooOld { .. })), "{err:?}");
    assert!(env.provider.requests().is_empty(), "nothing ran");
    let ran = env
        .exec("x")
        .binary(too_old)
        .allow_unsupported(true)
        .run()
        .await?;
    assert_eq!(ran.final_message.as_deref(), Some("ran anyway"));

    // An app-server method this release lacks (0.171's `modelProvider/default/set`, by the
    // method lists of the tested releases) is refused before it is sent; where the release
    // has it, it works.
    let codex = server(&env).spawn().await?;
    let set = ModelProviderDefaultSetParams {
        provider_id: "openai".into(),
        ..Default::default()
    };
    let absent_until = CLIENT_METHOD_ABSENT_UNTIL
        .iter()
        .find(|(m, _)| *m == "modelProvider/default/set")
        .map(|(_, v)| semver::Version::parse(v))
        .transpose()?;
    match codex.request(&set).await {
        Err(Error::Unsupported { option, found, .. }) => {
            assert_eq!(option, "app-server method `modelProvider/default/set`");
            assert_eq!(found, caps.version);
            assert!(absent_until.is_some_and(|v| caps.version <= v));
        }
        Ok(written) => {
            assert!(absent_until.is_none_or(|v| caps.version > v));
            let config = std::fs::read_to_string(&written.file_path)?;
            assert!(config.contains("model_provider = \"openai\""), "{config}");
        }
        Err(e) => panic!("{e}"),
    }
    stop(codex).await;
    area.pass();
    Ok(())
}

/// The command surface: what `codex completion bash` says this release has is what the
/// checked-in `surface/<release>.txt` says (`UPDATE_SURFACE=1` rewrites it), and the
/// coverage manifest knows every command and flag of it.
#[tokio::test]
async fn command_surface() -> anyhow::Result<()> {
    use codex_driver::surface::{Manifest, Surface};
    let (area, caps) = Area::start("command surface").await;
    let surface = Surface::probe(&Binary::at(codex())).await?;
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("surface")
        .join(format!("{}.txt", caps.version));
    if std::env::var_os("UPDATE_SURFACE").is_some() {
        std::fs::create_dir_all(fixture.parent().unwrap_or(&fixture))?;
        std::fs::write(&fixture, surface.to_text())?;
    }
    let recorded = std::fs::read_to_string(&fixture)
        .map_err(|e| anyhow::anyhow!("{}: {e} (UPDATE_SURFACE=1 writes it)", fixture.display()))?;
    assert_eq!(
        surface.to_text(),
        recorded,
        "the surface of Codex {} changed (UPDATE_SURFACE=1 rewrites {})",
        caps.version,
        fixture.display()
    );
    let gaps = Manifest::builtin()?.check(&surface).gaps();
    assert!(gaps.is_empty(), "not in coverage.toml: {gaps:#?}");
    area.pass();
    Ok(())
}
