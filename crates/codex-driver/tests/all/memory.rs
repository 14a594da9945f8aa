//! Memory stays bounded however much flows through: the library's resident memory may grow at
//! most [`LIMIT_KIB`] over its baseline while a turn streams 1 GB of command output and while a
//! 1 GB rollout is read. Each case runs in a host (this binary again, `memory::host`, alone in
//! its process), which samples its own RSS as it goes. Figures go to
//! `target/tmp/reliability/memory-*.json` and RELIABILITY.md.
//!
//! The stream comes from a stand-in for `codex exec`: the real one caps what it keeps of a
//! command's output, so it can't be made to send a gigabyte of events.

use crate::common::{run_host, tmp_base, write_script};
use codex_driver::{Binary, Exec, ThreadEvent};
use codex_driver_testkit::ResourceSample;
use std::io::Write;

/// The allowed growth over the baseline: 16 MiB.
const LIMIT_KIB: u64 = 16 * 1024;
/// A gigabyte: 16,384 lines of 64 KiB.
const LINES: usize = 16 * 1024;
const LINE_PAYLOAD: usize = 64 * 1024;

#[derive(serde::Serialize, serde::Deserialize, Debug)]
struct Report {
    case: String,
    bytes: u64,
    lines: u64,
    baseline_kib: u64,
    peak_kib: u64,
    seconds: f64,
}

fn measure(mode: &str) -> Report {
    let report = run_host("memory::host", &[("MEMORY_MODE", mode.as_ref())]);
    let dir = tmp_base().join("reliability");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("memory-{mode}.json")), &report).unwrap();
    let r: Report = serde_json::from_str(&report).unwrap();
    eprintln!("{r:?}");
    assert!(
        r.bytes >= 1 << 30,
        "less than a gigabyte went through: {r:?}"
    );
    assert!(
        r.peak_kib <= r.baseline_kib + LIMIT_KIB,
        "memory grew {} KiB over the baseline: {r:?}",
        r.peak_kib.saturating_sub(r.baseline_kib)
    );
    r
}

#[test]
fn a_gigabyte_of_streamed_command_output_stays_within_16_mib() {
    let r = measure("exec-stream");
    assert_eq!(r.lines, LINES as u64 + 1, "{r:?}");
}

#[test]
fn reading_a_gigabyte_rollout_stays_within_16_mib() {
    let r = measure("rollout");
    assert_eq!(r.lines, LINES as u64 + 1, "{r:?}");
}

/// One line of a `command_execution` item whose output grew to 64 KiB.
fn output_event(i: usize) -> String {
    let output = "y\n".repeat(LINE_PAYLOAD / 2);
    serde_json::json!({
        "type": "item.updated",
        "item": {"id": format!("item_{i}"), "type": "command_execution", "command": "yes",
                 "aggregated_output": output, "exit_code": null, "status": "in_progress"}
    })
    .to_string()
}

fn rss() -> u64 {
    ResourceSample::current().rss_kib
}

/// The host of the cases above (not a test by itself).
#[test]
#[ignore = "the host process of the memory tests, started by them"]
fn host() {
    let mode = std::env::var("MEMORY_MODE").expect("MEMORY_MODE: started by the memory tests");
    let dir = tempfile::tempdir_in(tmp_base()).unwrap();
    let started = std::time::Instant::now();
    let report = match mode.as_str() {
        "exec-stream" => {
            // 1 MiB of events, sent 1,024 times by a stand-in `codex exec`.
            let chunk = dir.path().join("chunk.jsonl");
            let mut f = std::fs::File::create(&chunk).unwrap();
            for i in 0..16 {
                writeln!(f, "{}", output_event(i)).unwrap();
            }
            drop(f);
            let fake = write_script(
                "memory-exec",
                &format!(
                    "#!/bin/sh\n[ \"$1\" = --version ] && {{ echo 'codex-cli 0.171.0'; exit 0; }}\n\
                     cat >/dev/null\ni=0\nwhile [ $i -lt {} ]; do cat '{}'; i=$((i+1)); done\n\
                     echo '{{\"type\":\"turn.completed\",\"usage\":{{\"input_tokens\":1,\"output_tokens\":1}}}}'\n",
                    LINES / 16,
                    chunk.display()
                ),
            );
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let exec = || Exec::new("x").binary(Binary::at(&fake));
                // Warm-up: the runtime's threads, the spawner, the first buffers.
                let mut s = exec().stream().await.unwrap();
                for _ in 0..64 {
                    s.next_event().await.unwrap().unwrap();
                }
                drop(s);
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                let baseline = rss();
                let mut peak = baseline;
                let (mut lines, mut bytes) = (0u64, 0u64);
                let mut s = exec().stream().await.unwrap();
                while let Some(ev) = s.next_event().await {
                    let ev = ev.unwrap();
                    if let ThreadEvent::ItemUpdated(e) = &ev
                        && let codex_driver::ItemDetails::CommandExecution(c) = &e.item.details
                    {
                        bytes += c.aggregated_output.len() as u64;
                    }
                    lines += 1;
                    if lines.is_multiple_of(64) {
                        peak = peak.max(rss());
                    }
                }
                peak = peak.max(rss());
                Report {
                    case: mode.clone(),
                    bytes,
                    lines,
                    baseline_kib: baseline,
                    peak_kib: peak,
                    seconds: started.elapsed().as_secs_f64(),
                }
            })
        }
        "rollout" => {
            let path = dir.path().join("rollout-big.jsonl");
            let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
            let meta = serde_json::json!({"timestamp": "2026-12-04T00:00:00.000Z", "type": "session_meta",
                "payload": {"id": "01a20dba-5389-7a91-97f2-89b550d42ca1", "cwd": "/w", "cli_version": "0.171.0"}});
            writeln!(f, "{meta}").unwrap();
            let text = "z".repeat(LINE_PAYLOAD);
            for i in 0..LINES {
                let line = serde_json::json!({"timestamp": "2026-12-04T00:00:00.000Z", "type": "event_msg",
                    "payload": {"type": "agent_message", "message": text, "n": i}});
                writeln!(f, "{line}").unwrap();
            }
            drop(f);
            let size = std::fs::metadata(&path).unwrap().len();
            // Warm-up: the reader's buffers.
            let warm = codex_driver::sessions::rollout::RolloutReader::open(&path).unwrap();
            warm.take(64).for_each(drop);
            let baseline = rss();
            let mut peak = baseline;
            let mut lines = 0u64;
            for line in codex_driver::sessions::rollout::RolloutReader::open(&path).unwrap() {
                line.unwrap();
                lines += 1;
                if lines.is_multiple_of(64) {
                    peak = peak.max(rss());
                }
            }
            Report {
                case: mode.clone(),
                bytes: size,
                lines,
                baseline_kib: baseline,
                peak_kib: peak.max(rss()),
                seconds: started.elapsed().as_secs_f64(),
            }
        }
        other => panic!("unknown MEMORY_MODE {other}"),
    };
    println!("REPORT {}", serde_json::to_string(&report).unwrap());
}
