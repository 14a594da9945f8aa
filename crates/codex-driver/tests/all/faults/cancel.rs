//! The caller gives up at a random moment: the future of a whole turn (spawn, version probe,
//! handshake, thread start, streaming, a running command, the follow-up request) is dropped
//! after a seeded random delay. Nothing may be left running, and the home must serve the next
//! turn.

use super::{Tally, Verdict, expect};
use crate::app_server::{params, server};
use crate::common::Env;
use codex_driver::app_server::protocol::SandboxMode;
use codex_driver_testkit::{MockResponse, ProcessMarker};
use std::time::Duration;

/// Seeds per transport (`CODEX_DRIVER_CANCEL_SEEDS` for a longer run).
fn seeds() -> u64 {
    std::env::var("CODEX_DRIVER_CANCEL_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16)
}

/// A delay in 0..1600 ms from `seed` (splitmix64: no dependency, same points every run).
fn delay(seed: u64) -> Duration {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    Duration::from_millis((z ^ (z >> 31)) % 1600)
}

fn script() -> Vec<MockResponse> {
    vec![
        MockResponse::new().exec_command("sleep 0.3; echo step"),
        MockResponse::text("done"),
    ]
}

#[tokio::test]
async fn exec() {
    let mut tally = Tally::new("cancel", "exec");
    let env = Env::new(Vec::new()).await;
    for seed in 0..seeds() {
        for r in script() {
            env.provider.push(r);
        }
        let marker = ProcessMarker::new("fault-cancel");
        let (key, value) = marker.env();
        let exec = env
            .exec("work")
            .env(key, value)
            .sandbox(codex_driver::exec::SandboxMode::WorkspaceWrite);
        let after = delay(seed);
        tally
            .case(
                &format!("seed {seed}: dropped after {after:?}"),
                &marker,
                Duration::from_secs(60),
                async move {
                    match tokio::time::timeout(after, exec.run()).await {
                        Err(_) => Ok(Verdict::Ok),
                        Ok(r) => {
                            let r = r?;
                            Ok(expect(r.final_message.as_deref() == Some("done"), || {
                                format!("{:?}", r.final_message)
                            }))
                        }
                    }
                },
            )
            .await;
        // Whatever the cancelled turn did not ask for stays queued: start clean.
        env.provider.clear();
    }
    env.provider.push(MockResponse::text("still works"));
    let r = env.exec("after").run().await.unwrap();
    tally.plain_turn();
    assert_eq!(r.final_message.as_deref(), Some("still works"));
    tally.finish();
}

#[tokio::test]
async fn app_server() {
    let mut tally = Tally::new("cancel", "app-server");
    let env = Env::new(Vec::new()).await;
    for seed in 0..seeds() {
        for r in script() {
            env.provider.push(r);
        }
        let marker = ProcessMarker::new("fault-cancel-app");
        let (key, value) = marker.env();
        let codex = server(&env).env(key, value);
        let thread_params = params(&env, "never", SandboxMode::WorkspaceWrite);
        let after = delay(seed);
        tally
            .case(
                &format!("seed {seed}: dropped after {after:?}"),
                &marker,
                Duration::from_secs(60),
                async move {
                    let turn = async {
                        let client = codex.spawn().await?;
                        let mut thread = client.start_thread(thread_params).await?;
                        let out = thread.run("work").await?;
                        client.shutdown().await?;
                        anyhow::Ok(out)
                    };
                    match tokio::time::timeout(after, turn).await {
                        Err(_) => Ok(Verdict::Ok),
                        Ok(r) => {
                            let r = r?;
                            Ok(expect(r.final_message.as_deref() == Some("done"), || {
                                format!("{:?}", r.final_message)
                            }))
                        }
                    }
                },
            )
            .await;
        env.provider.clear();
    }
    env.provider.push(MockResponse::text("still works"));
    let client = server(&env).spawn().await.unwrap();
    let mut thread = client
        .start_thread(params(&env, "never", SandboxMode::ReadOnly))
        .await
        .unwrap();
    let r = thread.run("after").await.unwrap();
    tally.plain_turn();
    assert_eq!(r.final_message.as_deref(), Some("still works"));
    client.shutdown().await.unwrap();
    tally.finish();
}
