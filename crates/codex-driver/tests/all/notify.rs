//! `notify::NotifySpool` with the real Codex: exec and app-server turns are spooled, and the
//! notify program configured before still runs. Without Codex: only a private spool is accepted,
//! planted files are set aside unread, nothing taken is lost, and dead readers' claims are
//! taken again.

use crate::common::{Env, codex, eventually, tmp_base};
use codex_driver::Binary;
use codex_driver::Error;
use codex_driver::app_server::AppServer;
use codex_driver::app_server::protocol::ThreadStartParams;
use codex_driver::config::ConfigFile;
use codex_driver::home::CodexHome;
use codex_driver::home::HomeProblem;
use codex_driver::notify::{
    AgentTurnComplete, BadFileProblem, DEFAULT_MAX_FILE_SIZE, Notification, NotifySpool, Spooled,
};
use codex_driver_testkit::MockResponse;
use serde_json::json;
use std::os::unix::fs::MetadataExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

async fn next(spool: &mut NotifySpool) -> AgentTurnComplete {
    match tokio::time::timeout(Duration::from_secs(20), spool.next()).await {
        Ok(Ok(Notification::AgentTurnComplete(t))) => t,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn turns_are_spooled_and_the_previous_program_still_runs() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::text("first answer"),
        MockResponse::text("second answer"),
    ])
    .await;
    let home = CodexHome::isolated(env.home.path());
    let dir = tempfile::Builder::new()
        .prefix("notify-")
        .tempdir_in(tmp_base())?;

    // The user's own notify program, configured before us.
    let seen_by_user = dir.path().join("user-program.log");
    let user_program = dir.path().join("user-notify.sh");
    std::fs::write(
        &user_program,
        format!(
            "#!/usr/bin/env bash\necho \"$1 ${{@: -1}}\" >> {}\n",
            seen_by_user.display()
        ),
    )?;
    std::fs::set_permissions(&user_program, std::fs::Permissions::from_mode(0o755))?;
    let mut cfg = ConfigFile::for_home(&home)?;
    cfg.set_notify([user_program.display().to_string(), "--from-codex".into()])?;
    cfg.save()?;

    let mut spool = NotifySpool::create(dir.path().join("spool"))?;
    spool.install(&home)?;
    spool.install(&home)?; // idempotent
    let argv = ConfigFile::for_home(&home)?.get("notify");
    assert_eq!(
        argv,
        Some(json!([
            spool.hook().display().to_string(),
            spool.dir().display().to_string(),
            user_program.display().to_string(),
            "--from-codex"
        ]))
    );

    let a = env.exec("one").run().await?;
    let b = env.exec("two").run().await?;
    let (na, nb) = (next(&mut spool).await, next(&mut spool).await);
    assert_eq!(na.thread_id, a.thread_id.unwrap_or_default());
    assert_eq!(na.last_assistant_message.as_deref(), Some("first answer"));
    assert_eq!(na.input_messages, ["one"]);
    assert_eq!(na.client.as_deref(), Some("codex_exec"));
    assert_eq!(nb.thread_id, b.thread_id.unwrap_or_default());
    assert_eq!(nb.last_assistant_message.as_deref(), Some("second answer"));
    assert!(spool.drain().is_empty());

    // The user's program got the same JSON, after its own arguments.
    assert!(
        eventually(Duration::from_secs(10), || std::fs::read_to_string(
            &seen_by_user
        )
        .is_ok_and(|t| t.lines().count() == 2))
        .await
    );
    let log = std::fs::read_to_string(&seen_by_user)?;
    assert!(
        log.lines()
            .all(|l| l.starts_with("--from-codex {\"type\":\"agent-turn-complete\"")),
        "{log}"
    );

    // A second spool chains in front; taking the first out leaves the others intact.
    let second = NotifySpool::create(dir.path().join("spool-2"))?;
    second.install(&home)?;
    spool.uninstall(&home)?;
    spool.uninstall(&home)?; // idempotent
    assert_eq!(
        ConfigFile::for_home(&home)?.get("notify"),
        Some(json!([
            second.hook().display().to_string(),
            second.dir().display().to_string(),
            user_program.display().to_string(),
            "--from-codex"
        ]))
    );
    second.uninstall(&home)?;
    assert_eq!(
        ConfigFile::for_home(&home)?.get("notify"),
        Some(json!([user_program.display().to_string(), "--from-codex"]))
    );
    Ok(())
}

