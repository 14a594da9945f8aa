//! Being told when a turn ends, whoever ran it: Codex's `notify` hook, typed and spooled.
//!
//! After each successful turn Codex runs the program named by `notify` in `config.toml` with
//! one more argument, a JSON description of the turn ([`Notification`]). It does so for
//! `codex exec`, the app-server and the interactive TUI alike, and does not wait for it.
//!
//! A [`NotifySpool`] installs a small hook script as that program. The script writes each
//! notification as a file into a spool directory (atomically, so a reader never sees half a
//! file) and then runs the program that was configured before, if any, exactly as Codex would
//! have. The library reads the spool: notifications survive the reader being away or
//! restarted, and any number of homes can share one spool.
//!
//! # Trust
//!
//! Whoever can write to the spool can replace the hook (and so run code as the user after every
//! turn) or plant files for the reader. [`NotifySpool::create`] therefore only accepts a
//! directory private to the current user ([`fsutil::check_private_dir`](crate::fsutil::check_private_dir):
//! owned by them, no group or other write bit), and not a symlink (whoever owns the link, or a
//! directory on its way, could repoint it); else [`Error::UnsafeDir`] names the directory and
//! the [`HomeProblem`](crate::home::HomeProblem). Spooled files are still read defensively:
//! a symlink, a directory, a FIFO or a device is never opened for reading (`O_NOFOLLOW`, then
//! `fstat`), nor a file above [`max_file_size`](NotifySpool::max_file_size) (1 MiB by default);
//! such files are set aside as `*.bad`, like files that are not a notification's JSON.
//!
//! # Delivery
//!
//! Each file is claimed by renaming it `*.claimed-<pid>` (so two readers never both take one),
//! then parsed and deleted. A claim left by a reader that died (its PID is gone) is taken again
//! by the next reader, so a notification is delivered at least once; readers sharing a spool
//! should share a PID namespace, or a live claim in another namespace may be taken twice.
//! A bad file never stops reading: [`drain`](NotifySpool::drain) lists it in
//! [`Drained::bad`], [`next_spooled`](NotifySpool::next_spooled) returns it as
//! [`Spooled::Bad`], and [`next`](NotifySpool::next) logs it (`tracing::warn!`) and goes on.
//! Errors are kept for failures of the spool itself (it can't be listed, or a file can't be
//! renamed or removed), which leave the files concerned in the spool.
//!
//! ```no_run
//! # async fn demo() -> codex_driver::Result<()> {
//! use codex_driver::CodexHome;
//! use codex_driver::notify::{Notification, NotifySpool, Spooled};
//!
//! let home = CodexHome::isolated("/var/lib/mybot/codex-home").materialize()?;
//! let mut spool = NotifySpool::create("/var/lib/mybot/turns")?;
//! spool.install(&home)?; // sets `notify` in the home's config.toml, keeping the old program
//! loop {
//!     match spool.next_spooled().await? {
//!         Spooled::Notification(Notification::AgentTurnComplete(t)) => {
//!             println!("{} finished: {:?}", t.thread_id, t.last_assistant_message)
//!         }
//!         Spooled::Bad(bad) => eprintln!("skipped {bad}"),
//!         other => println!("something new: {other:?}"),
//!     }
//! }
//! # }
//! ```

use crate::config::ConfigFile;
use crate::error::{Error, Result};
use crate::home::CodexHome;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What Codex passes to the `notify` program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[non_exhaustive]
pub enum Notification {
    /// `agent-turn-complete`: a turn ended successfully.
    #[serde(rename = "agent-turn-complete")]
    AgentTurnComplete(AgentTurnComplete),
    /// A notification this version of the library does not know, kept whole.
    #[serde(untagged)]
    Unknown(Value),
}

/// A finished turn, as the `notify` program is told about it. Field names are Codex's
/// (kebab-case on the wire).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AgentTurnComplete {
    /// The thread.
    #[serde(rename = "thread-id")]
    pub thread_id: String,
    /// The turn (`"0"` from Codex 0.50).
    #[serde(rename = "turn-id", default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
    /// The turn's working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<PathBuf>,
    /// Who ran it: `codex_exec`, or an app-server client's `clientInfo.name` (absent before
    /// 0.130).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The user's messages of the turn.
    #[serde(rename = "input-messages", default)]
    pub input_messages: Vec<String>,
    /// The turn's final answer.
    #[serde(
        rename = "last-assistant-message",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub last_assistant_message: Option<String>,
    /// Fields this version of the library does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Notification {
    /// Parses the JSON argument Codex passes.
    pub fn parse(json: &str) -> std::result::Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }
}

