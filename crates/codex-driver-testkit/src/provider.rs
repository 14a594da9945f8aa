//! The scripted Responses API provider.

use crate::http::{Incoming, MockServer, Shared};
use crate::response::{Kind, MockResponse};
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use serde_json::Value;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A request Codex sent to the provider.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path (e.g. `/v1/responses`).
    pub path: String,
    /// Headers, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (`Value::Null` when it was not JSON).
    pub body: Value,
}

impl RecordedRequest {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `input` items of a Responses request.
    pub fn input(&self) -> &[Value] {
        self.body
            .get("input")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Texts of the user's `input_text` spans, in order.
    pub fn user_texts(&self) -> Vec<String> {
        self.input()
            .iter()
            .filter(|i| i.get("type").and_then(Value::as_str) == Some("message"))
            .filter(|i| i.get("role").and_then(Value::as_str) == Some("user"))
            .filter_map(|i| i.get("content").and_then(Value::as_array))
            .flatten()
            .filter(|c| c.get("type").and_then(Value::as_str) == Some("input_text"))
            .filter_map(|c| c.get("text").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }

    /// The `output` text of every `function_call_output` input item.
    pub fn function_call_outputs(&self) -> Vec<String> {
        self.input()
            .iter()
            .filter(|i| i.get("type").and_then(Value::as_str) == Some("function_call_output"))
            .map(|i| match i.get("output") {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => String::new(),
            })
            .collect()
    }

    /// The `model` field.
    pub fn model(&self) -> Option<&str> {
        self.body.get("model").and_then(Value::as_str)
    }
}

/// A responder computing the answer from the request ([`MockProvider::respond_with`]).
type Responder = std::sync::Arc<dyn Fn(&RecordedRequest) -> Option<MockResponse> + Send + Sync>;

#[derive(Default)]
struct Inner {
    responder: Option<Responder>,
    script: VecDeque<MockResponse>,
    /// (needle, whole message only, response).
    routes: Vec<(String, bool, MockResponse)>,
    fallback: Option<MockResponse>,
    requests: VecDeque<RecordedRequest>,
    /// Keep at most this many requests (oldest dropped); `None`: all.
    keep_requests: Option<usize>,
    seq: u64,
}

/// A scripted Responses API server on `127.0.0.1` (ephemeral port). Stops when dropped.
pub struct MockProvider {
    server: MockServer<Inner>,
}

impl std::fmt::Debug for MockProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.server.debug(f, "MockProvider")
    }
}

impl MockProvider {
    /// Starts a provider that answers requests with `script`, in order.
    pub async fn start(script: Vec<MockResponse>) -> std::io::Result<Self> {
        let inner = Inner {
            script: script.into(),
            ..Inner::default()
        };
        let server = MockServer::start(inner, |_, shared| {
            Router::new().fallback(handle).with_state(shared)
        })
        .await?;
        Ok(Self { server })
    }

    /// Adds responses to the end of the script.
    pub fn push(&self, response: MockResponse) -> &Self {
        self.server.state().script.push_back(response);
        self
    }

    /// Answers the next request whose latest user message contains `needle` with `response`
    /// (once), before the general script. For concurrent turns whose order is not fixed.
    pub fn route(&self, needle: impl Into<String>, response: MockResponse) -> &Self {
        self.server
            .state()
            .routes
            .push((needle.into(), false, response));
        self
    }

    /// Like [`route`](Self::route), for a request whose latest user message is exactly `text`
    /// (not, say, a side request quoting it, such as the TUI's title generation).
    pub fn route_exact(&self, text: impl Into<String>, response: MockResponse) -> &Self {
        self.server
            .state()
            .routes
            .push((text.into(), true, response));
        self
    }

    /// Answers requests with what `f` computes from them (e.g. a final message quoting the
    /// tool output Codex sends back), before routes and the script; `None` from `f` leaves a
    /// request to them. `f` runs with the provider's state locked: it must not call the
    /// provider.
    pub fn respond_with<F>(&self, f: F) -> &Self
    where
        F: Fn(&RecordedRequest) -> Option<MockResponse> + Send + Sync + 'static,
    {
        self.server.state().responder = Some(std::sync::Arc::new(f));
        self
    }

