//! `codex-driver update check`: the newest Codex release (npm, GitHub, Homebrew) against the
//! detected binary and the tested range.

use anyhow::Result;
use clap::{Args, Subcommand};
use codex_driver::update::{Advisory, UpdateChecker};
use std::process::ExitCode;

#[derive(Subcommand)]
pub enum UpdateCommand {
    /// Ask the release sources and print a verdict for the detected binary.
    ///
    /// `--json` prints `{"schema_version":1,"binary","installed","latest","advisory":{"status":
    /// "up_to_date"|"newer_available"|"newer_than_tested"|"unsupported"|"unknown",...},
    /// "sources":[{"source","latest","error","cached"}]}`. Exit status 0 whatever the verdict;
    /// 1 when no binary was found.
    #[command(verbatim_doc_comment)]
    Check(CheckArgs),
}

#[derive(Args)]
pub struct CheckArgs {
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Ask every source even when a cached answer is fresh (answers are cached 24 h).
    #[arg(long)]
    refresh: bool,
    /// Seconds one source may take.
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    timeout: u64,
    /// Only these sources (default: all three).
    #[arg(long, value_delimiter = ',', value_parser = ["npm", "github", "homebrew"], value_name = "NAME,...")]
    source: Vec<String>,
    /// The npm registry (default: from the npm configuration, whose credentials apply).
    #[arg(long, value_name = "URL")]
    registry: Option<String>,
    /// The GitHub API base (default: https://api.github.com; $GITHUB_TOKEN is sent if set).
    #[arg(long, value_name = "URL")]
    github_api: Option<String>,
    /// The Homebrew API base (default: https://formulae.brew.sh/api).
    #[arg(long, value_name = "URL")]
    homebrew_api: Option<String>,
    #[command(flatten)]
    binary: crate::BinaryArgs,
}

pub async fn run(cmd: UpdateCommand) -> Result<ExitCode> {
    let UpdateCommand::Check(a) = cmd;
    // Only what is there: checking for updates must not install anything.
    let res = a.binary.resolver().resolve()?;
    let installed = res.binary.version().await?;
    use codex_driver::update::{GitHubSource, HomebrewSource, NpmSource, ReleaseSource};
    use std::sync::Arc;
    let mut sources: Vec<Arc<dyn ReleaseSource>> = Vec::new();
    let wanted = |name: &str| a.source.is_empty() || a.source.iter().any(|s| s == name);
    if wanted("npm") {
        sources.push(Arc::new(match &a.registry {
            Some(r) => NpmSource::with_config(
                codex_driver::install::NpmConfig::load()
                    .await
                    .with_registry(r),
            ),
            None => NpmSource::new(),
        }));
    }
    if wanted("github") {
        let mut g = GitHubSource::new();
        if let Some(u) = &a.github_api {
            g = g.api_base(u);
        }
        sources.push(Arc::new(g));
    }
    if wanted("homebrew") {
        let mut h = HomebrewSource::new();
        if let Some(u) = &a.homebrew_api {
            h = h.api_base(u);
        }
        sources.push(Arc::new(h));
    }
    let report = UpdateChecker::new()
        .sources(sources)
        .refresh(a.refresh)
        .timeout(std::time::Duration::from_secs(a.timeout))
        .check(&installed)
        .await;
    if a.json {
        let mut v = serde_json::to_value(&report)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("schema_version".into(), 1.into());
            o.insert(
                "binary".into(),
                res.binary.path().display().to_string().into(),
            );
        }
        outln!("{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    for s in &report.sources {
        match (&s.latest, &s.error) {
            (Some(l), _) => eprintln!(
                "{:<9} {l}{}",
                s.source,
                if s.cached { " (cached)" } else { "" }
            ),
            (None, e) => eprintln!("{:<9} no answer: {}", s.source, e.as_deref().unwrap_or("")),
        }
    }
    let line = match &report.advisory {
        Advisory::UpToDate => format!("codex {installed} is up to date"),
        Advisory::NewerAvailable { latest, tested } => format!(
            "codex {latest} is available (you have {installed}; {}): codex-driver install {latest}",
            if *tested {
                "tested with this codex-driver"
            } else {
                "not yet tested with this codex-driver"
            }
        ),
        Advisory::NewerThanTested { newest_tested } => format!(
            "codex {installed} is newer than every release this codex-driver was tested with (newest: {newest_tested})"
        ),
        Advisory::Unsupported { supported } => format!(
            "codex {installed} is not supported by this codex-driver (supported: {supported}): codex-driver install {}",
            codex_driver::binary::PINNED_CODEX
        ),
        _ => format!("codex {installed}: no release source answered"),
    };
    outln!("{line}")?;
    Ok(ExitCode::SUCCESS)
}
