//! Finding the Codex binary and learning its version.
//!
//! Resolution order: an explicit path, then the `CODEX_BINARY` environment variable, then
//! `codex` on `PATH` (when allowed). When the path is the npm Node launcher, the native binary
//! it would run is preferred (one process less, signals go straight to Codex).

use crate::error::{Error, Result};
use semver::Version;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

/// The Codex releases this library supports (a semver requirement).
pub const SUPPORTED_CODEX: &str = ">=0.130.0, <=0.171.0";

/// The releases the test suite runs against, newest first.
pub const TESTED_CODEX: &[&str] = &["0.171.0", "0.169.0", "0.163.0", "0.153.4", "0.130.0"];

/// The `dist.integrity` of each [`TESTED_CODEX`] release's npm platform package
/// (`@openai/codex@<version>-<platform>`), as `(version, npm platform, integrity)`, recorded
/// from the public registry with `scripts/pin-codex-integrity`. A managed install of one of
/// these refuses any other tarball, whatever the registry's metadata says.
pub const TESTED_CODEX_INTEGRITY: &[(&str, &str, &str)] = &[
    (
        "0.171.0",
        "linux-x64",
        "sha512-l66NZkQgdk2C3pbcfULDz42yEUB581MVA6I+Y43Wp4OIqEy73HCdmZ0GTjeAHY2ycuH4N00d9VsLrwT1jxshTw==",
    ),
    (
        "0.171.0",
        "linux-arm64",
        "sha512-9z17t4bbUJ9UCIb49O4PoA+ki+45q3rd8nZ8PeH6sYnlKkBld/Xpo/OS3h3Ti954+foshX4o7k5TCU8N7zzqQA==",
    ),
    (
        "0.171.0",
        "darwin-x64",
        "sha512-pwN5uNEKx/mZjwBEf/6CKq6SJMfJS5kruV3sJQAk7ebIPvC58Ote3CicIxETDZtjLj35rNv3PLPd7mHCg6hGPw==",
    ),
    (
        "0.171.0",
        "darwin-arm64",
        "sha512-hIYTkRUpuYpkVfTq4cpby0PXqhAVcIgE7f6FoyY1lt2RyARj3GXS1Can/dIYUBItVhXzhb98HYHZNzCX74QRlQ==",
    ),
    (
        "0.169.0",
        "linux-x64",
        "sha512-o05NyAOCDygSPRo1yinzxvkRSdmsZyBD9E7mbpmjRanSfM8lypqWtQgEo4XfNkwhuCR2aFu8mlGOsQGFXVbVww==",
    ),
    (
        "0.169.0",
        "linux-arm64",
        "sha512-NZ/DaQUpcQmxmqee7Z9uC1rzw3GhSbooawcaTe1LN5Yk+WlinUKGdTXJgClRT/9ogQEEM9TWxYzvxPfj5G/xFg==",
    ),
    (
        "0.169.0",
        "darwin-x64",
        "sha512-K1FKSsSLl9v3z5TeagBQXyQRDBIGB5Jncy5dxsRxwT3aaTqN3AI8VrCfoxBxKMOOU9O2QX1vg7WkBwNVth/s9A==",
    ),
    (
        "0.169.0",
        "darwin-arm64",
        "sha512-5WsWFBbVP78D+6FvNo1MMVxLPZdmcoQlqVJFrF4qx/TmvneLnMQKtLyXkUo54XOTDfoYKpNouTJ/F7gTVA8FnQ==",
    ),
    (
        "0.163.0",
        "linux-x64",
        "sha512-uwRaOsrYogLQhcxAM/GoeWrw0QIWEMRo7c9gM8sKAviVkZQHlu9kRLJ5PkufbV+ABGjyZgIwiFdJ0LCJ0N6e8w==",
    ),
    (
        "0.163.0",
        "linux-arm64",
        "sha512-IH2/R+4OarjGvsAf1ll3fdyLwrPgYLl3uzp6u9CyD9sj2Lw+ViDSe3QBZVHdcHJs0eIiZFg6Wprcuy4CRZaUGw==",
    ),
    (
        "0.163.0",
        "darwin-x64",
        "sha512-Ioj7h+B1ME9ZU1PH1ATfvFV5DiototEpFFaSSbg3kfDifB9djhl5fcJ++g5mpcL/+uVbcnReei+RiSXEx8o+kw==",
    ),
    (
        "0.163.0",
        "darwin-arm64",
        "sha512-i7Dzk2a5aGmuGM9aNZgaUVTojZ/4bc5lRfosz++Y7X2BGhDkz+cySgbD+NYS1pOxfm0VEbLi9PZ3pAulI4kchw==",
    ),
    (
        "0.153.4",
        "linux-x64",
        "sha512-x1EcwBlY3AObM1VTUHNM2AzAJQsyreGdagpF+qFiYi/Oa30VBktvvG0C6tLtCzqW6hjZNWkGZQWmeVk7MuJKWg==",
    ),
    (
        "0.153.4",
        "linux-arm64",
        "sha512-QKdjYLYV4hXIuUQDP3P6F4NXuWFoKo9WUoV4nAREIx55kiUyi8UsYdsVobkeXir5n/maEQgYMCKLHVma4rNPiw==",
    ),
    (
        "0.153.4",
        "darwin-x64",
        "sha512-vnSbbPzfoDZmmyzsxswsDDXQ06IVFBzkQU7/hroB3ji93Ok2utcsq8Psfk2tjF5r9mEx8RWFJhzuTGHG26/NDA==",
    ),
    (
        "0.153.4",
        "darwin-arm64",
        "sha512-B1qhN3fa1ay0R0wGziXqgwSkB5icpYChNKHhtBHff/0UtSTC7z+l8aTtvMlGjH3E8HEvY3+njIJelM9CAAoVWg==",
    ),
    (
        "0.130.0",
        "linux-x64",
        "sha512-3VcNlez99xdnEf+kB1IOpWv9fICYV9PiGj4sLCO4TCcShLnyxe+YBGa3poknkvXLnMG0qiN9SMnYS2FGrMxQcA==",
    ),
    (
        "0.130.0",
        "linux-arm64",
        "sha512-tFtH0V9/hEI3d9y7zP92BXI9FM4Z3+STNQaOR52Czv18TRtCFUp7CbIUYaToopuq6UBfnE1VKr8RLhwT5FcbmA==",
    ),
    (
        "0.130.0",
        "darwin-x64",
        "sha512-gJ+7J8djevgtdra+NgDAiQQPW+O3KTsgGfE3E5dpDfww3zS5OCeV0V2dhxqnJdlOjOSDw99o0P2LqBv19mhpRw==",
    ),
    (
        "0.130.0",
        "darwin-arm64",
        "sha512-R9pkGC7kwC8yQ8el5hvBlmugQlcsG/pHMEFgZluu03X9fD2TezGxdq3KqRDRCZuMYl07ILamVEoqknuJ0cq7MA==",
    ),
];

