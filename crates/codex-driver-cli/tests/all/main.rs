//! The `codex-driver` binary, end to end, with the real Codex.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod codex_cmds;
mod config;
mod sessions;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The demo's final message.
const DEMO_ANSWER: &str = "Offline demo complete: I ran a shell command (shell-output.txt) and created CODEX_DRIVER_DEMO.md.\n";

fn codex() -> PathBuf {
    codex_driver_testkit::codex_binary()
        .unwrap_or_else(|| panic!("no Codex binary: run scripts/install-codex"))
}

fn tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("cli-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The environment every run of the CLI gets: the pinned Codex, caches under the target dir,
/// no API keys.
fn test_env(c: &mut Command) -> &mut Command {
    c.env("CODEX_BINARY", codex())
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .env_remove("OPENAI_API_KEY")
        .env_remove("CODEX_API_KEY")
}

fn cli() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_codex-driver"));
    test_env(&mut c);
    c
}

/// `codex-driver run --offline [--codex-home HOME] [--cd WS]`; the caller adds the rest.
fn run_offline(home: Option<&Path>, ws: Option<&Path>) -> Command {
    let mut c = cli();
    c.args(["run", "--offline"]);
    if let Some(h) = home {
        c.arg("--codex-home").arg(h);
    }
    if let Some(w) = ws {
        c.arg("--cd").arg(w);
    }
    c
}

/// Asserts the command succeeded (showing its stderr otherwise); returns the stderr.
fn succeeded(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

/// A provider whose every answer is `text`, and the runtime serving it.
fn provider_answering(
    text: &str,
) -> anyhow::Result<(tokio::runtime::Runtime, codex_driver_testkit::MockProvider)> {
    let rt = tokio::runtime::Runtime::new()?;
    let provider = rt.block_on(codex_driver_testkit::MockProvider::start(Vec::new()))?;
    provider.set_fallback(Some(codex_driver_testkit::MockResponse::text(text)));
    Ok((rt, provider))
}

#[test]
#[cfg_attr(not(feature = "offline"), ignore = "needs the `offline` feature")]
fn offline_demo_runs_a_real_turn() -> anyhow::Result<()> {
    let ws = tmp();
    let home = tmp();
    let out = run_offline(Some(home.path()), Some(ws.path()))
        .arg("show me")
        .output()?;
    let stderr = succeeded(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout), DEMO_ANSWER);
    assert_eq!(
        std::fs::read_to_string(ws.path().join("shell-output.txt"))?,
        "hello from a sandboxed shell\n"
    );
    assert!(
        std::fs::read_to_string(ws.path().join("CODEX_DRIVER_DEMO.md"))?
            .starts_with("# codex-driver offline demo")
    );
    assert!(stderr.contains("(exit 0)"), "{stderr}");
    assert!(stderr.contains("✎ added"), "{stderr}");
    // No warning of the demo's own making (a model Codex has no metadata for, ...).
    assert!(!stderr.lines().any(|l| l.starts_with("! ")), "{stderr}");
    Ok(())
}

/// With a rate card that prices the demo's model, `run` prints the turn's cost on stderr (the
/// JSONL on stdout stays `codex exec --json`'s own), and `sessions show` prices the thread.
#[test]
#[cfg_attr(not(feature = "offline"), ignore = "needs the `offline` feature")]
fn run_and_sessions_show_print_the_cost_from_a_rate_card() -> anyhow::Result<()> {
    let (ws, home, dir) = (tmp(), tmp(), tmp());
    let rates = dir.path().join("rates.toml");
    std::fs::write(
        &rates,
        "effective = \"2026-12-01\"\n[models.\"gpt-5.5\"]\ninput = 1000\ncached_input = 100\noutput = 10000\n",
    )?;
    let out = run_offline(Some(home.path()), Some(ws.path()))
        .args(["--json", "--rates"])
        .arg(&rates)
        .arg("show me")
        .output()?;
    let stderr = succeeded(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let done: serde_json::Value = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["type"] == "turn.completed")
        .ok_or_else(|| anyhow::anyhow!("no turn.completed in {stdout}"))?;
    let n = |k: &str| done["usage"][k].as_f64().unwrap_or(0.0);
    let usd = ((n("input_tokens") - n("cached_input_tokens")) * 1000.0
        + n("cached_input_tokens") * 100.0
        + n("output_tokens") * 10000.0)
        / 1e6;
    assert!(usd > 0.0, "{done}");
    let line = format!("• cost: ${usd:.4} (gpt-5.5, rates of 2026-12-01)");
    assert!(stderr.lines().any(|l| l == line), "{line} not in {stderr}");

    // The same thread, priced from its rollout.
    let thread = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| v["thread_id"].as_str().map(str::to_owned))
        .ok_or_else(|| anyhow::anyhow!("no thread id"))?;
    let out = cli()
        .args(["sessions", "show", &thread, "--json", "--codex-home"])
        .arg(home.path())
        .arg("--rates")
        .arg(&rates)
        .output()?;
    succeeded(&out);
    let shown: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(shown["usage"], done["usage"]);
    assert_eq!(
        shown["cost_usd"].as_f64().map(|c| (c * 1e6).round()),
        Some((usd * 1e6).round())
    );
    assert_eq!(shown["rates_effective"], "2026-12-01");
    Ok(())
}

/// Without credentials and without a named place, `run` falls back to the demo in fresh
/// private directories, removed at the end (nothing under the user's home survives it).
#[test]
#[cfg_attr(not(feature = "offline"), ignore = "needs the `offline` feature")]
fn offline_is_the_default_without_credentials_or_a_named_place() -> anyhow::Result<()> {
    let user = tmp();
    let out = cli()
        .env("HOME", user.path())
        .env_remove("CODEX_HOME")
        .env_remove("XDG_CACHE_HOME")
        .args(["run", "hi"])
        .output()?;
    let stderr = succeeded(&out);
    assert!(stderr.contains("no credentials found"), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), DEMO_ANSWER);
    // The scratch parent is private, and empty again.
    let base = user.path().join(".cache/codex-driver");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&base)?.permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(std::fs::read_dir(&base)?.count(), 0);
    assert!(!user.path().join(".codex").exists());
    Ok(())
}

