//! Side by side: the library, its CLI, the official TypeScript and Python SDKs and the bare
//! binary, on the same offline turns, same Codex binary, same provider, in one run.
//!
//! `scripts/bench` installs the peers and runs this; by hand:
//! `cargo bench -p codex-driver --bench side_by_side` (peers found through `BENCH_PEERS`, the
//! folder `scripts/bench` installs them in; a missing peer is reported, not silently dropped).
//!
//! Every path runs in a driver process of its own (this binary with `--worker PATH`, `node`
//! with `bench/peers/ts_driver.mjs`, `python` with `bench/peers/py_driver.py`) that stays up for
//! the whole run and answers JSON-line commands; times are taken inside the driver (no runtime
//! start-up counted), and this process samples the resident memory of each driver with all its
//! descendants (the Codex processes it runs) while it works. Rounds interleave the paths.
//!
//! Knobs: `BENCH_ROUNDS` (3), `BENCH_TURNS` (10 per path per round), `BENCH_FLEET` (the fleet's
//! server count; default: the library's `Fleet::recommended_size`), `BENCH_OUT` (where the JSON
//! and Markdown go; default `target/bench`).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use codex_driver::app_server::protocol::{AskForApproval, SandboxMode, ThreadStartParams};
use codex_driver::app_server::{AppServer, Fleet};
use codex_driver::{Binary, Exec};
use codex_driver_testkit::{MockProvider, MockResponse, codex_binary};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const ANSWER: &str = "benchmark answer";
const PROMPT: &str = "benchmark turn";

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// ---------------------------------------------------------------------------------------------
// Workers: the Rust paths, each in a process of its own, speaking the drivers' protocol.
// ---------------------------------------------------------------------------------------------

struct WorkerEnv {
    codex: PathBuf,
    home: PathBuf,
    ws: PathBuf,
    cli: Option<PathBuf>,
}

impl WorkerEnv {
    fn from_env() -> Self {
        let var = |n: &str| PathBuf::from(std::env::var(n).unwrap_or_else(|_| panic!("{n}")));
        Self {
            codex: var("CODEX_BIN"),
            home: var("CODEX_HOME"),
            ws: var("BENCH_WS"),
            cli: std::env::var_os("BENCH_CLI").map(PathBuf::from),
        }
    }

    fn thread_params(&self) -> ThreadStartParams {
        ThreadStartParams {
            cwd: Some(self.ws.display().to_string()),
            approval_policy: Some(AskForApproval::Never),
            sandbox: Some(SandboxMode::ReadOnly),
            ..Default::default()
        }
    }

    fn server(&self) -> AppServer {
        AppServer::new()
            .binary(Binary::at(&self.codex))
            .codex_home(&self.home)
            .current_dir(&self.ws)
            .request_timeout(Duration::from_secs(300))
    }
}

/// A stdout of JSON lines read to EOF: (time to the first line, whole time, text).
async fn read_jsonl(mut child: tokio::process::Child, start: Instant) -> (f64, f64, String) {
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut first = None;
    let mut text = String::new();
    while let Some(l) = lines.next_line().await.unwrap() {
        first.get_or_insert_with(|| ms(start.elapsed()));
        text.push_str(&l);
        text.push('\n');
    }
    let status = child.wait().await.unwrap();
    assert!(status.success(), "{status}: {text}");
    (first.unwrap_or(f64::NAN), ms(start.elapsed()), text)
}

/// One `codex exec --json` turn, no library: (first event ms, turn ms).
async fn bare_exec_turn(env: &WorkerEnv) -> (f64, f64) {
    let start = Instant::now();
    let mut child = tokio::process::Command::new(&env.codex)
        .args(["exec", "--json", "--skip-git-repo-check", "-"])
        .env("CODEX_HOME", &env.home)
        .current_dir(&env.ws)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(PROMPT.as_bytes()).await.unwrap();
    drop(stdin);
    let (first, total, text) = read_jsonl(child, start).await;
    assert!(text.contains(ANSWER), "{text}");
    (first, total)
}

