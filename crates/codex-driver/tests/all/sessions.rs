//! `sessions`: what the real Codex saved, read back from disk: the index (state database and
//! rollout scan agreeing), replay against the live stream, management, watching.

use crate::common::{Env, codex};
use codex_driver::app_server::AppServer;
use codex_driver::events::ThreadEvent;
use codex_driver::home::CodexHome;
use codex_driver::sessions::manage::SessionManager;
use codex_driver::sessions::replay::{Replay, replay};
use codex_driver::sessions::{
    self, Archived, Backend, Message, Query, Role, SessionChange, SessionIndex, SessionInfo,
    SessionSource,
};
use codex_driver::{Binary, Error, Exec, SpawnOptions};
use codex_driver_testkit::{MockResponse, add_file_patch};
use std::path::Path;
use std::time::Duration;

/// A model slug Codex knows, so no "model metadata not found" warning precedes the turn (a
/// warning exec prints but does not save).
const KNOWN_MODEL: &str = "gpt-5.5";

fn msg(role: Role, text: &str) -> Message {
    Message::new(role, text)
}

async fn live(exec: Exec) -> anyhow::Result<Vec<ThreadEvent>> {
    let mut s = exec.stream().await?;
    let mut out = Vec::new();
    while let Some(ev) = s.next_event().await {
        match ev {
            Ok(e) => out.push(e),
            Err(Error::TurnFailed { .. }) => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

fn spawn_opts(env: &Env) -> SpawnOptions {
    SpawnOptions::new()
        .binary(Binary::at(codex()))
        .codex_home(env.home.path())
        .current_dir(env.ws())
        .env_remove("RUST_BACKTRACE")
}

#[tokio::test]
async fn saved_threads_are_listed_read_and_follow_archiving() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::text("A1"),
        MockResponse::text("A2"),
        MockResponse::text("B1"),
    ])
    .await;
    let home = CodexHome::new(env.home.path());
    let a = env.exec("first").run().await?.thread_id.unwrap_or_default();
    env.configure(Exec::resume(&a, "second")).run().await?;
    let b = env.exec("other").run().await?.thread_id.unwrap_or_default();

    let all = sessions::list(&home)?;
    let ids: Vec<&str> = all.iter().map(|s| s.thread_id.as_str()).collect();
    assert_eq!(ids, [b.as_str(), a.as_str()], "newest first");
    let sa = sessions::find(&home, &a)?.unwrap();
    assert_eq!(sa.cwd.as_deref(), Some(env.ws()));
    assert_eq!(sa.originator.as_deref(), Some("codex_exec"));
    assert_eq!(
        sa.cli_version.as_deref(),
        Some(crate::common::version().as_str())
    );
    assert_eq!(sa.source, Some(SessionSource::Exec));
    assert_eq!(sa.model_provider.as_deref(), Some("mock"));
    assert_eq!(sa.title.as_deref(), Some("first"));
    assert!(!sa.archived);
    assert_eq!(
        sessions::transcript(&sa.path)?,
        [
            msg(Role::User, "first"),
            msg(Role::Assistant, "A1"),
            msg(Role::User, "second"),
            msg(Role::Assistant, "A2"),
        ]
    );

    // Archived through the app-server: the list follows the file.
    let server = AppServer::new()
        .binary(Binary::at(codex()))
        .codex_home(env.home.path())
        .spawn()
        .await?;
    server.resume_thread(&a).await?.archive().await?;
    server.shutdown().await?;
    let sa = sessions::find(&home, &a)?.unwrap();
    assert!(sa.archived);
    assert!(sa.path.starts_with(home.archived_sessions_dir()));
    assert_eq!(sessions::transcript(&sa.path)?.len(), 4);
    assert!(
        sessions::history(&home)?.is_empty(),
        "exec writes no history"
    );
    Ok(())
}

/// Every field but the times, which the database takes from its rows and the scan from the
/// session's own timestamp and the file's modification time (compared apart, within limits).
fn without_times(mut s: Vec<SessionInfo>) -> Vec<SessionInfo> {
    for i in &mut s {
        i.updated_at_ms = None;
        i.created_at_ms = None;
    }
    s
}

