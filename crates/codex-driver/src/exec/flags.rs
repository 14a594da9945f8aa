//! The table of `codex exec` options: each flag once, with its value kind and the release that
//! introduced it. The table generates the builder's setters, the argv and the version gates, so
//! adding a Codex flag is one entry in [`flag_table!`] below.

use crate::error::{Error, Result};
use semver::Version;
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

/// What a flag needs of the binary: it is absent from `absent_in` (and every older release)
/// and was verified present in `verified_in`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Requirement {
    absent_in: (u64, u64, u64),
    verified_in: (u64, u64, u64),
}

impl Requirement {
    pub(super) const AFTER_0_50: Self = Self {
        absent_in: (0, 50, 0),
        verified_in: (0, 130, 0),
    };
    pub(super) const AFTER_0_130: Self = Self {
        absent_in: (0, 130, 0),
        verified_in: (0, 169, 0),
    };

    pub(super) fn allows(&self, v: &Version) -> bool {
        let (a, b, c) = self.absent_in;
        // A pre-release of a later version counts as that version.
        (v.major, v.minor, v.patch) > (a, b, c)
    }

    pub(super) fn describe(&self) -> String {
        let (a, b, c) = self.absent_in;
        let (x, y, z) = self.verified_in;
        format!("newer than {a}.{b}.{c} (present in {x}.{y}.{z})")
    }
}

