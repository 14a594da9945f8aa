//! The session index at scale (a bench binary, not a timed test):
//! `cargo bench -p codex-driver --bench session_index`.
//!
//! One real thread is made with the real Codex against the test kit's provider; homes of 100
//! and of 10,000 (`BENCH_SESSIONS`) threads are then built from it: its rollout copied under
//! new ids across many days, its state-database row copied likewise into Codex's own database
//! file (same schema, indexes and triggers). Each operation is timed warm, median of
//! `BENCH_REPS` (default 50) runs, through the state database and through the rollout scan.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use codex_driver::sessions::{Archived, Backend, Query, SessionIndex};
use codex_driver::{Binary, CodexHome, Exec};
use codex_driver_testkit::{MockProvider, MockResponse, codex_binary};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<T>(reps: usize, mut f: impl FnMut() -> T) -> Duration {
    let _ = f(); // warm
    median(
        (0..reps)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect(),
    )
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// A UUIDv7-shaped id for thread `i` created at `t_ms`.
fn id_for(i: usize, t_ms: i64) -> String {
    let h = format!("{:012x}", t_ms);
    format!(
        "{}-{}-7{:03x}-8{:03x}-{:012x}",
        &h[..8],
        &h[8..12],
        i % 4096,
        (i / 4096) % 4096,
        i
    )
}

struct Template {
    rollout: Vec<String>,
    id: String,
    home: PathBuf,
}

/// A home with `n` threads cloned from `t`; returns the home and one id from its middle.
fn build_home(base: &Path, t: &Template, n: usize) -> (CodexHome, String) {
    let root = base.join(format!("home-{n}"));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    std::fs::copy(t.home.join("config.toml"), root.join("config.toml")).unwrap();
    // Codex's own database file: copy it (schema, indexes, triggers, backfill state), then
    // replace its one row with n.
    let src = Connection::open(t.home.join("state_5.sqlite")).unwrap();
    src.execute_batch(&format!(
        "VACUUM INTO '{}'",
        root.join("state_5.sqlite").display()
    ))
    .unwrap();
    let mut db = Connection::open(root.join("state_5.sqlite")).unwrap();
    db.pragma_update(None, "foreign_keys", false).unwrap();
    db.pragma_update(None, "journal_mode", "wal").unwrap();
    let tx = db.transaction().unwrap();
    tx.execute(
        "CREATE TEMP TABLE tpl AS SELECT * FROM threads WHERE id = ?1",
        [&t.id],
    )
    .unwrap();
    tx.execute("DELETE FROM threads", []).unwrap();
    let start_ms: i64 = 1_790_000_000_000;
    let mut middle = String::new();
    {
        let mut ins = tx
            .prepare(
                "INSERT INTO threads SELECT * FROM tpl; \
                 ",
            )
            .unwrap();
        let mut upd = tx
            .prepare(
                "UPDATE threads SET id = ?1, rollout_path = ?2, created_at = ?3, updated_at = ?3, \
                 created_at_ms = ?4, updated_at_ms = ?4, recency_at_ms = ?4 WHERE id = ?5",
            )
            .unwrap();
        for i in 0..n {
            // One thread every 7 minutes: 10,000 threads span about seven weeks of days.
            let t_ms = start_ms + (i as i64) * 420_000;
            let id = id_for(i, t_ms);
            let secs = t_ms / 1000;
            let day = secs / 86_400;
            let dir = root.join(format!("sessions/{}/{:03}", 2026, day % 1000));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("rollout-2026-10-01T00-00-00-{id}.jsonl"));
            let mut text = String::new();
            for (k, line) in t.rollout.iter().enumerate() {
                if k == 0 {
                    text.push_str(&line.replace(&t.id, &id));
                } else {
                    text.push_str(line);
                }
                text.push('\n');
            }
            std::fs::write(&path, text).unwrap();
            ins.execute([]).unwrap();
            upd.execute(rusqlite::params![
                id,
                path.to_string_lossy(),
                secs,
                t_ms,
                t.id
            ])
            .unwrap();
            if i == n / 2 {
                middle = id;
            }
        }
    }
    tx.commit().unwrap();
    (CodexHome::new(&root), middle)
}

/// Rollout lines, repeated until `limit` bytes: a 1 GiB rollout without a 1 GiB file.
struct Repeat {
    lines: Vec<u8>,
    at: usize,
    left: u64,
}

