//! Real app-server responses, one per method, checked in under
//! `tests/fixtures/app-server/<release>/<method>.json` (`{"method", "params", "result"}`), and
//! decoded into their generated `...Response` types: nothing lost on the way back to JSON,
//! nothing left in `extra` or `Unknown`.
//!
//! Re-capture them from the installed Codex (offline: the test kit's provider and MCP server):
//! `cargo test -p codex-driver --test all app_server_fixtures::capture -- --ignored`.
//! Paths and ports of the run are replaced by fixed ones (`/fixture/home`, ...). With
//! `SHOW_UNKNOWN=1` (and `--nocapture`) the decoding tests print what the types did not know
//! instead of asserting it: the list to review when a new release's fixtures come in.

use crate::common::{Env, codex};
use codex_driver::Binary;
use codex_driver::app_server::protocol::{
    self as p, ClientRequest, SCHEMA_RELEASE, TurnStatus, UnknownFields,
};
use codex_driver::app_server::{AppServer, AppServerClient};
use codex_driver::config::ConfigFile;
use codex_driver::home::CodexHome;
use codex_driver::mcp::{self, McpServer};
use codex_driver_testkit::{MockMcpServer, MockResponse};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/app-server")
}

/// The fixtures of the release the types come from: decoded whole, nothing unknown.
fn dir() -> PathBuf {
    root().join(SCHEMA_RELEASE)
}

/// The fixture of `name` (a method, optionally with a `.variant` suffix).
fn load(name: &str) -> Value {
    let path = dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (capture it, see the module docs)", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// JSON without `null` members: an absent `Option` and an explicit `null` decode alike.
fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Decodes `value` as `T` and checks the decoded value says exactly what the JSON said, and
/// that what the types do not know (in `extra` or `Unknown`) is exactly `unknown`.
fn decode_whole<T>(what: &str, value: &Value, unknown: &[&str]) -> T
where
    T: DeserializeOwned + serde::Serialize + UnknownFields,
{
    let typed: T = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("{what}: does not decode: {e}\n{value:#}"));
    let mut found = typed.unknown_fields();
    found.sort();
    let mut unknown = unknown.to_vec();
    unknown.sort();
    if std::env::var_os("SHOW_UNKNOWN").is_some() {
        eprintln!("UNKNOWN {what}: {found:?}");
    } else {
        assert_eq!(found, unknown, "{what}: unknown to the types");
    }
    let back = serde_json::to_value(&typed).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(
        without_nulls(&back),
        without_nulls(value),
        "{what}: changed by a round trip"
    );
    typed
}

/// Decodes fixture `name` of request type `R`: its params, and its result, in which the
/// types know everything.
fn fixture<R>(name: &str) -> R::Response
where
    R: ClientRequest + DeserializeOwned + UnknownFields,
    R::Response: serde::Serialize + UnknownFields,
{
    fixture_with::<R>(name, &[])
}

/// [`fixture`], when the result has fields outside the stable schema: the experimental ones
/// Codex sends to every client (the types come from the stable schema).
fn fixture_with<R>(name: &str, experimental: &[&str]) -> R::Response
where
    R: ClientRequest + DeserializeOwned + UnknownFields,
    R::Response: serde::Serialize + UnknownFields,
{
    let f = load(name);
    assert_eq!(f["method"], R::METHOD, "{name}");
    let _: R = decode_whole(&format!("{name} params"), &f["params"], &[]);
    decode_whole(&format!("{name} result"), &f["result"], experimental)
}

#[test]
fn initialize() {
    // Whole values: the handshake's answer is small.
    let r = fixture::<p::InitializeParams>("initialize");
    assert_eq!(
        r,
        p::InitializeResponse {
            codex_home: "/fixture/home".into(),
            platform_family: "unix".into(),
            platform_os: "linux".into(),
            user_agent: r.user_agent.clone(),
            extra: Default::default(),
        }
    );
    assert!(
        r.user_agent
            .starts_with(&format!("codex_driver/{SCHEMA_RELEASE} ")),
        "{}",
        r.user_agent
    );
}

/// Fields of the experimental API (`generate-json-schema --experimental`) that Codex sends to
/// every client: in each thread object, and beside the thread of `thread/start`/`resume`/`fork`.
const THREAD_EXPERIMENTAL: &[&str] = &[
    "attachedToThreadId",
    "canAcceptDirectInput",
    "daybreakEnabled",
    "environments",
    "extra",
];
const OPENED_EXPERIMENTAL: &[&str] = &[
    "/activePermissionProfile",
    "/multiAgentMode",
    "/runtimeWorkspaceRoots",
];

