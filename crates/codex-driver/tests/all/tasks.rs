//! `tasks`: a task resumed by its key after the orchestrating process was killed, driven by
//! exec and by the app-server, refused to a second driver, and refused once its thread is gone.
//!
//! The orchestrator is this test binary run again as a child (`task_driver_child`): it opens
//! the task, then runs one turn per line of stdin and prints `TASK <json>` after each.

use crate::common::{Env, codex};
use codex_driver::app_server::AppServer;
use codex_driver::app_server::protocol::ThreadStartParams;
use codex_driver::sessions::manage::SessionManager;
use codex_driver::tasks::{TaskRegistry, Transport, TurnState};
use codex_driver::{Binary, Error, ErrorKind, Exec, SpawnOptions};
use codex_driver_testkit::MockResponse;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

const CHILD: &str = "CODEX_DRIVER_TASK_CHILD";

/// The orchestrator: `CODEX_DRIVER_TASK_CHILD = {"registry","home","ws","key","app_server"}`.
#[tokio::test]
#[ignore = "not a test: the orchestrator child of the task tests"]
async fn task_driver_child() {
    let Ok(spec) = std::env::var(CHILD) else {
        eprintln!("task_driver_child only runs as the child of the task tests");
        return;
    };
    let spec: Value = serde_json::from_str(&spec).unwrap();
    let s = |k: &str| spec[k].as_str().unwrap().to_owned();
    let say = |v: Value| println!("TASK {v}");
    let registry = TaskRegistry::open(s("registry")).unwrap();
    let spawn = SpawnOptions::new()
        .binary(Binary::at(codex()))
        .codex_home(s("home"))
        .env_remove("RUST_BACKTRACE");
    let builder = registry.task(s("key"));
    let builder = if spec["app_server"].as_bool() == Some(true) {
        builder.app_server(
            AppServer::new().spawn_options(spawn),
            ThreadStartParams {
                cwd: Some(s("ws")),
                ..Default::default()
            },
        )
    } else {
        builder.exec(
            Exec::new("")
                .spawn_options(spawn)
                .current_dir(s("ws"))
                .skip_git_repo_check(true),
        )
    };
    let mut task = match builder.open().await {
        Ok(t) => t,
        Err(e) => {
            say(json!({"error": e.to_string(), "kind": e.kind().to_string()}));
            std::process::exit(3);
        }
    };
    say(json!({"opened": task.thread_id()}));
    loop {
        let line = tokio::task::spawn_blocking(|| {
            let mut s = String::new();
            std::io::stdin().read_line(&mut s).map(|n| (n, s))
        })
        .await
        .unwrap()
        .unwrap();
        if line.0 == 0 {
            break;
        }
        let prompt = line.1.trim_end_matches('\n');
        match task.send(prompt).await {
            Ok(t) => say(json!({"thread_id": t.thread_id, "final_message": t.final_message})),
            Err(e) => say(json!({"error": e.to_string(), "kind": e.kind().to_string()})),
        }
    }
    task.close().await.unwrap();
}

