//! The environment a Codex process gets: `CODEX_HOME`, extra variables, an optional clean
//! environment with an allow-list, and control of `RUST_LOG`/`RUST_BACKTRACE`. Applied to each
//! spawned command; the parent's environment is never changed.
//!
//! By default a Codex process inherits the whole parent environment, and so do the commands
//! the model runs (subject to Codex's own `shell_environment_policy`). A service holding
//! secrets in its environment (database URLs, cloud keys) should use the allow-list mode,
//! [`SpawnEnv::allow_listed`]: only [`DEFAULT_ALLOW`] (what a shell, git, TLS and the sandbox
//! need), [`CODEX_VARS`] (what Codex itself reads) and the variables named with
//! [`SpawnEnv::allow`] pass. The `codex-driver` CLI runs Codex this way unless given
//! `--inherit-env`.
//!
//! Secrets belong in the environment (or on stdin), never in `-c key=value` overrides: argv is
//! readable by every local user in `/proc/<pid>/cmdline`.
//!
//! ```
//! use codex_driver::env::SpawnEnv;
//!
//! let mut env = SpawnEnv::allow_listed();
//! env.allow("CORP_LLM_KEY"); // the model provider's env_key
//! let got = env.resolve([("PATH", "/bin"), ("DATABASE_URL", "postgres://secret"), ("CORP_LLM_KEY", "k")]);
//! assert_eq!(got.keys().collect::<Vec<_>>(), ["CORP_LLM_KEY", "PATH"]);
//! ```

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

/// Variables kept by [`SpawnEnv::clear`] unless another allow-list is given: what a shell, git,
/// TLS and the sandbox need.
pub const DEFAULT_ALLOW: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TERM",
    "TMPDIR",
    "TZ",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "XDG_RUNTIME_DIR",
    "DBUS_SESSION_BUS_ADDRESS",
];

/// Variables Codex itself reads, kept by [`SpawnEnv::allow_listed`]: its home, its credentials,
/// the OpenAI endpoint, extra CA certificates and where its databases live.
pub const CODEX_VARS: &[&str] = &[
    "CODEX_HOME",
    "CODEX_API_KEY",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "CODEX_CA_CERTIFICATE",
    "CODEX_SQLITE_HOME",
    "CODEX_ACCESS_TOKEN",
];

/// How to build a Codex process's environment. Its `Debug` output names variables but never
/// shows their values (they may hold API keys).
#[derive(Clone, Default)]
pub struct SpawnEnv {
    codex_home: Option<PathBuf>,
    vars: Vec<(OsString, Option<OsString>)>,
    clear: Option<Vec<OsString>>,
    rust_log: Option<Option<OsString>>,
    keep_backtrace: bool,
}

impl std::fmt::Debug for SpawnEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let vars: Vec<String> = self
            .vars
            .iter()
            .map(|(k, v)| match v {
                Some(_) => format!("{}=<redacted>", k.to_string_lossy()),
                None => format!("-{}", k.to_string_lossy()),
            })
            .collect();
        f.debug_struct("SpawnEnv")
            .field("codex_home", &self.codex_home)
            .field("vars", &vars)
            .field("clear", &self.clear)
            .field("rust_log", &self.rust_log)
            .field("keep_backtrace", &self.keep_backtrace)
            .finish()
    }
}

impl SpawnEnv {
    /// Inherit the parent's environment, minus `RUST_BACKTRACE` (Codex prints stack traces into
    /// its error messages when it is set).
    pub fn new() -> Self {
        Self::default()
    }

    /// The allow-list mode: an empty environment plus the parent's [`DEFAULT_ALLOW`] and
    /// [`CODEX_VARS`] variables; add more with [`allow`](Self::allow).
    pub fn allow_listed() -> Self {
        let mut env = Self::new();
        env.clear(DEFAULT_ALLOW.iter().chain(CODEX_VARS).copied());
        env
    }

    /// Lets the parent's `key` through the allow-list (starting one with [`DEFAULT_ALLOW`] when
    /// there was none).
    pub fn allow(&mut self, key: impl Into<OsString>) -> &mut Self {
        self.clear
            .get_or_insert_with(|| DEFAULT_ALLOW.iter().map(OsString::from).collect())
            .push(key.into());
        self
    }

    /// Whether only allow-listed variables of the parent pass.
    pub fn is_allow_listed(&self) -> bool {
        self.clear.is_some()
    }

    /// `CODEX_HOME` for the process.
    pub fn codex_home(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.codex_home = Some(dir.into());
        self
    }

    /// The configured `CODEX_HOME`.
    pub fn home(&self) -> Option<&PathBuf> {
        self.codex_home.as_ref()
    }

    /// `self`, with `home` as `CODEX_HOME` unless it names one itself: a builder's earlier
    /// `codex_home(..)` survives a later `spawn_env(..)`, so Codex never falls back to the
    /// user's own `~/.codex` by accident.
    pub(crate) fn or_home(mut self, home: Option<&PathBuf>) -> Self {
        let names_it = self.vars.iter().any(|(k, _)| k == "CODEX_HOME");
        if self.codex_home.is_none() && !names_it {
            self.codex_home = home.cloned();
        }
        self
    }

