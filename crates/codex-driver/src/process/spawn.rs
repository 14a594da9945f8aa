//! Starting children so they end with this process: one long-lived spawner thread with a
//! parent-death signal, run tags in the environment, and the watchdog that sweeps them.

use super::kill_tree;
use super::tree::start_time;
use nix::sys::signal::Signal;
use tokio::process::Child;

/// Spawns `cmd` so that its child ends with this process, however the process ends.
///
/// A dropped handle kills the child's group (`kill_on_drop`, [`Leader`]), but when the host
/// itself dies (SIGKILL, the OOM killer, `process::exit`, a signal it doesn't handle) no
/// destructor runs. The child is therefore asked for a parent-death signal (SIGTERM, which
/// Codex turns into stopping its own commands, and which the npm launcher passes on).
/// Linux sends that signal when the *thread* that forked the child exits, not the process, so
/// every spawn happens on one thread that lives as long as the process ([`keeper`]): a tokio
/// blocking-pool thread or a caller's short-lived thread ending never kills a running Codex.
pub(crate) fn spawn(cmd: &mut tokio::process::Command) -> std::io::Result<Child> {
    let Some(keeper) = keeper() else {
        // No thread to be had: spawn here, without the signal (drop guards still apply).
        return cmd.spawn();
    };
    die_with_host(cmd);
    let handle = tokio::runtime::Handle::try_current().ok();
    let owned = std::mem::replace(cmd, tokio::process::Command::new(""));
    let (reply, result) = std::sync::mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        let mut owned = owned;
        // The child registers with the caller's runtime (its reaper and pipes), not a new one.
        let spawned = {
            let _enter = handle.as_ref().map(tokio::runtime::Handle::enter);
            owned.spawn()
        };
        let _ = reply.send((owned, spawned));
    });
    if keeper.send(job).is_err() {
        return Err(std::io::Error::other(
            "the codex-driver spawner thread is gone",
        ));
    }
    match result.recv() {
        Ok((owned, spawned)) => {
            *cmd = owned;
            spawned
        }
        Err(_) => Err(std::io::Error::other(
            "the codex-driver spawner thread is gone",
        )),
    }
}

/// The environment variable every Codex we spawn carries, with its run's [`RunTag`]; Codex
/// passes its environment on, so whatever it starts carries it too.
pub(crate) const RUN_TAG_ENV: &str = "CODEX_DRIVER_RUN";

/// Names one spawned Codex and everything it starts (see [`sweep_tagged`]).
#[derive(Debug, Clone)]
pub(crate) struct RunTag(String);

impl RunTag {
    fn new() -> Self {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Self(format!(
            "{}-{}-{nanos:x}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ))
    }
}

/// [`spawn`], with a fresh [`RunTag`] in the child's environment (and the [`watchdog`]
/// started, once per process).
pub(crate) fn spawn_tagged(cmd: &mut tokio::process::Command) -> std::io::Result<(Child, RunTag)> {
    watchdog();
    let tag = RunTag::new();
    cmd.env(RUN_TAG_ENV, &tag.0);
    spawn(cmd).map(|child| (child, tag))
}

/// SIGKILLs every process (but this one) whose environment carries `tag`: what a Codex
/// started and left behind when it exited. Codex starts some helpers (its shell snapshot runs
/// the user's `.bashrc`) in sessions of their own, where neither a signal to our process group
/// nor the parent-death signal reaches them.
pub(crate) fn sweep_tagged(tag: &RunTag) {
    let needle = format!("{RUN_TAG_ENV}={}", tag.0);
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return;
    };
    let tagged: Vec<(u32, u64)> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()))
        })
        .filter_map(|pid| Some((pid, start_time(pid)?)))
        .collect();
    if !tagged.is_empty() {
        tracing::debug!(
            count = tagged.len(),
            "killing what a finished Codex left running"
        );
    }
    kill_tree(&tagged);
}

/// What the watchdog runs: it waits for EOF on its stdin, a pipe only this process holds, so
/// EOF means this process is gone (however it ended); then it stops, gently first, every
/// process still carrying one of this process's run tags: helpers Codex started in sessions of
/// their own, which its parent-death signal doesn't reach.
const WATCHDOG: &str = r#"cat >/dev/null
sweep() {
  for f in /proc/[0-9]*/environ; do
    if tr '\0' '\n' < "$f" 2>/dev/null | grep -q "^CODEX_DRIVER_RUN=$HOST-"; then
      p=${f#/proc/}; kill "-$1" "${p%/environ}" 2>/dev/null
    fi
  done
}
sleep 0.3; sweep TERM; sleep 0.7; sweep TERM; sleep 0.5; sweep KILL
"#;

/// Starts the watchdog (see [`WATCHDOG`]) once per process: a `/bin/sh` in its own process
/// group with an empty environment. Without one (no `/bin/sh`), the parent-death signal alone
/// stands.
fn watchdog() {
    use std::os::unix::process::CommandExt;
    static PIPE: std::sync::OnceLock<Option<std::io::PipeWriter>> = std::sync::OnceLock::new();
    PIPE.get_or_init(|| {
        let (reader, writer) = std::io::pipe().ok()?;
        let started = std::process::Command::new("/bin/sh")
            .args(["-c", WATCHDOG])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOST", std::process::id().to_string())
            .stdin(reader)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn();
        match started {
            // Never waited for: it exits only after this process has.
            Ok(_) => Some(writer),
            Err(e) => {
                tracing::debug!("no watchdog: {e}");
                None
            }
        }
    });
}

type Job = Box<dyn FnOnce() + Send>;

/// The thread every child is forked from; it never exits (the channel's sender is static), so
/// the parent-death signal fires only when the process ends.
fn keeper() -> Option<&'static std::sync::mpsc::Sender<Job>> {
    static KEEPER: std::sync::OnceLock<Option<std::sync::mpsc::Sender<Job>>> =
        std::sync::OnceLock::new();
    KEEPER
        .get_or_init(|| {
            let (tx, rx) = std::sync::mpsc::channel::<Job>();
            std::thread::Builder::new()
                .name("codex-driver-spawner".into())
                .stack_size(256 * 1024)
                .spawn(move || {
                    for job in rx {
                        job();
                    }
                })
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

/// Arms the parent-death signal in the child (see [`spawn`]). The crate's only `unsafe`.
#[allow(unsafe_code)]
fn die_with_host(cmd: &mut tokio::process::Command) {
    let host = nix::unistd::getpid();
    let pre_exec = move || {
        nix::sys::prctl::set_pdeathsig(Signal::SIGTERM)
            .map_err(|e| std::io::Error::from_raw_os_error(e as i32))?;
        // The host may have died between fork and prctl: then the signal never comes.
        if nix::unistd::getppid() != host {
            return Err(std::io::Error::from_raw_os_error(
                nix::errno::Errno::ESRCH as i32,
            ));
        }
        Ok(())
    };
    // SAFETY: the closure runs in the forked child before exec, where only async-signal-safe
    // work is allowed. It makes two system calls (prctl, getppid), takes no lock, and
    // allocates nothing: a raw-errno `io::Error` is a tagged integer, not a heap value.
    unsafe {
        cmd.pre_exec(pre_exec);
    }
}
