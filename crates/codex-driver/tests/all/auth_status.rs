//! The three sources of [`AuthStatus`] agree on every kind of login: the home's store read
//! directly (no process), `codex login status`, and the app-server's `account/read`; in file and
//! keyring homes. Also: ephemeral logins leave nothing on disk, and logout clears every store.

use crate::common::{codex, tmp_base};
use codex_driver::app_server::AppServer;
use codex_driver::auth::{
    self, AuthSource, AuthStatus, CliAuthStore, LoginStore, Secret, StoreKind, StoredLogin, login,
};
use codex_driver::env::SpawnEnv;
use codex_driver::home::CodexHome;
use codex_driver::{Binary, SpawnOptions};
use codex_driver_testkit::MockIssuer;
use std::time::Duration;

fn base() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("status-")
        .tempdir_in(tmp_base())
        .unwrap()
}

fn home(base: &tempfile::TempDir, name: &str, store: &str, issuer: &MockIssuer) -> CodexHome {
    let h = CodexHome::isolated(base.path().join(name))
        .materialize()
        .unwrap();
    std::fs::write(
        h.config_toml(),
        format!(
            "cli_auth_credentials_store = \"{store}\"\n{}",
            issuer.config_toml()
        ),
    )
    .unwrap();
    h
}

/// The three reports on `h`'s login.
async fn three(h: &CodexHome, issuer: &MockIssuer) -> [AuthStatus; 3] {
    let direct = {
        let h = h.clone();
        tokio::task::spawn_blocking(move || auth::status(&h))
            .await
            .unwrap()
    };
    let opts = SpawnOptions::new()
        .binary(Binary::at(codex()))
        .codex_home(h.path());
    let cli = AuthStatus::from_cli(&login::login_status(&opts).await.unwrap());
    let mut env = SpawnEnv::new();
    for (k, v) in issuer.env() {
        env.set(k, v);
    }
    let client = AppServer::new()
        .binary(Binary::at(codex()))
        .codex_home(h.path())
        .spawn_env(env)
        .request_timeout(Duration::from_secs(60))
        .spawn()
        .await
        .unwrap();
    let account = AuthStatus::from_account(&client.account().await.unwrap());
    client.shutdown().await.unwrap();
    [direct, cli, account]
}

fn assert_agree(reports: &[AuthStatus; 3]) {
    for a in reports {
        for b in reports {
            assert!(a.agrees_with(b), "{a:?} vs {b:?}");
        }
    }
}

fn require_keyring() {
    if let Err(e) = auth::keyring::probe() {
        panic!("no usable Secret Service ({e}); run the tests through scripts/test");
    }
}

const KEY: &str = "sk-status-canary-0123456789";

#[tokio::test]
async fn the_three_sources_agree_on_each_kind_of_login() {
    require_keyring();
    let issuer = MockIssuer::start().await.unwrap();
    let dir = base();
    for store in ["file", "keyring"] {
        let h = home(&dir, store, store, &issuer);
        let want_source = if store == "file" {
            AuthSource::File
        } else {
            AuthSource::Keyring
        };

        // Logged out.
        let r = three(&h, &issuer).await;
        assert_eq!(r[0], AuthStatus::LoggedOut, "{store}");
        assert_agree(&r);

        // An API key, stored through the library in the home's store.
        LoginStore::of(&h)
            .unwrap()
            .save(&StoredLogin::api_key_login(&Secret::new(KEY)))
            .unwrap();
        let r = three(&h, &issuer).await;
        assert_eq!(
            r,
            [
                AuthStatus::ApiKey {
                    masked: Some("sk-statu***56789".into()),
                    source: want_source.clone()
                },
                AuthStatus::ApiKey {
                    masked: Some("sk-statu***56789".into()),
                    source: AuthSource::Codex
                },
                AuthStatus::ApiKey {
                    masked: None,
                    source: AuthSource::Codex
                },
            ],
            "{store}"
        );
        assert_agree(&r);
        assert!(!format!("{r:?}").contains("canary"));

        // A ChatGPT login.
        let chatgpt =
            StoredLogin::from_slice(issuer.auth_json(false).to_string().as_bytes()).unwrap();
        LoginStore::of(&h).unwrap().save(&chatgpt).unwrap();
        let r = three(&h, &issuer).await;
        let AuthStatus::ChatGpt {
            access_expires_at, ..
        } = &r[0]
        else {
            panic!("{:?}", r[0]);
        };
        assert_eq!(
            r[0],
            AuthStatus::ChatGpt {
                email: Some("dev@example.com".into()),
                plan: Some("plus".into()),
                account_id: Some("acct-mock".into()),
                access_expires_at: *access_expires_at,
                source: want_source.clone()
            },
            "{store}"
        );
        assert!(access_expires_at.is_some());
        assert_eq!(
            r[2],
            AuthStatus::ChatGpt {
                email: Some("dev@example.com".into()),
                plan: Some("plus".into()),
                account_id: None,
                access_expires_at: None,
                source: AuthSource::Codex
            }
        );
        assert_eq!(r[1].kind(), "chatgpt");
        assert_agree(&r);

        // Logout through the library: every source says logged out.
        LoginStore::of(&h).unwrap().delete().unwrap();
        let r = three(&h, &issuer).await;
        assert_eq!(r[0], AuthStatus::LoggedOut);
        assert_agree(&r);
    }
}

