//! `sessions ...`, `run --task` and `tui`, end to end with the real Codex.

use super::{cli, json_of, provider_answering, succeeded, tmp};
use codex_driver_testkit::{MockResponse, Terminal};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn sessions(home: &Path, args: &[&str]) -> Command {
    let mut c = cli();
    c.arg("sessions").args(args).arg("--codex-home").arg(home);
    c
}

fn jsonl(out: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// A provider home and workspace with one exec thread in it; returns its id.
fn one_thread(home: &Path, ws: &Path, provider: &codex_driver_testkit::MockProvider) -> String {
    provider.write_codex_home(home).unwrap();
    let out = cli()
        .args(["run", "--json", "--codex-home"])
        .arg(home)
        .arg("--cd")
        .arg(ws)
        .arg("first question")
        .output()
        .unwrap();
    succeeded(&out);
    jsonl(&out)[0]["thread_id"].as_str().unwrap().to_owned()
}

#[test]
fn sessions_list_show_replay_and_manage() -> anyhow::Result<()> {
    let (_rt, provider) = provider_answering("an answer")?;
    let (home, ws) = (tmp(), tmp());
    let id = one_thread(home.path(), ws.path(), &provider);
    let h = home.path();

    let list = json_of(&sessions(h, &["list", "--json"]).output()?);
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["thread_id"], id.as_str());
    assert_eq!(list[0]["source"], "exec");
    assert_eq!(list[0]["title"], "first question");
    assert_eq!(
        list[0]["cwd"],
        ws.path().canonicalize()?.display().to_string()
    );
    // The rollout scan says the same (times aside).
    let files = json_of(&sessions(h, &["list", "--json", "--backend", "files"]).output()?);
    for key in [
        "thread_id",
        "path",
        "title",
        "cwd",
        "source",
        "model",
        "tokens_used",
        "cli_version",
    ] {
        assert_eq!(files[0][key], list[0][key], "{key}");
    }

    let show = json_of(&sessions(h, &["show", &id[..13], "--json"]).output()?);
    assert_eq!(show["thread_id"], id.as_str());
    assert_eq!(
        show["messages"],
        serde_json::json!([{"role": "user", "text": "first question"}, {"role": "assistant", "text": "an answer"}])
    );

    // Replay prints what `run --json` printed live (the warning item exec printed before the
    // turn, about the mock model, is not saved).
    let replay = jsonl(&sessions(h, &["replay", &id]).output()?);
    assert_eq!(
        replay[0],
        serde_json::json!({"type": "thread.started", "thread_id": id})
    );
    assert_eq!(replay[1]["type"], "turn.started");
    assert_eq!(replay[2]["item"]["text"], "an answer");
    assert_eq!(replay.last().unwrap()["type"], "turn.completed");

    succeeded(&sessions(h, &["rename", &id, "nightly build"]).output()?);
    let named = json_of(&sessions(h, &["show", "nightly build", "--json"]).output()?);
    assert_eq!(named["name"], "nightly build");

    let archived = json_of(&sessions(h, &["archive", &id, "--json"]).output()?);
    assert_eq!(archived["archived"], true);
    assert_eq!(
        json_of(&sessions(h, &["list", "--json"]).output()?),
        serde_json::json!([])
    );
    let only = json_of(&sessions(h, &["list", "--json", "--archived"]).output()?);
    assert_eq!(only[0]["thread_id"], id.as_str());
    succeeded(&sessions(h, &["unarchive", &id]).output()?);

    let fork = json_of(&sessions(h, &["fork", &id, "--json"]).output()?);
    let fork_id = fork["thread_id"].as_str().unwrap().to_owned();
    assert_ne!(fork_id, id);

    let queued = json_of(&sessions(h, &["queue", &id, "do this next", "--json"]).output()?);
    assert_eq!(queued["queued"]["thread_id"], id.as_str());

    // Without a terminal, deleting needs --yes; nothing is deleted before.
    let refused = sessions(h, &["delete", &fork_id]).output()?;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"));
    succeeded(&sessions(h, &["delete", &fork_id, "--yes"]).output()?);
    let ids: Vec<Value> = json_of(&sessions(h, &["list", "--json", "--all"]).output()?)
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["thread_id"].clone())
        .collect();
    assert_eq!(ids, [Value::from(id.clone())]);

    // Not found: a clear error naming the home.
    let missing = sessions(h, &["show", "no-such-thread"]).output()?;
    assert!(!missing.status.success());
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("no session matches `no-such-thread`"), "{err}");
    Ok(())
}

