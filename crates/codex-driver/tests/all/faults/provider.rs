//! The model provider fails: HTTP 500, 429 with Retry-After, 401, a stream cut mid-way, a
//! stream that stalls (Codex's idle timeout), and a provider slower than the caller's deadline.
//! Each turn must end with the right error kind, and the next turn (same thread on the
//! app-server) must work.

use super::{Tally, Verdict, expect};
use crate::app_server::{params, server};
use crate::common::Env;
use codex_driver::app_server::protocol::SandboxMode;
use codex_driver::{ErrorKind, Exec};
use codex_driver_testkit::{MockResponse, ProcessMarker};
use std::time::Duration;

/// Rounds of every fault.
const ROUNDS: usize = 2;

/// The faults, what the caller must see, and the caller's own deadline (if any).
fn faults() -> Vec<(
    &'static str,
    MockResponse,
    &'static [ErrorKind],
    Option<Duration>,
)> {
    vec![
        (
            "HTTP 500",
            MockResponse::http_error(500, r#"{"error":{"message":"upstream exploded"}}"#),
            &[ErrorKind::Provider],
            None,
        ),
        (
            "HTTP 429 with Retry-After",
            MockResponse::rate_limited(1),
            &[ErrorKind::Provider],
            None,
        ),
        (
            "HTTP 401",
            MockResponse::http_error(
                401,
                r#"{"error":{"message":"Incorrect API key provided","code":"invalid_api_key"}}"#,
            ),
            &[ErrorKind::Auth],
            None,
        ),
        (
            "stream cut after 2 events",
            MockResponse::text("an answer that never ends").cut_after(2),
            &[ErrorKind::Provider],
            None,
        ),
        (
            "stream stalls (Codex's idle timeout)",
            MockResponse::text("stalls").delay_between(Duration::from_secs(600)),
            &[ErrorKind::Provider],
            None,
        ),
        (
            "provider slower than the caller's deadline",
            MockResponse::text("late").delay_before(Duration::from_secs(600)),
            &[ErrorKind::Timeout],
            Some(Duration::from_secs(3)),
        ),
    ]
}

/// Codex gives up on a stalled stream after this long.
const IDLE: &str = "1500";

#[tokio::test]
async fn exec() {
    let mut tally = Tally::new("provider", "exec");
    for round in 0..ROUNDS {
        for (name, fault, kinds, deadline) in faults() {
            let env = Env::new(vec![fault, MockResponse::text("recovered")]).await;
            let marker = ProcessMarker::new("fault-provider");
            let (key, value) = marker.env();
            let exec = |prompt: &str| {
                let e = env.exec(prompt).env(key, value).config(
                    "model_providers.mock.stream_idle_timeout_ms",
                    IDLE.parse::<i64>().unwrap_or(1500),
                );
                match deadline {
                    Some(d) => e.timeout(d),
                    None => e,
                }
            };
            let faulted: Exec = exec("fault");
            let recovery: Exec = exec("again").timeout(Duration::from_secs(60));
            tally
                .case(
                    &format!("{name} (round {round})"),
                    &marker,
                    Duration::from_secs(60),
                    async move {
                        let kind = match faulted.run().await {
                            Ok(r) => {
                                return Ok(Verdict::Wrong(format!(
                                    "succeeded: {:?}",
                                    r.final_message
                                )));
                            }
                            Err(e) => e.kind(),
                        };
                        if !kinds.contains(&kind) {
                            return Ok(Verdict::Wrong(format!("kind {kind:?}, want {kinds:?}")));
                        }
                        let next = recovery.run().await?;
                        Ok(expect(
                            next.final_message.as_deref() == Some("recovered"),
                            || format!("the next turn said {:?}", next.final_message),
                        ))
                    },
                )
                .await;
            tally.plain_turn();
        }
    }
    tally.finish();
}

#[tokio::test]
async fn app_server() {
    let mut tally = Tally::new("provider", "app-server");
    for round in 0..ROUNDS {
        for (name, fault, kinds, deadline) in faults() {
            let env = Env::new(vec![fault, MockResponse::text("recovered")]).await;
            let marker = ProcessMarker::new("fault-provider-app");
            let (key, value) = marker.env();
            let codex = server(&env).env(key, value).config(
                "model_providers.mock.stream_idle_timeout_ms",
                IDLE.parse::<i64>().unwrap_or(1500),
            );
            let thread_params = params(&env, "never", SandboxMode::ReadOnly);
            tally
                .case(
                    &format!("{name} (round {round})"),
                    &marker,
                    Duration::from_secs(60),
                    async move {
                        let client = codex.spawn().await?;
                        let mut thread = client.start_thread(thread_params).await?;
                        let outcome: Result<(), ErrorKind> = match deadline {
                            Some(d) => {
                                let turn = thread.turn("fault").await?;
                                let control = turn.control();
                                match tokio::time::timeout(d, turn.run()).await {
                                    Ok(r) => r.map(|_| ()).map_err(|e| e.kind()),
                                    Err(_) => {
                                        // The caller's deadline: interrupt, as a caller would.
                                        control.interrupt().await?;
                                        Err(ErrorKind::Timeout)
                                    }
                                }
                            }
                            None => thread.run("fault").await.map(|_| ()).map_err(|e| e.kind()),
                        };
                        let Err(kind) = outcome else {
                            return Ok(Verdict::Wrong("the turn succeeded".into()));
                        };
                        if !kinds.contains(&kind) {
                            return Ok(Verdict::Wrong(format!("kind {kind:?}, want {kinds:?}")));
                        }
                        let next = thread.run("again").await?;
                        client.shutdown().await?;
                        Ok(expect(
                            next.final_message.as_deref() == Some("recovered"),
                            || format!("the next turn said {:?}", next.final_message),
                        ))
                    },
                )
                .await;
            tally.plain_turn();
        }
    }
    tally.finish();
}