fn git(dir: &Path, args: &[&str]) {
    let ok = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}

#[tokio::test]
async fn the_state_database_and_the_rollout_scan_agree() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::text("one"),
        MockResponse::text("two"),
        MockResponse::text("three"),
        MockResponse::text("four"),
    ])
    .await;
    // A git workspace, so Codex records git state.
    git(env.ws(), &["init", "-q", "-b", "main"]);
    git(
        env.ws(),
        &["remote", "add", "origin", "https://example.com/r.git"],
    );
    git(env.ws(), &["commit", "-q", "--allow-empty", "-m", "init"]);
    let a = env.exec("exec thread").run().await?.thread_id.unwrap();
    env.configure(Exec::resume(&a, "again")).run().await?;
    // An app-server thread, named.
    let server = AppServer::new()
        .spawn_options(spawn_opts(&env))
        .spawn()
        .await?;
    let mut t = server
        .start_thread(codex_driver::app_server::protocol::ThreadStartParams {
            cwd: Some(env.ws().display().to_string()),
            ..Default::default()
        })
        .await?;
    t.run("app thread").await?;
    t.set_name("named one").await?;
    let b = t.id().to_owned();
    server.shutdown().await?;
    let c = env.exec("to archive").run().await?.thread_id.unwrap();
    SessionManager::new(spawn_opts(&env)).archive(&c).await?;

    let home = CodexHome::new(env.home.path());
    let db = SessionIndex::new(&home).backend(Backend::StateDb);
    let files = SessionIndex::new(&home).backend(Backend::Files);
    assert_eq!(SessionIndex::new(&home).active_backend()?, Backend::StateDb);
    let all = Query::new().archived(Archived::Include);
    let from_db = db.list(&all)?;
    let from_files = files.list(&all)?;
    assert_eq!(
        from_db
            .iter()
            .map(|s| s.thread_id.as_str())
            .collect::<Vec<_>>(),
        [c.as_str(), b.as_str(), a.as_str()]
    );
    assert_eq!(
        without_times(from_db.clone()),
        without_times(from_files.clone())
    );
    for (d, f) in from_db.iter().zip(&from_files) {
        let (dc, fc) = (d.created_at_ms.unwrap(), f.created_at_ms.unwrap());
        assert!((dc - fc).abs() < 1000, "start times {dc} vs {fc}");
        let (du, fu) = (d.updated_at_ms.unwrap(), f.updated_at_ms.unwrap());
        assert!((du - fu).abs() < 3000, "update times {du} vs {fu}");
    }
    let sa = db.get(&a)?.unwrap();
    assert_eq!(sa.source, Some(SessionSource::Exec));
    let git = sa.git.clone().unwrap();
    assert_eq!(git.branch.as_deref(), Some("main"));
    assert_eq!(
        git.repository_url.as_deref(),
        Some("https://example.com/r.git")
    );
    assert_eq!(git.commit_hash.as_ref().map(String::len), Some(40));
    assert!(sa.tokens_used.unwrap() > 0);
    assert_eq!(sa.model.as_deref(), Some("mock-model"));
    let sb = db.get(&b)?.unwrap();
    assert_eq!(sb.name.as_deref(), Some("named one"));
    assert_eq!(sb.source, Some(SessionSource::VsCode));
    assert!(db.get(&c)?.unwrap().archived);

    // find: full id, unique prefix, name; and the same through either store.
    for index in [&db, &files] {
        assert_eq!(index.find(&a)?.thread_id, a);
        assert_eq!(index.find(&b[..13])?.thread_id, b);
        assert_eq!(index.find("named one")?.thread_id, b);
        assert!(matches!(
            index.find("no such session"),
            Err(Error::SessionNotFound { .. })
        ));
        assert_eq!(index.count()?, (3, 1));
        assert_eq!(
            index.latest(Some(env.ws()))?.map(|s| s.thread_id),
            Some(b.clone())
        );
        assert_eq!(
            index
                .list(&Query::new().source(SessionSource::VsCode))?
                .len(),
            1
        );
    }
    // UUIDv7 ids made in the same second share a prefix: an ambiguous one lists them.
    let shared: String = a
        .chars()
        .zip(b.chars())
        .take_while(|(x, y)| x == y)
        .map(|p| p.0)
        .collect();
    if shared.len() >= 4 {
        match db.find(&shared) {
            Err(Error::SessionNotFound { candidates, .. }) => assert!(candidates.len() >= 2),
            other => panic!("{other:?}"),
        }
    }
    Ok(())
}

