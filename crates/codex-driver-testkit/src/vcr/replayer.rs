//! The offline replayer.

use super::*;

/// Why a request did not get its recorded answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DivergenceKind {
    /// Same method and path, different (normalized) body; see [`Divergence::diff`].
    Body,
    /// Another method or path than the exchange recorded (`expected`: e.g. `POST /v1/responses`).
    Route {
        /// The exchange's method and path.
        expected: String,
    },
    /// Every exchange was used already.
    Exhausted,
}

/// A request that did not match the cassette.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Divergence {
    /// The exchange it was compared with (for [`DivergenceKind::Exhausted`]: the request's
    /// 0-based number, i.e. one past the cassette's end or more).
    pub index: usize,
    /// The request's method.
    pub method: String,
    /// The request's path.
    pub path: String,
    /// What differed.
    pub kind: DivergenceKind,
    /// A unified diff of the normalized bodies (`-` cassette, `+` request); empty unless
    /// [`DivergenceKind::Body`].
    pub diff: String,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            DivergenceKind::Body => write!(
                f,
                "request {} {} diverges from cassette exchange #{}:\n{}",
                self.method, self.path, self.index, self.diff
            ),
            DivergenceKind::Route { expected } => write!(
                f,
                "request {} {} diverges from cassette exchange #{}, recorded as {expected}",
                self.method, self.path, self.index
            ),
            DivergenceKind::Exhausted => write!(
                f,
                "cassette used up: request #{} ({} {}) has no recorded exchange",
                self.index, self.method, self.path
            ),
        }
    }
}

/// Configures a [`Replayer`]; from [`Replayer::builder`].
#[derive(Debug)]
pub struct ReplayerBuilder {
    cassette: Cassette,
    normalizer: Normalizer,
    redaction: Redaction,
    by_path: bool,
    model: Option<String>,
}

impl ReplayerBuilder {
    /// How requests are compared (default [`Normalizer::new`]).
    pub fn normalizer(mut self, normalizer: Normalizer) -> Self {
        self.normalizer = normalizer;
        self
    }

    /// A secret the recording redacted: redacted in requests too before comparing.
    pub fn redact(mut self, secret: impl Into<String>) -> Self {
        self.redaction = self.redaction.secret(secret);
        self
    }

    /// Answer each request with the first unused exchange of the same method and path, instead
    /// of strictly the next one (for requests whose relative order is not fixed).
    pub fn match_by_path(mut self, yes: bool) -> Self {
        self.by_path = yes;
        self
    }

    /// The `model` written by [`Replayer::config_toml`] (default: the model of the cassette's
    /// first request, so Codex asks for what was recorded).
    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Starts serving on 127.0.0.1 (ephemeral port).
    pub async fn start(self) -> Result<Replayer, VcrError> {
        let model = self.model.or_else(|| {
            self.cassette
                .exchanges
                .iter()
                .find_map(|e| e.request.body.get("model").and_then(Value::as_str))
                .map(str::to_owned)
        });
        let used = vec![false; self.cassette.exchanges.len()];
        let state = ReplayState {
            exchanges: self.cassette.exchanges,
            used,
            cursor: 0,
            requests: 0,
            divergences: Vec::new(),
            normalizer: self.normalizer,
            redaction: self.redaction,
            by_path: self.by_path,
        };
        let server = MockServer::start(state, |_, shared| {
            Router::new().fallback(replay).with_state(shared)
        })
        .await
        .map_err(VcrError::Start)?;
        Ok(Replayer { server, model })
    }
}

struct ReplayState {
    exchanges: Vec<Exchange>,
    used: Vec<bool>,
    /// The next exchange in order mode.
    cursor: usize,
    requests: usize,
    divergences: Vec<Divergence>,
    normalizer: Normalizer,
    redaction: Redaction,
    by_path: bool,
}

/// Serves a [`Cassette`] to Codex offline. Stops when dropped.
pub struct Replayer {
    server: MockServer<ReplayState>,
    model: Option<String>,
}

impl std::fmt::Debug for Replayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.server.debug(f, "Replayer")
    }
}

impl Replayer {
    /// A replayer of `cassette` to configure.
    pub fn builder(cassette: Cassette) -> ReplayerBuilder {
        ReplayerBuilder {
            cassette,
            normalizer: Normalizer::new(),
            redaction: Redaction::new(),
            by_path: false,
            model: None,
        }
    }

    /// Starts replaying `cassette` with the defaults.
    pub async fn start(cassette: Cassette) -> Result<Self, VcrError> {
        Self::builder(cassette).start().await
    }