/// The hook script's name inside the spool directory.
pub const HOOK_NAME: &str = "codex-driver-notify-hook";

/// `$1` is the spool directory, the last argument Codex's JSON, anything between the program
/// configured before.
const HOOK: &str = r#"#!/usr/bin/env bash
# Installed by codex-driver (notify::NotifySpool). Codex runs it after each turn with the turn's
# JSON as the last argument: the JSON is spooled for the library, then the notify program that
# was configured before (the arguments between the spool directory and the JSON) runs as usual.
dir="$1"; shift
[ "$#" -ge 1 ] || exit 0
json="${@: -1}"
prev=("${@:1:$#-1}")
# Names sort in time order: microseconds (bash 5), else nanoseconds from GNU date, else seconds.
ts="${EPOCHREALTIME/[.,]/}"
[ -n "$ts" ] || ts="$(date +%s%N 2>/dev/null)"
case "$ts" in *N|"") ts="$(date +%s)000000" ;; esac
name="$(printf '%020d' "${ts:0:20}" 2>/dev/null || printf '%s' "$ts")-$$-$RANDOM"
# Private files; the umask does not leak into the previous program. Noclobber (set -C): a file or
# symlink already at the temp name is not written through.
( umask 077; set -C; printf '%s' "$json" > "$dir/.$name.tmp" && mv "$dir/.$name.tmp" "$dir/$name.json" )
if [ "${#prev[@]}" -gt 0 ]; then exec "${prev[@]}" "$json"; fi
"#;

/// The largest spooled file read by default (1 MiB); bigger ones are set aside as `*.bad`.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1 << 20;

/// A spool directory Codex's `notify` hook writes turn notifications into. See the
/// [module docs](self).
#[derive(Debug)]
pub struct NotifySpool {
    dir: PathBuf,
    poll: Duration,
    max_file_size: u64,
    stale_claim: Duration,
}

/// What [`NotifySpool::next_spooled`] found.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Spooled {
    /// A notification, now taken from the spool.
    Notification(Notification),
    /// A file that was set aside instead.
    Bad(BadFile),
}

/// A spooled file that was not read as a notification and was set aside as `*.bad` (left
/// there for inspection; the reader never looks at it again).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BadFile {
    /// Where it was spooled (`*.json`).
    pub path: PathBuf,
    /// Where it is now (`*.bad`).
    pub set_aside: PathBuf,
    /// What is wrong with it.
    pub problem: BadFileProblem,
}

/// Why a spooled file was set aside.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BadFileProblem {
    /// A symlink, directory, FIFO, socket or device: never opened for reading.
    NotARegularFile,
    /// Bigger than [`NotifySpool::max_file_size`].
    TooLarge {
        /// Its size (at least `limit + 1` when it grew while being read).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// We may not open it (permissions).
    Unreadable(String),
    /// Not a notification's JSON.
    NotANotification(String),
}

impl std::fmt::Display for BadFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "bad notify spool file {} (set aside as {}): ",
            self.path.display(),
            self.set_aside.display()
        )?;
        match &self.problem {
            BadFileProblem::NotARegularFile => f.write_str("not a regular file"),
            BadFileProblem::TooLarge { size, limit } => {
                write!(f, "{size} bytes, more than the limit of {limit}")
            }
            BadFileProblem::Unreadable(e) => write!(f, "unreadable: {e}"),
            BadFileProblem::NotANotification(e) => write!(f, "not a notification: {e}"),
        }
    }
}

/// What [`NotifySpool::drain`] took. The notifications are gone from the spool: handle them
/// even when [`error`](Self::error) is set.
#[derive(Debug, Default)]
#[must_use = "the notifications are removed from the spool; an error may be set"]
#[non_exhaustive]
pub struct Drained {
    /// The notifications taken, oldest first.
    pub notifications: Vec<Notification>,
    /// Files set aside as `*.bad` on the way.
    pub bad: Vec<BadFile>,
    /// A failure of the spool itself that ended the drain early (the spool could not be listed,
    /// or a file could not be claimed or removed). That file and the ones after it are still
    /// spooled, for the next drain.
    pub error: Option<Error>,
}

