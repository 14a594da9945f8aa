//! CODEX_HOME creation and permissions, auth seeding with the real Codex, copy-back under
//! concurrent writers.

use crate::common::tmp_base;
use codex_driver::Error;
use codex_driver::auth::{self, SyncOutcome};
use codex_driver::home::{CodexHome, HomeProblem};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

fn dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("home-")
        .tempdir_in(tmp_base())
        .unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

#[test]
fn materialize_is_0700_and_keeps_existing_content() {
    let d = dir();
    let h = CodexHome::isolated(d.path().join("app/codex"))
        .materialize()
        .unwrap();
    assert_eq!(mode(h.path()), 0o700);
    for sub in [h.sessions_dir(), h.archived_sessions_dir(), h.log_dir()] {
        assert_eq!(mode(&sub), 0o700, "{}", sub.display());
    }
    std::fs::write(h.config_toml(), "# mine\nmodel = \"x\"\n").unwrap();
    let again = CodexHome::isolated(h.path()).materialize().unwrap();
    assert_eq!(
        std::fs::read_to_string(again.config_toml()).unwrap(),
        "# mine\nmodel = \"x\"\n"
    );
}

#[test]
fn a_file_or_an_unreadable_dir_is_refused() {
    let d = dir();
    let f = d.path().join("file");
    std::fs::write(&f, "x").unwrap();
    assert!(matches!(
        CodexHome::new(&f).materialize(),
        Err(Error::Home {
            problem: HomeProblem::NotADirectory,
            ..
        })
    ));
    let missing = CodexHome::new(d.path().join("missing"));
    assert!(matches!(
        missing.check(),
        Err(Error::Home {
            problem: HomeProblem::NotAccessible(_),
            ..
        })
    ));
}

#[test]
fn isolation_refuses_the_users_own_home() {
    let Ok(user) = CodexHome::user_default() else {
        return;
    };
    let err = CodexHome::isolated(user.path()).materialize().err();
    assert!(
        matches!(
            err,
            Some(Error::Home {
                problem: HomeProblem::IsUsersHome,
                ..
            })
        ),
        "{err:?}"
    );
}

/// A home others can write to is refused, whether we would create it or adopt it, and so is one
/// of its directories Codex uses; nothing is created in it.
#[test]
fn a_home_others_can_write_is_refused() {
    let d = dir();
    for mode in [0o777, 0o775, 0o1777] {
        let root = d.path().join(format!("home-{mode:o}"));
        std::fs::create_dir(&root).unwrap();
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(mode)).unwrap();
        for home in [CodexHome::isolated(&root), CodexHome::new(&root)] {
            let err = home.materialize().err();
            assert!(
                matches!(
                    &err,
                    Some(Error::Home { path, problem: HomeProblem::WritableByOthers { mode: m } })
                        if path == &root && *m == mode
                ),
                "{mode:o}: {err:?}"
            );
        }
        assert!(
            CodexHome::new(&root).check().is_err(),
            "check says the same"
        );
        assert!(std::fs::read_dir(&root).unwrap().next().is_none());
        let err = CodexHome::new(&root).materialize().unwrap_err().to_string();
        assert!(err.contains("group or others"), "{err}");
    }
    let root = d.path().join("sub-dir");
    std::fs::create_dir(&root).unwrap();
    std::fs::create_dir(root.join("sessions")).unwrap();
    std::fs::set_permissions(
        root.join("sessions"),
        std::fs::Permissions::from_mode(0o777),
    )
    .unwrap();
    let err = CodexHome::new(&root).materialize().err();
    assert!(
        matches!(
            &err,
            Some(Error::Home { path, problem: HomeProblem::WritableByOthers { mode: 0o777 } })
                if path == &root.join("sessions")
        ),
        "{err:?}"
    );
}

/// A symlinked home is judged by its target: fine when it is ours and private.
#[test]
fn a_symlinked_home_is_judged_by_its_target() {
    let d = dir();
    let real = CodexHome::new(d.path().join("real")).materialize().unwrap();
    let link = d.path().join("link");
    std::os::unix::fs::symlink(real.path(), &link).unwrap();
    CodexHome::isolated(&link).materialize().unwrap();
    std::fs::set_permissions(real.path(), std::fs::Permissions::from_mode(0o770)).unwrap();
    assert!(matches!(
        CodexHome::isolated(&link).materialize(),
        Err(Error::Home {
            problem: HomeProblem::WritableByOthers { mode: 0o770 },
            ..
        })
    ));
}