/// One turn through the CLI's `run --json`.
async fn cli_turn(env: &WorkerEnv) -> (f64, f64) {
    let start = Instant::now();
    let child = tokio::process::Command::new(env.cli.as_ref().expect("BENCH_CLI"))
        .args(["run", "--json", "--no-install", "--codex-binary"])
        .arg(&env.codex)
        .arg("--codex-home")
        .arg(&env.home)
        .arg("--cd")
        .arg(&env.ws)
        .arg(PROMPT)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (first, total, text) = read_jsonl(child, start).await;
    assert!(text.contains(ANSWER), "{text}");
    (first, total)
}

fn exec(env: &WorkerEnv) -> Exec {
    Exec::new(PROMPT)
        .binary(Binary::at(&env.codex))
        .codex_home(&env.home)
        .current_dir(&env.ws)
        .skip_git_repo_check(true)
}

/// One `Exec::run` turn.
async fn lib_exec_run(env: &WorkerEnv) -> f64 {
    let start = Instant::now();
    let r = exec(env).run().await.unwrap();
    assert_eq!(r.final_message.as_deref(), Some(ANSWER));
    ms(start.elapsed())
}

/// One `Exec::stream` turn: (first event, whole turn).
async fn lib_exec_stream(env: &WorkerEnv) -> (f64, f64) {
    let start = Instant::now();
    let mut s = exec(env).stream().await.unwrap();
    let mut first = None;
    while let Some(ev) = s.next_event().await {
        first.get_or_insert_with(|| ms(start.elapsed()));
        ev.unwrap();
    }
    (first.unwrap_or(f64::NAN), ms(start.elapsed()))
}

/// The floor of the app-server path: JSON-RPC over stdio, by hand, no client library.
struct BareRpc {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    next_id: u64,
}

impl BareRpc {
    async fn start(env: &WorkerEnv) -> Self {
        let mut child = tokio::process::Command::new(&env.codex)
            .args(["app-server", "--listen", "stdio://"])
            .env("CODEX_HOME", &env.home)
            .current_dir(&env.ws)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut rpc = Self {
            child,
            stdin,
            lines,
            next_id: 0,
        };
        let id = rpc
            .send(
                "initialize",
                json!({"clientInfo": {"name": "bench", "version": "0"}}),
            )
            .await;
        rpc.until(|m| m.get("id") == Some(&json!(id))).await;
        rpc.write(json!({"jsonrpc": "2.0", "method": "initialized"}))
            .await;
        rpc
    }