#[tokio::test]
async fn app_server_turns_name_the_client() -> anyhow::Result<()> {
    let env = Env::new(vec![MockResponse::text("from the app-server")]).await;
    let home = CodexHome::isolated(env.home.path());
    let dir = tempfile::Builder::new()
        .prefix("notify-")
        .tempdir_in(tmp_base())?;
    let mut spool = NotifySpool::create(dir.path().join("spool"))?;
    spool.install(&home)?;
    let codex_server = AppServer::new()
        .binary(Binary::at(codex()))
        .codex_home(env.home.path())
        .client_info("my-orchestrator", "1.0")
        .spawn()
        .await?;
    let mut thread = codex_server
        .start_thread(ThreadStartParams {
            cwd: Some(env.ws().display().to_string()),
            ..Default::default()
        })
        .await?;
    let out = thread.run("hi").await?;
    let n = next(&mut spool).await;
    codex_server.shutdown().await?;
    assert_eq!(n.thread_id, out.thread_id);
    assert_eq!(n.turn_id.as_deref(), Some(out.turn_id.as_str()));
    assert_eq!(n.client.as_deref(), Some("my-orchestrator"));
    assert_eq!(
        n.last_assistant_message.as_deref(),
        Some("from the app-server")
    );
    Ok(())
}

fn spool_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("spool-")
        .tempdir_in(tmp_base())
        .unwrap()
}

fn turn(thread: &str) -> String {
    json!({"type": "agent-turn-complete", "thread-id": thread}).to_string()
}

fn threads(ns: &[Notification]) -> Vec<String> {
    ns.iter()
        .map(|n| match n {
            Notification::AgentTurnComplete(t) => t.thread_id.clone(),
            other => panic!("{other:?}"),
        })
        .collect()
}

/// A spooled file's name: the hook's (time, pid, random), sorting by `n`.
fn name(n: u32) -> String {
    format!("{n:020}-1-1")
}

fn spool_file(spool: &NotifySpool, n: u32, text: &str) -> PathBuf {
    let p = spool.dir().join(format!("{}.json", name(n)));
    std::fs::write(&p, text).unwrap();
    p
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != codex_driver::notify::HOOK_NAME)
        .collect();
    names.sort();
    names
}

#[test]
fn a_spool_others_can_write_is_refused() {
    let d = spool_dir();
    for mode in [0o777, 0o775, 0o1777] {
        let dir = d.path().join(format!("spool-{mode:o}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
        let err = NotifySpool::create(&dir).err();
        assert!(
            matches!(
                &err,
                Some(Error::UnsafeDir { path, problem: HomeProblem::WritableByOthers { mode: m } })
                    if path == &dir && *m == mode
            ),
            "{mode:o}: {err:?}"
        );
        assert!(
            !dir.join(codex_driver::notify::HOOK_NAME).exists(),
            "no hook written"
        );
    }
    // A private one is fine; a symlink to it, even ours, is refused.
    let ok = d.path().join("private");
    std::fs::create_dir(&ok).unwrap();
    std::fs::set_permissions(&ok, std::fs::Permissions::from_mode(0o700)).unwrap();
    NotifySpool::create(&ok).unwrap();
    let link = d.path().join("our-link");
    std::os::unix::fs::symlink(&ok, &link).unwrap();
    let err = NotifySpool::create(&link).err();
    assert!(
        matches!(
            &err,
            Some(Error::UnsafeDir { path, problem: HomeProblem::Symlink }) if path == &link
        ),
        "{err:?}"
    );
}

/// Ownership needs a second user: as root, directories and links are chowned to `nobody`.
#[test]
fn another_users_spool_is_refused() {
    let d = spool_dir();
    if std::fs::metadata(d.path()).unwrap().uid() != 0 {
        eprintln!(
            "SKIPPED another_users_spool_is_refused: not root, can't chown a spool to another \
             user (fsutil's unit tests check ownership with an injected uid)"
        );
        return;
    }
    let theirs = d.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o700)).unwrap();
    // Their hook, which Codex would run after every turn of ours.
    std::fs::write(theirs.join(codex_driver::notify::HOOK_NAME), "#!/bin/sh\n").unwrap();
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let err = NotifySpool::create(&theirs).err();
    assert!(
        matches!(
            &err,
            Some(Error::UnsafeDir { path, problem: HomeProblem::NotOwned { owner: 65534, expected: 0 } })
                if path == &theirs
        ),
        "{err:?}"
    );
    assert!(
        err.unwrap().to_string().contains("owned by uid 65534"),
        "the message says why"
    );
    // Created on the way by `create` is no excuse either (it was there first).
    let nested = theirs.join("sub");
    std::fs::create_dir(&nested).unwrap();
    std::os::unix::fs::chown(&nested, Some(65534), Some(65534)).unwrap();
    assert!(matches!(
        NotifySpool::create(&nested),
        Err(Error::UnsafeDir {
            problem: HomeProblem::NotOwned { owner: 65534, .. },
            ..
        })
    ));
    // Their symlink to their directory.
    let link = d.path().join("their-link");
    std::os::unix::fs::symlink(&theirs, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).unwrap();
    let err = NotifySpool::create(&link).err();
    assert!(
        matches!(
            &err,
            Some(Error::UnsafeDir {
                problem: HomeProblem::Symlink,
                ..
            })
        ),
        "{err:?}"
    );
}

