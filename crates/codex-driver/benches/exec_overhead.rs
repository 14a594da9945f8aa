//! Benchmarks (a bench binary, not timed tests): `cargo bench -p codex-driver --bench exec_overhead`.
//!
//! 1. Per-turn wall time of a library turn (`Exec::run`) vs. bare `codex exec --json` on the same
//!    offline turn, interleaved, median of `BENCH_TURNS` (default 30) each; prints the ratio.
//! 2. Turns per second through one persistent app-server vs. one `codex exec` spawn per turn.
//! 3. Event-parse throughput in MB/s on a large JSONL file built from captured Codex output:
//!    the line parser alone, and the whole streaming path (a fake `codex` that `cat`s the file).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use codex_driver::events::{Line, parse_line};
use codex_driver::{Binary, Exec};
use codex_driver_testkit::{MockProvider, MockResponse, codex_binary};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn mean(v: &[Duration]) -> Duration {
    v.iter().sum::<Duration>() / v.len() as u32
}

async fn bare_turn(codex: &Path, home: &Path, ws: &Path) -> Duration {
    let start = Instant::now();
    let mut child = tokio::process::Command::new(codex)
        .args(["exec", "--json", "--skip-git-repo-check", "-"])
        .env("CODEX_HOME", home)
        .current_dir(ws)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"benchmark turn").await.unwrap();
    drop(stdin);
    let mut out = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut out)
        .await
        .unwrap();
    assert!(child.wait().await.unwrap().success());
    assert!(out.ends_with(b"}\n") && String::from_utf8_lossy(&out).contains("turn.completed"));
    start.elapsed()
}

async fn library_turn(codex: &Path, home: &Path, ws: &Path) -> Duration {
    let start = Instant::now();
    let turn = Exec::new("benchmark turn")
        .binary(Binary::at(codex))
        .codex_home(home)
        .current_dir(ws)
        .skip_git_repo_check(true)
        .run()
        .await
        .unwrap();
    assert!(turn.usage.is_some());
    start.elapsed()
}

