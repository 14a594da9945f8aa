//! A mock ChatGPT OAuth issuer: device-code login, code exchange, refresh-token rotation.
//!
//! Codex 0.169 talks to the issuer at `CODEX_APP_SERVER_LOGIN_ISSUER` (app-server logins) and
//! refreshes at `CODEX_REFRESH_TOKEN_URL_OVERRIDE`; [`MockIssuer::env`] gives both. Refresh
//! tokens are single-use, as on the real issuer: presenting a rotated-out token answers
//! `401 refresh_token_reused`, which is how isolated homes sharing one login break.
//!
//! After a login, and on `account/read`, Codex asks the ChatGPT backend which workspace to route
//! to, and insists on HTTPS for it. The issuer therefore also runs a small HTTPS "backend" with a
//! self-signed certificate that Codex is told to trust (`CODEX_CA_CERTIFICATE`), pointed at by
//! [`MockIssuer::config_toml`].

use crate::http::{Incoming, MockServer, Server, Shared, self_signed_tls};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The ChatGPT identity the issuer signs in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockAccount {
    /// `email` claim.
    pub email: String,
    /// `chatgpt_account_id` claim (becomes `tokens.account_id` in auth.json).
    pub account_id: String,
    /// `chatgpt_user_id` claim.
    pub user_id: String,
    /// `chatgpt_plan_type` claim.
    pub plan: String,
}

impl Default for MockAccount {
    fn default() -> Self {
        Self {
            email: "dev@example.com".into(),
            account_id: "acct-mock".into(),
            user_id: "user-mock".into(),
            plan: "plus".into(),
        }
    }
}

/// How the issuer behaves; [`Default`] is a working device-code login that is pending for one
/// poll.
#[derive(Debug, Clone)]
pub struct IssuerOptions {
    /// Who logs in.
    pub account: MockAccount,
    /// Answer the device-code request with 404 (device login disabled on this server).
    pub device_code_disabled: bool,
    /// How many polls answer "pending" (403) before the code is granted; `u32::MAX` never grants.
    pub pending_polls: u32,
    /// The poll interval the issuer asks for, in seconds.
    pub poll_interval_secs: u32,
    /// Lifetime of issued access tokens, in seconds (negative: already expired).
    pub access_token_ttl_secs: i64,
}

impl Default for IssuerOptions {
    fn default() -> Self {
        Self {
            account: MockAccount::default(),
            device_code_disabled: false,
            pending_polls: 1,
            poll_interval_secs: 1,
            access_token_ttl_secs: 3600,
        }
    }
}

/// A request Codex sent to the issuer. Its body is kept as received (form or JSON).
#[derive(Debug, Clone)]
pub struct IssuerRequest {
    /// HTTP method.
    pub method: String,
    /// Path (e.g. `/oauth/token`).
    pub path: String,
    /// `Content-Type`, if any.
    pub content_type: Option<String>,
    /// The raw body.
    pub body: String,
}

impl IssuerRequest {
    /// The body as JSON, when it is.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// The body as `application/x-www-form-urlencoded` fields.
    pub fn form(&self) -> BTreeMap<String, String> {
        form_fields(&self.body)
    }

    /// A field of the body, JSON or form.
    pub fn field(&self, name: &str) -> Option<String> {
        match self.json() {
            Some(v) => v.get(name).and_then(Value::as_str).map(str::to_owned),
            None => self.form().remove(name),
        }
    }
}

struct Inner {
    opts: IssuerOptions,
    requests: Vec<IssuerRequest>,
    backend_requests: Vec<IssuerRequest>,
    polls: u32,
    /// The one refresh token that is valid now.
    refresh_token: String,
    /// Refresh tokens that were rotated out.
    used: Vec<String>,
    generation: u32,
    /// The authorization code handed out and the PKCE challenge its exchange must satisfy.
    issued_code: Option<(String, String)>,
}

/// A mock OAuth issuer on `127.0.0.1` (ephemeral port). Stops when dropped.
pub struct MockIssuer {
    server: MockServer<Inner>,
    /// The HTTPS ChatGPT backend, answering from the same state.
    backend: Server,
    ca_path: PathBuf,
    _ca_dir: tempfile::TempDir,
}

impl std::fmt::Debug for MockIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.server.debug(f, "MockIssuer")
    }
}

/// The device-auth id the issuer hands out.
pub const MOCK_DEVICE_AUTH_ID: &str = "mock-device-auth";
/// The user code the issuer hands out.
pub const MOCK_USER_CODE: &str = "MOCK-1234";
/// The API key the issuer trades for an id token (browser logins store it in `auth.json`).
pub const MOCK_API_KEY: &str = "sk-mock-exchanged-api-key";

