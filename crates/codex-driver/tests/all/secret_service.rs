//! The test kit's private Secret Service against the real Codex: `codex login --with-api-key` in
//! `keyring` mode writes its item there, and each broken variant fails with the error text the
//! design note (docs/design/auth-stores.md §1) lists. Needs dbus-daemon, gnome-keyring and
//! secret-tool (`.ci/run` installs them).

use crate::common::{codex, tmp_base};
use codex_driver_testkit::SecretService;
use sha2::Digest;
use std::io::Write;
use std::process::{Output, Stdio};

fn new_home() -> anyhow::Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new()
        .prefix("ss-home-")
        .tempdir_in(tmp_base())?)
}

/// `printf KEY | codex -c cli_auth_credentials_store=keyring login --with-api-key` in `home`,
/// using `ss`.
fn keyring_login(
    ss: &SecretService,
    home: &tempfile::TempDir,
    key: &str,
) -> anyhow::Result<Output> {
    let mut child = std::process::Command::new(codex())
        .args(["-c", "cli_auth_credentials_store=keyring"])
        .args(["login", "--with-api-key"])
        .env("CODEX_HOME", home.path())
        .env_remove("RUST_BACKTRACE")
        .envs(ss.env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(key.as_bytes())?;
    }
    Ok(child.wait_with_output()?)
}

fn cli_store_key(home: &std::path::Path) -> anyhow::Result<String> {
    let canonical = home.canonicalize()?;
    let hex: String = sha2::Sha256::digest(canonical.to_string_lossy().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(format!("cli|{}", &hex[..16]))
}

#[test]
fn codex_stores_its_login_in_the_private_keyring() -> anyhow::Result<()> {
    let ss = SecretService::start()?;
    let home = new_home()?;
    let out = keyring_login(&ss, &home, "sk-test-keyring")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{}: {stderr}", out.status);
    assert!(!home.path().join("auth.json").exists());

    let items = ss.items("Codex Auth")?;
    assert_eq!(items.len(), 1, "{items:?}");
    let key = cli_store_key(home.path())?;
    assert_eq!(items[0].attribute("username"), Some(key.as_str()));
    assert_eq!(items[0].attribute("target"), Some("default"));
    assert_eq!(items[0].attribute("application"), Some("rust-keyring"));
    assert_eq!(
        items[0].label,
        format!("{key}@Codex Auth:default (keyring v3.6.3)")
    );
    let stored: serde_json::Value = serde_json::from_str(items[0].secret().unwrap_or_default())?;
    assert_eq!(stored["OPENAI_API_KEY"], "sk-test-keyring");
    assert_eq!(stored["auth_mode"], "apikey");
    Ok(())
}

/// Runs the keyring login in `home` against `ss` and returns its stderr, asserting it failed.
fn failed_login_in(ss: &SecretService, home: &tempfile::TempDir) -> anyhow::Result<String> {
    let out = keyring_login(ss, home, "sk-test-keyring")?;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "succeeded: {stderr}");
    assert!(
        stderr.contains("failed to write OAuth tokens to keyring"),
        "{stderr}"
    );
    Ok(stderr)
}

fn failed_login(ss: &SecretService) -> anyhow::Result<String> {
    failed_login_in(ss, &new_home()?)
}

/// Locked with Codex's item in it: unlocking the item needs a prompt, and with no display the
/// prompter fails at once.
#[test]
fn a_locked_keyring_with_the_item_fails_fast_with_prompt_dismissed() -> anyhow::Result<()> {
    let ss = SecretService::start()?;
    let home = new_home()?;
    let out = keyring_login(&ss, &home, "sk-first")?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ss.lock()?;
    let stderr = failed_login_in(&ss, &home)?;
    assert!(stderr.contains("prompt dismissed"), "{stderr}");
    // The item is still there, still locked.
    let items = ss.items("Codex Auth")?;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0].secret(), None);
    Ok(())
}

/// Locked and without a matching item: creating one in a locked collection is refused
/// outright (no prompt).
#[test]
fn a_locked_keyring_refuses_a_new_item() -> anyhow::Result<()> {
    let ss = SecretService::locked()?;
    let stderr = failed_login(&ss)?;
    assert!(
        stderr.contains("org.freedesktop.Secret.Error.IsLocked"),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn a_bus_without_a_provider_fails_with_service_unknown() -> anyhow::Result<()> {
    let ss = SecretService::no_provider()?;
    let stderr = failed_login(&ss)?;
    assert!(stderr.contains("ServiceUnknown"), "{stderr}");
    Ok(())
}

#[test]
fn an_uninitialised_keyring_fails_without_a_result() -> anyhow::Result<()> {
    let ss = SecretService::uninitialised()?;
    let stderr = failed_login(&ss)?;
    assert!(
        stderr.contains("result not returned from SS API"),
        "{stderr}"
    );
    Ok(())
}
