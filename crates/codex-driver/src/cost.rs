//! Token usage turned into money, and limits on what a conversation may spend.
//!
//! A [`RateCard`] maps a model to its [`Rates`] (US dollars per million input, cached-input,
//! output and reasoning tokens). [`RateCard::builtin`] ships OpenAI's published prices as of
//! [`BUILTIN_EFFECTIVE`]; prices change, so replace or extend it from your own file
//! ([`RateCard::from_toml`]) rather than trusting the defaults for billing.
//!
//! A [`Meter`] carries a rate card, the model and a [`Budget`] (`max_budget` in dollars,
//! `max_turns`), and counts what a conversation spent. [`Metered`] wraps any
//! [`Conversation`]: a turn is refused before it starts once a limit is reached, and on an
//! app-server thread the running turn is interrupted as soon as its token reports cross the
//! budget (exec reports usage only when a turn ends, so there the limit applies between
//! turns). Either way the error is [`Error::BudgetExceeded`], saying which limit and what was
//! spent.
//!
//! ```
//! use codex_driver::cost::{RateCard, Rates};
//! use codex_driver::Usage;
//!
//! let card = RateCard::builtin().with_model("my-model", Rates::new(1.0, 0.1, 8.0));
//! let mut usage = Usage::default();
//! (usage.input_tokens, usage.cached_input_tokens, usage.output_tokens) = (1_000_000, 500_000, 100_000);
//! // 500k fresh input at $1/M + 500k cached at $0.10/M + 100k output at $8/M
//! assert_eq!(card.cost("my-model", &usage), Some(0.5 + 0.05 + 0.8));
//! assert_eq!(card.cost("unknown-model", &usage), None);
//! ```

use crate::conversation::{Conversation, TurnSummary};
use crate::error::{Error, Result};
use crate::events::Usage;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

/// The date the built-in prices were taken from OpenAI's pricing page.
pub const BUILTIN_EFFECTIVE: &str = "2025-11-13";

/// Prices of one model, US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rates {
    /// Input tokens not served from the cache.
    pub input: f64,
    /// Input tokens served from the prompt cache.
    pub cached_input: f64,
    /// Output tokens other than reasoning.
    pub output: f64,
    /// Reasoning tokens (billed as output by OpenAI: the default is `output`).
    pub reasoning: f64,
}

impl Rates {
    /// Rates with reasoning billed as output.
    pub fn new(input: f64, cached_input: f64, output: f64) -> Self {
        Self {
            input,
            cached_input,
            output,
            reasoning: output,
        }
    }

    /// The cost of `usage` in dollars. Codex's `output_tokens` include the reasoning tokens,
    /// and its `input_tokens` the cached ones.
    pub fn cost(&self, usage: &Usage) -> f64 {
        let reasoning = usage.reasoning_output_tokens.unwrap_or(0);
        let cached = usage.cached_input_tokens.min(usage.input_tokens);
        let per = |tokens: u64, rate: f64| tokens as f64 * rate / 1_000_000.0;
        per(usage.input_tokens - cached, self.input)
            + per(cached, self.cached_input)
            + per(usage.output_tokens.saturating_sub(reasoning), self.output)
            + per(reasoning, self.reasoning)
    }
}

/// Model → [`Rates`], with the date the prices are from.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct RateCard {
    /// When these prices were taken (free text; ISO date by convention).
    pub effective: String,
    /// Rates by model name.
    pub models: BTreeMap<String, Rates>,
}

impl RateCard {
    /// OpenAI's published prices of the models Codex uses, as of [`BUILTIN_EFFECTIVE`].
    pub fn builtin() -> Self {
        let gpt5 = Rates::new(1.25, 0.125, 10.0);
        let mini = Rates::new(0.25, 0.025, 2.0);
        let models = [
            ("gpt-5", gpt5),
            ("gpt-5-codex", gpt5),
            ("gpt-5.1", gpt5),
            ("gpt-5.1-codex", gpt5),
            ("gpt-5.1-codex-max", gpt5),
            ("gpt-5-mini", mini),
            ("gpt-5.1-codex-mini", mini),
            ("codex-mini-latest", Rates::new(1.5, 0.375, 6.0)),
            ("gpt-5-nano", Rates::new(0.05, 0.005, 0.4)),
            ("gpt-4.1", Rates::new(2.0, 0.5, 8.0)),
            ("o3", Rates::new(2.0, 0.5, 8.0)),
            ("o4-mini", Rates::new(1.1, 0.275, 4.4)),
        ];
        Self {
            effective: BUILTIN_EFFECTIVE.into(),
            models: models.into_iter().map(|(m, r)| (m.to_owned(), r)).collect(),
        }
    }