/// Regression (security review): a run that names a home (or a working directory) but has no
/// credentials refuses, saying what is missing, and leaves the home byte for byte as it was;
/// `--offline` in that home never writes its config either.
#[test]
#[cfg_attr(not(feature = "offline"), ignore = "needs the `offline` feature")]
fn a_named_home_without_credentials_is_refused_and_left_untouched() -> anyhow::Result<()> {
    let (home, ws) = (tmp(), tmp());
    let config = home.path().join("config.toml");
    let mine = "# my settings\nmodel = \"gpt-5\"\nmodel_provider = \"openai\"\n";
    std::fs::write(&config, mine)?;
    let listing = |p: &std::path::Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(p)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    for extra in [&["--codex-home"][..], &["--cd"][..]] {
        let mut c = cli();
        c.env("CODEX_HOME", home.path()).arg("run");
        match extra[0] {
            "--codex-home" => c.arg("--codex-home").arg(home.path()),
            _ => c.arg("--cd").arg(ws.path()),
        };
        let out = c.arg("hello").output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(
            stderr,
            format!(
                "error: no credentials for a real run in {h}: looked for $CODEX_API_KEY, $OPENAI_API_KEY, {h}/auth.json. Log in with `CODEX_HOME={h} codex login`, set CODEX_API_KEY, or pass --offline for the scripted demo\n",
                h = home.path().display()
            )
        );
        assert_eq!(std::fs::read_to_string(&config)?, mine);
        assert_eq!(listing(home.path()), ["config.toml"]);
        assert!(listing(ws.path()).is_empty());
    }
    // An explicit --offline run in that home: Codex keeps its session there, but the config
    // (which would otherwise point later runs at a port anyone may bind) is untouched.
    let out = run_offline(Some(home.path()), None).arg("hello").output()?;
    succeeded(&out);
    assert_eq!(std::fs::read_to_string(&config)?, mine);
    Ok(())
}

/// A home named only by `$CODEX_HOME` is the one Codex runs in (the allow-listed environment
/// keeps it), for a real (not offline) run through a configured provider, by both transports.
#[test]
fn a_home_named_by_codex_home_is_used() -> anyhow::Result<()> {
    let (_rt, provider) = provider_answering("from the provider")?;
    for transport in [None, Some("--app-server")] {
        let (home, user, ws) = (tmp(), tmp(), tmp());
        provider.write_codex_home(home.path())?;
        let mut c = cli();
        c.env("CODEX_HOME", home.path())
            .env("HOME", user.path())
            .arg("run")
            .args(transport)
            .arg("--cd")
            .arg(ws.path())
            .args(["--sandbox", "read-only"]);
        let out = c.arg("hello").output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{transport:?}: {stderr}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "from the provider\n");
        let list = cli()
            .args(["sessions", "list", "--json", "--codex-home"])
            .arg(home.path())
            .output()?;
        assert_eq!(
            json_of(&list).as_array().map(Vec::len),
            Some(1),
            "{transport:?}"
        );
        assert!(!user.path().join(".codex").exists(), "{transport:?}");
    }
    Ok(())
}

/// Outside a git repository Codex refuses to run unless told `--skip-git-repo-check`, which
/// `run` takes like every other exec option of the library (from the builder's table).
#[test]
fn exec_options_of_the_library_reach_codex_outside_a_git_repo() -> anyhow::Result<()> {
    let (_rt, provider) = provider_answering("ran outside git")?;
    let (home, user) = (tmp(), tmp());
    // The system temp dir: not inside this repository's git tree.
    let ws = tempfile::tempdir()?;
    provider.write_codex_home(home.path())?;
    let run = |extra: &[&str]| -> anyhow::Result<Output> {
        Ok(cli()
            .env("CODEX_HOME", home.path())
            .env("HOME", user.path())
            .arg("run")
            .arg("--cd")
            .arg(ws.path())
            .args(extra)
            .arg("hello")
            .output()?)
    };
    let refused = run(&[])?;
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--skip-git-repo-check"), "{stderr}");
    let out = run(&[
        "--skip-git-repo-check",
        "--ephemeral",
        "--color",
        "never",
        "-c",
        "model=\"cli-model\"",
    ])?;
    succeeded(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "ran outside git\n");
    // `-c` reached Codex, typed as TOML.
    let body = provider.requests().last().map(|r| r.body.clone());
    assert_eq!(body.map(|b| b["model"].clone()), Some("cli-model".into()));
    // So does `--enable`: a feature this Codex doesn't know is its error, not ours.
    let bad = run(&["--skip-git-repo-check", "--enable", "no_such_feature_xyz"])?;
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("no_such_feature_xyz"), "{stderr}");
    // `--ephemeral` reached Codex: no session was saved.
    let list = cli()
        .args(["sessions", "list", "--json", "--codex-home"])
        .arg(home.path())
        .output()?;
    assert_eq!(json_of(&list).as_array().map(Vec::len), Some(0));
    // The options are documented in `run --help`.
    let help = cli().args(["run", "--help"]).output()?;
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--skip-git-repo-check",
        "--add-dir",
        "--image",
        "--profile",
        "--ephemeral",
    ] {
        assert!(help.contains(flag), "{flag} not in run --help");
    }
    Ok(())
}

