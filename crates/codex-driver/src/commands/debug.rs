//! `codex debug models [--bundled]`: the model catalog Codex works with.

use super::{Output, Subcommand};
use crate::error::Result;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::ffi::OsString;

/// `codex debug models`: the catalog after a refresh from the provider, or with `bundled`
/// only what ships inside the binary (no network).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DebugModels {
    /// `--bundled`.
    pub bundled: bool,
}

/// One reasoning effort a model supports.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ReasoningLevel {
    /// `low`, `medium`, `high`, ...
    pub effort: String,
    /// Codex's description.
    pub description: String,
    /// Fields this library doesn't model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One model of the catalog. Codex adds fields often; those not modelled are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ModelEntry {
    /// What `--model` takes.
    pub slug: String,
    /// The name shown to people.
    pub display_name: String,
    /// Codex's description.
    pub description: String,
    /// The default effort.
    pub default_reasoning_level: Option<String>,
    /// Every effort it supports.
    pub supported_reasoning_levels: Vec<ReasoningLevel>,
    /// Its context window in tokens.
    pub context_window: Option<u64>,
    /// `list`, `hide`, ...
    pub visibility: Option<String>,
    /// Whether the API (not only ChatGPT sign-in) serves it.
    pub supported_in_api: Option<bool>,
    /// Fields this library doesn't model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Deserialize)]
struct Catalog {
    #[serde(default)]
    models: Vec<Value>,
}

impl Subcommand for DebugModels {
    type Output = Vec<ModelEntry>;
    fn path(&self) -> &'static [&'static str] {
        &["debug", "models"]
    }
    fn args(&self) -> Result<Vec<OsString>> {
        Ok(if self.bundled {
            vec!["--bundled".into()]
        } else {
            Vec::new()
        })
    }
    fn finish(&self, out: Output) -> Result<Vec<ModelEntry>> {
        parse_models(&out.ok()?)
    }
}

/// The catalog in `out`; an entry that doesn't fit the model is kept whole in `extra`
/// (under `"raw"`) rather than failing the list.
pub fn parse_models(out: &Output) -> Result<Vec<ModelEntry>> {
    let catalog: Catalog = out.json()?;
    Ok(catalog
        .models
        .into_iter()
        .map(|v| {
            serde_json::from_value(v.clone()).unwrap_or_else(|_| ModelEntry {
                extra: Map::from_iter([("raw".to_owned(), v)]),
                ..ModelEntry::default()
            })
        })
        .collect())
}
