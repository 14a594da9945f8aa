//! Update advisories: the newest Codex release according to pluggable, cached sources (the npm
//! registry of the user's npm configuration, GitHub releases, the Homebrew formula API),
//! compared with the detected binary and the range this build was tested with.
//!
//! Every source is asked at once with a timeout; one that is down, slow or answers something
//! unreadable is reported in [`UpdateReport::sources`] and the others still decide. Answers are
//! cached (default 24 hours, in `~/.codex-driver/update-check.json`) so a program may check on
//! every start.
//!
//! ```no_run
//! # async fn demo() -> codex_driver::Result<()> {
//! use codex_driver::update::{Advisory, UpdateChecker};
//!
//! let installed = semver::Version::new(0, 169, 0);
//! let report = UpdateChecker::new().check(&installed).await;
//! if let Advisory::NewerAvailable { latest, .. } = &report.advisory {
//!     eprintln!("Codex {latest} is out (you have {installed}): codex-driver install latest");
//! }
//! # Ok(()) }
//! ```

use crate::binary::{SUPPORTED_CODEX, Support, TESTED_CODEX};
use crate::install::NpmConfig;
use semver::Version;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What a source's lookup returns: the newest release, or why there is none.
pub type Lookup<'a> = Pin<Box<dyn Future<Output = Result<Version, String>> + Send + 'a>>;

/// A place that knows the newest Codex release. Implement it to add your own (a mirror, an
/// internal release feed).
pub trait ReleaseSource: std::fmt::Debug + Send + Sync {
    /// Its name in reports and in the cache (`npm`, `github`, `homebrew`).
    fn name(&self) -> &str;
    /// The newest release, asked with `client` (whose timeout the checker set).
    fn latest<'a>(&'a self, client: &'a reqwest::Client) -> Lookup<'a>;
}

/// GETs `url` as JSON; a failure names the URL's host and what went wrong.
async fn get_json(
    client: &reqwest::Client,
    url: &str,
    auth: Option<reqwest::header::HeaderValue>,
) -> Result<serde_json::Value, String> {
    let mut req = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .header(reqwest::header::USER_AGENT, "codex-driver");
    if let Some(a) = auth {
        req = req.header(reqwest::header::AUTHORIZATION, a);
    }
    let resp = req.send().await.map_err(|e| {
        if e.is_timeout() {
            format!("GET {url}: timed out")
        } else {
            format!("GET {url}: {}", e.without_url())
        }
    })?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("GET {url}: HTTP {status}"));
    }
    let body = resp.bytes().await.map_err(|e| {
        if e.is_timeout() {
            format!("GET {url}: timed out")
        } else {
            format!("GET {url}: {}", e.without_url())
        }
    })?;
    serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not JSON ({e})"))
}

/// A version string as a source wrote it (`0.171.0`, `v0.171.0`, `rust-v0.171.0`).
fn parse_release(what: &str, raw: Option<&str>) -> Result<Version, String> {
    let raw = raw.ok_or_else(|| format!("{what} is missing"))?;
    let start = raw.find(|c: char| c.is_ascii_digit()).unwrap_or(raw.len());
    Version::parse(&raw[start..]).map_err(|e| format!("{what} {raw:?} is not a version: {e}"))
}

/// The `latest` dist-tag of `@openai/codex` on the npm registry of the user's npm
/// configuration (its credentials too), or of the one given.
#[derive(Debug, Clone, Default)]
pub struct NpmSource {
    config: Option<NpmConfig>,
}

impl NpmSource {
    /// The user's npm configuration, read when asked.
    pub fn new() -> Self {
        Self::default()
    }

    /// This configuration (registry and credentials) instead.
    pub fn with_config(config: NpmConfig) -> Self {
        Self {
            config: Some(config),
        }
    }
}

