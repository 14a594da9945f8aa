//! `codex doctor --json`: Codex's own health report (0.153+), typed. (This crate's report of
//! the binary and home it would use is [`crate::doctor`].)

use super::{Output, Subcommand};
use crate::error::Result;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::ffi::OsString;

/// `codex doctor --json`. Codex exits 1 when a check fails; the report is still the result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CodexDoctor {
    /// `--network-only`: only the network checks.
    pub network_only: bool,
    /// `--all`: include checks Codex normally skips.
    pub all: bool,
}

/// A check's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum CheckStatus {
    /// `ok`.
    Ok,
    /// `warning`.
    Warning,
    /// `fail`.
    Fail,
    /// A word this library doesn't know yet.
    #[serde(untagged)]
    Other(String),
}

/// One check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Check {
    /// `auth.credentials`.
    #[serde(default)]
    pub id: String,
    /// `auth`, `network`, ...
    #[serde(default)]
    pub category: String,
    /// The verdict.
    pub status: CheckStatus,
    /// One line.
    #[serde(default)]
    pub summary: String,
    /// What it looked at (Codex's labels and values).
    #[serde(default)]
    pub details: Value,
    /// What to do about a warning or failure.
    #[serde(default)]
    pub remediation: Option<String>,
    /// How long it took.
    #[serde(default)]
    pub duration_ms: Option<u64>,
    /// Fields this library doesn't model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The whole report (`schemaVersion` 1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CodexDoctorReport {
    /// `schemaVersion`.
    #[serde(default)]
    pub schema_version: u32,
    /// When, in Codex's words.
    #[serde(default)]
    pub generated_at: String,
    /// The worst verdict.
    pub overall_status: CheckStatus,
    /// The binary's version.
    #[serde(default)]
    pub codex_version: String,
    /// Every check, by id.
    #[serde(default)]
    pub checks: BTreeMap<String, Check>,
    /// Fields this library doesn't model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CodexDoctorReport {
    /// The checks that failed.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks
            .values()
            .filter(|c| c.status == CheckStatus::Fail)
    }
}

impl Subcommand for CodexDoctor {
    type Output = CodexDoctorReport;
    fn path(&self) -> &'static [&'static str] {
        &["doctor"]
    }
    fn args(&self) -> Result<Vec<OsString>> {
        let mut a: Vec<OsString> = vec!["--json".into()];
        if self.network_only {
            a.push("--network-only".into());
        }
        if self.all {
            a.push("--all".into());
        }
        Ok(a)
    }
    fn finish(&self, out: Output) -> Result<CodexDoctorReport> {
        // Exit 1 with a report on stdout is a report of failures, not a failure to report.
        match out.json() {
            Ok(r) => Ok(r),
            Err(e) if out.success() => Err(e),
            Err(_) => Err(out.error()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_captured_report_of_0_171_reads_whole() -> Result<()> {
        let out = Output {
            command: "doctor".into(),
            code: Some(1),
            stdout: include_str!("../../tests/fixtures/commands/0.171.0/doctor.json").into(),
            stderr: String::new(),
        };
        let r = CodexDoctor::default().finish(out)?;
        assert_eq!(r.schema_version, 1);
        assert_eq!(r.codex_version, "0.171.0");
        assert_eq!(r.overall_status, CheckStatus::Fail);
        let failed: Vec<&str> = r.failures().map(|c| c.id.as_str()).collect();
        assert_eq!(
            failed,
            ["auth.credentials", "network.provider_reachability"]
        );
        assert_eq!(r.checks["updates.status"].status, CheckStatus::Warning);
        let odd: CheckStatus = serde_json::from_str("\"skipped\"")
            .map_err(|e| crate::Error::InvalidOptions(e.to_string()))?;
        assert_eq!(odd, CheckStatus::Other("skipped".into()));
        Ok(())
    }
}