    async fn write(&mut self, msg: Value) {
        let mut line = msg.to_string();
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).await.unwrap();
    }

    async fn send(&mut self, method: &str, params: Value) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.write(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await;
        id
    }

    async fn recv(&mut self) -> Value {
        let line = self
            .lines
            .next_line()
            .await
            .unwrap()
            .expect("app-server ended");
        serde_json::from_str(&line).unwrap()
    }

    async fn until(&mut self, f: impl Fn(&Value) -> bool) -> Value {
        loop {
            let m = self.recv().await;
            if m.get("error").is_some() {
                panic!("app-server error: {m}");
            }
            if f(&m) {
                return m;
            }
        }
    }

    async fn thread(&mut self, env: &WorkerEnv) -> String {
        let id = self.send("thread/start", thread_json(env)).await;
        let r = self.until(|m| m.get("id") == Some(&json!(id))).await;
        r["result"]["thread"]["id"].as_str().unwrap().to_owned()
    }

    /// One turn on `thread`: (first message after the request, turn completed).
    async fn turn(&mut self, thread: &str) -> (f64, f64) {
        let start = Instant::now();
        self.send("turn/start", turn_json(thread)).await;
        let mut first = None;
        loop {
            let m = self.recv().await;
            // The first notification of this thread (the turn/start answer is not an event).
            if m.get("method").is_some() && m["params"]["threadId"] == thread {
                first.get_or_insert_with(|| ms(start.elapsed()));
            }
            if is_completed(&m, thread) {
                return (first.unwrap_or(f64::NAN), ms(start.elapsed()));
            }
        }
    }

    /// `k` threads started and run at once: each one's time to completion, and the wall time.
    async fn concurrent(&mut self, env: &WorkerEnv, k: usize) -> (Vec<f64>, f64) {
        let start = Instant::now();
        let mut starting = BTreeMap::new();
        for _ in 0..k {
            let id = self.send("thread/start", thread_json(env)).await;
            starting.insert(id, ());
        }
        let mut done = Vec::new();
        while done.len() < k {
            let m = self.recv().await;
            if let Some(id) = m.get("id").and_then(Value::as_u64)
                && starting.remove(&id).is_some()
            {
                let thread = m["result"]["thread"]["id"].as_str().unwrap().to_owned();
                self.send("turn/start", turn_json(&thread)).await;
            } else if m.get("method") == Some(&json!("turn/completed")) {
                assert_eq!(m["params"]["turn"]["status"], "completed", "{m}");
                done.push(ms(start.elapsed()));
            }
        }
        (done, ms(start.elapsed()))
    }
}

fn thread_json(env: &WorkerEnv) -> Value {
    json!({"cwd": env.ws, "approvalPolicy": "never", "sandbox": "read-only"})
}

fn turn_json(thread: &str) -> Value {
    json!({"threadId": thread, "input": [{"type": "text", "text": PROMPT}]})
}

fn is_completed(m: &Value, thread: &str) -> bool {
    if m.get("method") == Some(&json!("turn/completed")) && m["params"]["threadId"] == thread {
        assert_eq!(m["params"]["turn"]["status"], "completed", "{m}");
        return true;
    }
    false
}

async fn lib_concurrent(
    env: &WorkerEnv,
    k: usize,
    start_thread: impl AsyncFn(ThreadStartParams) -> codex_driver::app_server::Thread,
) -> (Vec<f64>, f64) {
    let start = Instant::now();
    let runs = (0..k).map(|_| async {
        let mut thread = start_thread(env.thread_params()).await;
        let r = thread.run(PROMPT).await.unwrap();
        assert_eq!(r.final_message.as_deref(), Some(ANSWER));
        ms(start.elapsed())
    });
    let done = futures_util::future::join_all(runs).await;
    (done, ms(start.elapsed()))
}

