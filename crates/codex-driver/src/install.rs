//! Managed installs: fetch a Codex release's platform package from the npm registry, verify its
//! published integrity hash, and unpack it atomically into [`ManagedInstalls`].
//!
//! The registry and its credentials come from the user's npm configuration ([`NpmConfig`]:
//! `$NPM_CONFIG_REGISTRY`, the user and global `.npmrc` with `//host/:_authToken=${TOKEN}`
//! lines; a project's `.npmrc` only when named, see [`NpmConfig::load_for_project`]), never a
//! hard-coded host. The releases in [`TESTED_CODEX`](crate::binary::TESTED_CODEX) have their
//! integrity pinned ([`TESTED_CODEX_INTEGRITY`](crate::binary::TESTED_CODEX_INTEGRITY)): a
//! registry announcing another hash for one fails with [`InstallStage::Integrity`], and its
//! bytes must match the pin. Concurrent installers serialize on a lock file; a failed, tampered
//! or truncated download leaves nothing behind.
//!
//! ```no_run
//! # async fn demo() -> codex_driver::Result<()> {
//! use codex_driver::binary::ManagedInstalls;
//! use codex_driver::install::Installer;
//!
//! let installs = ManagedInstalls::for_app("myhub")?;
//! let installed = Installer::new(installs).install("latest", &mut |_progress| {}).await?;
//! println!("codex {} at {}", installed.version, installed.binary.display());
//! # Ok(()) }
//! ```

use crate::binary::{ManagedInstalls, npm_platform, target_triple};
use crate::error::{Error, InstallStage, Result};
use crate::fsutil::FileLock;
use base64::Engine;
use semver::Version;
use sha2::{Digest, Sha512};
use std::io::Write;
use std::path::{Component, Path, PathBuf};

mod npm_config;
pub use npm_config::NpmConfig;

/// The npm package Codex ships in.
pub const NPM_PACKAGE: &str = "@openai/codex";

/// The public npm registry, used when no configuration names another.
pub const DEFAULT_REGISTRY: &str = "https://registry.npmjs.org/";

/// Progress of an install, for a progress bar.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// Asking the registry which version and tarball.
    Resolving,
    /// Bytes downloaded so far, of `total` when known.
    Downloading {
        /// Bytes so far.
        done: u64,
        /// Content length, if sent.
        total: Option<u64>,
    },
    /// Unpacking.
    Unpacking,
}

/// A finished install.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Installed {
    /// The version installed.
    pub version: Version,
    /// The native binary.
    pub binary: PathBuf,
    /// True when it was already installed (nothing downloaded).
    pub already_installed: bool,
}

/// Installs Codex releases into a [`ManagedInstalls`] directory.
#[derive(Debug, Clone)]
pub struct Installer {
    installs: ManagedInstalls,
    registry: Option<String>,
    npm: Option<NpmConfig>,
    client: reqwest::Client,
}