/// The pinned integrity of `@openai/codex@<version>-<npm_platform>` from
/// [`TESTED_CODEX_INTEGRITY`], if recorded.
pub fn pinned_integrity(version: &str, npm_platform: &str) -> Option<&'static str> {
    TESTED_CODEX_INTEGRITY
        .iter()
        .find(|(v, p, _)| *v == version && *p == npm_platform)
        .map(|(_, _, i)| *i)
}

/// Environment variable naming the binary to use.
pub const CODEX_BINARY_ENV: &str = "CODEX_BINARY";

/// The release this build was tested against first (the first of [`TESTED_CODEX`]): what
/// [`Resolver::install_pinned`] installs when nothing else gives a binary.
pub const PINNED_CODEX: &str = "0.171.0";

/// Set to `0`, `false`, `no` or `off` to never install [`PINNED_CODEX`] on first use.
pub const AUTO_INSTALL_ENV: &str = "CODEX_DRIVER_AUTO_INSTALL";

/// The app name of the library's own managed installs (`~/.codex-driver/codex-versions`),
/// shared with the `codex-driver` CLI.
pub const DEFAULT_APP: &str = "codex-driver";

/// Whether [`AUTO_INSTALL_ENV`] allows installing the pinned release.
pub fn auto_install_allowed() -> bool {
    !std::env::var(AUTO_INSTALL_ENV).is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "0" | "false" | "no" | "off"
        )
    })
}