/// The experimental fields of a thread object at `at`, and `more`.
fn experimental(at: &str, more: &[&str]) -> Vec<String> {
    THREAD_EXPERIMENTAL
        .iter()
        .map(|f| format!("{at}/{f}"))
        .chain(more.iter().map(|m| (*m).to_owned()))
        .collect()
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn thread_namespace() {
    let opened = experimental("/thread", OPENED_EXPERIMENTAL);
    let started = fixture_with::<p::ThreadStartParams>("thread/start", &refs(&opened));
    assert_eq!(started.thread.cwd, "/fixture/workspace");
    assert_eq!(started.model, "mock-model");
    assert_eq!(started.model_provider, "mock");
    assert_eq!(
        started.sandbox,
        p::SandboxPolicy::ReadOnly(p::SandboxPolicyReadOnly {
            network_access: Some(false),
            ..Default::default()
        })
    );
    assert_eq!(started.approval_policy, p::AskForApproval::Never);
    assert_eq!(
        started.thread.status,
        p::ThreadStatus::Idle(Default::default())
    );
    assert!(started.thread.turns.is_empty());
    let id = started.thread.id.clone();

    assert_eq!(
        fixture::<p::ThreadSetNameParams>("thread/name/set"),
        Default::default()
    );
    let read = fixture_with::<p::ThreadReadParams>(
        "thread/read",
        &refs(&experimental("/thread", &["/readState"])),
    )
    .thread;
    assert_eq!(
        (read.id.as_str(), read.name.as_deref()),
        (id.as_str(), Some("fixture thread"))
    );
    assert_eq!(read.turns.len(), 1);
    let turn = &read.turns[0];
    assert_eq!(turn.status, TurnStatus::Completed);
    match turn.items.as_slice() {
        [
            p::ThreadItem::UserMessage(u),
            p::ThreadItem::AgentMessage(a),
        ] => {
            let hello = p::UserInputText {
                text: "hello".into(),
                text_elements: Some(vec![]),
                ..Default::default()
            };
            assert_eq!(u.content, [p::UserInput::Text(hello)]);
            assert_eq!(a.text, "one");
            assert!(a.started_at_ms.is_some() && a.completed_at_ms.is_some());
        }
        other => panic!("{other:?}"),
    }
    let listed = fixture_with::<p::ThreadListParams>(
        "thread/list",
        &refs(&experimental("/data/0", &["/readStates"])),
    );
    assert_eq!(listed.data.iter().map(|t| &t.id).collect::<Vec<_>>(), [&id]);
    let mut turns = fixture::<p::ThreadTurnsListParams>("thread/turns/list").data;
    // The same turn, as a summary.
    assert_eq!(turns[0].items_view, Some(p::TurnItemsView::Summary));
    assert_eq!(read.turns[0].items_view, Some(p::TurnItemsView::Full));
    turns[0].items_view = read.turns[0].items_view.clone();
    assert_eq!(turns, read.turns);
    assert_eq!(
        fixture::<p::ThreadArchiveParams>("thread/archive"),
        Default::default()
    );
    let unarchived = fixture_with::<p::ThreadUnarchiveParams>(
        "thread/unarchive",
        &refs(&experimental("/thread", &[])),
    )
    .thread;
    assert_eq!(unarchived.id, id);
    let resumed = fixture_with::<p::ThreadResumeParams>(
        "thread/resume",
        &refs(&experimental(
            "/thread",
            &[OPENED_EXPERIMENTAL, &["/initialTurnsPage"]].concat(),
        )),
    );
    assert_eq!(resumed.thread.id, id);
    assert_eq!(resumed.thread.turns, read.turns);
    assert_eq!(
        fixture::<p::ThreadCompactStartParams>("thread/compact/start"),
        Default::default()
    );
    let forked = fixture_with::<p::ThreadForkParams>("thread/fork", &refs(&opened));
    assert_ne!(forked.thread.id, id);
    assert_eq!(forked.thread.forked_from_id.as_deref(), Some(id.as_str()));
}

#[test]
fn turn_namespace() {
    let started = fixture::<p::TurnStartParams>("turn/start");
    assert_eq!(started.turn.status, TurnStatus::InProgress);
    assert!(started.turn.items.is_empty());
    let steered = fixture::<p::TurnSteerParams>("turn/steer");
    let slow = fixture::<p::TurnStartParams>("turn/start.slow");
    assert_eq!(steered.turn_id, slow.turn.id);
    assert_eq!(
        fixture::<p::TurnInterruptParams>("turn/interrupt"),
        Default::default()
    );
}

#[test]
fn account_namespace() {
    let signed_out = fixture_with::<p::GetAccountParams>("account/read", &["/workspaceRouting"]);
    assert_eq!(
        signed_out,
        p::GetAccountResponse {
            account: None,
            requires_openai_auth: false,
            user_id: None,
            extra: [("workspaceRouting".to_owned(), Value::Null)]
                .into_iter()
                .collect(),
        }
    );
    assert_eq!(
        fixture::<p::LoginAccountParams>("account/login/start"),
        p::LoginAccountResponse::ApiKey(Default::default())
    );
    assert_eq!(
        fixture::<p::LogoutAccountParams>("account/logout"),
        Default::default()
    );
}

#[test]
fn config_namespace() {
    let read = fixture::<p::ConfigReadParams>("config/read");
    assert_eq!(read.config.model.as_deref(), Some("mock-model"));
    assert_eq!(read.config.model_provider.as_deref(), Some("mock"));
    let written = fixture::<p::ConfigValueWriteParams>("config/value/write");
    assert_eq!(written.status, p::WriteStatus::Ok);
    assert_eq!(written.file_path, "/fixture/home/config.toml");
    let _ = fixture::<p::ConfigRequirementsReadParams>("configRequirements/read");
    let features = fixture::<p::ExperimentalFeatureListParams>("experimentalFeature/list");
    assert!(!features.data.is_empty());
}

#[test]
fn mcp_namespace() {
    let status = fixture::<p::ListMcpServerStatusParams>("mcpServerStatus/list");
    let names: Vec<&str> = status.data.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["mock"]);
    let tools: Vec<&str> = status.data[0].tools.keys().map(String::as_str).collect();
    assert_eq!(tools, ["add", "echo", "fail"]);
}