impl Drained {
    /// True when nothing was taken, set aside, or failed.
    pub fn is_empty(&self) -> bool {
        self.notifications.is_empty() && self.bad.is_empty() && self.error.is_none()
    }
}

impl NotifySpool {
    /// Creates (0700) or reopens the spool at `dir` (made absolute: Codex runs the hook from
    /// its own working directory) and (re)writes its hook script. The directory, created or
    /// found, must be private to the current user and not a symlink, else
    /// [`Error::UnsafeDir`] (see the [module docs](self)). If the directory is deleted while installed, Codex can't run the
    /// hook, nor the program it chains: uninstall first.
    pub fn create(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = std::path::absolute(dir.into())
            .map_err(|e| Error::io("making the notify spool path absolute", e))?;
        crate::fsutil::create_private_dir(&dir, "the notify spool")?;
        let hook = dir.join(HOOK_NAME);
        crate::fsutil::write_atomic(&hook, HOOK.as_bytes(), 0o700)
            .map_err(|e| Error::io(format!("writing {}", hook.display()), e))?;
        Ok(Self {
            dir,
            poll: Duration::from_millis(100),
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            stale_claim: STALE_CLAIM,
        })
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The hook script Codex runs.
    pub fn hook(&self) -> PathBuf {
        self.dir.join(HOOK_NAME)
    }

    /// How often [`next`](Self::next) looks for new files (default 100 ms).
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.poll = every;
        self
    }

    /// The largest spooled file read (default [`DEFAULT_MAX_FILE_SIZE`], 1 MiB); bigger ones
    /// are set aside as `*.bad` ([`BadFileProblem::TooLarge`]).
    pub fn max_file_size(mut self, bytes: u64) -> Self {
        self.max_file_size = bytes;
        self
    }

    /// How long another reader's claim on a file may last before this one takes the file again
    /// (default 5 minutes): a claim is only held while one small file is read, so an older one
    /// belongs to a reader that hung, or died with its pid reused.
    pub fn stale_claim_after(mut self, after: Duration) -> Self {
        self.stale_claim = after;
        self
    }

    /// Points `home`'s `notify` at the hook, keeping the program configured before (the hook
    /// runs it after spooling; other spools' hooks chain the same way). Installing twice
    /// changes nothing.
    pub fn install(&self, home: &CodexHome) -> Result<()> {
        let mut cfg = ConfigFile::for_home(home)?;
        let current = notify_argv(&cfg);
        if self.position_in(&current).is_some() {
            return Ok(());
        }
        let mut argv = vec![
            self.hook().display().to_string(),
            self.dir.display().to_string(),
        ];
        argv.extend(current);
        cfg.set_notify(argv)?;
        cfg.save()
    }

    /// Takes this spool's hook out of `home`'s `notify` chain, wherever it is, leaving the other
    /// programs as they were (and no `notify` when there are none).
    pub fn uninstall(&self, home: &CodexHome) -> Result<()> {
        let mut cfg = ConfigFile::for_home(home)?;
        let mut argv = notify_argv(&cfg);
        let Some(at) = self.position_in(&argv) else {
            return Ok(());
        };
        argv.drain(at..at + 2);
        if argv.is_empty() {
            cfg.remove("notify");
        } else {
            cfg.set_notify(argv)?;
        }
        cfg.save()
    }

    /// Where `[hook, dir]` of this spool sits in a notify argv.
    fn position_in(&self, argv: &[String]) -> Option<usize> {
        let pair = [
            self.hook().display().to_string(),
            self.dir.display().to_string(),
        ];
        argv.windows(2).position(|w| w == pair)
    }

    /// Takes the notifications spooled so far, oldest first, and sets bad files aside. Never
    /// loses what it took: see [`Drained`]. Blocks (file I/O): from async code, call it in
    /// `spawn_blocking`, or use [`next`](Self::next).
    pub fn drain(&mut self) -> Drained {
        let mut out = Drained::default();
        // One listing for the whole backlog.
        let entries = match spooled(&self.dir, self.stale_claim) {
            Ok(entries) => entries,
            Err(e) => {
                out.error = Some(e);
                return out;
            }
        };
        for entry in entries {
            match take(&entry, self.max_file_size) {
                Ok(None) => {}
                Ok(Some(Taken::Notification(n, claim))) => match claim.remove() {
                    Ok(()) => out.notifications.push(n),
                    Err(e) => {
                        out.error = Some(e);
                        break;
                    }
                },
                Ok(Some(Taken::Bad(bad))) => out.bad.push(bad),
                Err(e) => {
                    out.error = Some(e);
                    break;
                }
            }
        }
        out
    }

