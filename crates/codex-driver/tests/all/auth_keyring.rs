//! Credential stores for real: logins Codex itself keeps in the OS keyring (the session's
//! Secret Service, which `scripts/test` provides through `scripts/with-keyring`) read, reported
//! and copied by the library, and accepted by Codex after copying, in both directions.

use crate::common::{codex, tmp_base};
use codex_driver::auth::{
    self, AuthSource, AuthStatus, CliAuthStore, LoginStore, Secret, StoreKind, StoredLogin,
};
use codex_driver::home::CodexHome;
use std::process::Stdio;
use tokio::io::AsyncWriteExt;

/// The session keyring must answer: these tests are the proof that keyring mode works, so a
/// missing one fails them (run them through `scripts/test`, which starts one).
fn require_keyring() {
    if let Err(e) = auth::keyring::probe() {
        panic!(
            "no usable Secret Service for the keyring tests ({e}); run the tests through \
             scripts/test or scripts/with-keyring"
        );
    }
}

fn home(base: &tempfile::TempDir, name: &str, store: &str) -> CodexHome {
    let h = CodexHome::isolated(base.path().join(name))
        .materialize()
        .unwrap();
    std::fs::write(
        h.config_toml(),
        format!("cli_auth_credentials_store = \"{store}\"\n"),
    )
    .unwrap();
    h
}

fn base() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("keyring-")
        .tempdir_in(tmp_base())
        .unwrap()
}

/// `codex login --with-api-key` in `home`, the key on stdin.
async fn codex_login(home: &CodexHome, key: &str) -> std::process::Output {
    let mut child = tokio::process::Command::new(codex())
        .args(["login", "--with-api-key"])
        .env("CODEX_HOME", home.path())
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(key.as_bytes()).await.unwrap();
    drop(stdin);
    child.wait_with_output().await.unwrap()
}

/// `codex login status` in `home`: (success, stderr), without the warning Codex prints for
/// a home under the temp dir (a checkout under /tmp puts the test homes there).
async fn codex_status(home: &CodexHome) -> (bool, String) {
    let out = tokio::process::Command::new(codex())
        .args(["login", "status"])
        .env("CODEX_HOME", home.path())
        .env("RUST_BACKTRACE", "0")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| {
            !l.starts_with("WARNING: proceeding, even though we could not create PATH aliases")
        })
        .collect();
    (out.status.success(), lines.join("\n").trim().to_owned())
}

const KEY: &str = "sk-kr-canary-0123456789abcdef";
const MASKED: &str = "sk-kr-ca***bcdef";

#[tokio::test]
async fn a_keyring_login_made_by_codex_is_read_copied_to_a_file_home_and_back() {
    require_keyring();
    let dir = base();
    let kr = home(&dir, "kr", "keyring");
    let out = codex_login(&kr, KEY).await;
    assert!(out.status.success(), "{out:?}");
    // Keyring mode: nothing on disk.
    assert!(!kr.auth_json().exists());

    let store = LoginStore::of(&kr).unwrap();
    assert_eq!(store.mode(), &CliAuthStore::Keyring);
    let (login, kind) = store.load().unwrap().unwrap();
    assert_eq!(kind, StoreKind::Keyring);
    assert_eq!(login, StoredLogin::api_key_login(&Secret::new(KEY)));
    let keyring_status = AuthStatus::ApiKey {
        masked: Some(MASKED.into()),
        source: AuthSource::Keyring,
    };
    assert_eq!(auth::status(&kr), keyring_status);

    // Keyring -> file: Codex in the file home accepts it.
    let file = home(&dir, "file", "file");
    let seeded = auth::seed(&kr, &file).unwrap();
    assert_eq!(
        (seeded.login, seeded.copied.clone()),
        (Some(StoreKind::File), vec![file.auth_json()])
    );
    assert_eq!(
        codex_status(&file).await,
        (
            true,
            format!(
                "API key configured - {MASKED}\nAuthentication is checked when you send a request."
            )
        )
    );

    // File -> keyring, under the other home's own key: Codex there accepts it, no file appears.
    let kr2 = home(&dir, "kr2", "keyring");
    assert_ne!(
        LoginStore::of(&kr2).unwrap().keyring_account(),
        store.keyring_account()
    );
    let seeded = auth::seed(&file, &kr2).unwrap();
    assert_eq!(
        (seeded.login, seeded.copied),
        (Some(StoreKind::Keyring), vec![])
    );
    assert!(!kr2.auth_json().exists());
    assert!(codex_status(&kr2).await.0);
    assert_eq!(auth::status(&kr2), keyring_status);

    // Logging out through the library clears the keyring item and the file; Codex agrees.
    for h in [&kr, &kr2, &file] {
        LoginStore::of(h).unwrap().delete().unwrap();
        assert_eq!(codex_status(h).await, (false, "Not logged in".into()));
        assert_eq!(auth::status(h), AuthStatus::LoggedOut);
    }
}