#[test]
fn model_namespace() {
    let models = fixture::<p::ModelListParams>("model/list");
    assert!(!models.data.is_empty());
    assert!(models.data.iter().all(|m| !m.id.is_empty()));
}

#[test]
fn other_namespaces() {
    let _ = fixture::<p::SkillsListParams>("skills/list");
    let _ = fixture::<p::HooksListParams>("hooks/list");
}

/// Every fixture on disk is decoded by one of the tests above.
#[test]
fn every_fixture_is_checked() {
    let checked = [
        "account/login/start",
        "account/logout",
        "account/read",
        "config/read",
        "config/value/write",
        "configRequirements/read",
        "experimentalFeature/list",
        "hooks/list",
        "initialize",
        "mcpServerStatus/list",
        "model/list",
        "skills/list",
        "thread/archive",
        "thread/compact/start",
        "thread/fork",
        "thread/list",
        "thread/name/set",
        "thread/read",
        "thread/resume",
        "thread/start",
        "thread/turns/list",
        "thread/unarchive",
        "turn/interrupt",
        "turn/start",
        "turn/start.slow",
        "turn/steer",
    ];
    let mut found = Vec::new();
    let mut stack = vec![dir()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Some(rel) = path
                .strip_prefix(dir())
                .ok()
                .and_then(|r| r.to_str())
                .and_then(|r| r.strip_suffix(".json"))
            {
                found.push(rel.to_owned());
            }
        }
    }
    found.sort();
    assert_eq!(found, checked);
}

// ---- capture ------------------------------------------------------------------------------

/// Writes what the real server answers, with the run's paths and ports replaced.
struct Recorder {
    dir: PathBuf,
    replace: Vec<(String, String)>,
}

impl Recorder {
    fn scrub(&self, mut text: String) -> String {
        for (from, to) in &self.replace {
            text = text.replace(from, to);
        }
        text
    }