/// How a version relates to what this library was tested with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Support {
    /// One of [`TESTED_CODEX`].
    Tested,
    /// Inside [`SUPPORTED_CODEX`] but not itself tested.
    Supported,
    /// Newer than every tested release: probably fine; new options and events are tolerated.
    NewerThanTested,
    /// Older than [`SUPPORTED_CODEX`].
    TooOld,
}

impl Support {
    /// The snake_case name (`tested`, `supported`, `newer_than_tested`, `too_old`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Tested => "tested",
            Self::Supported => "supported",
            Self::NewerThanTested => "newer_than_tested",
            Self::TooOld => "too_old",
        }
    }
}

/// Where `version` stands against [`SUPPORTED_CODEX`] and [`TESTED_CODEX`].
pub fn support(version: &Version) -> Support {
    let plain = Version::new(version.major, version.minor, version.patch);
    if TESTED_CODEX
        .iter()
        .any(|t| Version::parse(t).is_ok_and(|t| t == *version))
    {
        return Support::Tested;
    }
    let newest = TESTED_CODEX
        .iter()
        .filter_map(|t| Version::parse(t).ok())
        .max();
    if newest.is_some_and(|n| plain > n) {
        return Support::NewerThanTested;
    }
    match semver::VersionReq::parse(SUPPORTED_CODEX) {
        Ok(req) if req.matches(&plain) => Support::Supported,
        _ => Support::TooOld,
    }
}

/// How long `codex --version` may take before the probe fails.
pub const VERSION_PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A Codex executable, with its version once probed.
#[derive(Debug, Clone)]
pub struct Binary {
    path: PathBuf,
    version: Option<Version>,
    source: BinarySource,
}

/// Why a binary was chosen.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BinarySource {
    /// Given by the caller.
    Explicit,
    /// From the `CODEX_BINARY` environment variable.
    Env,
    /// From the application's bundle.
    Bundle,
    /// From the library's managed installs.
    Managed,
    /// Found on `PATH`.
    Path,
}

impl BinarySource {
    /// The step's name (`explicit`, `env`, `bundle`, `managed`, `path`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Explicit => "explicit",
            Self::Env => "env",
            Self::Bundle => "bundle",
            Self::Managed => "managed",
            Self::Path => "path",
        }
    }
}

