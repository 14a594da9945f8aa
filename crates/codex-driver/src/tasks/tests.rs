//! Tests of the parent module.

use super::*;

fn registry() -> (tempfile::TempDir, TaskRegistry) {
    let d = tempfile::tempdir().unwrap();
    let r = TaskRegistry::open(d.path().join("reg")).unwrap();
    (d, r)
}

fn record(key: &str) -> TaskRecord {
    TaskRecord {
        key: key.into(),
        thread_id: Some("t1".into()),
        codex_home: "/h".into(),
        cwd: None,
        transport: Transport::Exec,
        turns: 1,
        last_turn: None,
        thread_usage: None,
        created_at: 1,
        updated_at: 2,
        extra: Map::new(),
    }
}

#[test]
fn records_round_trip_keep_unknown_fields_and_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let (_d, reg) = registry();
    assert_eq!(reg.get("a/b ../ key").unwrap(), None);
    let mut r = record("a/b ../ key");
    r.extra.insert("from_the_future".into(), Value::from(7));
    reg.put(&r).unwrap();
    assert_eq!(reg.get("a/b ../ key").unwrap(), Some(r.clone()));
    let path = reg.record_path("a/b ../ key");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dir_mode = std::fs::metadata(reg.dir()).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);
    assert_eq!(reg.list().unwrap(), [r]);
    assert!(reg.remove("a/b ../ key").unwrap().is_some());
    assert_eq!(reg.list().unwrap(), []);
}

#[test]
fn a_claim_is_exclusive_until_dropped() {
    let (_d, reg) = registry();
    let c = reg.claim("k").unwrap();
    let e = reg.claim("k").unwrap_err();
    assert!(
        matches!(&e, Error::TaskBusy { key, holder } if key == "k" && *holder == Some(std::process::id())),
        "{e:?}"
    );
    assert_eq!(e.kind(), crate::ErrorKind::Busy);
    // Removing a claimed task is refused too.
    assert!(matches!(reg.remove("k"), Err(Error::TaskBusy { .. })));
    drop(c);
    assert!(reg.claim("k").is_ok());
}

#[test]
fn a_damaged_record_is_named_not_removed() {
    let (_d, reg) = registry();
    let path = reg.record_path("k");
    std::fs::write(&path, b"{\"key\":").unwrap();
    let e = reg.get("k").unwrap_err();
    assert!(
        matches!(&e, Error::ConfigFile { path: p, .. } if *p == path),
        "{e}"
    );
    assert!(path.exists());
}

#[tokio::test]
async fn open_needs_a_transport_and_resume_only_needs_a_record() {
    let (d, reg) = registry();
    let e = reg.task("k").open().await.unwrap_err();
    assert!(matches!(e, Error::InvalidOptions(_)), "{e}");
    let home = d.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let e = reg
        .task("k")
        .exec(Exec::new("").codex_home(&home))
        .resume_only(true)
        .open()
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::TaskUnknown { key, .. } if key == "k"),
        "{e}"
    );
    assert_eq!(e.kind(), crate::ErrorKind::NotFound);
}

#[tokio::test]
async fn a_recorded_thread_in_another_home_or_gone_is_refused() {
    let (d, reg) = registry();
    let home = d.path().join("home");
    let other = d.path().join("other");
    std::fs::create_dir(&home).unwrap();
    std::fs::create_dir(&other).unwrap();
    let mut r = record("k");
    r.codex_home = other.clone();
    reg.put(&r).unwrap();
    let e = reg
        .task("k")
        .exec(Exec::new("").codex_home(&home))
        .open()
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::ThreadGone { reason: ThreadGoneReason::OtherHome { recorded }, .. } if *recorded == other),
        "{e}"
    );
    r.codex_home = home.clone();
    reg.put(&r).unwrap();
    let e = reg
        .task("k")
        .exec(Exec::new("").codex_home(&home))
        .open()
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::ThreadGone { reason: ThreadGoneReason::Deleted, thread_id, .. } if thread_id == "t1"),
        "{e}"
    );
}
