//! Codex's own sub-commands through the CLI (`features`, `mcp`, `sandbox`, `review`, `models`,
//! `daemon`, `coverage`), our completions and man pages, and a closed stdout.

use super::{cli, json_of, processes_with, provider_answering, succeeded, tmp};
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// `CODEX_HOME=HOME codex-driver ARGS` (the environment, so that the caller can add
/// arguments after a `--`).
fn in_home(home: &Path, args: &[&str]) -> Command {
    let mut c = cli();
    c.args(args).env("CODEX_HOME", home);
    c
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `c` with its stdout a pipe nobody reads (the reader is closed before it starts).
fn into_closed_pipe(c: &mut Command) -> anyhow::Result<Output> {
    let (reader, writer) = std::io::pipe()?;
    drop(reader);
    Ok(c.stdout(writer).stderr(Stdio::piped()).output()?)
}

#[test]
fn features_are_enabled_and_disabled_per_home_and_unknown_names_refused() -> anyhow::Result<()> {
    let home = tmp();
    let out = cli().args(["features", "list", "--json"]).output()?;
    succeeded(&out);
    let list = json_of(&out).as_array().cloned().unwrap_or_default();
    assert!(list.len() > 100);
    let name = list
        .iter()
        .find(|f| f["enabled"] == false && f["stage"] == "experimental")
        .and_then(|f| f["name"].as_str())
        .expect("an experimental feature that is off")
        .to_owned();
    let out = in_home(home.path(), &["features", "enable", &name, "--json"]).output()?;
    succeeded(&out);
    let v = json_of(&out);
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["feature"]["name"], name.as_str());
    assert_eq!(v["feature"]["enabled"], true);
    let config = std::fs::read_to_string(home.path().join("config.toml"))?;
    assert!(config.contains(&format!("{name} = true")), "{config}");
    let out = in_home(home.path(), &["features", "disable", &name]).output()?;
    succeeded(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).split(' ').nth(1),
        Some("disabled")
    );
    let before = std::fs::read(home.path().join("config.toml"))?;
    let out = in_home(home.path(), &["features", "enable", "no_such_feature"]).output()?;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr_of(&out);
    assert!(
        err.starts_with("error: ")
            && err.contains("unknown feature `no_such_feature`")
            && err.contains(&name),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    assert_eq!(std::fs::read(home.path().join("config.toml"))?, before);
    Ok(())
}

#[test]
fn mcp_servers_are_added_read_listed_and_removed() -> anyhow::Result<()> {
    let home = tmp();
    let h = home.path();
    let out = in_home(
        h,
        &["mcp", "add", "docs", "--", "docs-server", "--port", "7"],
    )
    .output()?;
    succeeded(&out);
    let out = in_home(h, &["mcp", "get", "docs", "--json"]).output()?;
    succeeded(&out);
    let server = &json_of(&out)["server"];
    assert_eq!(server["name"], "docs");
    assert_eq!(server["transport"]["command"], "docs-server");
    assert_eq!(server["transport"]["args"], json!(["--port", "7"]));
    let out = in_home(h, &["mcp", "list"]).output()?;
    assert_eq!(succeeded(&out), "");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "docs\n");
    let out = in_home(h, &["mcp", "remove", "docs"]).output()?;
    assert_eq!(succeeded(&out), "removed MCP server `docs`\n");
    let out = in_home(h, &["mcp", "list", "--json"]).output()?;
    succeeded(&out);
    assert_eq!(json_of(&out), json!({"schema_version": 1, "servers": []}));
    let out = in_home(h, &["mcp", "get", "docs"]).output()?;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr_of(&out).contains("docs"), "{}", stderr_of(&out));
    Ok(())
}

