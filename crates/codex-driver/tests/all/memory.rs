//! Memory stays bounded however much flows through: the library's resident memory may grow at
//! most [`LIMIT_KIB`] over its baseline while a turn streams 1 GB of command output and while a
//! 1 GB rollout is read. Each case runs in a host (this binary again, `memory::host`, alone in
//! its process), which samples its own RSS as it goes. Figures go to
//! `target/tmp/reliability/memory-*.json` and RELIABILITY.md.
//!
//! The streams come from stand-ins for `codex exec` and `codex app-server`: the real ones cap
//! what they keep of a command's output, so they can't be made to send a gigabyte of events.

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
fn a_gigabyte_of_app_server_output_deltas_stays_within_16_mib() {
    let r = measure("app-server-stream");
    // Every delta, then `turn/completed`.
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

/// An `item/commandExecution/outputDelta` notification of turn `turn` carrying 64 KiB.
fn output_delta(turn: &str) -> String {
    serde_json::json!({
        "method": "item/commandExecution/outputDelta",
        "params": {"threadId": "t1", "turnId": turn, "itemId": "c1", "delta": "y\n".repeat(LINE_PAYLOAD / 2)}
    })
    .to_string()
}

/// A stand-in `codex app-server`: answers `initialize`, `thread/start` and `turn/start`; the
/// first turn streams 4 MiB of output deltas (a warm-up), later ones `CHUNKS` times the MiB in
/// `chunk-<turn>.jsonl`, each turn ending with `turn/completed`.
const FAKE_APP_SERVER: &str = r#"#!/usr/bin/env bash
id_of() { sed -n 's/.*"id":\([0-9][0-9]*\).*/\1/p' <<<"$1"; }
turns=0
while read -r line; do
  id=$(id_of "$line")
  [ -z "$id" ] && continue
  case "$line" in
    *'"method":"initialize"'*) echo '{"id":'"$id"',"result":{"userAgent":"fake/0.171.0"}}' ;;
    *'"method":"thread/start"'*) echo '{"id":'"$id"',"result":{"thread":{"id":"t1"}}}' ;;
    *'"method":"turn/start"'*)
      turns=$((turns+1))
      echo '{"id":'"$id"',"result":{"turn":{"id":"u'"$turns"'","items":[],"status":"inProgress","error":null}}}'
      n=$CHUNKS; [ "$turns" = 1 ] && n=4
      i=0; while [ $i -lt "$n" ]; do cat "$DIR/chunk-u$turns.jsonl"; i=$((i+1)); done
      echo '{"method":"turn/completed","params":{"threadId":"t1","turn":{"id":"u'"$turns"'","items":[],"status":"completed","error":null}}}'
      ;;
    *) echo '{"id":'"$id"',"result":{}}' ;;
  esac
done
"#;

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
        "app-server-stream" => {
            use codex_driver::app_server::AppServer;
            use codex_driver::app_server::protocol::ServerNotification;
            for turn in ["u1", "u2"] {
                let mut f =
                    std::fs::File::create(dir.path().join(format!("chunk-{turn}.jsonl"))).unwrap();
                for _ in 0..16 {
                    writeln!(f, "{}", output_delta(turn)).unwrap();
                }
            }
            let fake = write_script("memory-app-server", FAKE_APP_SERVER);
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let codex = AppServer::new()
                    .binary(Binary::at(&fake).with_version(semver::Version::new(0, 171, 0)))
                    .env("DIR", dir.path())
                    .env("CHUNKS", (LINES / 16).to_string())
                    .spawn()
                    .await
                    .unwrap();
                let mut thread = codex.start_thread(Default::default()).await.unwrap();
                // Warm-up: the runtime's threads, the client's buffers, one short turn.
                let mut turn = thread.turn("warm up").await.unwrap();
                while let Some(ev) = turn.next_event().await {
                    ev.unwrap();
                }
                drop(turn);
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                let baseline = rss();
                let mut peak = baseline;
                let (mut lines, mut bytes) = (0u64, 0u64);
                let mut turn = thread.turn("stream a gigabyte").await.unwrap();
                while let Some(ev) = turn.next_event().await {
                    if let ServerNotification::ItemCommandExecutionOutputDelta(d) = ev.unwrap() {
                        bytes += d.delta.len() as u64;
                    }
                    lines += 1;
                    if lines.is_multiple_of(64) {
                        peak = peak.max(rss());
                    }
                }
                peak = peak.max(rss());
                drop(turn);
                drop(thread);
                codex.shutdown().await.unwrap();
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