async fn worker(path: &str) {
    let env = WorkerEnv::from_env();
    let mut bare = None;
    let mut client = None;
    let mut fleet = None;
    match path {
        "bare-rpc" => bare = Some(BareRpc::start(&env).await),
        "lib-app" => client = Some(env.server().spawn().await.unwrap()),
        "lib-app-tuned" => client = Some(env.server().for_throughput().spawn().await.unwrap()),
        "lib-fleet" => {
            // `Fleet::for_throughput`, with the size open to BENCH_FLEET.
            let size = std::env::var("BENCH_FLEET")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(Fleet::recommended_size);
            fleet = Some(
                Fleet::spawn(env.server().for_throughput(), size)
                    .await
                    .unwrap(),
            );
        }
        _ => {}
    }
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut out = tokio::io::stdout();
    // The tuned server answers like the plain one; only its configuration differs.
    let path = if path == "lib-app-tuned" {
        "lib-app"
    } else {
        path
    };
    while let Some(line) = lines.next_line().await.unwrap() {
        let cmd: Value = serde_json::from_str(&line).unwrap();
        let n = cmd["turns"]
            .as_u64()
            .or(cmd["threads"].as_u64())
            .unwrap_or(1) as usize;
        let mut turn_ms = Vec::new();
        let mut first_ms = Vec::new();
        let mut wall = None;
        match (path, cmd["op"].as_str().unwrap()) {
            (_, "ready") => {}
            (_, "quit") => break,
            ("bare-exec" | "cli-exec" | "lib-exec", op @ ("run" | "stream")) => {
                for _ in 0..n {
                    let (f, t) = match path {
                        "bare-exec" => bare_exec_turn(&env).await,
                        "cli-exec" => cli_turn(&env).await,
                        _ if op == "run" => (f64::NAN, lib_exec_run(&env).await),
                        _ => lib_exec_stream(&env).await,
                    };
                    turn_ms.push(t);
                    first_ms.push(f);
                }
            }
            ("bare-rpc", op @ ("seq" | "stream")) => {
                let rpc = bare.as_mut().unwrap();
                let thread = rpc.thread(&env).await;
                for i in 0..n {
                    // `stream` times each turn on a thread of its own.
                    let thread = if op == "stream" && i > 0 {
                        rpc.thread(&env).await
                    } else {
                        thread.clone()
                    };
                    let (f, t) = rpc.turn(&thread).await;
                    turn_ms.push(t);
                    first_ms.push(f);
                }
            }
            ("bare-rpc", "concurrent") => {
                let (d, w) = bare.as_mut().unwrap().concurrent(&env, n).await;
                turn_ms = d;
                wall = Some(w);
            }
            ("lib-app", "seq") => {
                let c = client.as_ref().unwrap();
                let mut thread = c.start_thread(env.thread_params()).await.unwrap();
                for _ in 0..n {
                    let start = Instant::now();
                    let r = thread.run(PROMPT).await.unwrap();
                    assert_eq!(r.final_message.as_deref(), Some(ANSWER));
                    turn_ms.push(ms(start.elapsed()));
                }
            }
            ("lib-app", "stream") => {
                let c = client.as_ref().unwrap();
                for _ in 0..n {
                    let mut thread = c.start_thread(env.thread_params()).await.unwrap();
                    let start = Instant::now();
                    let mut turn = thread.turn(PROMPT).await.unwrap();
                    let mut first = None;
                    while let Some(ev) = turn.next_event().await {
                        first.get_or_insert_with(|| ms(start.elapsed()));
                        ev.unwrap();
                    }
                    first_ms.push(first.unwrap_or(f64::NAN));
                    turn_ms.push(ms(start.elapsed()));
                }
            }
            ("lib-app", "concurrent") => {
                let c = client.as_ref().unwrap();
                let (d, w) =
                    lib_concurrent(&env, n, async |p| c.start_thread(p).await.unwrap()).await;
                turn_ms = d;
                wall = Some(w);
            }
            ("lib-fleet", "concurrent") => {
                let f = fleet.as_ref().unwrap();
                let (d, w) =
                    lib_concurrent(&env, n, async |p| f.start_thread(p).await.unwrap()).await;
                turn_ms = d;
                wall = Some(w);
            }
            (p, op) => panic!("{p} can't {op}"),
        }
        let mut reply = json!({"turn_ms": turn_ms, "first_event_ms": first_ms});
        if let Some(w) = wall {
            reply["wall_ms"] = json!(w);
        }
        let mut text = reply.to_string();
        text.push('\n');
        out.write_all(text.as_bytes()).await.unwrap();
        out.flush().await.unwrap();
    }
    if let Some(c) = client {
        c.shutdown().await.unwrap();
    }
    if let Some(f) = fleet {
        f.shutdown().await.unwrap();
    }
    if let Some(mut b) = bare {
        drop(b.stdin);
        let _ = b.child.wait().await;
    }
}

// ---------------------------------------------------------------------------------------------
// The orchestrator.
// ---------------------------------------------------------------------------------------------

/// A driver process and the peak memory of its tree while it worked.
struct Driver {
    name: &'static str,
    child: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    busy: Arc<AtomicBool>,
    peak_kib: Arc<AtomicU64>,
}