struct Orchestrator {
    child: Child,
    out: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Orchestrator {
    fn start(env: &Env, registry: &Path, key: &str, app_server: bool) -> Self {
        let spec = json!({
            "registry": registry, "home": env.home.path(), "ws": env.ws(), "key": key,
            "app_server": app_server,
        });
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "tasks::task_driver_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, spec.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let out = BufReader::new(child.stdout.take().unwrap()).lines();
        Self { child, out }
    }

    /// The next `TASK` line.
    async fn said(&mut self) -> Value {
        let read = async {
            loop {
                let line = self
                    .out
                    .next_line()
                    .await
                    .unwrap()
                    .expect("the child said nothing");
                // libtest may have started the line ("test ... ").
                if let Some(at) = line.find("TASK ") {
                    return serde_json::from_str::<Value>(&line[at + 5..]).unwrap();
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(120), read)
            .await
            .unwrap()
    }

    async fn turn(&mut self, prompt: &str) -> Value {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin
            .write_all(format!("{prompt}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
        self.said().await
    }

    /// SIGKILL: no destructor, no flush, nothing of ours runs.
    async fn kill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

#[tokio::test]
async fn a_task_survives_its_orchestrator_being_killed() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::text("first answer"),
        MockResponse::text("second answer"),
        MockResponse::text("third answer"),
    ])
    .await;
    let dir = tempfile::tempdir()?;
    let registry = dir.path().join("registry");

    let mut a = Orchestrator::start(&env, &registry, "ticket-1", false);
    assert_eq!(a.said().await, json!({"opened": null}));
    let first = a.turn("first question").await;
    assert_eq!(first["final_message"], "first answer");
    let thread = first["thread_id"].as_str().unwrap().to_owned();
    // Killed between turns, as a crash or an OOM kill would.
    a.kill().await;

    let mut b = Orchestrator::start(&env, &registry, "ticket-1", false);
    assert_eq!(b.said().await, json!({"opened": thread}));
    // While b holds the task, another process can't drive it.
    let mut c = Orchestrator::start(&env, &registry, "ticket-1", false);
    let refused = c.said().await;
    assert_eq!(refused["kind"], "busy", "{refused}");
    assert_eq!(c.child.wait().await?.code(), Some(3));
    let second = b.turn("second question").await;
    assert_eq!(
        second,
        json!({"thread_id": thread, "final_message": "second answer"})
    );
    // The provider saw the first turn in the second's input.
    let last = env.provider.requests().last().unwrap().user_texts();
    let asked: Vec<&str> = last
        .iter()
        .map(String::as_str)
        .filter(|t| t.ends_with("question"))
        .collect();
    assert_eq!(asked, ["first question", "second question"]);
    drop(b.child.stdin.take());
    assert!(b.child.wait().await?.success());

    // The same task continued on the app-server.
    let mut d = Orchestrator::start(&env, &registry, "ticket-1", true);
    assert_eq!(d.said().await, json!({"opened": thread}));
    let third = d.turn("third question").await;
    assert_eq!(third["thread_id"], thread.as_str());
    assert_eq!(third["final_message"], "third answer");
    drop(d.child.stdin.take());
    assert!(d.child.wait().await?.success());

    let reg = TaskRegistry::open(&registry)?;
    let rec = reg.get("ticket-1")?.unwrap();
    assert_eq!(rec.thread_id.as_deref(), Some(thread.as_str()));
    assert_eq!(rec.transport, Transport::AppServer);
    assert_eq!(rec.turns, 3);
    let last = rec.last_turn.unwrap();
    assert_eq!(last.state, TurnState::Completed);
    assert_eq!(last.final_message.as_deref(), Some("third answer"));
    assert!(last.turn_id.is_some());
    Ok(())
}

#[tokio::test]
async fn a_task_whose_thread_is_archived_or_deleted_says_so() -> anyhow::Result<()> {
    let env = Env::new(vec![MockResponse::text("one")]).await;
    let dir = tempfile::tempdir()?;
    let reg = TaskRegistry::open(dir.path())?;
    let template = env.exec("");
    let mut t = reg.task("k").exec(template.clone()).open().await?;
    let thread = t.send("hello").await?.thread_id;
    // A handle in this same process is a second driver too.
    let e = reg
        .task("k")
        .exec(template.clone())
        .open()
        .await
        .unwrap_err();
    assert!(matches!(e, Error::TaskBusy { .. }), "{e}");
    drop(t);

    let m = SessionManager::new(
        SpawnOptions::new()
            .binary(Binary::at(codex()))
            .codex_home(env.home.path()),
    );
    m.archive(&thread).await?;
    let e = reg
        .task("k")
        .exec(template.clone())
        .open()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().contains("archived"), "{e}");
    m.unarchive(&thread).await?;
    assert!(reg.task("k").exec(template.clone()).open().await.is_ok());
    match m.delete(&thread).await {
        Err(Error::Unsupported { found, .. }) => {
            eprintln!("SKIPPED a deleted thread: Codex {found} can't delete one");
        }
        other => {
            other?;
            let e = reg
                .task("k")
                .exec(template.clone())
                .open()
                .await
                .unwrap_err();
            assert!(e.to_string().contains("no longer exists"), "{e}");
        }
    }
    drop(template);
    // Forgetting the task lets the key start afresh.
    reg.remove("k")?;
    assert!(reg.get("k")?.is_none());
    Ok(())
}