/// The turn count, an offline provider answering every request, its CODEX_HOME and a workspace.
async fn bench_env(
    base: &Path,
) -> (
    usize,
    MockProvider,
    codex_driver_testkit::TempHome,
    tempfile::TempDir,
) {
    let turns = std::env::var("BENCH_TURNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let provider = MockProvider::start(vec![]).await.unwrap();
    provider.set_fallback(Some(MockResponse::text("benchmark answer")));
    let home = provider.temp_home_in(base).unwrap();
    let ws = tempfile::Builder::new()
        .prefix("bench-ws-")
        .tempdir_in(base)
        .unwrap();
    (turns, provider, home, ws)
}

async fn turn_overhead(base: &Path) {
    let codex = codex_binary().expect("run scripts/install-codex first");
    let (turns, _provider, home, ws) = bench_env(base).await;
    // Warm up both paths (page cache, first-run files in CODEX_HOME).
    bare_turn(&codex, home.path(), ws.path()).await;
    library_turn(&codex, home.path(), ws.path()).await;
    let (mut bare, mut lib) = (Vec::new(), Vec::new());
    for i in 0..turns {
        // Alternate which goes first so drift affects both equally.
        if i % 2 == 0 {
            bare.push(bare_turn(&codex, home.path(), ws.path()).await);
            lib.push(library_turn(&codex, home.path(), ws.path()).await);
        } else {
            lib.push(library_turn(&codex, home.path(), ws.path()).await);
            bare.push(bare_turn(&codex, home.path(), ws.path()).await);
        }
    }
    let (mb, ml) = (median(&mut bare), median(&mut lib));
    println!("## Per-turn wall time, offline message turn, {turns} turns each (Codex {codex:?})");
    println!("| path | median | mean |");
    println!("|---|---|---|");
    println!(
        "| bare `codex exec --json` | {:.1} ms | {:.1} ms |",
        ms(mb),
        ms(mean(&bare))
    );
    println!(
        "| codex-driver `Exec::run` | {:.1} ms | {:.1} ms |",
        ms(ml),
        ms(mean(&lib))
    );
    println!(
        "ratio (median library / median bare): {:.3}",
        ml.as_secs_f64() / mb.as_secs_f64()
    );
    println!();
}

/// Turns per second: one persistent app-server (sequential turns on one thread) vs. one
/// `codex exec` process per turn.
async fn app_server_throughput(base: &Path) {
    use codex_driver::app_server::AppServer;
    use codex_driver::app_server::protocol::ThreadStartParams;
    let codex_path = codex_binary().expect("run scripts/install-codex first");
    let (turns, _provider, home, ws) = bench_env(base).await;

    let codex = AppServer::new()
        .binary(Binary::at(&codex_path))
        .codex_home(home.path())
        .current_dir(ws.path())
        .spawn()
        .await
        .unwrap();
    let mut thread = codex
        .start_thread(ThreadStartParams {
            cwd: Some(ws.path().display().to_string()),
            ..Default::default()
        })
        .await
        .unwrap();
    thread.run("warm up").await.unwrap();
    let start = Instant::now();
    for _ in 0..turns {
        let out = thread.run("benchmark turn").await.unwrap();
        assert_eq!(out.final_message.as_deref(), Some("benchmark answer"));
    }
    let app = start.elapsed();
    codex.shutdown().await.unwrap();

    library_turn(&codex_path, home.path(), ws.path()).await;
    let start = Instant::now();
    for _ in 0..turns {
        library_turn(&codex_path, home.path(), ws.path()).await;
    }
    let exec = start.elapsed();
    let tps = |d: Duration| turns as f64 / d.as_secs_f64();
    println!("## Turns per second, offline message turn, {turns} sequential turns");
    println!("| path | turns/s | per turn |");
    println!("|---|---|---|");
    println!(
        "| one persistent app-server (`Thread::run`) | {:.1} | {:.1} ms |",
        tps(app),
        ms(app) / turns as f64
    );
    println!(
        "| one `codex exec` per turn (`Exec::run`) | {:.1} | {:.1} ms |",
        tps(exec),
        ms(exec) / turns as f64
    );
    println!("speed-up: {:.1}x", exec.as_secs_f64() / app.as_secs_f64());
    println!();
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// ~`target` bytes of JSONL: every captured fixture line, repeated, plus large command outputs.
fn corpus(target: usize) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut lines = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().extension().is_none_or(|x| x != "jsonl") {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).unwrap();
        lines.extend(text.lines().map(str::to_owned));
    }
    let big_output = "x".repeat(64 * 1024);
    lines.push(format!(
        r#"{{"type":"item.completed","item":{{"id":"item_9","type":"command_execution","command":"/bin/bash -lc 'cat big'","aggregated_output":"{big_output}","exit_code":0,"status":"completed"}}}}"#
    ));
    let mut out = String::with_capacity(target + 128 * 1024);
    while out.len() < target {
        for l in &lines {
            out.push_str(l);
            out.push('\n');
        }
    }
    out
}