/// The CLI passes only an allow-list of the environment to Codex (and so to the commands the
/// model runs and its notify hook) unless `--inherit-env`.
#[test]
#[cfg_attr(not(feature = "offline"), ignore = "needs the `offline` feature")]
fn codex_gets_an_allow_listed_environment() -> anyhow::Result<()> {
    let (home, out_dir) = (tmp(), tmp());
    // Codex's notify hook inherits Codex's own environment: it records it.
    std::fs::write(
        home.path().join("config.toml"),
        format!(
            "notify = [\"sh\", \"-c\", \"env > \\\"$0/env.txt\\\"\", {:?}]\n",
            out_dir.path().display().to_string()
        ),
    )?;
    let env_txt = out_dir.path().join("env.txt");
    let run = |extra: &[&str]| -> anyhow::Result<String> {
        let _ = std::fs::remove_file(&env_txt);
        let out = run_offline(Some(home.path()), None)
            .env("DATABASE_PASSWORD", "hunter2")
            .env("PASSED_ON", "yes")
            .args(extra)
            .arg("x")
            .output()?;
        succeeded(&out);
        for _ in 0..100 {
            if let Ok(t) = std::fs::read_to_string(&env_txt)
                && t.contains("CODEX_HOME=")
            {
                return Ok(t);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        anyhow::bail!("the notify hook never ran")
    };
    let seen = run(&["--pass-env", "PASSED_ON"])?;
    assert!(!seen.contains("DATABASE_PASSWORD"), "{seen}");
    assert!(seen.contains("PASSED_ON=yes"), "{seen}");
    assert!(seen.contains("PATH="), "{seen}");
    let seen = run(&["--inherit-env"])?;
    assert!(seen.contains("DATABASE_PASSWORD=hunter2"), "{seen}");
    Ok(())
}

#[test]
#[cfg_attr(not(feature = "offline"), ignore = "needs the `offline` feature")]
fn json_mode_prints_codex_wire_format() -> anyhow::Result<()> {
    let ws = tmp();
    let out = run_offline(None, Some(ws.path()))
        .args(["--json", "json please"])
        .output()?;
    succeeded(&out);
    let text = String::from_utf8(out.stdout)?;
    let types: Vec<String> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            v["type"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(types.first().map(String::as_str), Some("thread.started"));
    assert_eq!(types.last().map(String::as_str), Some("turn.completed"));
    assert!(types.iter().any(|t| t == "item.started"));
    Ok(())
}

#[test]
#[cfg_attr(not(feature = "offline"), ignore = "needs the `offline` feature")]
fn failure_exits_non_zero_with_the_classified_error() -> anyhow::Result<()> {
    let out = cli()
        .args([
            "run",
            "--offline",
            "--codex-binary",
            "/nonexistent/codex",
            "x",
        ])
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: no Codex binary found; looked in: /nonexistent/codex (not an executable file)\n"
    );
    Ok(())
}

/// A build without the `offline` feature says so instead of running the demo.
#[test]
#[cfg(not(feature = "offline"))]
fn without_the_offline_feature_run_says_so() -> anyhow::Result<()> {
    let out = cli().args(["run", "--offline", "x"]).output()?;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(
            "error: --offline: this codex-driver was built without the `offline` feature"
        ),
        "{stderr}"
    );
    // The fallback without credentials refuses the same way.
    let user = tmp();
    let out = cli()
        .env("HOME", user.path())
        .env_remove("CODEX_HOME")
        .args(["run", "hi"])
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: no credentials for a real run: looked for $CODEX_API_KEY"),
        "{stderr}"
    );
    assert!(stderr.contains("without the `offline` feature"), "{stderr}");
    Ok(())
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn doctor_json_reports_binary_home_and_auth() -> anyhow::Result<()> {
    let home = tmp();
    std::fs::write(
        home.path().join("auth.json"),
        r#"{"auth_mode":"apikey","OPENAI_API_KEY":"sk-secret-value"}"#,
    )?;
    let out = cli()
        .args(["doctor", "--json", "--codex-home"])
        .arg(home.path())
        .output()?;
    succeeded(&out);
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("sk-secret"),
        "a secret leaked"
    );
    let v = json_of(&out);
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["ok"], true);
    assert_eq!(v["binary"]["found"], true);
    assert_eq!(v["binary"]["source"], "env");
    assert_eq!(v["binary"]["path"], codex().display().to_string());
    let release = std::process::Command::new(codex())
        .arg("--version")
        .output()?;
    let release = String::from_utf8_lossy(&release.stdout);
    assert_eq!(
        v["binary"]["version"],
        release.split_whitespace().last().unwrap_or_default()
    );
    assert_eq!(v["binary"]["support"], "tested");
    assert_eq!(v["home"]["path"], home.path().display().to_string());
    assert_eq!(v["home"]["exists"], true);
    // Test homes live under the target dir, which is under the temp dir only for a /tmp checkout.
    assert_eq!(
        v["home"]["under_temp_dir"],
        home.path().starts_with(std::env::temp_dir())
    );
    assert_eq!(
        v["home"]["files"][1],
        serde_json::json!({"name": "auth.json", "present": true, "mode": "644"})
    );
    assert_eq!(
        v["auth"],
        serde_json::json!({"mode": "apikey", "has_api_key": true, "has_tokens": false, "last_refresh": null, "store": "file"})
    );
    assert_eq!(
        v["config"],
        serde_json::json!({"ok": true, "mcp_servers": [], "notify": null})
    );
    assert_eq!(
        v["sessions"],
        serde_json::json!({"saved": 0, "archived": 0})
    );
    // A config.toml that does not parse is named, and nothing else breaks.
    std::fs::write(home.path().join("config.toml"), "[mcp_servers.x\n")?;
    let out = cli()
        .args(["doctor", "--json", "--codex-home"])
        .arg(home.path())
        .output()?;
    let v = json_of(&out);
    assert_eq!(v["config"]["ok"], false);
    assert!(
        v["config"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("config.toml:1:"),
        "{}",
        v["config"]
    );
    Ok(())
}

#[test]
fn doctor_without_a_binary_fails_and_lists_where_it_looked() -> anyhow::Result<()> {
    let home = tmp();
    let out = cli()
        .env_remove("CODEX_BINARY")
        .env("HOME", home.path())
        .env("PATH", "/nonexistent-bin")
        .args(["doctor", "--json", "--codex-home"])
        .arg(home.path())
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    let v = json_of(&out);
    assert_eq!(v["binary"]["found"], false);
    assert_eq!(
        v["binary"]["error"],
        format!(
            "no Codex binary found; looked in: $CODEX_BINARY (unset), {}/.codex-driver/codex-versions (no version installed), /nonexistent-bin/codex (missing)",
            home.path().display()
        )
    );
    Ok(())
}

#[test]
fn home_init_creates_0700_and_seeds_auth_0600() -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let user = tmp();
    let source = user.path().join("real-codex");
    std::fs::create_dir_all(&source)?;
    std::fs::write(source.join("auth.json"), r#"{"OPENAI_API_KEY":"sk-x"}"#)?;
    let out = cli()
        .env("HOME", user.path())
        .env_remove("XDG_DATA_HOME")
        .args(["home", "init", "--app", "myhub", "--seed-auth-from"])
        .arg(&source)
        .output()?;
    succeeded(&out);
    let home = user.path().join(".myhub/codex");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        home.display().to_string()
    );
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    };
    assert_eq!(mode(&home), 0o700);
    assert_eq!(mode(&home.join("auth.json")), 0o600);
    // The same login, written the way Codex writes it (pretty JSON).
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(
            home.join("auth.json")
        )?)?,
        serde_json::json!({"OPENAI_API_KEY": "sk-x"})
    );
    Ok(())
}

