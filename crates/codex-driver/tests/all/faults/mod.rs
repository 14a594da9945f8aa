//! The fault suite: one module per fault class, each run on the exec and the app-server
//! transport against the real Codex (a fake `codex` only where the real one can't produce the
//! fault). Every case counts into a [`Tally`]: turns attempted and faults injected, and the
//! failures that must stay at zero — processes leaked, hangs, data lost, crashes and wrong
//! outcomes (an error of the wrong kind, or one that names the wrong culprit). Each test writes
//! its counts to `target/tmp/reliability/<class>-<transport>.json`, which
//! `scripts/reliability` turns into the table in RELIABILITY.md.

mod cancel;
mod disk;
mod fake;
mod home;
mod process;
mod provider;
mod wire;

use crate::common::tmp_base;
use codex_driver_testkit::ProcessMarker;
use std::future::Future;
use std::time::{Duration, Instant};

/// What one case found, besides hangs, crashes and leaks (which the tally sees for itself).
pub enum Verdict {
    /// The expected outcome, nothing lost.
    Ok,
    /// Something the user had (a file, an event, a message) is gone or changed.
    Lost(String),
    /// Not the expected outcome: the wrong error kind, a message naming the wrong culprit.
    Wrong(String),
}

#[derive(Debug, Default, serde::Serialize)]
pub struct Counts {
    pub turns_attempted: u64,
    pub faults_injected: u64,
    pub processes_leaked: u64,
    pub hangs: u64,
    pub data_lost: u64,
    pub crashes: u64,
    pub wrong_outcomes: u64,
}

pub struct Tally {
    name: String,
    counts: Counts,
    notes: Vec<String>,
    started: Instant,
}

impl Tally {
    pub fn new(class: &str, transport: &str) -> Self {
        Self {
            name: format!("{class}-{transport}"),
            counts: Counts::default(),
            notes: Vec::new(),
            started: Instant::now(),
        }
    }

    /// Runs one case: `work` under `limit` on its own task (a panic is a crash, overrunning
    /// `limit` a hang), then waits up to 5 s for every process carrying `marker` to end.
    pub async fn case<F>(&mut self, what: &str, marker: &ProcessMarker, limit: Duration, work: F)
    where
        F: Future<Output = anyhow::Result<Verdict>> + Send + 'static,
    {
        self.counts.turns_attempted += 1;
        self.counts.faults_injected += 1;
        let task = tokio::spawn(work);
        let abort = task.abort_handle();
        match tokio::time::timeout(limit, task).await {
            Err(_) => {
                abort.abort();
                self.counts.hangs += 1;
                self.notes
                    .push(format!("{what}: still running after {limit:?}"));
            }
            Ok(Err(e)) => {
                self.counts.crashes += 1;
                self.notes.push(format!("{what}: {e}"));
            }
            Ok(Ok(Err(e))) => {
                self.counts.wrong_outcomes += 1;
                self.notes.push(format!("{what}: {e:#}"));
            }
            Ok(Ok(Ok(Verdict::Wrong(why)))) => {
                self.counts.wrong_outcomes += 1;
                self.notes.push(format!("{what}: {why}"));
            }
            Ok(Ok(Ok(Verdict::Lost(why)))) => {
                self.counts.data_lost += 1;
                self.notes.push(format!("{what}: lost {why}"));
            }
            Ok(Ok(Ok(Verdict::Ok))) => {}
        }
        let m = marker.clone();
        let left = tokio::task::spawn_blocking(move || m.wait_gone(Duration::from_secs(5)))
            .await
            .unwrap_or(Ok(()));
        if let Err(left) = left {
            self.counts.processes_leaked += left.len() as u64;
            self.notes.push(format!("{what}: leaked {left:#?}"));
            marker.kill_all();
        }
    }

    /// A turn that ran without a fault (a recovery turn after one), counted as attempted only.
    pub fn plain_turn(&mut self) {
        self.counts.turns_attempted += 1;
    }

    /// Records the counts and fails the test unless every failure count is zero.
    pub fn finish(self) {
        let dir = tmp_base().join("reliability");
        let _ = std::fs::create_dir_all(&dir);
        let record = serde_json::json!({
            "suite": self.name,
            "counts": self.counts,
            "seconds": self.started.elapsed().as_secs_f64(),
        });
        let _ = std::fs::write(dir.join(format!("{}.json", self.name)), record.to_string());
        let c = &self.counts;
        assert!(
            c.processes_leaked + c.hangs + c.data_lost + c.crashes + c.wrong_outcomes == 0,
            "{}: {c:?}\n{}",
            self.name,
            self.notes.join("\n")
        );
        assert!(
            c.faults_injected > 0,
            "{}: no fault was injected",
            self.name
        );
    }
}

/// `Verdict::Wrong` unless `cond`.
pub fn expect(cond: bool, why: impl FnOnce() -> String) -> Verdict {
    if cond {
        Verdict::Ok
    } else {
        Verdict::Wrong(why())
    }
}
