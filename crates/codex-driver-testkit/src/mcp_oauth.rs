//! OAuth for [`MockMcpServer`](crate::MockMcpServer): the server doubles as a loopback OAuth 2.1
//! authorization server guarding its `/mcp` resource, the way Codex 0.169 discovers and uses one
//! (`codex mcp login NAME`):
//!
//! 1. `/mcp` without the current access token answers 401 with `WWW-Authenticate: Bearer
//!    resource_metadata="…/.well-known/oauth-protected-resource/mcp"`;
//! 2. RFC 9728 resource metadata names the server itself as the issuer, whose RFC 8414 metadata
//!    lists the endpoints;
//! 3. dynamic client registration (`POST /register`) hands out `mock-client-id`;
//! 4. `GET /authorize` approves at once, redirecting to Codex's loopback callback;
//! 5. `POST /token` exchanges the code (PKCE S256 checked) and rotates refresh tokens (`at-N`,
//!    `rt-N`; a reused refresh token is `400 invalid_grant`).

use crate::http::{Incoming, Shared};
use crate::issuer::{form_fields, percent_encode, pkce_challenge, reply};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The client id dynamic registration hands out.
pub const MOCK_MCP_CLIENT_ID: &str = "mock-client-id";

/// How an OAuth-protected [`MockMcpServer`](crate::MockMcpServer) behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpOAuthOptions {
    /// `expires_in` of issued access tokens, in seconds. Codex refreshes tokens within 30 s of
    /// expiry when a client starts, so a small value makes every connection refresh.
    pub expires_in: u64,
    /// The scopes advertised and granted (`scope` of token responses, space-separated).
    pub scopes: Vec<String>,
}

impl Default for McpOAuthOptions {
    fn default() -> Self {
        Self {
            expires_in: 3600,
            scopes: vec!["read".into()],
        }
    }
}

/// A request to one of the OAuth endpoints (metadata, `/register`, `/authorize`, `/token`).
/// `Debug` hides the values of secret fields (codes, verifiers, tokens).
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthRequest {
    /// HTTP method.
    pub method: String,
    /// Path, e.g. `/token`.
    pub path: String,
    /// Query parameters (e.g. those of `/authorize`).
    pub query: BTreeMap<String, String>,
    /// `application/x-www-form-urlencoded` body fields (e.g. those of `/token`).
    pub form: BTreeMap<String, String>,
    /// A JSON body (e.g. the registration request).
    pub json: Option<Value>,
}

const SECRET_FIELDS: [&str; 4] = ["code", "code_verifier", "refresh_token", "access_token"];

fn redacted(fields: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    fields
        .iter()
        .map(|(k, v)| {
            let v = if SECRET_FIELDS.contains(&k.as_str()) {
                "<redacted>"
            } else {
                v.as_str()
            };
            (k.as_str(), v)
        })
        .collect()
}

impl std::fmt::Debug for OAuthRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("query", &redacted(&self.query))
            .field("form", &redacted(&self.form))
            .field("json", &self.json.as_ref().map(|_| "<json>"))
            .finish()
    }
}

/// The authorization server's state.
pub(crate) struct OAuthState {
    opts: McpOAuthOptions,
    /// `http://127.0.0.1:PORT`, the issuer (set once bound).
    pub(crate) base: String,
    requests: Vec<OAuthRequest>,
    /// The `Authorization` header of every `/mcp` request (`None`: there was none).
    pub(crate) presented: Vec<Option<String>>,
    /// Tokens issued so far; token `N` is `at-N` / `rt-N`.
    generation: u32,
    pub(crate) access_token: Option<String>,
    pub(crate) refresh_token: Option<String>,
    /// The code handed out by `/authorize` and the PKCE challenge its exchange must meet.
    issued_code: Option<(String, String)>,
}

impl OAuthState {
    pub(crate) fn new(opts: McpOAuthOptions) -> Self {
        Self {
            opts,
            base: String::new(),
            requests: Vec::new(),
            presented: Vec::new(),
            generation: 0,
            access_token: None,
            refresh_token: None,
            issued_code: None,
        }
    }

    pub(crate) fn requests(&self) -> Vec<OAuthRequest> {
        self.requests.clone()
    }

    fn resource_metadata_url(&self) -> String {
        format!("{}/.well-known/oauth-protected-resource/mcp", self.base)
    }

    fn scope(&self) -> String {
        self.opts.scopes.join(" ")
    }
}