#[test]
fn install_from_a_mock_registry() -> anyhow::Result<()> {
    let (_rt, reg) = registry_with("7.7.7")?;
    let dir = tmp();
    let out = cli()
        .args(["install", "latest", "--registry", &reg.url(), "--dir"])
        .arg(dir.path())
        .output()?;
    succeeded(&out);
    let bin = String::from_utf8(out.stdout)?.trim().to_owned();
    assert!(bin.ends_with("/7.7.7/bin/codex"), "{bin}");
    let v = Command::new(&bin).arg("--version").output()?;
    assert_eq!(String::from_utf8_lossy(&v.stdout), "codex-cli 7.7.7\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("installed codex 7.7.7"));
    Ok(())
}

#[test]
fn install_takes_the_registry_from_the_npm_configuration() -> anyhow::Result<()> {
    let (_rt, reg) = registry_with("7.7.8")?;
    // From $NPM_CONFIG_REGISTRY ...
    let dir = tmp();
    let out = cli()
        .env("NPM_CONFIG_REGISTRY", reg.url())
        .args(["install", "7.7.8", "--dir"])
        .arg(dir.path())
        .output()?;
    succeeded(&out);
    // ... and from the user's .npmrc, never from one in the working directory (a cloned
    // repository's) or its parents.
    let project = tmp();
    std::fs::write(
        project.path().join(".npmrc"),
        "registry=http://127.0.0.1:9/\n",
    )?;
    std::fs::write(
        project.path().join("user-npmrc"),
        format!("registry={}\n", reg.url()),
    )?;
    let dir = tmp();
    let out = cli()
        .current_dir(project.path())
        .env("NPM_CONFIG_USERCONFIG", project.path().join("user-npmrc"))
        .env_remove("NPM_CONFIG_REGISTRY")
        .env_remove("npm_config_registry")
        .args(["install", "7.7.8", "--dir"])
        .arg(dir.path())
        .output()?;
    succeeded(&out);
    assert_eq!(
        reg.requests()
            .iter()
            .filter(|r| r.ends_with(".tgz"))
            .count(),
        2
    );
    Ok(())
}

#[test]
fn install_from_a_private_registry_with_an_npmrc_token() -> anyhow::Result<()> {
    let (_rt, reg) = registry_with("7.7.9")?;
    reg.require_token("cli-npm-token");
    let project = tmp();
    let scope = reg.url().replace("http:", "");
    std::fs::write(
        project.path().join("user-npmrc"),
        format!(
            "registry={}\n{scope}:_authToken=${{CDRV_TEST_NPM_TOKEN}}\n",
            reg.url()
        ),
    )?;
    let install = |token: Option<&str>| -> anyhow::Result<std::process::Output> {
        let dir = tmp();
        let mut cmd = cli();
        // The user's .npmrc (not the machine's), where `${VAR}` is expanded.
        cmd.current_dir(project.path())
            .env("NPM_CONFIG_USERCONFIG", project.path().join("user-npmrc"))
            .env_remove("NPM_CONFIG_REGISTRY")
            .env_remove("npm_config_registry")
            .env_remove("CDRV_TEST_NPM_TOKEN")
            .args(["install", "7.7.9", "--dir"])
            .arg(dir.path());
        if let Some(t) = token {
            cmd.env("CDRV_TEST_NPM_TOKEN", t);
        }
        Ok(cmd.output()?)
    };
    // The variable is unset: no credential, a clear refusal.
    let out = install(None)?;
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("HTTP 401"), "{stderr}");
    assert!(stderr.contains("no credentials"), "{stderr}");
    // Set: the install goes through, and the token is never printed.
    let out = install(Some("cli-npm-token"))?;
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    assert!(!all.contains("cli-npm-token"), "{all}");
    Ok(())
}

#[test]
fn features_lists_the_binarys_flags() -> anyhow::Result<()> {
    let out = cli()
        .env("XDG_CACHE_HOME", tmp().path())
        .args(["features", "--json"])
        .output()?;
    succeeded(&out);
    let v = json_of(&out);
    let list = v.as_array().cloned().unwrap_or_default();
    assert!(list.len() > 100);
    assert!(
        list.iter()
            .any(|f| f["name"] == "apps" && f["stage"] == "stable")
    );
    Ok(())
}

#[test]
#[cfg_attr(not(feature = "offline"), ignore = "needs the `offline` feature")]
fn app_server_mode_streams_the_offline_demo() -> anyhow::Result<()> {
    let ws = tmp();
    let out = run_offline(None, Some(ws.path()))
        .args(["--app-server", "--deny", "demo"])
        .output()?;
    let stderr = succeeded(&out);
    assert_eq!(String::from_utf8_lossy(&out.stdout), DEMO_ANSWER);
    assert!(ws.path().join("CODEX_DRIVER_DEMO.md").is_file());
    assert!(stderr.contains("• turn Completed"), "{stderr}");
    let out = run_offline(None, Some(ws.path()))
        .args(["--app-server", "--json", "demo"])
        .output()?;
    assert!(out.status.success());
    let methods: Vec<String> = String::from_utf8(out.stdout)?
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .map(|v| v["method"].as_str().unwrap_or_default().to_owned())
        })
        .collect::<Result<_, _>>()?;
    assert!(
        methods.iter().any(|m| m == "item/agentMessage/delta"),
        "{methods:?}"
    );
    assert_eq!(methods.last().map(String::as_str), Some("turn/completed"));
    Ok(())
}

fn thread_id_in(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("• thread "))
        .unwrap_or_else(|| panic!("no thread id in: {stderr}"))
        .trim()
        .to_owned()
}