    /// Waits for the next notification (checking every [`poll_interval`](Self::poll_interval)).
    /// Bad files are set aside, logged with `tracing::warn!` and skipped; use
    /// [`next_spooled`](Self::next_spooled) to see them. Errors are failures of the spool
    /// itself. Cancel-safe, like `next_spooled`.
    pub async fn next(&mut self) -> Result<Notification> {
        loop {
            match self.next_spooled().await? {
                Spooled::Notification(n) => return Ok(n),
                Spooled::Bad(bad) => tracing::warn!("{bad}"),
            }
        }
    }

    /// Waits for the next notification or bad file, whichever comes first in the spool. The
    /// spool is read on tokio's blocking threads. Cancel-safe: a notification is removed from
    /// the spool only when it is returned (a claim whose future was dropped is given back), and
    /// a bad file is set aside when it is found (cancelling may then lose its report, not a
    /// notification). Errors are failures of the spool itself (see the [module docs](self)).
    pub async fn next_spooled(&mut self) -> Result<Spooled> {
        loop {
            let (dir, limit, stale) = (self.dir.clone(), self.max_file_size, self.stale_claim);
            let found = tokio::task::spawn_blocking(move || take_first(&dir, limit, stale))
                .await
                .map_err(|e| {
                    Error::io(
                        "reading the notify spool",
                        std::io::Error::other(e.to_string()),
                    )
                })??;
            match found {
                // Only this unlink runs on the async thread, so that a notification is not
                // removed before it is returned.
                Some(Taken::Notification(n, claim)) => {
                    claim.remove()?;
                    return Ok(Spooled::Notification(n));
                }
                Some(Taken::Bad(bad)) => return Ok(Spooled::Bad(bad)),
                None => tokio::time::sleep(self.poll).await,
            }
        }
    }
}

/// A spooled file: a `*.json`, or the `*.claimed-<pid>` left by a reader that died.
#[derive(Debug)]
struct Entry {
    /// Its name now.
    current: PathBuf,
    /// Its `*.json` name.
    spooled: PathBuf,
}

/// The spooled files, oldest first (their names start with the time they were written).
fn spooled(dir: &Path, stale: Duration) -> Result<Vec<Entry>> {
    let mut entries: Vec<Entry> = std::fs::read_dir(dir)
        .map_err(|e| spool_err("reading", dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|current| {
            let name = current.file_name()?.to_str()?;
            if name.ends_with(".json") {
                return Some(Entry {
                    spooled: current.clone(),
                    current,
                });
            }
            let (stem, pid) = name.rsplit_once(".claimed-")?;
            let pid: i32 = pid.parse().ok().filter(|p| *p > 0)?;
            // A claim is only in hand for the moment it takes to read one small file: one held
            // longer belongs to a reader that died (its pid maybe reused) or could not finish.
            if process_alive(pid) && !claim_is_stale(&current, stale) {
                return None;
            }
            Some(Entry {
                spooled: current.with_file_name(format!("{stem}.json")),
                current,
            })
        })
        .collect();
    entries.sort_by(|a, b| a.spooled.cmp(&b.spooled));
    Ok(entries)
}

/// How long a claim may be held before another reader takes the file again.
const STALE_CLAIM: Duration = Duration::from_secs(300);

/// Whether the claim at `path` was made (renamed: its inode change time) over `stale` ago.
fn claim_is_stale(path: &Path, stale: Duration) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    u64::try_from(meta.ctime()).is_ok_and(|claimed| now.saturating_sub(claimed) >= stale.as_secs())
}

/// Whether `pid` names a live process (including one we may not signal).
fn process_alive(pid: i32) -> bool {
    !matches!(
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
        Err(nix::errno::Errno::ESRCH)
    )
}

/// Takes the first file of the spool that is still there.
fn take_first(dir: &Path, limit: u64, stale: Duration) -> Result<Option<Taken>> {
    for entry in spooled(dir, stale)? {
        if let Some(taken) = take(&entry, limit)? {
            return Ok(Some(taken));
        }
    }
    Ok(None)
}

enum Taken {
    /// Parsed; the claimed file is removed by [`Claim::remove`], or given back if dropped.
    Notification(Notification, Claim),
    /// Set aside.
    Bad(BadFile),
}

