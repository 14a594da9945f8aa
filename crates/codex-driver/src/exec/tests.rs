//! Argv and version-gate tests of the exec builder (no process).

use super::*;
use flags::{Color, CyberAccessProgram, LocalProvider, SandboxMode};

fn argv(e: &Exec) -> Vec<String> {
    e.args()
        .unwrap_or_else(|err| panic!("{err}"))
        .into_iter()
        .map(|s| s.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn minimal_argv_reads_prompt_from_stdin() {
    assert_eq!(argv(&Exec::new("hi")), ["exec", "--json", "-"]);
}

#[test]
fn other_options_go_before_the_sub_command_and_are_checked_against_help() {
    let e = Exec::resume("t1", "p")
        .model("m")
        .other_option("--new-flag")
        .other_options(["--level=3", "x"]);
    assert_eq!(
        argv(&e),
        [
            "exec",
            "--json",
            "--model",
            "m",
            "--new-flag",
            "--level=3",
            "x",
            "resume",
            "t1",
            "-"
        ]
    );
    let caps = |flags: &[&str]| Capabilities {
        version: Version::new(0, 169, 0),
        features: Vec::new(),
        commands: std::collections::BTreeSet::new(),
        exec_flags: flags.iter().map(|f| f.to_string()).collect(),
        exec_commands: ["resume".to_owned()].into(),
        top_flags: std::collections::BTreeSet::new(),
        probed_at: 0,
    };
    assert!(
        e.check_capabilities(&caps(&["--new-flag", "--level"]))
            .is_ok()
    );
    match e.check_capabilities(&caps(&["--new-flag"])) {
        Err(Error::Unsupported { option, .. }) => assert_eq!(option, "--level"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn profile_names_stay_inside_the_home() {
    for bad in ["../x", "/etc/x", ".hidden", ""] {
        let err = Exec::new("p").profile(bad).args().err();
        assert!(
            matches!(err, Some(Error::InvalidOptions(_))),
            "{bad}: {err:?}"
        );
    }
    assert_eq!(
        argv(&Exec::new("p").profile("ci")),
        ["exec", "--json", "--profile", "ci", "-"]
    );
}

#[test]
fn a_codex_home_is_taken_as_a_path() {
    let home = crate::CodexHome::new("/h");
    let e = Exec::new("p").codex_home(&home);
    assert_eq!(e.spawn.env.home(), Some(&PathBuf::from("/h")));
}

/// An exec with every option set.
fn every_option() -> Exec {
    Exec::new("p")
        .config("model_reasoning_effort", "high")
        .enable("web_search")
        .disable("memories")
        .image("a.png")
        .image("b.png")
        .model("gpt-5")
        .local_provider(LocalProvider::Ollama)
        .profile("ci")
        .sandbox(SandboxMode::WorkspaceWrite)
        .cd("/w")
        .add_dir("/x")
        .add_dir("/y")
        .thread_source("bot")
        .cyber_access_program(CyberAccessProgram::DaybreakBlue)
        .output_schema("/s.json")
        .color(Color::Never)
        .output_last_message("/o.txt")
        .strict_config(true)
        .oss(true)
        .approve_for_me(true)
        .bypass_approvals_and_sandbox(true)
        .bypass_hook_trust(true)
        .worktree(true)
        .skip_git_repo_check(true)
        .trust(true)
        .ephemeral(true)
        .ignore_user_config(true)
        .ignore_rules(true)
        .remote("ws://127.0.0.1:4500")
        .remote_auth_token_env("CODEX_REMOTE_TOKEN")
}

#[test]
fn every_flag_maps() {
    let e = every_option();
    assert_eq!(
        argv(&e),
        [
            "exec",
            "--json",
            "-c",
            "model_reasoning_effort=\"high\"",
            "--enable",
            "web_search",
            "--disable",
            "memories",
            "--image",
            "a.png",
            "--image",
            "b.png",
            "--model",
            "gpt-5",
            "--local-provider",
            "ollama",
            "--profile",
            "ci",
            "--sandbox",
            "workspace-write",
            "--cd",
            "/w",
            "--add-dir",
            "/x",
            "--add-dir",
            "/y",
            "--thread-source",
            "bot",
            "--cyber-access-program",
            "daybreak_blue",
            "--output-schema",
            "/s.json",
            "--color",
            "never",
            "--output-last-message",
            "/o.txt",
            "--strict-config",
            "--oss",
            "--approve-for-me",
            "--dangerously-bypass-approvals-and-sandbox",
            "--dangerously-bypass-hook-trust",
            "--worktree",
            "--skip-git-repo-check",
            "--trust",
            "--ephemeral",
            "--ignore-user-config",
            "--ignore-rules",
            "--remote",
            "ws://127.0.0.1:4500",
            "--remote-auth-token-env",
            "CODEX_REMOTE_TOKEN",
            "-",
        ]
    );
}

/// Every option `codex exec --help` lists (0.169.0 and 0.171.0, captured) has a builder
/// method: a new Codex's flags show up here when its help is captured.
#[test]
fn the_builder_covers_every_flag_of_the_captured_help() {
    for text in [
        include_str!("../../tests/fixtures/help/0.169.0/exec.txt"),
        include_str!("../../tests/fixtures/help/0.171.0/exec.txt"),
    ] {
        covers(&crate::probe::parse_help(text));
    }
}

fn covers(help: &crate::probe::HelpInfo) {
    let e = every_option();
    let emitted: std::collections::BTreeSet<String> = argv(&e)
        .into_iter()
        .map(|a| match a.as_str() {
            "-c" => "--config".to_owned(),
            _ => a,
        })
        .filter(|a| a.starts_with("--"))
        .collect();
    let missing: Vec<&String> = help
        .flags
        .iter()
        .filter(|f| !["--help", "--version"].contains(&f.as_str()))
        .filter(|f| !emitted.contains(*f))
        .collect();
    assert!(missing.is_empty(), "no builder method for {missing:?}");
}

#[test]
fn resume_and_fork_put_options_before_the_subcommand() {
    let e = Exec::resume("0199-abc", "go on")
        .sandbox(SandboxMode::ReadOnly)
        .cd("/w");
    assert_eq!(
        argv(&e),
        [
            "exec",
            "--json",
            "--sandbox",
            "read-only",
            "--cd",
            "/w",
            "resume",
            "0199-abc",
            "-"
        ]
    );
    let e = Exec::resume_last("again").session(Session::Resume {
        target: ResumeTarget::Last,
        all: true,
    });
    assert_eq!(
        argv(&e),
        ["exec", "--json", "resume", "--all", "--last", "-"]
    );
    assert_eq!(
        argv(&Exec::fork("t1", "branch").model("m")),
        ["exec", "--json", "--model", "m", "fork", "t1", "-"]
    );
}

#[test]
fn bad_input_is_refused() {
    assert!(matches!(
        Exec::new("").args(),
        Err(Error::InvalidOptions(_))
    ));
    assert!(matches!(
        Exec::resume("--last", "x").args(),
        Err(Error::InvalidOptions(_))
    ));
}

#[test]
fn version_guards() {
    let old = Version::new(0, 130, 0);
    let e = Exec::new("p").worktree(true);
    let err = e.check_against(&old, Path::new("/bin/codex")).err();
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some(
            "option `--worktree` needs Codex newer than 0.130.0 (present in 0.169.0), but /bin/codex is 0.130.0"
        )
    );
    assert!(
        e.check_against(&Version::new(0, 169, 0), Path::new("c"))
            .is_ok()
    );
    // 0.171's `--remote` on 0.169: refused before spawning, naming both versions.
    let err = Exec::new("p")
        .remote("ws://127.0.0.1:1")
        .check_against(&Version::new(0, 169, 0), Path::new("/bin/codex"))
        .err();
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some(
            "option `--remote` needs Codex newer than 0.169.0 (present in 0.171.0), but /bin/codex is 0.169.0"
        )
    );
    let pre = Version::parse("0.131.0-alpha.2").unwrap_or_else(|e| panic!("{e}"));
    assert!(e.check_against(&pre, Path::new("c")).is_ok());
    assert!(
        Exec::new("p")
            .ephemeral(true)
            .check_against(&old, Path::new("c"))
            .is_ok()
    );
    assert!(matches!(
        Exec::fork("t", "p").check_against(&old, Path::new("c")),
        Err(Error::Unsupported { option, .. }) if option == "exec fork"
    ));
    assert!(Exec::new("p").gated_flags().is_empty());
}

#[test]
fn json_flag_degrades_when_the_probe_lacks_it() {
    let mut caps: Capabilities = serde_json::from_value(serde_json::json!({
        "version": "0.40.0", "features": [], "commands": [], "exec_flags": ["--experimental-json", "--model"],
        "exec_commands": [], "probed_at": 0
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        argv(&Exec::new("p").capabilities(caps.clone())),
        ["exec", "--experimental-json", "-"]
    );
    caps.exec_flags.insert("--json".into());
    assert_eq!(
        argv(&Exec::new("p").capabilities(caps)),
        ["exec", "--json", "-"]
    );
}

/// The table's options by name: listed with what they take, set like their setters, and a
/// flag or value the builder doesn't know refused naming it.
#[test]
fn options_by_name() {
    let infos = Exec::options();
    let find = |f: &str| infos.iter().find(|i| i.flag == f).map(|i| i.value);
    assert_eq!(find("--skip-git-repo-check"), Some(FlagValue::Switch));
    assert_eq!(
        find("--sandbox"),
        Some(FlagValue::One(&[
            "read-only",
            "workspace-write",
            "danger-full-access"
        ]))
    );
    assert_eq!(find("--add-dir"), Some(FlagValue::Many(&[])));
    let by_name = Exec::new("x")
        .option("--skip-git-repo-check", None)
        .and_then(|e| e.option("--add-dir", Some("/a")))
        .and_then(|e| e.option("--add-dir", Some("/b")))
        .and_then(|e| e.option("--sandbox", Some("read-only")))
        .map(|e| e.args().unwrap_or_default());
    let by_setter = Exec::new("x")
        .skip_git_repo_check(true)
        .add_dir("/a")
        .add_dir("/b")
        .sandbox(SandboxMode::ReadOnly)
        .args()
        .ok();
    assert_eq!(by_name.ok(), by_setter);
    let err = |r: Result<Exec>| r.err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(
        err(Exec::new("x").option("--sandbox", Some("everything"))),
        "invalid options: `--sandbox` does not take `everything`"
    );
    assert!(err(Exec::new("x").option("--no-such-flag", None)).contains("`--no-such-flag`"));
}