/// A thread started by one OS process is continued by another, through each transport.
#[test]
#[cfg_attr(not(feature = "offline"), ignore = "needs the `offline` feature")]
fn resume_a_thread_from_another_process() -> anyhow::Result<()> {
    for transport in [None, Some("--app-server")] {
        let (home, ws) = (tmp(), tmp());
        let run = |extra: &[&str]| -> anyhow::Result<std::process::Output> {
            let mut c = run_offline(Some(home.path()), Some(ws.path()));
            if let Some(t) = transport {
                c.args([t, "--deny"]);
            }
            Ok(c.args(extra).output()?)
        };
        let first = run(&["first prompt"])?;
        let stderr = String::from_utf8_lossy(&first.stderr).into_owned();
        assert!(first.status.success(), "{stderr}");
        let id = thread_id_in(&stderr);
        let second = run(&["--resume", &id, "second prompt"])?;
        let stderr2 = String::from_utf8_lossy(&second.stderr).into_owned();
        assert!(second.status.success(), "{transport:?}: {stderr2}");
        assert_eq!(thread_id_in(&stderr2), id, "{transport:?}");

        // The saved thread, read back from the home by `sessions`.
        let list = cli()
            .args(["sessions", "list", "--json", "--codex-home"])
            .arg(home.path())
            .output()?;
        assert!(list.status.success());
        let v = json_of(&list);
        assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
        assert_eq!(v[0]["thread_id"], id.as_str());
        assert_eq!(v[0]["cwd"], ws.path().display().to_string());
        let show = cli()
            .args(["sessions", "show", &id, "--codex-home"])
            .arg(home.path())
            .output()?;
        let text = String::from_utf8_lossy(&show.stdout);
        let users: Vec<&str> = text.lines().filter(|l| l.starts_with("user: ")).collect();
        assert_eq!(
            users,
            ["user: first prompt", "user: second prompt"],
            "{text}"
        );
    }
    Ok(())
}

/// On a terminal (a pty from util-linux `script`), approvals are asked interactively.
#[test]
#[cfg_attr(not(feature = "offline"), ignore = "needs the `offline` feature")]
fn approvals_are_asked_on_a_terminal() -> anyhow::Result<()> {
    let ws = tmp();
    let cmd = format!(
        "{} run --app-server --offline --approval-policy untrusted --cd {} demo",
        env!("CARGO_BIN_EXE_codex-driver"),
        ws.path().display()
    );
    let mut child = test_env(Command::new("script").args(["-qfec", &cmd, "/dev/null"]))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    {
        use std::io::Write;
        // Yes to the shell command, no to the patch.
        child.stdin.take().unwrap().write_all(b"y\nn\n")?;
    }
    let out = child.wait_with_output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert_eq!(
        text.matches("Allow? [y]es / [a]lways / [N]o:").count(),
        2,
        "{text}"
    );
    assert!(ws.path().join("shell-output.txt").exists(), "{text}");
    assert!(
        !ws.path().join("CODEX_DRIVER_DEMO.md").exists(),
        "the declined patch was applied: {text}"
    );
    Ok(())
}

/// From a fresh `HOME` with no Codex anywhere, `run --offline` installs the pinned release once
/// (from the registry of the npm configuration: here a local one serving the real tarball, so
/// the pinned integrity holds), runs the turn, and the next run reuses it. Opted out, nothing
/// is downloaded and the error lists where it looked.
#[test]
#[cfg_attr(not(feature = "offline"), ignore = "needs the `offline` feature")]
fn the_pinned_codex_is_installed_on_first_use_and_reused() -> anyhow::Result<()> {
    use codex_driver::binary::{PINNED_CODEX, npm_platform};
    let rt = tokio::runtime::Runtime::new()?;
    let reg = rt.block_on(codex_driver_testkit::MockRegistry::start())?;
    let platform = npm_platform().unwrap_or_default();
    reg.publish(
        &format!("{PINNED_CODEX}-{platform}"),
        codex_driver_testkit::real_codex_tarball(PINNED_CODEX, platform)?,
        None,
    );
    let home = tmp();
    let fresh = |c: &mut Command| {
        c.env_remove("CODEX_BINARY")
            .env_remove("XDG_DATA_HOME")
            .env_remove("CODEX_HOME")
            .env("HOME", home.path())
            .env("PATH", "/usr/bin:/bin")
            .env("NPM_CONFIG_REGISTRY", reg.url())
            .env_remove("CODEX_DRIVER_AUTO_INSTALL");
    };
    let downloads = || {
        reg.requests()
            .iter()
            .filter(|r| r.ends_with(".tgz"))
            .count()
    };
    let mut off = cli();
    fresh(&mut off);
    let out = off
        .env("CODEX_DRIVER_AUTO_INSTALL", "0")
        .args(["run", "--offline", "hi"])
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no Codex binary found")
            && err.contains(
                "$CODEX_DRIVER_AUTO_INSTALL (installing the pinned release is turned off)"
            ),
        "{err}"
    );
    assert_eq!(downloads(), 0);
    let binary = home.path().join(format!(
        ".codex-driver/codex-versions/{}/{PINNED_CODEX}",
        codex_driver::binary::target_triple().unwrap_or_default()
    ));
    for round in 0..2 {
        let mut c = cli();
        fresh(&mut c);
        let out = c.args(["run", "--offline", "hi"]).output()?;
        let err = succeeded(&out);
        assert_eq!(String::from_utf8_lossy(&out.stdout), DEMO_ANSWER);
        let installing = format!(
            "codex-driver: no Codex binary found; installing the release this build is pinned to, {PINNED_CODEX}"
        );
        assert_eq!(
            err.contains(&installing),
            round == 0,
            "round {round}: {err}"
        );
        assert_eq!(
            err.contains(&format!(
                "codex-driver: installed codex {PINNED_CODEX} at {}",
                binary.display()
            )),
            round == 0,
            "round {round}: {err}"
        );
        assert_eq!(downloads(), 1, "round {round}");
    }
    let out = cli()
        .env_remove("CODEX_BINARY")
        .env("HOME", home.path())
        .env("PATH", "/nonexistent-bin")
        .args(["doctor", "--json"])
        .output()?;
    succeeded(&out);
    let v = json_of(&out);
    assert_eq!(v["binary"]["source"], "managed");
    assert_eq!(v["binary"]["version"], PINNED_CODEX);
    Ok(())
}

/// A mock npm registry (and the runtime serving it) publishing a fake Codex `version`.
fn registry_with(
    version: &str,
) -> anyhow::Result<(tokio::runtime::Runtime, codex_driver_testkit::MockRegistry)> {
    let rt = tokio::runtime::Runtime::new()?;
    let reg = rt.block_on(codex_driver_testkit::MockRegistry::start())?;
    reg.publish_fake_codex(
        version,
        codex_driver::binary::npm_platform().unwrap_or_default(),
        codex_driver::binary::target_triple().unwrap_or_default(),
        None,
    )?;
    Ok((rt, reg))
}