    /// An empty card (every cost unknown).
    pub fn empty(effective: impl Into<String>) -> Self {
        Self {
            effective: effective.into(),
            models: BTreeMap::new(),
        }
    }

    /// Adds or replaces a model's rates.
    pub fn with_model(mut self, model: impl Into<String>, rates: Rates) -> Self {
        self.models.insert(model.into(), rates);
        self
    }

    /// This card with `other`'s models added or replacing, and `other`'s date.
    pub fn merged(mut self, other: RateCard) -> Self {
        self.models.extend(other.models);
        self.effective = other.effective;
        self
    }

    /// The rates of `model`: its own, else those of the name without a date suffix
    /// (`gpt-5-2025-08-07` → `gpt-5`).
    pub fn rates(&self, model: &str) -> Option<&Rates> {
        self.models.get(model).or_else(|| {
            let base = strip_date_suffix(model)?;
            self.models.get(base)
        })
    }

    /// What `usage` of `model` cost, in dollars; `None` when the card doesn't price it.
    pub fn cost(&self, model: &str, usage: &Usage) -> Option<f64> {
        self.rates(model).map(|r| r.cost(usage))
    }

    /// Reads a card from TOML:
    ///
    /// ```toml
    /// effective = "2026-12-01"
    /// [models."gpt-5.1-codex"]
    /// input = 1.25          # dollars per million tokens
    /// cached_input = 0.125
    /// output = 10.0
    /// reasoning = 10.0      # optional: output's rate when absent
    /// ```
    pub fn from_toml(text: &str, origin: &Path) -> Result<Self> {
        let bad = |detail: String| Error::ConfigFile {
            path: origin.to_path_buf(),
            line: None,
            column: None,
            detail,
        };
        let doc: toml_edit::DocumentMut = text.parse().map_err(|e| bad(format!("{e}")))?;
        let effective = doc
            .get("effective")
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned();
        let mut card = Self::empty(effective);
        let Some(models) = doc.get("models").and_then(|m| m.as_table_like()) else {
            return Ok(card);
        };
        for (name, item) in models.iter() {
            let t = item
                .as_table_like()
                .ok_or_else(|| bad(format!("models.{name}: not a table")))?;
            let num = |key: &str| -> Result<Option<f64>> {
                match t.get(key) {
                    None => Ok(None),
                    Some(v) => v
                        .as_float()
                        .or_else(|| v.as_integer().map(|i| i as f64))
                        .filter(|f| f.is_finite() && *f >= 0.0)
                        .map(Some)
                        .ok_or_else(|| {
                            bad(format!("models.{name}.{key}: not a non-negative number"))
                        }),
                }
            };
            let need = |key: &str| {
                num(key)?.ok_or_else(|| bad(format!("models.{name}: `{key}` is missing")))
            };
            let output = need("output")?;
            let rates = Rates {
                input: need("input")?,
                cached_input: num("cached_input")?.unwrap_or(need("input")?),
                output,
                reasoning: num("reasoning")?.unwrap_or(output),
            };
            card.models.insert(name.to_owned(), rates);
        }
        Ok(card)
    }

    /// [`from_toml`](Self::from_toml) of a file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            context: format!("reading the rate card {}", path.display()),
            source,
        })?;
        Self::from_toml(&text, path)
    }
}

fn strip_date_suffix(model: &str) -> Option<&str> {
    // `-YYYY-MM-DD`
    let (base, date) = model.split_at_checked(model.len().checked_sub(11)?)?;
    let d = date.as_bytes();
    let digits = |r: std::ops::Range<usize>| d[r].iter().all(u8::is_ascii_digit);
    (d[0] == b'-' && d[5] == b'-' && d[8] == b'-' && digits(1..5) && digits(6..8) && digits(9..11))
        .then_some(base)
}

/// Limits on a conversation. Both default to none.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Budget {
    /// Dollars the conversation may spend (by the meter's rate card).
    pub max_usd: Option<f64>,
    /// Turns the conversation may run.
    pub max_turns: Option<u32>,
}