async fn parse_throughput(base: &Path) {
    let text = corpus(64 * 1024 * 1024);
    let mb = text.len() as f64 / 1e6;
    let lines = text.lines().count();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let mut n = 0usize;
        for l in text.lines() {
            if let Line::Event(_) = parse_line(l) {
                n += 1;
            }
        }
        assert_eq!(n, lines);
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "## Event parsing ({mb:.1} MB, {lines} lines of captured Codex JSONL + 64 KiB outputs)"
    );
    println!("| path | throughput |");
    println!("|---|---|");
    println!(
        "| `events::parse_line` | {:.0} MB/s ({:.0} k events/s) |",
        mb / best,
        lines as f64 / best / 1e3
    );

    // The whole streaming path: pipe, bounded reader, parser, channel, consumer.
    let file = base.join("bench-corpus.jsonl");
    std::fs::write(&file, &text).unwrap();
    let fake = base.join("bench-fake-codex");
    let mut f = std::fs::File::create(&fake).unwrap();
    writeln!(f, "#!/bin/sh\n[ \"$1\" = --version ] && {{ echo 'codex-cli 0.171.0'; exit 0; }}\ncat > /dev/null\ncat '{}'\necho '{{\"type\":\"turn.completed\",\"usage\":{{\"input_tokens\":1,\"output_tokens\":1}}}}'", file.display()).unwrap();
    drop(f);
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut best = f64::MAX;
    let mut all = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        let mut s = Exec::new("x")
            .binary(Binary::at(&fake))
            .stream()
            .await
            .unwrap();
        let mut n = 0usize;
        while let Some(ev) = s.next_event().await {
            // The corpus contains a turn.failed, so the stream ends with that error.
            if ev.is_ok() {
                n += 1;
            }
        }
        assert_eq!(n, lines + 1);
        best = best.min(start.elapsed().as_secs_f64());
        all.push(start.elapsed().as_secs_f64());
    }
    all.sort_by(f64::total_cmp);
    println!(
        "| `ExecStream` (fake codex `cat`s the file) | best of 7 {:.0} MB/s ({:.0} k events/s), median {:.0} MB/s |",
        mb / best,
        lines as f64 / best / 1e3,
        mb / all[all.len() / 2]
    );
    let _ = std::fs::remove_file(file);
}

/// App-server notifications as the client's reader decodes them: the line into a JSON value,
/// then `ServerNotification::decode` by method. The corpus is shaped like a command-heavy
/// turn: 64 KiB output deltas, text deltas, items and turn events.
fn notification_throughput() {
    use codex_driver::app_server::protocol::ServerNotification;
    let t = "019a0000-0000-7000-8000-000000000001";
    let big = "y\n".repeat(32 * 1024);
    let lines = [
        serde_json::json!({"method": "turn/started", "params": {"threadId": t, "turn": {"id": "1", "items": [], "status": "inProgress", "error": null}}}),
        serde_json::json!({"method": "item/started", "params": {"threadId": t, "turnId": "1", "item": {"type": "commandExecution", "id": "c1", "command": "yes", "cwd": "/w", "processId": null, "status": "inProgress", "commandActions": [], "aggregatedOutput": null, "exitCode": null, "durationMs": null}}}),
        serde_json::json!({"method": "item/commandExecution/outputDelta", "params": {"threadId": t, "turnId": "1", "itemId": "c1", "delta": big}}),
        serde_json::json!({"method": "item/agentMessage/delta", "params": {"threadId": t, "turnId": "1", "itemId": "m1", "delta": "some words "}}),
        serde_json::json!({"method": "item/completed", "params": {"threadId": t, "turnId": "1", "item": {"type": "agentMessage", "id": "m1", "text": "All done"}}}),
        serde_json::json!({"method": "turn/completed", "params": {"threadId": t, "turn": {"id": "1", "items": [], "status": "completed", "error": null}}}),
    ]
    .map(|v| v.to_string());
    let mut text = String::new();
    while text.len() < 64 * 1024 * 1024 {
        for l in &lines {
            text.push_str(l);
            text.push('\n');
        }
    }
    let mb = text.len() as f64 / 1e6;
    let count = text.lines().count();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        let mut n = 0usize;
        for l in text.lines() {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            let method = v["method"].as_str().unwrap_or("").to_owned();
            let params = v["params"].take();
            if !matches!(
                ServerNotification::decode(&method, params),
                ServerNotification::Unknown { .. }
            ) {
                n += 1;
            }
        }
        assert_eq!(n, count);
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "| app-server notifications (`Value`, then `ServerNotification::decode`) | {:.0} MB/s ({:.0} k notifications/s) |",
        mb / best,
        count as f64 / best / 1e3
    );
}

fn main() {
    // `cargo bench` passes `--bench`; anything else is ignored.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let base: PathBuf = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(&base).unwrap();
    rt.block_on(async {
        if std::env::var_os("BENCH_SKIP_TURNS").is_none() {
            turn_overhead(&base).await;
            app_server_throughput(&base).await;
        }
        parse_throughput(&base).await;
    });
    notification_throughput();
}
