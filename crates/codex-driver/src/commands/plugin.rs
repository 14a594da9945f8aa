//! `codex plugin list` and `codex plugin marketplace list` (0.153+), with `--json`.

use super::{Output, Subcommand};
use crate::error::Result;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::ffi::OsString;

/// `codex plugin list --json [--available] [--marketplace M]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PluginList {
    /// `--available`: also what can be installed.
    pub available: bool,
    /// `--marketplace`: only this marketplace's.
    pub marketplace: Option<String>,
}

/// What `plugin list --json` reports. Entries are kept as Codex wrote them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PluginListing {
    /// Installed plugins.
    pub installed: Vec<Value>,
    /// Installable ones (with `--available`).
    pub available: Vec<Value>,
    /// Fields this library doesn't model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Subcommand for PluginList {
    type Output = PluginListing;
    fn path(&self) -> &'static [&'static str] {
        &["plugin", "list"]
    }
    fn args(&self) -> Result<Vec<OsString>> {
        let mut a: Vec<OsString> = vec!["--json".into()];
        if self.available {
            a.push("--available".into());
        }
        if let Some(m) = &self.marketplace {
            a.push(format!("--marketplace={m}").into());
        }
        Ok(a)
    }
    fn finish(&self, out: Output) -> Result<PluginListing> {
        out.ok()?.json()
    }
}

/// `codex plugin marketplace list --json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MarketplaceList;

/// What `plugin marketplace list --json` reports.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Marketplaces {
    /// Configured marketplaces, as Codex wrote them.
    pub marketplaces: Vec<Value>,
    /// Fields this library doesn't model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Subcommand for MarketplaceList {
    type Output = Marketplaces;
    fn path(&self) -> &'static [&'static str] {
        &["plugin", "marketplace", "list"]
    }
    fn args(&self) -> Result<Vec<OsString>> {
        Ok(vec!["--json".into()])
    }
    fn finish(&self, out: Output) -> Result<Marketplaces> {
        out.ok()?.json()
    }
}