/// A spooled file renamed `*.claimed-<our pid>`. Dropped without [`remove`](Self::remove) or
/// [`set_aside`](Self::set_aside), it is renamed back, for the next read.
#[derive(Debug)]
struct Claim {
    claimed: PathBuf,
    spooled: PathBuf,
    settled: bool,
}

impl Claim {
    /// Deletes the file (it was delivered). On failure it is given back.
    fn remove(mut self) -> Result<()> {
        match std::fs::remove_file(&self.claimed) {
            Ok(()) => {}
            // A reader in another PID namespace thought we were dead and took it over.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(spool_err("removing", &self.claimed, e)),
        }
        self.settled = true;
        Ok(())
    }

    /// Renames the file `*.bad`.
    fn set_aside(mut self, problem: BadFileProblem) -> Result<BadFile> {
        let set_aside = self.spooled.with_extension("bad");
        self.settled = true;
        std::fs::rename(&self.claimed, &set_aside)
            .map_err(|e| spool_err("setting aside", &self.claimed, e))?;
        Ok(BadFile {
            path: self.spooled.clone(),
            set_aside,
            problem,
        })
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.settled {
            let _ = std::fs::rename(&self.claimed, &self.spooled);
        }
    }
}

/// Claims a spooled file (renaming it first, so two readers never both take one) and reads it;
/// `None` when another reader was first. A file that is no notification is set aside as
/// `*.bad`.
fn take(entry: &Entry, limit: u64) -> Result<Option<Taken>> {
    let claimed = entry
        .spooled
        .with_extension(format!("claimed-{}", std::process::id()));
    match std::fs::rename(&entry.current, &claimed) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(spool_err("claiming", &entry.current, e)),
    }
    let claim = Claim {
        claimed,
        spooled: entry.spooled.clone(),
        settled: false,
    };
    // On a spool failure the claim is dropped, so given back.
    let problem = match read_capped(&claim.claimed, limit)? {
        Ok(bytes) => match serde_json::from_slice::<Notification>(&bytes) {
            Ok(n) => return Ok(Some(Taken::Notification(n, claim))),
            Err(e) => BadFileProblem::NotANotification(e.to_string()),
        },
        Err(problem) => problem,
    };
    claim.set_aside(problem).map(|bad| Some(Taken::Bad(bad)))
}

/// Reads a claimed file, if it is a regular file of at most `limit` bytes: never through a
/// symlink (`O_NOFOLLOW`), and without blocking on a FIFO (`O_NONBLOCK`, then `fstat`). The
/// outer error is a failure to read a file we should read (e.g. out of file descriptors).
fn read_capped(path: &Path, limit: u64) -> Result<std::result::Result<Vec<u8>, BadFileProblem>> {
    use std::os::unix::fs::OpenOptionsExt;
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path);
    let file = match opened {
        Ok(f) => f,
        Err(_) if std::fs::symlink_metadata(path).is_ok_and(|m| !m.is_file()) => {
            return Ok(Err(BadFileProblem::NotARegularFile));
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Ok(Err(BadFileProblem::Unreadable(e.to_string())));
        }
        Err(e) => return Err(spool_err("opening", path, e)),
    };
    let meta = file.metadata().map_err(|e| spool_err("reading", path, e))?;
    if !meta.is_file() {
        return Ok(Err(BadFileProblem::NotARegularFile));
    }
    if meta.len() > limit {
        return Ok(Err(BadFileProblem::TooLarge {
            size: meta.len(),
            limit,
        }));
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| spool_err("reading", path, e))?;
    let size = bytes.len() as u64;
    if size > limit {
        return Ok(Err(BadFileProblem::TooLarge { size, limit }));
    }
    Ok(Ok(bytes))
}

fn spool_err(what: &str, p: &Path, e: std::io::Error) -> Error {
    Error::io(format!("{what} {} in the notify spool", p.display()), e)
}