impl std::io::Read for Repeat {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Ok(0);
        }
        let chunk = &self.lines[self.at..];
        let n = chunk.len().min(buf.len()).min(self.left as usize);
        buf[..n].copy_from_slice(&chunk[..n]);
        self.at = (self.at + n) % self.lines.len();
        self.left -= n as u64;
        Ok(n)
    }
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Streams 1 GiB of rollout lines (the template's, minus its first, repeated) through the
/// reader and through the replay; reports the throughput and the peak memory growth.
fn stream_a_gibibyte(t: &Template) {
    use codex_driver::sessions::RolloutReader;
    use codex_driver::sessions::replay::Replay;
    let mut lines = Vec::new();
    for l in &t.rollout[1..] {
        lines.extend_from_slice(l.as_bytes());
        lines.push(b'\n');
    }
    let size: u64 = 1 << 30;
    let source = || {
        std::io::BufReader::with_capacity(
            64 * 1024,
            Repeat {
                lines: lines.clone(),
                at: 0,
                left: size,
            },
        )
    };
    for (what, run) in [
        (
            "rollout reader",
            Box::new(|| RolloutReader::new(source()).count()) as Box<dyn Fn() -> usize>,
        ),
        (
            "replay",
            Box::new(|| Replay::new(RolloutReader::new(source())).count()),
        ),
    ] {
        // Reset the peak (VmHWM) to the current size.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let before = status_kib("VmRSS:");
        let start = Instant::now();
        let n = run();
        let secs = start.elapsed().as_secs_f64();
        let peak = status_kib("VmHWM:");
        println!(
            "1 GiB rollout through the {what}: {n} items in {secs:.1} s ({:.0} MB/s); peak memory growth {} KiB",
            size as f64 / secs / 1e6,
            peak.saturating_sub(before)
        );
    }
}

#[tokio::main]
async fn main() {
    let codex = codex_binary().expect("run scripts/install-codex first");
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let big: usize = std::env::var("BENCH_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("bench-session-index");
    std::fs::create_dir_all(&base).unwrap();

    // One real thread.
    let provider = MockProvider::start(vec![MockResponse::text("benchmark answer")])
        .await
        .unwrap();
    let home = provider.temp_home_in(&base).unwrap();
    let ws = tempfile::tempdir_in(&base).unwrap();
    let turn = Exec::new("a benchmark thread")
        .binary(Binary::at(&codex))
        .codex_home(home.path())
        .current_dir(ws.path())
        .skip_git_repo_check(true)
        .run()
        .await
        .unwrap();
    let id = turn.thread_id.unwrap();
    let info = SessionIndex::new(&CodexHome::new(home.path()))
        .get(&id)
        .unwrap()
        .unwrap();
    let template = Template {
        rollout: std::fs::read_to_string(&info.path)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect(),
        id,
        home: home.path().to_path_buf(),
    };
    let rollout_bytes = std::fs::metadata(&info.path).unwrap().len();
    println!(
        "template thread: {} lines, {} bytes of rollout; Codex {}",
        template.rollout.len(),
        rollout_bytes,
        info.cli_version.as_deref().unwrap_or("?")
    );

    stream_a_gibibyte(&template);

    let mut rows = Vec::new();
    for n in [100, big] {
        let t0 = Instant::now();
        let (home, middle) = build_home(&base, &template, n);
        eprintln!(
            "built a home of {n} threads in {:.1} s",
            t0.elapsed().as_secs_f64()
        );
        let db = SessionIndex::new(&home).backend(Backend::StateDb);
        let files = SessionIndex::new(&home).backend(Backend::Files);
        assert_eq!(
            SessionIndex::new(&home).active_backend().unwrap(),
            Backend::StateDb
        );
        let newest = db.list(&Query::new().limit(10)).unwrap();
        assert_eq!(newest.len(), 10);
        assert_eq!(
            newest.iter().map(|s| &s.thread_id).collect::<Vec<_>>(),
            files
                .list(&Query::new().limit(10))
                .unwrap()
                .iter()
                .map(|s| &s.thread_id)
                .collect::<Vec<_>>(),
            "the database and the scan list the same newest 10"
        );
        let file_reps = if n > 1000 { reps.min(5) } else { reps };
        rows.push((
            n,
            [
                time(reps, || db.list(&Query::new().limit(10)).unwrap()),
                time(reps, || db.get(&middle).unwrap().unwrap()),
                time(reps, || db.find(&middle[..18]).unwrap()),
                time(reps.min(10), || db.count().unwrap()),
                time(reps.min(10), || {
                    db.list(&Query::new().archived(Archived::Include))
                        .unwrap()
                        .len()
                }),
                time(file_reps, || files.list(&Query::new().limit(10)).unwrap()),
                time(file_reps, || files.get(&middle).unwrap().unwrap()),
                time(file_reps.min(3), || {
                    files
                        .list(&Query::new().archived(Archived::Include))
                        .unwrap()
                        .len()
                }),
            ],
        ));
    }
    let names = [
        "state db: newest 10",
        "state db: get by id",
        "state db: find by prefix",
        "state db: count",
        "state db: list all",
        "rollout scan: newest 10",
        "rollout scan: get by id",
        "rollout scan: list all",
    ];
    println!(
        "\n| operation | {} threads | {} threads | ratio |",
        rows[0].0, rows[1].0
    );
    println!("|---|---|---|---|");
    for (i, name) in names.iter().enumerate() {
        let (a, b) = (rows[0].1[i], rows[1].1[i]);
        println!(
            "| {name} | {} | {} | {:.2}x |",
            ms(a),
            ms(b),
            b.as_secs_f64() / a.as_secs_f64()
        );
    }
    let _ = std::fs::remove_dir_all(&base);
}
