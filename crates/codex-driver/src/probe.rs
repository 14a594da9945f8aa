//! What a Codex binary can do: version, feature flags, sub-commands and `exec` flags, probed
//! from the binary itself and cached on disk per binary fingerprint.
//!
//! ```no_run
//! # async fn demo() -> codex_driver::Result<()> {
//! use codex_driver::Binary;
//! use codex_driver::probe::Prober;
//! use std::time::Duration;
//!
//! let binary = Binary::resolve(None, true)?;
//! let caps = Prober::new().ttl(Duration::from_secs(3600)).probe(&binary).await?;
//! println!("codex {} has exec fork: {}", caps.version, caps.exec_commands.contains("fork"));
//! # Ok(()) }
//! ```

use crate::binary::{Binary, parse_version};
use crate::error::{Error, Result};
use semver::Version;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Everything probed from one binary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Capabilities {
    /// `codex --version`.
    pub version: Version,
    /// `codex features list`.
    pub features: Vec<Feature>,
    /// Top-level sub-commands from `codex --help` (aliases included).
    pub commands: BTreeSet<String>,
    /// Long flags of `codex exec --help` (e.g. `--json`).
    pub exec_flags: BTreeSet<String>,
    /// Long flags of the top-level `codex --help`: the TUI's options (e.g. `--no-daemon`).
    /// Empty in caches written before this field existed.
    #[serde(default)]
    pub top_flags: BTreeSet<String>,
    /// Sub-commands of `codex exec` (`resume`, `fork`, `review`).
    pub exec_commands: BTreeSet<String>,
    /// When it was probed (seconds since the Unix epoch).
    pub probed_at: u64,
}

impl Capabilities {
    /// A feature by name.
    pub fn feature(&self, name: &str) -> Option<&Feature> {
        self.features.iter().find(|f| f.name == name)
    }
}

/// One line of `codex features list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Feature {
    /// Feature name (what `--enable`/`--disable` take).
    pub name: String,
    /// Maturity stage.
    pub stage: FeatureStage,
    /// Whether it is on in the effective configuration.
    pub enabled: bool,
}

/// The stage column of `codex features list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FeatureStage {
    /// `stable`.
    Stable,
    /// `experimental`.
    Experimental,
    /// `under development`.
    UnderDevelopment,
    /// `deprecated`.
    Deprecated,
    /// `removed`.
    Removed,
    /// A stage this library does not know.
    Other(String),
}

impl FeatureStage {
    fn parse(s: &str) -> Self {
        match s {
            "stable" => Self::Stable,
            "experimental" => Self::Experimental,
            "under development" => Self::UnderDevelopment,
            "deprecated" => Self::Deprecated,
            "removed" => Self::Removed,
            other => Self::Other(other.to_owned()),
        }
    }

    /// As printed by Codex.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Stable => "stable",
            Self::Experimental => "experimental",
            Self::UnderDevelopment => "under development",
            Self::Deprecated => "deprecated",
            Self::Removed => "removed",
            Self::Other(s) => s,
        }
    }
}

/// Parses `codex features list` (columns separated by runs of two or more spaces, since a stage
/// may contain one). Lines that don't fit are skipped.
pub fn parse_features(text: &str) -> Vec<Feature> {
    text.lines()
        .filter_map(|line| {
            let cols: Vec<&str> = line
                .split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect();
            match cols.as_slice() {
                [name, stage, state] => Some(Feature {
                    name: (*name).to_owned(),
                    stage: FeatureStage::parse(stage),
                    enabled: match *state {
                        "true" => true,
                        "false" => false,
                        _ => return None,
                    },
                }),
                _ => None,
            }
        })
        .collect()
}

/// Sub-commands and long flags found in a clap `--help` text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HelpInfo {
    /// Sub-command names and their aliases.
    pub commands: BTreeSet<String>,
    /// Long flags (`--name`).
    pub flags: BTreeSet<String>,
}

/// Parses clap help output.
pub fn parse_help(text: &str) -> HelpInfo {
    let mut info = HelpInfo::default();
    let mut in_commands = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if !line.starts_with(' ') {
            in_commands = line.trim_end() == "Commands:";
            continue;
        }
        let indent = line.len() - trimmed.len();
        if in_commands {
            // "  exec   Run Codex non-interactively [aliases: e]"; continuation lines are deeper.
            if indent <= 4
                && let Some(name) = trimmed.split_whitespace().next()
            {
                info.commands.insert(name.to_owned());
                if let Some(a) = trimmed.split("[aliases: ").nth(1) {
                    for alias in a.trim_end_matches(']').split(',') {
                        info.commands.insert(alias.trim().to_owned());
                    }
                }
            }
            continue;
        }
        if trimmed.starts_with('-') {
            for tok in trimmed
                .split([' ', ',', '='])
                .filter(|t| t.starts_with("--"))
            {
                let flag: String = tok
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                if flag.len() > 2 {
                    info.flags.insert(flag);
                }
            }
        }
    }
    info
}

/// Probes binaries, with an on-disk cache keyed by path, size and modification time.
#[derive(Debug, Clone)]
pub struct Prober {
    cache_dir: Option<PathBuf>,
    ttl: Duration,
    refresh: bool,
}

impl Default for Prober {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Serialize, Deserialize)]
struct CacheEntry {
    path: PathBuf,
    size: u64,
    mtime_ns: u128,
    capabilities: Capabilities,
}

impl Prober {
    /// Caches in `$XDG_CACHE_HOME/codex-driver` (or `~/.cache/codex-driver`) for 24 hours.
    pub fn new() -> Self {
        Self {
            cache_dir: default_cache_dir(),
            ttl: Duration::from_secs(24 * 3600),
            refresh: false,
        }
    }