impl Binary {
    /// Uses `path` as is (no checks until it is run).
    pub fn at(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            version: None,
            source: BinarySource::Explicit,
        }
    }

    /// Resolves a binary: `explicit`, then `$CODEX_BINARY`, then `codex` on `PATH` when
    /// `search_path` is true. See [`Resolver`] for bundles and managed installs.
    pub fn resolve(explicit: Option<&Path>, search_path: bool) -> Result<Self> {
        let mut r = Resolver::new().search_path(search_path);
        if let Some(p) = explicit {
            r = r.explicit(p);
        }
        r.resolve().map(|res| res.binary)
    }

    /// The executable's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Why this binary was chosen.
    pub fn source(&self) -> &BinarySource {
        &self.source
    }

    /// Declares the version without probing (e.g. for a binary you ship).
    pub fn with_version(mut self, version: Version) -> Self {
        self.version = Some(version);
        self
    }

    /// The version, if declared or already probed.
    pub fn known_version(&self) -> Option<&Version> {
        self.version.as_ref()
    }

    /// The version: declared, cached for this path/size/mtime in this process, or probed by
    /// running `codex --version` (given at most [`VERSION_PROBE_TIMEOUT`]). Warns (tracing) once
    /// per binary when it is newer than every tested release.
    pub async fn version(&self) -> Result<Version> {
        self.version_in(None).await
    }

    /// [`version`](Self::version), probing with `CODEX_HOME` set to `home`: even
    /// `codex --version` writes helper links under its home (`tmp/arg0-*`, 0.171), so a run in
    /// an isolated home probes there instead of in `~/.codex`.
    pub(crate) async fn version_in(&self, home: Option<&Path>) -> Result<Version> {
        if let Some(v) = &self.version {
            return Ok(v.clone());
        }
        let key = fingerprint(&self.path);
        if let Some(key) = &key
            && let Some(v) = cache().lock().ok().and_then(|c| c.get(key).cloned())
        {
            return Ok(v);
        }
        let env: Vec<(&str, &OsStr)> = home
            .map(|h| ("CODEX_HOME", h.as_os_str()))
            .into_iter()
            .collect();
        let out =
            crate::process::run_bounded_in(&self.path, &["--version"], &env, VERSION_PROBE_TIMEOUT)
                .await
                .map_err(|source| Error::Spawn {
                    path: self.path.clone(),
                    source,
                })?
                .ok_or_else(|| Error::Version {
                    path: self.path.clone(),
                    detail: format!(
                        "no answer to `--version` within {} s",
                        VERSION_PROBE_TIMEOUT.as_secs()
                    ),
                })?;
        let text = String::from_utf8_lossy(&out.stdout);
        let v = parse_version(&text).ok_or_else(|| Error::Version {
            path: self.path.clone(),
            detail: format!(
                "unexpected output {:?} (status {})",
                text.trim(),
                out.status
            ),
        })?;
        if support(&v) == Support::NewerThanTested {
            tracing::warn!(
                binary = %self.path.display(),
                "Codex {v} is newer than the newest release codex-driver was tested with ({})",
                TESTED_CODEX.first().copied().unwrap_or_default()
            );
        }
        if let (Some(key), Ok(mut c)) = (key, cache().lock()) {
            c.insert(key, v.clone());
        }
        Ok(v)
    }
}

/// One place the [`Resolver`] looked.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct Candidate {
    /// Which step (`explicit`, `env`, `bundle`, `managed`, `path`).
    pub step: BinarySource,
    /// The path checked (or a description when there was none).
    pub place: String,
    /// What was found there.
    pub outcome: String,
}

/// The chosen binary and how it was found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Resolution {
    /// The binary (the native one when an npm launcher was found).
    pub binary: Binary,
    /// Every place looked at, in order, ending with the one chosen.
    pub looked: Vec<Candidate>,
}

impl Resolution {
    /// A one-line explanation of the choice.
    pub fn reason(&self) -> String {
        match self.looked.last() {
            Some(c) => format!("{} step: {} ({})", c.step.as_str(), c.place, c.outcome),
            None => String::new(),
        }
    }
}

/// Finds a Codex binary, in one documented order:
///
/// 1. an explicit path;
/// 2. `$CODEX_BINARY`;
/// 3. the application's bundle: `<bundle root>/<target triple>/<version>/codex` (or
///    `.../bin/codex`, the npm vendor layout);
/// 4. the library's managed installs ([`ManagedInstalls`]): the requested or newest version;
///    with [`install_pinned`](Self::install_pinned), [`resolve_or_install`](Self::resolve_or_install)
///    installs [`PINNED_CODEX`] there when steps 1-4 found nothing (verified, see
///    [`crate::install`]), unless [`AUTO_INSTALL_ENV`] says no;
/// 5. `codex` on `PATH`, when allowed (off by default in the library).
///
/// An explicit or `$CODEX_BINARY` path that is not an executable is an error, not a reason to
/// fall through. An npm Node launcher (`node_modules/.bin/codex`, `bin/codex.js`) is replaced by
/// the native binary installed beside it (0.169 `@openai/codex-<platform>/vendor/<triple>/bin/codex`,
/// 0.130 `vendor/<triple>/codex/codex`, 0.50 `@openai/codex/vendor/<triple>/codex/codex`).
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    explicit: Option<PathBuf>,
    skip_env: bool,
    bundle: Option<(PathBuf, String)>,
    managed: Option<(ManagedInstalls, Option<String>)>,
    #[cfg(feature = "install")]
    install: Option<crate::install::Installer>,
    search_path: bool,
}

