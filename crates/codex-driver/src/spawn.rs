//! What every spawned Codex shares, whichever sub-command: the binary, `CODEX_HOME` and the rest
//! of the environment, the working directory, `-c` overrides, `--enable`/`--disable` features
//! and options this library does not know yet.
//!
//! [`Exec`](crate::Exec) and [`AppServer`](crate::app_server::AppServer) both embed a
//! [`SpawnOptions`] and expose the same setters for it, so one configured value can start either
//! transport:
//!
//! ```
//! use codex_driver::{Exec, SpawnOptions, app_server::AppServer};
//!
//! let base = SpawnOptions::new()
//!     .codex_home("/var/lib/mybot/codex-home")
//!     .config("model", "gpt-5")
//!     .enable("web_search");
//! let exec = Exec::new("Summarise the README").spawn_options(base.clone());
//! let server = AppServer::new().spawn_options(base);
//! assert_eq!(exec.args()?[2..6], ["-c", "model=\"gpt-5\"", "--enable", "web_search"]);
//! assert_eq!(server.args()[1..5], ["-c", "model=\"gpt-5\"", "--enable", "web_search"]);
//! # Ok::<(), codex_driver::Error>(())
//! ```

use crate::binary::Binary;
use crate::config::ConfigOverrides;
use crate::env::SpawnEnv;
use crate::error::{Error, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// The features [`SpawnOptions::for_throughput`] turns off.
const THROUGHPUT_OFF: &[&str] = &["features.shell_snapshot", "features.skill_search"];

/// Options shared by every Codex sub-command this library spawns. See the [module docs](self).
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct SpawnOptions {
    pub(crate) binary: Option<Binary>,
    pub(crate) env: SpawnEnv,
    pub(crate) current_dir: Option<PathBuf>,
    pub(crate) config: ConfigOverrides,
    pub(crate) enable: Vec<String>,
    pub(crate) disable: Vec<String>,
    pub(crate) other_options: Vec<OsString>,
    pub(crate) allow_unsupported: bool,
    pub(crate) no_auto_install: bool,
}

impl SpawnOptions {
    /// Nothing set: the binary from [`Binary::resolve`], the parent's environment, no overrides.
    pub fn new() -> Self {
        Self::default()
    }

    /// The Codex binary to run. By default: `$CODEX_BINARY`, then the library's managed
    /// installs (`~/.codex-driver/codex-versions`), then — once, on first use — the release
    /// this build is pinned to ([`PINNED_CODEX`](crate::binary::PINNED_CODEX)) installed
    /// there from the npm registry of the user's npm configuration (integrity-checked), then
    /// `codex` on `PATH`. See [`auto_install`](Self::auto_install) to opt out.
    pub fn binary(mut self, binary: Binary) -> Self {
        self.binary = Some(binary);
        self
    }

    /// Whether the default binary resolution may install the pinned release on first use
    /// (default on; also turned off by `CODEX_DRIVER_AUTO_INSTALL=0`). Off: `$CODEX_BINARY`,
    /// managed installs, then PATH.
    pub fn auto_install(mut self, yes: bool) -> Self {
        self.no_auto_install = !yes;
        self
    }

    /// Shorthand for `binary(Binary::at(path))`.
    pub fn binary_path(self, path: impl Into<PathBuf>) -> Self {
        self.binary(Binary::at(path))
    }

    /// `CODEX_HOME` for this process only (the parent's environment is never changed).
    pub fn codex_home(mut self, dir: impl AsRef<Path>) -> Self {
        self.env.codex_home(dir.as_ref());
        self
    }

    /// Sets an environment variable for this process only.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.set(key, value);
        self
    }

    /// Removes an inherited environment variable for this process only.
    pub fn env_remove(mut self, key: impl Into<OsString>) -> Self {
        self.env.remove(key);
        self
    }

    /// A clean environment holding only the parent's variables named in `allow` (see
    /// [`env::DEFAULT_ALLOW`](crate::env::DEFAULT_ALLOW)), plus what is set here.
    pub fn env_clear<I, S>(mut self, allow: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.env.clear(allow);
        self
    }

    /// `RUST_LOG` for Codex (`None` removes an inherited one).
    pub fn rust_log(mut self, value: Option<&str>) -> Self {
        self.env.rust_log(value);
        self
    }

    /// Runs a binary older than [`SUPPORTED_CODEX`](crate::SUPPORTED_CODEX), or one whose
    /// version can't be read, with a warning instead of [`Error::BinaryTooOld`] /
    /// [`Error::Version`] (default: refused before spawning).
    pub fn allow_unsupported(mut self, yes: bool) -> Self {
        self.allow_unsupported = yes;
        self
    }

    /// Refuses, before anything is spawned, a binary older than the supported range or whose
    /// version can't be read, unless [`allow_unsupported`](Self::allow_unsupported) (then a
    /// warning). The version, when read (probed once per binary per process).
    pub(crate) async fn admit(&self, binary: &Binary) -> Result<Option<semver::Version>> {
        let v = match binary
            .version_in(self.env.home().map(PathBuf::as_path))
            .await
        {
            Ok(v) => v,
            Err(e) if self.allow_unsupported => {
                tracing::warn!(binary = %binary.path().display(), "running a Codex whose version can't be read: {e}");
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        admit_version(&v, binary.path(), self.allow_unsupported)?;
        Ok(Some(v))
    }

    /// Keep an inherited `RUST_BACKTRACE` (removed by default: it adds stack traces to Codex's
    /// error messages).
    pub fn keep_backtrace(mut self, yes: bool) -> Self {
        self.env.keep_backtrace(yes);
        self
    }

    /// The whole spawn environment at once (replaces earlier `env*` settings). A `CODEX_HOME`
    /// set before with `codex_home` is kept unless `env` names its own.
    pub fn spawn_env(mut self, env: SpawnEnv) -> Self {
        self.env = env.or_home(self.env.home());
        self
    }

    /// The process's working directory.
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.current_dir = Some(dir.into());
        self
    }

    /// `-c key=value` overrides (replaces any set before).
    pub fn config_overrides(mut self, overrides: ConfigOverrides) -> Self {
        self.config = overrides;
        self
    }

    /// One `-c key=value` override, value encoded as TOML.
    pub fn config(
        mut self,
        dotted_key: impl Into<String>,
        value: impl Into<toml_edit::Value>,
    ) -> Self {
        self.config.set(dotted_key, value);
        self
    }

    /// `--enable FEATURE` (repeatable).
    pub fn enable(mut self, feature: impl Into<String>) -> Self {
        self.enable.push(feature.into());
        self
    }

    /// Turns off Codex's per-session work that changes nothing the model sees or does, for many
    /// short sessions at once ([`Fleet`](crate::app_server::Fleet), batch jobs):
    ///
    /// - `features.shell_snapshot = false`: no login shell is started and captured when a
    ///   session opens; each command then runs in a login shell of its own. Worth it unless
    ///   a session runs more than about seven commands (a snapshot costs ~35 ms of CPU here, a
    ///   login shell ~5 ms).
    /// - `features.skill_search = false`: no shadow skill ranking per turn (Codex only logs
    ///   it; the model's tools and instructions are the same).
    ///
    /// Measured: 1.4–1.5x the turns per second of Codex's defaults on one app-server, with
    /// its CPU per new-thread turn cut by 30 % (BENCHMARKS.md). Keys set before are kept, so a caller's own
    /// `features.shell_snapshot = true` wins. Set as `-c` overrides, which releases that lack a
    /// feature ignore (0.130 has no `skill_search`), unlike `--disable`, which they refuse.
    pub fn for_throughput(mut self) -> Self {
        for key in THROUGHPUT_OFF {
            if self.config.get(key).is_none() {
                self.config.set(*key, false);
            }
        }
        self
    }

    /// `--disable FEATURE` (repeatable).
    pub fn disable(mut self, feature: impl Into<String>) -> Self {
        self.disable.push(feature.into());
        self
    }

    /// An option this library does not know yet (say, a flag of a newer Codex), passed after
    /// every known option. Where the builder can check it (exec with probed capabilities), a
    /// `--flag` the binary does not list is refused before spawning, like the known ones.
    pub fn other_option(mut self, arg: impl Into<OsString>) -> Self {
        self.other_options.push(arg.into());
        self
    }

    /// Several [`other_option`](Self::other_option)s, in order.
    pub fn other_options<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.other_options.extend(args.into_iter().map(Into::into));
        self
    }

    /// The `CODEX_HOME` this process gets, when one is set.
    pub fn home(&self) -> Option<&Path> {
        self.env.home().map(PathBuf::as_path)
    }

    /// The working directory set, if any.
    pub fn current_dir_ref(&self) -> Option<&Path> {
        self.current_dir.as_deref()
    }

    /// The `CODEX_HOME` Codex will use: the one set, else `$CODEX_HOME`, else `~/.codex`.
    pub fn effective_home(&self) -> Result<crate::CodexHome> {
        match self.home() {
            Some(h) => Ok(crate::CodexHome::new(h)),
            None => match crate::CodexHome::from_env() {
                Some(h) => Ok(h),
                None => crate::CodexHome::user_default(),
            },
        }
    }

    /// The environment as configured.
    pub fn environment(&self) -> &SpawnEnv {
        &self.env
    }

    /// The binary set with [`binary`](Self::binary), if any.
    pub fn binary_ref(&self) -> Option<&Binary> {
        self.binary.as_ref()
    }

    /// `-c`, `--enable` and `--disable`, in that order: the options every sub-command takes.
    pub(crate) fn common_args(&self) -> Vec<OsString> {
        let mut a = Vec::new();
        let mut push = |flag: &str, value: &str| {
            a.push(flag.into());
            a.push(value.into());
        };
        for kv in self.config.to_args() {
            push("-c", &kv);
        }
        for f in &self.enable {
            push("--enable", f);
        }
        for f in &self.disable {
            push("--disable", f);
        }
        a
    }

    /// The `--long` flag names among the other options (`--x=1` → `--x`).
    pub(crate) fn other_flags(&self) -> Vec<String> {
        self.other_options
            .iter()
            .filter_map(|a| a.to_str())
            .filter(|a| a.starts_with("--") && a.len() > 2)
            .map(|a| a.split('=').next().unwrap_or(a).to_owned())
            .collect()
    }

    /// The binary set, else the resolver's choice.
    /// The binary without installing anything: the one set, else `$CODEX_BINARY`, managed
    /// installs, PATH (what the synchronous `command()` builders use).
    pub(crate) fn resolve_binary(&self) -> Result<Binary> {
        match &self.binary {
            Some(b) => Ok(b.clone()),
            None => Ok(self.default_resolver().resolve()?.binary),
        }
    }

    /// The binary, installing the pinned release on first use when nothing else gives one
    /// (see [`binary`](Self::binary)).
    pub(crate) async fn binary_or_install(&self) -> Result<Binary> {
        match &self.binary {
            Some(b) => Ok(b.clone()),
            #[cfg(feature = "install")]
            None => Ok(self
                .default_resolver()
                .resolve_or_install(&mut |_| {})
                .await?
                .binary),
            #[cfg(not(feature = "install"))]
            None => self.resolve_binary(),
        }
    }

    fn default_resolver(&self) -> crate::binary::Resolver {
        let r = crate::binary::Resolver::new().search_path(true);
        match crate::binary::ManagedInstalls::for_app(crate::binary::DEFAULT_APP) {
            #[cfg(feature = "install")]
            Ok(m) if !self.no_auto_install => r.install_pinned(m),
            Ok(m) => r.managed(m, None),
            Err(_) => r,
        }
    }

    /// `shell_environment_policy.exclude=[...]`: the variables holding Codex's own credentials
    /// (`OPENAI_API_KEY`, `CODEX_API_KEY`, every provider's `env_key`, every MCP server's
    /// `bearer_token_env_var` and `env_http_headers` variable in the home's config), added to
    /// the home's own exclude list. Codex (0.171 at least) hands its whole environment to the
    /// commands the model runs; those need none of these. Passed before the sub-command, as a
    /// global `-c`. `None` when the caller set any `shell_environment_policy` override: theirs
    /// wins.
    pub(crate) fn credential_exclude(&self) -> Option<String> {
        if self
            .config
            .keys()
            .any(|k| k.starts_with("shell_environment_policy"))
        {
            return None;
        }
        let mut names: Vec<String> = vec!["OPENAI_API_KEY".into(), "CODEX_API_KEY".into()];
        let mut user: Vec<String> = Vec::new();
        if let Some(home) = self.env.home()
            && let Ok(cfg) = crate::config::ConfigFile::open(home.join("config.toml"))
        {
            let strings = |v: Option<serde_json::Value>| -> Vec<String> {
                match v {
                    Some(serde_json::Value::String(s)) => vec![s],
                    Some(serde_json::Value::Array(a)) => a
                        .into_iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect(),
                    Some(serde_json::Value::Object(m)) => m
                        .into_iter()
                        .filter_map(|(_, v)| v.as_str().map(str::to_owned))
                        .collect(),
                    _ => Vec::new(),
                }
            };
            user = strings(cfg.get("shell_environment_policy.exclude"));
            for table in ["model_providers", "mcp_servers"] {
                if let Some(serde_json::Value::Object(entries)) = cfg.get(table) {
                    for entry in entries.values() {
                        for key in ["env_key", "bearer_token_env_var", "env_http_headers"] {
                            names.extend(strings(entry.get(key).cloned()));
                        }
                    }
                }
            }
        }
        for n in names {
            if !n.is_empty() && !user.contains(&n) {
                user.push(n);
            }
        }
        let list = toml_edit::Array::from_iter(user.iter().map(String::as_str));
        Some(format!("shell_environment_policy.exclude={list}"))
    }

    /// Refuses a config override that would put a secret on Codex's command line (see
    /// [`ConfigOverrides::secret_key`]).
    pub(crate) fn check_overrides(&self) -> Result<()> {
        match self.config.secret_key() {
            Some(key) => Err(Error::InvalidOptions(format!(
                "the config override `{key}` would put a secret on Codex's command line, which \
                 every local user can read; set it in config.toml (`ConfigFile`, mode 0600) or \
                 name an environment variable (`env_key`, `bearer_token_env_var`, \
                 `env_http_headers`)"
            ))),
            None => Ok(()),
        }
    }

    /// Before anything is started: refuses a missing working directory (else the OS error
    /// would read as a missing binary), and a `CODEX_HOME` that is missing or that someone else
    /// owns or can write to (it could hold their `notify` or MCP command).
    pub(crate) fn check(&self) -> Result<()> {
        self.check_overrides()?;
        if let Some(dir) = &self.current_dir
            && !dir.is_dir()
        {
            return Err(Error::InvalidOptions(format!(
                "the working directory {} does not exist or is not a directory",
                dir.display()
            )));
        }
        let Some(home) = self.env.home() else {
            return Ok(());
        };
        if !home.is_dir() {
            return Err(Error::InvalidOptions(format!(
                "CODEX_HOME {} does not exist or is not a directory",
                home.display()
            )));
        }
        let codex_home = crate::CodexHome::new(home);
        codex_home.check()?;
        // Codex writes its state database and sessions there and exits at once when it can't:
        // say so naming the home, not as a crash.
        if let Err(e) = nix::unistd::access(home, nix::unistd::AccessFlags::W_OK) {
            return Err(Error::Home {
                path: home.to_path_buf(),
                problem: crate::error::HomeProblem::NotAccessible(format!(
                    "Codex must write there: {}",
                    std::io::Error::from(e)
                )),
            });
        }
        // A config Codex can't parse: name the file, line and column before anything runs
        // (Codex's own message differs by transport and loses the position).
        crate::config::ConfigFile::for_home(&codex_home).map(drop)
    }

    /// `binary args…` with piped stdio, in its own process group, with this environment and
    /// working directory. Not spawned.
    pub(crate) fn command(&self, binary: &Binary, args: &[OsString]) -> tokio::process::Command {
        self.command_with(binary, &[], args)
    }

    /// [`command`](Self::command) for a Codex that runs the model's commands itself (exec,
    /// app-server over stdio): with [`credential_exclude`](Self::credential_exclude) as a
    /// global `-c` first. Not for the TUI (an override makes it skip its daemon) nor an exec
    /// whose turn runs on a remote app-server.
    pub(crate) fn turn_command(
        &self,
        binary: &Binary,
        args: &[OsString],
    ) -> tokio::process::Command {
        match self.credential_exclude() {
            Some(exclude) => self.command_with(binary, &["-c".into(), exclude.into()], args),
            None => self.command(binary, args),
        }
    }

    fn command_with(
        &self,
        binary: &Binary,
        first: &[OsString],
        args: &[OsString],
    ) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(binary.path());
        cmd.args(first)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        self.env.apply(&mut cmd);
        if let Some(dir) = &self.current_dir {
            cmd.current_dir(dir);
        }
        cmd
    }
}

