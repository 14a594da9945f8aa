//! The disk fills up. Each case runs in a *host* (this test binary again, `faults::disk::host`)
//! started under `ulimit -f 64` with SIGXFSZ ignored, so every file it or its Codex writes stops
//! at 64 KiB with `EFBIG`, as on a full disk, without touching the rest of the machine.
//! - exec: `tee_jsonl` copies a 10 MiB stdout; the copy fails, is reported once
//!   ([`Diagnostic::TeeFailed`]) and stops, and the turn still delivers every event;
//! - app-server: the real Codex itself can't write its session files; the turn must end (any
//!   outcome) without a hang, and the library must not crash.

use super::{Tally, Verdict};
use crate::common::{Env, codex};
use codex_driver::app_server::protocol::SandboxMode;
use codex_driver::events::Diagnostic;
use codex_driver_testkit::{MockResponse, ProcessMarker};
use std::process::Command;
use std::time::Duration;

/// Runs `faults::disk::host` in `mode` under the file-size limit; its last stdout line is the
/// verdict.
async fn in_host(mode: &str, vars: Vec<(&'static str, String)>) -> anyhow::Result<Verdict> {
    let exe = std::env::current_exe()?;
    let mode = mode.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .arg("-c")
            .arg(r#"trap '' XFSZ; ulimit -f 64; exec "$0" --ignored --exact faults::disk::host --nocapture --test-threads 1"#)
            .arg(exe)
            .env("DISK_HOST_MODE", mode)
            .envs(vars)
            .output()
    })
    .await??;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let verdict = stdout
        .lines()
        // libtest may print `test NAME ... ` before it on the same line.
        .filter_map(|l| l.split_once("VERDICT ").map(|(_, v)| v))
        .next_back()
        .unwrap_or("");
    Ok(match verdict.split_once(' ').unwrap_or((verdict, "")) {
        ("ok", _) => Verdict::Ok,
        ("lost", why) => Verdict::Lost(why.into()),
        ("wrong", why) => Verdict::Wrong(why.into()),
        _ => anyhow::bail!(
            "the host ended with {:?} and no verdict: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
    })
}

#[tokio::test]
async fn exec() {
    let mut tally = Tally::new("disk-full", "exec");
    let marker = ProcessMarker::new("fault-disk");
    let dir = tempfile::tempdir_in(crate::common::tmp_base()).unwrap();
    let vars = vec![
        (
            "DISK_TEE",
            dir.path().join("copy.jsonl").display().to_string(),
        ),
        ("DISK_MARKER", marker.value().to_owned()),
    ];
    tally
        .case(
            "tee to a full disk",
            &marker,
            Duration::from_secs(120),
            in_host("exec-tee", vars),
        )
        .await;
    tally.finish();
}

#[tokio::test]
async fn app_server() {
    let mut tally = Tally::new("disk-full", "app-server");
    let env = Env::new(vec![MockResponse::text("written or not")]).await;
    let marker = ProcessMarker::new("fault-disk-app");
    let vars = vec![
        ("DISK_HOME", env.home.path().display().to_string()),
        ("DISK_WS", env.ws().display().to_string()),
        ("DISK_MARKER", marker.value().to_owned()),
    ];
    tally
        .case(
            "Codex's own files on a full disk",
            &marker,
            Duration::from_secs(120),
            in_host("app-server", vars),
        )
        .await;
    tally.finish();
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} unset: started by the disk-full tests"))
}

/// The host of the tests above (not a test by itself).
#[tokio::test]
#[ignore = "the host process of the disk-full tests, started by them"]
async fn host() {
    let marker = ProcessMarker::from_value(var("DISK_MARKER"));
    let (key, value) = marker.env();
    let verdict = match var("DISK_HOST_MODE").as_str() {
        "exec-tee" => {
            let tee = std::path::PathBuf::from(var("DISK_TEE"));
            let r = crate::exec_faults::fake("garbage")
                .env(key, value)
                .tee_jsonl(&tee)
                .run()
                .await;
            match r {
                Err(e) => format!("wrong the turn failed: {e}"),
                Ok(r) if r.final_message.as_deref() != Some("hello fake") => {
                    format!("lost the final message: {:?}", r.final_message)
                }
                Ok(r) => {
                    let failed: Vec<_> = r
                        .diagnostics
                        .iter()
                        .filter(|d| matches!(d, Diagnostic::TeeFailed { .. }))
                        .collect();
                    let size = std::fs::metadata(&tee).map(|m| m.len()).unwrap_or(0);
                    if failed.len() == 1 && size <= 64 * 1024 && size > 0 {
                        "ok".to_owned()
                    } else {
                        format!("wrong tee diagnostics {failed:?}, copy of {size} bytes")
                    }
                }
            }
        }
        _ => {
            let ws = var("DISK_WS");
            let run = async {
                let client = codex_driver::app_server::AppServer::new()
                    .binary(codex_driver::Binary::at(codex()))
                    .codex_home(var("DISK_HOME"))
                    .current_dir(&ws)
                    .env(key, value)
                    .request_timeout(Duration::from_secs(30))
                    .spawn()
                    .await?;
                let outcome = async {
                    let mut thread = client
                        .start_thread(codex_driver::app_server::protocol::ThreadStartParams {
                            cwd: Some(ws.clone()),
                            sandbox: Some(SandboxMode::ReadOnly),
                            ..Default::default()
                        })
                        .await?;
                    thread.run("write it").await
                }
                .await;
                let _ = client.shutdown().await;
                outcome
            };
            match tokio::time::timeout(Duration::from_secs(90), run).await {
                Err(_) => "wrong the turn hung".to_owned(),
                // Either is fine: Codex may or may not carry on without its files.
                Ok(Ok(_)) => "ok".to_owned(),
                // It fails: the message must say where (Codex's state database in the home).
                Ok(Err(e)) if e.to_string().contains(&var("DISK_HOME")) => "ok".to_owned(),
                Ok(Err(e)) => format!("wrong {:?} error not naming the home: {e}", e.kind()),
            }
        }
    };
    println!("VERDICT {verdict}");
}
