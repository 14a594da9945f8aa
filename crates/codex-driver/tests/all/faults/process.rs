//! Codex itself fails: SIGKILLed mid-turn (the real binary), hung without a word, or closing
//! its stdout early and hanging (a fake). Each must end the turn with the right error kind,
//! within bounded time, and leave no process.

use super::fake::fake_app_server;
use super::{Tally, Verdict, expect};
use crate::app_server::{params, server};
use crate::common::Env;
use crate::exec_faults::{fake, fake_codex};
use codex_driver::app_server::protocol::{SandboxMode, ServerNotification};
use codex_driver::{Binary, Error, ErrorKind, Exec, ThreadEvent, TimeoutKind};
use codex_driver_testkit::{MockResponse, ProcessMarker};
use std::time::Duration;

const ROUNDS: usize = 2;

fn kill(pid: u32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
}

#[tokio::test]
async fn exec() {
    let mut tally = Tally::new("codex-process", "exec");
    for round in 0..ROUNDS {
        // SIGKILLed mid-turn (the real Codex, waiting on the provider).
        let env = Env::new(vec![
            MockResponse::text("never").delay_before(Duration::from_secs(600)),
        ])
        .await;
        let marker = ProcessMarker::new("fault-killed");
        let (key, value) = marker.env();
        let exec = env.exec("long").env(key, value);
        tally
            .case(
                &format!("SIGKILL mid-turn (round {round})"),
                &marker,
                Duration::from_secs(60),
                async move {
                    let mut stream = exec.stream().await?;
                    let pid = stream.process_group();
                    let mut last = None;
                    while let Some(ev) = stream.next_event().await {
                        if let Ok(ThreadEvent::TurnStarted(_)) = &ev {
                            kill(pid);
                        }
                        last = Some(ev);
                    }
                    Ok(match last {
                        Some(Err(e)) => expect(e.kind() == ErrorKind::Crashed, || format!("{e:?}")),
                        other => Verdict::Wrong(format!("ended with {other:?}")),
                    })
                },
            )
            .await;
        drop(env);

        // Hung without output: the idle timeout ends it.
        let marker = ProcessMarker::new("fault-silent");
        let (key, value) = marker.env();
        let exec = fake("silent")
            .env(key, value)
            .idle_timeout(Duration::from_secs(1));
        tally
            .case(
                &format!("hung, no output (round {round})"),
                &marker,
                Duration::from_secs(30),
                async move {
                    Ok(match exec.run().await {
                        Err(Error::Timeout {
                            kind: TimeoutKind::Idle,
                            ..
                        }) => Verdict::Ok,
                        other => Verdict::Wrong(format!("{other:?}")),
                    })
                },
            )
            .await;

        // Closes stdout, then hangs; no deadline set: the run still ends.
        let marker = ProcessMarker::new("fault-closed");
        let (key, value) = marker.env();
        let exec = Exec::new("hello fake")
            .binary(Binary::at(fake_codex()).with_version(semver::Version::new(0, 171, 0)))
            .env("FAKE_MODE", "closed-stdout")
            .env(key, value)
            .kill_grace(Duration::from_millis(300));
        tally
            .case(
                &format!("stdout closed early, no deadline (round {round})"),
                &marker,
                Duration::from_secs(30),
                async move {
                    Ok(match exec.run().await {
                        Err(Error::Timeout {
                            kind: TimeoutKind::ExitAfterOutput,
                            ..
                        }) => Verdict::Ok,
                        other => Verdict::Wrong(format!("{other:?}")),
                    })
                },
            )
            .await;
    }
    tally.finish();
}

#[tokio::test]
async fn app_server() {
    let mut tally = Tally::new("codex-process", "app-server");
    for round in 0..ROUNDS {
        let env = Env::new(vec![
            MockResponse::text("never").delay_before(Duration::from_secs(600)),
        ])
        .await;
        let marker = ProcessMarker::new("fault-killed-app");
        let (key, value) = marker.env();
        let codex = server(&env).env(key, value);
        let thread_params = params(&env, "never", SandboxMode::ReadOnly);
        tally
            .case(
                &format!("SIGKILL mid-turn (round {round})"),
                &marker,
                Duration::from_secs(60),
                async move {
                    let client = codex.spawn().await?;
                    let pid = client.pid().unwrap_or_default();
                    let mut thread = client.start_thread(thread_params).await?;
                    let mut turn = thread.turn("long").await?;
                    let mut last = None;
                    while let Some(ev) = turn.next_event().await {
                        if let Ok(ServerNotification::TurnStarted(_)) = &ev {
                            kill(pid);
                        }
                        last = Some(ev);
                    }
                    let after = client
                        .request_raw("thread/list", serde_json::json!({}))
                        .await;
                    Ok(match last {
                        Some(Err(e)) if e.kind() == ErrorKind::Crashed => expect(
                            after
                                .as_ref()
                                .is_err_and(|e| e.kind() == ErrorKind::Crashed),
                            || format!("a request after the crash: {after:?}"),
                        ),
                        other => Verdict::Wrong(format!("ended with {other:?}")),
                    })
                },
            )
            .await;
        drop(env);

        for (mode, what) in [
            ("silent", "hung before answering initialize"),
            ("closed-stdout", "stdout closed early"),
            ("crash-after-init", "dies on its first request"),
        ] {
            let marker = ProcessMarker::new("fault-fake-app");
            let (key, value) = marker.env();
            let codex = fake_app_server(mode).env(key, value);
            tally
                .case(
                    &format!("{what} (round {round})"),
                    &marker,
                    Duration::from_secs(30),
                    async move {
                        let outcome = match codex.spawn().await {
                            Err(e) => Err(e),
                            Ok(client) => {
                                let r = client
                                    .request_raw("thread/list", serde_json::json!({}))
                                    .await;
                                drop(client);
                                r.map(|_| ())
                            }
                        };
                        let want = match mode {
                            "silent" => ErrorKind::Timeout,
                            _ => ErrorKind::Crashed,
                        };
                        Ok(match outcome {
                            Err(e) => expect(e.kind() == want, || format!("{e:?}, want {want:?}")),
                            Ok(()) => Verdict::Wrong("succeeded".into()),
                        })
                    },
                )
                .await;
        }
    }
    tally.finish();
}