#[tokio::test]
async fn the_index_follows_sqlite_home() -> anyhow::Result<()> {
    let env = Env::new(vec![MockResponse::text("x")]).await;
    let db_dir = env.home.path().join("dbs");
    std::fs::create_dir(&db_dir)?;
    let cfg = env.home.path().join("config.toml");
    let mut text = std::fs::read_to_string(&cfg)?;
    text.insert_str(
        0,
        &format!("sqlite_home = {:?}\n", db_dir.display().to_string()),
    );
    std::fs::write(&cfg, text)?;
    let id = env.exec("hi").run().await?.thread_id.unwrap();
    assert!(db_dir.join("state_5.sqlite").is_file());
    assert!(!env.home.path().join("state_5.sqlite").exists());
    let index = SessionIndex::new(&CodexHome::new(env.home.path()));
    assert_eq!(index.state_db_path(), db_dir.join("state_5.sqlite"));
    assert_eq!(index.active_backend()?, Backend::StateDb);
    assert_eq!(index.get(&id)?.map(|s| s.thread_id), Some(id));
    Ok(())
}

/// The rich first turn, a resumed second one, and a failed third.
fn replay_script() -> Vec<MockResponse> {
    vec![
        MockResponse::new()
            .reasoning("thinking")
            .exec_command("echo hi"),
        MockResponse::new().exec_command("exit 3"),
        MockResponse::new().apply_patch(add_file_patch("a.txt", "hello")),
        MockResponse::new().web_search("rust").message("done"),
        MockResponse::text("again"),
        MockResponse::http_error(500, "down"),
    ]
}

/// The three turns of [`replay_script`], live: the events of each run, concatenated, and the
/// thread's rollout.
async fn replay_scenario(env: &Env) -> anyhow::Result<(Vec<ThreadEvent>, std::path::PathBuf)> {
    let first = live(
        env.exec("do it")
            .model(KNOWN_MODEL)
            .sandbox(codex_driver::SandboxMode::WorkspaceWrite),
    )
    .await?;
    let id = match &first[0] {
        ThreadEvent::ThreadStarted(t) => t.thread_id.clone(),
        other => panic!("{other:?}"),
    };
    let second = live(env.configure(Exec::resume(&id, "next")).model(KNOWN_MODEL)).await?;
    let third = live(env.configure(Exec::resume(&id, "fails")).model(KNOWN_MODEL)).await?;
    assert!(matches!(third.last(), Some(ThreadEvent::TurnFailed(_))));
    let path = sessions::find(&CodexHome::new(env.home.path()), &id)?
        .unwrap()
        .path;
    Ok(([first, second, third].concat(), path))
}

/// Re-captures `tests/fixtures/replay/<version>/`: the live events and the rollout of
/// [`replay_scenario`] from the Codex under test (`CODEX_BINARY=... cargo test -p codex-driver
/// --test all sessions::capture_replay_fixtures -- --ignored`, once per release).
#[tokio::test]
#[ignore = "re-captures the replay fixtures from the Codex under test"]
async fn capture_replay_fixtures() -> anyhow::Result<()> {
    let env = Env::new(replay_script()).await;
    let (events, rollout) = replay_scenario(&env).await?;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/replay")
        .join(crate::common::version());
    std::fs::create_dir_all(&dir)?;
    let live: String = events.iter().map(|e| e.to_json_line() + "\n").collect();
    // Paths made neutral, so the files don't name this machine.
    let neutral = |s: String| {
        s.replace(&env.ws().display().to_string(), "/WORKSPACE")
            .replace(&env.home.path().display().to_string(), "/CODEX_HOME")
    };
    std::fs::write(dir.join("live.jsonl"), neutral(live))?;
    std::fs::write(
        dir.join("rollout.jsonl"),
        neutral(std::fs::read_to_string(rollout)?),
    )?;
    eprintln!("captured {}", dir.display());
    Ok(())
}

