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

/// The oldest and newest Codex releases this library is tested against.
pub const SUPPORTED_CODEX: &str = ">=0.169.0, <=0.169.0";

/// Environment variable naming the binary to use.
pub const CODEX_BINARY_ENV: &str = "CODEX_BINARY";

/// A Codex executable, with its version once probed.
#[derive(Debug, Clone)]
pub struct Binary {
    path: PathBuf,
    version: Option<Version>,
    source: BinarySource,
}

/// Why a binary was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BinarySource {
    /// Given by the caller.
    Explicit,
    /// From the `CODEX_BINARY` environment variable.
    Env,
    /// Found on `PATH`.
    Path,
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
    /// `search_path` is true. An npm launcher is replaced by its native binary when present.
    pub fn resolve(explicit: Option<&Path>, search_path: bool) -> Result<Self> {
        let mut looked = Vec::new();
        if let Some(p) = explicit {
            return Self::checked(p, BinarySource::Explicit, &mut looked);
        }
        if let Some(p) = std::env::var_os(CODEX_BINARY_ENV).filter(|p| !p.is_empty()) {
            return Self::checked(Path::new(&p), BinarySource::Env, &mut looked);
        }
        looked.push(format!("${CODEX_BINARY_ENV} (unset)"));
        if search_path {
            if let Some(paths) = std::env::var_os("PATH") {
                for dir in std::env::split_paths(&paths) {
                    let cand = dir.join("codex");
                    if is_executable(&cand) {
                        return Self::checked(&cand, BinarySource::Path, &mut looked);
                    }
                    looked.push(cand.display().to_string());
                }
            }
        } else {
            looked.push("PATH (search disabled)".into());
        }
        Err(Error::BinaryNotFound { looked_in: looked })
    }

    fn checked(p: &Path, source: BinarySource, looked: &mut Vec<String>) -> Result<Self> {
        if !is_executable(p) {
            looked.push(format!("{} (not an executable file)", p.display()));
            return Err(Error::BinaryNotFound {
                looked_in: std::mem::take(looked),
            });
        }
        let path = native_behind_launcher(p).unwrap_or_else(|| p.to_path_buf());
        Ok(Self {
            path,
            version: None,
            source,
        })
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
    /// running `codex --version`.
    pub async fn version(&self) -> Result<Version> {
        if let Some(v) = &self.version {
            return Ok(v.clone());
        }
        let key = fingerprint(&self.path);
        if let Some(key) = &key
            && let Some(v) = cache().lock().ok().and_then(|c| c.get(key).cloned())
        {
            return Ok(v);
        }
        let out = tokio::process::Command::new(&self.path)
            .arg("--version")
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|source| Error::Spawn {
                path: self.path.clone(),
                source,
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
        if let (Some(key), Ok(mut c)) = (key, cache().lock()) {
            c.insert(key, v.clone());
        }
        Ok(v)
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

fn is_executable(p: &Path) -> bool {
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
    [
        platform_pkg
            .join("vendor")
            .join(triple)
            .join("bin")
            .join("codex"),
        platform_pkg
            .join("vendor")
            .join(triple)
            .join("codex")
            .join("codex"),
        scope
            .join("codex")
            .join("vendor")
            .join(triple)
            .join("codex")
            .join("codex"),
        scope
            .join("codex")
            .join("vendor")
            .join(triple)
            .join("bin")
            .join("codex"),
    ]
    .into_iter()
    .find(|c| is_executable(c))
}

fn target_triple() -> Option<&'static str> {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => Some("x86_64-unknown-linux-musl"),
        ("linux", "aarch64") => Some("aarch64-unknown-linux-musl"),
        ("macos", "x86_64") => Some("x86_64-apple-darwin"),
        ("macos", "aarch64") => Some("aarch64-apple-darwin"),
        _ => None,
    }
}

fn npm_platform() -> Option<&'static str> {
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