    /// The answer once the script is used up (default: HTTP 500 naming the problem).
    pub fn set_fallback(&self, response: Option<MockResponse>) -> &Self {
        self.server.state().fallback = response;
        self
    }

    /// Keeps only the last `n` requests for [`requests`](Self::requests) (`None`: every one, the
    /// default). A long thread's requests carry its whole history, so a soak of hundreds of
    /// turns would otherwise hold it hundreds of times over.
    pub fn keep_requests(&self, n: Option<usize>) -> &Self {
        self.server.state().keep_requests = n;
        self
    }

    /// Drops the scripted responses not yet served (and the routes), e.g. after a cancelled
    /// turn that never asked for them.
    pub fn clear(&self) -> &Self {
        let mut state = self.server.state();
        state.script.clear();
        state.routes.clear();
        self
    }

    /// Scripted responses not yet served.
    pub fn remaining(&self) -> usize {
        self.server.state().script.len()
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.state().requests.iter().cloned().collect()
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The provider's base URL, `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.server.addr())
    }

    /// A `config.toml` that makes Codex use this provider (`model_provider = "mock"`), with
    /// retries off so faults surface at once.
    pub fn config_toml(&self) -> String {
        provider_config(&self.base_url(), Some("mock-model"))
    }

    /// Writes [`config_toml`](Self::config_toml) into `dir/config.toml` (creating `dir`).
    pub fn write_codex_home(&self, dir: &Path) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("config.toml"), self.config_toml())?;
        Ok(dir.to_path_buf())
    }

    /// A fresh temporary `CODEX_HOME` for this provider, deleted when dropped. It is created
    /// under `$CODEX_DRIVER_TEST_TMP` when set, else `$XDG_CACHE_HOME/codex-driver-testkit`
    /// (or `~/.cache/...`): outside the system temp dir, where Codex would warn on every run
    /// that it can't create its helper aliases. Falls back to the temp dir when that fails.
    pub fn temp_home(&self) -> std::io::Result<TempHome> {
        let preferred = std::env::var_os("CODEX_DRIVER_TEST_TMP")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| codex_driver::home::cache_dir("codex-driver-testkit").ok());
        match preferred.map(|b| self.temp_home_in(&b)) {
            Some(Ok(h)) => Ok(h),
            _ => self.temp_home_in(&std::env::temp_dir()),
        }
    }

    /// A fresh `CODEX_HOME` for this provider under `base`, deleted when dropped.
    pub fn temp_home_in(&self, base: &Path) -> std::io::Result<TempHome> {
        std::fs::create_dir_all(base)?;
        let dir = tempfile::Builder::new()
            .prefix("codex-home-")
            .tempdir_in(base)?;
        self.write_codex_home(dir.path())?;
        Ok(TempHome { dir })
    }
}

/// A temporary `CODEX_HOME`, deleted when dropped.
#[derive(Debug)]
pub struct TempHome {
    dir: tempfile::TempDir,
}