#[tokio::test]
async fn replay_of_a_rollout_equals_the_live_streams() -> anyhow::Result<()> {
    let env = Env::new(replay_script()).await;
    let (expected, path) = replay_scenario(&env).await?;
    // Every kind of item was there to compare.
    let kinds: Vec<&str> = expected
        .iter()
        .filter(|e| matches!(e, ThreadEvent::ItemCompleted(_)))
        .filter_map(|e| e.item().map(|i| i.details.type_name()))
        .collect();
    assert_eq!(
        kinds,
        [
            "reasoning",
            "command_execution",
            "command_execution",
            "file_change",
            "web_search",
            "agent_message",
            "agent_message"
        ]
    );

    let saved_items = std::fs::read_to_string(&path)?.contains(r#""type":"item_completed""#);
    if saved_items {
        assert_eq!(replay(&path)?, expected);
    } else {
        // An older release (0.130) saved no command items and no error of a failed turn:
        // compare what it saved (the library's unit tests pin this on captured fixtures).
        eprintln!("NOTE: this Codex saves no items; comparing turns and item kinds only");
        let kinds = |evs: &[ThreadEvent]| -> Vec<String> {
            let mut k: Vec<String> = evs
                .iter()
                .filter(|e| matches!(e, ThreadEvent::ItemCompleted(_)))
                .filter_map(|e| e.item().map(|i| i.details.type_name().to_owned()))
                .collect();
            k.sort();
            k
        };
        assert_eq!(kinds(&replay(&path)?), kinds(&expected));
        return Ok(());
    }

    // A crash mid-write: the replay reads up to the cut and says where it is.
    let bytes = std::fs::read(&path)?;
    let cut_dir = tempfile::tempdir()?;
    let cut = cut_dir.path().join(path.file_name().unwrap());
    let lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
    let keep = lines.len() / 2;
    let head: Vec<u8> = lines[..keep].concat();
    let half = &lines[keep][..lines[keep].len() / 2];
    std::fs::write(&cut, [head.as_slice(), half].concat())?;
    let mut r = Replay::open(&cut)?;
    let got: Vec<ThreadEvent> = r.by_ref().collect::<Result<_, _>>()?;
    assert!(!got.is_empty() && got.len() < expected.len());
    assert_eq!(got[..], expected[..got.len()]);
    let t = r.truncated().cloned().unwrap();
    assert_eq!(t.offset, head.len() as u64);
    assert_eq!(t.bytes, half.len() as u64);
    Ok(())
}

async fn next(w: &mut sessions::SessionWatch) -> SessionChange {
    tokio::time::timeout(Duration::from_secs(20), w.next_change())
        .await
        .expect("a change within 20 s")
        .expect("the watch goes on")
        .expect("no error")
}

#[tokio::test]
async fn watch_reports_added_updated_archived_and_removed() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::text("1"),
        MockResponse::text("2"),
        MockResponse::text("3"),
    ])
    .await;
    let index = SessionIndex::new(&CodexHome::new(env.home.path()));
    let before = env.exec("before").run().await?.thread_id.unwrap();
    let mut w = index.watch_every(Duration::from_millis(100))?;
    let id = env.exec("new one").run().await?.thread_id.unwrap();
    let c = next(&mut w).await;
    assert!(
        matches!(&c, SessionChange::Added(s) if s.thread_id == id),
        "{c:?}"
    );
    env.configure(Exec::resume(&before, "more")).run().await?;
    // A running turn changes its thread several times: each is an update.
    let mut seen = Vec::new();
    while !seen
        .iter()
        .any(|c| matches!(c, SessionChange::Updated(s) if s.thread_id == before))
    {
        seen.push(next(&mut w).await);
    }
    assert!(
        seen.iter().all(|c| matches!(c, SessionChange::Updated(_))),
        "{seen:?}"
    );
    let m = SessionManager::new(spawn_opts(&env));
    m.archive(&id).await?;
    while !seen
        .iter()
        .any(|c| matches!(c, SessionChange::Archived(s) if s.thread_id == id))
    {
        seen.push(next(&mut w).await);
    }
    match m.delete(&id).await {
        Err(Error::Unsupported { found, .. }) => {
            eprintln!("SKIPPED removal: Codex {found} can't delete a thread");
            return Ok(());
        }
        other => other?,
    };
    while !seen
        .iter()
        .any(|c| matches!(c, SessionChange::Removed(r) if *r == id))
    {
        seen.push(next(&mut w).await);
    }
    Ok(())
}