#[test]
fn sandbox_passes_output_and_status_through_and_denies_writes_outside() -> anyhow::Result<()> {
    let home = tmp();
    let ws = tmp();
    let write = |path: &Path| {
        let mut c = in_home(home.path(), &["sandbox", "-P", ":workspace", "--cd"]);
        c.arg(ws.path())
            .arg("--")
            .args(["sh", "-c"])
            .arg(format!("echo out; echo hi > '{}'", path.display()));
        c
    };
    let inside = ws.path().join("inside.txt");
    let out = write(&inside).output()?;
    succeeded(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
    assert_eq!(std::fs::read_to_string(&inside)?, "hi\n");
    let outside = home.path().join("outside.txt");
    let out = write(&outside).output()?;
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    assert!(stderr_of(&out).contains("Read-only file system"));
    assert!(!outside.exists());
    Ok(())
}

#[test]
fn review_streams_a_review_turn_like_run() -> anyhow::Result<()> {
    let (_rt, provider) = provider_answering("Looks fine.")?;
    let home = tmp();
    let ws = tmp();
    provider.write_codex_home(home.path())?;
    let git = Command::new("git")
        .args(["init", "-q"])
        .current_dir(ws.path())
        .status()?;
    assert!(git.success());
    std::fs::write(ws.path().join("a.txt"), "new\n")?;
    let out = in_home(home.path(), &["review", "--uncommitted", "--cd"])
        .arg(ws.path())
        .output()?;
    succeeded(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Looks fine.\n");
    let texts = provider.requests()[0].user_texts();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("staged, unstaged, and untracked")),
        "{texts:?}"
    );
    let out = in_home(home.path(), &["review", "--uncommitted", "focus"]).output()?;
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap refuses a target with instructions"
    );
    Ok(())
}

#[test]
fn models_daemon_and_codex_doctor_answer_typed() -> anyhow::Result<()> {
    let home = tmp();
    let out = in_home(home.path(), &["models", "--bundled", "--json"]).output()?;
    succeeded(&out);
    let v = json_of(&out);
    assert_eq!(v["schema_version"], 1);
    let models = v["models"].as_array().cloned().unwrap_or_default();
    assert!(
        !models.is_empty() && models.iter().all(|m| m["slug"].is_string()),
        "{v}"
    );
    let out = in_home(home.path(), &["daemon", "status", "--json"]).output()?;
    assert_eq!(out.status.code(), Some(1), "{}", stderr_of(&out));
    assert_eq!(json_of(&out), json!({"schema_version": 1, "daemon": null}));
    let out = in_home(home.path(), &["codex-doctor", "--json"]).output()?;
    let v = json_of(&out);
    assert_eq!(v["schemaVersion"], 1);
    let failed = v["checks"]
        .as_object()
        .is_some_and(|c| c.values().any(|c| c["status"] == "fail"));
    assert_eq!(out.status.success(), !failed, "{v}");
    Ok(())
}

#[test]
fn coverage_of_the_pinned_release_has_no_gap() -> anyhow::Result<()> {
    let out = cli().args(["coverage", "--json"]).output()?;
    succeeded(&out);
    let v = json_of(&out);
    assert_eq!(v["gaps"], json!([]));
    let commands = v["commands"].as_array().cloned().unwrap_or_default();
    let exec = commands
        .iter()
        .find(|c| c["path"] == "codex exec")
        .cloned()
        .unwrap_or_default();
    assert_eq!(exec["status"], "covered");
    assert_eq!(exec["flags"]["--json"]["status"], "covered");
    assert!(commands.iter().all(|c| c["status"] != "gap"));
    let out = cli().args(["coverage", "--summary"]).output()?;
    let err = succeeded(&out);
    assert!(err.ends_with(", 0 gap(s)\n"), "{err}");
    Ok(())
}

#[test]
fn completions_and_man_pages_for_every_command() -> anyhow::Result<()> {
    let out = cli().args(["completions", "bash"]).output()?;
    succeeded(&out);
    let script = String::from_utf8_lossy(&out.stdout);
    assert!(script.contains("_codex__driver()") && script.contains("codex-doctor"));
    let dir = tmp();
    let out = cli().arg("man").arg(dir.path()).output()?;
    succeeded(&out);
    for page in [
        "codex-driver.1",
        "codex-driver-run.1",
        "codex-driver-sessions-list.1",
        "codex-driver-mcp-add.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page))?;
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{page}");
    }
    Ok(())
}