fn notify_argv(cfg: &ConfigFile) -> Vec<String> {
    match cfg.get("notify") {
        Some(Value::Array(a)) => a
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_payloads_of_every_version_parse() {
        let lines = include_str!("../tests/fixtures/notify/payloads.jsonl");
        let mut seen = Vec::new();
        for line in lines.lines() {
            let v: Value = serde_json::from_str(line).unwrap_or_default();
            let payload = match v.get("argv_tail").and_then(|t| t.as_array()) {
                Some(tail) => tail
                    .last()
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                None => v["payload"].to_string(),
            };
            match Notification::parse(&payload) {
                Ok(Notification::AgentTurnComplete(t)) => {
                    seen.push((t.client.clone(), t.input_messages.len()));
                    // Re-serializing gives the same JSON back.
                    let back = serde_json::to_value(Notification::AgentTurnComplete(t))
                        .unwrap_or_default();
                    assert_eq!(
                        back,
                        serde_json::from_str::<Value>(&payload).unwrap_or_default()
                    );
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(
            seen,
            [
                (Some("codex_exec".into()), 1),
                (None, 0),
                (Some("codex_exec".into()), 1),
                (Some("wrapper-probe".into()), 1),
                (Some("codex_exec".into()), 1),
                (Some("codex_exec".into()), 1),
                (Some("codex_exec".into()), 1)
            ]
        );
    }

    const TURN: &str = r#"{"type":"agent-turn-complete","thread-id":"t"}"#;

    /// The hook's write with a fixed name, so a file can be planted at its temp name.
    fn hook_named(name: &str) -> String {
        let script = HOOK
            .lines()
            .map(|l| {
                if l.starts_with("name=") {
                    format!("name={name}")
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        assert_ne!(script.trim(), HOOK.trim(), "the name line is still there");
        script
    }

    #[test]
    fn the_hook_does_not_write_through_a_planted_temp_file() -> std::io::Result<()> {
        let d = tempfile::tempdir()?;
        let hook = d.path().join("hook");
        std::fs::write(&hook, hook_named("fixed"))?;
        let run = || {
            std::process::Command::new("bash")
                .arg(&hook)
                .arg(d.path())
                .arg(TURN)
                .stderr(std::process::Stdio::null())
                .status()
        };
        // Unobstructed, it spools.
        run()?;
        assert_eq!(std::fs::read_to_string(d.path().join("fixed.json"))?, TURN);
        std::fs::remove_file(d.path().join("fixed.json"))?;
        // A symlink planted at the temp name is not followed, nor is its target written.
        let victim = d.path().join("victim");
        std::fs::write(&victim, "precious")?;
        std::os::unix::fs::symlink(&victim, d.path().join(".fixed.tmp"))?;
        run()?;
        assert_eq!(std::fs::read_to_string(&victim)?, "precious");
        assert!(!d.path().join("fixed.json").exists());
        // Nor a dangling one (which would create its target).
        std::fs::remove_file(d.path().join(".fixed.tmp"))?;
        let elsewhere = d.path().join("created-elsewhere");
        std::os::unix::fs::symlink(&elsewhere, d.path().join(".fixed.tmp"))?;
        run()?;
        assert!(!elsewhere.exists());
        assert!(!d.path().join("fixed.json").exists());
        Ok(())
    }

    #[test]
    fn a_claim_dropped_unsettled_is_given_back() -> Result<()> {
        let d = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let spooled = d.path().join("00000000000000000001-1-1.json");
        std::fs::write(&spooled, TURN).map_err(|e| Error::io("write", e))?;
        let entries = super::spooled(d.path(), STALE_CLAIM)?;
        let Some(Taken::Notification(n, claim)) = take(&entries[0], DEFAULT_MAX_FILE_SIZE)? else {
            panic!("not taken");
        };
        assert!(matches!(n, Notification::AgentTurnComplete(_)));
        assert!(!spooled.exists(), "claimed");
        // E.g. `next_spooled` cancelled while the blocking read ran.
        drop(claim);
        assert_eq!(
            std::fs::read_to_string(&spooled).ok().as_deref(),
            Some(TURN)
        );
        assert_eq!(
            std::fs::read_dir(d.path()).map(Iterator::count).ok(),
            Some(1)
        );
        Ok(())
    }

    #[test]
    fn unknown_notifications_are_kept() {
        let n = Notification::parse(r#"{"type":"agent-turn-paused","x":1}"#);
        assert!(matches!(n, Ok(Notification::Unknown(v)) if v["x"] == 1));
        let n = Notification::parse(
            r#"{"type":"agent-turn-complete","thread-id":"t","new-field":true}"#,
        );
        match n {
            Ok(Notification::AgentTurnComplete(t)) => {
                assert_eq!(t.thread_id, "t");
                assert_eq!(t.extra.get("new-field"), Some(&Value::Bool(true)));
            }
            other => panic!("{other:?}"),
        }
    }
}
