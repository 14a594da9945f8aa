//! `codex features list|enable|disable`: the feature flags of a home.
//!
//! [`set`] checks the name against the binary's own list first, so a typo is
//! [`Error::InvalidOptions`] naming the known flags, and nothing is written.

use super::{Output, Runner, Subcommand};
use crate::error::{Error, Result};
use crate::probe::{Feature, parse_features};
use std::ffi::OsString;

/// `codex features list`: every flag with its stage and whether this home turns it on.
#[derive(Debug, Clone, Copy, Default)]
pub struct FeaturesList;

impl Subcommand for FeaturesList {
    type Output = Vec<Feature>;
    fn path(&self) -> &'static [&'static str] {
        &["features", "list"]
    }
    fn args(&self) -> Result<Vec<OsString>> {
        Ok(Vec::new())
    }
    fn finish(&self, out: Output) -> Result<Vec<Feature>> {
        Ok(parse_features(&out.ok()?.stdout))
    }
}

/// `codex features enable NAME` / `disable NAME`: writes `[features] NAME = true|false` to the
/// home's `config.toml` (Codex's own edit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeaturesSet {
    /// The flag.
    pub name: String,
    /// On or off.
    pub enabled: bool,
}

impl FeaturesSet {
    /// `features enable NAME`.
    pub fn enable(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            enabled: true,
        }
    }

    /// `features disable NAME`.
    pub fn disable(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            enabled: false,
        }
    }
}

impl Subcommand for FeaturesSet {
    type Output = ();
    fn path(&self) -> &'static [&'static str] {
        if self.enabled {
            &["features", "enable"]
        } else {
            &["features", "disable"]
        }
    }
    fn args(&self) -> Result<Vec<OsString>> {
        if self.name.is_empty() || self.name.starts_with('-') {
            return Err(Error::InvalidOptions(format!(
                "`{}` is not a feature name",
                self.name
            )));
        }
        Ok(vec![self.name.clone().into()])
    }
    fn finish(&self, out: Output) -> Result<()> {
        out.ok().map(drop)
    }
}

/// Turns feature `name` on or off in the runner's home, after checking that the binary knows
/// it; returns the flag as listed afterwards.
pub async fn set(runner: &Runner, name: &str, enabled: bool) -> Result<Feature> {
    let known = runner.run(&FeaturesList).await?;
    if !known.iter().any(|f| f.name == name) {
        let names: Vec<&str> = known.iter().map(|f| f.name.as_str()).collect();
        return Err(Error::InvalidOptions(format!(
            "unknown feature `{name}`; this Codex knows: {}",
            names.join(", ")
        )));
    }
    runner
        .run(&FeaturesSet {
            name: name.to_owned(),
            enabled,
        })
        .await?;
    runner
        .run(&FeaturesList)
        .await?
        .into_iter()
        .find(|f| f.name == name)
        .ok_or_else(|| Error::Command {
            command: "features list".into(),
            code: Some(0),
            message: format!("`{name}` is gone from the list after setting it"),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SpawnOptions;

    #[test]
    fn argv() -> Result<()> {
        let r = Runner::new(SpawnOptions::new().config("model", "m"));
        assert_eq!(
            r.argv(&FeaturesSet::enable("memories"))?,
            ["features", "enable", "-c", "model=\"m\"", "memories"]
                .map(OsString::from)
                .to_vec()
        );
        assert_eq!(
            r.argv(&FeaturesList)?,
            ["features", "list", "-c", "model=\"m\""]
                .map(OsString::from)
                .to_vec()
        );
        assert!(FeaturesSet::disable("--x").args().is_err());
        Ok(())
    }
}
