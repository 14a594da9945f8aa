//! Every bad input a user can give ends in an error that names what was wrong and where, not
//! a neighbouring cause (a missing working directory is not a missing binary): one row per
//! input, each checked for its error kind and for the culprit (a path, a key, a name, a
//! version) in the message, on both transports where both take the input.

use crate::common::{Env, codex, tmp_base};
use codex_driver::app_server::AppServer;
use codex_driver::{Binary, ErrorKind, Exec};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One bad input: how to apply it to a run, the kind expected, and the text that must appear.
struct Case {
    name: &'static str,
    kind: ErrorKind,
    culprit: String,
    exec: Option<Exec>,
    app_server: Option<AppServer>,
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/usr/bin/env bash\n{body}\n")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn server(env: &Env) -> AppServer {
    AppServer::new()
        .binary(Binary::at(codex()))
        .codex_home(env.home.path())
        .current_dir(env.ws())
        .request_timeout(Duration::from_secs(30))
}

#[tokio::test]
async fn every_bad_input_names_its_culprit() {
    let env = Env::new(Vec::new()).await;
    let scratch = tempfile::tempdir_in(tmp_base()).unwrap();
    let s = scratch.path();
    let show = |p: &Path| p.display().to_string();

    let missing = s.join("no-such-codex");
    let not_codex = script(s, "not-codex", "echo 'hello from some other tool'");
    let too_old = script(s, "old-codex", "echo 'codex-cli 0.99.0'");
    let not_exec = s.join("not-executable");
    std::fs::write(&not_exec, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&not_exec, std::fs::Permissions::from_mode(0o644)).unwrap();
    let file = s.join("a-file");
    std::fs::write(&file, "x").unwrap();
    let open_home = s.join("world-writable-home");
    std::fs::create_dir(&open_home).unwrap();
    std::fs::set_permissions(&open_home, std::fs::Permissions::from_mode(0o777)).unwrap();
    let bad_config_home = s.join("bad-config-home");
    std::fs::create_dir(&bad_config_home).unwrap();
    std::fs::set_permissions(&bad_config_home, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(
        bad_config_home.join("config.toml"),
        "model = \"o3\"\n[tui\n",
    )
    .unwrap();
    let binary_home = s.join("latin1-config-home");
    std::fs::create_dir(&binary_home).unwrap();
    std::fs::set_permissions(&binary_home, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(binary_home.join("config.toml"), b"model = \"caf\xe9\"\n").unwrap();

    let exec = || env.exec("x");
    let both = |f: &dyn Fn(Exec) -> Exec, g: &dyn Fn(AppServer) -> AppServer| {
        (Some(f(exec())), Some(g(server(&env))))
    };
    let mut cases = Vec::new();
    let mut add =
        |name, kind, culprit: String, (exec, app_server): (Option<Exec>, Option<AppServer>)| {
            cases.push(Case {
                name,
                kind,
                culprit,
                exec,
                app_server,
            });
        };
    add(
        "binary missing",
        ErrorKind::Binary,
        show(&missing),
        both(&|e| e.binary(Binary::at(&missing)), &|a| {
            a.binary(Binary::at(&missing))
        }),
    );
    add(
        "binary is a directory",
        ErrorKind::Binary,
        format!(
            "{}: Permission denied (os error 13) (it is a directory",
            show(s)
        ),
        both(&|e| e.binary(Binary::at(s)), &|a| a.binary(Binary::at(s))),
    );
    add(
        "binary not executable",
        ErrorKind::Spawn,
        format!(
            "{}: Permission denied (os error 13) (it is not executable: mode 644)",
            show(&not_exec)
        ),
        both(&|e| e.binary(Binary::at(&not_exec)), &|a| {
            a.binary(Binary::at(&not_exec))
        }),
    );
    add(
        "binary is not Codex",
        ErrorKind::Binary,
        show(&not_codex),
        both(&|e| e.binary(Binary::at(&not_codex)), &|a| {
            a.binary(Binary::at(&not_codex))
        }),
    );
    add(
        "binary too old",
        ErrorKind::Version,
        "0.99.0".into(),
        both(&|e| e.binary(Binary::at(&too_old)), &|a| {
            a.binary(Binary::at(&too_old))
        }),
    );
    add(
        "working directory missing",
        ErrorKind::Config,
        show(&s.join("gone")),
        both(&|e| e.current_dir(s.join("gone")), &|a| {
            a.current_dir(s.join("gone"))
        }),
    );
    add(
        "working directory is a file",
        ErrorKind::Config,
        show(&file),
        both(&|e| e.current_dir(&file), &|a| a.current_dir(&file)),
    );
    add(
        "CODEX_HOME missing",
        ErrorKind::Config,
        show(&s.join("no-home")),
        both(&|e| e.codex_home(s.join("no-home")), &|a| {
            a.codex_home(s.join("no-home"))
        }),
    );
    add(
        "CODEX_HOME is a file",
        ErrorKind::Config,
        show(&file),
        both(&|e| e.codex_home(&file), &|a| a.codex_home(&file)),
    );
    add(
        "CODEX_HOME writable by others",
        ErrorKind::Config,
        show(&open_home),
        both(&|e| e.codex_home(&open_home), &|a| a.codex_home(&open_home)),
    );
    add(
        "config.toml not TOML",
        ErrorKind::Config,
        format!("{}:2:", show(&bad_config_home.join("config.toml"))),
        both(&|e| e.codex_home(&bad_config_home), &|a| {
            a.codex_home(&bad_config_home)
        }),
    );
    add(
        "config.toml not UTF-8",
        ErrorKind::Config,
        show(&binary_home.join("config.toml")),
        both(&|e| e.codex_home(&binary_home), &|a| {
            a.codex_home(&binary_home)
        }),
    );
    add(
        "unknown feature",
        ErrorKind::Config,
        "no_such_feature_xyz".into(),
        both(&|e| e.enable("no_such_feature_xyz"), &|a| {
            a.enable("no_such_feature_xyz")
        }),
    );
    add(
        "secret in a -c override",
        ErrorKind::Config,
        "model_providers.x.experimental_bearer_token".into(),
        both(
            &|e| e.config("model_providers.x.experimental_bearer_token", "sk-1"),
            &|a| a.config("model_providers.x.experimental_bearer_token", "sk-1"),
        ),
    );
    add(
        "image missing",
        ErrorKind::Config,
        show(&s.join("nope.png")),
        (Some(exec().image(s.join("nope.png"))), None),
    );
    add(
        "output schema missing",
        ErrorKind::Config,
        show(&s.join("schema.json")),
        (Some(exec().output_schema(s.join("schema.json"))), None),
    );
    add(
        "last-message file in a missing directory",
        ErrorKind::Config,
        show(&s.join("no-dir")),
        (
            Some(exec().output_last_message(s.join("no-dir/last.txt"))),
            None,
        ),
    );
    add(
        "tee file in a missing directory",
        ErrorKind::Io,
        show(&s.join("no-dir")),
        (Some(exec().tee_jsonl(s.join("no-dir/copy.jsonl"))), None),
    );
    add(
        "resume an unknown session",
        ErrorKind::NotFound,
        "01938a3c-dead-7000-8000-00000000beef".into(),
        (
            Some(env.configure(Exec::resume(
                "01938a3c-dead-7000-8000-00000000beef",
                "again",
            ))),
            None,
        ),
    );

    let mut wrong = Vec::new();
    for case in cases {
        let mut outcomes = Vec::new();
        if let Some(e) = case.exec {
            outcomes.push(("exec", e.run().await.map(drop)));
        }
        if let Some(a) = case.app_server {
            outcomes.push(("app-server", a.spawn().await.map(drop)));
        }
        for (transport, outcome) in outcomes {
            match outcome {
                Ok(()) => wrong.push(format!("{} ({transport}): succeeded", case.name)),
                Err(e) => {
                    let text = e.to_string();
                    if e.kind() != case.kind || !text.contains(&case.culprit) {
                        wrong.push(format!(
                            "{} ({transport}): {:?} `{text}`; want {:?} naming `{}`",
                            case.name,
                            e.kind(),
                            case.kind,
                            case.culprit
                        ));
                    }
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