/// A symlink to a secret, a FIFO (a read that would block forever), a directory and an
/// oversized file are set aside without being read; the good notification still comes out.
#[test]
fn planted_files_are_set_aside_unread() {
    let d = spool_dir();
    let spool = NotifySpool::create(d.path().join("spool")).unwrap();
    let secret = d.path().join("auth.json");
    std::fs::write(&secret, r#"{"OPENAI_API_KEY":"sk-secret"}"#).unwrap();
    let link = spool.dir().join(format!("{}.json", name(1)));
    std::os::unix::fs::symlink(&secret, &link).unwrap();
    let fifo = spool.dir().join(format!("{}.json", name(2)));
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::fs::create_dir(spool.dir().join(format!("{}.json", name(3)))).unwrap();
    let big = format!(
        "{}{}",
        turn("big"),
        " ".repeat(DEFAULT_MAX_FILE_SIZE as usize)
    );
    spool_file(&spool, 4, &big);
    spool_file(&spool, 5, &turn("good"));
    spool_file(&spool, 6, "not json");

    // On a thread, so that a blocking read fails the test instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut spool = spool;
        let drained = spool.drain();
        let _ = tx.send((spool, drained));
    });
    let (spool, drained) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("drain blocked on a planted file");
    assert!(drained.error.is_none(), "{:?}", drained.error);
    assert_eq!(threads(&drained.notifications), ["good"]);
    let problems: Vec<(String, BadFileProblem)> = drained
        .bad
        .iter()
        .map(|b| {
            assert_eq!(b.set_aside, b.path.with_extension("bad"));
            (
                b.path.file_name().unwrap().to_string_lossy().into_owned(),
                b.problem.clone(),
            )
        })
        .collect();
    assert_eq!(problems.len(), 5, "{problems:?}");
    assert_eq!(problems[0].0, format!("{}.json", name(1)));
    assert_eq!(problems[0].1, BadFileProblem::NotARegularFile);
    assert_eq!(problems[1].1, BadFileProblem::NotARegularFile);
    assert_eq!(problems[2].1, BadFileProblem::NotARegularFile);
    assert_eq!(
        problems[3].1,
        BadFileProblem::TooLarge {
            size: big.len() as u64,
            limit: DEFAULT_MAX_FILE_SIZE
        }
    );
    assert!(matches!(problems[4].1, BadFileProblem::NotANotification(_)));
    // Set aside as they were: the link still points at the secret, which is untouched.
    let aside = spool.dir().join(format!("{}.bad", name(1)));
    assert_eq!(std::fs::read_link(&aside).unwrap(), secret);
    assert_eq!(
        std::fs::read_to_string(&secret).unwrap(),
        r#"{"OPENAI_API_KEY":"sk-secret"}"#
    );
    assert_eq!(
        files(spool.dir()),
        (1..=6)
            .filter(|n| *n != 5)
            .map(|n| format!("{}.bad", name(n)))
            .collect::<Vec<_>>()
    );
    assert!(drained.bad[0].to_string().contains("not a regular file"));

    // The limit is the spool's to choose.
    let mut spool = spool.max_file_size(10);
    spool_file(&spool, 7, &turn("now-too-big"));
    let drained = spool.drain();
    assert!(drained.notifications.is_empty());
    assert!(matches!(
        drained.bad[..],
        [ref b] if b.problem == BadFileProblem::TooLarge { size: turn("now-too-big").len() as u64, limit: 10 }
    ));
}

/// A spool failure in the middle of a drain keeps what was already taken (and deleted), and
/// leaves the rest spooled for the next drain.
#[test]
fn a_failing_drain_keeps_what_it_took() {
    let d = spool_dir();
    let mut spool = NotifySpool::create(d.path().join("spool")).unwrap();
    spool_file(&spool, 1, &turn("first"));
    spool_file(&spool, 2, &turn("second"));
    spool_file(&spool, 3, &turn("third"));
    // The second can't be claimed: its claim name is taken by a (non-empty) directory.
    let obstacle = spool
        .dir()
        .join(format!("{}.claimed-{}", name(2), std::process::id()));
    std::fs::create_dir(&obstacle).unwrap();
    std::fs::write(obstacle.join("x"), "x").unwrap();
    let drained = spool.drain();
    assert_eq!(threads(&drained.notifications), ["first"]);
    assert!(
        matches!(&drained.error, Some(Error::Io { context, .. }) if context.contains("claiming")),
        "{:?}",
        drained.error
    );
    assert!(spool.dir().join(format!("{}.json", name(2))).exists());
    assert!(spool.dir().join(format!("{}.json", name(3))).exists());
    std::fs::remove_dir_all(&obstacle).unwrap();
    let drained = spool.drain();
    assert!(drained.error.is_none(), "{:?}", drained.error);
    assert_eq!(threads(&drained.notifications), ["second", "third"]);
    assert!(files(spool.dir()).is_empty());
}

