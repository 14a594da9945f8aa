//! Soak: many turns in one process must not grow its open files, threads, child processes or
//! memory. Each soak runs in a *host* (this test binary again, `soak::host`, alone in its
//! process so other tests don't disturb the figures) and reports a sample taken after a
//! warm-up and one after the last turn. Figures go to `target/tmp/reliability/soak-*.json`
//! and RELIABILITY.md.
//!
//! `CODEX_DRIVER_SOAK_TURNS` (default 500) sets the sequential turn count, and
//! `CODEX_DRIVER_SOAK_ROUNDS` (default 4) the rounds of 32 concurrent threads.

use crate::common::{Env, codex, run_host, tmp_base};
use codex_driver::app_server::protocol::SandboxMode;
use codex_driver_testkit::{MockResponse, ResourceSample};
use std::time::{Duration, Instant};

const WARM_UP: usize = 10;
/// RSS may grow this much over the whole soak (allocator arenas settle, caches fill once).
const RSS_SLACK_KIB: u64 = 16 * 1024;
/// Idle tokio blocking-pool threads linger up to 10 s after a burst.
const THREAD_SLACK: usize = 4;

fn count(var: &str, default: usize) -> usize {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(serde::Serialize, serde::Deserialize, Debug)]
struct Report {
    mode: String,
    turns: usize,
    failed_turns: usize,
    seconds: f64,
    before: Sample,
    /// Halfway between the warm-up and the end: growth after it shows a steady leak.
    middle: Sample,
    after: Sample,
}

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Copy)]
struct Sample {
    fds: usize,
    threads: usize,
    rss_kib: u64,
    descendants: usize,
}

impl From<ResourceSample> for Sample {
    fn from(s: ResourceSample) -> Self {
        Self {
            fds: s.fds,
            threads: s.threads,
            rss_kib: s.rss_kib,
            descendants: s.descendants,
        }
    }
}

/// Starts the host for `mode`; the provider stays here, so the host's figures are the
/// library's alone (the provider parses every request, which grows with a thread's history).
fn soak(mode: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let env = rt.block_on(Env::new(Vec::new()));
    env.provider
        .set_fallback(Some(MockResponse::text("soaked")))
        .keep_requests(Some(0));
    let report = run_host(
        "soak::host",
        &[
            ("SOAK_MODE", mode.as_ref()),
            ("SOAK_HOME", env.home.path().as_os_str()),
            ("SOAK_WS", env.ws().as_os_str()),
        ],
    );
    let dir = tmp_base().join("reliability");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("soak-{mode}.json")), &report).unwrap();
    let r: Report = serde_json::from_str(&report).unwrap();
    eprintln!("{r:?}");
    assert_eq!(r.failed_turns, 0, "{r:?}");
    assert!(r.after.fds <= r.before.fds, "open files grew: {r:?}");
    // The library's watchdog (a `sh` waiting for this process to end) is a child for good.
    assert!(
        r.after.descendants <= r.before.descendants,
        "child processes grew: {r:?}"
    );
    assert!(
        r.after.threads <= r.before.threads + THREAD_SLACK,
        "threads grew: {r:?}"
    );
    assert!(
        r.after.rss_kib <= r.before.rss_kib + RSS_SLACK_KIB,
        "memory grew: {r:?}"
    );
    assert!(
        r.after.rss_kib <= r.middle.rss_kib + RSS_SLACK_KIB / 2,
        "memory still growing in the second half: {r:?}"
    );
}

#[test]
fn soak_sequential_exec_turns() {
    soak("exec");
}

#[test]
fn soak_sequential_app_server_turns() {
    soak("app-server");
}

#[test]
fn soak_32_concurrent_threads() {
    soak("concurrent");
}