impl Resolver {
    /// Explicit path, `$CODEX_BINARY`; no bundle, no managed installs, no PATH.
    pub fn new() -> Self {
        Self::default()
    }

    /// Step 1: this path.
    pub fn explicit(mut self, path: impl Into<PathBuf>) -> Self {
        self.explicit = Some(path.into());
        self
    }

    /// Step 2 on or off (default on).
    pub fn use_env(mut self, yes: bool) -> Self {
        self.skip_env = !yes;
        self
    }

    /// Step 3: the app bundle at `root`, version `version`.
    pub fn bundle(mut self, root: impl Into<PathBuf>, version: impl Into<String>) -> Self {
        self.bundle = Some((root.into(), version.into()));
        self
    }

    /// Step 4: managed installs, a specific version or the newest.
    pub fn managed(mut self, installs: ManagedInstalls, version: Option<String>) -> Self {
        self.managed = Some((installs, version));
        self
    }

    /// Step 5 on or off.
    pub fn search_path(mut self, yes: bool) -> Self {
        self.search_path = yes;
        self
    }

    /// With [`resolve_or_install`](Self::resolve_or_install): install [`PINNED_CODEX`] into
    /// `installs` when steps 1-4 find nothing (also makes `installs` step 4 unless
    /// [`managed`](Self::managed) named others).
    #[cfg(feature = "install")]
    pub fn install_pinned(self, installs: ManagedInstalls) -> Self {
        self.install_pinned_with(crate::install::Installer::new(installs))
    }

    /// [`install_pinned`](Self::install_pinned) with this installer (another registry or npm
    /// configuration).
    #[cfg(feature = "install")]
    pub fn install_pinned_with(mut self, installer: crate::install::Installer) -> Self {
        if self.managed.is_none() {
            self.managed = Some((installer.installs().clone(), None));
        }
        self.install = Some(installer);
        self
    }

    /// Runs the steps (never installs; see [`resolve_or_install`](Self::resolve_or_install)).
    pub fn resolve(&self) -> Result<Resolution> {
        let mut looked = Vec::new();
        if let Some(r) = self.before_path(&mut looked)? {
            return Ok(r);
        }
        if let Some(r) = self.path_step(&mut looked) {
            return Ok(r);
        }
        Err(not_found(&mut looked))
    }

    /// Runs steps 1-4; when they find nothing and [`install_pinned`](Self::install_pinned) was
    /// given (and [`AUTO_INSTALL_ENV`] doesn't say no), installs [`PINNED_CODEX`] and uses it;
    /// PATH comes after. A failed install is the error when PATH has no `codex` either.
    #[cfg(feature = "install")]
    pub async fn resolve_or_install(
        &self,
        progress: &mut (dyn FnMut(crate::install::Progress) + Send),
    ) -> Result<Resolution> {
        let mut looked = Vec::new();
        if let Some(r) = self.before_path(&mut looked)? {
            return Ok(r);
        }
        let mut install_error = None;
        if let Some(installer) = &self.install {
            let installs = installer.installs();
            if auto_install_allowed() {
                tracing::info!(version = PINNED_CODEX, dir = %installs.root().display(), "installing the pinned Codex on first use");
                match installer.install(PINNED_CODEX, progress).await {
                    Ok(i) => {
                        looked.push(Candidate {
                            step: BinarySource::Managed,
                            place: i.binary.display().to_string(),
                            outcome: format!(
                                "installed the pinned release {} on first use",
                                i.version
                            ),
                        });
                        return Ok(Resolution {
                            binary: Binary {
                                path: i.binary,
                                version: Some(i.version),
                                source: BinarySource::Managed,
                            },
                            looked,
                        });
                    }
                    Err(e) => {
                        looked.push(Candidate {
                            step: BinarySource::Managed,
                            place: installs.root().display().to_string(),
                            outcome: format!(
                                "installing the pinned release {PINNED_CODEX} failed: {e}"
                            ),
                        });
                        install_error = Some(e);
                    }
                }
            } else {
                looked.push(Candidate {
                    step: BinarySource::Managed,
                    place: format!("${AUTO_INSTALL_ENV}"),
                    outcome: "installing the pinned release is turned off".into(),
                });
            }
        }
        if let Some(r) = self.path_step(&mut looked) {
            return Ok(r);
        }
        Err(install_error.unwrap_or_else(|| not_found(&mut looked)))
    }