impl Installer {
    /// An installer using the npm registry from the user's configuration.
    pub fn new(installs: ManagedInstalls) -> Self {
        Self {
            installs,
            registry: None,
            npm: None,
            // A stalled registry must not hold the install lock for ever.
            client: reqwest::Client::builder()
                .connect_timeout(std::time::Duration::from_secs(30))
                .read_timeout(std::time::Duration::from_secs(120))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Where it installs.
    pub fn installs(&self) -> &ManagedInstalls {
        &self.installs
    }

    /// Uses this registry URL instead of the npm configuration's (its credentials still apply).
    pub fn registry(mut self, url: impl Into<String>) -> Self {
        self.registry = Some(url.into());
        self
    }

    /// Uses this npm configuration instead of reading the user's ([`NpmConfig::load`]), e.g.
    /// [`NpmConfig::load_for_project`] to honour a project's `.npmrc`.
    pub fn npm_config(mut self, cfg: NpmConfig) -> Self {
        self.npm = Some(cfg);
        self
    }

    /// Installs `requested` (`latest`, another dist-tag, or an exact version such as `0.169.0`).
    pub async fn install(
        &self,
        requested: &str,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> Result<Installed> {
        let fail = |stage: InstallStage, detail: String| Error::Install {
            version: requested.to_owned(),
            stage,
            detail,
        };
        let (Some(triple), Some(platform)) = (target_triple(), npm_platform()) else {
            return Err(fail(
                InstallStage::Registry,
                "Codex publishes no package for this platform".into(),
            ));
        };
        // An exact version already installed needs no network at all.
        if let Ok(v) = Version::parse(requested)
            && let Some(bin) = self.installs.binary(requested)
        {
            return Ok(Installed {
                version: v,
                binary: bin,
                already_installed: true,
            });
        }
        progress(Progress::Resolving);
        let mut npm = match &self.npm {
            Some(c) => c.clone(),
            None => NpmConfig::load().await,
        };
        if let Some(r) = &self.registry {
            npm = npm.with_registry(r.clone());
        }
        let registry = format!("{}/", npm.registry().trim_end_matches('/'));
        let pkg = NPM_PACKAGE.replace('/', "%2f");
        let version = match Version::parse(requested) {
            Ok(v) => v,
            Err(_) => {
                let manifest = self
                    .get_json(&npm, &format!("{registry}{pkg}/{requested}"))
                    .await
                    .map_err(|d| fail(InstallStage::Registry, d))?;
                let v = manifest
                    .get("version")
                    .and_then(|v| v.as_str())
                    .unwrap_or_default();
                Version::parse(v).map_err(|e| {
                    fail(
                        InstallStage::Registry,
                        format!("registry answered version {v:?}: {e}"),
                    )
                })?
            }
        };
        if let Some(bin) = self.installs.binary(&version.to_string()) {
            return Ok(Installed {
                version,
                binary: bin,
                already_installed: true,
            });
        }
        let manifest_url = format!("{registry}{pkg}/{version}-{platform}");
        let manifest = self
            .get_json(&npm, &manifest_url)
            .await
            .map_err(|d| fail(InstallStage::Registry, d))?;
        let dist = manifest.get("dist");
        let tarball = dist.and_then(|d| d.get("tarball")).and_then(|t| t.as_str());
        let integrity = dist
            .and_then(|d| d.get("integrity"))
            .and_then(|t| t.as_str());
        let (Some(tarball), Some(integrity)) = (tarball, integrity) else {
            return Err(fail(
                InstallStage::Registry,
                format!(
                    "{} has no dist.tarball/dist.integrity",
                    redact(&manifest_url)
                ),
            ));
        };
        // A tested release has a recorded hash: the registry's metadata (a mirror, or one a
        // configuration pointed at) must agree with it, and the bytes are checked against it.
        // Keyed on major.minor.patch: `0.169.0+x` or `0.169.0-rc` from a registry must not
        // slip past the pin of 0.169.0.
        let plain = Version::new(version.major, version.minor, version.patch);
        let pinned = crate::binary::pinned_integrity(&plain.to_string(), platform);
        if let Some(pin) = pinned
            && Integrity::parse(integrity).map(|i| i.sha512)
                != Integrity::parse(pin).map(|i| i.sha512)
        {
            let got: String = integrity.chars().take(200).collect();
            return Err(fail(
                InstallStage::Integrity,
                format!(
                    "the registry's integrity for {NPM_PACKAGE}@{version}-{platform} is {got:?}, \
                     but codex-driver pins {pin}"
                ),
            ));
        }
        let integrity = pinned.unwrap_or(integrity);

        let platform_dir = self
            .installs
            .version_dir(&version.to_string())
            .and_then(|d| d.parent().map(Path::to_path_buf))
            .ok_or_else(|| fail(InstallStage::Layout, "unsupported platform".into()))?;
        std::fs::create_dir_all(&platform_dir).map_err(|e| {
            fail(
                InstallStage::Lock,
                format!("creating {}: {e}", platform_dir.display()),
            )
        })?;
        let lock_path = platform_dir.join(".install.lock");
        let _lock = tokio::task::spawn_blocking(move || FileLock::acquire(&lock_path))
            .await
            .map_err(|e| fail(InstallStage::Lock, e.to_string()))?
            .map_err(|e| fail(InstallStage::Lock, e.to_string()))?;
        // Another installer may have finished while we waited.
        if let Some(bin) = self.installs.binary(&version.to_string()) {
            return Ok(Installed {
                version,
                binary: bin,
                already_installed: true,
            });
        }

        let download = tempfile::Builder::new()
            .prefix(".download-")
            .tempfile_in(&platform_dir)
            .map_err(|e| fail(InstallStage::Download, e.to_string()))?;
        self.download(&npm, tarball, integrity, download.as_file(), progress)
            .await
            .map_err(|e| match e {
                DownloadError::Integrity(actual) => Error::Integrity {
                    url: redact(tarball),
                    expected: integrity.to_owned(),
                    actual,
                },
                DownloadError::Other(d) => fail(InstallStage::Download, d),
            })?;

        progress(Progress::Unpacking);
        let staging = tempfile::Builder::new()
            .prefix(".staging-")
            .tempdir_in(&platform_dir)
            .map_err(|e| fail(InstallStage::Unpack, e.to_string()))?;
        let (archive, dest, triple) = (
            download.path().to_path_buf(),
            staging.path().to_path_buf(),
            triple.to_owned(),
        );
        tokio::task::spawn_blocking(move || unpack(&archive, &dest, &triple))
            .await
            .map_err(|e| fail(InstallStage::Unpack, e.to_string()))?
            .map_err(|d| fail(InstallStage::Unpack, d))?;
        let bin_rel = ["bin/codex", "codex/codex"]
            .into_iter()
            .find(|r| crate::binary::is_executable(&staging.path().join(r)))
            .ok_or_else(|| {
                fail(
                    InstallStage::Layout,
                    format!(
                        "no executable bin/codex for {}",
                        target_triple().unwrap_or_default()
                    ),
                )
            })?;
        let final_dir = platform_dir.join(version.to_string());
        let staged = staging.keep();
        std::fs::rename(&staged, &final_dir).map_err(|e| {
            let _ = std::fs::remove_dir_all(&staged);
            fail(
                InstallStage::Unpack,
                format!("moving into {}: {e}", final_dir.display()),
            )
        })?;
        Ok(Installed {
            version,
            binary: final_dir.join(bin_rel),
            already_installed: false,
        })
    }

    fn get(&self, npm: &NpmConfig, url: &str) -> reqwest::RequestBuilder {
        let req = self.client.get(url);
        match npm.authorization(url) {
            Some(auth) => req.header(reqwest::header::AUTHORIZATION, auth),
            None => req,
        }
    }

    async fn get_json(
        &self,
        npm: &NpmConfig,
        url: &str,
    ) -> std::result::Result<serde_json::Value, String> {
        let resp = self
            .get(npm, url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {}: {}", redact(url), e.without_url()))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(http_failure(npm, url, status));
        }
        resp.json()
            .await
            .map_err(|e| format!("GET {}: {}", redact(url), e.without_url()))
    }

    async fn download(
        &self,
        npm: &NpmConfig,
        url: &str,
        integrity: &str,
        mut file: &std::fs::File,
        progress: &mut (dyn FnMut(Progress) + Send),
    ) -> std::result::Result<(), DownloadError> {
        let expected = Integrity::parse(integrity)
            .ok_or_else(|| DownloadError::Other(format!("unsupported integrity {integrity:?}")))?;
        let mut resp = self.get(npm, url).send().await.map_err(|e| {
            DownloadError::Other(format!("GET {}: {}", redact(url), e.without_url()))
        })?;
        if !resp.status().is_success() {
            return Err(DownloadError::Other(http_failure(npm, url, resp.status())));
        }
        let total = resp.content_length();
        let mut hasher = Sha512::new();
        let mut done = 0u64;
        progress(Progress::Downloading { done, total });
        while let Some(chunk) = resp.chunk().await.map_err(|e| {
            DownloadError::Other(format!("GET {}: {}", redact(url), e.without_url()))
        })? {
            hasher.update(&chunk);
            file.write_all(&chunk)
                .map_err(|e| DownloadError::Other(e.to_string()))?;
            done += chunk.len() as u64;
            progress(Progress::Downloading { done, total });
        }
        if let Some(t) = total
            && t != done
        {
            return Err(DownloadError::Other(format!(
                "GET {}: truncated ({done} of {t} bytes)",
                redact(url)
            )));
        }
        file.flush()
            .map_err(|e| DownloadError::Other(e.to_string()))?;
        let actual = base64::engine::general_purpose::STANDARD.encode(hasher.finalize());
        if actual != expected.sha512 {
            return Err(DownloadError::Integrity(format!("sha512-{actual}")));
        }
        Ok(())
    }
}

/// `GET <url>: HTTP <status>`, saying for 401/403 whether credentials were sent.
fn http_failure(npm: &NpmConfig, url: &str, status: reqwest::StatusCode) -> String {
    let hint = match status.as_u16() {
        401 | 403 if npm.has_credentials_for(url) => " (the configured credentials were refused)",
        401 | 403 => " (no credentials for this registry in the npm configuration)",
        _ => "",
    };
    format!("GET {}: HTTP {status}{hint}", redact(url))
}

enum DownloadError {
    Integrity(String),
    Other(String),
}

/// `url` without credentials (`https://user:token@host/...` -> `https://host/...`), as the
/// HTTP client reads it; a string that is no URL loses everything up to its last `@`.
fn redact(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => match url.rsplit_once('@') {
            Some((_, rest)) => format!("<redacted>@{rest}"),
            None => url.to_owned(),
        },
    }
}

/// A Subresource Integrity string; only `sha512` (what npm publishes) is accepted.
struct Integrity {
    sha512: String,
}

impl Integrity {
    fn parse(s: &str) -> Option<Self> {
        s.split_whitespace()
            .find_map(|h| h.strip_prefix("sha512-"))
            .map(|b| Self {
                sha512: b.to_owned(),
            })
    }
}

/// Extracts `package/vendor/<triple>/**` of an npm tarball into `dest`, refusing entries that
/// would escape it; links are skipped.
fn unpack(archive: &Path, dest: &Path, triple: &str) -> std::result::Result<(), String> {
    let file = std::fs::File::open(archive).map_err(|e| e.to_string())?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let prefix = Path::new("package").join("vendor").join(triple);
    let mut count = 0usize;
    for entry in tar.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let path = entry.path().map_err(|e| e.to_string())?.into_owned();
        let Ok(rel) = path.strip_prefix(&prefix) else {
            continue;
        };
        if rel.as_os_str().is_empty() {
            continue;
        }
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(format!("unsafe path in archive: {}", path.display()));
        }
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir()) {
            continue;
        }
        let out = dest.join(rel);
        if let Some(parent) = out.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        entry
            .unpack(&out)
            .map_err(|e| format!("{}: {e}", rel.display()))?;
        count += 1;
    }
    if count == 0 {
        return Err(format!(
            "the archive has nothing under {}",
            prefix.display()
        ));
    }
    Ok(())
}