#[tokio::test]
async fn sync_between_keyring_homes_keeps_the_newest_refresh() {
    require_keyring();
    let dir = base();
    let (src, iso) = (home(&dir, "src", "keyring"), home(&dir, "iso", "auto"));
    let chatgpt = |refresh: &str, rt: &str| {
        StoredLogin::from_slice(
            serde_json::json!({
                "auth_mode": "chatgpt", "OPENAI_API_KEY": null, "last_refresh": refresh,
                "tokens": {"id_token": "x.e30.y", "access_token": "x.e30.y", "refresh_token": rt},
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap()
    };
    let (s, i) = (LoginStore::of(&src).unwrap(), LoginStore::of(&iso).unwrap());
    s.save(&chatgpt("2026-01-01T00:00:00.1Z", "rt-1")).unwrap();
    assert_eq!(auth::sync(&iso, &src).unwrap(), auth::SyncOutcome::Seeded);
    // auto with a working keyring stores in the keyring.
    assert_eq!(i.load().unwrap().unwrap().1, StoreKind::Keyring);
    i.save(&chatgpt("2026-01-02T00:00:00Z", "rt-2")).unwrap();
    assert_eq!(
        auth::sync(&iso, &src).unwrap(),
        auth::SyncOutcome::CopiedBack
    );
    let got = s.load().unwrap().unwrap().0;
    assert_eq!(got.refresh_token().unwrap().expose(), "rt-2");
    assert_eq!(auth::sync(&iso, &src).unwrap(), auth::SyncOutcome::InSync);
    s.delete().unwrap();
    i.delete().unwrap();
}

#[tokio::test]
async fn auto_mode_follows_the_keyring_when_one_answers_and_the_file_when_not() {
    require_keyring();
    let dir = base();
    let auto = home(&dir, "auto", "auto");
    let out = codex_login(&auto, KEY).await;
    assert!(out.status.success(), "{out:?}");
    assert!(
        !auto.auth_json().exists(),
        "auto with a keyring keeps no file"
    );
    assert_eq!(
        LoginStore::of(&auto).unwrap().load().unwrap().unwrap().1,
        StoreKind::Keyring
    );
    LoginStore::of(&auto).unwrap().delete().unwrap();

    // Without a session bus Codex falls back to auth.json, and the library reads it there.
    let nobus = home(&dir, "nobus", "auto");
    let mut child = tokio::process::Command::new(codex())
        .args(["login", "--with-api-key"])
        .env("CODEX_HOME", nobus.path())
        .env_remove("DBUS_SESSION_BUS_ADDRESS")
        .env("XDG_RUNTIME_DIR", dir.path())
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(KEY.as_bytes())
        .await
        .unwrap();
    assert!(child.wait().await.unwrap().success());
    assert!(nobus.auth_json().is_file());
    assert_eq!(
        auth::status(&nobus),
        AuthStatus::ApiKey {
            masked: Some(MASKED.into()),
            source: AuthSource::File
        }
    );
}

#[tokio::test]
async fn a_locked_or_absent_keyring_is_a_typed_error_naming_the_problem() {
    use codex_driver::auth::login::Login;
    use codex_driver::{Binary, Error, ErrorKind, KeyringProblem};
    use codex_driver_testkit::SecretService;
    let dir = base();
    for (fixture, want) in [
        (SecretService::locked().unwrap(), KeyringProblem::Locked),
        (
            SecretService::no_provider().unwrap(),
            KeyringProblem::NoSecretService,
        ),
        (
            SecretService::uninitialised().unwrap(),
            KeyringProblem::NotInitialised,
        ),
    ] {
        let h = home(&dir, &format!("{want:?}"), "keyring");
        let mut login = Login::api_key(Secret::new(KEY))
            .binary(Binary::at(codex()))
            .codex_home(h.path());
        for (k, v) in fixture.env() {
            login = login.env(k, v);
        }
        let err = login.start().await.unwrap().wait().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::CredentialStore, "{err}");
        match &err {
            Error::Login { store, message, .. } => {
                assert_eq!(*store, Some(want), "{message}");
                assert!(!message.contains("canary"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // Nothing was half-written: no file appeared in the keyring home.
        assert!(!h.auth_json().exists());
    }
}

#[tokio::test]
async fn moving_a_login_between_stores_keeps_it_usable_by_codex() {
    require_keyring();
    let dir = base();
    let h = home(&dir, "move", "file");
    assert!(codex_login(&h, KEY).await.status.success());
    assert!(h.auth_json().is_file());
    assert_eq!(
        auth::move_login(&h, &CliAuthStore::Keyring).unwrap(),
        Some(StoreKind::Keyring)
    );
    assert!(!h.auth_json().exists(), "the file copy is gone");
    let ok = (
        true,
        format!(
            "API key configured - {MASKED}\nAuthentication is checked when you send a request."
        ),
    );
    assert_eq!(codex_status(&h).await, ok);
    assert_eq!(
        auth::move_login(&h, &CliAuthStore::File).unwrap(),
        Some(StoreKind::File)
    );
    assert_eq!(
        LoginStore::with_mode(&h, CliAuthStore::Keyring)
            .load()
            .unwrap(),
        None,
        "the keyring copy is gone"
    );
    assert_eq!(codex_status(&h).await, ok);
}
