//! No Codex outlives the program that started it, however that program ends: a panic,
//! `std::process::exit`, a dropped runtime, SIGTERM (not handled by a library's host) and
//! SIGKILL (what the OOM killer sends). Each case runs a *host*: this test binary started again
//! as `orphans::host` (an ignored test), which starts a real Codex turn running `sleep 300` and
//! then ends the way the case says. Within 2 s neither Codex nor the command it started may be
//! left, for the exec and the app-server transport.

use crate::common::{codex, tmp_base};
use codex_driver::app_server::AppServer;
use codex_driver::app_server::protocol::{SandboxMode, ServerNotification, ThreadItem};
use codex_driver::events::ThreadEvent;
use codex_driver::{Binary, Exec};
use codex_driver_testkit::{MockProvider, MockResponse, ProcessMarker};
use std::io::{BufRead, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long after its host ends a Codex may still be seen.
const LIMIT: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug)]
enum Transport {
    Exec,
    AppServer,
}

#[derive(Clone, Copy, Debug)]
enum End {
    /// `panic!` on the thread that owns the runtime (unwinding drops it).
    Panic,
    /// `std::process::exit`: no destructor runs.
    Exit,
    /// The runtime is dropped while the turn runs; the host itself lives on.
    DropRuntime,
    /// SIGTERM with the default disposition (a library can't assume a handler).
    Sigterm,
    /// SIGKILL: nothing in the host runs.
    Sigkill,
}

impl End {
    fn name(self) -> &'static str {
        match self {
            End::Panic => "panic",
            End::Exit => "exit",
            End::DropRuntime => "drop-runtime",
            End::Sigterm => "sigterm",
            End::Sigkill => "sigkill",
        }
    }
}

/// Starts the host, waits until its Codex runs the command, ends the host and checks that
/// nothing of it remains within [`LIMIT`].
fn host_ends(transport: Transport, end: End) -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    let marker = ProcessMarker::new(&format!("orphan-{}", end.name()));
    let provider = rt.block_on(MockProvider::start(vec![
        MockResponse::new().exec_command(format!("sleep 300; echo {}", marker.value())),
    ]))?;
    // Codex's follow-up request (the command's output) waits well beyond the test.
    provider.set_fallback(Some(
        MockResponse::text("late").delay_before(Duration::from_secs(300)),
    ));
    let home = provider.temp_home_in(&tmp_base())?;
    let ws = tempfile::Builder::new()
        .prefix("ws-")
        .tempdir_in(tmp_base())?;
    let mut host = Command::new(std::env::current_exe()?)
        .args(["--ignored", "--exact", "orphans::host", "--nocapture"])
        .env("ORPHAN_TRANSPORT", format!("{transport:?}"))
        .env("ORPHAN_END", end.name())
        .env("ORPHAN_HOME", home.path())
        .env("ORPHAN_WS", ws.path())
        .env("ORPHAN_MARKER", marker.value())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let cleanup = |host: &mut std::process::Child| {
        let _ = host.kill();
        let _ = host.wait();
        marker.kill_all();
    };
    let mut lines = std::io::BufReader::new(host.stdout.take().expect("stdout")).lines();
    let ready = lines.by_ref().map_while(Result::ok).any(|l| l == "READY");
    if !ready {
        cleanup(&mut host);
        panic!("{transport:?}/{end:?}: the host never got its command running");
    }
    let codex_path = codex().display().to_string();
    let running = marker.processes();
    assert!(
        running.iter().any(|p| p.cmdline.contains("sleep 300"))
            && running.iter().any(|p| p.cmdline.contains(&codex_path)),
        "{transport:?}/{end:?}: {running:#?}"
    );
    let mut stdin = host.stdin.take().expect("stdin");
    match end {
        End::Sigterm | End::Sigkill => {
            let signal = if matches!(end, End::Sigterm) {
                nix::sys::signal::Signal::SIGTERM
            } else {
                nix::sys::signal::Signal::SIGKILL
            };
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(host.id() as i32), signal)?;
        }
        End::Panic | End::Exit | End::DropRuntime => writeln!(stdin, "END")?,
    }
    let ended = Instant::now();
    if matches!(end, End::DropRuntime) {
        let dropped = lines.by_ref().map_while(Result::ok).any(|l| l == "DROPPED");
        assert!(dropped, "the host did not drop its runtime");
    } else {
        let status = host.wait()?;
        assert!(!status.success(), "{end:?}: {status:?}");
    }
    let left = marker.wait_gone(LIMIT.saturating_sub(ended.elapsed()));
    let took = ended.elapsed();
    if matches!(end, End::DropRuntime) {
        // The host outlives its runtime: it still runs, its Codex must not.
        assert_eq!(host.try_wait()?, None, "the host should still run");
    }
    cleanup(&mut host);
    if let Err(left) = left {
        panic!("{transport:?}/{end:?}: still running {took:?} after the host ended: {left:#?}");
    }
    eprintln!("{transport:?}/{end:?}: all gone {took:?} after the host ended");
    record(transport, end, took);
    Ok(())
}