    fn write(&self, name: &str, method: &str, params: &Value, result: &Value) {
        let text = serde_json::to_string_pretty(
            &json!({"method": method, "params": params, "result": result}),
        )
        .unwrap();
        let path = self.dir.join(format!("{name}.json"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, self.scrub(text) + "\n").unwrap();
    }

    /// Calls `name` and records its answer. A method this release lacks is left out (an older
    /// release's fixtures are whatever it answers).
    async fn try_call(&self, client: &AppServerClient, name: &str, params: Value) -> Option<Value> {
        let method = name.split('.').next().unwrap();
        match client.request_raw(method, params.clone()).await {
            Ok(result) => {
                self.write(name, method, &params, &result);
                Some(result)
            }
            Err(e) => {
                eprintln!("capture: {method} not recorded: {e}");
                None
            }
        }
    }

    async fn call(&self, client: &AppServerClient, name: &str, params: Value) -> Value {
        self.try_call(client, name, params)
            .await
            .unwrap_or_else(|| panic!("{name} failed"))
    }
}

/// `codex app-server` on bare stdio, in `env`.
fn raw_server(env: &Env) -> tokio::process::Child {
    tokio::process::Command::new(codex())
        .arg("app-server")
        .env("CODEX_HOME", env.home.path())
        .current_dir(env.ws())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

/// `initialize` on a raw stdio session: the client's own handshake is not observable.
async fn raw_initialize(env: &Env, rec: &Recorder) {
    let mut child = raw_server(env);
    let params = json!({"clientInfo": {"name": "codex_driver", "version": "0.1.0"}});
    let line = json!({"id": 1, "method": "initialize", "params": params}).to_string() + "\n";
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(line.as_bytes()).await.unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    while let Some(line) = lines.next_line().await.unwrap() {
        let msg: Value = serde_json::from_str(&line).unwrap();
        if msg["id"] == 1 {
            rec.write("initialize", "initialize", &params, &msg["result"]);
            break;
        }
    }
    drop(stdin);
    let _ = child.kill().await;
}

/// A raw stdio session (its own provider and home) whose every line both ways is written to
/// `traffic.jsonl`: a message turn with deltas, then a command that asks for approval
/// (accepted), then one whose approval is declined.
async fn raw_traffic(rec: &Recorder) {
    let touch = crate::common::touch_needing_approval;
    let env = Env::new(vec![
        MockResponse::text("hello there").reasoning("thinking"),
        touch("yes.txt"),
        MockResponse::text("touched"),
        touch("no.txt"),
        MockResponse::text("not touched"),
    ])
    .await;
    let mut child = raw_server(&env);
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut log = Vec::new();
    let ws = env.ws().canonicalize().unwrap().display().to_string();
    let home = env
        .home
        .path()
        .canonicalize()
        .unwrap()
        .display()
        .to_string();
    let mut replace = vec![
        (home, "/fixture/traffic-home".to_owned()),
        (ws.clone(), "/fixture/workspace".to_owned()),
        (env.provider.addr().to_string(), "127.0.0.1:8000".to_owned()),
    ];
    replace.extend(rec.replace.iter().cloned());
    async fn send(stdin: &mut tokio::process::ChildStdin, log: &mut Vec<Value>, msg: Value) {
        log.push(json!({"dir": "sent", "msg": msg}));
        let line = msg.to_string() + "\n";
        stdin.write_all(line.as_bytes()).await.unwrap();
    }
    // Reads until the answer to request `id`, or until `until` says stop; answers approvals.
    async fn read(
        lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
        stdin: &mut tokio::process::ChildStdin,
        log: &mut Vec<Value>,
        until: impl Fn(&Value) -> bool,
        decision: &str,
    ) -> Value {
        loop {
            let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                .await
                .expect("app-server went quiet")
                .unwrap()
                .expect("app-server closed stdout");
            let msg: Value = serde_json::from_str(&line).unwrap();
            log.push(json!({"dir": "received", "msg": msg.clone()}));
            if msg.get("method").is_some() && msg.get("id").is_some() {
                let answer = json!({"id": msg["id"], "result": {"decision": decision}});
                send(stdin, log, answer).await;
                continue;
            }
            if until(&msg) {
                return msg;
            }
        }
    }
    let init = json!({"id": 1, "method": "initialize", "params": {"clientInfo": {"name": "codex_driver", "version": "0.1.0"}}});
    send(&mut stdin, &mut log, init).await;
    read(
        &mut lines,
        &mut stdin,
        &mut log,
        |m| m["id"] == 1,
        "decline",
    )
    .await;
    send(&mut stdin, &mut log, json!({"method": "initialized"})).await;
    let start = json!({"id": 2, "method": "thread/start", "params": {"cwd": ws, "approvalPolicy": "untrusted", "sandbox": "read-only"}});
    send(&mut stdin, &mut log, start).await;
    let started = read(
        &mut lines,
        &mut stdin,
        &mut log,
        |m| m["id"] == 2,
        "decline",
    )
    .await;
    let thread = started["result"]["thread"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (id, text, decision) in [
        (3, "say hello", "decline"),
        (4, "touch yes.txt", "accept"),
        (5, "touch no.txt", "decline"),
    ] {
        let turn = json!({"id": id, "method": "turn/start", "params": {"threadId": thread, "input": [{"type": "text", "text": text}]}});
        send(&mut stdin, &mut log, turn).await;
        read(
            &mut lines,
            &mut stdin,
            &mut log,
            |m| m["method"] == "turn/completed",
            decision,
        )
        .await;
    }
    drop(stdin);
    let _ = child.kill().await;
    let mut text = String::new();
    for entry in log {
        text += &serde_json::to_string(&entry).unwrap();
        text.push('\n');
    }
    for (from, to) in &replace {
        text = text.replace(from.as_str(), to);
    }
    std::fs::create_dir_all(&rec.dir).unwrap();
    std::fs::write(rec.dir.join("traffic.jsonl"), text).unwrap();
}

#[tokio::test]
#[ignore = "re-captures the fixtures from the installed Codex"]
async fn capture() {
    let env = Env::new(vec![
        MockResponse::text("one"),
        MockResponse::text("compacted summary"),
        MockResponse::text("too late").delay_before(Duration::from_secs(30)),
    ])
    .await;
    let tools = MockMcpServer::start().await.unwrap();
    let home = CodexHome::new(env.home.path());
    let mut cfg = ConfigFile::for_home(&home).unwrap();
    let mut server = McpServer::http(tools.url());
    server.default_tools_approval_mode = Some("approve".into());
    mcp::set_server(&mut cfg, "mock", &server).unwrap();
    cfg.save().unwrap();
    let release = crate::common::version();
    let out = root().join(&release);
    let _ = std::fs::remove_dir_all(&out);
    let home_path = env.home.path().canonicalize().unwrap();
    let ws_path = env.ws().canonicalize().unwrap();
    let rec = Recorder {
        dir: out.clone(),
        replace: vec![
            (home_path.display().to_string(), "/fixture/home".into()),
            (ws_path.display().to_string(), "/fixture/workspace".into()),
            (env.provider.addr().to_string(), "127.0.0.1:8000".into()),
            (
                tools
                    .url()
                    .trim_start_matches("http://")
                    .split('/')
                    .next()
                    .unwrap()
                    .to_owned(),
                "127.0.0.1:8001".into(),
            ),
        ],
    };
    raw_initialize(&env, &rec).await;
    raw_traffic(&rec).await;

    let client = AppServer::new()
        .binary(Binary::at(codex()))
        .codex_home(env.home.path())
        .current_dir(env.ws())
        .spawn()
        .await
        .unwrap();
    rec.try_call(&client, "account/read", json!({})).await;
    rec.try_call(
        &client,
        "account/login/start",
        json!({"type": "apiKey", "apiKey": "sk-fixture-0123456789"}),
    )
    .await;
    rec.try_call(&client, "account/logout", Value::Null).await;

    rec.try_call(&client, "config/read", json!({})).await;
    rec.try_call(
        &client,
        "config/value/write",
        json!({"keyPath": "model_reasoning_effort", "value": "high", "mergeStrategy": "replace"}),
    )
    .await;
    rec.try_call(&client, "configRequirements/read", Value::Null)
        .await;
    rec.try_call(&client, "experimentalFeature/list", json!({}))
        .await;
    rec.try_call(&client, "mcpServerStatus/list", json!({}))
        .await;
    rec.try_call(&client, "model/list", json!({})).await;
    rec.try_call(&client, "skills/list", json!({})).await;
    rec.try_call(&client, "hooks/list", json!({})).await;

    let ws = env.ws().display().to_string();
    let started = rec
        .call(
            &client,
            "thread/start",
            json!({"cwd": ws, "approvalPolicy": "never", "sandbox": "read-only"}),
        )
        .await;
    let id = started["thread"]["id"].as_str().unwrap().to_owned();
    let turn = rec
        .call(
            &client,
            "turn/start",
            json!({"threadId": id, "input": [{"type": "text", "text": "hello"}]}),
        )
        .await;
    let turn_id = turn["turn"]["id"].as_str().unwrap().to_owned();
    let done = client
        .wait_for_turn_completion(&id, &turn_id)
        .await
        .unwrap();
    assert_eq!(done.status, TurnStatus::Completed);
    rec.try_call(
        &client,
        "thread/name/set",
        json!({"threadId": id, "name": "fixture thread"}),
    )
    .await;
    rec.try_call(
        &client,
        "thread/read",
        json!({"threadId": id, "includeTurns": true}),
    )
    .await;
    rec.try_call(&client, "thread/list", json!({})).await;
    rec.try_call(
        &client,
        "thread/turns/list",
        json!({"threadId": id, "sortDirection": "desc", "limit": 20}),
    )
    .await;
    rec.try_call(&client, "thread/archive", json!({"threadId": id}))
        .await;
    rec.try_call(&client, "thread/unarchive", json!({"threadId": id}))
        .await;
    rec.try_call(&client, "thread/resume", json!({"threadId": id}))
        .await;
    let mut compaction = client.notifications();
    let compacting = rec
        .try_call(&client, "thread/compact/start", json!({"threadId": id}))
        .await;
    // Let the compaction turn finish before the next turn starts.
    while compacting.is_some()
        && let Some(r) = tokio::time::timeout(Duration::from_secs(30), compaction.recv())
            .await
            .unwrap()
    {
        if matches!(r.notification, p::ServerNotification::TurnCompleted(_)) {
            break;
        }
    }
    rec.try_call(&client, "thread/fork", json!({"threadId": id}))
        .await;

    let mut events = client.notifications();
    let slow = rec
        .call(
            &client,
            "turn/start.slow",
            json!({"threadId": id, "input": [{"type": "text", "text": "take your time"}]}),
        )
        .await;
    let slow_id = slow["turn"]["id"].as_str().unwrap().to_owned();
    while let Some(r) = events.recv().await {
        if matches!(r.notification, p::ServerNotification::TurnStarted(_)) {
            break;
        }
    }
    rec.try_call(
        &client,
        "turn/steer",
        json!({"threadId": id, "expectedTurnId": slow_id, "input": [{"type": "text", "text": "also this"}]}),
    )
    .await;
    rec.try_call(
        &client,
        "turn/interrupt",
        json!({"threadId": id, "turnId": slow_id}),
    )
    .await;
    client.shutdown().await.unwrap();
}

// ---- every release, and drift -------------------------------------------------------------

/// The release directories with fixtures, oldest first.
fn releases() -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root())
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("traffic.jsonl").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    out.sort_by_key(|v| semver::Version::parse(v).unwrap());
    out
}

/// What a release's app-server sent: `(method, params, is a request)`.
fn received(release: &str) -> Vec<(String, Value, bool)> {
    let text = std::fs::read_to_string(root().join(release).join("traffic.jsonl")).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["dir"] == "received")
        .filter_map(|e| {
            let m = &e["msg"];
            let method = m["method"].as_str()?.to_owned();
            Some((method, m["params"].clone(), m.get("id").is_some()))
        })
        .collect()
}

