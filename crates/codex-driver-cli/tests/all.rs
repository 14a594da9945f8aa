//! The `codex-driver` binary, end to end, with the real Codex.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::Command;

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

fn cli() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_codex-driver"));
    c.env("CODEX_BINARY", codex())
        .env("XDG_CACHE_HOME", env!("CARGO_TARGET_TMPDIR"))
        .env_remove("OPENAI_API_KEY")
        .env_remove("CODEX_API_KEY");
    c
}

#[test]
fn offline_demo_runs_a_real_turn() -> anyhow::Result<()> {
    let ws = tmp();
    let home = tmp();
    let out = cli()
        .args(["run", "--offline", "--cd"])
        .arg(ws.path())
        .arg("--codex-home")
        .arg(home.path())
        .arg("show me")
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Offline demo complete: I ran a shell command (shell-output.txt) and created CODEX_DRIVER_DEMO.md.\n"
    );
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
    Ok(())
}

#[test]
fn offline_is_the_default_without_credentials() -> anyhow::Result<()> {
    let ws = tmp();
    let out = cli()
        .env("HOME", ws.path())
        .env_remove("CODEX_HOME")
        .args(["run", "--cd"])
        .arg(ws.path())
        .arg("hi")
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("no OpenAI credentials found"), "{stderr}");
    Ok(())
}

#[test]
fn json_mode_prints_codex_wire_format() -> anyhow::Result<()> {
    let ws = tmp();
    let out = cli()
        .args(["run", "--offline", "--json", "--cd"])
        .arg(ws.path())
        .arg("json please")
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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