    /// Sets a variable.
    pub fn set(&mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> &mut Self {
        self.vars.push((key.into(), Some(value.into())));
        self
    }

    /// Removes an inherited variable.
    pub fn remove(&mut self, key: impl Into<OsString>) -> &mut Self {
        self.vars.push((key.into(), None));
        self
    }

    /// Starts from an empty environment, keeping only the parent's variables named in `allow`
    /// (see [`DEFAULT_ALLOW`]). Variables set with [`set`](Self::set) are still added.
    pub fn clear<I, S>(&mut self, allow: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.clear = Some(allow.into_iter().map(Into::into).collect());
        self
    }

    /// `RUST_LOG` for Codex: `Some(v)` sets it, `None` removes it. Unset: inherited.
    pub fn rust_log(&mut self, value: Option<&str>) -> &mut Self {
        self.rust_log = Some(value.map(OsString::from));
        self
    }

    /// Keep an inherited `RUST_BACKTRACE` (removed by default).
    pub fn keep_backtrace(&mut self, yes: bool) -> &mut Self {
        self.keep_backtrace = yes;
        self
    }

    /// The environment the process gets, given the parent's.
    pub fn resolve<I, K, V>(&self, parent: I) -> BTreeMap<OsString, OsString>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        let mut env: BTreeMap<OsString, OsString> = parent
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        if let Some(allow) = &self.clear {
            env.retain(|k, _| allow.iter().any(|a| a == k));
        }
        if !self.keep_backtrace {
            env.remove(OsStr::new("RUST_BACKTRACE"));
        }
        match &self.rust_log {
            Some(Some(v)) => {
                env.insert("RUST_LOG".into(), v.clone());
            }
            Some(None) => {
                env.remove(OsStr::new("RUST_LOG"));
            }
            None => {}
        }
        if let Some(h) = &self.codex_home {
            env.insert("CODEX_HOME".into(), h.clone().into_os_string());
        }
        for (k, v) in &self.vars {
            match v {
                Some(v) => env.insert(k.clone(), v.clone()),
                None => env.remove(k),
            };
        }
        env
    }

    /// Applies this environment to a command.
    pub fn apply(&self, cmd: &mut tokio::process::Command) {
        let env = self.resolve(std::env::vars_os());
        cmd.env_clear().envs(env);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent() -> Vec<(&'static str, &'static str)> {
        vec![
            ("PATH", "/bin"),
            ("SECRET_TOKEN", "x"),
            ("RUST_BACKTRACE", "1"),
            ("RUST_LOG", "debug"),
            ("HOME", "/root"),
        ]
    }

    fn keys(m: &BTreeMap<OsString, OsString>) -> Vec<String> {
        m.iter()
            .map(|(k, v)| format!("{}={}", k.to_string_lossy(), v.to_string_lossy()))
            .collect()
    }

    #[test]
    fn default_inherits_minus_backtrace() {
        let mut e = SpawnEnv::new();
        e.codex_home("/h");
        assert_eq!(
            keys(&e.resolve(parent())),
            [
                "CODEX_HOME=/h",
                "HOME=/root",
                "PATH=/bin",
                "RUST_LOG=debug",
                "SECRET_TOKEN=x"
            ]
        );
    }

    #[test]
    fn a_later_env_keeps_an_earlier_home_unless_it_names_one() {
        let earlier = PathBuf::from("/apps/a/codex");
        let kept = SpawnEnv::new().or_home(Some(&earlier));
        assert_eq!(kept.home(), Some(&earlier));
        let mut own = SpawnEnv::new();
        own.codex_home("/apps/b/codex");
        let own = own.or_home(Some(&earlier));
        assert_eq!(own.home(), Some(&PathBuf::from("/apps/b/codex")));
        assert_eq!(SpawnEnv::new().or_home(None).home(), None);
        // CODEX_HOME set (or removed) as a variable is the caller's choice too.
        let mut var = SpawnEnv::new();
        var.set("CODEX_HOME", "/apps/c/codex");
        assert_eq!(var.or_home(Some(&earlier)).home(), None);
    }

    #[test]
    fn debug_never_shows_values() {
        let mut e = SpawnEnv::new();
        e.set("CODEX_API_KEY", "sk-very-secret").remove("HOME");
        let d = format!("{e:?}");
        assert!(!d.contains("sk-very-secret"), "{d}");
        assert!(
            d.contains("CODEX_API_KEY=<redacted>") && d.contains("-HOME"),
            "{d}"
        );
    }

    #[test]
    fn allow_listed_keeps_codex_credentials_and_named_vars_only() {
        let mut e = SpawnEnv::allow_listed();
        e.allow("SECRET_TOKEN");
        let parent = [
            ("PATH", "/bin"),
            ("CODEX_API_KEY", "k"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("SECRET_TOKEN", "x"),
        ];
        assert_eq!(
            keys(&e.resolve(parent)),
            ["CODEX_API_KEY=k", "PATH=/bin", "SECRET_TOKEN=x"]
        );
        assert!(e.is_allow_listed() && !SpawnEnv::new().is_allow_listed());
    }

    #[test]
    fn clear_with_allow_list_and_overrides() {
        let mut e = SpawnEnv::new();
        e.clear(DEFAULT_ALLOW.iter().copied())
            .rust_log(Some("warn"))
            .set("EXTRA", "1")
            .remove("HOME")
            .codex_home("/h");
        assert_eq!(
            keys(&e.resolve(parent())),
            ["CODEX_HOME=/h", "EXTRA=1", "PATH=/bin", "RUST_LOG=warn"]
        );
        let mut e = SpawnEnv::new();
        e.rust_log(None).keep_backtrace(true);
        assert_eq!(
            keys(&e.resolve(parent())),
            [
                "HOME=/root",
                "PATH=/bin",
                "RUST_BACKTRACE=1",
                "SECRET_TOKEN=x"
            ]
        );
    }
}