/// `| head -1` after the reader left: status 141 as with SIGPIPE, nothing on stderr, and
/// the Codex a streamed turn started is gone.
#[test]
#[cfg_attr(not(feature = "offline"), ignore = "needs the `offline` feature")]
fn a_closed_stdout_ends_quietly_with_status_141() -> anyhow::Result<()> {
    let (_rt, provider) = provider_answering("an answer")?;
    let home = tmp();
    let ws = tmp();
    provider.write_codex_home(home.path())?;
    let out = in_home(home.path(), &["run", "--json", "--cd"])
        .arg(ws.path())
        .arg("first question")
        .output()?;
    succeeded(&out);
    let first: Value =
        serde_json::from_slice(out.stdout.split(|b| *b == b'\n').next().unwrap_or_default())?;
    let id = first["thread_id"].as_str().unwrap_or_default().to_owned();
    // `sessions` alone lists.
    let out = in_home(home.path(), &["sessions"]).output()?;
    succeeded(&out);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with(&id));
    let mut completions = cli();
    completions.args(["completions", "zsh"]);
    for mut c in [
        in_home(home.path(), &["sessions"]),
        in_home(home.path(), &["sessions", "list", "--json"]),
        completions,
    ] {
        let args: Vec<_> = c.get_args().map(|a| a.to_owned()).collect();
        let out = into_closed_pipe(&mut c)?;
        assert_eq!(
            out.status.code(),
            Some(141),
            "{args:?}: {}",
            stderr_of(&out)
        );
        assert_eq!(stderr_of(&out), "", "{args:?}");
    }
    let marker = ws.path().to_string_lossy().into_owned();
    let out = into_closed_pipe(
        in_home(home.path(), &["run", "--json", "--cd"])
            .arg(ws.path())
            .arg("second question"),
    )?;
    assert_eq!(out.status.code(), Some(141), "{}", stderr_of(&out));
    assert_eq!(stderr_of(&out), "");
    assert!(!processes_with(&marker), "a Codex outlived the CLI");
    Ok(())
}

/// `update check` against mock npm, GitHub and Homebrew feeds: the verdict, one feed down,
/// and the cache.
#[test]
fn update_check_reports_the_newest_release_and_survives_an_outage() -> anyhow::Result<()> {
    use codex_driver_testkit::{FeedFault, MockReleases, ReleaseFeed};
    let rt = tokio::runtime::Runtime::new()?;
    let feeds = rt.block_on(MockReleases::start("9.1.0"))?;
    let home = tmp();
    let check = |extra: &[&str]| {
        let mut c = cli();
        c.env("HOME", home.path())
            .env_remove("XDG_DATA_HOME")
            .args(["update", "check", "--timeout", "2", "--registry"])
            .arg(feeds.url())
            .arg("--github-api")
            .arg(feeds.url())
            .arg("--homebrew-api")
            .arg(feeds.homebrew_api())
            .args(extra);
        c
    };
    feeds.set_fault(ReleaseFeed::GitHub, Some(FeedFault::Outage));
    let out = check(&["--json"]).output()?;
    succeeded(&out);
    let v = json_of(&out);
    let pinned = codex_driver::binary::PINNED_CODEX;
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["installed"], pinned);
    assert_eq!(v["latest"], "9.1.0");
    assert_eq!(
        v["advisory"],
        json!({"status": "newer_available", "latest": "9.1.0", "tested": false})
    );
    assert_eq!(
        v["sources"][0],
        json!({"source": "npm", "latest": "9.1.0", "error": null, "cached": false})
    );
    assert!(
        v["sources"][1]["error"]
            .as_str()
            .is_some_and(|e| e.contains("HTTP 503")),
        "{v}"
    );
    assert_eq!(v["sources"][2]["latest"], "9.1.0");
    // The human form; npm and Homebrew come from the cache now, GitHub is asked again.
    feeds.set_fault(ReleaseFeed::GitHub, None);
    let out = check(&[]).output()?;
    let err = succeeded(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "codex 9.1.0 is available (you have {pinned}; not yet tested with this codex-driver): codex-driver install 9.1.0\n"
        )
    );
    assert!(
        err.contains("npm       9.1.0 (cached)") && err.contains("github    9.1.0\n"),
        "{err}"
    );
    Ok(())
}