/// What a conversation spent so far.
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Spend {
    /// Tokens, summed over turns.
    pub usage: Usage,
    /// Dollars; `None` when the rate card doesn't price the model.
    pub usd: Option<f64>,
    /// Turns run (interrupted ones included).
    pub turns: u32,
}

/// Counts a conversation's spending against a [`Budget`].
#[derive(Debug, Clone)]
pub struct Meter {
    card: Arc<RateCard>,
    model: Option<String>,
    budget: Budget,
    spent: Spend,
}

impl Meter {
    /// A meter pricing with `card`, without limits.
    pub fn new(card: RateCard) -> Self {
        Self {
            card: Arc::new(card),
            model: None,
            budget: Budget::default(),
            spent: Spend {
                usd: Some(0.0),
                ..Spend::default()
            },
        }
    }

    /// The model to price (default: the model an app-server thread reports; an exec
    /// conversation needs it named here for dollar figures).
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Stop once this many dollars are spent.
    pub fn max_budget(mut self, usd: f64) -> Self {
        self.budget.max_usd = Some(usd);
        self
    }

    /// Stop after this many turns.
    pub fn max_turns(mut self, turns: u32) -> Self {
        self.budget.max_turns = Some(turns);
        self
    }

    /// The limits.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// What was spent so far.
    pub fn spent(&self) -> &Spend {
        &self.spent
    }

    /// The rate card.
    pub fn rate_card(&self) -> &RateCard {
        &self.card
    }

    /// The model priced: the one set, else `fallback`.
    fn priced_model<'a>(&'a self, fallback: Option<&'a str>) -> Option<&'a str> {
        self.model.as_deref().or(fallback)
    }

    /// What `usage` of the priced model costs; `None` when unknown.
    pub fn cost_of(&self, usage: &Usage, fallback_model: Option<&str>) -> Option<f64> {
        self.card.cost(self.priced_model(fallback_model)?, usage)
    }

    /// Refuses a new turn once a limit is reached, and a dollar budget whose model the card
    /// can't price (failing closed rather than spending unmetered).
    pub fn check(&self, thread: &str, fallback_model: Option<&str>) -> Result<()> {
        if let Some(max) = self.budget.max_turns
            && self.spent.turns >= max
        {
            return Err(self.exceeded(format!("max_turns {max}"), thread, false));
        }
        if let Some(max) = self.budget.max_usd {
            let model = self.priced_model(fallback_model);
            if model.and_then(|m| self.card.rates(m)).is_none() {
                return Err(Error::InvalidOptions(format!(
                    "max_budget needs a priced model, and the rate card (effective {}) has no rates for {}",
                    self.card.effective,
                    model.map_or_else(
                        || "an unnamed model (set Meter::model)".into(),
                        |m| format!("`{m}`")
                    ),
                )));
            }
            if self.spent.usd.unwrap_or(0.0) >= max {
                return Err(self.exceeded(format!("max_budget ${max}"), thread, false));
            }
        }
        Ok(())
    }

    /// True when the turn running, having used `turn_so_far`, takes the spend past the budget.
    pub fn crosses(&self, turn_so_far: &Usage, fallback_model: Option<&str>) -> bool {
        match (
            self.budget.max_usd,
            self.cost_of(turn_so_far, fallback_model),
        ) {
            (Some(max), Some(turn)) => self.spent.usd.unwrap_or(0.0) + turn > max,
            _ => false,
        }
    }

    /// Counts a finished turn; returns its cost.
    pub fn record(&mut self, usage: &Usage, fallback_model: Option<&str>) -> Option<f64> {
        let cost = self.cost_of(usage, fallback_model);
        self.spent.turns += 1;
        self.spent.usage.add(usage);
        self.spent.usd = match (self.spent.usd, cost) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
        cost
    }

    /// The error for a reached limit.
    pub fn exceeded(&self, limit: String, thread: &str, interrupted: bool) -> Error {
        Error::BudgetExceeded {
            limit,
            thread: thread.to_owned(),
            spent_usd: self.spent.usd.unwrap_or(0.0),
            turns: self.spent.turns,
            interrupted,
        }
    }
}

/// A [`Conversation`] with a [`Meter`]: every turn is counted, priced
/// ([`TurnSummary::cost_usd`]) and held to the budget.
#[derive(Debug)]
pub struct Metered<C> {
    inner: C,
    meter: Meter,
}

impl<C: Conversation> Metered<C> {
    /// Wraps `inner`.
    pub fn new(inner: C, meter: Meter) -> Self {
        Self { inner, meter }
    }

