//! Provider routing: a conversation with an ordered list of model providers, a turn that fails
//! on an outage or a rate limit retried on the next one *in the same thread*.
//!
//! [`Failover`] wraps any [`Routable`] conversation ([`ExecConversation`], an app-server
//! [`Thread`]) the way [`Metered`](crate::cost::Metered) does. A turn
//! runs on the current [`Provider`]; when it fails with an error whose [`Error::kind`] is in the
//! policy (by default only [`ErrorKind::Provider`]: HTTP 408/429/5xx, overloaded, rate or usage
//! limits, a cut stream or a refused connection), the same prompt is sent again on the thread
//! after switching it to the next provider, and so on until one answers or every provider has
//! failed once (then the last error is returned). Each switch is reported three ways: in
//! [`RoutedTurn::switches`] / [`Failover::last_switches`], to the [`Failover::on_switch`]
//! callback, and as a `tracing` warning (target `codex_driver::routing`). A switch the
//! conversation can't make ends the turn with that refusal.
//!
//! The provider that answered stays current for the next turns (the one before is likely still
//! down); every turn tries each provider at most once, from the current one, wrapping around.
//!
//! [`ErrorKind::Timeout`] is not failed over by default: it is our own deadline, which a long
//! but healthy turn hits as well, and a turn cut by it may have run commands already. Opt in
//! with [`Failover::fail_over_on`].
//!
//! ## What a retried turn leaves in the thread
//! Codex records the user message before it calls the model, so the failed attempt stays in the
//! thread's history: the next provider sees the prompt twice (once unanswered, once now), and
//! anything the failed attempt did before the failure (commands run, files written) is done.
//! Codex has no "retry the last turn" on either transport, so resending is the only way to
//! continue the same thread.
//!
//! ## How the provider is switched
//! - `codex exec` ([`ExecConversation`]): every turn is its own process, so the provider is
//!   chosen per run with `-c model_provider=ID`, `-c model_providers.ID.*=...` (its
//!   [`ModelProvider`] definition) and `-c model=...` when the provider names a model. Codex
//!   0.169 and later refuse to resume a thread on another provider id ("Cannot change this
//!   thread's model provider"), so once a thread exists a provider with a definition *stands
//!   in* under the thread's provider id: `model_provider` stays the thread's and
//!   `model_providers.<thread's id>.*` is overwritten with the new definition (works on every
//!   supported release; the rollout keeps recording the thread's id). A provider without a
//!   definition is selected by its own id, which those releases refuse: the turn then ends with
//!   [`Error::InvalidOptions`] saying so. A first turn that failed still started a thread (and
//!   recorded its prompt): the retry resumes it. Routing owns `model_provider`, `model` (when a
//!   provider names one) and the definitions it writes; overrides can't delete a key of
//!   `config.toml`, so a stand-in inherits the fields of the thread's provider that its own
//!   definition leaves unset (fill in `env_key` and the like to avoid that).
//! - app-server ([`Thread`]): `turn/start` and
//!   `thread/settings/update` take no provider, and a loaded thread keeps the provider it was
//!   loaded with, so the switch unloads the thread (`thread/unsubscribe`, then waiting up to a
//!   second for `thread/loaded/list` to drop it) and loads it again with `thread/resume`,
//!   `modelProvider` and the definition as `config` (standing in under the thread's id as
//!   above). The server unloads a thread its last client left only after
//!   `thread_unload_delay_secs`: start it with `.config("thread_unload_delay_secs", 0)`
//!   (Codex 0.163 and later). Otherwise (or with another client still subscribed) the thread
//!   is subscribed again and the switch refused, rather than retried on the provider that just
//!   failed: [`Error::InvalidOptions`], or [`Error::Unsupported`] (kind
//!   [`ErrorKind::Version`]) from a release before 0.163, which keeps threads loaded for its
//!   whole life. The thread stays usable on its provider, and [`Failover::last_switches`]
//!   lists the switch tried.
//!
//! ```no_run
//! # async fn demo() -> codex_driver::Result<()> {
//! use codex_driver::config::ModelProvider;
//! use codex_driver::conversation::{Conversation, ExecConversation};
//! use codex_driver::routing::{Failover, Provider};
//! use codex_driver::Exec;
//!
//! let providers = vec![
//!     Provider::new("openai"),
//!     Provider::defined("backup", ModelProvider::responses("Backup", "https://llm.example/v1").env_key("BACKUP_KEY"))
//!         .model("gpt-5.1-codex"),
//! ];
//! let mut c = Failover::new(ExecConversation::new(Exec::new("").cd("/srv/repo")), providers)?
//!     .on_switch(|s| eprintln!("{} failed ({}), now on {}", s.from, s.kind, s.to));
//! let turn = c.send_routed("Summarise the repo").await?;
//! println!("{} answered after {} switch(es)", turn.provider, turn.switches.len());
//! # Ok(()) }
//! ```