/// `watch` prints each finished turn of a home as a JSON line and takes its hook out again on
/// SIGTERM; `run --offline --codex-home` leaves the user's config.toml alone (the hook and the
/// user's comments survive it).
#[test]
#[cfg_attr(not(feature = "offline"), ignore = "needs the `offline` feature")]
fn watch_prints_finished_turns_and_cleans_up() -> anyhow::Result<()> {
    use std::io::BufRead;
    let (home, ws) = (tmp(), tmp());
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        "# my own settings\nmodel_reasoning_effort = \"low\"\n",
    )?;
    let errors = home.path().join("watch.stderr");
    let mut watch = cli()
        .args(["watch", "--codex-home"])
        .arg(home.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(&errors)?)
        .spawn()?;
    let installed = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(100));
        std::fs::read_to_string(&config).is_ok_and(|t| t.contains("notify"))
    });
    assert!(installed, "the hook was not installed");
    // A file that is no notification is set aside with a warning; watch goes on.
    let spool = home.path().join(".codex-driver/notify-spool");
    std::fs::write(spool.join("00000000000000000001-1-1.json"), "not json")?;

    let run = run_offline(Some(home.path()), Some(ws.path()))
        .arg("tell me when you are done")
        .output()?;
    succeeded(&run);
    let text = std::fs::read_to_string(&config)?;
    assert!(
        text.starts_with("# my own settings\nmodel_reasoning_effort = \"low\"\n"),
        "{text}"
    );
    assert!(text.contains("notify"), "{text}");

    // One line per turn, read with a deadline.
    let stdout = watch
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(std::time::Duration::from_secs(30))?;
    let v: serde_json::Value = serde_json::from_str(&line)?;
    assert_eq!(v["type"], "agent-turn-complete");
    assert_eq!(
        v["input-messages"],
        serde_json::json!(["tell me when you are done"])
    );

    let killed = Command::new("kill")
        .args(["-TERM", &watch.id().to_string()])
        .status()?;
    assert!(killed.success());
    let status = watch.wait()?;
    assert!(status.success(), "{status:?}");
    let stderr = std::fs::read_to_string(&errors)?;
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("warning: ") && l.contains("00000000000000000001-1-1")),
        "{stderr}"
    );
    assert!(spool.join("00000000000000000001-1-1.bad").is_file());
    let text = std::fs::read_to_string(&config)?;
    assert!(!text.contains("notify"), "{text}");
    assert!(text.starts_with("# my own settings\n"), "{text}");
    Ok(())
}

// ---- auth ----------------------------------------------------------------------------------

/// Runs `c` with `stdin` on its stdin; asserts `canary` (the secret the test used) is nowhere
/// in what the CLI printed.
fn run_with(c: &mut Command, stdin: Option<&str>, canary: &str) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    if let Some(s) = stdin {
        let mut i = child.stdin.take().unwrap();
        i.write_all(s.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    for (name, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(
            !String::from_utf8_lossy(text).contains(canary),
            "the secret leaked on {name}: {out:?}"
        );
    }
    out
}

/// `codex-driver auth ARGS --codex-home HOME`.
fn auth_cmd(home: &Path, args: &[&str]) -> Command {
    let mut c = cli();
    c.arg("auth").args(args).arg("--codex-home").arg(home);
    c
}

/// A 0700 home whose config.toml selects `store` (none written for `None`).
fn auth_home(base: &Path, name: &str, store: Option<&str>) -> PathBuf {
    let h = base.join(name);
    std::fs::create_dir(&h).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&h, std::fs::Permissions::from_mode(0o700)).unwrap();
    if let Some(s) = store {
        std::fs::write(
            h.join("config.toml"),
            format!("cli_auth_credentials_store = \"{s}\"\n"),
        )
        .unwrap();
    }
    h
}

/// `auth status --json`'s object for an API key.
fn api_key_status(home: &Path, cli_store: &str, masked: &str, source: &str) -> serde_json::Value {
    serde_json::json!({
        "schema_version": 1,
        "codex_home": home,
        "stores": {"cli": cli_store, "mcp": "auto", "secrets_backend": false},
        "status": {"status": "api_key", "masked": masked, "source": {"kind": source}},
    })
}

fn logged_out_status(home: &Path, cli_store: &str) -> serde_json::Value {
    serde_json::json!({
        "schema_version": 1,
        "codex_home": home,
        "stores": {"cli": cli_store, "mcp": "auto", "secrets_backend": false},
        "status": {"status": "logged_out"},
    })
}

/// `codex login --with-api-key` (Codex itself) in `home`, the key on stdin, `env` added.
fn codex_login(home: &Path, key: &str, env: &[(String, String)]) {
    let mut c = Command::new(codex());
    c.args(["login", "--with-api-key"])
        .env("CODEX_HOME", home)
        .env("RUST_BACKTRACE", "0")
        .envs(env.iter().map(|(k, v)| (k, v)));
    let out = run_with(&mut c, Some(key), "\u{0}never");
    assert!(out.status.success(), "{out:?}");
}

/// `codex login status` in `home`: (success, stderr).
fn codex_login_status(home: &Path) -> (bool, String) {
    let out = Command::new(codex())
        .args(["login", "status"])
        .env("CODEX_HOME", home)
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    )
}

fn api_key_configured(masked: &str) -> (bool, String) {
    (
        true,
        format!(
            "API key configured - {masked}\nAuthentication is checked when you send a request."
        ),
    )
}

/// The session keyring (`scripts/with-keyring`) must answer: these tests prove keyring mode.
fn require_session_keyring() {
    if let Err(e) = codex_driver::auth::keyring::probe() {
        panic!(
            "no usable Secret Service for the keyring tests ({e}); run them through scripts/test \
             or `scripts/with-keyring cargo test -p codex-driver-cli`"
        );
    }
}

fn require_secret_service_tools() {
    assert!(
        codex_driver_testkit::SecretService::available(),
        "the Secret Service fixture needs dbus-daemon, dbus-send, gnome-keyring-daemon and \
         secret-tool (Debian: apt-get install dbus-daemon dbus-bin gnome-keyring libsecret-tools)"
    );
}

