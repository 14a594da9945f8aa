//! Finding the processes a test started, for "nothing outlives its owner" assertions, and
//! sampling a process's resources (open files, threads, memory, children) for leak tests.
//! Linux only: everything is read from `/proc`.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The environment variable a [`ProcessMarker`] is carried in.
pub const MARKER_ENV: &str = "CODEX_DRIVER_TEST_MARKER";

/// A unique tag for the processes of one test: put [`env`](Self::env) into the environment of
/// what you spawn (Codex passes its environment on to the commands it runs), or its
/// [`value`](Self::value) into a command line, then ask which processes still carry it.
#[derive(Debug, Clone)]
pub struct ProcessMarker {
    value: String,
}

impl ProcessMarker {
    /// A marker unique to this process and call, starting with `label`.
    pub fn new(label: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Self {
            value: format!(
                "{label}-{}-{}-{nanos:x}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ),
        }
    }

    /// A marker with exactly this value (e.g. one passed down from a parent test process).
    pub fn from_value(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
        }
    }

    /// The marker text.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// `(MARKER_ENV, value)`, for `Command::env` or the library's `.env(..)`.
    pub fn env(&self) -> (&'static str, &str) {
        (MARKER_ENV, &self.value)
    }

    /// Live processes (zombies excluded, this process excluded) whose environment holds the
    /// marker or whose command line contains it.
    pub fn processes(&self) -> Vec<ProcessInfo> {
        let needle = format!("{MARKER_ENV}={}", self.value);
        all_processes()
            .into_iter()
            .filter(|p| p.state != 'Z' && p.state != 'X')
            .filter(|p| {
                p.cmdline.contains(&self.value)
                    || std::fs::read(format!("/proc/{}/environ", p.pid))
                        .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
            })
            .collect()
    }

    /// Polls until no process carries the marker, up to `limit`; on a timeout, returns those
    /// that remain.
    pub fn wait_gone(&self, limit: Duration) -> Result<(), Vec<ProcessInfo>> {
        let deadline = Instant::now() + limit;
        loop {
            let left = self.processes();
            if left.is_empty() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(left);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Polls until some process carrying the marker matches `f`, up to `limit`.
    pub fn wait_for(&self, limit: Duration, f: impl Fn(&ProcessInfo) -> bool) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.processes().iter().any(&f) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        false
    }

    /// Stops every process carrying the marker (clean-up after a failed assertion): SIGTERM,
    /// then SIGKILL for those still there after half a second. The SIGTERM first lets shells
    /// run their `EXIT` traps: a login shell killed outright while its `.bashrc` ran
    /// `pyenv rehash` leaves pyenv's lock behind, and every later login shell then waits a
    /// minute on it (tests that run Codex's commands are best given a `HOME` of their own).
    pub fn kill_all(&self) {
        use nix::sys::signal::{Signal, kill};
        let send = |sig: Signal| {
            for p in self.processes() {
                if let Ok(pid) = i32::try_from(p.pid) {
                    let _ = kill(nix::unistd::Pid::from_raw(pid), sig);
                }
            }
        };
        send(Signal::SIGTERM);
        if self.wait_gone(Duration::from_millis(500)).is_err() {
            send(Signal::SIGKILL);
        }
    }
}

/// One process, as `/proc` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Process id.
    pub pid: u32,
    /// Parent's process id.
    pub ppid: u32,
    /// Process group id.
    pub pgid: u32,
    /// Session id.
    pub sid: u32,
    /// State letter (`R`, `S`, `Z`, ...).
    pub state: char,
    /// The command line, arguments joined by spaces.
    pub cmdline: String,
}

impl ProcessInfo {
    /// Reads `/proc/PID`; `None` when the process is gone.
    pub fn read(pid: u32) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `pid (comm) state ppid pgrp session ...`; comm may hold spaces and parentheses.
        let (_, rest) = stat.rsplit_once(')')?;
        let mut f = rest.split_whitespace();
        let state = f.next()?.chars().next()?;
        let ppid = f.next()?.parse().ok()?;
        let pgid = f.next()?.parse().ok()?;
        let sid = f.next()?.parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|c| {
                String::from_utf8_lossy(&c)
                    .trim_end_matches('\0')
                    .replace('\0', " ")
            })
            .unwrap_or_default();
        Some(Self {
            pid,
            ppid,
            pgid,
            sid,
            state,
            cmdline,
        })
    }
}

/// Every process visible in `/proc` except this one.
pub fn all_processes() -> Vec<ProcessInfo> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter_map(ProcessInfo::read)
        .collect()
}

/// The live (non-zombie) descendants of `pid`.
pub fn descendants(pid: u32) -> Vec<ProcessInfo> {
    let all = all_processes();
    let mut out: Vec<ProcessInfo> = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for p in all.iter().filter(|p| p.ppid == parent) {
            frontier.push(p.pid);
            if p.state != 'Z' && p.state != 'X' {
                out.push(p.clone());
            }
        }
    }
    out
}

/// What a process holds at one moment: for leak checks, take one before and one after.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ResourceSample {
    /// Open file descriptors.
    pub fds: usize,
    /// Threads.
    pub threads: usize,
    /// Resident set size, KiB.
    pub rss_kib: u64,
    /// Live descendant processes.
    pub descendants: usize,
}

impl ResourceSample {
    /// Samples `pid`; `None` when it is gone.
    pub fn of(pid: u32) -> Option<Self> {
        let base = format!("/proc/{pid}");
        let fds = std::fs::read_dir(Path::new(&base).join("fd")).ok()?.count();
        let status = std::fs::read_to_string(Path::new(&base).join("status")).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Some(Self {
            fds,
            threads: usize::try_from(field("Threads:")).unwrap_or(usize::MAX),
            rss_kib: field("VmRSS:"),
            descendants: descendants(pid).len(),
        })
    }

    /// Samples this process.
    pub fn current() -> Self {
        Self::of(std::process::id()).unwrap_or(Self {
            fds: 0,
            threads: 0,
            rss_kib: 0,
            descendants: 0,
        })
    }
}
