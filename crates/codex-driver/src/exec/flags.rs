//! The table of `codex exec` options: each flag once, with its value kind and the release that
//! introduced it. The table generates the builder's setters, the argv and the version gates, so
//! adding a Codex flag is one entry in [`flag_table!`] below.

use crate::error::{Error, Result};
use crate::flags::{ArgValue, flag_table};
use std::ffi::OsString;
use std::path::PathBuf;

/// `-s/--sandbox`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SandboxMode {
    /// `read-only`.
    ReadOnly,
    /// `workspace-write`.
    WorkspaceWrite,
    /// `danger-full-access`.
    DangerFullAccess,
}

impl SandboxMode {
    /// The value Codex expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "read-only",
            Self::WorkspaceWrite => "workspace-write",
            Self::DangerFullAccess => "danger-full-access",
        }
    }
}

impl std::str::FromStr for SandboxMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "read-only" => Ok(Self::ReadOnly),
            "workspace-write" => Ok(Self::WorkspaceWrite),
            "danger-full-access" => Ok(Self::DangerFullAccess),
            other => Err(Error::InvalidOptions(format!(
                "unknown sandbox mode `{other}` (read-only, workspace-write, danger-full-access)"
            ))),
        }
    }
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Color {
    /// `always`.
    Always,
    /// `never`.
    Never,
    /// `auto`.
    Auto,
}

impl Color {
    /// The value Codex expects.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::Never => "never",
            Self::Auto => "auto",
        }
    }
}

/// `--local-provider`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LocalProvider {
    /// `lmstudio`.
    LmStudio,
    /// `ollama`.
    Ollama,
    /// Another provider id, passed through.
    Other(String),
}

impl LocalProvider {
    /// The value Codex expects.
    pub fn as_str(&self) -> &str {
        match self {
            Self::LmStudio => "lmstudio",
            Self::Ollama => "ollama",
            Self::Other(s) => s,
        }
    }
}

/// `--cyber-access-program`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CyberAccessProgram {
    /// `standard`.
    Standard,
    /// `daybreak_blue`.
    DaybreakBlue,
    /// `daybreak_red`.
    DaybreakRed,
    /// Another program name, passed through.
    Other(String),
}

impl CyberAccessProgram {
    /// The value Codex expects.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Standard => "standard",
            Self::DaybreakBlue => "daybreak_blue",
            Self::DaybreakRed => "daybreak_red",
            Self::Other(s) => s,
        }
    }
}

impl ArgValue for SandboxMode {
    const CHOICES: &'static [&'static str] =
        &["read-only", "workspace-write", "danger-full-access"];
    fn arg(&self) -> OsString {
        self.as_str().into()
    }
    fn from_arg(s: &str) -> Option<Self> {
        s.parse().ok()
    }
}

impl ArgValue for Color {
    const CHOICES: &'static [&'static str] = &["always", "never", "auto"];
    fn arg(&self) -> OsString {
        self.as_str().into()
    }
    fn from_arg(s: &str) -> Option<Self> {
        [Self::Always, Self::Never, Self::Auto]
            .into_iter()
            .find(|c| c.as_str() == s)
    }
}

impl ArgValue for LocalProvider {
    fn arg(&self) -> OsString {
        self.as_str().into()
    }
    fn from_arg(s: &str) -> Option<Self> {
        Some(match s {
            "lmstudio" => Self::LmStudio,
            "ollama" => Self::Ollama,
            other => Self::Other(other.to_owned()),
        })
    }
}

impl ArgValue for CyberAccessProgram {
    fn arg(&self) -> OsString {
        self.as_str().into()
    }
    fn from_arg(s: &str) -> Option<Self> {
        Some(match s {
            "standard" => Self::Standard,
            "daybreak_blue" => Self::DaybreakBlue,
            "daybreak_red" => Self::DaybreakRed,
            other => Self::Other(other.to_owned()),
        })
    }
}

flag_table! {
    for super::Exec;
    /// `-i/--image FILE` (repeatable).
    image: many(PathBuf) = "--image";
    /// `-m/--model`.
    model: one(String) = "--model";
    /// `--local-provider` (implies nothing; combine with [`oss`](Self::oss)).
    local_provider: choice(LocalProvider) = "--local-provider" since AFTER_0_50;
    /// `-p/--profile NAME` (0.169: layers `$CODEX_HOME/NAME.config.toml`; the name must stay
    /// inside the home).
    profile: one(String) = "--profile";
    /// `-s/--sandbox`.
    sandbox: choice(SandboxMode) = "--sandbox";
    /// `-C/--cd DIR`: the agent's working root.
    cd: one(PathBuf) = "--cd";
    /// `--add-dir DIR` (repeatable).
    add_dir: many(PathBuf) = "--add-dir" since AFTER_0_50;
    /// `--thread-source SOURCE`.
    thread_source: one(String) = "--thread-source" since AFTER_0_130;
    /// `--cyber-access-program`.
    cyber_access_program: choice(CyberAccessProgram) = "--cyber-access-program" since AFTER_0_130;
    /// `--output-schema FILE` (see also [`run_typed`](Self::run_typed)).
    output_schema: one(PathBuf) = "--output-schema";
    /// `--color` (stdout is JSONL, so this only affects stderr).
    color: choice(Color) = "--color";
    /// `-o/--output-last-message FILE`.
    output_last_message: one(PathBuf) = "--output-last-message";
    /// `--strict-config`.
    strict_config: switch = "--strict-config" since AFTER_0_130;
    /// `--oss`.
    oss: switch = "--oss";
    /// `--approve-for-me`.
    approve_for_me: switch = "--approve-for-me" since AFTER_0_130;
    /// `--dangerously-bypass-approvals-and-sandbox`. Only for externally sandboxed hosts.
    bypass_approvals_and_sandbox: switch = "--dangerously-bypass-approvals-and-sandbox";
    /// `--dangerously-bypass-hook-trust`.
    bypass_hook_trust: switch = "--dangerously-bypass-hook-trust" since AFTER_0_130;
    /// `--worktree`.
    worktree: switch = "--worktree" since AFTER_0_130;
    /// `--skip-git-repo-check`.
    skip_git_repo_check: switch = "--skip-git-repo-check";
    /// `--trust`.
    trust: switch = "--trust" since AFTER_0_130;
    /// `--ephemeral`: no session files written.
    ephemeral: switch = "--ephemeral" since AFTER_0_50;
    /// `--ignore-user-config`.
    ignore_user_config: switch = "--ignore-user-config" since AFTER_0_50;
    /// `--ignore-rules`.
    ignore_rules: switch = "--ignore-rules" since AFTER_0_50;
    /// `--remote ADDR` (0.171+): run the turn on a running app-server (`ws://`, `wss://`,
    /// `unix://[PATH]`) instead of in this process.
    remote: one(String) = "--remote" since AFTER_0_169;
    /// `--remote-auth-token-env VAR` (0.171+): the variable holding the remote's bearer token
    /// (the token itself never goes in argv).
    remote_auth_token_env: one(String) = "--remote-auth-token-env" since AFTER_0_169;
}

impl Flags {
    /// Refuses values Codex would misuse before any argv is built.
    pub(crate) fn validate(&self) -> crate::error::Result<()> {
        crate::flags::check_profile(self.profile.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_and_the_struct_agree() {
        let f = Flags::default();
        crate::flags::assert_table(TABLE, f.each().len());
        assert!(f.args().is_empty() && f.gates(crate::flags::Proof::ExecFlag).is_empty());
    }
}