use crate::app_server::protocol::{
    ThreadLoadedListParams, ThreadResumeParams, ThreadUnsubscribeParams, ThreadUnsubscribeStatus,
};
use crate::app_server::{AppServerClient, Thread, ThreadOpened};
use crate::config::{ConfigOverrides, ModelProvider};
use crate::conversation::{Conversation, ExecConversation, TurnSummary};
use crate::error::{Error, ErrorKind, Result};
use std::sync::Arc;

/// One model provider a conversation may run on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Provider {
    /// Its id: `model_provider = "<id>"`, `[model_providers.<id>]`.
    pub id: String,
    /// Its definition, sent as config overrides with each switch; `None` for a provider Codex
    /// already knows (built in, like `openai`, or defined in the home's `config.toml`).
    pub definition: Option<ModelProvider>,
    /// The model to ask this provider for; `None` keeps the model in effect.
    pub model: Option<String>,
}

impl Provider {
    /// A provider Codex already knows by this id.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            definition: None,
            model: None,
        }
    }

    /// A provider defined here (sent as `model_providers.<id>.*` overrides).
    pub fn defined(id: impl Into<String>, definition: ModelProvider) -> Self {
        Self {
            definition: Some(definition),
            ..Self::new(id)
        }
    }

    /// The model to use on this provider.
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// The definition's fields as `(key, value)` under `model_providers.<id>`, in a fixed order.
    fn definition_entries(&self) -> Vec<(&'static str, toml_edit::Value)> {
        let Some(d) = &self.definition else {
            return Vec::new();
        };
        let mut out: Vec<(&'static str, toml_edit::Value)> = vec![("name", d.name.as_str().into())];
        let strings = [
            ("base_url", &d.base_url),
            ("wire_api", &d.wire_api),
            ("env_key", &d.env_key),
        ];
        out.extend(
            strings
                .into_iter()
                .filter_map(|(k, v)| Some((k, v.as_deref()?.into()))),
        );
        if let Some(b) = d.requires_openai_auth {
            out.push(("requires_openai_auth", b.into()));
        }
        let numbers = [
            ("request_max_retries", d.request_max_retries),
            ("stream_max_retries", d.stream_max_retries),
            ("stream_idle_timeout_ms", d.stream_idle_timeout_ms),
        ];
        out.extend(
            numbers
                .into_iter()
                .filter_map(|(k, v)| Some((k, v?.into()))),
        );
        out
    }

    /// The `-c` overrides that make a run use this provider (and its model, when named).
    pub fn overrides(&self) -> ConfigOverrides {
        self.overrides_as(&self.id)
    }

    /// The `-c` overrides that make a run use this provider under the id `as_id`: its
    /// definition written as `model_providers.<as_id>.*` and `model_provider = "<as_id>"`. How a
    /// thread that Codex keeps on the provider it started with is moved to this one.
    pub fn overrides_as(&self, as_id: &str) -> ConfigOverrides {
        let mut c = ConfigOverrides::new();
        c.set("model_provider", as_id);
        if let Some(m) = &self.model {
            c.set("model", m.as_str());
        }
        for (key, value) in self.definition_entries() {
            c.set_path(["model_providers", as_id, key], value);
        }
        c
    }

    /// The definition under `as_id` as the app-server's `config` map (dotted keys, JSON
    /// values).
    fn config_json(&self, as_id: &str) -> serde_json::Map<String, serde_json::Value> {
        let c = self.overrides_as(as_id);
        c.keys()
            .filter(|k| k.starts_with("model_providers."))
            .filter_map(|k| Some((k.to_owned(), toml_to_json(c.get(k)?))))
            .collect()
    }
}

/// The prefix of every override of provider `id`'s definition.
fn definition_prefix(id: &str) -> String {
    format!(
        "model_providers.{}.",
        toml_edit::Key::new(id).display_repr()
    )
}

/// The id under which a thread already running on `thread_provider` is moved to `to`: its own
/// when it has none or is the same, else the thread's when `to` brings a definition to stand in
/// with (Codex 0.169 and later refuse to change a thread's provider id on resume).
fn stand_in_id<'a>(to: &'a Provider, thread_provider: Option<&'a str>) -> &'a str {
    match thread_provider {
        Some(t) if t != to.id && to.definition.is_some() => t,
        _ => &to.id,
    }
}

