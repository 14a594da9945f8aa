//! `codex cloud list|status|diff|apply|exec`: Codex cloud tasks. Every one needs a ChatGPT
//! login and the Codex cloud service, so this library builds and runs them and classifies
//! their failures (`Not signed in` is [`ErrorKind::Auth`](crate::ErrorKind::Auth)), but their
//! successful output is passed on as Codex wrote it (JSON for `list`), not typed: none could
//! be captured offline.

use super::{Output, Subcommand};
use crate::error::{Error, Result};
use serde_json::Value;
use std::ffi::OsString;

/// One cloud command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cloud {
    /// `cloud list --json [--env ENV] [--limit N] [--cursor C]`.
    List {
        /// `--env`: only tasks of this environment.
        env: Option<String>,
        /// `--limit`.
        limit: Option<u32>,
        /// `--cursor`: the next page.
        cursor: Option<String>,
    },
    /// `cloud status TASK_ID`.
    Status {
        /// The task.
        task_id: String,
    },
    /// `cloud diff TASK_ID [--attempt N]`: the task's unified diff.
    Diff {
        /// The task.
        task_id: String,
        /// `--attempt`.
        attempt: Option<u32>,
    },
    /// `cloud apply TASK_ID [--attempt N]`.
    Apply {
        /// The task.
        task_id: String,
        /// `--attempt`.
        attempt: Option<u32>,
    },
    /// `cloud exec --env ENV [--attempts N] [--branch B] QUERY`: submit a new task.
    Exec {
        /// The prompt.
        query: String,
        /// `--env`: the environment to run in.
        env: String,
        /// `--attempts`: best-of-N.
        attempts: Option<u32>,
        /// `--branch`.
        branch: Option<String>,
    },
}

fn task(id: &str) -> Result<OsString> {
    if id.is_empty() || id.starts_with('-') {
        return Err(Error::InvalidOptions(format!("`{id}` is not a task id")));
    }
    Ok(id.into())
}

impl Subcommand for Cloud {
    /// `list` gives its JSON; the others their stdout as a JSON string.
    type Output = Value;
    fn path(&self) -> &'static [&'static str] {
        match self {
            Self::List { .. } => &["cloud", "list"],
            Self::Status { .. } => &["cloud", "status"],
            Self::Diff { .. } => &["cloud", "diff"],
            Self::Apply { .. } => &["cloud", "apply"],
            Self::Exec { .. } => &["cloud", "exec"],
        }
    }
    fn args(&self) -> Result<Vec<OsString>> {
        let mut a: Vec<OsString> = Vec::new();
        let opt = |a: &mut Vec<OsString>, flag: &str, v: Option<String>| {
            if let Some(v) = v {
                a.push(format!("{flag}={v}").into());
            }
        };
        match self {
            Self::List { env, limit, cursor } => {
                a.push("--json".into());
                opt(&mut a, "--env", env.clone());
                opt(&mut a, "--limit", limit.map(|n| n.to_string()));
                opt(&mut a, "--cursor", cursor.clone());
            }
            Self::Status { task_id } => a.push(task(task_id)?),
            Self::Diff { task_id, attempt } | Self::Apply { task_id, attempt } => {
                opt(&mut a, "--attempt", attempt.map(|n| n.to_string()));
                a.push(task(task_id)?);
            }
            Self::Exec {
                query,
                env,
                attempts,
                branch,
            } => {
                opt(&mut a, "--env", Some(env.clone()));
                opt(&mut a, "--attempts", attempts.map(|n| n.to_string()));
                opt(&mut a, "--branch", branch.clone());
                a.push("--".into());
                a.push(query.into());
            }
        }
        Ok(a)
    }
    fn finish(&self, out: Output) -> Result<Value> {
        let out = out.ok()?;
        match self {
            Self::List { .. } => out.json(),
            _ => Ok(Value::String(out.stdout)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv() -> Result<()> {
        let words = |c: Cloud| -> Result<Vec<String>> {
            Ok(c.args()?
                .into_iter()
                .map(|w| w.to_string_lossy().into_owned())
                .collect())
        };
        assert_eq!(
            words(Cloud::List {
                env: Some("e1".into()),
                limit: Some(5),
                cursor: None
            })?,
            ["--json", "--env=e1", "--limit=5"]
        );
        assert_eq!(
            words(Cloud::Apply {
                task_id: "task_1".into(),
                attempt: Some(2)
            })?,
            ["--attempt=2", "task_1"]
        );
        assert_eq!(
            words(Cloud::Exec {
                query: "-fix it".into(),
                env: "e".into(),
                attempts: None,
                branch: Some("main".into())
            })?,
            ["--env=e", "--branch=main", "--", "-fix it"]
        );
        assert!(
            words(Cloud::Status {
                task_id: "--json".into()
            })
            .is_err()
        );
        Ok(())
    }
}
