//! `codex app-server daemon start|stop|version` (0.153+): the background app-server Codex keeps
//! per home, and `codex remote-control` status. Each prints one JSON status object (after
//! progress lines, for `start`).

use super::{Output, Runner, Subcommand};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::ffi::OsString;

/// Which daemon command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DaemonCommand {
    /// `start`: install the daemon from this CLI into the home and start it.
    Start,
    /// `stop`.
    Stop,
    /// `version`: what runs (fails when nothing does).
    Version,
}

/// `codex app-server daemon start|stop|version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Daemon(pub DaemonCommand);

/// What the daemon commands report.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
#[non_exhaustive]
pub struct DaemonStatus {
    /// `running` or `stopped`.
    pub status: String,
    /// How it is tracked (`pid`).
    pub backend: String,
    /// The Codex the daemon runs.
    pub managed_codex_path: Option<String>,
    /// Its version.
    pub managed_codex_version: Option<String>,
    /// The control socket.
    pub socket_path: Option<String>,
    /// The CLI that answered.
    pub cli_version: Option<String>,
    /// The running app-server's version.
    pub app_server_version: Option<String>,
    /// Fields this library doesn't model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl DaemonStatus {
    /// `status == "running"`.
    pub fn running(&self) -> bool {
        self.status == "running"
    }
}

/// The last line of `text` that is a JSON object with a `status` field.
fn status_line(command: &str, text: &str) -> Result<DaemonStatus> {
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
        .find(|v| v.get("status").is_some())
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or_else(|| Error::Protocol {
            method: format!("codex {command}"),
            detail: "no status object in its output".into(),
        })
}

impl Subcommand for Daemon {
    type Output = Option<DaemonStatus>;
    fn path(&self) -> &'static [&'static str] {
        match self.0 {
            DaemonCommand::Start => &["app-server", "daemon", "start"],
            DaemonCommand::Stop => &["app-server", "daemon", "stop"],
            DaemonCommand::Version => &["app-server", "daemon", "version"],
        }
    }
    fn args(&self) -> Result<Vec<OsString>> {
        Ok(Vec::new())
    }
    /// `start` reports progress lines only: `None` then; ask [`DaemonCommand::Version`].
    fn finish(&self, out: Output) -> Result<Option<DaemonStatus>> {
        let out = out.ok()?;
        match self.0 {
            DaemonCommand::Start => Ok(status_line(&out.command, &out.stdout).ok()),
            _ => status_line(&out.command, &out.stdout).map(Some),
        }
    }
}

/// What runs: `Ok(None)` when no daemon runs in the home (Codex's `version` fails then,
/// because its control socket is absent).
pub async fn status(runner: &Runner) -> Result<Option<DaemonStatus>> {
    let out = runner.output(&Daemon(DaemonCommand::Version)).await?;
    if !out.success() && out.message().contains("failed to connect") {
        return Ok(None);
    }
    Daemon(DaemonCommand::Version).finish(out)
}

/// Stops the daemon and the update loop Codex's `stop` leaves behind.
pub async fn stop(runner: &Runner) -> Result<Option<DaemonStatus>> {
    let s = runner.run(&Daemon(DaemonCommand::Stop)).await?;
    crate::tui::stop_updater(&runner.spawn_options().effective_home()?);
    Ok(s)
}

/// `codex remote-control [start|stop] --json`: remote control of this machine's Codex through
/// ChatGPT. Needs a ChatGPT login; without one Codex fails, and the error's
/// [`kind`](Error::kind) tells why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteControl {
    /// `remote-control --json`: enable and report.
    Status,
    /// `remote-control start --json`.
    Start,
    /// `remote-control stop --json`.
    Stop,
}

impl Subcommand for RemoteControl {
    type Output = Value;
    fn path(&self) -> &'static [&'static str] {
        match self {
            Self::Status => &["remote-control"],
            Self::Start => &["remote-control", "start"],
            Self::Stop => &["remote-control", "stop"],
        }
    }
    fn args(&self) -> Result<Vec<OsString>> {
        Ok(vec!["--json".into()])
    }
    fn finish(&self, out: Output) -> Result<Value> {
        out.ok()?.json()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_object_is_found_after_progress_lines() -> Result<()> {
        let text = include_str!("../../tests/fixtures/commands/0.171.0/daemon-stop.txt");
        let s = status_line(
            "app-server daemon stop",
            &format!("{{\"event\":\"x\"}}\n{text}"),
        )?;
        assert_eq!(s.status, "stopped");
        assert_eq!(s.cli_version.as_deref(), Some("0.171.0"));
        assert!(!s.running());
        assert!(status_line("x", "{\"event\":1}\nnot json").is_err());
        Ok(())
    }
}