/// A TOML scalar as JSON (provider definitions hold strings, integers and booleans only).
fn toml_to_json(v: &toml_edit::Value) -> serde_json::Value {
    use toml_edit::Value as T;
    match v {
        T::String(s) => s.value().as_str().into(),
        T::Integer(i) => (*i.value()).into(),
        T::Boolean(b) => (*b.value()).into(),
        T::Float(f) => {
            serde_json::Number::from_f64(*f.value()).map_or(serde_json::Value::Null, Into::into)
        }
        other => other.to_string().trim().into(),
    }
}

/// One switch of a turn from a failed provider to the next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProviderSwitch {
    /// The provider that failed.
    pub from: String,
    /// The provider the turn is retried on.
    pub to: String,
    /// The kind of the failure.
    pub kind: ErrorKind,
    /// The HTTP status the provider answered, when Codex reported one.
    pub http_status: Option<u16>,
    /// The failure's message.
    pub message: String,
    /// The thread, when known.
    pub thread_id: Option<String>,
}

/// A turn run through [`Failover::send_routed`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RoutedTurn {
    /// What the turn produced.
    pub summary: TurnSummary,
    /// The id of the provider that answered.
    pub provider: String,
    /// The switches this turn made, in order (empty when the current provider answered).
    pub switches: Vec<ProviderSwitch>,
}

/// A provider switch asked of a [`Routable`] conversation.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ProviderChange<'a> {
    /// The provider to run the next turns on.
    pub to: &'a Provider,
    /// The provider switched to before, through the same [`Failover`], if any: its overrides
    /// are withdrawn.
    pub previous: Option<&'a Provider>,
    /// The provider id the thread was started on, once it exists (as far as [`Failover`]
    /// knows; an app-server thread reports its own).
    pub thread_provider: Option<&'a str>,
}

/// A conversation whose provider can be changed between turns of the same thread.
pub trait Routable: Conversation {
    /// Makes the next turns of this thread run on `change.to`. A thread started on another
    /// provider id keeps that id, `change.to`'s definition standing in under it, when `to` has
    /// a definition (Codex 0.169 and later refuse to change a thread's provider id on resume);
    /// a provider without one is selected by its id.
    fn use_provider(
        &mut self,
        change: ProviderChange<'_>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Told of a failed turn before it is retried: a transport that learns the thread id only
    /// from a successful turn takes it from the error here, so the retry continues that thread.
    fn turn_failed(&mut self, _error: &Error) {}
}

impl Routable for ExecConversation {
    async fn use_provider(&mut self, change: ProviderChange<'_>) -> Result<()> {
        let thread_provider = change
            .thread_provider
            .filter(|_| self.thread_id().is_some());
        let as_id = stand_in_id(change.to, thread_provider);
        let template = self.template_mut();
        let mut options = template.spawn_options_ref().clone();
        // Routing owns the provider keys: nothing a provider set before may linger into the
        // next one's definition (a stale `env_key`, a model it alone serves).
        if let Some(previous) = change.previous {
            let withdrawn: Vec<String> = options
                .config
                .keys()
                .filter(|k| {
                    k.starts_with(&definition_prefix(as_id))
                        || k.starts_with(&definition_prefix(&previous.id))
                        || (*k == "model" && previous.model.is_some())
                })
                .map(str::to_owned)
                .collect();
            for key in withdrawn {
                options.config.remove(&key);
            }
        }
        let wanted = change.to.overrides_as(as_id);
        for key in wanted.keys() {
            if let Some(v) = wanted.get(key) {
                options.config.set(key, v.clone());
            }
        }
        *template = template.clone().spawn_options(options);
        Ok(())
    }

