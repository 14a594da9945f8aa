//! Codex's one-shot sub-commands (`features`, `mcp get|add|remove`, `completion`, `debug models`,
//! `doctor`, `sandbox`, `apply`, `cloud`, `plugin`, `app-server daemon`, `remote-control`): each a
//! builder that implements [`Subcommand`] (its argv, built without a process, and how its output
//! becomes a typed value), run by a [`Runner`] that carries the spawn options.
//!
//! Before anything spawns, the runner refuses a binary below the supported range and a command
//! or flag that the binary's own command tree ([`Surface`]) lacks, with
//! [`Error::Unsupported`] naming the option, the oldest tested release that has it and the
//! binary's version.
//!
//! ```no_run
//! # async fn demo() -> codex_driver::Result<()> {
//! use codex_driver::SpawnOptions;
//! use codex_driver::commands::{Runner, features::FeaturesList};
//!
//! let runner = Runner::new(SpawnOptions::new().codex_home("/var/lib/mybot/codex"));
//! for f in runner.run(&FeaturesList).await? {
//!     println!("{} {:?} {}", f.name, f.stage, f.enabled);
//! }
//! # Ok(()) }
//! ```

pub mod apply;
pub mod cloud;
pub mod completion;
pub mod daemon;
pub mod debug;
pub mod doctor;
pub mod features;
pub mod mcp;
pub mod plugin;
pub mod sandbox;

use crate::binary::Binary;
use crate::error::{Error, Result};
use crate::probe::Prober;
use crate::spawn::SpawnOptions;
use crate::surface::Surface;
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

/// How long a sub-command may take unless [`Runner::timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// What a finished sub-command left: its exit code and both outputs (lossy UTF-8).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Output {
    /// The command path run (`features enable`).
    pub command: String,
    /// Its exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

impl Output {
    /// Exit code 0.
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// Codex's own words for a failure: its `Error: ...` line, else its last non-empty line of
    /// stderr (or stdout, where some commands write their complaint).
    pub fn message(&self) -> String {
        let pick = |text: &str| {
            let lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
            let mut lines = lines.filter(|l| {
                // tracing lines and the backtrace Codex prints with RUST_BACKTRACE set
                !l.contains(" ERROR ") && !l.contains(" WARN ") && !l.starts_with("Stack backtrace")
            });
            let all: Vec<&str> = lines.by_ref().collect();
            all.iter()
                .find(|l| l.starts_with("Error"))
                .or_else(|| {
                    all.iter()
                        .rev()
                        .find(|l| !l.starts_with(|c: char| c.is_ascii_digit()))
                })
                .map(|l| l.trim_start_matches("Error: ").to_owned())
        };
        pick(&self.stderr)
            .or_else(|| pick(&self.stdout))
            .unwrap_or_else(|| "no message".into())
    }

    /// [`Error::Command`] for this output.
    pub fn error(&self) -> Error {
        Error::Command {
            command: self.command.clone(),
            code: self.code,
            message: self.message(),
        }
    }

    /// `Ok(self)` on success, else [`error`](Self::error).
    pub fn ok(self) -> Result<Self> {
        if self.success() {
            Ok(self)
        } else {
            Err(self.error())
        }
    }

    /// stdout parsed as JSON into `T`; what doesn't fit is [`Error::Protocol`] naming the command.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_str(self.stdout.trim()).map_err(|e| Error::Protocol {
            method: format!("codex {}", self.command),
            detail: format!("its output is not what was expected: {e}"),
        })
    }
}

/// One Codex sub-command: its path, its argv (no process needed) and its typed result.
pub trait Subcommand {
    /// What a successful run gives.
    type Output;

    /// The command path (`["features", "enable"]`).
    fn path(&self) -> &'static [&'static str];

    /// The words after the path: flags first, then positionals (after a `--` where a value
    /// could start with `-`).
    fn args(&self) -> Result<Vec<OsString>>;

    /// Bytes written to its stdin, which is closed after them (none: stdin is `/dev/null`).
    fn stdin(&self) -> Option<Vec<u8>> {
        None
    }

    /// Turns what the process left into the result; the default error on a non-zero exit is
    /// [`Output::error`].
    fn finish(&self, out: Output) -> Result<Self::Output>;
}

/// The long flags in `args` (up to a bare `--`), without `=value`.
fn long_flags(args: &[OsString]) -> Vec<String> {
    args.iter()
        .map(|a| a.to_string_lossy())
        .take_while(|a| a != "--")
        .filter(|a| a.starts_with("--") && a.len() > 2)
        .map(|a| a.split('=').next().unwrap_or_default().to_owned())
        .collect()
}

/// Runs [`Subcommand`]s with one set of spawn options. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct Runner {
    spawn: SpawnOptions,
    timeout: Duration,
    check_surface: bool,
}

impl Runner {
    /// Sub-commands run with these options (binary, `CODEX_HOME`, env, `-c`, working directory).
    pub fn new(spawn: SpawnOptions) -> Self {
        Self {
            spawn,
            timeout: DEFAULT_TIMEOUT,
            check_surface: true,
        }
    }

    /// How long one run may take before its process group is killed (default
    /// [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// Whether to check the command and its flags against the binary's command tree before
    /// spawning (default on; off saves one `codex completion bash` per binary and process).
    pub fn check_surface(mut self, yes: bool) -> Self {
        self.check_surface = yes;
        self
    }

    /// The spawn options.
    pub fn spawn_options(&self) -> &SpawnOptions {
        &self.spawn
    }