#[test]
fn auth_login_status_logout_in_a_file_home() {
    const KEY: &str = "sk-canary-filehome-0123456789abcdef";
    const MASKED: &str = "sk-canar***bcdef";
    let base = tmp();
    let home = auth_home(base.path(), "h", None);
    let out = run_with(
        &mut auth_cmd(&home, &["login", "--api-key-stdin", "--json"]),
        Some(&format!("{KEY}\n")),
        KEY,
    );
    succeeded(&out);
    assert_eq!(
        json_of(&out),
        serde_json::json!({
            "schema_version": 1,
            "logged_in": true,
            "message": "API key saved. Authentication is checked when you send a request.",
            "status": {"status": "api_key", "masked": MASKED, "source": {"kind": "file"}},
        })
    );
    assert!(home.join("auth.json").is_file());

    let out = run_with(&mut auth_cmd(&home, &["status", "--json"]), None, KEY);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(json_of(&out), api_key_status(&home, "file", MASKED, "file"));
    let out = run_with(&mut auth_cmd(&home, &["status"]), None, KEY);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("logged in with an API key {MASKED} (auth.json)\n")
    );
    // Codex agrees.
    assert_eq!(codex_login_status(&home), api_key_configured(MASKED));

    let out = run_with(&mut auth_cmd(&home, &["logout", "--json"]), None, KEY);
    succeeded(&out);
    assert_eq!(
        json_of(&out),
        serde_json::json!({"schema_version": 1, "removed": {"file": true, "keyring": false}})
    );
    let out = run_with(&mut auth_cmd(&home, &["status", "--json"]), None, KEY);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(json_of(&out), logged_out_status(&home, "file"));
    let out = run_with(&mut auth_cmd(&home, &["logout"]), None, KEY);
    succeeded(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "not logged in; nothing removed\n"
    );
    assert_eq!(codex_login_status(&home), (false, "Not logged in".into()));

    // The secret never comes from an argument, and an empty stdin is refused.
    let out = run_with(
        &mut auth_cmd(&home, &["login", "--api-key-stdin"]),
        Some(""),
        KEY,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no API key on stdin"),
        "{out:?}"
    );
}

#[test]
fn a_keyring_login_made_by_codex_is_reported_and_copied_to_a_file_home() {
    require_session_keyring();
    const KEY: &str = "sk-canary-keyring-0123456789abcdef";
    const MASKED: &str = "sk-canar***bcdef";
    let base = tmp();
    let kr = auth_home(base.path(), "kr", Some("keyring"));
    codex_login(&kr, KEY, &[]);
    assert!(
        !kr.join("auth.json").exists(),
        "keyring mode writes no file"
    );

    let out = run_with(&mut auth_cmd(&kr, &["status", "--json"]), None, KEY);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        json_of(&out),
        api_key_status(&kr, "keyring", MASKED, "keyring")
    );

    let file = auth_home(base.path(), "file", Some("file"));
    let mut c = cli();
    c.args(["auth", "copy", "--json", "--from"])
        .arg(&kr)
        .arg("--to")
        .arg(&file);
    let out = run_with(&mut c, None, KEY);
    succeeded(&out);
    assert_eq!(
        json_of(&out),
        serde_json::json!({"schema_version": 1, "login": "file", "copied": [file.join("auth.json")]})
    );
    assert_eq!(codex_login_status(&file), api_key_configured(MASKED));

    // Logging out of the keyring home removes its item; Codex agrees.
    let out = run_with(&mut auth_cmd(&kr, &["logout", "--json"]), None, KEY);
    succeeded(&out);
    assert_eq!(
        json_of(&out),
        serde_json::json!({"schema_version": 1, "removed": {"file": false, "keyring": true}})
    );
    assert_eq!(codex_login_status(&kr), (false, "Not logged in".into()));
    let out = run_with(&mut auth_cmd(&file, &["logout"]), None, KEY);
    succeeded(&out);
}

#[test]
fn a_locked_keyring_is_an_error_status_naming_the_problem() {
    require_secret_service_tools();
    const KEY: &str = "sk-canary-locked-0123456789abcdef";
    let ss = codex_driver_testkit::SecretService::start().unwrap();
    let base = tmp();
    let kr = auth_home(base.path(), "kr", Some("keyring"));
    codex_login(&kr, KEY, &ss.env());
    assert_eq!(
        ss.items("Codex Auth").unwrap().len(),
        1,
        "Codex stored its login in the fixture's keyring"
    );
    ss.lock().unwrap();

    let out = run_with(
        auth_cmd(&kr, &["status", "--json"]).envs(ss.env()),
        None,
        KEY,
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let mut got = json_of(&out);
    let reason = got["status"]
        .as_object_mut()
        .and_then(|s| s.remove("reason"))
        .and_then(|r| r.as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no reason: {got}"));
    assert_eq!(
        got,
        serde_json::json!({
            "schema_version": 1,
            "codex_home": kr,
            "stores": {"cli": "keyring", "mcp": "auto", "secrets_backend": false},
            "status": {"status": "error", "problem": "locked"},
        })
    );
    assert!(reason.contains("the keyring is locked"), "{reason}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unlock the keyring"), "{stderr}");

    // Text mode: the same exit status, the message (what to do) on stderr.
    let out = run_with(auth_cmd(&kr, &["status"]).envs(ss.env()), None, KEY);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the keyring is locked"),
        "{out:?}"
    );

    // Logging out can't reach the item: an error that says why, and the item stays.
    let out = run_with(auth_cmd(&kr, &["logout"]).envs(ss.env()), None, KEY);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: keyring: ") && stderr.contains("the keyring is locked"),
        "{stderr}"
    );
    assert_eq!(ss.items("Codex Auth").unwrap().len(), 1);
}