/// [`Error::BinaryTooOld`] for a version below [`SUPPORTED_CODEX`](crate::SUPPORTED_CODEX),
/// unless `allow` (then a warning).
pub(crate) fn admit_version(v: &semver::Version, binary: &Path, allow: bool) -> Result<()> {
    if crate::binary::support(v) != crate::binary::Support::TooOld {
        return Ok(());
    }
    if allow {
        tracing::warn!(binary = %binary.display(), "Codex {v} is older than the supported range {}", crate::SUPPORTED_CODEX);
        return Ok(());
    }
    Err(Error::BinaryTooOld {
        found: v.clone(),
        supported: crate::SUPPORTED_CODEX.to_owned(),
        binary: binary.to_path_buf(),
    })
}

/// The [`SpawnOptions`] setters on a builder with a `spawn: SpawnOptions` field: one
/// definition for every builder, each setter delegating to the shared type.
macro_rules! spawn_setters {
    () => {
        /// Replaces every shared spawn option (binary, environment, working directory, `-c`,
        /// features, other options) with `options`.
        pub fn spawn_options(mut self, options: $crate::spawn::SpawnOptions) -> Self {
            self.spawn = options;
            self
        }

        /// The shared spawn options as set so far.
        pub fn spawn_options_ref(&self) -> &$crate::spawn::SpawnOptions {
            &self.spawn
        }

        /// See [`SpawnOptions::binary`](crate::spawn::SpawnOptions::binary).
        pub fn binary(mut self, binary: $crate::binary::Binary) -> Self {
            self.spawn = self.spawn.binary(binary);
            self
        }

        /// See [`SpawnOptions::auto_install`](crate::spawn::SpawnOptions::auto_install).
        pub fn auto_install(mut self, yes: bool) -> Self {
            self.spawn = self.spawn.auto_install(yes);
            self
        }

        /// See [`SpawnOptions::binary_path`](crate::spawn::SpawnOptions::binary_path).
        pub fn binary_path(mut self, path: impl Into<std::path::PathBuf>) -> Self {
            self.spawn = self.spawn.binary_path(path);
            self
        }

        /// See [`SpawnOptions::codex_home`](crate::spawn::SpawnOptions::codex_home).
        pub fn codex_home(mut self, dir: impl AsRef<std::path::Path>) -> Self {
            self.spawn = self.spawn.codex_home(dir);
            self
        }

        /// See [`SpawnOptions::env`](crate::spawn::SpawnOptions::env).
        pub fn env(
            mut self,
            key: impl Into<std::ffi::OsString>,
            value: impl Into<std::ffi::OsString>,
        ) -> Self {
            self.spawn = self.spawn.env(key, value);
            self
        }

        /// See [`SpawnOptions::env_remove`](crate::spawn::SpawnOptions::env_remove).
        pub fn env_remove(mut self, key: impl Into<std::ffi::OsString>) -> Self {
            self.spawn = self.spawn.env_remove(key);
            self
        }

        /// See [`SpawnOptions::env_clear`](crate::spawn::SpawnOptions::env_clear).
        pub fn env_clear<I, S>(mut self, allow: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<std::ffi::OsString>,
        {
            self.spawn = self.spawn.env_clear(allow);
            self
        }

        /// See [`SpawnOptions::rust_log`](crate::spawn::SpawnOptions::rust_log).
        pub fn rust_log(mut self, value: Option<&str>) -> Self {
            self.spawn = self.spawn.rust_log(value);
            self
        }

        /// See [`SpawnOptions::allow_unsupported`](crate::spawn::SpawnOptions::allow_unsupported).
        pub fn allow_unsupported(mut self, yes: bool) -> Self {
            self.spawn = self.spawn.allow_unsupported(yes);
            self
        }

        /// See [`SpawnOptions::keep_backtrace`](crate::spawn::SpawnOptions::keep_backtrace).
        pub fn keep_backtrace(mut self, yes: bool) -> Self {
            self.spawn = self.spawn.keep_backtrace(yes);
            self
        }

        /// See [`SpawnOptions::spawn_env`](crate::spawn::SpawnOptions::spawn_env).
        pub fn spawn_env(mut self, env: $crate::env::SpawnEnv) -> Self {
            self.spawn = self.spawn.spawn_env(env);
            self
        }

        /// See [`SpawnOptions::current_dir`](crate::spawn::SpawnOptions::current_dir).
        pub fn current_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
            self.spawn = self.spawn.current_dir(dir);
            self
        }

        /// See [`SpawnOptions::config_overrides`](crate::spawn::SpawnOptions::config_overrides).
        pub fn config_overrides(mut self, overrides: $crate::config::ConfigOverrides) -> Self {
            self.spawn = self.spawn.config_overrides(overrides);
            self
        }

        /// See [`SpawnOptions::config`](crate::spawn::SpawnOptions::config).
        pub fn config(
            mut self,
            dotted_key: impl Into<String>,
            value: impl Into<toml_edit::Value>,
        ) -> Self {
            self.spawn = self.spawn.config(dotted_key, value);
            self
        }

        /// See [`SpawnOptions::enable`](crate::spawn::SpawnOptions::enable).
        pub fn enable(mut self, feature: impl Into<String>) -> Self {
            self.spawn = self.spawn.enable(feature);
            self
        }

        /// See [`SpawnOptions::for_throughput`](crate::spawn::SpawnOptions::for_throughput).
        pub fn for_throughput(mut self) -> Self {
            self.spawn = self.spawn.for_throughput();
            self
        }

        /// See [`SpawnOptions::disable`](crate::spawn::SpawnOptions::disable).
        pub fn disable(mut self, feature: impl Into<String>) -> Self {
            self.spawn = self.spawn.disable(feature);
            self
        }

        /// See [`SpawnOptions::other_option`](crate::spawn::SpawnOptions::other_option).
        pub fn other_option(mut self, arg: impl Into<std::ffi::OsString>) -> Self {
            self.spawn = self.spawn.other_option(arg);
            self
        }

        /// See [`SpawnOptions::other_options`](crate::spawn::SpawnOptions::other_options).
        pub fn other_options<I, S>(mut self, args: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<std::ffi::OsString>,
        {
            self.spawn = self.spawn.other_options(args);
            self
        }
    };
}
pub(crate) use spawn_setters;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binary_below_the_range_is_refused_unless_allowed() {
        let path = Path::new("/opt/codex");
        let old = semver::Version::new(0, 129, 3);
        match admit_version(&old, path, false) {
            Err(Error::BinaryTooOld {
                found,
                supported,
                binary,
            }) => {
                assert_eq!(
                    (found, supported.as_str(), binary.as_path()),
                    (old.clone(), crate::SUPPORTED_CODEX, path)
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(admit_version(&old, path, true).is_ok());
        assert!(admit_version(&semver::Version::new(0, 130, 0), path, false).is_ok());
        assert!(admit_version(&semver::Version::new(0, 999, 0), path, false).is_ok());
    }

    #[test]
    fn for_throughput_turns_two_features_off_and_keeps_the_callers_own() {
        let args = |o: SpawnOptions| -> Vec<String> {
            o.common_args()
                .into_iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(
            args(SpawnOptions::new().for_throughput()),
            [
                "-c",
                "features.shell_snapshot=false",
                "-c",
                "features.skill_search=false"
            ]
        );
        assert_eq!(
            args(
                SpawnOptions::new()
                    .config("features.shell_snapshot", true)
                    .for_throughput()
            ),
            [
                "-c",
                "features.shell_snapshot=true",
                "-c",
                "features.skill_search=false"
            ]
        );
        let server = crate::app_server::AppServer::new().for_throughput();
        assert_eq!(
            server.args(),
            [
                "app-server",
                "-c",
                "features.shell_snapshot=false",
                "-c",
                "features.skill_search=false"
            ]
        );
    }

    #[test]
    fn common_args_and_other_flags() {
        let o = SpawnOptions::new()
            .config("a.b", 1)
            .enable("x")
            .disable("y")
            .other_options(["--new=1", "-z", "--", "--flag"]);
        let args: Vec<String> = o
            .common_args()
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(args, ["-c", "a.b=1", "--enable", "x", "--disable", "y"]);
        assert_eq!(o.other_flags(), ["--new", "--flag"]);
    }

    #[test]
    fn a_missing_home_is_named() {
        let o = SpawnOptions::new().codex_home("/nonexistent/codex-home");
        assert_eq!(
            o.check().map_err(|e| e.to_string()),
            Err("invalid options: CODEX_HOME /nonexistent/codex-home does not exist or is not a directory".to_owned())
        );
        assert_eq!(o.home(), Some(Path::new("/nonexistent/codex-home")));
    }
}