    /// The meter (what was spent).
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// The conversation.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// The conversation back.
    pub fn into_inner(self) -> C {
        self.inner
    }
}

impl<C: Conversation + Send> Conversation for Metered<C> {
    fn thread_id(&self) -> Option<&str> {
        self.inner.thread_id()
    }

    async fn send(&mut self, prompt: &str) -> Result<TurnSummary> {
        self.inner.send_metered(prompt, &mut self.meter).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(input: u64, cached: u64, output: u64, reasoning: u64) -> Usage {
        Usage {
            input_tokens: input,
            cached_input_tokens: cached,
            output_tokens: output,
            reasoning_output_tokens: Some(reasoning),
            ..Default::default()
        }
    }

    #[test]
    fn reasoning_and_cached_tokens_are_priced_apart() {
        let r = Rates {
            input: 2.0,
            cached_input: 1.0,
            output: 10.0,
            reasoning: 20.0,
        };
        // 600k fresh * 2 + 400k cached * 1 + 100k output * 10 + 100k reasoning * 20
        assert_eq!(
            r.cost(&usage(1_000_000, 400_000, 200_000, 100_000)),
            1.2 + 0.4 + 1.0 + 2.0
        );
    }

    #[test]
    fn dated_model_names_fall_back_to_their_base() {
        let card = RateCard::builtin();
        assert_eq!(card.rates("gpt-5-2025-08-07"), card.rates("gpt-5"));
        assert!(card.rates("gpt-5").is_some());
        assert_eq!(card.rates("mock-model"), None);
        assert_eq!(strip_date_suffix("x-2025-8-07"), None);
    }

    #[test]
    fn a_card_reads_from_toml_and_overrides_the_builtin() -> Result<()> {
        let file = Path::new("rates.toml");
        let mine = RateCard::from_toml(
            "effective = \"2026-12-01\"\n[models.\"gpt-5\"]\ninput = 1\noutput = 8.5\n[models.mock-model]\ninput = 0.5\ncached_input = 0.05\noutput = 4\nreasoning = 6\n",
            file,
        )?;
        assert_eq!(
            mine.models["gpt-5"],
            Rates {
                input: 1.0,
                cached_input: 1.0,
                output: 8.5,
                reasoning: 8.5
            }
        );
        let card = RateCard::builtin().merged(mine);
        assert_eq!(card.effective, "2026-12-01");
        assert_eq!(card.rates("gpt-5").map(|r| r.output), Some(8.5));
        assert_eq!(card.rates("gpt-5-mini").map(|r| r.output), Some(2.0));
        let err = RateCard::from_toml("[models.m]\ninput = -1\noutput = 1\n", file).err();
        assert_eq!(
            err.map(|e| e.to_string()),
            Some("config file rates.toml: models.m.input: not a non-negative number".to_owned())
        );
        Ok(())
    }

    #[test]
    fn the_meter_refuses_past_a_limit_and_fails_closed_on_an_unpriced_model() {
        let card = RateCard::empty("t").with_model("m", Rates::new(1.0, 1.0, 1.0));
        let mut meter = Meter::new(card).max_turns(2).max_budget(1.0);
        assert!(meter.check("t1", Some("m")).is_ok());
        assert!(!meter.crosses(&usage(900_000, 0, 0, 0), Some("m")));
        assert!(meter.crosses(&usage(900_000, 0, 200_000, 0), Some("m")));
        assert_eq!(meter.record(&usage(600_000, 0, 0, 0), Some("m")), Some(0.6));
        assert_eq!(meter.record(&usage(100_000, 0, 0, 0), Some("m")), Some(0.1));
        assert_eq!(meter.spent().turns, 2);
        assert!(matches!(
            meter.check("t1", Some("m")),
            Err(Error::BudgetExceeded { limit, turns: 2, interrupted: false, .. }) if limit == "max_turns 2"
        ));
        let unpriced = Meter::new(RateCard::empty("t")).max_budget(1.0);
        let err = unpriced
            .check("t1", Some("other"))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "invalid options: max_budget needs a priced model, and the rate card (effective t) has no rates for `other`"
            )
        );
        // Without a dollar limit, an unpriced model is fine: only its dollars are unknown.
        let mut free = Meter::new(RateCard::empty("t"));
        assert_eq!(free.record(&usage(1, 0, 1, 0), Some("other")), None);
        assert_eq!(free.spent().usd, None);
    }
}