/// The OAuth endpoints, as a fallback: `/mcp` is routed before it.
pub(crate) fn router(shared: Shared<OAuthState>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// Guards `/mcp`: only the current access token passes.
pub(crate) async fn require_bearer(
    State(shared): State<Shared<OAuthState>>,
    req: Request,
    next: Next,
) -> Response {
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let challenge = {
        let mut st = shared.lock();
        st.presented.push(presented.clone());
        let valid = match (&presented, &st.access_token) {
            (Some(p), Some(at)) => p
                .strip_prefix("Bearer ")
                .or_else(|| p.strip_prefix("bearer "))
                .is_some_and(|t| t == at),
            _ => false,
        };
        if valid {
            None
        } else {
            let mut c = format!(
                "Bearer resource_metadata=\"{}\"",
                st.resource_metadata_url()
            );
            if presented.is_some() {
                c.push_str(", error=\"invalid_token\"");
            }
            Some(c)
        }
    };
    match challenge {
        None => next.run(req).await,
        Some(c) => {
            let mut resp = reply(StatusCode::UNAUTHORIZED, json!({"error": "unauthorized"}));
            if let Ok(v) = HeaderValue::from_str(&c) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
            resp
        }
    }
}

async fn handle(State(shared): State<Shared<OAuthState>>, incoming: Incoming) -> Response {
    let body = String::from_utf8_lossy(&incoming.body).into_owned();
    let is_form = incoming
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    let req = OAuthRequest {
        method: incoming.method.to_string(),
        path: incoming.uri.path().to_owned(),
        query: form_fields(incoming.uri.query().unwrap_or_default()),
        form: if is_form {
            form_fields(&body)
        } else {
            BTreeMap::new()
        },
        json: if is_form {
            None
        } else {
            serde_json::from_str(&body).ok()
        },
    };
    let mut st = shared.lock();
    st.requests.push(req.clone());
    let base = st.base.clone();
    match (req.method.as_str(), req.path.as_str()) {
        (
            "GET",
            "/.well-known/oauth-protected-resource" | "/.well-known/oauth-protected-resource/mcp",
        ) => reply(
            StatusCode::OK,
            json!({
                "resource": format!("{base}/mcp"),
                "authorization_servers": [base],
                "scopes_supported": st.opts.scopes,
                "bearer_methods_supported": ["header"],
            }),
        ),
        (
            "GET",
            "/.well-known/oauth-authorization-server"
            | "/.well-known/oauth-authorization-server/mcp",
        ) => reply(
            StatusCode::OK,
            json!({
                "issuer": base,
                "authorization_endpoint": format!("{base}/authorize"),
                "token_endpoint": format!("{base}/token"),
                "registration_endpoint": format!("{base}/register"),
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["none"],
                "scopes_supported": st.opts.scopes,
            }),
        ),
        ("POST", "/register") => {
            let redirect_uris = req
                .json
                .as_ref()
                .and_then(|j| j.get("redirect_uris"))
                .cloned()
                .unwrap_or_else(|| json!([]));
            reply(
                StatusCode::CREATED,
                json!({
                    "client_id": MOCK_MCP_CLIENT_ID,
                    "redirect_uris": redirect_uris,
                    "token_endpoint_auth_method": "none",
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                }),
            )
        }
        ("GET", "/authorize") => authorize(&mut st, &req.query),
        ("POST", "/token") => token(&mut st, &req.form),
        _ => reply(StatusCode::NOT_FOUND, json!({"error": "not_found"})),
    }
}

/// The user approves at once: redirect to the client's callback with a code and its `state`.
fn authorize(st: &mut OAuthState, q: &BTreeMap<String, String>) -> Response {
    let (Some(redirect), Some(challenge)) = (q.get("redirect_uri"), q.get("code_challenge")) else {
        return reply(StatusCode::BAD_REQUEST, json!({"error": "invalid_request"}));
    };
    if q.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return reply(StatusCode::BAD_REQUEST, json!({"error": "invalid_request"}));
    }
    let code = format!("code-{}", st.generation + 1);
    st.issued_code = Some((code.clone(), challenge.clone()));
    let sep = if redirect.contains('?') { '&' } else { '?' };
    let mut location = format!("{redirect}{sep}code={}", percent_encode(&code));
    if let Some(state) = q.get("state") {
        location.push_str(&format!("&state={}", percent_encode(state)));
    }
    (StatusCode::FOUND, [(header::LOCATION, location)]).into_response()
}

fn token(st: &mut OAuthState, form: &BTreeMap<String, String>) -> Response {
    let invalid_grant = || reply(StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"}));
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let verifier = form.get("code_verifier").map(String::as_str).unwrap_or("");
            let granted = match (&st.issued_code, form.get("code")) {
                (Some((code, challenge)), Some(presented)) => {
                    code == presented && *challenge == pkce_challenge(verifier)
                }
                _ => false,
            };
            if !granted {
                return invalid_grant();
            }
            st.issued_code = None;
            issue(st)
        }
        Some("refresh_token") => {
            let current = st.refresh_token.as_ref();
            if current.is_none() || form.get("refresh_token") != current {
                return invalid_grant();
            }
            issue(st)
        }
        _ => reply(
            StatusCode::BAD_REQUEST,
            json!({"error": "unsupported_grant_type"}),
        ),
    }
}

