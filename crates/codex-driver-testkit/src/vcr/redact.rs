//! What the recorder keeps out of a cassette: secrets in headers and bodies.

use super::*;

/// What a cassette must not contain: header values outside an allow-list (and credentials
/// always), and secrets replaced by [`REDACTED`] wherever they appear.
#[derive(Clone)]
pub struct Redaction {
    secrets: Vec<String>,
    allow_headers: Vec<String>,
}

impl std::fmt::Debug for Redaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secrets themselves must never reach a log.
        f.debug_struct("Redaction")
            .field("secrets", &self.secrets.len())
            .field("allow_headers", &self.allow_headers)
            .finish()
    }
}

impl Default for Redaction {
    fn default() -> Self {
        Self {
            secrets: Vec::new(),
            allow_headers: DEFAULT_HEADER_ALLOW_LIST
                .iter()
                .map(|h| (*h).to_owned())
                .collect(),
        }
    }
}

impl Redaction {
    /// The default: [`DEFAULT_HEADER_ALLOW_LIST`], no secrets.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces `secret` by [`REDACTED`] everywhere (bodies, events, headers). Empty strings
    /// are ignored.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.add_secret(secret.into());
        self
    }

    pub(super) fn add_secret(&mut self, secret: String) {
        if !secret.is_empty() && !self.secrets.contains(&secret) {
            self.secrets.push(secret);
            // Longest first, so a secret containing another is replaced whole.
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    /// Keeps request header `name` too (credentials are dropped regardless).
    pub fn allow_header(mut self, name: impl AsRef<str>) -> Self {
        self.allow_headers.push(name.as_ref().to_ascii_lowercase());
        self
    }

    /// `text` with every secret replaced.
    pub fn text(&self, text: &str) -> String {
        self.secrets
            .iter()
            .fold(text.to_owned(), |t, s| t.replace(s.as_str(), REDACTED))
    }

    /// `value` with every secret replaced, in strings and object keys.
    pub fn value(&self, value: &Value) -> Value {
        if self.secrets.is_empty() {
            return value.clone();
        }
        map_strings(value, &|s| self.text(s))
    }

    /// The request headers a cassette keeps.
    pub(super) fn headers(&self, headers: &HeaderMap) -> BTreeMap<String, String> {
        headers
            .iter()
            .filter(|(k, _)| !NEVER_RECORDED.contains(&k.as_str()))
            .filter(|(k, _)| self.allow_headers.iter().any(|a| a == k.as_str()))
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    self.text(&String::from_utf8_lossy(v.as_bytes())),
                )
            })
            .collect()
    }

    pub(super) fn exchange(&self, e: &mut Exchange) {
        e.path = self.text(&e.path);
        e.request.headers = std::mem::take(&mut e.request.headers)
            .into_iter()
            .filter(|(k, _)| !NEVER_RECORDED.contains(&k.as_str()))
            .map(|(k, v)| (k, self.text(&v)))
            .collect();
        e.request.body = self.value(&e.request.body);
        e.response.headers = std::mem::take(&mut e.response.headers)
            .into_iter()
            .filter(|(k, _)| !NEVER_RECORDED.contains(&k.as_str()))
            .map(|(k, v)| (k, self.text(&v)))
            .collect();
        match &mut e.response.body {
            ResponseBody::Body(v) => *v = self.value(v),
            ResponseBody::Events(evs) => {
                for ev in evs {
                    ev.event = ev.event.as_deref().map(|t| self.text(t));
                    ev.data = ev.data.as_ref().map(|v| self.value(v));
                    ev.text = ev.text.as_deref().map(|t| self.text(t));
                }
            }
        }
    }
}

/// `value` with `f` applied to every string (and object key).
pub(super) fn map_strings(value: &Value, f: &dyn Fn(&str) -> String) -> Value {
    match value {
        Value::String(s) => Value::String(f(s)),
        Value::Array(a) => Value::Array(a.iter().map(|v| map_strings(v, f)).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (f(k), map_strings(v, f))).collect())
        }
        other => other.clone(),
    }
}