impl MockIssuer {
    /// Starts an issuer with [`IssuerOptions::default`].
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(IssuerOptions::default()).await
    }

    /// Starts an issuer with `opts`. The first valid refresh token is `rt-1`.
    pub async fn start_with(opts: IssuerOptions) -> std::io::Result<Self> {
        let inner = Inner {
            opts,
            requests: Vec::new(),
            backend_requests: Vec::new(),
            polls: 0,
            refresh_token: "rt-1".into(),
            used: Vec::new(),
            generation: 1,
            issued_code: None,
        };
        let server = MockServer::start(inner, |_, shared| router(shared, Side::Issuer)).await?;
        let (tls, pem) = self_signed_tls()?;
        let ca_dir = tempfile::Builder::new()
            .prefix("mock-issuer-ca-")
            .tempdir()?;
        let ca_path = ca_dir.path().join("ca.pem");
        std::fs::write(&ca_path, pem)?;
        let shared = server.shared();
        let backend = Server::start(Some(tls), |_| router(shared, Side::Backend)).await?;
        Ok(Self {
            server,
            backend,
            ca_path,
            _ca_dir: ca_dir,
        })
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The issuer URL, e.g. `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// Environment variables that point a Codex process at this issuer (logins started over
    /// the app-server, token refreshes and revocations) and make it trust the HTTPS backend.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("CODEX_APP_SERVER_LOGIN_ISSUER", self.url()),
            (
                "CODEX_REFRESH_TOKEN_URL_OVERRIDE",
                format!("{}/oauth/token", self.url()),
            ),
            (
                "CODEX_REVOKE_TOKEN_URL_OVERRIDE",
                format!("{}/oauth/revoke", self.url()),
            ),
            ("CODEX_CA_CERTIFICATE", self.ca_path.display().to_string()),
        ]
    }

    /// The HTTPS ChatGPT backend's URL, e.g. `https://127.0.0.1:PORT` (no trailing slash).
    pub fn backend_url(&self) -> String {
        format!("https://{}", self.backend.addr)
    }

    /// The PEM file of the backend's self-signed certificate.
    pub fn ca_certificate(&self) -> &Path {
        &self.ca_path
    }

    /// A `config.toml` line pointing Codex's ChatGPT backend calls (the workspace check after
    /// a login or on `account/read`) at [`MockIssuer::backend_url`], so nothing leaves loopback.
    pub fn config_toml(&self) -> String {
        format!(
            "chatgpt_base_url = \"{}/backend-api/\"\n",
            self.backend_url()
        )
    }

    /// Plays the user's browser for a ChatGPT browser login: opens `auth_url` (which must point
    /// at this issuer), approves, and follows the redirects to Codex's local callback and its
    /// success page. Returns the final URL.
    pub async fn approve_in_browser(&self, auth_url: &str) -> std::io::Result<String> {
        crate::http::play_browser(auth_url).await
    }

    /// Requests Codex sent to the HTTPS ChatGPT backend.
    pub fn backend_requests(&self) -> Vec<IssuerRequest> {
        self.server.state().backend_requests.clone()
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<IssuerRequest> {
        self.server.state().requests.clone()
    }

    /// The refresh tokens presented in `grant_type=refresh_token` requests, in order.
    pub fn refreshes(&self) -> Vec<String> {
        self.requests()
            .iter()
            .filter(|r| r.path == "/oauth/token")
            .filter(|r| r.field("grant_type").as_deref() == Some("refresh_token"))
            .filter_map(|r| r.field("refresh_token"))
            .collect()
    }

    /// The refresh token that is valid now.
    pub fn current_refresh_token(&self) -> String {
        self.server.state().refresh_token.clone()
    }

    /// An `auth.json` for a ChatGPT login holding the currently valid refresh token. With
    /// `access_expired`, its access token has expired, so Codex refreshes on first use.
    pub fn auth_json(&self, access_expired: bool) -> Value {
        let inner = self.server.state();
        let ttl = if access_expired { -60 } else { 3600 };
        json!({
            "auth_mode": "chatgpt",
            "OPENAI_API_KEY": null,
            "tokens": {
                "id_token": id_token(&inner.opts.account),
                "access_token": access_token(&inner.opts.account, ttl, inner.generation),
                "refresh_token": inner.refresh_token,
                "account_id": inner.opts.account.account_id,
            },
            // Recent: Codex also refreshes logins older than 8 days on its own.
            "last_refresh": crate::clock::now_rfc3339(),
        })
    }

    /// Writes [`MockIssuer::auth_json`] to `home/auth.json` with mode 0600.
    pub fn write_auth_json(&self, home: &Path, access_expired: bool) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let bytes = serde_json::to_vec_pretty(&self.auth_json(access_expired))
            .map_err(std::io::Error::other)?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(home.join("auth.json"))?;
        f.write_all(&bytes)
    }
}