impl TempHome {
    /// Its path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

async fn handle(State(shared): State<Shared<Inner>>, req: Incoming) -> Response {
    let rec = RecordedRequest {
        method: req.method.to_string(),
        path: req.uri.path().to_owned(),
        headers: req.header_pairs(),
        body: serde_json::from_slice(&req.body).unwrap_or(Value::Null),
    };
    if !(req.method == Method::POST && req.uri.path().ends_with("/responses")) {
        // Codex may probe other endpoints (e.g. a websocket upgrade GET); decline them.
        return (
            StatusCode::NOT_FOUND,
            "codex-driver-testkit: only POST /v1/responses",
        )
            .into_response();
    }
    let (resp, seq) = {
        let mut inner = shared.lock();
        let last_user = rec.user_texts().pop().unwrap_or_default();
        // A follow-up request (carrying tool output) belongs to the turn already routed.
        let follow_up = rec
            .input()
            .last()
            .and_then(|i| i.get("type"))
            .and_then(Value::as_str)
            .is_some_and(|t| t.ends_with("_output"));
        let computed = inner.responder.as_ref().and_then(|f| f(&rec));
        inner.requests.push_back(rec);
        if let Some(keep) = inner.keep_requests {
            while inner.requests.len() > keep {
                inner.requests.pop_front();
            }
        }
        inner.seq += 1;
        let seq = inner.seq;
        let routed = if follow_up {
            None
        } else {
            inner.routes.iter().position(|(n, exact, _)| {
                if *exact {
                    last_user == n.as_str()
                } else {
                    last_user.contains(n.as_str())
                }
            })
        };
        let next = match (computed, routed) {
            (Some(r), _) => Some(r),
            (None, Some(i)) => Some(inner.routes.remove(i).2),
            (None, None) => inner.script.pop_front().or_else(|| inner.fallback.clone()),
        };
        (next, seq)
    };
    let Some(resp) = resp else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("codex-driver-testkit: no scripted response left for request #{seq}"),
        )
            .into_response();
    };
    if !resp.delay_before.is_zero() {
        tokio::time::sleep(resp.delay_before).await;
    }
    match &resp.kind {
        Kind::HttpError {
            status,
            body,
            headers,
        } => {
            let mut response = (
                StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                body.clone(),
            )
                .into_response();
            for (name, value) in headers {
                if let (Ok(n), Ok(v)) = (
                    axum::http::HeaderName::from_bytes(name.as_bytes()),
                    axum::http::HeaderValue::from_str(value),
                ) {
                    response.headers_mut().insert(n, v);
                }
            }
            response
        }
        Kind::Stream { .. } => {
            let events = resp.sse_events(seq);
            let cut = resp.cut_after;
            let between = resp.delay_between;
            let chunks: Vec<Result<Bytes, std::io::Error>> = events
                .iter()
                .take(cut.unwrap_or(usize::MAX))
                .map(|e| {
                    let ty = e.get("type").and_then(Value::as_str).unwrap_or("message");
                    Ok(Bytes::from(format!("event: {ty}\ndata: {e}\n\n")))
                })
                .chain(cut.map(|_| {
                    Err(std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "codex-driver-testkit: scripted stream cut",
                    ))
                }))
                .collect();
            let body = stream::unfold(
                (chunks.into_iter(), true),
                move |(mut it, first)| async move {
                    let next = it.next()?;
                    if !first && !between.is_zero() {
                        tokio::time::sleep(between).await;
                    }
                    Some((next, (it, false)))
                },
            );
            Response::builder()
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, "text/event-stream")
                .header(header::CACHE_CONTROL, "no-cache")
                .body(Body::from_stream(body))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
    }
}

/// A `config.toml` pointing Codex at `base_url` as provider `mock`, retries off so a fault
/// (or a replay's divergence) fails the turn at once.
pub(crate) fn provider_config(base_url: &str, model: Option<&str>) -> String {
    let mut doc = toml_edit::DocumentMut::new();
    if let Some(model) = model {
        doc["model"] = toml_edit::value(model);
    }
    doc["model_provider"] = toml_edit::value("mock");
    let mut p = toml_edit::Table::new();
    p["name"] = toml_edit::value("mock");
    p["base_url"] = toml_edit::value(base_url);
    p["wire_api"] = toml_edit::value("responses");
    p["request_max_retries"] = toml_edit::value(0);
    p["stream_max_retries"] = toml_edit::value(0);
    let mut providers = toml_edit::Table::new();
    providers.set_implicit(true);
    providers.insert("mock", toml_edit::Item::Table(p));
    doc.insert("model_providers", toml_edit::Item::Table(providers));
    doc.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_points_at_the_provider() -> anyhow::Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async {
            let p = MockProvider::start(vec![]).await?;
            let port = p.addr().port();
            assert_eq!(
                p.config_toml(),
                format!(
                    "model = \"mock-model\"\nmodel_provider = \"mock\"\n\n[model_providers.mock]\nname = \"mock\"\nbase_url = \"http://127.0.0.1:{port}/v1\"\nwire_api = \"responses\"\nrequest_max_retries = 0\nstream_max_retries = 0\n"
                )
            );
            Ok(())
        })
    }
}