#[test]
fn run_task_continues_the_same_thread_from_any_process() -> anyhow::Result<()> {
    let (_rt, provider) = provider_answering("noted")?;
    let (home, ws, reg) = (tmp(), tmp(), tmp());
    provider.write_codex_home(home.path())?;
    let run = |transport: Option<&str>, prompt: &str| -> anyhow::Result<Value> {
        let out = cli()
            .args(["run", "--json", "--task", "issue-42", "--registry"])
            .arg(reg.path())
            .arg("--codex-home")
            .arg(home.path())
            .arg("--cd")
            .arg(ws.path())
            .args(transport)
            .arg(prompt)
            .output()?;
        succeeded(&out);
        Ok(json_of(&out))
    };
    let first = run(None, "step one")?;
    let thread = first["thread_id"].as_str().unwrap().to_owned();
    assert_eq!(first["task"], "issue-42");
    let second = run(None, "step two")?;
    assert_eq!(second["thread_id"], thread.as_str());
    let third = run(Some("--app-server"), "step three")?;
    assert_eq!(third["thread_id"], thread.as_str());
    assert_eq!(third["final_message"], "noted");
    let asked: Vec<String> = provider
        .requests()
        .last()
        .unwrap()
        .user_texts()
        .into_iter()
        .filter(|t| t.starts_with("step "))
        .collect();
    assert_eq!(asked, ["step one", "step two", "step three"]);
    Ok(())
}

#[test]
fn tui_in_a_terminal_names_its_thread_and_leaves_nothing_running() -> anyhow::Result<()> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let provider = codex_driver_testkit::MockProvider::start(Vec::new()).await?;
        provider
            .route_exact("hello tui", MockResponse::text("tui says hi"))
            .set_fallback(Some(MockResponse::text("A title")));
        let (home, ws) = (tmp(), tmp());
        provider.write_codex_home(home.path())?;
        codex_driver_testkit::prepare_tui_home(home.path(), ws.path())?;
        let mut cmd = cli();
        cmd.args(["tui", "--json", "--codex-home"])
            .arg(home.path())
            .arg("--cd")
            .arg(ws.path())
            .arg("hello tui")
            .env_remove("RUST_BACKTRACE");
        let mut term = Terminal::spawn(cmd, 40, 120)?;
        term.wait_for("tui says hi", Duration::from_secs(60))
            .await?;
        term.type_line("/quit").await?;
        let status = term.wait(Duration::from_secs(30)).await?;
        let text = term.text();
        assert!(status.success(), "{text}");
        let line = text
            .lines()
            .find(|l| l.starts_with("{\"schema_version\""))
            .unwrap_or_else(|| panic!("no outcome line: {text}"));
        let v: Value = serde_json::from_str(line)?;
        let id = v["thread_id"].as_str().unwrap().to_owned();
        assert_eq!(v["exit_code"], 0);
        assert_eq!(v["daemon"], Value::Null);
        assert_eq!(v["session"]["source"], "cli");
        assert!(
            text.contains(&format!("continue: codex-driver tui --resume {id}")),
            "{text}"
        );
        let list = json_of(&sessions(home.path(), &["list", "--json"]).output()?);
        assert_eq!(list[0]["thread_id"], id.as_str());
        let history = json_of(&sessions(home.path(), &["history", "--json"]).output()?);
        assert_eq!(history[0]["session_id"], id.as_str());
        assert_eq!(history[0]["text"], "hello tui");
        // No Codex process (TUI, daemon, update loop) is left.
        let marker = home.path().display().to_string();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while super::processes_with(&marker) && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            !super::processes_with(&marker),
            "a Codex process is still running"
        );
        anyhow::Ok(())
    })
}

#[test]
fn sessions_watch_prints_a_line_per_change_until_terminated() -> anyhow::Result<()> {
    use std::io::BufRead;
    let (_rt, provider) = provider_answering("watched")?;
    let (home, ws) = (tmp(), tmp());
    provider.write_codex_home(home.path())?;
    let mut watch = sessions(home.path(), &["watch", "--json", "--interval-ms", "100"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let mut lines = std::io::BufReader::new(watch.stdout.take().unwrap()).lines();
    // The watch takes its first look before anything exists.
    std::thread::sleep(Duration::from_millis(500));
    let id = one_thread(home.path(), ws.path(), &provider);
    let first: Value = serde_json::from_str(&lines.next().unwrap()?)?;
    assert_eq!(first["schema_version"], 1);
    assert_eq!(first["change"], "added");
    assert_eq!(first["thread_id"], id.as_str());
    // Codex may record the thread before its first prompt: then the title comes with an
    // update (the turn's end updates the thread in any case).
    let mut seen = first;
    while seen["session"]["title"] != "first question" {
        seen = serde_json::from_str(&lines.next().unwrap()?)?;
        assert_eq!(seen["thread_id"], id.as_str());
        assert_eq!(seen["change"], "updated");
    }
    let killed = Command::new("kill")
        .args(["-TERM", &watch.id().to_string()])
        .status()?;
    assert!(killed.success());
    assert!(watch.wait()?.success());
    Ok(())
}