    /// Cache directory (`None`: no disk cache).
    pub fn cache_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.cache_dir = dir;
        self
    }

    /// How long a cached probe stays valid.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Ignore the cache and probe again (the new result is cached).
    pub fn refresh(mut self, yes: bool) -> Self {
        self.refresh = yes;
        self
    }

    /// The cache file for `binary`.
    pub fn cache_file(&self, binary: &Path) -> Option<PathBuf> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        binary.hash(&mut h);
        self.cache_dir
            .as_ref()
            .map(|d| d.join(format!("probe-{:016x}.json", h.finish())))
    }

    /// The binary's capabilities, from the cache when fresh and the binary unchanged.
    pub async fn probe(&self, binary: &Binary) -> Result<Capabilities> {
        let path = binary.path();
        let fp = fingerprint(path).ok_or_else(|| Error::Probe {
            path: path.to_path_buf(),
            detail: "cannot stat the binary".into(),
        })?;
        let cache = self.cache_file(path);
        if !self.refresh
            && let Some(file) = &cache
            && let Ok(bytes) = std::fs::read(file)
            && let Ok(entry) = serde_json::from_slice::<CacheEntry>(&bytes)
            && entry.path == path
            && (entry.size, entry.mtime_ns) == fp
            && now().saturating_sub(entry.capabilities.probed_at) < self.ttl.as_secs()
        {
            return Ok(entry.capabilities);
        }
        let caps = probe_uncached(path).await?;
        if let Some(file) = cache {
            let entry = CacheEntry {
                path: path.to_path_buf(),
                size: fp.0,
                mtime_ns: fp.1,
                capabilities: caps.clone(),
            };
            // A cache that can't be written is only slower.
            if let Some(dir) = file.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
            if let Ok(bytes) = serde_json::to_vec_pretty(&entry) {
                let _ = crate::fsutil::write_atomic(&file, &bytes, 0o644);
            }
        }
        Ok(caps)
    }
}

/// Runs a short Codex sub-command (stdin closed, its own process group, at most `limit`) to
/// its end: a failure to start is [`Error::Spawn`], no answer in time [`Error::Probe`]; the
/// caller judges the exit status.
pub(crate) async fn run_codex(
    path: &Path,
    args: &[&str],
    env: &[(&str, &std::ffi::OsStr)],
    limit: std::time::Duration,
) -> Result<std::process::Output> {
    crate::process::run_bounded_in(path, args, env, limit)
        .await
        .map_err(|source| Error::Spawn {
            path: path.to_path_buf(),
            source,
        })?
        .ok_or_else(|| Error::Probe {
            path: path.to_path_buf(),
            detail: format!(
                "`codex {}` gave no answer within {} s",
                args.join(" "),
                limit.as_secs()
            ),
        })
}

/// [`run_codex`] within the probe timeout; a failure status is [`Error::Probe`]. Its stdout.
pub(crate) async fn run_capture(path: &Path, args: &[&str]) -> Result<String> {
    let out = run_codex(path, args, &[], crate::binary::VERSION_PROBE_TIMEOUT).await?;
    if !out.status.success() {
        return Err(Error::Probe {
            path: path.to_path_buf(),
            detail: format!(
                "`codex {}` exited with {}: {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

async fn probe_uncached(path: &Path) -> Result<Capabilities> {
    let (version, top, exec, features) = tokio::join!(
        run_capture(path, &["--version"]),
        run_capture(path, &["--help"]),
        run_capture(path, &["exec", "--help"]),
        run_capture(path, &["features", "list"]),
    );
    let version = version?;
    let version = parse_version(&version).ok_or_else(|| Error::Version {
        path: path.to_path_buf(),
        detail: format!("unexpected output {:?}", version.trim()),
    })?;
    let top = parse_help(&top?);
    let exec = parse_help(&exec?);
    // `features` appeared after 0.50; its absence is not an error.
    let features = features.map(|f| parse_features(&f)).unwrap_or_default();
    Ok(Capabilities {
        version,
        features,
        commands: top.commands,
        top_flags: top.flags,
        exec_flags: exec.flags,
        exec_commands: exec.commands,
        probed_at: now(),
    })
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn fingerprint(path: &Path) -> Option<(u64, u128)> {
    let m = std::fs::metadata(path).ok()?;
    let mtime = m
        .modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_nanos();
    Some((m.len(), mtime))
}

/// `$XDG_CACHE_HOME/codex-driver` or `~/.cache/codex-driver`.
pub fn default_cache_dir() -> Option<PathBuf> {
    crate::home::cache_dir("codex-driver").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_with_spaces_in_stage() {
        let f = parse_features(
            "agent_message_board                      under development  false\napi_key_model_discovery                  stable             true\ngarbage line\n",
        );
        assert_eq!(
            f,
            vec![
                Feature {
                    name: "agent_message_board".into(),
                    stage: FeatureStage::UnderDevelopment,
                    enabled: false
                },
                Feature {
                    name: "api_key_model_discovery".into(),
                    stage: FeatureStage::Stable,
                    enabled: true
                },
            ]
        );
    }

    #[test]
    fn help_commands_aliases_and_flags() {
        let h = parse_help(
            "Usage: codex exec [OPTIONS]\n\nCommands:\n  resume  Resume a previous session by id or pick the most recent with\n          --last\n  e       x [aliases: ex, x2]\n\nOptions:\n  -c, --config <key=value>\n          Override ... `--not-a-flag`\n      --json\n  -o, --output-last-message <FILE>\n",
        );
        assert_eq!(
            h.commands.into_iter().collect::<Vec<_>>(),
            ["e", "ex", "resume", "x2"]
        );
        assert_eq!(
            h.flags.into_iter().collect::<Vec<_>>(),
            ["--config", "--json", "--output-last-message"]
        );
    }
}
