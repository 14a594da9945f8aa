//! The recording proxy.

use super::*;

/// An upstream API key: sent as `Authorization: Bearer`, never shown.
#[derive(Clone)]
struct ApiKey(String);

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey([REDACTED])")
    }
}

/// Configures a [`Recorder`]; from [`Recorder::builder`].
#[derive(Debug)]
pub struct RecorderBuilder {
    upstream: String,
    api_key_env: Option<String>,
    api_key: Option<ApiKey>,
    redaction: Redaction,
    normalizer: Normalizer,
    model: Option<String>,
    save_to: Option<PathBuf>,
    timeout: Duration,
}

impl RecorderBuilder {
    /// Reads the upstream API key from this environment variable when starting.
    pub fn api_key_env(mut self, var: impl Into<String>) -> Self {
        self.api_key_env = Some(var.into());
        self
    }

    /// The upstream API key itself (e.g. from a secret store); takes precedence over
    /// [`api_key_env`](Self::api_key_env).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(ApiKey(key.into()));
        self
    }

    /// Replaces `secret` by [`REDACTED`] everywhere in the cassette. The API key is always
    /// redacted.
    pub fn redact(mut self, secret: impl Into<String>) -> Self {
        self.redaction = self.redaction.secret(secret);
        self
    }

    /// Keeps request header `name` in the cassette too (credentials never).
    pub fn allow_header(mut self, name: impl AsRef<str>) -> Self {
        self.redaction = self.redaction.allow_header(name);
        self
    }

    /// Path placeholders for the cassette (default: [`Normalizer::new`]; only its paths and
    /// working-directory detection are used when recording).
    pub fn normalizer(mut self, normalizer: Normalizer) -> Self {
        self.normalizer = normalizer;
        self
    }

    /// The `model` written by [`Recorder::config_toml`] (default: none, Codex's own default).
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Where [`Recorder::finish`] saves the cassette.
    pub fn save_to(mut self, path: impl Into<PathBuf>) -> Self {
        self.save_to = Some(path.into());
        self
    }

    /// Upstream request timeout, whole response included (default 10 minutes).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Starts the proxy on 127.0.0.1 (ephemeral port).
    pub async fn start(mut self) -> Result<Recorder, VcrError> {
        let key = match (self.api_key.take(), &self.api_key_env) {
            (Some(k), _) => Some(k),
            (None, Some(var)) => Some(ApiKey(
                std::env::var(var).map_err(|_| VcrError::MissingApiKey { var: var.clone() })?,
            )),
            (None, None) => None,
        };
        if let Some(k) = &key {
            self.redaction.add_secret(k.0.clone());
        }
        let client = reqwest::Client::builder()
            .timeout(self.timeout)
            .build()
            .map_err(|e| VcrError::Start(std::io::Error::other(e)))?;
        let upstream = self.upstream.trim_end_matches('/').to_owned();
        let state = RecState {
            exchanges: Vec::new(),
            in_flight: 0,
            redaction: self.redaction,
            normalizer: self.normalizer,
        };
        let server = MockServer::start(state, |_, shared| {
            let ctx = Arc::new(RecCtx {
                shared,
                client,
                upstream: upstream.clone(),
                key,
            });
            Router::new().fallback(record).with_state(ctx)
        })
        .await
        .map_err(VcrError::Start)?;
        Ok(Recorder {
            server,
            upstream,
            model: self.model,
            save_to: self.save_to,
        })
    }
}

struct RecState {
    /// By arrival order; `None` until the response has been read to its end.
    exchanges: Vec<Option<Exchange>>,
    in_flight: usize,
    redaction: Redaction,
    normalizer: Normalizer,
}

struct RecCtx {
    shared: Shared<RecState>,
    client: reqwest::Client,
    upstream: String,
    key: Option<ApiKey>,
}

/// A recording proxy in front of an upstream Responses-API provider. Stops when dropped.
pub struct Recorder {
    server: MockServer<RecState>,
    upstream: String,
    model: Option<String>,
    save_to: Option<PathBuf>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.server.debug(f, "Recorder")
    }
}

impl Recorder {
    /// A recorder forwarding to `upstream_base_url` (e.g. `https://api.openai.com/v1`): Codex's
    /// `POST /v1/responses` goes to `{upstream_base_url}/responses`.
    pub fn builder(upstream_base_url: impl Into<String>) -> RecorderBuilder {
        RecorderBuilder {
            upstream: upstream_base_url.into(),
            api_key_env: None,
            api_key: None,
            redaction: Redaction::new(),
            normalizer: Normalizer::new(),
            model: None,
            save_to: None,
            timeout: Duration::from_secs(600),
        }
    }

    endpoint_accessors!("recorder");

    /// Exchanges completed so far.
    pub fn len(&self) -> usize {
        self.server.state().exchanges.iter().flatten().count()
    }

    /// Whether no exchange is complete yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The cassette so far (exchanges still streaming are left out).
    pub fn cassette(&self) -> Cassette {
        let state = self.server.state();
        let redacted = state.redaction.text(&self.upstream);
        Cassette {
            header: CassetteHeader::now(Some(redacted)),
            exchanges: state.exchanges.iter().flatten().cloned().collect(),
        }
    }

    /// Saves [`cassette`](Self::cassette) to `path` (atomically).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), VcrError> {
        self.cassette().save(path)
    }

    /// Waits (up to 10 s) for exchanges still streaming, saves to the
    /// [`save_to`](RecorderBuilder::save_to) path if one was given, stops the proxy and returns
    /// the cassette.
    pub async fn finish(self) -> Result<Cassette, VcrError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = self.server.state().in_flight;
            if left == 0 {
                break;
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(VcrError::InFlight(left));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let cassette = self.cassette();
        if let Some(path) = &self.save_to {
            cassette.save(path)?;
        }
        Ok(cassette)
    }
}