    /// Starts replaying the cassette file at `path` with the defaults.
    pub async fn load(path: impl AsRef<Path>) -> Result<Self, VcrError> {
        Self::start(Cassette::load(path)?).await
    }

    endpoint_accessors!("replayer");

    /// Every divergence so far, in order.
    pub fn divergences(&self) -> Vec<Divergence> {
        self.server.state().divergences.clone()
    }

    /// Exchanges not served yet.
    pub fn remaining(&self) -> usize {
        self.server.state().used.iter().filter(|u| !**u).count()
    }

    /// Requests received so far (served or not).
    pub fn requests(&self) -> usize {
        self.server.state().requests
    }

    /// `Ok` when every exchange was served and no request diverged.
    pub fn all_used(&self) -> Result<(), VcrError> {
        let state = self.server.state();
        let unused = state.used.iter().filter(|u| !**u).count();
        let divergences = state.divergences.len();
        if unused == 0 && divergences == 0 {
            Ok(())
        } else {
            Err(VcrError::NotAllUsed {
                unused,
                divergences,
            })
        }
    }
}

async fn replay(State(shared): State<Shared<ReplayState>>, req: Incoming) -> Response {
    let method = req.method.to_string();
    let path = req
        .uri
        .path_and_query()
        .map_or_else(|| req.uri.path().to_owned(), |p| p.as_str().to_owned());
    let mut s = shared.lock();
    let n = s.requests;
    s.requests += 1;
    let body = s.redaction.value(&request_json(&req.headers, &req.body));
    let paths = s.normalizer.paths_for(&body);
    let candidate = if s.by_path {
        (0..s.exchanges.len())
            .find(|&i| !s.used[i] && s.exchanges[i].method == method && s.exchanges[i].path == path)
    } else {
        Some(s.cursor).filter(|&i| i < s.exchanges.len())
    };
    let diverge = |s: &mut ReplayState, index, kind, diff: String, status: StatusCode| {
        let d = Divergence {
            index,
            method: method.clone(),
            path: path.clone(),
            kind,
            diff,
        };
        let message = format!("codex-driver-testkit replayer: {d}");
        s.divergences.push(d);
        let body = json!({"error": {"type": "vcr_divergence", "code": "vcr_divergence", "message": message}});
        (status, axum::Json(body)).into_response()
    };
    let Some(index) = candidate else {
        return diverge(
            &mut s,
            n,
            DivergenceKind::Exhausted,
            String::new(),
            StatusCode::INTERNAL_SERVER_ERROR,
        );
    };
    let (exp_method, exp_path) = (
        s.exchanges[index].method.clone(),
        s.exchanges[index].path.clone(),
    );
    if exp_method != method || exp_path != path {
        let expected = format!("{exp_method} {exp_path}");
        return diverge(
            &mut s,
            index,
            DivergenceKind::Route { expected },
            String::new(),
            StatusCode::BAD_REQUEST,
        );
    }
    let expected = s.normalizer.normalize(&s.exchanges[index].request.body);
    let actual = s.normalizer.normalize(&body);
    if expected != actual {
        let diff = diff_json(&expected, &actual);
        return diverge(
            &mut s,
            index,
            DivergenceKind::Body,
            diff,
            StatusCode::BAD_REQUEST,
        );
    }
    s.used[index] = true;
    if !s.by_path {
        s.cursor += 1;
    }
    let exchange = s.exchanges[index].clone();
    drop(s);
    // Placeholders back to this run's paths (a recorded tool call may name the workspace).
    let back: Vec<(String, String)> = paths.into_iter().map(|(p, ph)| (ph, p)).collect();
    serve(&exchange.response, &back)
}

fn serve(r: &CassetteResponse, back: &[(String, String)]) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = match &r.body {
        ResponseBody::Events(evs) => evs
            .iter()
            .map(|e| {
                let mut e = e.clone();
                e.data = e.data.as_ref().map(|v| replace_paths(v, back));
                e.wire()
            })
            .collect::<String>(),
        ResponseBody::Body(Value::String(s)) => s.clone(),
        ResponseBody::Body(Value::Null) => String::new(),
        ResponseBody::Body(v) => replace_paths(v, back).to_string(),
    };
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    if let Some(ct) = &r.content_type
        && let Ok(v) = HeaderValue::from_str(ct)
    {
        headers.insert(header::CONTENT_TYPE, v);
    }
    for (k, v) in &r.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            headers.insert(k, v);
        }
    }
    response
}