/// Ownership needs a second user: as root, homes (and links, and `sessions/`) are chowned to
/// `nobody`, who could otherwise have planted a `config.toml` with a `notify` command.
#[test]
fn another_users_home_is_refused() {
    let d = dir();
    if std::fs::metadata(d.path()).unwrap().uid() != 0 {
        eprintln!(
            "SKIPPED another_users_home_is_refused: not root, can't chown a home to another user \
             (fsutil's unit tests check ownership with an injected uid)"
        );
        return;
    }
    let nobody = |p: &Path| std::os::unix::fs::lchown(p, Some(65534), Some(65534)).unwrap();
    let theirs = d.path().join("shared/app/codex");
    std::fs::create_dir_all(&theirs).unwrap();
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(theirs.join("config.toml"), "notify = [\"/tmp/evil\"]\n").unwrap();
    nobody(&theirs);
    let err = CodexHome::isolated(&theirs).materialize().err();
    assert!(
        matches!(
            &err,
            Some(Error::Home { path, problem: HomeProblem::NotOwned { owner: 65534, expected: 0 } })
                if path == &theirs
        ),
        "{err:?}"
    );
    assert!(!theirs.join("sessions").exists());
    assert!(CodexHome::new(&theirs).check().is_err());

    // Ours, behind their link.
    let ours = CodexHome::new(d.path().join("ours")).materialize().unwrap();
    let link = d.path().join("their-link");
    std::os::unix::fs::symlink(ours.path(), &link).unwrap();
    nobody(&link);
    let err = CodexHome::new(&link).materialize().err();
    assert!(
        matches!(
            &err,
            Some(Error::Home { problem: HomeProblem::SymlinkNotOwned { link: l, owner: 65534, .. }, .. })
                if l == &link
        ),
        "{err:?}"
    );

    // Ours, with their sessions/ in it.
    nobody(&ours.sessions_dir());
    let err = CodexHome::new(ours.path()).materialize().err();
    assert!(
        matches!(
            &err,
            Some(Error::Home { path, problem: HomeProblem::NotOwned { owner: 65534, .. } })
                if path == &ours.sessions_dir()
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn seeded_api_key_login_is_seen_by_the_real_codex() -> anyhow::Result<()> {
    let d = dir();
    let source = CodexHome::new(d.path().join("source")).materialize()?;
    // Log the source in the way a user would: `codex login --with-api-key` (key on stdin).
    let mut login = tokio::process::Command::new(crate::common::codex())
        .args(["login", "--with-api-key"])
        .env("CODEX_HOME", source.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = login.stdin.take().unwrap();
        stdin.write_all(b"sk-proj-testkey123456789").await?;
    }
    assert!(login.wait().await?.success());
    let isolated = CodexHome::isolated(d.path().join("isolated")).materialize()?;
    let seeded = auth::seed(&source, &isolated)?;
    assert_eq!(seeded.copied, vec![isolated.auth_json()]);
    assert_eq!(mode(&isolated.auth_json()), 0o600);
    let status = tokio::process::Command::new(crate::common::codex())
        .args(["login", "status"])
        .env("CODEX_HOME", isolated.path())
        .output()
        .await?;
    assert!(status.status.success());
    assert!(
        String::from_utf8_lossy(&status.stderr).contains("API key configured - sk-proj-***56789")
    );
    let summary = auth::summary(&isolated)?.unwrap();
    assert!(summary.has_api_key && !summary.has_tokens);
    assert!(!format!("{summary:?}").contains("testkey"));
    Ok(())
}

fn login(refresh: &str, token: &str) -> String {
    serde_json::json!({
        "auth_mode": "chatgpt",
        "tokens": {"id_token": "i", "access_token": token, "refresh_token": format!("r-{token}")},
        "last_refresh": refresh,
    })
    .to_string()
}

#[test]
fn copy_back_under_concurrent_writers() {
    let d = dir();
    let source = CodexHome::new(d.path().join("source"))
        .materialize()
        .unwrap();
    std::fs::write(source.auth_json(), login("2025-01-01T00:00:00Z", "t00")).unwrap();
    let n = 12;
    let homes: Vec<CodexHome> = (0..n)
        .map(|i| {
            let h = CodexHome::isolated(d.path().join(format!("iso{i}")))
                .materialize()
                .unwrap();
            auth::seed(&source, &h).unwrap();
            h
        })
        .collect();
    // Each isolated home "refreshes" (a distinct time, shuffled order) and syncs at once, from
    // its own thread, while readers check that the source is always whole, valid JSON.
    let order = [7, 2, 11, 0, 5, 9, 1, 10, 3, 8, 6, 4];
    let source = &source;
    std::thread::scope(|s| {
        for (i, h) in homes.iter().enumerate() {
            let stamp = format!("2025-02-01T00:00:{:02}.{}Z", order[i], i);
            s.spawn(move || {
                std::fs::write(h.auth_json(), login(&stamp, &format!("t{i:02}"))).unwrap();
                auth::sync(h, source).unwrap();
            });
        }
        s.spawn(move || {
            for _ in 0..200 {
                let text = std::fs::read_to_string(source.auth_json()).unwrap();
                serde_json::from_str::<serde_json::Value>(&text).unwrap();
            }
        });
    });
    // The newest refresh (order 11, home 2) won.
    let newest = login("2025-02-01T00:00:11.2Z", "t02");
    let json = |t: &str| serde_json::from_str::<serde_json::Value>(t).unwrap();
    assert_eq!(
        json(&std::fs::read_to_string(source.auth_json()).unwrap()),
        json(&newest)
    );
    assert_eq!(mode(&source.auth_json()), 0o600);
    // Every home now holds, or picks up, the newest login (homes that synced after the
    // winner already got it during the race); none ever copies an older one back.
    for (i, h) in homes.iter().enumerate() {
        let outcome = auth::sync(h, source).unwrap();
        assert!(
            matches!(outcome, SyncOutcome::InSync | SyncOutcome::Refreshed),
            "home {i}: {outcome:?}"
        );
        if i == 2 {
            assert_eq!(outcome, SyncOutcome::InSync);
        }
        assert_eq!(
            json(&std::fs::read_to_string(h.auth_json()).unwrap()),
            json(&newest)
        );
    }
}

/// A run adopts the home it is given only when it is private: a home others can write to (where
/// they could plant a `notify` or MCP command) is refused before Codex starts, by both transports.
#[tokio::test]
async fn runs_refuse_a_home_others_can_write() {
    let d = dir();
    let root = d.path().join("shared-home");
    std::fs::create_dir(&root).unwrap();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o777)).unwrap();
    let exec = codex_driver::Exec::new("hi")
        .binary(codex_driver::Binary::at(crate::common::codex()))
        .codex_home(&root)
        .run()
        .await
        .err();
    let spawn = codex_driver::app_server::AppServer::new()
        .binary(codex_driver::Binary::at(crate::common::codex()))
        .codex_home(&root)
        .spawn()
        .await
        .err();
    for err in [exec, spawn] {
        assert!(
            matches!(
                &err,
                Some(Error::Home { path, problem: HomeProblem::WritableByOthers { mode: 0o777 } })
                    if path == &root
            ),
            "{err:?}"
        );
    }
    assert!(
        std::fs::read_dir(&root).unwrap().next().is_none(),
        "Codex never ran in it"
    );
}

/// Regression (security review): a home or spool created under a directory others can write to
/// (and that is not sticky) is refused before anything is created, since they could swap our
/// fresh directory for theirs; under a sticky one (like /tmp) it is fine.
#[test]
fn nothing_is_created_under_a_shared_non_sticky_directory() {
    let d = dir();
    let shared = d.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = CodexHome::isolated(shared.join("team/codex"))
        .materialize()
        .err();
    assert!(
        matches!(&err, Some(Error::UnsafeDir { path, problem: HomeProblem::WritableByOthers { mode: 0o777 } }) if path == &shared),
        "{err:?}"
    );
    let err = codex_driver::notify::NotifySpool::create(shared.join("spool")).err();
    assert!(
        matches!(&err, Some(Error::UnsafeDir { path, .. }) if path == &shared),
        "{err:?}"
    );
    assert!(std::fs::read_dir(&shared).unwrap().next().is_none());
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let home = CodexHome::isolated(shared.join("team/codex"))
        .materialize()
        .unwrap();
    assert_eq!(mode(home.path()), 0o700);
}