    fn turn_failed(&mut self, error: &Error) {
        // `codex exec` names the thread before the model is called: a failed first turn left a
        // thread (with its user message) that the retry resumes.
        if self.thread_id().is_none()
            && let Error::TurnFailed {
                thread_id: Some(id),
                ..
            } = error
        {
            self.adopt_thread(id.clone());
        }
    }
}

impl Routable for Thread {
    async fn use_provider(&mut self, change: ProviderChange<'_>) -> Result<()> {
        let loaded = opened_provider(self.response()).to_owned();
        let to = change.to;
        if change.previous.is_none() && loaded == to.id && to.model.is_none() {
            // Already loaded on it (typically the first provider, chosen by `thread/start`).
            return Ok(());
        }
        let as_id = stand_in_id(to, Some(&loaded)).to_owned();
        let id = self.id().to_owned();
        // A loaded thread keeps the configuration it was loaded with: unload it (our
        // subscription is its only one) so `thread/resume` loads it again with the new one.
        let unsubscribed = self
            .client()
            .request(&ThreadUnsubscribeParams {
                thread_id: id.clone(),
                extra: Default::default(),
            })
            .await?;
        tracing::debug!(target: "codex_driver::routing", thread = %id, status = ?unsubscribed.status, "unsubscribed before switching provider");
        if unsubscribed.status == ThreadUnsubscribeStatus::Unsubscribed
            && !unloaded_within(self.client(), &id, UNLOAD_WAIT).await?
        {
            // The server keeps a thread loaded, with the provider it was loaded with, after its
            // last subscriber leaves (0.130 to 0.171 do): no resume can switch it. Subscribe
            // again and refuse rather than retry on the provider that just failed.
            let again = self
                .client()
                .request(&ThreadResumeParams {
                    thread_id: id.clone(),
                    ..Default::default()
                })
                .await?;
            self.reopen(ThreadOpened::Resumed(again));
            let client = self.client();
            let option = format!(
                "thread/resume of loaded thread {id} on model provider {} (from {loaded})",
                to.id
            );
            return Err(match (client.server_version(), client.binary()) {
                (Some(found), Some(binary)) if found < UNLOAD_DELAY_SINCE => Error::Unsupported {
                    option,
                    required: format!(
                        ">= {UNLOAD_DELAY_SINCE} (whose `thread_unload_delay_secs = 0` unloads a thread its last client left)"
                    ),
                    found,
                    binary: binary.path().to_path_buf(),
                },
                _ => Error::InvalidOptions(format!(
                    "{option}: the app-server keeps the thread loaded on its provider; start it with `.config(\"thread_unload_delay_secs\", 0)` so a thread its last client left is unloaded and can be resumed on another provider"
                )),
            });
        }
        let config = to.config_json(&as_id);
        let params = ThreadResumeParams {
            thread_id: id.clone(),
            model_provider: Some(as_id.clone()),
            model: to.model.clone(),
            config: (!config.is_empty()).then_some(config),
            ..Default::default()
        };
        let resumed = self.client().request(&params).await?;
        let opened = ThreadOpened::Resumed(resumed);
        let now = opened_provider(&opened).to_owned();
        self.reopen(opened);
        if now != as_id {
            return Err(Error::InvalidOptions(format!(
                "thread {id} stayed on model provider `{now}` when resumed on `{as_id}`"
            )));
        }
        Ok(())
    }
}

/// The first release with `thread_unload_delay_secs` (before it, a thread stays loaded for the
/// server's life).
const UNLOAD_DELAY_SINCE: semver::Version = semver::Version::new(0, 163, 0);

/// How long a switch waits for the server to unload a thread it unsubscribed from (immediate
/// with `thread_unload_delay_secs = 0`).
const UNLOAD_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether the server unloads thread `id` within `wait`.
async fn unloaded_within(
    client: &AppServerClient,
    id: &str,
    wait: std::time::Duration,
) -> Result<bool> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        if !still_loaded(client, id).await? {
            return Ok(true);
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Whether the server still has thread `id` loaded (`thread/loaded/list`).
async fn still_loaded(client: &AppServerClient, id: &str) -> Result<bool> {
    let mut cursor = None;
    loop {
        let page = client
            .request(&ThreadLoadedListParams {
                cursor: cursor.take(),
                ..Default::default()
            })
            .await?;
        if page.data.iter().any(|t| t == id) {
            return Ok(true);
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(false),
        }
    }
}

/// The provider a `thread/start`/`resume`/`fork` response names.
fn opened_provider(opened: &ThreadOpened) -> &str {
    match opened {
        ThreadOpened::Started(r) => &r.model_provider,
        ThreadOpened::Resumed(r) => &r.model_provider,
        ThreadOpened::Forked(r) => &r.model_provider,
    }
}

/// Codex's words (0.169 and later) when a resume names another provider than the thread's.
const PROVIDER_PINNED: &str = "change this thread's model provider";

/// The typed refusal for a thread Codex keeps on its provider, moved to a provider with no
/// definition to stand in under the thread's id.
fn pinned(codex: &Error, to: &Provider, thread_provider: Option<&str>) -> Error {
    Error::InvalidOptions(format!(
        "can't move the thread from model provider `{}` to `{}`: this Codex keeps a thread on the provider it started with; give `{}` a definition (Provider::defined) so it stands in under the thread's provider id ({codex})",
        thread_provider.unwrap_or("?"),
        to.id,
        to.id
    ))
}

type SwitchCallback = Arc<dyn Fn(&ProviderSwitch) + Send + Sync>;

/// A [`Routable`] conversation over an ordered list of providers: a turn failing on one of the
/// policy's error kinds is retried on the next provider in the same thread (see the
/// [module docs](self)).
pub struct Failover<C> {
    inner: C,
    providers: Vec<Provider>,
    /// The provider the next turn starts on.
    current: usize,
    /// The provider the inner conversation was last switched to.
    applied: Option<usize>,
    /// The provider id the thread was started on, once it exists.
    thread_provider: Option<String>,
    kinds: Vec<ErrorKind>,
    on_switch: Option<SwitchCallback>,
    switches: Vec<ProviderSwitch>,
}

impl<C: std::fmt::Debug> std::fmt::Debug for Failover<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Failover")
            .field("inner", &self.inner)
            .field("providers", &self.providers)
            .field("current", &self.current)
            .field("kinds", &self.kinds)
            .field("switches", &self.switches)
            .finish_non_exhaustive()
    }
}

