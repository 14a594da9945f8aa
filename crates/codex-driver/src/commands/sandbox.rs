//! `codex sandbox [OPTIONS] -- COMMAND...`: a command run inside Codex's Linux sandbox (the one
//! its own tool calls get), under a permission profile. 0.130 spells it `codex sandbox linux`
//! with `--permissions-profile`; [`run`] picks the form the binary has.
//!
//! ```no_run
//! # async fn demo() -> codex_driver::Result<()> {
//! use codex_driver::SpawnOptions;
//! use codex_driver::commands::{Runner, sandbox::{self, Sandbox}};
//!
//! let runner = Runner::new(SpawnOptions::new());
//! let out = sandbox::run(&runner, &Sandbox::new(["touch", "/etc/x"]).permission_profile(":read-only")).await?;
//! assert!(!out.success());
//! # Ok(()) }
//! ```

use super::{Output, Runner, Subcommand};
use crate::error::{Error, Result};
use std::ffi::OsString;
use std::path::PathBuf;

/// The command and the sandbox it runs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    command: Vec<OsString>,
    permission_profile: Option<String>,
    profile: Option<String>,
    cd: Option<PathBuf>,
    include_managed_config: bool,
    legacy: bool,
}

impl Sandbox {
    /// Runs `command` (program and arguments).
    pub fn new<I, S>(command: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Self {
            command: command.into_iter().map(Into::into).collect(),
            permission_profile: None,
            profile: None,
            cd: None,
            include_managed_config: false,
            legacy: false,
        }
    }

    /// `-P/--permission-profile NAME`: a named permissions profile (`:read-only`,
    /// `:workspace`, or one from the configuration).
    pub fn permission_profile(mut self, name: impl Into<String>) -> Self {
        self.permission_profile = Some(name.into());
        self
    }

    /// `-p/--profile NAME`: a configuration profile layered on the base config (0.153+).
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into());
        self
    }

    /// `-C/--cd DIR`: where the command runs and profiles resolve.
    pub fn cd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cd = Some(dir.into());
        self
    }

    /// `--include-managed-config`: apply managed requirements too.
    pub fn include_managed_config(mut self, yes: bool) -> Self {
        self.include_managed_config = yes;
        self
    }

    /// Use 0.130's `sandbox linux` form (what [`run`] sets for a binary that has it).
    pub fn legacy_linux(mut self, yes: bool) -> Self {
        self.legacy = yes;
        self
    }
}

impl Subcommand for Sandbox {
    /// The command's own exit code and output: a non-zero code is its result, not an error.
    type Output = Output;
    fn path(&self) -> &'static [&'static str] {
        if self.legacy {
            &["sandbox", "linux"]
        } else {
            &["sandbox"]
        }
    }
    fn args(&self) -> Result<Vec<OsString>> {
        if self.command.is_empty() {
            return Err(Error::InvalidOptions(
                "the sandboxed command is empty".into(),
            ));
        }
        let mut a: Vec<OsString> = Vec::new();
        if let Some(p) = &self.permission_profile {
            let flag = if self.legacy {
                "--permissions-profile"
            } else {
                "--permission-profile"
            };
            a.extend([flag.into(), p.into()]);
        }
        if let Some(p) = &self.profile {
            a.extend(["--profile".into(), p.into()]);
        }
        if let Some(d) = &self.cd {
            a.extend(["--cd".into(), d.into()]);
        }
        if self.include_managed_config {
            a.push("--include-managed-config".into());
        }
        a.push("--".into());
        a.extend(self.command.iter().cloned());
        Ok(a)
    }
    fn finish(&self, out: Output) -> Result<Output> {
        Ok(out)
    }
}

/// Runs `sandbox` in the form the binary has (0.130: `sandbox linux`).
pub async fn run(runner: &Runner, sandbox: &Sandbox) -> Result<Output> {
    let legacy = runner
        .surface()
        .await?
        .commands
        .contains_key("codex sandbox linux");
    runner.run(&sandbox.clone().legacy_linux(legacy)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_in_both_forms() -> Result<()> {
        let s = Sandbox::new(["touch", "-x"])
            .permission_profile(":read-only")
            .cd("/w");
        let words = |a: Vec<OsString>| -> Vec<String> {
            a.into_iter()
                .map(|w| w.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            words(s.args()?),
            [
                "--permission-profile",
                ":read-only",
                "--cd",
                "/w",
                "--",
                "touch",
                "-x"
            ]
        );
        let old = s.legacy_linux(true);
        assert_eq!(old.path(), ["sandbox", "linux"]);
        assert_eq!(words(old.args()?)[0], "--permissions-profile");
        assert!(Sandbox::new(Vec::<String>::new()).args().is_err());
        Ok(())
    }
}