impl ReleaseSource for NpmSource {
    fn name(&self) -> &str {
        "npm"
    }
    fn latest<'a>(&'a self, client: &'a reqwest::Client) -> Lookup<'a> {
        Box::pin(async move {
            let cfg = match &self.config {
                Some(c) => c.clone(),
                None => NpmConfig::load().await,
            };
            let url = format!(
                "{}/{}/latest",
                cfg.registry().trim_end_matches('/'),
                crate::install::NPM_PACKAGE.replace('/', "%2f")
            );
            let v = get_json(client, &url, cfg.authorization(&url)).await?;
            parse_release(
                "the registry's version",
                v.get("version").and_then(|v| v.as_str()),
            )
        })
    }
}

/// The latest release of `openai/codex` on GitHub (`tag_name` such as `rust-v0.171.0`).
/// `$GITHUB_TOKEN`, when set, is sent (higher rate limits); it never appears in errors.
#[derive(Debug, Clone)]
pub struct GitHubSource {
    api: String,
    repo: String,
}

impl Default for GitHubSource {
    fn default() -> Self {
        Self {
            api: "https://api.github.com".into(),
            repo: "openai/codex".into(),
        }
    }
}

impl GitHubSource {
    /// api.github.com, `openai/codex`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Another API base (GitHub Enterprise, a mock).
    pub fn api_base(mut self, url: impl Into<String>) -> Self {
        self.api = url.into();
        self
    }
}

impl ReleaseSource for GitHubSource {
    fn name(&self) -> &str {
        "github"
    }
    fn latest<'a>(&'a self, client: &'a reqwest::Client) -> Lookup<'a> {
        Box::pin(async move {
            let url = format!(
                "{}/repos/{}/releases/latest",
                self.api.trim_end_matches('/'),
                self.repo
            );
            let auth = std::env::var("GITHUB_TOKEN")
                .ok()
                .filter(|t| !t.is_empty())
                .and_then(|t| reqwest::header::HeaderValue::from_str(&format!("Bearer {t}")).ok())
                .map(|mut h| {
                    h.set_sensitive(true);
                    h
                });
            let v = get_json(client, &url, auth).await?;
            parse_release(
                "the release's tag_name",
                v.get("tag_name").and_then(|v| v.as_str()),
            )
        })
    }
}

/// The stable version of Homebrew's `codex` formula (formulae.brew.sh).
#[derive(Debug, Clone)]
pub struct HomebrewSource {
    api: String,
    formula: String,
}

impl Default for HomebrewSource {
    fn default() -> Self {
        Self {
            api: "https://formulae.brew.sh/api".into(),
            formula: "codex".into(),
        }
    }
}

impl HomebrewSource {
    /// formulae.brew.sh, formula `codex`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Another API base (a mock).
    pub fn api_base(mut self, url: impl Into<String>) -> Self {
        self.api = url.into();
        self
    }
}

impl ReleaseSource for HomebrewSource {
    fn name(&self) -> &str {
        "homebrew"
    }
    fn latest<'a>(&'a self, client: &'a reqwest::Client) -> Lookup<'a> {
        Box::pin(async move {
            let url = format!(
                "{}/formula/{}.json",
                self.api.trim_end_matches('/'),
                self.formula
            );
            let v = get_json(client, &url, None).await?;
            parse_release(
                "the formula's versions.stable",
                v.pointer("/versions/stable").and_then(|v| v.as_str()),
            )
        })
    }
}

/// What one source said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SourceOutcome {
    /// The source's name.
    pub source: String,
    /// The newest release it knows, when it answered.
    pub latest: Option<Version>,
    /// Why it didn't (down, timed out, a malformed answer).
    pub error: Option<String>,
    /// Whether the answer came from the cache.
    pub cached: bool,
}

/// The verdict for the installed binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Advisory {
    /// Nothing newer is out.
    UpToDate,
    /// A newer release is out; `tested` when this build was tested with it.
    NewerAvailable {
        /// The newest release.
        latest: Version,
        /// Whether it is one of [`TESTED_CODEX`].
        tested: bool,
    },
    /// The binary is newer than every release this build was tested with (it may work; it
    /// was not checked).
    NewerThanTested {
        /// The newest tested release.
        newest_tested: Version,
    },
    /// The binary is outside [`SUPPORTED_CODEX`]: too old for this build.
    Unsupported {
        /// The supported range.
        supported: String,
    },
    /// No source answered and the binary is in the supported range: nothing to say.
    Unknown,
}

