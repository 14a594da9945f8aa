//! Dollar figures for `run` and `sessions show`: the library's rate card (built in, merged
//! with `--rates FILE` / `$CODEX_DRIVER_RATES`) applied to a turn's or a thread's tokens.

use anyhow::Result;
use codex_driver::Usage;
use codex_driver::cost::RateCard;
use serde_json::{Value, json};
use std::path::Path;

pub struct Pricing {
    card: RateCard,
    model: Option<String>,
}

impl Pricing {
    /// The built-in card, with `rates` (a TOML rate card) merged over it; the model named, else
    /// the one `home`'s config.toml sets.
    pub fn load(rates: Option<&Path>, model: Option<String>, home: Option<&Path>) -> Result<Self> {
        let mut card = RateCard::builtin();
        if let Some(file) = rates {
            card = card.merged(RateCard::load(file)?);
        }
        let model = model.or_else(|| {
            let home = home?;
            let config = codex_driver::config::ConfigFile::open(home.join("config.toml")).ok()?;
            config.get("model")?.as_str().map(str::to_owned)
        });
        Ok(Self { card, model })
    }

    /// As [`load`](Self::load), for a known model.
    pub fn for_model(rates: Option<&Path>, model: Option<String>) -> Result<Self> {
        Self::load(rates, model, None)
    }

    /// Dollars for `usage`, when the card prices the model.
    pub fn cost(&self, usage: &Usage) -> Option<f64> {
        self.card.cost(self.model.as_deref()?, usage)
    }

    /// `cost: $0.0123 (gpt-5, rates of 2025-11-13)`, when priced.
    pub fn line(&self, usage: &Usage) -> Option<String> {
        let usd = self.cost(usage)?;
        Some(format!(
            "cost: ${usd:.4} ({}, rates of {})",
            self.model.as_deref().unwrap_or_default(),
            self.card.effective
        ))
    }

    /// `{"cost_usd": .. | null, "rates_effective": ..}` for JSON output.
    pub fn json(&self, usage: &Usage) -> Value {
        json!({
            "cost_usd": self.cost(usage),
            "rates_effective": self.cost(usage).map(|_| self.card.effective.clone()),
        })
    }
}