/// An unsigned JWT (`alg: none`) with `claims`: Codex decodes token claims without verifying
/// signatures.
pub fn unsigned_jwt(claims: &Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.mock-signature",
        part(&json!({"alg": "none", "typ": "JWT"})),
        part(claims)
    )
}

fn id_token(a: &MockAccount) -> String {
    unsigned_jwt(&json!({
        "email": a.email,
        "https://api.openai.com/auth": {
            "chatgpt_plan_type": a.plan,
            "chatgpt_user_id": a.user_id,
            "chatgpt_account_id": a.account_id,
        },
    }))
}

fn access_token(a: &MockAccount, ttl_secs: i64, generation: u32) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    unsigned_jwt(&json!({
        "exp": now + ttl_secs,
        "generation": generation,
        "https://api.openai.com/auth": {"chatgpt_plan_type": a.plan, "chatgpt_account_id": a.account_id},
    }))
}

pub(crate) fn form_fields(body: &str) -> BTreeMap<String, String> {
    body.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match bytes[i] {
            b'%' if i + 2 < bytes.len() => hex(bytes[i + 1]).zip(hex(bytes[i + 2])),
            _ => None,
        };
        match (bytes[i], decoded) {
            (_, Some((hi, lo))) => {
                out.push(hi << 4 | lo);
                i += 3;
            }
            (b'+', None) => {
                out.push(b' ');
                i += 1;
            }
            (b, None) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn reply(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Issuer,
    Backend,
}

/// The issuer and its backend: one handler, one state, told apart by `side`.
fn router(shared: Shared<Inner>, side: Side) -> Router {
    Router::new().fallback(handle).with_state((shared, side))
}

async fn handle(
    State((shared, side)): State<(Shared<Inner>, Side)>,
    incoming: Incoming,
) -> Response {
    let Incoming {
        method,
        uri,
        headers,
        body,
    } = incoming;
    let req = IssuerRequest {
        method: method.to_string(),
        path: uri.path().to_owned(),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let mut inner = shared.lock();
    if side == Side::Backend {
        inner.backend_requests.push(req.clone());
        return backend(&inner, &req, &headers);
    }
    inner.requests.push(req.clone());
    let opts = inner.opts.clone();
    match (req.method.as_str(), req.path.as_str()) {
        ("POST", "/api/accounts/deviceauth/usercode") => {
            if opts.device_code_disabled {
                return reply(StatusCode::NOT_FOUND, json!({"error": "not_found"}));
            }
            reply(
                StatusCode::OK,
                json!({
                    "device_auth_id": MOCK_DEVICE_AUTH_ID,
                    "user_code": MOCK_USER_CODE,
                    // Codex reads the interval as a string.
                    "interval": opts.poll_interval_secs.to_string(),
                }),
            )
        }
        ("POST", "/api/accounts/deviceauth/token") => {
            if req.field("device_auth_id").as_deref() != Some(MOCK_DEVICE_AUTH_ID) {
                return reply(StatusCode::BAD_REQUEST, json!({"error": "unknown device"}));
            }
            inner.polls += 1;
            if inner.polls <= opts.pending_polls {
                // 403/404 mean "not yet authorised" to Codex.
                return reply(
                    StatusCode::FORBIDDEN,
                    json!({"error": "authorization_pending"}),
                );
            }
            let code = format!("mock-code-{}", inner.polls);
            // In the device flow the server makes the PKCE pair.
            let challenge = pkce_challenge("mock-verifier");
            inner.issued_code = Some((code.clone(), challenge.clone()));
            reply(
                StatusCode::OK,
                json!({
                    "authorization_code": code,
                    "code_challenge": challenge,
                    "code_verifier": "mock-verifier",
                }),
            )
        }
        ("GET", "/oauth/authorize") => authorize(&mut inner, &uri),
        ("POST", "/oauth/token") => token(&mut inner, &req),
        ("POST", "/oauth/revoke") => reply(StatusCode::OK, json!({})),
        _ => reply(StatusCode::NOT_FOUND, json!({"error": "not_found"})),
    }
}

/// The ChatGPT backend: only the workspace check Codex needs; everything else is 404.
fn backend(inner: &Inner, req: &IssuerRequest, headers: &HeaderMap) -> Response {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "));
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/backend-api/wham/accounts/check") if bearer => {
            let a = &inner.opts.account;
            reply(
                StatusCode::OK,
                json!({
                    "accounts": [{
                        "id": a.account_id,
                        "name": null,
                        "plan_type": a.plan,
                        "structure": "personal",
                        "workspace_backend_origin": "NO_CONSTRAINT",
                        "account_routing_override": "NO_CONSTRAINT",
                    }],
                    "account_ordering": [a.account_id],
                    "default_account_id": a.account_id,
                }),
            )
        }
        ("GET", "/backend-api/wham/accounts/check") => {
            reply(StatusCode::UNAUTHORIZED, json!({"error": "unauthorized"}))
        }
        _ => reply(StatusCode::NOT_FOUND, json!({"error": "not_found"})),
    }
}

fn token(inner: &mut Inner, req: &IssuerRequest) -> Response {
    match req.field("grant_type").as_deref() {
        Some("authorization_code") => {
            let verifier = req.field("code_verifier").unwrap_or_default();
            let granted = match (&inner.issued_code, req.field("code")) {
                (Some((code, challenge)), Some(presented)) => {
                    *code == presented && *challenge == pkce_challenge(&verifier)
                }
                _ => false,
            };
            if !granted {
                return reply(StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"}));
            }
            inner.issued_code = None;
            issue(inner)
        }
        Some("urn:ietf:params:oauth:grant-type:token-exchange") => {
            // The browser flow trades the id token for an API key.
            if req.field("requested_token").as_deref() == Some("openai-api-key") {
                reply(StatusCode::OK, json!({"access_token": MOCK_API_KEY}))
            } else {
                reply(StatusCode::BAD_REQUEST, json!({"error": "invalid_request"}))
            }
        }
        Some("refresh_token") => {
            let presented = req.field("refresh_token").unwrap_or_default();
            if presented == inner.refresh_token {
                issue(inner)
            } else if inner.used.contains(&presented) {
                reply(
                    StatusCode::UNAUTHORIZED,
                    json!({"error": {"code": "refresh_token_reused", "message": "Your refresh token has already been used to generate a new access token."}}),
                )
            } else {
                reply(
                    StatusCode::UNAUTHORIZED,
                    json!({"error": {"code": "refresh_token_invalidated", "message": "unknown refresh token"}}),
                )
            }
        }
        _ => reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "unsupported_grant_type"}),
        ),
    }
}