    /// The whole argv after the binary: the path, the common options (`-c`, `--enable`,
    /// `--disable`, which every sub-command takes after its name), then the command's own.
    pub fn argv<C: Subcommand + ?Sized>(&self, cmd: &C) -> Result<Vec<OsString>> {
        let mut a: Vec<OsString> = cmd.path().iter().map(OsString::from).collect();
        a.extend(self.spawn.common_args());
        a.extend(self.spawn.other_options.iter().cloned());
        a.extend(cmd.args()?);
        Ok(a)
    }

    /// Runs `cmd` and returns its typed result.
    pub async fn run<C: Subcommand + ?Sized>(&self, cmd: &C) -> Result<C::Output> {
        let out = self.output(cmd).await?;
        cmd.finish(out)
    }

    /// Runs `cmd` and returns what it left, whatever its exit code.
    pub async fn output<C: Subcommand + ?Sized>(&self, cmd: &C) -> Result<Output> {
        let argv = self.argv(cmd)?;
        let binary = self.spawn.binary_or_install().await?;
        self.spawn.check()?;
        let caps = Prober::new().probe(&binary).await?;
        crate::spawn::admit_version(&caps.version, binary.path(), self.spawn.allow_unsupported)?;
        if self.check_surface {
            let surface = surface_of(&binary).await?;
            let mut own = self.spawn.other_options.clone();
            own.extend(cmd.args()?);
            check_against(&surface, cmd.path(), &own, &caps.version, &binary)?;
        }
        let command = cmd.path().join(" ");
        let mut c = self.spawn.command(&binary, &argv);
        c.env_remove("RUST_BACKTRACE");
        let out = crate::process::run_command_with_input(c, self.timeout, cmd.stdin())
            .await
            .map_err(|source| Error::Spawn {
                path: binary.path().to_path_buf(),
                source,
            })?
            .ok_or_else(|| Error::Command {
                command: command.clone(),
                code: None,
                message: format!(
                    "no answer within {:?}; the process group was killed",
                    self.timeout
                ),
            })?;
        Ok(Output {
            command,
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// The command tree of the binary these options resolve to (probed once per binary and
    /// process).
    pub async fn surface(&self) -> Result<Arc<Surface>> {
        surface_of(&self.spawn.binary_or_install().await?).await
    }
}

/// Refuses a command path or long flag that `surface` lacks.
pub(crate) fn check_against(
    surface: &Surface,
    path: &[&str],
    args: &[OsString],
    version: &semver::Version,
    binary: &Binary,
) -> Result<()> {
    let full = std::iter::once("codex")
        .chain(path.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let unsupported = |option: String, flag: Option<&str>| Error::Unsupported {
        required: match crate::surface::first_tested_with(&full, flag) {
            Some(v) => format!("Codex {v} or newer (the oldest tested release that has it)"),
            None => "a Codex whose command tree has it".into(),
        },
        option,
        found: version.clone(),
        binary: binary.path().to_path_buf(),
    };
    let Some(c) = surface.commands.get(&full) else {
        return Err(unsupported(full.clone(), None));
    };
    for f in long_flags(args) {
        if !c.flags.contains(&f) {
            return Err(unsupported(format!("{full} {f}"), Some(&f)));
        }
    }
    Ok(())
}

type SurfaceKey = (PathBuf, Option<SystemTime>);

async fn surface_of(binary: &Binary) -> Result<Arc<Surface>> {
    static CACHE: OnceLock<Mutex<HashMap<SurfaceKey, Arc<Surface>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let key = (
        binary.path().to_path_buf(),
        std::fs::metadata(binary.path())
            .and_then(|m| m.modified())
            .ok(),
    );
    if let Some(s) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(s);
    }
    let s = Arc::new(Surface::probe(binary).await?);
    if let Ok(mut c) = cache.lock() {
        c.insert(key, s.clone());
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_flags_stop_at_the_separator_and_drop_values() {
        let a: Vec<OsString> = ["--json", "-m", "x", "--ref=main", "--", "--not-a-flag"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(long_flags(&a), vec!["--json", "--ref"]);
    }

    #[test]
    fn a_command_or_flag_the_surface_lacks_is_refused_naming_both_versions() {
        let old = Surface::from_text(crate::surface::TESTED_SURFACES[4].1)
            .unwrap_or_else(|e| panic!("{e}"));
        let v = semver::Version::new(0, 130, 0);
        let b = Binary::at("/opt/codex");
        let err = check_against(&old, &["plugin", "list"], &[], &v, &b).err();
        assert!(
            matches!(&err, Some(Error::Unsupported { option, required, .. })
                if option == "codex plugin list" && required.starts_with("Codex 0.")),
            "{err:?}"
        );
        let new = Surface::from_text(crate::surface::TESTED_SURFACES[0].1)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(check_against(&new, &["plugin", "list"], &["--json".into()], &v, &b).is_ok());
        let err = check_against(&new, &["mcp", "list"], &["--jsonl".into()], &v, &b).err();
        assert!(
            matches!(&err, Some(Error::Unsupported { option, required, .. })
                if option == "codex mcp list --jsonl" && required == "a Codex whose command tree has it"),
            "{err:?}"
        );
        let msg = Output {
            command: "features enable".into(),
            code: Some(1),
            stdout: String::new(),
            stderr: "Error: Unknown feature flag: nosuch\n\nStack backtrace:\n   0: <unknown>\n"
                .into(),
        }
        .message();
        assert_eq!(msg, "Unknown feature flag: nosuch");
    }
}