#[test]
fn auto_mode_without_a_secret_service_reads_auth_json() {
    const KEY: &str = "sk-canary-auto-0123456789abcdef";
    const MASKED: &str = "sk-canar***bcdef";
    let base = tmp();
    let home = auth_home(base.path(), "h", None);
    let out = run_with(
        &mut auth_cmd(&home, &["login", "--api-key-stdin"]),
        Some(KEY),
        KEY,
    );
    succeeded(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("logged in with an API key {MASKED} (auth.json)\n")
    );
    let out = run_with(
        &mut auth_cmd(&home, &["store", "auto", "--json"]),
        None,
        KEY,
    );
    succeeded(&out);
    assert_eq!(
        json_of(&out),
        serde_json::json!({
            "schema_version": 1, "cli": {"from": "file", "to": "auto"}, "mcp": null, "moved": null,
        })
    );
    let out = run_with(
        auth_cmd(&home, &["status", "--json"]).env_remove("DBUS_SESSION_BUS_ADDRESS"),
        None,
        KEY,
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(json_of(&out), api_key_status(&home, "auto", MASKED, "file"));
}

#[test]
fn auth_store_keyring_move_moves_a_file_login_into_the_keyring_and_back() {
    require_session_keyring();
    const KEY: &str = "sk-canary-move-0123456789abcdef";
    const MASKED: &str = "sk-canar***bcdef";
    let base = tmp();
    let home = auth_home(base.path(), "h", None);
    let out = run_with(
        &mut auth_cmd(&home, &["login", "--api-key-stdin"]),
        Some(KEY),
        KEY,
    );
    succeeded(&out);

    let out = run_with(
        &mut auth_cmd(
            &home,
            &["store", "keyring", "--move", "--mcp", "file", "--json"],
        ),
        None,
        KEY,
    );
    succeeded(&out);
    assert_eq!(
        json_of(&out),
        serde_json::json!({
            "schema_version": 1,
            "cli": {"from": "file", "to": "keyring"},
            "mcp": {"from": "auto", "to": "file"},
            "moved": {"from": "file", "to": "keyring"},
        })
    );
    assert!(!home.join("auth.json").exists());
    assert_eq!(
        std::fs::read_to_string(home.join("config.toml")).unwrap(),
        "cli_auth_credentials_store = \"keyring\"\nmcp_oauth_credentials_store = \"file\"\n"
    );
    assert_eq!(codex_login_status(&home), api_key_configured(MASKED));
    let out = run_with(&mut auth_cmd(&home, &["status", "--json"]), None, KEY);
    let mut want = api_key_status(&home, "keyring", MASKED, "keyring");
    want["stores"]["mcp"] = "file".into();
    assert_eq!(json_of(&out), want);

    // And back to the file: the keyring item goes, Codex reads auth.json.
    let out = run_with(
        &mut auth_cmd(&home, &["store", "file", "--move"]),
        None,
        KEY,
    );
    succeeded(&out);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "cli_auth_credentials_store: keyring -> file\nlogin moved: keyring -> file\n"
    );
    assert!(home.join("auth.json").is_file());
    assert_eq!(codex_login_status(&home), api_key_configured(MASKED));
    let out = run_with(&mut auth_cmd(&home, &["logout", "--json"]), None, KEY);
    assert_eq!(
        json_of(&out),
        serde_json::json!({"schema_version": 1, "removed": {"file": true, "keyring": false}}),
        "the move left no keyring item behind"
    );
}

/// `auth login --device --json` against the mock issuer: `(child, stdout lines, issuer, home)`.
fn device_login(
    rt: &tokio::runtime::Runtime,
    opts: codex_driver_testkit::IssuerOptions,
    base: &Path,
) -> (
    std::process::Child,
    std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    codex_driver_testkit::MockIssuer,
    PathBuf,
) {
    use std::io::BufRead;
    use std::process::Stdio;
    let issuer = rt
        .block_on(codex_driver_testkit::MockIssuer::start_with(opts))
        .unwrap();
    let home = auth_home(base, "h", None);
    std::fs::write(home.join("config.toml"), issuer.config_toml()).unwrap();
    let url = issuer.url();
    let mut c = auth_cmd(&home, &["login", "--device", "--json", "--issuer", &url]);
    c.envs(issuer.env())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines, issuer, home)
}

/// The first stdout line, or a panic showing why the CLI ended without one.
fn first_line(
    child: &mut std::process::Child,
    lines: &mut std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
) -> String {
    match lines.next() {
        Some(l) => l.unwrap(),
        None => {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            panic!("no output line ({:?}): {err}", child.wait());
        }
    }
}

#[test]
fn device_login_prints_the_prompt_as_a_json_line_then_the_status() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let base = tmp();
    let (mut child, mut lines, issuer, home) = device_login(
        &rt,
        codex_driver_testkit::IssuerOptions::default(),
        base.path(),
    );
    let line = first_line(&mut child, &mut lines);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&line).unwrap(),
        serde_json::json!({
            "prompt": "device_code",
            "url": format!("{}/codex/device", issuer.url()),
            "code": codex_driver_testkit::MOCK_USER_CODE,
        })
    );
    let line = lines.next().unwrap().unwrap();
    let mut done: serde_json::Value = serde_json::from_str(&line).unwrap();
    let expires = done["status"]
        .as_object_mut()
        .and_then(|s| s.remove("access_expires_at"));
    assert!(
        expires.as_ref().is_some_and(serde_json::Value::is_u64),
        "{expires:?}"
    );
    assert_eq!(
        done,
        serde_json::json!({
            "schema_version": 1,
            "logged_in": true,
            "message": "Successfully logged in",
            "status": {
                "status": "chatgpt", "email": "dev@example.com", "plan": "plus",
                "account_id": "acct-mock", "source": {"kind": "file"},
            },
        })
    );
    assert!(lines.next().is_none());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "open {}/codex/device and enter the code {}",
            issuer.url(),
            codex_driver_testkit::MOCK_USER_CODE
        )),
        "{stderr}"
    );
    // No token on our output.
    let auth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(home.join("auth.json")).unwrap()).unwrap();
    let refresh = auth["tokens"]["refresh_token"].as_str().unwrap().to_owned();
    assert!(!stderr.contains(&format!("\"{refresh}\"")) && !line.contains(&refresh));
}

#[test]
fn ctrl_c_cancels_a_device_login_and_stores_nothing() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let base = tmp();
    let opts = codex_driver_testkit::IssuerOptions {
        pending_polls: u32::MAX,
        ..Default::default()
    };
    let (mut child, mut lines, _issuer, home) = device_login(&rt, opts, base.path());
    let line = first_line(&mut child, &mut lines);
    assert!(line.starts_with("{\"prompt\":\"device_code\""), "{line}");
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("login cancelled"),
        "{out:?}"
    );
    assert!(!home.join("auth.json").exists());
}

/// Whether a live (not zombie) process has `marker` in its command line.
fn processes_with(marker: &str) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|e| {
        let p = e.path();
        let cmd = std::fs::read(p.join("cmdline")).unwrap_or_default();
        let zombie = std::fs::read_to_string(p.join("stat")).is_ok_and(|s| s.contains(") Z "));
        !zombie
            && String::from_utf8_lossy(&cmd)
                .replace('\0', " ")
                .contains(marker)
    })
}
