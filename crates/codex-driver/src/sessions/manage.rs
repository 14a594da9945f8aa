//! Managing saved sessions through Codex itself: archive, unarchive, delete, rename, fork, and
//! queue a message for a session's next turn.
//!
//! Each operation runs the top-level sub-command when the binary has it (`codex archive`,
//! `unarchive`, `delete --force`, `queue`: 0.169+) and otherwise the app-server method
//! (`thread/archive`, `thread/unarchive`, `thread/delete`), as the probed capabilities say.
//! Renaming and forking without a turn exist only on the app-server (`thread/name/set`,
//! `thread/fork`). A session is named the way [`SessionIndex::find`] takes it (a full id, a
//! unique prefix or a name) and resolved here first, so Codex always receives the full id.
//!
//! ```no_run
//! # async fn demo() -> codex_driver::Result<()> {
//! use codex_driver::sessions::manage::SessionManager;
//! use codex_driver::SpawnOptions;
//!
//! let manager = SessionManager::new(SpawnOptions::new().codex_home("/var/lib/mybot/codex"));
//! let archived = manager.archive("01a23a85").await?;
//! assert!(archived.archived);
//! let copy = manager.fork(&archived.thread_id).await?;
//! manager.rename(&copy.thread_id, "experiment").await?;
//! # Ok(()) }
//! ```
//!
//! [`SessionIndex::find`]: super::SessionIndex::find

use super::{SessionIndex, SessionInfo};
use crate::app_server::AppServer;
use crate::app_server::protocol as p;
use crate::binary::Binary;
use crate::error::{Error, Result};
use crate::home::CodexHome;
use crate::probe::{Capabilities, Prober};
use crate::spawn::SpawnOptions;
use serde::Serialize;
use std::ffi::OsString;
use std::sync::Arc;
use std::time::Duration;

/// How long one management command may take by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A management operation, as Codex's sub-commands take it (always a full thread id).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// `codex archive ID`.
    Archive(String),
    /// `codex unarchive ID`.
    Unarchive(String),
    /// `codex delete --force ID` (Codex refuses to delete without a terminal unless forced).
    Delete(String),
    /// `codex queue --thread ID --message TEXT`.
    Queue {
        /// The thread.
        thread_id: String,
        /// The message for its next turn.
        message: String,
    },
}

impl Operation {
    /// The top-level sub-command.
    pub fn command(&self) -> &'static str {
        match self {
            Self::Archive(_) => "archive",
            Self::Unarchive(_) => "unarchive",
            Self::Delete(_) => "delete",
            Self::Queue { .. } => "queue",
        }
    }
}

/// Which way an operation ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Via {
    /// A top-level sub-command (`codex archive`, ...).
    Subcommand,
    /// The app-server.
    AppServer,
}

/// A message queued for a thread's next turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct QueuedMessage {
    /// The queue entry's id.
    pub id: String,
    /// The thread.
    pub thread_id: String,
    /// The text, when known.
    pub text: Option<String>,
}

/// Runs management operations on the sessions of one home: see the [module docs](self).
#[derive(Debug, Clone)]
pub struct SessionManager {
    spawn: SpawnOptions,
    capabilities: Option<Arc<Capabilities>>,
    timeout: Duration,
}