/// The host of the soaks above (not a test by itself).
#[test]
#[ignore = "the host process of the soak tests, started by them"]
fn host() {
    let mode = std::env::var("SOAK_MODE").expect("SOAK_MODE: started by the soak tests");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let home = std::path::PathBuf::from(std::env::var("SOAK_HOME").expect("SOAK_HOME"));
    let ws = std::path::PathBuf::from(std::env::var("SOAK_WS").expect("SOAK_WS"));
    let exec = || {
        codex_driver::Exec::new("turn")
            .binary(codex_driver::Binary::at(codex()))
            .codex_home(&home)
            .current_dir(&ws)
            .skip_git_repo_check(true)
            .timeout(Duration::from_secs(120))
    };
    let server = || {
        codex_driver::app_server::AppServer::new()
            .binary(codex_driver::Binary::at(codex()))
            .codex_home(&home)
            .current_dir(&ws)
            .request_timeout(Duration::from_secs(120))
    };
    let params = || codex_driver::app_server::protocol::ThreadStartParams {
        cwd: Some(ws.display().to_string()),
        approval_policy: Some(serde_json::from_value("never".into()).unwrap()),
        sandbox: Some(SandboxMode::ReadOnly),
        ..Default::default()
    };
    let report = rt.block_on(async {
        let started = Instant::now();
        let (turns, failed, before, middle) = match mode.as_str() {
            "exec" => {
                let total = count("CODEX_DRIVER_SOAK_TURNS", 500);
                let mut failed = 0;
                let mut before = None;
                let mut middle = None;
                for i in 0..total {
                    if i == WARM_UP {
                        before = Some(ResourceSample::current());
                    }
                    if i == (WARM_UP + total) / 2 {
                        middle = Some(ResourceSample::current());
                    }
                    let r = exec().run().await;
                    if !r.is_ok_and(|r| r.final_message.as_deref() == Some("soaked")) {
                        failed += 1;
                    }
                }
                (total, failed, before, middle)
            }
            "app-server" => {
                let total = count("CODEX_DRIVER_SOAK_TURNS", 500);
                let client = server().spawn().await.unwrap();
                let mut thread = client.start_thread(params()).await.unwrap();
                let mut failed = 0;
                let mut before = None;
                let mut middle = None;
                for i in 0..total {
                    if i == WARM_UP {
                        before = Some(ResourceSample::current());
                    }
                    if i == (WARM_UP + total) / 2 {
                        middle = Some(ResourceSample::current());
                    }
                    let r = thread.run("turn").await;
                    if !r.is_ok_and(|r| r.final_message.as_deref() == Some("soaked")) {
                        failed += 1;
                    }
                }
                drop(thread);
                client.shutdown().await.unwrap();
                (total, failed, before, middle)
            }
            _ => {
                let rounds = count("CODEX_DRIVER_SOAK_ROUNDS", 4);
                let client = server().spawn().await.unwrap();
                let mut failed = 0;
                let mut before = None;
                let mut middle = None;
                for round in 0..=rounds {
                    // Round 0 warms up.
                    if round == 1 {
                        before = Some(ResourceSample::current());
                    }
                    if round == rounds.div_ceil(2).max(1) {
                        middle = Some(ResourceSample::current());
                    }
                    let runs = (0..32).map(|_| {
                        let client = &client;
                        let params = params();
                        async move {
                            let mut thread = client.start_thread(params).await?;
                            thread.run("turn").await
                        }
                    });
                    for r in futures_util::future::join_all(runs).await {
                        if !r.is_ok_and(|r| r.final_message.as_deref() == Some("soaked")) {
                            failed += 1;
                        }
                    }
                }
                client.shutdown().await.unwrap();
                (32 * rounds, failed, before, middle)
            }
        };
        // Let exited children be reaped and idle blocking threads retire.
        tokio::time::sleep(Duration::from_millis(500)).await;
        Report {
            mode: mode.clone(),
            turns,
            failed_turns: failed,
            seconds: started.elapsed().as_secs_f64(),
            before: before.unwrap_or_else(ResourceSample::current).into(),
            middle: middle.unwrap_or_else(ResourceSample::current).into(),
            after: ResourceSample::current().into(),
        }
    });
    drop(rt);
    println!("REPORT {}", serde_json::to_string(&report).unwrap());
}
