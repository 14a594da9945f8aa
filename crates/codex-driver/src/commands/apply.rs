//! `codex apply TASK_ID`: applies the diff of a Codex cloud task to the working tree with
//! `git apply`. It needs a ChatGPT login (without one Codex fails and the error's
//! [`kind`](crate::Error::kind) is `Auth`). [`run`] also reports which files changed, from
//! `git status` before and after.

use super::{Output, Runner, Subcommand};
use crate::error::{Error, Result};
use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// `codex apply TASK_ID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Apply {
    /// The cloud task.
    pub task_id: String,
}

impl Subcommand for Apply {
    type Output = Output;
    fn path(&self) -> &'static [&'static str] {
        &["apply"]
    }
    fn args(&self) -> Result<Vec<OsString>> {
        if self.task_id.is_empty() || self.task_id.starts_with('-') {
            return Err(Error::InvalidOptions(format!(
                "`{}` is not a task id",
                self.task_id
            )));
        }
        Ok(vec![self.task_id.clone().into()])
    }
    fn finish(&self, out: Output) -> Result<Output> {
        out.ok()
    }
}

/// What an apply did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Applied {
    /// Codex's output (exit 0).
    pub output: Output,
    /// Files whose `git status` changed, relative to the repository's top.
    pub touched: Vec<PathBuf>,
}

/// `git status --porcelain` entries of the repository at `dir`.
async fn status(dir: &Path) -> Result<BTreeSet<String>> {
    let mut cmd = tokio::process::Command::new("git");
    cmd.args(["status", "--porcelain=v1", "-z", "--untracked-files=all"])
        .current_dir(dir);
    let out = crate::process::run_command_bounded(cmd, std::time::Duration::from_secs(30))
        .await
        .map_err(|e| Error::io(format!("running git status in {}", dir.display()), e))?
        .filter(|o| o.status.success())
        .ok_or_else(|| {
            Error::InvalidOptions(format!("{} is not a git work tree", dir.display()))
        })?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|e| !e.is_empty())
        .map(str::to_owned)
        .collect())
}

/// Applies `apply` in the runner's working directory (a git work tree) and reports the files
/// it changed.
pub async fn run(runner: &Runner, apply: &Apply) -> Result<Applied> {
    let dir = match runner.spawn_options().current_dir_ref() {
        Some(d) => d.to_path_buf(),
        None => std::env::current_dir().map_err(|e| Error::io("the current directory", e))?,
    };
    let before = status(&dir).await?;
    let output = runner.run(apply).await?;
    let after = status(&dir).await?;
    let touched = after
        .symmetric_difference(&before)
        .filter_map(|e| e.get(3..))
        .map(PathBuf::from)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(Applied { output, touched })
}