impl SessionManager {
    /// Operations with these spawn options (binary, `CODEX_HOME`, environment, `-c`).
    pub fn new(spawn: SpawnOptions) -> Self {
        Self {
            spawn,
            capabilities: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Use these capabilities instead of probing the binary (cached per binary otherwise).
    pub fn capabilities(mut self, caps: Capabilities) -> Self {
        self.capabilities = Some(Arc::new(caps));
        self
    }

    /// How long one operation may take (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// The home operated on: the one set, else `$CODEX_HOME`, else `~/.codex`.
    pub fn home(&self) -> Result<CodexHome> {
        self.spawn.effective_home()
    }

    fn index(&self) -> Result<SessionIndex> {
        Ok(SessionIndex::new(&self.home()?))
    }

    /// The argv of `op` after the binary (`-c`/`--enable`/`--disable` first, as every
    /// sub-command takes them).
    pub fn args(&self, op: &Operation) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec![op.command().into()];
        a.extend(self.spawn.common_args());
        match op {
            Operation::Archive(id) | Operation::Unarchive(id) => a.push(id.into()),
            Operation::Delete(id) => {
                a.push("--force".into());
                a.push(id.into());
            }
            Operation::Queue { thread_id, message } => {
                a.extend(["--thread".into(), thread_id.into()]);
                // One word, so a message that starts with `-` is not read as a flag.
                let mut m = OsString::from("--message=");
                m.push(message);
                a.push(m);
            }
        }
        a
    }

    /// The binary's capabilities; a binary below the supported range is refused here, before
    /// anything runs on it.
    async fn caps(&self, binary: &Binary) -> Result<Arc<Capabilities>> {
        let caps = match &self.capabilities {
            Some(c) => c.clone(),
            None => Arc::new(Prober::new().probe(binary).await?),
        };
        let allow = self.spawn.allow_unsupported;
        crate::spawn::admit_version(&caps.version, binary.path(), allow)?;
        Ok(caps)
    }

    /// Which way `command` runs on this binary.
    pub async fn via(&self, command: &str) -> Result<Via> {
        let binary = self.spawn.binary_or_install().await?;
        let caps = self.caps(&binary).await?;
        Ok(if caps.commands.contains(command) {
            Via::Subcommand
        } else {
            Via::AppServer
        })
    }

    /// Runs `op` as a sub-command; its stdout on success.
    async fn run(&self, binary: &Binary, op: &Operation) -> Result<String> {
        self.spawn.check()?;
        let mut cmd = self.spawn.command(binary, &self.args(op));
        cmd.env_remove("RUST_BACKTRACE");
        let command = op.command().to_owned();
        let out = crate::process::run_command_bounded(cmd, self.timeout)
            .await
            .map_err(|e| Error::Spawn {
                path: binary.path().to_path_buf(),
                source: e,
            })?;
        let Some(out) = out else {
            return Err(Error::Command {
                command,
                code: None,
                message: format!(
                    "no answer within {:?}; the process group was killed",
                    self.timeout
                ),
            });
        };
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let message = stderr
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .find(|l| l.starts_with("Error"))
                .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()))
                .unwrap_or("no message")
                .trim_start_matches("Error: ")
                .to_owned();
            return Err(Error::Command {
                command,
                code: out.status.code(),
                message,
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    async fn app_server(&self) -> Result<crate::app_server::AppServerClient> {
        AppServer::new()
            .spawn_options(self.spawn.clone())
            .request_timeout(self.timeout)
            .spawn()
            .await
    }

    /// Runs one app-server request in a short-lived server; an unknown method is
    /// [`Error::Unsupported`].
    async fn on_app_server<R>(
        &self,
        params: &R,
        caps: &Capabilities,
        binary: &Binary,
    ) -> Result<R::Response>
    where
        R: p::ClientRequest,
    {
        let client = self.app_server().await?;
        let res = client.request(params).await;
        let _ = client.shutdown().await;
        res.map_err(|e| match e {
            Error::Rpc {
                method, message, ..
            } if message.contains("unknown variant") => Error::Unsupported {
                option: method,
                required: "a Codex whose app-server has this method".into(),
                found: caps.version.clone(),
                binary: binary.path().to_path_buf(),
            },
            other => other,
        })
    }

    /// Resolves what the caller named to one saved session.
    pub fn resolve(&self, session: &str) -> Result<SessionInfo> {
        self.index()?.find(session)
    }

    fn reread(&self, id: &str) -> Result<SessionInfo> {
        self.index()?.get(id)?.ok_or_else(|| Error::ThreadGone {
            thread_id: id.to_owned(),
            home: self.spawn.home().map(Into::into).unwrap_or_default(),
            reason: crate::error::ThreadGoneReason::Deleted,
        })
    }

    /// Runs `op` on the session named: the sub-command where the binary has it, else the
    /// app-server request `params(id)`. Returns the session's full id.
    async fn op<R: p::ClientRequest>(
        &self,
        session: &str,
        op: fn(String) -> Operation,
        params: fn(String) -> R,
    ) -> Result<String> {
        let id = self.resolve(session)?.thread_id;
        let binary = self.spawn.binary_or_install().await?;
        let caps = self.caps(&binary).await?;
        let op = op(id.clone());
        if caps.commands.contains(op.command()) {
            self.run(&binary, &op).await?;
        } else {
            self.on_app_server(&params(id.clone()), &caps, &binary)
                .await?;
        }
        Ok(id)
    }

    /// Archives a session; returns it as it is now.
    pub async fn archive(&self, session: &str) -> Result<SessionInfo> {
        let id = self
            .op(session, Operation::Archive, |thread_id| {
                p::ThreadArchiveParams {
                    thread_id,
                    ..Default::default()
                }
            })
            .await?;
        self.reread(&id)
    }

    /// Unarchives a session; returns it as it is now.
    pub async fn unarchive(&self, session: &str) -> Result<SessionInfo> {
        let id = self
            .op(session, Operation::Unarchive, |thread_id| {
                p::ThreadUnarchiveParams {
                    thread_id,
                    ..Default::default()
                }
            })
            .await?;
        self.reread(&id)
    }

    /// Deletes a session for good (its rollout and its state); returns its id.
    /// [`Error::Unsupported`] on a Codex with neither `codex delete` nor `thread/delete`
    /// (0.130): nothing is removed behind Codex's back.
    pub async fn delete(&self, session: &str) -> Result<String> {
        self.op(session, Operation::Delete, |thread_id| {
            p::ThreadDeleteParams {
                thread_id,
                ..Default::default()
            }
        })
        .await
    }

    /// Names a session (`thread/name/set`); returns it as it is now.
    pub async fn rename(&self, session: &str, name: &str) -> Result<SessionInfo> {
        if name.trim().is_empty() {
            return Err(Error::InvalidOptions(
                "a session name can't be empty".into(),
            ));
        }
        let id = self.resolve(session)?.thread_id;
        let binary = self.spawn.binary_or_install().await?;
        let caps = self.caps(&binary).await?;
        let params = p::ThreadSetNameParams {
            thread_id: id.clone(),
            name: name.to_owned(),
            ..Default::default()
        };
        self.on_app_server(&params, &caps, &binary).await?;
        self.reread(&id)
    }

    /// Copies a session into a new thread without running a turn (`thread/fork`); returns
    /// the new thread. (To fork and run a prompt at once, use
    /// [`Exec::fork`](crate::Exec::fork).)
    pub async fn fork(&self, session: &str) -> Result<SessionInfo> {
        let id = self.resolve(session)?.thread_id;
        let client = self.app_server().await?;
        let forked = client.fork_thread(&id).await.map(|t| t.id().to_owned());
        let _ = client.shutdown().await;
        let new_id = forked?;
        // The fork's rollout is written when the server flushes it: give it a moment.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            match self.index()?.get(&new_id)? {
                Some(s) => return Ok(s),
                None if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                None => return self.reread(&new_id),
            }
        }
    }