/// A claim held too long by a live pid (a hung reader, or a dead one whose pid was reused) is
/// taken again after `stale_claim_after`.
#[test]
fn a_stale_claim_of_a_live_pid_is_taken_again() {
    let d = spool_dir();
    let spool = NotifySpool::create(d.path().join("spool")).unwrap();
    // PID 1 is alive; the claim was made just now.
    let live = spool.dir().join(format!("{}.claimed-1", name(1)));
    std::fs::write(&live, turn("held")).unwrap();
    let mut patient = NotifySpool::create(spool.dir()).unwrap();
    assert!(
        patient.drain().notifications.is_empty(),
        "fresh claims are left alone"
    );
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let mut impatient = NotifySpool::create(spool.dir())
        .unwrap()
        .stale_claim_after(std::time::Duration::from_secs(1));
    assert_eq!(threads(&impatient.drain().notifications), ["held"]);
    assert!(files(spool.dir()).is_empty());
}

/// A reader that died between claiming a file and removing it: the next reader takes the file
/// again, in its place in time; a live reader's claim is left alone.
#[test]
fn a_dead_readers_claims_are_taken_again() {
    let d = spool_dir();
    let mut spool = NotifySpool::create(d.path().join("spool")).unwrap();
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    spool_file(&spool, 1, &turn("one"));
    std::fs::write(
        spool.dir().join(format!("{}.claimed-{dead}", name(2))),
        turn("claimed by the dead"),
    )
    .unwrap();
    // PID 1 is alive.
    let live = spool.dir().join(format!("{}.claimed-1", name(3)));
    std::fs::write(&live, turn("claimed by the living")).unwrap();
    spool_file(&spool, 4, &turn("four"));
    let drained = spool.drain();
    assert!(drained.error.is_none(), "{:?}", drained.error);
    assert_eq!(
        threads(&drained.notifications),
        ["one", "claimed by the dead", "four"]
    );
    assert_eq!(files(spool.dir()), [format!("{}.claimed-1", name(3))]);
    // A bad file left claimed is set aside under its spooled name.
    std::fs::write(
        spool.dir().join(format!("{}.claimed-{dead}", name(5))),
        "garbage",
    )
    .unwrap();
    let drained = spool.drain();
    assert_eq!(drained.bad.len(), 1);
    assert_eq!(
        drained.bad[0].set_aside,
        spool.dir().join(format!("{}.bad", name(5)))
    );
}

/// `next` does not fail on a bad file: it is set aside and the next notification comes;
/// `next_spooled` reports it.
#[tokio::test]
async fn next_goes_past_bad_files() {
    let d = spool_dir();
    let mut spool = NotifySpool::create(d.path().join("spool"))
        .unwrap()
        .poll_interval(Duration::from_millis(10));
    spool_file(&spool, 1, "not json");
    spool_file(&spool, 2, &turn("after the bad one"));
    assert_eq!(next(&mut spool).await.thread_id, "after the bad one");
    assert_eq!(files(spool.dir()), [format!("{}.bad", name(1))]);

    spool_file(&spool, 3, "{");
    spool_file(&spool, 4, &turn("four"));
    let first = tokio::time::timeout(Duration::from_secs(20), spool.next_spooled()).await;
    assert!(
        matches!(&first, Ok(Ok(Spooled::Bad(b))) if b.path == spool.dir().join(format!("{}.json", name(3)))
            && matches!(b.problem, BadFileProblem::NotANotification(_))),
        "{first:?}"
    );
    let second = tokio::time::timeout(Duration::from_secs(20), spool.next_spooled()).await;
    assert!(
        matches!(&second, Ok(Ok(Spooled::Notification(Notification::AgentTurnComplete(t)))) if t.thread_id == "four"),
        "{second:?}"
    );
    // Cancelled while waiting, nothing is lost.
    assert!(
        tokio::time::timeout(Duration::from_millis(50), spool.next())
            .await
            .is_err()
    );
    spool_file(&spool, 5, &turn("five"));
    assert_eq!(next(&mut spool).await.thread_id, "five");
}
