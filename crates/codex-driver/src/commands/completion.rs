//! `codex completion [SHELL]`: Codex's own shell completion script.

use super::{Output, Subcommand};
use crate::error::Result;
use std::ffi::OsString;

/// The shells Codex writes completions for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Shell {
    /// `bash` (Codex's default).
    #[default]
    Bash,
    /// `elvish`.
    Elvish,
    /// `fish`.
    Fish,
    /// `powershell`.
    PowerShell,
    /// `zsh`.
    Zsh,
}

impl Shell {
    /// The word Codex takes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bash => "bash",
            Self::Elvish => "elvish",
            Self::Fish => "fish",
            Self::PowerShell => "powershell",
            Self::Zsh => "zsh",
        }
    }
}

/// `codex completion SHELL`: the script, as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Completion {
    /// For which shell.
    pub shell: Shell,
}

impl Subcommand for Completion {
    type Output = String;
    fn path(&self) -> &'static [&'static str] {
        &["completion"]
    }
    fn args(&self) -> Result<Vec<OsString>> {
        Ok(vec![self.shell.as_str().into()])
    }
    fn finish(&self, out: Output) -> Result<String> {
        Ok(out.ok()?.stdout)
    }
}