    /// Queues `message` for the session (`codex queue`, 0.153+): Codex delivers it when the
    /// thread is next resumed (`exec resume`, `thread/resume`). Through exec, queue one message
    /// at a time: with two queued, 0.169-0.171 ran the second in a turn that ended with the
    /// exec and was lost.
    pub async fn queue(&self, session: &str, message: &str) -> Result<QueuedMessage> {
        if message.is_empty() {
            return Err(Error::InvalidOptions("the queued message is empty".into()));
        }
        let id = self.resolve(session)?.thread_id;
        let binary = self.spawn.binary_or_install().await?;
        let caps = self.caps(&binary).await?;
        if !caps.commands.contains("queue") {
            return Err(Error::Unsupported {
                option: "codex queue".into(),
                required: "a Codex with the `queue` sub-command (0.169+)".into(),
                found: caps.version.clone(),
                binary: binary.path().to_path_buf(),
            });
        }
        let out = self
            .run(
                &binary,
                &Operation::Queue {
                    thread_id: id.clone(),
                    message: message.to_owned(),
                },
            )
            .await?;
        let queued = parse_queued(&out).ok_or_else(|| Error::Command {
            command: "queue".into(),
            code: Some(0),
            message: format!("unexpected output: {}", out.trim()),
        })?;
        Ok(QueuedMessage {
            text: Some(message.to_owned()),
            ..queued
        })
    }
}

/// `Queued message <id> for thread <thread id>.`
fn parse_queued(stdout: &str) -> Option<QueuedMessage> {
    let line = stdout.lines().find(|l| l.starts_with("Queued message "))?;
    let rest = line.strip_prefix("Queued message ")?;
    let (id, rest) = rest.split_once(" for thread ")?;
    Some(QueuedMessage {
        id: id.trim().to_owned(),
        thread_id: rest.trim().trim_end_matches('.').to_owned(),
        text: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_per_operation() {
        let m = SessionManager::new(SpawnOptions::new().config("model", "m").disable("memories"));
        let s = |op| -> Vec<String> {
            m.args(&op)
                .into_iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        };
        let common = ["-c", "model=\"m\"", "--disable", "memories"];
        let with = |head: &str, tail: &[&str]| -> Vec<String> {
            std::iter::once(head)
                .chain(common)
                .chain(tail.iter().copied())
                .map(str::to_owned)
                .collect()
        };
        assert_eq!(s(Operation::Archive("id".into())), with("archive", &["id"]));
        assert_eq!(
            s(Operation::Unarchive("id".into())),
            with("unarchive", &["id"])
        );
        assert_eq!(
            s(Operation::Delete("id".into())),
            with("delete", &["--force", "id"])
        );
        assert_eq!(
            s(Operation::Queue {
                thread_id: "id".into(),
                message: "--not a flag".into()
            }),
            with("queue", &["--thread", "id", "--message=--not a flag"])
        );
    }

    #[test]
    fn queue_output() {
        // 0.169.0's words.
        assert_eq!(
            parse_queued(
                "Queued message 01a23a91-eaa0-7593-a882-d4cc6c24690a for thread 01a23a85-5bc2-7fa1-abe5-bb6ba8767202.\n"
            ),
            Some(QueuedMessage {
                id: "01a23a91-eaa0-7593-a882-d4cc6c24690a".into(),
                thread_id: "01a23a85-5bc2-7fa1-abe5-bb6ba8767202".into(),
                text: None
            })
        );
        assert_eq!(parse_queued("something else"), None);
    }
}