/// Counts a request in flight until dropped, even when Codex hangs up mid-way.
struct InFlight(Shared<RecState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
    }
}

async fn record(State(ctx): State<Arc<RecCtx>>, req: Incoming) -> Response {
    let slot = {
        let mut s = ctx.shared.lock();
        s.exchanges.push(None);
        s.in_flight += 1;
        s.exchanges.len() - 1
    };
    let guard = InFlight(ctx.shared.clone());
    let path_and_query = req
        .uri
        .path_and_query()
        .map_or_else(|| req.uri.path().to_owned(), |p| p.as_str().to_owned());
    // Our base URL ends in /v1; the upstream's base URL replaces it.
    let rest = path_and_query
        .strip_prefix("/v1")
        .filter(|r| r.is_empty() || r.starts_with(['/', '?']))
        .unwrap_or(&path_and_query);
    let url = format!("{}{rest}", ctx.upstream);

    let mut headers = HeaderMap::new();
    for (k, v) in &req.headers {
        let name = k.as_str();
        // accept-encoding: the body is recorded as text, so ask for it uncompressed.
        if HOP_BY_HOP.contains(&name) || name == "authorization" || name == "accept-encoding" {
            continue;
        }
        headers.append(k.clone(), v.clone());
    }
    if let Some(key) = &ctx.key
        && let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {}", key.0))
    {
        v.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, v);
    }
    let request_body = request_json(&req.headers, &req.body);
    let sent = ctx
        .client
        .request(req.method.clone(), &url)
        .headers(headers)
        .body(req.body.clone())
        .send()
        .await;
    let base = Base {
        method: req.method.to_string(),
        path: path_and_query.clone(),
        headers: req.headers.clone(),
        body: request_body,
    };
    let upstream = match sent {
        Ok(r) => r,
        Err(e) => {
            let message = format!("codex-driver-testkit recorder: upstream request failed: {e}");
            store(
                &ctx.shared,
                slot,
                base,
                Upstream {
                    status: 502,
                    headers: HeaderMap::new(),
                    bytes: message.clone().into_bytes(),
                    truncated: false,
                },
            );
            drop(guard);
            return (StatusCode::BAD_GATEWAY, message).into_response();
        }
    };
    let status = upstream.status();
    let resp_headers = upstream.headers().clone();
    let stored_headers = resp_headers.clone();
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    let shared = ctx.shared.clone();
    tokio::spawn(async move {
        let _guard = guard;
        let mut upstream = upstream;
        let mut buf = Vec::new();
        let mut truncated = false;
        loop {
            match upstream.chunk().await {
                Ok(Some(chunk)) => {
                    buf.extend_from_slice(&chunk);
                    // Passed on as it arrives: Codex sees the stream's own timing.
                    if tx.send(Ok(chunk)).await.is_err() {
                        truncated = true;
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    truncated = true;
                    let _ = tx.send(Err(std::io::Error::other(e))).await;
                    break;
                }
            }
        }
        store(
            &shared,
            slot,
            base,
            Upstream {
                status: status.as_u16(),
                headers: stored_headers,
                bytes: buf,
                truncated,
            },
        );
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut response = Response::new(Body::from_stream(body));
    *response.status_mut() = status;
    for (k, v) in &resp_headers {
        if !HOP_BY_HOP.contains(&k.as_str()) {
            response.headers_mut().append(k.clone(), v.clone());
        }
    }
    response
}

/// The request's side of an exchange, before redaction.
struct Base {
    method: String,
    path: String,
    headers: HeaderMap,
    body: Value,
}

/// The upstream's answer as read.
struct Upstream {
    status: u16,
    headers: HeaderMap,
    bytes: Vec<u8>,
    truncated: bool,
}

/// A body as JSON when it parses (and is not compressed), else as text.
pub(super) fn request_json(headers: &HeaderMap, body: &[u8]) -> Value {
    if body.is_empty() {
        return Value::Null;
    }
    if headers.contains_key(header::CONTENT_ENCODING) {
        return Value::String(format!("[{} compressed bytes]", body.len()));
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn store(shared: &Shared<RecState>, slot: usize, base: Base, up: Upstream) {
    let mut s = shared.lock();
    let content_type = up
        .headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let is_sse = content_type
        .as_deref()
        .is_some_and(|c| c.starts_with("text/event-stream"));
    let body = if is_sse {
        ResponseBody::Events(parse_sse(&String::from_utf8_lossy(&up.bytes)))
    } else {
        ResponseBody::Body(request_json(&up.headers, &up.bytes))
    };
    let headers = up
        .headers
        .iter()
        .filter(|(k, _)| keep_response_header(k.as_str()))
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut exchange = Exchange {
        method: base.method,
        path: base.path,
        request: CassetteRequest {
            headers: s.redaction.headers(&base.headers),
            body: base.body,
        },
        response: CassetteResponse {
            status: up.status,
            content_type,
            headers,
            body,
            truncated: up.truncated,
        },
    };
    // Paths of this request's run (its cwd, the home) become placeholders on both sides.
    let paths = s.normalizer.paths_for(&exchange.request.body);
    exchange.request.body = replace_paths(&exchange.request.body, &paths);
    match &mut exchange.response.body {
        ResponseBody::Body(v) => *v = replace_paths(v, &paths),
        ResponseBody::Events(evs) => {
            for ev in evs {
                ev.data = ev.data.as_ref().map(|v| replace_paths(v, &paths));
            }
        }
    }
    s.redaction.exchange(&mut exchange);
    if let Some(place) = s.exchanges.get_mut(slot) {
        *place = Some(exchange);
    }
}