/// Adds this case to `target/tmp/reliability/` for RELIABILITY.md (only reached on success).
fn record(transport: Transport, end: End, took: Duration) {
    let dir = tmp_base().join("reliability");
    let _ = std::fs::create_dir_all(&dir);
    let transport = match transport {
        Transport::Exec => "exec",
        Transport::AppServer => "app-server",
    };
    let record = serde_json::json!({
        "suite": format!("orphans-library-{transport}"),
        "case": end.name(),
        "counts": {"turns_attempted": 1, "faults_injected": 1, "processes_leaked": 0,
                   "hangs": 0, "data_lost": 0, "crashes": 0, "wrong_outcomes": 0},
        "gone_ms": took.as_secs_f64() * 1000.0,
    });
    let _ = std::fs::write(
        dir.join(format!("orphans-library-{transport}-{}.json", end.name())),
        record.to_string(),
    );
}

macro_rules! orphan_tests {
    ($($name:ident: $transport:ident, $end:ident;)*) => {$(
        #[test]
        fn $name() -> anyhow::Result<()> {
            host_ends(Transport::$transport, End::$end)
        }
    )*};
}

orphan_tests! {
    exec_host_panics: Exec, Panic;
    exec_host_exits: Exec, Exit;
    exec_host_drops_its_runtime: Exec, DropRuntime;
    exec_host_gets_sigterm: Exec, Sigterm;
    exec_host_gets_sigkill: Exec, Sigkill;
    app_server_host_panics: AppServer, Panic;
    app_server_host_exits: AppServer, Exit;
    app_server_host_drops_its_runtime: AppServer, DropRuntime;
    app_server_host_gets_sigterm: AppServer, Sigterm;
    app_server_host_gets_sigkill: AppServer, Sigkill;
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: `orphans::host` is started by the orphan tests")
    })
}

/// The host process of the tests above (not a test by itself).
#[test]
#[ignore = "the host process of the orphan tests, started by them"]
fn host() {
    let transport = var("ORPHAN_TRANSPORT");
    let end = var("ORPHAN_END");
    let home = std::path::PathBuf::from(var("ORPHAN_HOME"));
    let ws = std::path::PathBuf::from(var("ORPHAN_WS"));
    let marker = ProcessMarker::from_value(var("ORPHAN_MARKER"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
    let handle = rt.handle().clone();
    // Codex is spawned from a thread that ends right away: a parent-death signal tied to that
    // thread would kill Codex early, which the liveness check below catches.
    let spawner = std::thread::spawn(move || {
        handle.block_on(async move {
            let (key, value) = marker.env();
            let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
            // The turn's task runs detached in the runtime, like a caller's would.
            let _turn = if transport == "Exec" {
                let mut stream = Exec::new("sleep")
                    .binary(Binary::at(codex()))
                    .codex_home(&home)
                    .current_dir(&ws)
                    .skip_git_repo_check(true)
                    .sandbox(codex_driver::exec::SandboxMode::WorkspaceWrite)
                    .env(key, value)
                    .stream()
                    .await
                    .unwrap();
                tokio::spawn(async move {
                    let mut started_tx = Some(started_tx);
                    while let Some(ev) = stream.next_event().await {
                        if let Ok(ThreadEvent::ItemStarted(e)) = ev
                            && e.item.details.type_name() == "command_execution"
                            && let Some(tx) = started_tx.take()
                        {
                            let _ = tx.send(());
                        }
                    }
                    std::future::pending::<()>().await
                })
            } else {
                let client = AppServer::new()
                    .binary(Binary::at(codex()))
                    .codex_home(&home)
                    .current_dir(&ws)
                    .env(key, value)
                    .spawn()
                    .await
                    .unwrap();
                tokio::spawn(async move {
                    let mut thread = client
                        .start_thread(codex_driver::app_server::protocol::ThreadStartParams {
                            cwd: Some(ws.display().to_string()),
                            approval_policy: Some(serde_json::from_value("never".into()).unwrap()),
                            sandbox: Some(SandboxMode::WorkspaceWrite),
                            ..Default::default()
                        })
                        .await
                        .unwrap();
                    let mut turn = thread.turn("sleep").await.unwrap();
                    let mut started_tx = Some(started_tx);
                    while let Some(ev) = turn.next_event().await {
                        if let Ok(ServerNotification::ItemStarted(s)) = ev
                            && matches!(s.item, ThreadItem::CommandExecution(_))
                            && let Some(tx) = started_tx.take()
                        {
                            let _ = tx.send(());
                        }
                    }
                    std::future::pending::<()>().await
                })
            };
            started.await.unwrap();
            ready_tx.send(()).unwrap();
        })
    });
    spawner.join().unwrap();
    ready_rx.recv().unwrap();
    // The spawning thread is gone; Codex must still be working.
    std::thread::sleep(Duration::from_millis(300));
    let codex_path = codex().display().to_string();
    let marker = ProcessMarker::from_value(var("ORPHAN_MARKER"));
    assert!(
        marker
            .processes()
            .iter()
            .any(|p| p.cmdline.contains(&codex_path)),
        "Codex died with the thread that spawned it"
    );
    println!("READY");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    match end.as_str() {
        "panic" => panic!("the host panics with its turn running"),
        "exit" => std::process::exit(3),
        "drop-runtime" => {
            drop(rt);
            println!("DROPPED");
            std::io::stdout().flush().unwrap();
            std::thread::sleep(Duration::from_secs(60));
        }
        // Signals arrive from the test; until then, keep the runtime.
        _ => std::thread::sleep(Duration::from_secs(60)),
    }
}
