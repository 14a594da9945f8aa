//! A child's descendants by pid and start time, and stopping them: for helpers outside our
//! process group.

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use std::time::Duration;

/// A process's start time (clock ticks after boot, `/proc/PID/stat` field 22). A pid is
/// recycled, a pid with its start time never is.
pub(super) fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    // After `comm`: state is field 3, so start time (22) is the 20th from here.
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Every live descendant of `pid` with its start time. Codex starts some helpers in sessions
/// of their own (its shell snapshot, PTY commands), out of reach of a signal to our process
/// group; this finds them, as long as `pid` has not exited (its children would be init's).
pub(crate) fn descendant_tree(pid: u32) -> Vec<(u32, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parents: Vec<(u32, u32)> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|p| {
            let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).ok()?;
            let (_, rest) = stat.rsplit_once(')')?;
            let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
            Some((p, ppid))
        })
        .collect();
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for (child, _) in parents.iter().filter(|(_, pp)| *pp == parent) {
            if let Some(t) = start_time(*child) {
                out.push((*child, t));
                frontier.push(*child);
            }
        }
    }
    out
}

/// Stops each process of `tree` that still is the one recorded (same pid and start time):
/// SIGTERM now, so shells run their `EXIT` traps (a `pyenv rehash` killed outright leaves its
/// lock behind, and every later login shell waits a minute on it), then SIGKILL for those
/// still there a second later, from a short-lived thread so no caller blocks.
pub(crate) fn kill_tree(tree: &[(u32, u64)]) {
    let signal = |sig: Signal| -> Vec<(u32, u64)> {
        tree.iter()
            .filter(|(pid, started)| start_time(*pid) == Some(*started))
            .filter(|(pid, _)| {
                i32::try_from(*pid)
                    .is_ok_and(|raw| nix::sys::signal::kill(Pid::from_raw(raw), sig).is_ok())
            })
            .copied()
            .collect()
    };
    let termed = signal(Signal::SIGTERM);
    if termed.is_empty() {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("codex-driver-sweep".into())
        .stack_size(64 * 1024)
        .spawn(move || {
            std::thread::sleep(Duration::from_secs(1));
            for (pid, started) in termed {
                if start_time(pid) == Some(started)
                    && let Ok(raw) = i32::try_from(pid)
                {
                    let _ = nix::sys::signal::kill(Pid::from_raw(raw), Signal::SIGKILL);
                }
            }
        });
}