/// A fresh token pair; the previous ones stop working.
fn issue(st: &mut OAuthState) -> Response {
    st.generation += 1;
    let (at, rt) = (
        format!("at-{}", st.generation),
        format!("rt-{}", st.generation),
    );
    st.access_token = Some(at.clone());
    st.refresh_token = Some(rt.clone());
    reply(
        StatusCode::OK,
        json!({
            "access_token": at,
            "token_type": "bearer",
            "expires_in": st.opts.expires_in,
            "refresh_token": rt,
            "scope": st.scope(),
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secret_fields() {
        let mut form = BTreeMap::new();
        form.insert("grant_type".to_owned(), "refresh_token".to_owned());
        form.insert("refresh_token".to_owned(), "rt-7".to_owned());
        let r = OAuthRequest {
            method: "POST".into(),
            path: "/token".into(),
            query: BTreeMap::new(),
            form,
            json: None,
        };
        let shown = format!("{r:?}");
        assert!(shown.contains("refresh_token") && shown.contains("<redacted>"));
        assert!(!shown.contains("rt-7"), "{shown}");
    }

    /// The whole flow as a client would run it, without Codex: challenge, discovery, code with
    /// PKCE, rotation, reuse rejected.
    #[tokio::test]
    async fn the_flow_works_and_refresh_tokens_rotate() -> anyhow::Result<()> {
        let server = crate::MockMcpServer::start_with_oauth(McpOAuthOptions {
            expires_in: 5,
            ..Default::default()
        })
        .await?;
        let base = server.url().trim_end_matches("/mcp").to_owned();
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let post_form = |path: &str, body: String| {
            http.post(format!("{base}{path}"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body)
                .send()
        };

        let denied = http.post(server.url()).body("{}").send().await?;
        assert_eq!(denied.status(), 401);
        let challenge = denied.headers()[header::WWW_AUTHENTICATE].to_str()?;
        let meta_url = format!("{base}/.well-known/oauth-protected-resource/mcp");
        assert_eq!(
            challenge,
            format!("Bearer resource_metadata=\"{meta_url}\"")
        );
        let meta: Value = http.get(&meta_url).send().await?.json().await?;
        assert_eq!(meta["authorization_servers"], json!([base]));
        let asm: Value = http
            .get(format!("{base}/.well-known/oauth-authorization-server"))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(asm["code_challenge_methods_supported"], json!(["S256"]));
        let reg: Value = http
            .post(format!("{base}/register"))
            .json(&json!({"redirect_uris": ["http://127.0.0.1:1/cb"]}))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(reg["client_id"], MOCK_MCP_CLIENT_ID);

        let challenge = pkce_challenge("verifier");
        let auth = http
            .get(format!(
                "{base}/authorize?response_type=code&client_id=mock-client-id&redirect_uri={}&state=s%201&code_challenge={challenge}&code_challenge_method=S256",
                percent_encode("http://127.0.0.1:1/cb")
            ))
            .send()
            .await?;
        assert_eq!(auth.status(), 302);
        let location = auth.headers()[header::LOCATION].to_str()?.to_owned();
        assert_eq!(location, "http://127.0.0.1:1/cb?code=code-1&state=s%201");

        let wrong = post_form(
            "/token",
            "grant_type=authorization_code&code=code-1&code_verifier=nope".into(),
        )
        .await?;
        assert_eq!(wrong.status(), 400);
        let tokens: Value = post_form(
            "/token",
            "grant_type=authorization_code&code=code-1&code_verifier=verifier".into(),
        )
        .await?
        .json()
        .await?;
        assert_eq!(
            tokens,
            json!({"access_token": "at-1", "token_type": "bearer", "expires_in": 5,
                   "refresh_token": "rt-1", "scope": "read"})
        );
        let refreshed: Value = post_form(
            "/token",
            "grant_type=refresh_token&refresh_token=rt-1".into(),
        )
        .await?
        .json()
        .await?;
        assert_eq!(refreshed["access_token"], "at-2");
        assert_eq!(server.current_refresh_token().as_deref(), Some("rt-2"));
        let reused = post_form(
            "/token",
            "grant_type=refresh_token&refresh_token=rt-1".into(),
        )
        .await?;
        assert_eq!(reused.status(), 400);
        assert_eq!(reused.json::<Value>().await?["error"], "invalid_grant");

        // The old access token no longer passes; the current one reaches the MCP service.
        let stale = http
            .post(server.url())
            .bearer_auth("at-1")
            .body("{}")
            .send()
            .await?;
        assert_eq!(stale.status(), 401);
        let passed = http
            .post(server.url())
            .bearer_auth("at-2")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json, text/event-stream")
            .body("{}")
            .send()
            .await?;
        assert_ne!(passed.status(), 401);
        assert_eq!(
            server.presented_authorizations(),
            [None, Some("Bearer at-1".into()), Some("Bearer at-2".into())]
        );
        let paths: Vec<String> = server
            .oauth_requests()
            .into_iter()
            .map(|r| r.path)
            .collect();
        assert_eq!(paths.iter().filter(|p| *p == "/token").count(), 4);
        Ok(())
    }
}