/// The npm registry URL from the user's configuration (see [`NpmConfig::load`]).
pub async fn npm_registry() -> String {
    NpmConfig::load().await.registry().to_owned()
}

/// The `registry=` value of an `.npmrc` text.
pub fn registry_from_npmrc(text: &str) -> Option<String> {
    npm_config::npmrc_value(text, "registry")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npmrc() {
        assert_eq!(
            registry_from_npmrc(
                "# c\n@scope:registry=https://x/\nregistry = https://mirror.example/npm/\n"
            ),
            Some("https://mirror.example/npm/".into())
        );
        assert_eq!(registry_from_npmrc("//host/:_authToken=abc\n"), None);
    }

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(
            redact("https://me:t0ken@reg.example/a/b.tgz"),
            "https://reg.example/a/b.tgz"
        );
        assert_eq!(redact("http://127.0.0.1:9/x"), "http://127.0.0.1:9/x");
        assert_eq!(redact("https://u@h"), "https://h/");
        assert_eq!(redact("https://evil\\@h/x"), "https://evil/@h/x");
        assert_eq!(redact("not a url: t0ken@x"), "<redacted>@x");
    }

    #[test]
    fn every_tested_release_is_pinned_for_linux_and_macos() {
        use crate::binary::{TESTED_CODEX, TESTED_CODEX_INTEGRITY, pinned_integrity};
        for v in TESTED_CODEX {
            for p in ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64"] {
                let pin = pinned_integrity(v, p).and_then(Integrity::parse);
                let bytes = pin.and_then(|i| {
                    base64::engine::general_purpose::STANDARD
                        .decode(i.sha512)
                        .ok()
                });
                assert_eq!(bytes.map(|b| b.len()), Some(64), "{v} {p}");
            }
        }
        for (v, _, _) in TESTED_CODEX_INTEGRITY {
            assert!(TESTED_CODEX.contains(v), "{v} is pinned but not tested");
        }
        assert_eq!(pinned_integrity("9.9.9", "linux-x64"), None);
    }

    #[test]
    fn integrity() {
        assert_eq!(
            Integrity::parse("sha1-x sha512-abc=").map(|i| i.sha512),
            Some("abc=".into())
        );
        assert!(Integrity::parse("sha1-x").is_none());
    }
}