    /// Steps 1-4: `Ok(None)` when none gave a binary; an error when an explicit or
    /// `$CODEX_BINARY` path is not an executable.
    fn before_path(&self, looked: &mut Vec<Candidate>) -> Result<Option<Resolution>> {
        let strict = |step: BinarySource, p: &Path, looked: &mut Vec<Candidate>| {
            if is_executable(p) {
                Ok(found(step, p, looked))
            } else {
                looked.push(Candidate {
                    step,
                    place: p.display().to_string(),
                    outcome: "not an executable file".into(),
                });
                Err(not_found(looked))
            }
        };
        if let Some(p) = &self.explicit {
            return strict(BinarySource::Explicit, p, looked).map(Some);
        }
        if !self.skip_env {
            match std::env::var_os(CODEX_BINARY_ENV).filter(|p| !p.is_empty()) {
                Some(p) => return strict(BinarySource::Env, Path::new(&p), looked).map(Some),
                None => looked.push(Candidate {
                    step: BinarySource::Env,
                    place: format!("${CODEX_BINARY_ENV}"),
                    outcome: "unset".into(),
                }),
            }
        }
        if let Some((root, version)) = &self.bundle {
            let dir = target_triple().map(|t| root.join(t).join(version));
            let cands = dir
                .map(|d| vec![d.join("codex"), d.join("bin").join("codex")])
                .unwrap_or_default();
            if let Some(p) = cands.iter().find(|c| is_executable(c)) {
                return Ok(Some(found(BinarySource::Bundle, p, looked)));
            }
            looked.push(Candidate {
                step: BinarySource::Bundle,
                place: cands
                    .first()
                    .map(|c| c.display().to_string())
                    .unwrap_or_else(|| format!("{} (unsupported platform)", root.display())),
                outcome: "missing".into(),
            });
        }
        if let Some((installs, version)) = &self.managed {
            let v = match version {
                Some(v) => Some(v.clone()),
                None => installs
                    .installed()
                    .into_iter()
                    .max()
                    .map(|v| v.to_string()),
            };
            let path = v.as_deref().and_then(|v| installs.binary(v));
            if let Some(p) = path.as_ref().filter(|p| is_executable(p)) {
                return Ok(Some(found(BinarySource::Managed, p, looked)));
            }
            looked.push(Candidate {
                step: BinarySource::Managed,
                place: path
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| installs.root().display().to_string()),
                outcome: match v {
                    Some(v) => format!("version {v} not installed"),
                    None => "no version installed".into(),
                },
            });
        }
        Ok(None)
    }

    /// Step 5, when allowed.
    fn path_step(&self, looked: &mut Vec<Candidate>) -> Option<Resolution> {
        if self.search_path {
            if let Some(paths) = std::env::var_os("PATH") {
                for dir in std::env::split_paths(&paths) {
                    let cand = dir.join("codex");
                    if is_executable(&cand) {
                        return Some(found(BinarySource::Path, &cand, looked));
                    }
                    looked.push(Candidate {
                        step: BinarySource::Path,
                        place: cand.display().to_string(),
                        outcome: "missing".into(),
                    });
                }
            }
        } else {
            looked.push(Candidate {
                step: BinarySource::Path,
                place: "$PATH".into(),
                outcome: "search disabled".into(),
            });
        }
        None
    }
}

