//! Hostile output on Codex's stdout: garbage and unknown messages, bytes that are not UTF-8,
//! and a 100 MiB line. None may fail the turn or the connection, and every real event must
//! still arrive.

use super::fake::fake_app_server;
use super::{Tally, Verdict, expect};
use crate::exec_faults::fake;
use codex_driver::events::Diagnostic;
use codex_driver_testkit::ProcessMarker;
use std::time::Duration;

const MODES: [&str; 3] = ["garbage", "invalid-utf8", "huge"];

#[tokio::test]
async fn exec() {
    let mut tally = Tally::new("wire", "exec");
    for mode in MODES {
        let marker = ProcessMarker::new("fault-wire");
        let (key, value) = marker.env();
        let exec = fake(mode).env(key, value);
        tally
            .case(mode, &marker, Duration::from_secs(120), async move {
                let r = exec.run().await?;
                if r.final_message.as_deref() != Some("hello fake") {
                    return Ok(Verdict::Lost(format!(
                        "the final message: {:?}",
                        r.final_message
                    )));
                }
                let not_json = r
                    .diagnostics
                    .iter()
                    .filter(|d| matches!(d, Diagnostic::NotJson { .. }))
                    .count();
                Ok(match mode {
                    "garbage" | "invalid-utf8" => expect(not_json >= 1, || {
                        format!("no diagnostic: {:?}", r.diagnostics)
                    }),
                    _ => expect(r.items.len() >= 2, || format!("items: {}", r.items.len())),
                })
            })
            .await;
    }
    tally.finish();
}

#[tokio::test]
async fn app_server() {
    let mut tally = Tally::new("wire", "app-server");
    for mode in MODES {
        let marker = ProcessMarker::new("fault-wire-app");
        let (key, value) = marker.env();
        let codex = fake_app_server(mode)
            .env(key, value)
            .request_timeout(Duration::from_secs(60));
        tally
            .case(mode, &marker, Duration::from_secs(120), async move {
                let client = codex.spawn().await?;
                let answer = client
                    .request_raw("thread/list", serde_json::json!({}))
                    .await?;
                client.shutdown().await?;
                Ok(expect(answer == serde_json::json!({"ok": true}), || {
                    format!("answer {answer}")
                }))
            })
            .await;
    }
    tally.finish();
}