impl<C: Routable + Send> Failover<C> {
    /// Wraps `inner`; its first turn runs on `providers[0]`. Refused with
    /// [`Error::InvalidOptions`] when `providers` is empty or names an id twice.
    pub fn new(inner: C, providers: Vec<Provider>) -> Result<Self> {
        if providers.is_empty() {
            return Err(Error::InvalidOptions(
                "failover needs at least one model provider".into(),
            ));
        }
        for (i, p) in providers.iter().enumerate() {
            if p.id.trim().is_empty() {
                return Err(Error::InvalidOptions("a model provider id is empty".into()));
            }
            if providers[..i].iter().any(|q| q.id == p.id) {
                return Err(Error::InvalidOptions(format!(
                    "model provider `{}` is listed twice",
                    p.id
                )));
            }
        }
        Ok(Self {
            inner,
            providers,
            current: 0,
            applied: None,
            thread_provider: None,
            kinds: vec![ErrorKind::Provider],
            on_switch: None,
            switches: Vec::new(),
        })
    }

    /// Also fails over on errors of `kind` (default: [`ErrorKind::Provider`] only; see the
    /// module docs on [`ErrorKind::Timeout`]).
    pub fn fail_over_on(mut self, kind: ErrorKind) -> Self {
        if !self.kinds.contains(&kind) {
            self.kinds.push(kind);
        }
        self
    }

    /// Calls `f` on every switch, before the turn is retried.
    pub fn on_switch(mut self, f: impl Fn(&ProviderSwitch) + Send + Sync + 'static) -> Self {
        self.on_switch = Some(Arc::new(f));
        self
    }

    /// The providers, in order.
    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    /// The provider the next turn starts on.
    pub fn current(&self) -> &Provider {
        &self.providers[self.current.min(self.providers.len() - 1)]
    }

    /// Makes the next turn start on the provider `id` again (e.g. the primary once it is back).
    /// Refused with [`Error::InvalidOptions`] for an id not in the list.
    pub fn start_on(&mut self, id: &str) -> Result<()> {
        self.current = self
            .providers
            .iter()
            .position(|p| p.id == id)
            .ok_or_else(|| {
                Error::InvalidOptions(format!("no model provider `{id}` in the list"))
            })?;
        Ok(())
    }

    /// The switches of the last turn, whether it succeeded or not.
    pub fn last_switches(&self) -> &[ProviderSwitch] {
        &self.switches
    }

    /// The conversation.
    pub fn inner(&self) -> &C {
        &self.inner
    }

    /// The conversation back.
    pub fn into_inner(self) -> C {
        self.inner
    }

    /// Runs one turn, failing over as the policy says; returns what it produced, the provider
    /// that answered and the switches made. When every provider failed, the last error.
    pub async fn send_routed(&mut self, prompt: &str) -> Result<RoutedTurn> {
        self.switches.clear();
        let n = self.providers.len();
        let start = self.current;
        for attempt in 0..n {
            let idx = (start + attempt) % n;
            if self.applied != Some(idx) {
                let change = ProviderChange {
                    to: &self.providers[idx],
                    previous: self.applied.map(|i| &self.providers[i]),
                    thread_provider: self.thread_provider.as_deref(),
                };
                self.inner.use_provider(change).await?;
                self.applied = Some(idx);
            }
            self.current = idx;
            let result = self.inner.send(prompt).await;
            if let Err(e) = &result {
                self.inner.turn_failed(e);
            }
            if self.thread_provider.is_none() && self.inner.thread_id().is_some() {
                self.thread_provider = Some(self.providers[idx].id.clone());
            }
            let err = match result {
                Ok(summary) => {
                    return Ok(RoutedTurn {
                        summary,
                        provider: self.providers[idx].id.clone(),
                        switches: self.switches.clone(),
                    });
                }
                Err(e) if attempt > 0 && e.to_string().contains(PROVIDER_PINNED) => {
                    return Err(pinned(
                        &e,
                        &self.providers[idx],
                        self.thread_provider.as_deref(),
                    ));
                }
                Err(e) => e,
            };
            let kind = err.kind();
            if attempt + 1 == n || !self.kinds.contains(&kind) {
                return Err(err);
            }
            let switch = ProviderSwitch {
                from: self.providers[idx].id.clone(),
                to: self.providers[(idx + 1) % n].id.clone(),
                kind,
                http_status: err.http_status(),
                message: err.to_string(),
                thread_id: self.inner.thread_id().map(str::to_owned),
            };
            tracing::warn!(
                target: "codex_driver::routing",
                from = %switch.from,
                to = %switch.to,
                kind = %switch.kind,
                http_status = ?switch.http_status,
                thread = ?switch.thread_id,
                "model provider failed; retrying the turn on the next: {}",
                switch.message
            );
            if let Some(f) = &self.on_switch {
                f(&switch);
            }
            self.switches.push(switch);
        }
        // `n >= 1` and the last attempt always returns above.
        Err(Error::InvalidOptions(
            "failover needs at least one model provider".into(),
        ))
    }
}

