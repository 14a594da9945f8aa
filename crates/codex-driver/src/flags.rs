//! The machinery behind the option tables of `codex exec` and of the TUI: each Codex flag is
//! declared once ([`flag_table!`]) with its value kind and the release that introduced it, and
//! the table generates the builder's setters, the argv and the version gates.

use semver::Version;
use std::ffi::OsString;
use std::path::PathBuf;

/// What a flag needs of the binary: it is absent from `absent_in` (and every older release)
/// and was verified present in `verified_in`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Requirement {
    absent_in: (u64, u64, u64),
    verified_in: (u64, u64, u64),
}

impl Requirement {
    pub(crate) const AFTER_0_50: Self = Self {
        absent_in: (0, 50, 0),
        verified_in: (0, 130, 0),
    };
    pub(crate) const AFTER_0_130: Self = Self {
        absent_in: (0, 130, 0),
        verified_in: (0, 169, 0),
    };
    pub(crate) const AFTER_0_169: Self = Self {
        absent_in: (0, 169, 0),
        verified_in: (0, 171, 0),
    };

    pub(crate) fn allows(&self, v: &Version) -> bool {
        let (a, b, c) = self.absent_in;
        // A pre-release of a later version counts as that version.
        (v.major, v.minor, v.patch) > (a, b, c)
    }

    pub(crate) fn describe(&self) -> String {
        let (a, b, c) = self.absent_in;
        let (x, y, z) = self.verified_in;
        format!("newer than {a}.{b}.{c} (present in {x}.{y}.{z})")
    }
}

/// How an option's presence in a binary is proven.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Proof {
    /// `exec --help` lists this long flag.
    ExecFlag(&'static str),
    /// `exec --help` lists this sub-command.
    ExecCommand(&'static str),
    /// The top-level `codex --help` (the TUI's options) lists this long flag.
    TopFlag(&'static str),
    /// Only the version rule applies (e.g. flags of `exec resume`, not probed).
    Version,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Gate {
    pub(crate) option: &'static str,
    pub(crate) proof: Proof,
    pub(crate) req: Requirement,
}

/// An option's value as one argv word, and back (for options set by name, e.g. from a CLI).
pub(crate) trait ArgValue: Sized {
    /// The values Codex documents, for a closed choice (empty: free text).
    const CHOICES: &'static [&'static str] = &[];
    fn arg(&self) -> OsString;
    /// `None` when `s` is not a value of this option.
    fn from_arg(s: &str) -> Option<Self>;
}

impl ArgValue for String {
    fn arg(&self) -> OsString {
        self.into()
    }
    fn from_arg(s: &str) -> Option<Self> {
        Some(s.to_owned())
    }
}

impl ArgValue for PathBuf {
    fn arg(&self) -> OsString {
        self.into()
    }
    fn from_arg(s: &str) -> Option<Self> {
        Some(s.into())
    }
}

/// How a set option becomes argv: a switch is the bare flag, a value is `--flag VALUE`, a
/// repeatable value is `--flag VALUE` per value.
pub(crate) trait Slot {
    fn is_set(&self) -> bool;
    fn push_args(&self, flag: &str, out: &mut Vec<OsString>);
    /// What the option takes, for a front end listing the options.
    fn value(&self) -> FlagValue;
    /// Sets it from a front end's word (`None` for a switch); `false` for a value it rejects.
    fn set_arg(&mut self, value: Option<&str>) -> bool;
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
    fn value(&self) -> FlagValue {
        FlagValue::Switch
    }
    fn set_arg(&mut self, value: Option<&str>) -> bool {
        *self = true;
        value.is_none()
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
    fn value(&self) -> FlagValue {
        FlagValue::One(T::CHOICES)
    }
    fn set_arg(&mut self, value: Option<&str>) -> bool {
        *self = value.and_then(T::from_arg);
        self.is_some()
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
    fn value(&self) -> FlagValue {
        FlagValue::Many(T::CHOICES)
    }
    fn set_arg(&mut self, value: Option<&str>) -> bool {
        match value.and_then(T::from_arg) {
            Some(v) => {
                self.push(v);
                true
            }
            None => false,
        }
    }
}

/// What an option of a builder's table takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FlagValue {
    /// Nothing: a switch.
    Switch,
    /// One value; the closed set of values Codex documents, if any.
    One(&'static [&'static str]),
    /// A value per use (repeatable); the closed set of values, if any.
    Many(&'static [&'static str]),
}

/// One option of a builder's table, for front ends that expose them all (the CLI's `run`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FlagInfo {
    /// The long flag Codex receives (`--skip-git-repo-check`).
    pub flag: &'static str,
    /// What it takes.
    pub value: FlagValue,
}

/// One entry of the table, as seen from outside the macro.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlagSpec {
    /// The long flag Codex receives.
    pub(crate) flag: &'static str,
    /// `None`: every supported release has it. Otherwise the release rule; the binary's own
    /// `exec --help` listing the flag proves it when capabilities are probed.
    pub(crate) since: Option<Requirement>,
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
        Some($crate::flags::Requirement::$req)
    };
}