/// The user approves in the browser: the issuer redirects to Codex's callback with a code.
fn authorize(inner: &mut Inner, uri: &Uri) -> Response {
    let q = form_fields(uri.query().unwrap_or_default());
    let (Some(redirect), Some(state), Some(challenge)) = (
        q.get("redirect_uri"),
        q.get("state"),
        q.get("code_challenge"),
    ) else {
        return reply(StatusCode::BAD_REQUEST, json!({"error": "invalid_request"}));
    };
    if q.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return reply(StatusCode::BAD_REQUEST, json!({"error": "invalid_request"}));
    }
    let code = format!("mock-browser-code-{}", inner.generation);
    inner.issued_code = Some((code.clone(), challenge.clone()));
    let location = format!("{redirect}?code={code}&state={}", percent_encode(state));
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

pub(crate) fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `base64url(sha256(verifier))`, the S256 PKCE challenge.
pub(crate) fn pkce_challenge(verifier: &str) -> String {
    use sha2::Digest;
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// Rotates the refresh token and answers with a fresh token set.
fn issue(inner: &mut Inner) -> Response {
    inner.generation += 1;
    let next = format!("rt-{}", inner.generation);
    let old = std::mem::replace(&mut inner.refresh_token, next.clone());
    inner.used.push(old);
    let a = &inner.opts.account;
    reply(
        StatusCode::OK,
        json!({
            "id_token": id_token(a),
            "access_token": access_token(a, inner.opts.access_token_ttl_secs, inner.generation),
            "refresh_token": next,
            "token_type": "Bearer",
            "expires_in": inner.opts.access_token_ttl_secs,
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_decode() {
        let f =
            form_fields("grant_type=authorization_code&redirect_uri=http%3A%2F%2Fx%2Fcb&a=b+c&e");
        assert_eq!(f["grant_type"], "authorization_code");
        assert_eq!(f["redirect_uri"], "http://x/cb");
        assert_eq!(f["a"], "b c");
        assert_eq!(f["e"], "");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn timestamps_look_like_codexs() {
        assert_eq!(crate::clock::rfc3339(1_795_616_039), "2026-11-25T14:13:59Z");
        assert_eq!(crate::clock::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(crate::clock::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(crate::clock::now_rfc3339().len(), 20);
    }

    #[test]
    fn jwt_claims_round_trip() {
        let t = unsigned_jwt(&json!({"email": "a@b"}));
        let parts: Vec<&str> = t.split('.').collect();
        assert_eq!(parts.len(), 3);
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap_or_default())
                .unwrap_or_default();
        assert_eq!(claims, json!({"email": "a@b"}));
    }
}