/// The binary at `p` (the native one behind an npm launcher), chosen by `step`.
fn found(step: BinarySource, p: &Path, looked: &mut Vec<Candidate>) -> Resolution {
    let native = native_behind_launcher(p);
    let outcome = match &native {
        Some(n) => format!("npm launcher; using the native binary {}", n.display()),
        None => "executable".to_owned(),
    };
    looked.push(Candidate {
        step: step.clone(),
        place: p.display().to_string(),
        outcome,
    });
    Resolution {
        binary: Binary {
            path: native.unwrap_or_else(|| p.to_path_buf()),
            version: None,
            source: step,
        },
        looked: std::mem::take(looked),
    }
}

fn not_found(looked: &mut Vec<Candidate>) -> Error {
    Error::BinaryNotFound {
        looked_in: looked
            .drain(..)
            .map(|c| format!("{} ({})", c.place, c.outcome))
            .collect(),
    }
}

/// The library's app-scoped install directory: `<root>/<target triple>/<version>/` holds the
/// unpacked `vendor/<triple>/` tree of the npm platform package (`bin/codex`, its resources and
/// `codex-package.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedInstalls {
    root: PathBuf,
}

impl ManagedInstalls {
    /// Installs under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `$XDG_DATA_HOME/<app>/codex-versions` or `~/.<app>/codex-versions`.
    pub fn for_app(app: &str) -> Result<Self> {
        Ok(Self::new(crate::dirs::app_dir(app)?.join("codex-versions")))
    }

    /// The root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// This platform's directory (`None` on an unsupported platform).
    pub fn platform_dir(&self) -> Option<PathBuf> {
        target_triple().map(|t| self.root.join(t))
    }

    /// Where version `v` is (or would be) installed.
    pub fn version_dir(&self, v: &str) -> Option<PathBuf> {
        self.platform_dir().map(|d| d.join(v))
    }

    /// The binary of version `v`, when installed.
    pub fn binary(&self, v: &str) -> Option<PathBuf> {
        let d = self.version_dir(v)?;
        [
            d.join("bin").join("codex"),
            d.join("codex").join("codex"),
            d.join("codex"),
        ]
        .into_iter()
        .find(|p| is_executable(p))
    }

    /// Installed versions, unordered.
    pub fn installed(&self) -> Vec<Version> {
        let Some(dir) = self.platform_dir() else {
            return Vec::new();
        };
        std::fs::read_dir(dir)
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().to_str().and_then(|n| Version::parse(n).ok()))
                    .filter(|v| self.binary(&v.to_string()).is_some())
                    .collect()
            })
            .unwrap_or_default()
    }
}

type Fingerprint = (PathBuf, u64, Option<SystemTime>);

fn cache() -> &'static Mutex<HashMap<Fingerprint, Version>> {
    static CACHE: OnceLock<Mutex<HashMap<Fingerprint, Version>>> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

fn fingerprint(path: &Path) -> Option<Fingerprint> {
    let meta = std::fs::metadata(path).ok()?;
    Some((path.to_path_buf(), meta.len(), meta.modified().ok()))
}

/// Parses `codex --version` output (`codex-cli 0.169.0`, `codex-cli-exec 0.169.0`,
/// `codex-cli 0.170.0-alpha.1`).
pub fn parse_version(output: &str) -> Option<Version> {
    output
        .split_whitespace()
        .filter_map(|w| Version::parse(w.trim_start_matches('v')).ok())
        .next()
}

pub(crate) fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// For the npm launcher (`…/node_modules/.bin/codex` or `@openai/codex/bin/codex.js`), the
/// native binary it would exec, when installed next to it.
fn native_behind_launcher(p: &Path) -> Option<PathBuf> {
    let real = std::fs::canonicalize(p).ok()?;
    if real.extension() != Some(OsStr::new("js")) {
        return None;
    }
    // real = <node_modules>/@openai/codex/bin/codex.js
    let scope = real.parent()?.parent()?.parent()?;
    let triple = target_triple()?;
    let platform_pkg = scope.join(format!("codex-{}", npm_platform()?));
    // 0.169: bin/codex; 0.130: codex/codex in the platform package; 0.50: inside @openai/codex.
    let in_vendor = |pkg: &Path, rest: &str| pkg.join("vendor").join(triple).join(rest);
    let main_pkg = scope.join("codex");
    [
        in_vendor(&platform_pkg, "bin/codex"),
        in_vendor(&platform_pkg, "codex/codex"),
        in_vendor(&main_pkg, "codex/codex"),
        in_vendor(&main_pkg, "bin/codex"),
    ]
    .into_iter()
    .find(|c| is_executable(c))
}

