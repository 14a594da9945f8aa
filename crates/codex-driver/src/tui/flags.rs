//! The table of the TUI's options (`codex [OPTIONS] [PROMPT]`, `codex resume|fork [OPTIONS]`):
//! the options it shares with exec plus its own, each once with the release that introduced it.

use crate::exec::{LocalProvider, SandboxMode};
use crate::flags::{ArgValue, flag_table};
use std::ffi::OsString;
use std::path::PathBuf;

/// `-a/--ask-for-approval`: when the TUI asks before running a command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AskForApproval {
    /// `on-request`: the model decides when to ask.
    OnRequest,
    /// `never`: never ask; failures go back to the model.
    Never,
    /// Another value, passed through (older releases took `untrusted`, `on-failure`).
    Other(String),
}

impl AskForApproval {
    /// The value Codex expects.
    pub fn as_str(&self) -> &str {
        match self {
            Self::OnRequest => "on-request",
            Self::Never => "never",
            Self::Other(s) => s,
        }
    }
}

impl ArgValue for AskForApproval {
    fn arg(&self) -> OsString {
        self.as_str().into()
    }
    fn from_arg(s: &str) -> Option<Self> {
        Some(match s {
            "on-request" => Self::OnRequest,
            "never" => Self::Never,
            other => Self::Other(other.to_owned()),
        })
    }
}

flag_table! {
    for super::Tui;
    /// `-i/--image FILE` (repeatable), attached to the first prompt.
    image: many(PathBuf) = "--image";
    /// `-m/--model`.
    model: one(String) = "--model";
    /// `--oss`.
    oss: switch = "--oss";
    /// `--local-provider`.
    local_provider: choice(LocalProvider) = "--local-provider" since AFTER_0_50;
    /// `-p/--profile NAME` (0.169: layers `$CODEX_HOME/NAME.config.toml`).
    profile: one(String) = "--profile";
    /// `-s/--sandbox`.
    sandbox: choice(SandboxMode) = "--sandbox";
    /// `-a/--ask-for-approval`.
    ask_for_approval: choice(AskForApproval) = "--ask-for-approval";
    /// `--approve-for-me`.
    approve_for_me: switch = "--approve-for-me" since AFTER_0_130;
    /// `--dangerously-bypass-approvals-and-sandbox`. Only for externally sandboxed hosts.
    bypass_approvals_and_sandbox: switch = "--dangerously-bypass-approvals-and-sandbox";
    /// `--dangerously-bypass-hook-trust`.
    bypass_hook_trust: switch = "--dangerously-bypass-hook-trust" since AFTER_0_130;
    /// `-C/--cd DIR`: the agent's working root.
    cd: one(PathBuf) = "--cd";
    /// `--worktree`.
    worktree: switch = "--worktree" since AFTER_0_130;
    /// `--add-dir DIR` (repeatable).
    add_dir: many(PathBuf) = "--add-dir" since AFTER_0_50;
    /// `--search`: the live web search tool.
    search: switch = "--search";
    /// `--no-alt-screen`: draw inline, keeping the terminal's scrollback.
    no_alt_screen: switch = "--no-alt-screen" since AFTER_0_50;
    /// `--remote ADDR`: drive a running app-server (`ws://`, `wss://`, `unix://[PATH]`).
    remote: one(String) = "--remote" since AFTER_0_50;
    /// `--remote-auth-token-env VAR`: the variable holding the remote's bearer token (the
    /// token itself never goes in argv).
    remote_auth_token_env: one(String) = "--remote-auth-token-env" since AFTER_0_50;
    /// `--strict-config`.
    strict_config: switch = "--strict-config" since AFTER_0_130;
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
        assert!(f.args().is_empty() && f.gates(crate::flags::Proof::TopFlag).is_empty());
    }
}