/// The result of [`UpdateChecker::check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct UpdateReport {
    /// The detected binary's version.
    pub installed: Version,
    /// The newest release any source knows.
    pub latest: Option<Version>,
    /// The verdict.
    pub advisory: Advisory,
    /// Each source's answer, in the checker's order.
    pub sources: Vec<SourceOutcome>,
}

/// The verdict for `installed` given the newest release `latest` (if known).
pub fn advise(installed: &Version, latest: Option<&Version>) -> Advisory {
    match crate::binary::support(installed) {
        Support::TooOld => {
            return Advisory::Unsupported {
                supported: SUPPORTED_CODEX.to_owned(),
            };
        }
        Support::NewerThanTested => {
            let newest = TESTED_CODEX
                .iter()
                .filter_map(|v| Version::parse(v).ok())
                .max()
                .unwrap_or_else(|| Version::new(0, 0, 0));
            return Advisory::NewerThanTested {
                newest_tested: newest,
            };
        }
        _ => {}
    }
    match latest {
        Some(l) if l > installed => Advisory::NewerAvailable {
            latest: l.clone(),
            tested: TESTED_CODEX.contains(&l.to_string().as_str()),
        },
        Some(_) => Advisory::UpToDate,
        None => Advisory::Unknown,
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Cache {
    #[serde(default)]
    sources: BTreeMap<String, CacheEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CacheEntry {
    latest: Version,
    checked_at_ms: u64,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Asks [`ReleaseSource`]s for the newest release. See the [module docs](self).
#[derive(Debug, Clone)]
pub struct UpdateChecker {
    sources: Vec<Arc<dyn ReleaseSource>>,
    cache: Option<PathBuf>,
    ttl: Duration,
    timeout: Duration,
    refresh: bool,
}

impl Default for UpdateChecker {
    fn default() -> Self {
        Self::new()
    }
}

impl UpdateChecker {
    /// npm, GitHub and Homebrew; cached 24 h in `~/.codex-driver/update-check.json`; 5 s per
    /// source.
    pub fn new() -> Self {
        Self {
            sources: vec![
                Arc::new(NpmSource::new()),
                Arc::new(GitHubSource::new()),
                Arc::new(HomebrewSource::new()),
            ],
            cache: crate::dirs::app_dir(crate::binary::DEFAULT_APP)
                .ok()
                .map(|d| d.join("update-check.json")),
            ttl: Duration::from_secs(24 * 3600),
            timeout: Duration::from_secs(5),
            refresh: false,
        }
    }

    /// Only these sources, in this order.
    pub fn sources(mut self, sources: Vec<Arc<dyn ReleaseSource>>) -> Self {
        self.sources = sources;
        self
    }

    /// Caches answers in this file (`None`: no cache).
    pub fn cache_file(mut self, path: Option<PathBuf>) -> Self {
        self.cache = path;
        self
    }

    /// How long a cached answer is used (default 24 h).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long one source may take (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Ask every source even when the cache has a fresh answer.
    pub fn refresh(mut self, yes: bool) -> Self {
        self.refresh = yes;
        self
    }

    fn read_cache(&self) -> Cache {
        self.cache
            .as_ref()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Every source's answer, in order (fresh cached answers unless [`refresh`](Self::refresh)).
    pub async fn latest(&self) -> Vec<SourceOutcome> {
        let mut cache = self.read_cache();
        let fresh_after =
            now_ms().saturating_sub(u64::try_from(self.ttl.as_millis()).unwrap_or(u64::MAX));
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout)
            .build()
            .unwrap_or_default();
        let mut tasks = tokio::task::JoinSet::new();
        let mut out: Vec<Option<SourceOutcome>> = vec![None; self.sources.len()];
        for (i, s) in self.sources.iter().enumerate() {
            let name = s.name().to_owned();
            if !self.refresh
                && let Some(e) = cache
                    .sources
                    .get(&name)
                    .filter(|e| e.checked_at_ms >= fresh_after)
            {
                out[i] = Some(SourceOutcome {
                    source: name,
                    latest: Some(e.latest.clone()),
                    error: None,
                    cached: true,
                });
                continue;
            }
            let (s, client, timeout) = (s.clone(), client.clone(), self.timeout);
            tasks.spawn(async move {
                // The client's timeout covers each request; this covers a source that makes
                // several, or none at all.
                let r = tokio::time::timeout(timeout, s.latest(&client))
                    .await
                    .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")));
                (i, name, r)
            });
        }
        let mut changed = false;
        while let Some(joined) = tasks.join_next().await {
            let Ok((i, name, r)) = joined else { continue };
            let outcome = match r {
                Ok(v) => {
                    cache.sources.insert(
                        name.clone(),
                        CacheEntry {
                            latest: v.clone(),
                            checked_at_ms: now_ms(),
                        },
                    );
                    changed = true;
                    SourceOutcome {
                        source: name,
                        latest: Some(v),
                        error: None,
                        cached: false,
                    }
                }
                Err(e) => SourceOutcome {
                    source: name,
                    latest: None,
                    error: Some(e),
                    cached: false,
                },
            };
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(outcome);
            }
        }
        if changed && let Some(path) = &self.cache {
            // A cache that can't be written costs a lookup next time, nothing more.
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Ok(bytes) = serde_json::to_vec_pretty(&cache) {
                let _ = crate::fsutil::write_atomic(path, &bytes, 0o600);
            }
        }
        out.into_iter()
            .zip(&self.sources)
            .map(|(o, s)| {
                o.unwrap_or_else(|| SourceOutcome {
                    source: s.name().to_owned(),
                    latest: None,
                    error: Some("the lookup panicked".into()),
                    cached: false,
                })
            })
            .collect()
    }

    /// The newest release across the sources, and the verdict for `installed`.
    pub async fn check(&self, installed: &Version) -> UpdateReport {
        let sources = self.latest().await;
        let latest = sources.iter().filter_map(|s| s.latest.clone()).max();
        UpdateReport {
            installed: installed.clone(),
            advisory: advise(installed, latest.as_ref()),
            latest,
            sources,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn advisories_for_each_place_in_the_range() {
        let newest = v(TESTED_CODEX[0]);
        assert_eq!(advise(&newest, Some(&newest)), Advisory::UpToDate);
        assert_eq!(
            advise(&v("0.169.0"), Some(&newest)),
            Advisory::NewerAvailable {
                latest: newest.clone(),
                tested: true
            }
        );
        assert_eq!(
            advise(&newest, Some(&v("9.0.0"))),
            Advisory::NewerAvailable {
                latest: v("9.0.0"),
                tested: false
            }
        );
        assert_eq!(
            advise(&v("9.0.0"), Some(&v("9.0.0"))),
            Advisory::NewerThanTested {
                newest_tested: newest.clone()
            }
        );
        assert_eq!(
            advise(&v("0.1.0"), None),
            Advisory::Unsupported {
                supported: SUPPORTED_CODEX.into()
            }
        );
        assert_eq!(advise(&newest, None), Advisory::Unknown);
    }

    #[test]
    fn release_strings_of_each_source() {
        assert_eq!(parse_release("x", Some("rust-v0.171.0")), Ok(v("0.171.0")));
        assert_eq!(parse_release("x", Some("v1.2.3")), Ok(v("1.2.3")));
        assert_eq!(parse_release("x", Some("0.9.0")), Ok(v("0.9.0")));
        assert_eq!(parse_release("x", None), Err("x is missing".into()));
        assert!(
            parse_release("the tag", Some("nightly"))
                .is_err_and(|e| e.starts_with("the tag \"nightly\" is not a version"))
        );
    }

    #[test]
    fn advisories_serialize_with_a_status_tag() {
        let a = Advisory::NewerAvailable {
            latest: v("1.0.0"),
            tested: false,
        };
        assert_eq!(
            serde_json::to_value(&a).unwrap_or_default(),
            serde_json::json!({"status": "newer_available", "latest": "1.0.0", "tested": false})
        );
    }
}
