//! `codex-driver config ...`: the snapshots the library keeps of a home's config.toml before
//! each edit, over `codex_driver::config::Snapshots`.

use anyhow::Result;
use clap::{Args, Subcommand};
use codex_driver::config::{DEFAULT_KEEP, Snapshot, Snapshots};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

/// Version of the JSON printed by `config` commands; bumped on incompatible changes.
const SCHEMA_VERSION: u32 = 1;

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// The snapshots of the home's config.toml (taken before each change codex-driver makes),
    /// newest first.
    Snapshots(Target),
    /// A unified diff from a snapshot to config.toml as it is now (nothing when the same).
    Diff {
        /// The snapshot's id (as `config snapshots` lists it).
        id: String,
        #[command(flatten)]
        target: Target,
    },
    /// Put a snapshot back; the content it replaces is snapshotted first, so this can be
    /// undone with another restore.
    Restore {
        /// The snapshot's id (as `config snapshots` lists it).
        id: String,
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Args)]
pub struct Target {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// The CODEX_HOME whose config.toml is meant (default: $CODEX_HOME, then ~/.codex).
    #[arg(long, alias = "home", value_name = "DIR")]
    codex_home: Option<PathBuf>,
}

impl Target {
    fn snapshots(&self) -> Result<Snapshots> {
        let home = crate::home_or_default(self.codex_home.clone())?;
        Ok(Snapshots::for_file(home.config_toml()))
    }
}

fn snapshot_json(s: &Snapshot) -> serde_json::Value {
    json!({
        "id": s.id,
        "taken_at": s.taken_at_rfc3339(),
        "size": s.size,
        "path": s.path,
    })
}

fn print_json(v: &serde_json::Value) -> Result<()> {
    outln!("{}", serde_json::to_string_pretty(v)?)?;
    Ok(())
}

/// Runs a `config` sub-command.
pub fn run(cmd: ConfigCommand) -> Result<ExitCode> {
    match cmd {
        ConfigCommand::Snapshots(t) => {
            let snaps = t.snapshots()?;
            let list = snaps.list()?;
            if t.json {
                print_json(&json!({
                    "schema_version": SCHEMA_VERSION,
                    "file": snaps.file(),
                    "dir": snaps.dir(),
                    "snapshots": list.iter().map(snapshot_json).collect::<Vec<_>>(),
                }))?;
            } else if list.is_empty() {
                eprintln!("no snapshots of {}", snaps.file().display());
            } else {
                for s in &list {
                    outln!("{}  {}  {} bytes", s.id, s.taken_at_rfc3339(), s.size)?;
                }
            }
        }
        ConfigCommand::Diff { id, target } => {
            let snaps = target.snapshots()?;
            let snapshot = snaps.find(&id)?;
            let diff = snaps.diff(&snapshot)?;
            if target.json {
                print_json(&json!({
                    "schema_version": SCHEMA_VERSION,
                    "snapshot": snapshot_json(&snapshot),
                    "diff": diff,
                }))?;
            } else if diff.is_empty() {
                eprintln!(
                    "{} is the same as snapshot {}",
                    snaps.file().display(),
                    snapshot.id
                );
            } else {
                crate::out::text(&diff)?;
            }
        }
        ConfigCommand::Restore { id, target } => {
            let snaps = target.snapshots()?;
            let snapshot = snaps.find(&id)?;
            let saved = snaps.restore(&snapshot, DEFAULT_KEEP)?;
            if target.json {
                print_json(&json!({
                    "schema_version": SCHEMA_VERSION,
                    "restored": snapshot_json(&snapshot),
                    "saved": saved.as_ref().map(snapshot_json),
                }))?;
            } else {
                outln!(
                    "restored {} from snapshot {}",
                    snaps.file().display(),
                    snapshot.id
                )?;
                if let Some(s) = saved {
                    eprintln!(
                        "the replaced content is snapshot {} (undo: codex-driver config restore {})",
                        s.id, s.id
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