/// How an option's presence in a binary is proven.
#[derive(Debug, Clone, Copy)]
pub(super) enum Proof {
    /// `exec --help` lists this long flag.
    ExecFlag(&'static str),
    /// `exec --help` lists this sub-command.
    ExecCommand(&'static str),
    /// Only the version rule applies (e.g. flags of `exec resume`, not probed).
    Version,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Gate {
    pub(super) option: &'static str,
    pub(super) proof: Proof,
    pub(super) req: Requirement,
}

/// An option's value as one argv word.
pub(super) trait ArgValue {
    fn arg(&self) -> OsString;
}

impl ArgValue for String {
    fn arg(&self) -> OsString {
        self.into()
    }
}

impl ArgValue for PathBuf {
    fn arg(&self) -> OsString {
        self.into()
    }
}

impl ArgValue for SandboxMode {
    fn arg(&self) -> OsString {
        self.as_str().into()
    }
}

impl ArgValue for Color {
    fn arg(&self) -> OsString {
        self.as_str().into()
    }
}

impl ArgValue for LocalProvider {
    fn arg(&self) -> OsString {
        self.as_str().into()
    }
}

impl ArgValue for CyberAccessProgram {
    fn arg(&self) -> OsString {
        self.as_str().into()
    }
}

/// How a set option becomes argv: a switch is the bare flag, a value is `--flag VALUE`, a
/// repeatable value is `--flag VALUE` per value.
pub(super) trait Slot {
    fn is_set(&self) -> bool;
    fn push_args(&self, flag: &str, out: &mut Vec<OsString>);
}

impl Slot for bool {
    fn is_set(&self) -> bool {
        *self
    }
    fn push_args(&self, flag: &str, out: &mut Vec<OsString>) {
        if *self {
            out.push(flag.into());
        }
    }
}

impl<T: ArgValue> Slot for Option<T> {
    fn is_set(&self) -> bool {
        self.is_some()
    }
    fn push_args(&self, flag: &str, out: &mut Vec<OsString>) {
        if let Some(v) = self {
            out.push(flag.into());
            out.push(v.arg());
        }
    }
}

impl<T: ArgValue> Slot for Vec<T> {
    fn is_set(&self) -> bool {
        !self.is_empty()
    }
    fn push_args(&self, flag: &str, out: &mut Vec<OsString>) {
        for v in self {
            out.push(flag.into());
            out.push(v.arg());
        }
    }
}

/// One entry of the table, as seen from outside the macro.
#[derive(Debug, Clone, Copy)]
pub(super) struct FlagSpec {
    /// The long flag Codex receives.
    pub(super) flag: &'static str,
    /// `None`: every supported release has it. Otherwise the release rule; the binary's own
    /// `exec --help` listing the flag proves it when capabilities are probed.
    pub(super) since: Option<Requirement>,
}

macro_rules! slot_type {
    (switch) => { bool };
    (one($t:ty)) => { Option<$t> };
    (choice($t:ty)) => { Option<$t> };
    (many($t:ty)) => { Vec<$t> };
}

macro_rules! setter {
    ($(#[$doc:meta])* $field:ident switch) => {
        $(#[$doc])*
        pub fn $field(mut self, yes: bool) -> Self {
            self.flags.$field = yes;
            self
        }
    };
    ($(#[$doc:meta])* $field:ident one($t:ty)) => {
        $(#[$doc])*
        pub fn $field(mut self, value: impl Into<$t>) -> Self {
            self.flags.$field = Some(value.into());
            self
        }
    };
    ($(#[$doc:meta])* $field:ident choice($t:ty)) => {
        $(#[$doc])*
        pub fn $field(mut self, value: $t) -> Self {
            self.flags.$field = Some(value);
            self
        }
    };
    ($(#[$doc:meta])* $field:ident many($t:ty)) => {
        $(#[$doc])*
        pub fn $field(mut self, value: impl Into<$t>) -> Self {
            self.flags.$field.push(value.into());
            self
        }
    };
}

macro_rules! since {
    () => {
        None
    };
    ($req:ident) => {
        Some(Requirement::$req)
    };
}

/// Declares every exec option: `setter: kind = "--flag" [since RULE];`, in argv order. The
/// kind is `switch` (bool), `one(T)` (`--flag VALUE`, the setter takes `impl Into<T>`),
/// `choice(T)` (the same for an enum: the setter takes `T`) or `many(T)` (repeatable); `T` implements
/// [`ArgValue`]; `RULE` is a [`Requirement`] constant.
macro_rules! flag_table {
    ($( $(#[$doc:meta])* $field:ident: $kind:ident $(($t:ty))? = $flag:literal $(since $req:ident)?; )*) => {
        /// Every table option's value, as set on the builder.
        #[derive(Debug, Clone, Default)]
        pub(super) struct Flags {
            $( pub(super) $field: slot_type!($kind $(($t))?), )*
        }

        /// The table, in argv order.
        pub(super) const TABLE: &[FlagSpec] = &[
            $( FlagSpec { flag: $flag, since: since!($($req)?) }, )*
        ];

        impl Flags {
            /// Each option with its table entry, in table order.
            pub(super) fn each(&self) -> Vec<(FlagSpec, &dyn Slot)> {
                let mut out: Vec<(FlagSpec, &dyn Slot)> = Vec::with_capacity(TABLE.len());
                let mut specs = TABLE.iter();
                $( if let Some(spec) = specs.next() { out.push((*spec, &self.$field)); } )*
                out
            }
        }

        /// The table's setters.
        impl super::Exec {
            $( setter!($(#[$doc])* $field $kind $(($t))?); )*
        }
    };
}

flag_table! {
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
}

impl Flags {
    /// Refuses values Codex would misuse before any argv is built.
    pub(super) fn validate(&self) -> Result<()> {
        if let Some(p) = &self.profile {
            // Codex reads `<home>/<name>.config.toml`: the name must stay inside the home.
            crate::dirs::check_name("profile", p)?;
        }
        Ok(())
    }

    /// `--flag [VALUE]` for every option set, in table order.
    pub(super) fn args(&self) -> Vec<OsString> {
        let mut out = Vec::new();
        for (spec, slot) in self.each() {
            slot.push_args(spec.flag, &mut out);
        }
        out
    }

    /// Gates for the options set that not every supported Codex has.
    pub(super) fn gates(&self) -> Vec<Gate> {
        self.each()
            .into_iter()
            .filter(|(_, slot)| slot.is_set())
            .filter_map(|(spec, _)| {
                spec.since.map(|req| Gate {
                    option: spec.flag,
                    proof: Proof::ExecFlag(spec.flag),
                    req,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_and_the_struct_agree() {
        let f = Flags::default();
        assert_eq!(f.each().len(), TABLE.len());
        let mut flags: Vec<&str> = TABLE.iter().map(|s| s.flag).collect();
        flags.sort_unstable();
        flags.dedup();
        assert_eq!(flags.len(), TABLE.len(), "a flag is listed twice");
        assert!(f.args().is_empty() && f.gates().is_empty());
    }
}