/// The method a message decodes as (`None`: kept whole as `Unknown`).
fn decoded_as(method: &str, params: Value, request: bool) -> Option<String> {
    if request {
        match p::ServerRequest::decode(method, params) {
            p::ServerRequest::Unknown { .. } => None,
            r => Some(r.method().to_owned()),
        }
    } else {
        match p::ServerNotification::decode(method, params) {
            p::ServerNotification::Unknown { .. } => None,
            n => Some(n.method().to_owned()),
        }
    }
}

/// Every notification and server request each release sent decodes as its method (none
/// falls into `Unknown`), including an approval request of every release.
#[test]
fn every_release_traffic_decodes() {
    let releases = releases();
    assert_eq!(
        releases,
        ["0.130.0", "0.153.4", "0.163.0", "0.169.0", "0.171.0"]
    );
    for release in &releases {
        let msgs = received(release);
        assert!(
            msgs.iter()
                .any(|(m, _, r)| *r && m == "item/commandExecution/requestApproval"),
            "{release}: no approval request captured"
        );
        let turns_ended = msgs
            .iter()
            .filter(|(m, _, _)| m == "turn/completed")
            .count();
        assert_eq!(turns_ended, 3, "{release}");
        for (method, params, request) in msgs {
            assert_eq!(
                decoded_as(&method, params.clone(), request).as_deref(),
                Some(method.as_str()),
                "{release}: {method} {params}"
            );
        }
    }
}