/// Declares every exec option: `setter: kind = "--flag" [since RULE];`, in argv order. The
/// kind is `switch` (bool), `one(T)` (`--flag VALUE`, the setter takes `impl Into<T>`),
/// `choice(T)` (the same for an enum: the setter takes `T`) or `many(T)` (repeatable); `T` implements
/// [`ArgValue`]; `RULE` is a [`Requirement`] constant.
macro_rules! flag_table {
    (for $target:ty; $( $(#[$doc:meta])* $field:ident: $kind:ident $(($t:ty))? = $flag:literal $(since $req:ident)?; )*) => {
        /// Every table option's value, as set on the builder.
        #[derive(Debug, Clone, Default)]
        pub(crate) struct Flags {
            $( pub(crate) $field: $crate::flags::slot_type!($kind $(($t))?), )*
        }

        /// The table, in argv order.
        pub(crate) const TABLE: &[$crate::flags::FlagSpec] = &[
            $( $crate::flags::FlagSpec { flag: $flag, since: $crate::flags::since!($($req)?) }, )*
        ];

        impl Flags {
            /// Each option with its table entry, in table order.
            pub(crate) fn each(&self) -> Vec<($crate::flags::FlagSpec, &dyn $crate::flags::Slot)> {
                let mut out: Vec<($crate::flags::FlagSpec, &dyn $crate::flags::Slot)> =
                    Vec::with_capacity(TABLE.len());
                let mut specs = TABLE.iter();
                $( if let Some(spec) = specs.next() { out.push((*spec, &self.$field)); } )*
                out
            }
        }

        impl Flags {
            /// Every option of the table and what it takes, in table order.
            pub(crate) fn infos(&self) -> Vec<$crate::flags::FlagInfo> {
                self.each()
                    .into_iter()
                    .map(|(spec, slot)| $crate::flags::FlagInfo { flag: spec.flag, value: slot.value() })
                    .collect()
            }

            /// Sets option `flag` from a word (`None` for a switch): `Ok(false)` when the
            /// table has no such flag, `Err` naming the flag when the value doesn't fit.
            pub(crate) fn set_arg(&mut self, flag: &str, value: Option<&str>) -> $crate::error::Result<bool> {
                $(
                    if flag == $flag {
                        let slot: &mut dyn $crate::flags::Slot = &mut self.$field;
                        if slot.set_arg(value) {
                            return Ok(true);
                        }
                        return Err($crate::error::Error::InvalidOptions(format!(
                            "`{flag}` does not take {}",
                            value.map(|v| format!("`{v}`")).unwrap_or_else(|| "no value".into())
                        )));
                    }
                )*
                Ok(false)
            }

            /// `--flag [VALUE]` for every option set, in table order.
            pub(crate) fn args(&self) -> Vec<std::ffi::OsString> {
                let mut out = Vec::new();
                for (spec, slot) in self.each() {
                    slot.push_args(spec.flag, &mut out);
                }
                out
            }

            /// Gates for the options set that not every supported Codex has; `proof` says
            /// which help text lists a flag.
            pub(crate) fn gates(
                &self,
                proof: fn(&'static str) -> $crate::flags::Proof,
            ) -> Vec<$crate::flags::Gate> {
                self.each()
                    .into_iter()
                    .filter(|(_, slot)| slot.is_set())
                    .filter_map(|(spec, _)| {
                        spec.since.map(|req| $crate::flags::Gate {
                            option: spec.flag,
                            proof: proof(spec.flag),
                            req,
                        })
                    })
                    .collect()
            }
        }

        /// The table's setters.
        impl $target {
            $( $crate::flags::setter!($(#[$doc])* $field $kind $(($t))?); )*
        }
    };
}

pub(crate) use {flag_table, setter, since, slot_type};

/// `-p/--profile NAME`: Codex reads `<home>/<name>.config.toml`, so the name must stay inside
/// the home.
pub(crate) fn check_profile(profile: Option<&String>) -> crate::error::Result<()> {
    match profile {
        Some(p) => crate::dirs::check_name("profile", p),
        None => Ok(()),
    }
}

/// Test helper: a table lists each flag once, and the struct has a slot per entry.
#[cfg(test)]
pub(crate) fn assert_table(table: &[FlagSpec], slots: usize) {
    assert_eq!(slots, table.len());
    let mut flags: Vec<&str> = table.iter().map(|s| s.flag).collect();
    flags.sort_unstable();
    flags.dedup();
    assert_eq!(flags.len(), table.len(), "a flag is listed twice");
}

impl Gate {
    /// Whether probed capabilities prove the option present (flags and sub-commands must be
    /// listed by the binary's help; the rest falls back to the version rule). An empty listing
    /// (a cache from an older library) falls back to the version rule too.
    pub(crate) fn proven_by(&self, caps: &crate::probe::Capabilities) -> bool {
        match self.proof {
            Proof::ExecFlag(f) => caps.exec_flags.contains(f),
            Proof::ExecCommand(c) => caps.exec_commands.contains(c),
            Proof::TopFlag(_) if caps.top_flags.is_empty() => self.req.allows(&caps.version),
            Proof::TopFlag(f) => caps.top_flags.contains(f),
            Proof::Version => self.req.allows(&caps.version),
        }
    }
}