#[tokio::test]
async fn management_through_subcommands_and_the_app_server() -> anyhow::Result<()> {
    let env = Env::new(vec![
        MockResponse::text("1"),
        MockResponse::text("queued turn ran"),
        MockResponse::text("after the queue"),
    ])
    .await;
    let home = CodexHome::new(env.home.path());
    let id = env.exec("manage me").run().await?.thread_id.unwrap();
    let m = SessionManager::new(spawn_opts(&env));
    let caps = codex_driver::probe::Prober::new()
        .cache_dir(None)
        .probe(&Binary::at(codex()))
        .await?;
    let subcommands = caps.commands.contains("archive");
    // The same operations with the sub-commands hidden: the app-server answers.
    let mut no_subcommands = caps.clone();
    no_subcommands
        .commands
        .retain(|c| !["archive", "unarchive", "delete", "queue"].contains(&c.as_str()));
    let via_server = SessionManager::new(spawn_opts(&env)).capabilities(no_subcommands);

    for (m, prefix) in [(&m, &id[..13]), (&via_server, &id[..])] {
        let s = m.archive(prefix).await?;
        assert!(s.archived && s.path.starts_with(home.archived_sessions_dir()));
        let e = m.archive(&id).await.unwrap_err();
        assert!(
            matches!(e, Error::Command { .. } | Error::Rpc { .. }),
            "{e:?}"
        );
        let s = m.unarchive(&id).await?;
        assert!(!s.archived && s.path.starts_with(home.sessions_dir()));
    }
    let named = via_server.rename(&id, "renamed").await?;
    assert_eq!(named.name.as_deref(), Some("renamed"));
    assert_eq!(m.resolve("renamed")?.thread_id, id);
    let fork = m.fork("renamed").await?;
    assert_ne!(fork.thread_id, id);
    // The fork names its parent (0.169 keeps the copied history in its history database,
    // not in the fork's rollout).
    let meta = sessions::rollout::RolloutReader::open(&fork.path)?
        .find_map(|l| match l.ok()?.item {
            sessions::RolloutItem::SessionMeta(m) => Some(m),
            _ => None,
        })
        .unwrap();
    assert_eq!(meta.forked_from_id.as_deref(), Some(id.as_str()));

    if subcommands {
        let q = m.queue(&id, "-- from the queue").await?;
        assert_eq!(q.thread_id, id);
        // Codex runs the queued message as a turn of its own when the thread is resumed.
        env.configure(Exec::resume(&id, "later")).run().await?;
        let users: Vec<Vec<String>> = env
            .provider
            .requests()
            .iter()
            .map(|r| r.user_texts())
            .collect();
        assert!(
            users
                .iter()
                .any(|u| u.last().map(String::as_str) == Some("-- from the queue"))
        );
    } else {
        eprintln!("SKIPPED codex queue: this Codex has no `queue` sub-command");
        assert!(matches!(
            m.queue(&id, "x").await,
            Err(Error::Unsupported { .. })
        ));
    }

    let gone = match m.delete(&fork.thread_id).await {
        Err(Error::Unsupported { .. }) if !caps.commands.contains("delete") => {
            eprintln!(
                "SKIPPED delete: Codex {} has neither `codex delete` nor `thread/delete`",
                caps.version
            );
            return Ok(());
        }
        other => other?,
    };
    assert_eq!(gone, fork.thread_id);
    assert!(sessions::find(&home, &fork.thread_id)?.is_none());
    assert!(!fork.path.exists());
    let e = m.delete(&fork.thread_id).await.unwrap_err();
    assert!(matches!(e, Error::SessionNotFound { .. }), "{e:?}");
    Ok(())
}