/// Every copy of a value with one member (at any depth) removed, retyped or renamed.
fn mutations(v: &Value) -> Vec<Value> {
    fn walk(v: &Value, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        match v {
            Value::Object(m) => {
                for (k, c) in m {
                    path.push(k.clone());
                    out.push(path.clone());
                    walk(c, path, out);
                    path.pop();
                }
            }
            Value::Array(a) => {
                for (i, c) in a.iter().enumerate() {
                    path.push(i.to_string());
                    walk(c, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut paths = Vec::new();
    walk(v, &mut Vec::new(), &mut paths);
    let mut out = Vec::new();
    for path in paths {
        let (last, parent) = path.split_last().unwrap();
        let pointer: String = parent.iter().map(|p| format!("/{p}")).collect();
        for kind in ["remove", "retype", "rename"] {
            let mut copy = v.clone();
            let Some(Value::Object(obj)) = copy.pointer_mut(&pointer) else {
                continue;
            };
            let old = obj.remove(last).unwrap();
            match kind {
                "retype" => {
                    let other = match old {
                        Value::String(_) => json!(7),
                        Value::Null => json!(7),
                        _ => json!("x"),
                    };
                    obj.insert(last.clone(), other);
                }
                "rename" => {
                    obj.insert(format!("{last}Renamed"), old);
                }
                _ => {}
            }
            out.push(copy);
        }
    }
    out
}

/// Drift: every message of every release, mutated one member at a time (removed, retyped,
/// renamed), still decodes as its method, and every `turn/completed` still ends its turn.
#[test]
fn mutated_traffic_keeps_its_method() {
    let mut tried = 0;
    for release in releases() {
        for (method, params, request) in received(&release) {
            for mutated in mutations(&params) {
                tried += 1;
                let got = decoded_as(&method, mutated.clone(), request);
                assert_eq!(
                    got.as_deref(),
                    Some(method.as_str()),
                    "{release}: {method} mutated to {mutated}"
                );
            }
        }
    }
    assert!(tried > 5_000, "{tried}");
}

/// A client method's result decoded through its response type's `Repair`.
macro_rules! results {
    ($($params:ident),* $(,)?) => {
        fn decode_result(method: &str, result: &Value) -> Option<bool> {
            use codex_driver::app_server::protocol::Repair;
            $(if method == <p::$params as ClientRequest>::METHOD {
                return Some(<<p::$params as ClientRequest>::Response as Repair>::repair(result).is_some());
            })*
            None
        }
    };
}

results!(
    InitializeParams,
    GetAccountParams,
    LoginAccountParams,
    LogoutAccountParams,
    ConfigReadParams,
    ConfigValueWriteParams,
    ConfigRequirementsReadParams,
    ExperimentalFeatureListParams,
    ListMcpServerStatusParams,
    ModelListParams,
    SkillsListParams,
    HooksListParams,
    ThreadStartParams,
    ThreadSetNameParams,
    ThreadReadParams,
    ThreadListParams,
    ThreadTurnsListParams,
    ThreadArchiveParams,
    ThreadUnarchiveParams,
    ThreadResumeParams,
    ThreadCompactStartParams,
    ThreadForkParams,
    TurnStartParams,
    TurnSteerParams,
    TurnInterruptParams,
);

/// Every recorded result of every release, as recorded and mutated one member at a time,
/// decodes into its response type.
#[test]
fn every_release_results_decode_and_survive_mutation() {
    for release in releases() {
        let mut stack = vec![root().join(&release)];
        let mut files = 0;
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let path = e.path();
                if path.is_dir() {
                    stack.push(path);
                    continue;
                }
                if path.extension().is_none_or(|x| x != "json") {
                    continue;
                }
                files += 1;
                let f: Value =
                    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                let method = f["method"].as_str().unwrap();
                let ok = decode_result(method, &f["result"])
                    .unwrap_or_else(|| panic!("{release}: no response type listed for {method}"));
                assert!(ok, "{release}: {method} result does not decode");
                for mutated in mutations(&f["result"]) {
                    assert_eq!(
                        decode_result(method, &mutated),
                        Some(true),
                        "{release}: {method} result mutated to {mutated}"
                    );
                }
            }
        }
        assert!(files >= 20, "{release}: {files} fixtures");
    }
}