/// The target triple Codex's npm packages use for this platform (`x86_64-unknown-linux-musl`, ...).
pub fn target_triple() -> Option<&'static str> {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => Some("x86_64-unknown-linux-musl"),
        ("linux", "aarch64") => Some("aarch64-unknown-linux-musl"),
        ("macos", "x86_64") => Some("x86_64-apple-darwin"),
        ("macos", "aarch64") => Some("aarch64-apple-darwin"),
        _ => None,
    }
}

/// The npm platform suffix for this platform (`linux-x64`, ...).
pub fn npm_platform() -> Option<&'static str> {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => Some("linux-x64"),
        ("linux", "aarch64") => Some("linux-arm64"),
        ("macos", "x86_64") => Some("darwin-x64"),
        ("macos", "aarch64") => Some("darwin-arm64"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(
            parse_version("codex-cli 0.169.0\n"),
            Some(Version::new(0, 169, 0))
        );
        assert_eq!(
            parse_version("codex-cli-exec 0.50.0"),
            Some(Version::new(0, 50, 0))
        );
        assert_eq!(
            parse_version("codex-cli 0.170.0-alpha.1"),
            Version::parse("0.170.0-alpha.1").ok()
        );
        assert_eq!(parse_version("garbage"), None);
    }

    #[test]
    fn support_levels() {
        assert_eq!(support(&Version::new(0, 169, 0)), Support::Tested);
        assert_eq!(support(&Version::new(0, 150, 2)), Support::Supported);
        assert_eq!(support(&Version::new(0, 171, 0)), Support::Tested);
        assert_eq!(support(&Version::new(0, 172, 0)), Support::NewerThanTested);
        assert_eq!(support(&Version::new(0, 129, 9)), Support::TooOld);
        assert_eq!(support(&Version::new(0, 50, 0)), Support::TooOld);
        let pre = Version::parse("0.172.0-alpha.1").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(support(&pre), Support::NewerThanTested);
    }

    /// The repository's CODEX_VERSIONS (what CI installs and tests) is TESTED_CODEX, in order,
    /// every one inside SUPPORTED_CODEX and pinned for every platform the installer knows.
    #[test]
    fn tested_matches_the_pinned_matrix() {
        let file = include_str!("../../../CODEX_VERSIONS");
        let listed: Vec<&str> = file
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        assert_eq!(listed, TESTED_CODEX);
        assert_eq!(TESTED_CODEX.first(), Some(&PINNED_CODEX));
        let req = semver::VersionReq::parse(SUPPORTED_CODEX).unwrap_or_else(|e| panic!("{e}"));
        for v in TESTED_CODEX {
            let parsed = Version::parse(v).unwrap_or_else(|e| panic!("{v}: {e}"));
            assert!(req.matches(&parsed), "{v} outside {SUPPORTED_CODEX}");
            for p in ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64"] {
                assert!(pinned_integrity(v, p).is_some(), "{v}-{p} not pinned");
            }
        }
        let oldest = TESTED_CODEX.last().copied().unwrap_or_default();
        assert!(
            SUPPORTED_CODEX.starts_with(&format!(">={oldest}")),
            "{SUPPORTED_CODEX}"
        );
        let newest = TESTED_CODEX.first().copied().unwrap_or_default();
        assert!(
            SUPPORTED_CODEX.ends_with(&format!("<={newest}")),
            "{SUPPORTED_CODEX}"
        );
    }

    #[test]
    fn explicit_missing_binary_names_the_path() {
        let err = Binary::resolve(Some(Path::new("/nonexistent/codex")), false)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("no Codex binary found; looked in: /nonexistent/codex (not an executable file)")
        );
    }
}