impl<C: Routable + Send> Conversation for Failover<C> {
    fn thread_id(&self) -> Option<&str> {
        self.inner.thread_id()
    }

    async fn send(&mut self, prompt: &str) -> Result<TurnSummary> {
        Ok(self.send_routed(prompt).await?.summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{HashMap, VecDeque};
    use std::sync::Mutex;

    /// A conversation whose turns answer from a script per provider, recording what ran where.
    #[derive(Debug, Default)]
    struct Fake {
        provider: Option<String>,
        scripts: HashMap<String, VecDeque<std::result::Result<&'static str, Error>>>,
        log: Vec<(String, String)>,
        switched_from: Vec<Option<String>>,
        thread: Option<String>,
    }

    impl Fake {
        fn script(
            mut self,
            provider: &str,
            answers: Vec<std::result::Result<&'static str, Error>>,
        ) -> Self {
            self.scripts.insert(provider.into(), answers.into());
            self
        }
    }

    impl Conversation for Fake {
        fn thread_id(&self) -> Option<&str> {
            self.thread.as_deref()
        }

        async fn send(&mut self, prompt: &str) -> Result<TurnSummary> {
            let p = self.provider.clone().unwrap_or_default();
            self.log.push((p.clone(), prompt.into()));
            let next = self.scripts.get_mut(&p).and_then(VecDeque::pop_front);
            match next {
                Some(Ok(text)) => Ok(TurnSummary {
                    thread_id: "t1".into(),
                    final_message: Some(text.into()),
                    ..Default::default()
                }),
                Some(Err(e)) => Err(e),
                None => Err(Error::InvalidOptions(format!("{p}: script exhausted"))),
            }
        }
    }

    impl Routable for Fake {
        async fn use_provider(&mut self, change: ProviderChange<'_>) -> Result<()> {
            self.switched_from
                .push(change.previous.map(|q| q.id.clone()));
            self.provider = Some(change.to.id.clone());
            Ok(())
        }

        fn turn_failed(&mut self, error: &Error) {
            if let Error::TurnFailed {
                thread_id: Some(id),
                ..
            } = error
            {
                self.thread.get_or_insert_with(|| id.clone());
            }
        }
    }

    fn failed(message: &str) -> Error {
        Error::TurnFailed {
            message: message.into(),
            thread_id: Some("t1".into()),
            stderr_tail: String::new(),
            info: None,
        }
    }

    fn outage() -> Error {
        failed("unexpected status 503 Service Unavailable: down, url: http://a/v1/responses")
    }

    fn three() -> Vec<Provider> {
        vec![Provider::new("a"), Provider::new("b"), Provider::new("c")]
    }

    #[tokio::test]
    async fn an_outage_moves_the_turn_to_the_next_provider_and_stays_there() -> Result<()> {
        let fake = Fake::default()
            .script("a", vec![Err(outage())])
            .script("b", vec![Ok("from b"), Ok("again b")]);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let mut f = Failover::new(fake, three())?.on_switch(move |s| {
            if let Ok(mut v) = sink.lock() {
                v.push((s.from.clone(), s.to.clone()));
            }
        });
        let turn = f.send_routed("hi").await?;
        assert_eq!(turn.provider, "b");
        assert_eq!(turn.summary.final_message.as_deref(), Some("from b"));
        assert_eq!(turn.switches.len(), 1);
        let s = &turn.switches[0];
        assert_eq!(
            (s.from.as_str(), s.to.as_str(), s.kind, s.http_status),
            ("a", "b", ErrorKind::Provider, Some(503))
        );
        assert_eq!(
            s.thread_id.as_deref(),
            Some("t1"),
            "the failed turn's thread adopted"
        );
        assert_eq!(
            seen.lock().map(|v| v.clone()).unwrap_or_default(),
            vec![("a".to_owned(), "b".to_owned())]
        );
        // The next turn starts on the provider that answered, with no switch.
        let second = f.send("next").await?;
        assert_eq!(second.final_message.as_deref(), Some("again b"));
        assert!(f.last_switches().is_empty());
        let fake = f.into_inner();
        assert_eq!(
            fake.log,
            [("a", "hi"), ("b", "hi"), ("b", "next")].map(|(p, m)| (p.to_owned(), m.to_owned()))
        );
        assert_eq!(fake.switched_from, vec![None, Some("a".to_owned())]);
        Ok(())
    }

    #[tokio::test]
    async fn other_kinds_are_returned_without_a_switch() -> Result<()> {
        let auth = failed("unexpected status 401 Unauthorized: bad key");
        let timeout = Error::Timeout {
            after: std::time::Duration::from_secs(1),
            kind: crate::error::TimeoutKind::Overall,
            stderr_tail: String::new(),
        };
        for (err, kind) in [(auth, ErrorKind::Auth), (timeout, ErrorKind::Timeout)] {
            let fake = Fake::default()
                .script("a", vec![Err(err)])
                .script("b", vec![Ok("b")]);
            let mut f = Failover::new(fake, three())?;
            let got = f.send_routed("hi").await.err().map(|e| e.kind());
            assert_eq!(got, Some(kind));
            assert!(f.last_switches().is_empty());
            assert_eq!(f.inner().log.len(), 1, "no retry on {kind}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn timeouts_fail_over_when_asked() -> Result<()> {
        let timeout = Error::Timeout {
            after: std::time::Duration::from_secs(1),
            kind: crate::error::TimeoutKind::Overall,
            stderr_tail: String::new(),
        };
        let fake = Fake::default()
            .script("a", vec![Err(timeout)])
            .script("b", vec![Ok("b")]);
        let mut f = Failover::new(fake, three())?.fail_over_on(ErrorKind::Timeout);
        let turn = f.send_routed("hi").await?;
        assert_eq!(turn.provider, "b");
        assert_eq!(turn.switches[0].kind, ErrorKind::Timeout);
        Ok(())
    }

    #[tokio::test]
    async fn all_providers_down_gives_the_last_error_with_every_switch() -> Result<()> {
        let fake = Fake::default()
            .script("a", vec![Err(outage())])
            .script(
                "b",
                vec![Err(failed(
                    "exceeded retry limit, last status: 429 Too Many Requests",
                ))],
            )
            .script(
                "c",
                vec![Err(failed("stream disconnected before completion"))],
            );
        let mut f = Failover::new(fake, three())?;
        let err = f.send_routed("hi").await.err();
        assert_eq!(
            err.as_ref()
                .map(|e| (e.kind(), e.to_string().contains("stream disconnected"))),
            Some((ErrorKind::Provider, true)),
            "{err:?}"
        );
        let path: Vec<_> = f
            .last_switches()
            .iter()
            .map(|s| (s.from.as_str(), s.to.as_str(), s.http_status))
            .collect();
        assert_eq!(path, vec![("a", "b", Some(503)), ("b", "c", Some(429))]);
        assert_eq!(f.inner().log.len(), 3, "each provider tried once");
        Ok(())
    }

    #[tokio::test]
    async fn a_turn_wraps_around_to_the_primary_once() -> Result<()> {
        let fake = Fake::default()
            .script("a", vec![Err(outage()), Ok("a is back")])
            .script("b", vec![Ok("b1"), Err(outage())]);
        let mut f = Failover::new(fake, vec![Provider::new("a"), Provider::new("b")])?;
        assert_eq!(f.send_routed("one").await?.provider, "b");
        let second = f.send_routed("two").await?;
        assert_eq!(second.provider, "a");
        assert_eq!(
            second
                .switches
                .iter()
                .map(|s| (s.from.as_str(), s.to.as_str()))
                .collect::<Vec<_>>(),
            vec![("b", "a")]
        );
        f.start_on("b")?;
        assert_eq!(f.current().id, "b");
        assert!(f.start_on("z").is_err());
        Ok(())
    }

    #[test]
    fn the_provider_list_is_checked() {
        let kind = |r: Result<Failover<Fake>>| r.err().map(|e| e.kind());
        assert_eq!(
            kind(Failover::new(Fake::default(), vec![])),
            Some(ErrorKind::Config)
        );
        assert_eq!(
            kind(Failover::new(
                Fake::default(),
                vec![Provider::new("a"), Provider::new("a")]
            )),
            Some(ErrorKind::Config)
        );
        assert_eq!(
            kind(Failover::new(Fake::default(), vec![Provider::new(" ")])),
            Some(ErrorKind::Config)
        );
    }

    #[test]
    fn a_defined_provider_becomes_overrides_and_app_server_config() {
        let mut def = ModelProvider::responses("Backup", "http://127.0.0.1:9/v1").env_key("BK");
        def.request_max_retries = Some(0);
        let p = Provider::defined("back up", def).model("m1");
        assert_eq!(
            p.overrides().to_args(),
            vec![
                "model=\"m1\"",
                "model_provider=\"back up\"",
                "model_providers.\"back up\".base_url=\"http://127.0.0.1:9/v1\"",
                "model_providers.\"back up\".env_key=\"BK\"",
                "model_providers.\"back up\".name=\"Backup\"",
                "model_providers.\"back up\".request_max_retries=0",
                "model_providers.\"back up\".wire_api=\"responses\"",
            ]
        );
        let json = serde_json::Value::Object(p.config_json("back up"));
        assert_eq!(json["model_providers.\"back up\".request_max_retries"], 0);
        assert_eq!(json["model_providers.\"back up\".name"], "Backup");
        assert_eq!(json.as_object().map(|m| m.len()), Some(5));
        assert!(Provider::new("openai").config_json("openai").is_empty());
        // Standing in under the thread's provider id.
        assert_eq!(stand_in_id(&p, Some("mock")), "mock");
        assert_eq!(stand_in_id(&p, None), "back up");
        assert_eq!(stand_in_id(&Provider::new("x"), Some("mock")), "x");
        assert_eq!(
            p.overrides_as("mock").to_args()[..3],
            [
                "model=\"m1\"",
                "model_provider=\"mock\"",
                "model_providers.mock.base_url=\"http://127.0.0.1:9/v1\"",
            ]
        );
    }

    #[tokio::test]
    async fn codex_refusing_a_new_provider_id_is_a_typed_refusal() -> Result<()> {
        let refusal = Error::Exited {
            code: 1,
            stderr_tail: String::new(),
            last_error: Some("thread/resume failed: failed to load configuration: Cannot change this thread's model provider from `a` to `b` on resume.".into()),
        };
        let fake = Fake::default()
            .script("a", vec![Err(outage())])
            .script("b", vec![Err(refusal)]);
        let mut f = Failover::new(fake, three())?;
        let err = f.send_routed("hi").await.err();
        assert!(
            matches!(&err, Some(Error::InvalidOptions(m)) if m.contains("from `a` to `b`") && m.contains("Provider::defined")),
            "{err:?}"
        );
        assert_eq!(f.last_switches().len(), 1);
        assert_eq!(f.inner().log.len(), 2, "c is not tried after a refusal");
        Ok(())
    }

    #[tokio::test]
    async fn an_exec_thread_keeps_its_provider_id_with_the_next_definition_standing_in()
    -> Result<()> {
        let mut c = ExecConversation::new(crate::Exec::new("").config("model", "mine"));
        let args = |c: &mut ExecConversation| c.template_mut().spawn_options_ref().config.to_args();
        let primary = Provider::new("mock");
        let backup = Provider::defined(
            "backup",
            ModelProvider::responses("Backup", "http://b/v1").env_key("BK"),
        )
        .model("m1");
        let change = |to, previous, thread_provider| ProviderChange {
            to,
            previous,
            thread_provider,
        };
        c.use_provider(change(&primary, None, None)).await?;
        assert_eq!(args(&mut c), ["model=\"mine\"", "model_provider=\"mock\""]);
        // No thread yet: a provider is selected by its own id.
        c.use_provider(change(&backup, Some(&primary), Some("mock")))
            .await?;
        assert!(args(&mut c).contains(&"model_provider=\"backup\"".to_owned()));
        c.adopt_thread("t1".into());
        c.use_provider(change(&backup, Some(&backup), Some("mock")))
            .await?;
        assert_eq!(
            args(&mut c),
            [
                "model=\"m1\"",
                "model_provider=\"mock\"",
                "model_providers.mock.base_url=\"http://b/v1\"",
                "model_providers.mock.env_key=\"BK\"",
                "model_providers.mock.name=\"Backup\"",
                "model_providers.mock.wire_api=\"responses\"",
            ]
        );
        // Back to the primary: the stand-in definition and its model are withdrawn.
        c.use_provider(change(&primary, Some(&backup), Some("mock")))
            .await?;
        assert_eq!(args(&mut c), ["model_provider=\"mock\""]);
        Ok(())
    }
}
