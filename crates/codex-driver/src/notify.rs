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
//! ```no_run
//! # async fn demo() -> codex_driver::Result<()> {
//! use codex_driver::CodexHome;
//! use codex_driver::notify::{Notification, NotifySpool};
//!
//! let home = CodexHome::isolated("/var/lib/mybot/codex-home").materialize()?;
//! let mut spool = NotifySpool::create("/var/lib/mybot/turns")?;
//! spool.install(&home)?; // sets `notify` in the home's config.toml, keeping the old program
//! loop {
//!     match spool.next().await? {
//!         Notification::AgentTurnComplete(t) => {
//!             println!("{} finished: {:?}", t.thread_id, t.last_assistant_message)
//!         }
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
# Private files; the umask does not leak into the previous program.
( umask 077; printf '%s' "$json" > "$dir/.$name.tmp" && mv "$dir/.$name.tmp" "$dir/$name.json" )
if [ "${#prev[@]}" -gt 0 ]; then exec "${prev[@]}" "$json"; fi
"#;

/// A spool directory Codex's `notify` hook writes turn notifications into. See the
/// [module docs](self).
#[derive(Debug)]
pub struct NotifySpool {
    dir: PathBuf,
    poll: Duration,
}

impl NotifySpool {
    /// Creates (0700) or reopens the spool at `dir` (made absolute: Codex runs the hook from
    /// its own working directory) and (re)writes its hook script. If the directory is deleted
    /// while installed, Codex can't run the hook, nor the program it chains: uninstall first.
    pub fn create(dir: impl Into<PathBuf>) -> Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let dir = std::path::absolute(dir.into())
            .map_err(|e| Error::io("making the notify spool path absolute", e))?;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| Error::io(format!("creating the notify spool {}", dir.display()), e))?;
        let hook = dir.join(HOOK_NAME);
        crate::fsutil::write_atomic(&hook, HOOK.as_bytes(), 0o700)
            .map_err(|e| Error::io(format!("writing {}", hook.display()), e))?;
        Ok(Self {
            dir,
            poll: Duration::from_millis(100),
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

    /// Takes the notifications spooled so far, oldest first. A file that is not a notification
    /// is renamed `*.bad`; it is reported as [`Error::Protocol`] only when nothing else was
    /// spooled. Any other failure (e.g. a spool that can't be written) is returned at once.
    pub fn drain(&mut self) -> Result<Vec<Notification>> {
        let mut out = Vec::new();
        let mut bad = None;
        // One listing for the whole backlog.
        for path in self.spooled()? {
            match self.take(&path) {
                Ok(Some(n)) => out.push(n),
                Ok(None) => {}
                // The bad file was set aside; keep the good ones.
                Err(e @ Error::Protocol { .. }) => {
                    bad.get_or_insert(e);
                }
                Err(e) => return Err(e),
            }
        }
        match bad {
            Some(e) if out.is_empty() => Err(e),
            _ => Ok(out),
        }
    }

    /// Waits for the next notification (checking every [`poll_interval`](Self::poll_interval)).
    /// Cancel-safe: nothing is taken from the spool until it is returned.
    pub async fn next(&mut self) -> Result<Notification> {
        loop {
            for path in self.spooled()? {
                if let Some(n) = self.take(&path)? {
                    return Ok(n);
                }
            }
            tokio::time::sleep(self.poll).await;
        }
    }

    /// The spooled files, oldest first.
    fn spooled(&self) -> Result<Vec<PathBuf>> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .map_err(|e| spool_err("reading", &self.dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Claims a spooled file (renaming it first, so two readers never both take one), parses
    /// and deletes it; `None` when another reader was first. A file that is no notification is
    /// set aside as `*.bad`.
    fn take(&self, path: &Path) -> Result<Option<Notification>> {
        let claimed = path.with_extension(format!("claimed-{}", std::process::id()));
        match std::fs::rename(path, &claimed) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(spool_err("claiming", path, e)),
        }
        let text = std::fs::read(&claimed).map_err(|e| spool_err("reading", &claimed, e))?;
        match serde_json::from_slice::<Notification>(&text) {
            Ok(n) => {
                std::fs::remove_file(&claimed).map_err(|e| spool_err("removing", &claimed, e))?;
                Ok(Some(n))
            }
            Err(e) => {
                std::fs::rename(&claimed, path.with_extension("bad"))
                    .map_err(|e| spool_err("setting aside", &claimed, e))?;
                Err(Error::Protocol {
                    method: "notify".into(),
                    detail: format!("{}: {e}", path.display()),
                })
            }
        }
    }
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
                (Some("wrapper-probe".into()), 1)
            ]
        );
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
