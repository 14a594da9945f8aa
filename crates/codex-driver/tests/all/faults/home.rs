//! A bad `CODEX_HOME`: read-only, or with a malformed `config.toml`, `auth.json` or rollout
//! file. The turn must end with an error naming the file or directory (or, where Codex carries
//! on, succeed), and no file the user had may change.

use super::{Tally, Verdict, expect};
use crate::app_server::{params, server};
use crate::common::Env;
use codex_driver::app_server::protocol::SandboxMode;
use codex_driver::sessions::SessionIndex;
use codex_driver::{CodexHome, ErrorKind};
use codex_driver_testkit::{MockResponse, ProcessMarker};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.insert(p, bytes);
            }
        }
    }
    out
}

/// The files of `before` that are gone or changed in `after`.
fn changed(
    before: &BTreeMap<PathBuf, Vec<u8>>,
    after: &BTreeMap<PathBuf, Vec<u8>>,
) -> Vec<PathBuf> {
    before
        .iter()
        .filter(|(p, b)| after.get(*p) != Some(*b))
        .map(|(p, _)| p.clone())
        .collect()
}

/// Makes `dir` read-only even for root: a read-only bind mount over it (root ignores file
/// modes); as another user, its mode. Undone on drop.
struct ReadOnly {
    dir: PathBuf,
    mounted: bool,
}

impl ReadOnly {
    fn new(dir: &Path) -> Self {
        use std::os::unix::fs::MetadataExt;
        use std::os::unix::fs::PermissionsExt;
        // We created the home, so its owner is who we run as.
        let root = std::fs::metadata(dir).is_ok_and(|m| m.uid() == 0);
        if root {
            let ok = std::process::Command::new("mount")
                .args(["--bind"])
                .arg(dir)
                .arg(dir)
                .status()
                .is_ok_and(|s| s.success())
                && std::process::Command::new("mount")
                    .args(["-o", "remount,bind,ro"])
                    .arg(dir)
                    .status()
                    .is_ok_and(|s| s.success());
            assert!(
                ok,
                "running as root without the right to bind-mount {}: the read-only home case needs one or the other",
                dir.display()
            );
        } else {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o500)).unwrap();
        }
        assert!(
            std::fs::write(dir.join(".probe"), b"x").is_err(),
            "{} is still writable",
            dir.display()
        );
        Self {
            dir: dir.to_path_buf(),
            mounted: root,
        }
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.mounted {
            let _ = std::process::Command::new("umount").arg(&self.dir).status();
        } else {
            let _ = std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700));
        }
    }
}

/// A rollout file that is not one: garbage, a cut JSON line and invalid UTF-8.
fn plant_bad_rollout(home: &Path) -> PathBuf {
    let dir = home.join("sessions/2026/12/04");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rollout-2026-12-04T01-02-03-01938a3c-0000-7000-8000-00000000beef.jsonl");
    std::fs::write(
        &path,
        b"{\"timestamp\":\"2026-12-04T01:02:03Z\",\"type\":\"session_meta\",\"payload\":{\"id\":\n\xff\xfe garbage\n{\"type\":\"response_item\",\"payload\":[1,2\n",
    )
    .unwrap();
    path
}

#[derive(Clone, Copy, Debug)]
enum Bad {
    ReadOnlyHome,
    Config,
    Auth,
    Rollout,
}

const ALL: [Bad; 4] = [Bad::ReadOnlyHome, Bad::Config, Bad::Auth, Bad::Rollout];

/// Breaks `env`'s home as `bad` says; returns what must be named in an error, if one comes.
fn break_home(env: &Env, bad: Bad) -> (String, Option<ReadOnly>) {
    let home = env.home.path();
    match bad {
        Bad::ReadOnlyHome => (home.display().to_string(), Some(ReadOnly::new(home))),
        Bad::Config => {
            let path = home.join("config.toml");
            let mut text = std::fs::read_to_string(&path).unwrap();
            text.push_str("\n# a user's comment\nmodel_reasoning_effort = [unclosed\n");
            std::fs::write(&path, text).unwrap();
            (path.display().to_string(), None)
        }
        Bad::Auth => {
            let path = home.join("auth.json");
            std::fs::write(&path, b"{\"OPENAI_API_KEY\": \"sk-cut").unwrap();
            (path.display().to_string(), None)
        }
        Bad::Rollout => (plant_bad_rollout(home).display().to_string(), None),
    }
}