#[tokio::test]
async fn an_ephemeral_login_leaves_nothing_on_disk() {
    let dir = base();
    let h = CodexHome::isolated(dir.path().join("eph"))
        .materialize()
        .unwrap();
    std::fs::write(
        h.config_toml(),
        "cli_auth_credentials_store = \"ephemeral\"\n",
    )
    .unwrap();
    let before: Vec<_> = walk(h.path());
    let done = login::Login::api_key(Secret::new(KEY))
        .binary(Binary::at(codex()))
        .codex_home(h.path())
        .start()
        .await
        .unwrap()
        .wait()
        .await
        .unwrap();
    assert!(done.message.contains("API key saved"), "{}", done.message);
    // Only Codex's log directory may appear; no auth.json, no lock, and no file holds the key.
    let after = walk(h.path());
    let new: Vec<_> = after.iter().filter(|p| !before.contains(p)).collect();
    assert!(
        new.iter()
            .all(|p| p.starts_with(h.log_dir()) || p.starts_with(h.path().join("tmp"))),
        "{new:?}"
    );
    for p in after.iter().filter(|p| p.is_file()) {
        let bytes = std::fs::read(p).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(KEY),
            "{}",
            p.display()
        );
    }
    // And so the next process is logged out; so is the library's view.
    let opts = SpawnOptions::new()
        .binary(Binary::at(codex()))
        .codex_home(h.path());
    assert_eq!(
        login::login_status(&opts).await.unwrap(),
        login::CliLoginStatus::LoggedOut
    );
    assert_eq!(auth::status(&h), AuthStatus::LoggedOut);
    let store = LoginStore::of(&h).unwrap();
    assert_eq!(store.mode(), &CliAuthStore::Ephemeral);
    assert!(
        store
            .save(&StoredLogin::api_key_login(&Secret::new(KEY)))
            .is_err()
    );
}

#[tokio::test]
async fn logout_clears_every_store() {
    require_keyring();
    let dir = base();
    let h = CodexHome::isolated(dir.path().join("both"))
        .materialize()
        .unwrap();
    // A file-mode home with a stale keyring item left from when it was in keyring mode.
    let login = StoredLogin::api_key_login(&Secret::new(KEY));
    assert_eq!(
        LoginStore::with_mode(&h, CliAuthStore::Keyring)
            .save(&login)
            .unwrap(),
        StoreKind::Keyring
    );
    assert_eq!(
        LoginStore::with_mode(&h, CliAuthStore::File)
            .save(&login)
            .unwrap(),
        StoreKind::File
    );
    let removed = LoginStore::of(&h).unwrap().delete().unwrap();
    assert_eq!((removed.file, removed.keyring), (true, true));
    for mode in [
        CliAuthStore::File,
        CliAuthStore::Keyring,
        CliAuthStore::Auto,
    ] {
        assert_eq!(LoginStore::with_mode(&h, mode).load().unwrap(), None);
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p.clone());
            }
            out.push(p);
        }
    }
    out
}