/// Resident memory (KiB) of `pid` and all its descendants.
fn tree_rss_kib(pid: u32) -> u64 {
    let mut parent_of = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u32>().ok())
                .unwrap_or(0);
            parent_of.push((p, ppid));
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parent_of
                .iter()
                .filter(|(_, pp)| *pp == parent)
                .map(|(p, _)| *p),
        );
        i += 1;
    }
    tree.iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .sum()
}

impl Driver {
    fn start(name: &'static str, mut cmd: std::process::Command) -> Result<Self, String> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("{name}: {e}"))?;
        let stdin = child.stdin.take().unwrap();
        let stdout = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
        let busy = Arc::new(AtomicBool::new(false));
        let peak_kib = Arc::new(AtomicU64::new(0));
        let (pid, b, p) = (child.id(), busy.clone(), peak_kib.clone());
        std::thread::spawn(move || {
            while std::fs::metadata(format!("/proc/{pid}")).is_ok() {
                if b.load(Ordering::Relaxed) {
                    p.fetch_max(tree_rss_kib(pid), Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let mut d = Self {
            name,
            child,
            stdin,
            stdout,
            busy,
            peak_kib,
        };
        let r = d.ask(json!({"op": "ready"}))?;
        eprintln!("{name}: ready {r}");
        Ok(d)
    }

    /// Sends a command and waits for its answer; the peak memory of this command only.
    fn ask(&mut self, cmd: Value) -> Result<Value, String> {
        use std::io::Write;
        self.peak_kib.store(0, Ordering::Relaxed);
        self.busy.store(true, Ordering::Relaxed);
        writeln!(self.stdin, "{cmd}").map_err(|e| format!("{}: {e}", self.name))?;
        self.stdin.flush().map_err(|e| e.to_string())?;
        let line = self
            .stdout
            .next()
            .ok_or_else(|| format!("{} ended", self.name))?
            .map_err(|e| e.to_string())?;
        self.busy.store(false, Ordering::Relaxed);
        let v: Value =
            serde_json::from_str(&line).map_err(|e| format!("{}: {e}: {line}", self.name))?;
        if let Some(e) = v.get("error") {
            return Err(format!("{} {cmd}: {e}", self.name));
        }
        Ok(v)
    }

    fn quit(mut self) {
        let _ = self.ask(json!({"op": "quit"}));
        let _ = self.child.wait();
    }
}

/// Everything measured for one (path, operation).
#[derive(Default, serde::Serialize)]
struct Series {
    turn_ms: Vec<f64>,
    first_event_ms: Vec<f64>,
    /// Turns per second of each round (concurrent operations).
    turns_per_s: Vec<f64>,
    peak_rss_mib: f64,
}

#[derive(serde::Serialize)]
struct Stats {
    min: f64,
    median: f64,
    max: f64,
}

fn stats(v: &[f64]) -> Option<Stats> {
    let mut v: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(Stats {
        min: v[0],
        median: v[v.len() / 2],
        max: v[v.len() - 1],
    })
}

type Results = BTreeMap<String, BTreeMap<&'static str, Series>>;

fn record(results: &mut Results, op: &str, path: &'static str, reply: &Value, n: usize, rss: u64) {
    let s = results
        .entry(op.to_owned())
        .or_default()
        .entry(path)
        .or_default();
    let nums = |k: &str| -> Vec<f64> {
        reply[k]
            .as_array()
            .map(|a| a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect())
            .unwrap_or_default()
    };
    s.turn_ms.extend(nums("turn_ms"));
    s.first_event_ms.extend(nums("first_event_ms"));
    if let Some(w) = reply["wall_ms"].as_f64() {
        s.turns_per_s.push(n as f64 / (w / 1000.0));
    }
    s.peak_rss_mib = s.peak_rss_mib.max(rss as f64 / 1024.0);
}

async fn serve() {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let (provider, home, ws) = setup(&base).await;
    let info = json!({
        "CODEX_HOME": home.path(),
        "BENCH_WS": ws.path(),
        "CODEX_BIN": codex_binary().unwrap(),
    });
    let file = std::env::var("BENCH_SERVE_FILE").unwrap_or("serve-ready.json".into());
    std::fs::write(&file, info.to_string()).unwrap();
    println!("{info}");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while lines.next_line().await.unwrap().is_some() {}
    drop(provider);
}

async fn setup(
    base: &Path,
) -> (
    MockProvider,
    codex_driver_testkit::TempHome,
    tempfile::TempDir,
) {
    std::fs::create_dir_all(base).unwrap();
    let provider = MockProvider::start(vec![]).await.unwrap();
    provider.set_fallback(Some(MockResponse::text(ANSWER)));
    provider.keep_requests(Some(0));
    let home = provider.temp_home_in(base).unwrap();
    let ws = tempfile::Builder::new()
        .prefix("bench-ws-")
        .tempdir_in(base)
        .unwrap();
    (provider, home, ws)
}

async fn orchestrate() {
    let rounds = env_num("BENCH_ROUNDS", 3);
    let turns = env_num("BENCH_TURNS", 10);
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let (_provider, home, ws) = setup(&base).await;
    let codex = codex_binary().expect("run scripts/install-codex first");
    let version = std::process::Command::new(&codex)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let me = std::env::current_exe().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let peers = std::env::var_os("BENCH_PEERS").map(PathBuf::from);
    let cli = std::env::var_os("BENCH_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release/codex-driver"));
    let base_cmd = |program: &Path| {
        let mut c = std::process::Command::new(program);
        c.env("CODEX_BIN", &codex)
            .env("CODEX_HOME", home.path())
            .env("BENCH_WS", ws.path())
            .env("BENCH_PROMPT", PROMPT)
            .env("BENCH_CLI", &cli)
            .current_dir(ws.path());
        c
    };
    let worker = |path: &str| {
        let mut c = base_cmd(&me);
        c.args(["--worker", path]);
        c
    };
    let mut exec_paths: Vec<Driver> = Vec::new();
    let mut app_paths: Vec<Driver> = Vec::new();
    let mut missing = Vec::new();
    exec_paths.push(Driver::start("bare exec", worker("bare-exec")).unwrap());
    exec_paths.push(Driver::start("Exec::run", worker("lib-exec")).unwrap());
    if cli.exists() {
        exec_paths.push(Driver::start("CLI run --json", worker("cli-exec")).unwrap());
    } else {
        missing.push(format!("CLI: {} not built", cli.display()));
    }
    match &peers {
        Some(p) if p.join("node/node_modules/@openai/codex-sdk").exists() => {
            let mut c = base_cmd(Path::new("node"));
            c.arg(root.join("bench/peers/ts_driver.mjs"))
                .env("BENCH_PEERS_NODE", p.join("node"));
            exec_paths.push(Driver::start("TS SDK", c).unwrap());
        }
        _ => missing.push("TS SDK: not installed (scripts/bench installs it)".into()),
    }
    app_paths.push(Driver::start("bare JSON-RPC", worker("bare-rpc")).unwrap());
    app_paths.push(Driver::start("Thread::run", worker("lib-app")).unwrap());
    match &peers {
        Some(p) if p.join("venv/bin/python").exists() => {
            let mut c = base_cmd(&p.join("venv/bin/python"));
            c.arg(root.join("bench/peers/py_driver.py"));
            app_paths.push(Driver::start("Python SDK", c).unwrap());
        }
        _ => missing.push("Python SDK: not installed (scripts/bench installs it)".into()),
    }
    // Concurrent turns only: the fleet and, to show what its tuning alone is worth, one
    // server with the same `-c` overrides through the library and through the Python SDK.
    let mut tuned_paths = vec![Driver::start("Fleet", worker("lib-fleet")).unwrap()];
    tuned_paths.push(Driver::start("Thread::run tuned", worker("lib-app-tuned")).unwrap());
    if let Some(p) = peers
        .as_ref()
        .filter(|p| p.join("venv/bin/python").exists())
    {
        let mut c = base_cmd(&p.join("venv/bin/python"));
        c.arg(root.join("bench/peers/py_driver.py")).env(
            "BENCH_PY_OVERRIDES",
            "features.shell_snapshot=false,features.skill_search=false",
        );
        tuned_paths.push(Driver::start("Python SDK tuned", c).unwrap());
    }
    for m in &missing {
        eprintln!("side_by_side: MISSING {m}");
    }

    // Warm-up (page cache, first-run files): one turn each, not recorded.
    for d in &mut exec_paths {
        d.ask(json!({"op": "run", "turns": 1})).unwrap();
    }
    for d in &mut app_paths {
        d.ask(json!({"op": "seq", "turns": 1})).unwrap();
    }
    for d in &mut tuned_paths {
        d.ask(json!({"op": "concurrent", "threads": 4})).unwrap();
    }

    let mut results: Results = BTreeMap::new();
    let run = |results: &mut Results, d: &mut Driver, op: &str, cmd: Value, n: usize| {
        let started = Instant::now();
        let r = d.ask(cmd).unwrap();
        let rss = d.peak_kib.load(Ordering::Relaxed);
        eprintln!(
            "  {op:<14} {:<16} {:>7.0} ms",
            d.name,
            ms(started.elapsed())
        );
        record(results, op, d.name, &r, n, rss);
    };
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        exec_paths.rotate_left(1);
        app_paths.rotate_left(1);
        tuned_paths.rotate_left(1);
        for d in &mut exec_paths {
            run(
                &mut results,
                d,
                "exec run",
                json!({"op": "run", "turns": turns}),
                turns,
            );
        }
        for d in &mut exec_paths {
            run(
                &mut results,
                d,
                "exec stream",
                json!({"op": "stream", "turns": turns}),
                turns,
            );
        }
        for d in &mut app_paths {
            run(
                &mut results,
                d,
                "app seq",
                json!({"op": "seq", "turns": turns}),
                turns,
            );
        }
        for d in &mut app_paths {
            run(
                &mut results,
                d,
                "app stream",
                json!({"op": "stream", "turns": turns}),
                turns,
            );
        }
        for k in [8, 32] {
            let op = format!("app {k} concurrent");
            for d in app_paths.iter_mut().chain(tuned_paths.iter_mut()) {
                run(
                    &mut results,
                    d,
                    &op,
                    json!({"op": "concurrent", "threads": k}),
                    k,
                );
            }
        }
    }
    for d in exec_paths.into_iter().chain(app_paths).chain(tuned_paths) {
        d.quit();
    }

    let report = report(&results, &version, rounds, turns, &missing);
    println!("{report}");
    let out = std::env::var_os("BENCH_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/bench"));
    std::fs::create_dir_all(&out).unwrap();
    let json = json!({
        "codex": version,
        "rounds": rounds,
        "turns": turns,
        "missing": missing,
        "results": results.iter().map(|(op, paths)| {
            (op.clone(), Value::Object(paths.iter().map(|(p, s)| {
                (p.to_string(), json!({
                    "turn_ms": stats(&s.turn_ms),
                    "first_event_ms": stats(&s.first_event_ms),
                    "turns_per_s": stats(&s.turns_per_s),
                    "peak_rss_mib": s.peak_rss_mib,
                    "samples": s,
                }))
            }).collect::<serde_json::Map<_, _>>()))
        }).collect::<serde_json::Map<_, _>>(),
    });
    std::fs::write(
        out.join("side_by_side.json"),
        serde_json::to_string_pretty(&json).unwrap(),
    )
    .unwrap();
    std::fs::write(out.join("side_by_side.md"), &report).unwrap();
    eprintln!(
        "side_by_side: wrote {}",
        out.join("side_by_side.{json,md}").display()
    );
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "–".into(),
    }
}

fn report(
    results: &Results,
    version: &str,
    rounds: usize,
    turns: usize,
    missing: &[String],
) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Codex {version}; {rounds} rounds, {turns} turns per path per round, paths interleaved; \
         min / median / max; ratios of medians; peak RSS = the driver process and every Codex \
         process under it.\n"
    );
    for m in missing {
        let _ = writeln!(o, "**Missing:** {m}\n");
    }
    let time_table = |o: &mut String,
                      op: &str,
                      title: &str,
                      floor: &str,
                      peer: &str,
                      field: fn(&Series) -> &Vec<f64>| {
        let Some(paths) = results.get(op) else { return };
        let median = |p: &str| paths.get(p).and_then(|s| stats(field(s))).map(|s| s.median);
        let _ = writeln!(o, "### {title}\n");
        let _ = writeln!(
            o,
            "| path | min | median | max | vs {floor} | vs {peer} | peak RSS |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|---|");
        for (p, s) in paths {
            let Some(st) = stats(field(s)) else { continue };
            let _ = writeln!(
                o,
                "| {p} | {:.1} ms | {:.1} ms | {:.1} ms | {} | {} | {:.0} MiB |",
                st.min,
                st.median,
                st.max,
                ratio(Some(st.median), median(floor)),
                ratio(Some(st.median), median(peer)),
                s.peak_rss_mib
            );
        }
        let _ = writeln!(o);
    };
    time_table(
        &mut o,
        "exec run",
        "One turn per process (`codex exec`): time per turn",
        "bare exec",
        "TS SDK",
        |s| &s.turn_ms,
    );
    time_table(
        &mut o,
        "exec stream",
        "Time to first event, exec transport",
        "bare exec",
        "TS SDK",
        |s| &s.first_event_ms,
    );
    time_table(
        &mut o,
        "app seq",
        "Sequential turns on one app-server thread: time per turn",
        "bare JSON-RPC",
        "Python SDK",
        |s| &s.turn_ms,
    );
    time_table(
        &mut o,
        "app stream",
        "Time to first event, app-server transport (a new thread per turn)",
        "bare JSON-RPC",
        "Python SDK",
        |s| &s.first_event_ms,
    );
    for k in [8, 32] {
        let op = format!("app {k} concurrent");
        let Some(paths) = results.get(&op) else {
            continue;
        };
        let median = |p: &str| {
            paths
                .get(p)
                .and_then(|s| stats(&s.turns_per_s))
                .map(|s| s.median)
        };
        let rss = |p: &str| paths.get(p).map(|s| s.peak_rss_mib);
        let _ = writeln!(
            o,
            "### {k} concurrent turns (each on a new thread): throughput\n"
        );
        let _ = writeln!(
            o,
            "| path | turns/s min | median | max | vs bare JSON-RPC | vs Python SDK | peak RSS | RSS vs Python SDK |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|---|---|");
        for (p, s) in paths {
            let Some(st) = stats(&s.turns_per_s) else {
                continue;
            };
            let _ = writeln!(
                o,
                "| {p} | {:.1} | {:.1} | {:.1} | {} | {} | {:.0} MiB | {} |",
                st.min,
                st.median,
                st.max,
                ratio(Some(st.median), median("bare JSON-RPC")),
                ratio(Some(st.median), median("Python SDK")),
                s.peak_rss_mib,
                ratio(Some(s.peak_rss_mib), rss("Python SDK")),
            );
        }
        let _ = writeln!(o);
    }
    o
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Some(i) = args.iter().position(|a| a == "--worker") {
        let path = args.get(i + 1).expect("--worker PATH").clone();
        rt.block_on(worker(&path));
    } else if args.iter().any(|a| a == "--serve") {
        rt.block_on(serve());
    } else {
        rt.block_on(orchestrate());
    }
}