/// The library's own readers of the home must not fail or panic on it either.
fn library_reads(home: &Path) -> Result<(), String> {
    let home = CodexHome::new(home);
    let _ = codex_driver::auth::status(&home);
    SessionIndex::new(&home)
        .list(&Default::default())
        .map(|_| ())
        .map_err(|e| format!("listing sessions: {e}"))
}

fn judge(bad: Bad, culprit: &str, outcome: Result<Option<String>, codex_driver::Error>) -> Verdict {
    match (bad, outcome) {
        // Codex needs its home writable, its config parseable: an error naming the culprit.
        (Bad::ReadOnlyHome | Bad::Config, Err(e)) => {
            let text = e.to_string();
            expect(
                matches!(e.kind(), ErrorKind::Config | ErrorKind::Io) && text.contains(culprit),
                || format!("{:?} error not naming {culprit}: {text}", e.kind()),
            )
        }
        (Bad::ReadOnlyHome | Bad::Config, Ok(m)) => {
            Verdict::Wrong(format!("succeeded ({m:?}) with a bad home"))
        }
        // A broken auth.json is not needed with this provider; a broken rollout is skipped.
        (Bad::Auth | Bad::Rollout, Ok(m)) => expect(m.as_deref() == Some("fine"), || {
            format!("the final message: {m:?}")
        }),
        (Bad::Auth | Bad::Rollout, Err(e)) => Verdict::Wrong(format!("failed: {:?} {e}", e.kind())),
    }
}

/// The verdict on one case: the home's files first (nothing lost), then the library's own
/// readers, then the outcome.
fn settle(
    bad: Bad,
    culprit: &str,
    outcome: Result<Option<String>, codex_driver::Error>,
    before: &BTreeMap<PathBuf, Vec<u8>>,
    home: &Path,
) -> Verdict {
    let lost = changed(before, &snapshot(home));
    if !lost.is_empty() {
        return Verdict::Lost(format!("{lost:?}"));
    }
    if let Err(e) = library_reads(home) {
        return Verdict::Wrong(e);
    }
    judge(bad, culprit, outcome)
}

#[tokio::test]
async fn exec() {
    let mut tally = Tally::new("bad-home", "exec");
    for bad in ALL {
        let env = Env::new(vec![MockResponse::text("fine")]).await;
        let (culprit, guard) = break_home(&env, bad);
        let before = snapshot(env.home.path());
        let marker = ProcessMarker::new("fault-home");
        let (key, value) = marker.env();
        let exec = env.exec("hi").env(key, value);
        let home = env.home.path().to_path_buf();
        tally
            .case(
                &format!("{bad:?}"),
                &marker,
                Duration::from_secs(60),
                async move {
                    let outcome = exec.run().await.map(|r| r.final_message);
                    Ok(settle(bad, &culprit, outcome, &before, &home))
                },
            )
            .await;
        drop(guard);
    }
    tally.finish();
}

#[tokio::test]
async fn app_server() {
    let mut tally = Tally::new("bad-home", "app-server");
    for bad in ALL {
        let env = Env::new(vec![MockResponse::text("fine")]).await;
        let (culprit, guard) = break_home(&env, bad);
        let before = snapshot(env.home.path());
        let marker = ProcessMarker::new("fault-home-app");
        let (key, value) = marker.env();
        let codex = server(&env).env(key, value);
        let thread_params = params(&env, "never", SandboxMode::ReadOnly);
        let home = env.home.path().to_path_buf();
        tally
            .case(
                &format!("{bad:?}"),
                &marker,
                Duration::from_secs(60),
                async move {
                    let outcome = async {
                        let client = codex.spawn().await?;
                        let result = async {
                            let mut thread = client.start_thread(thread_params).await?;
                            thread.run("hi").await
                        }
                        .await;
                        let _ = client.shutdown().await;
                        result.map(|r| r.final_message)
                    }
                    .await;
                    Ok(settle(bad, &culprit, outcome, &before, &home))
                },
            )
            .await;
        drop(guard);
    }
    tally.finish();
}