/// However `run` ends, within 2 s no Codex it started (nor the command that Codex runs) is
/// left, on both transports. SIGINT, SIGTERM and SIGHUP are handled like Ctrl-C: the turn is
/// cancelled and the CLI exits with status 1; SIGKILL (the OOM killer) leaves the CLI no say, and
/// Codex notices on its own (the library's parent-death signal).
#[test]
#[cfg_attr(not(feature = "offline"), ignore = "needs the `offline` feature")]
fn every_way_run_ends_leaves_no_codex() -> anyhow::Result<()> {
    use codex_driver_testkit::{MockResponse, ProcessMarker};
    use std::io::BufRead;
    let rt = tokio::runtime::Runtime::new()?;
    for transport in [None, Some("--app-server")] {
        for signal in ["INT", "TERM", "HUP", "KILL"] {
            let marker = ProcessMarker::new(&format!("cli-{signal}"));
            let provider = rt.block_on(codex_driver_testkit::MockProvider::start(vec![
                MockResponse::new().exec_command(format!("sleep 300; echo {}", marker.value())),
            ]))?;
            provider.set_fallback(Some(
                MockResponse::text("late").delay_before(std::time::Duration::from_secs(120)),
            ));
            let home = tmp();
            let ws = tmp();
            provider.write_codex_home(home.path())?;
            let mut cmd = in_home(home.path(), &["run", "--json", "-s", "workspace-write"]);
            if let Some(flag) = transport {
                cmd.arg(flag);
            }
            let (key, value) = marker.env();
            let log = home.path().join("cli-stderr.log");
            let mut child = cmd
                .arg("--cd")
                .arg(ws.path())
                .arg("sleep")
                .env(key, value)
                .stdout(Stdio::piped())
                .stderr(std::fs::File::create(&log)?)
                .spawn()?;
            let case = format!("{transport:?} SIG{signal}");
            let mut lines = std::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
            // The command runs once Codex reports it (both transports print it as JSON).
            let mut seen = Vec::new();
            let started = lines.by_ref().map_while(Result::ok).any(|l| {
                let hit = l.contains("sleep 300");
                seen.push(l);
                hit
            });
            let running = marker.wait_for(std::time::Duration::from_secs(10), |p| {
                p.cmdline.contains("sleep 300")
            });
            if !(started && running) {
                let _ = child.kill();
                marker.kill_all();
                let err = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("{case}: the command never ran; stdout: {seen:#?}; stderr: {err}");
            }
            let killed = Command::new("kill")
                .arg(format!("-{signal}"))
                .arg(child.id().to_string())
                .status()?;
            assert!(killed.success());
            let status = child.wait()?;
            let ended = std::time::Instant::now();
            let left = marker.wait_gone(std::time::Duration::from_secs(2));
            marker.kill_all();
            if signal == "KILL" {
                use std::os::unix::process::ExitStatusExt;
                assert_eq!(status.signal(), Some(9), "{case}");
            } else {
                assert_eq!(status.code(), Some(1), "{case}");
            }
            if let Err(left) = left {
                panic!("{case}: a process outlived the CLI: {left:#?}");
            }
            let took = ended.elapsed();
            eprintln!("{case}: all gone {took:?} after the CLI ended");
            let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("reliability");
            std::fs::create_dir_all(&dir)?;
            let transport = if transport.is_some() {
                "app-server"
            } else {
                "exec"
            };
            let record = serde_json::json!({
                "suite": format!("orphans-cli-{transport}"),
                "case": format!("SIG{signal}"),
                "counts": {"turns_attempted": 1, "faults_injected": 1, "processes_leaked": 0,
                           "hangs": 0, "data_lost": 0, "crashes": 0, "wrong_outcomes": 0},
                "gone_ms": took.as_secs_f64() * 1000.0,
            });
            std::fs::write(
                dir.join(format!("orphans-cli-{transport}-{signal}.json")),
                record.to_string(),
            )?;
        }
    }
    Ok(())
}
