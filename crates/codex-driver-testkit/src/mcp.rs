//! A mock MCP server (streamable HTTP, built on `rmcp`) for tests that let Codex call MCP
//! tools: point an `[mcp_servers.<name>]` table at [`MockMcpServer::url`].
//!
//! Tools: `echo` (`{"text": string}` → the text), `add` (`{"a": number, "b": number}` → the
//! sum as text) and `fail` (always a tool error). Every call is recorded.
//!
//! [`MockMcpServer::start_with_oauth`] puts the server behind OAuth (see [`McpOAuthOptions`]).

use crate::http::{MockServer, Shared};
use crate::mcp_oauth::{self, McpOAuthOptions, OAuthRequest, OAuthState};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// A tool call the server received.
#[derive(Debug, Clone, PartialEq)]
pub struct McpCall {
    /// The tool.
    pub tool: String,
    /// Its arguments.
    pub arguments: Value,
}

#[derive(Clone)]
struct Tools {
    calls: Shared<Vec<McpCall>>,
}

fn schema(v: Value) -> Arc<Map<String, Value>> {
    Arc::new(v.as_object().cloned().unwrap_or_default())
}

impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(vec![
            Tool::new(
                "echo",
                "Returns the text it is given.",
                schema(json!({
                    "type": "object",
                    "properties": {"text": {"type": "string"}},
                    "required": ["text"]
                })),
            ),
            Tool::new(
                "add",
                "Adds two numbers.",
                schema(json!({
                    "type": "object",
                    "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                    "required": ["a", "b"]
                })),
            ),
            Tool::new(
                "fail",
                "Always fails.",
                schema(json!({"type": "object", "properties": {}})),
            ),
        ]))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let args = Value::Object(request.arguments.clone().unwrap_or_default());
        self.calls.lock().push(McpCall {
            tool: request.name.to_string(),
            arguments: args.clone(),
        });
        let text = match request.name.as_ref() {
            "echo" => args["text"].as_str().unwrap_or_default().to_owned(),
            "add" => {
                let sum =
                    args["a"].as_f64().unwrap_or_default() + args["b"].as_f64().unwrap_or_default();
                sum.to_string()
            }
            "fail" => {
                return Ok(
                    CallToolResult::error(vec![ContentBlock::text("the tool failed")]).into(),
                );
            }
            other => {
                return Err(ErrorData::invalid_params(format!("no tool {other}"), None));
            }
        };
        Ok(CallToolResult::success(vec![ContentBlock::text(text)]).into())
    }
}

/// A streamable HTTP MCP server on `127.0.0.1` (ephemeral port). Stops when dropped.
pub struct MockMcpServer {
    server: MockServer<Vec<McpCall>>,
    oauth: Option<Shared<OAuthState>>,
}

impl std::fmt::Debug for MockMcpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.server.debug(f, "MockMcpServer")
    }
}

impl MockMcpServer {
    /// Starts the server, without authentication.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_inner(None).await
    }

    /// Starts the server behind OAuth: `/mcp` answers 401 until Codex has logged in (`codex mcp
    /// login NAME`, approved with [`MockMcpServer::approve_in_browser`]) and presents the
    /// current access token.
    pub async fn start_with_oauth(opts: McpOAuthOptions) -> std::io::Result<Self> {
        Self::start_inner(Some(Shared::new(OAuthState::new(opts)))).await
    }

    async fn start_inner(oauth: Option<Shared<OAuthState>>) -> std::io::Result<Self> {
        let guard = oauth.clone();
        let server = MockServer::start(Vec::new(), move |addr, calls| {
            let tools = Tools { calls };
            let service: StreamableHttpService<Tools, LocalSessionManager> =
                StreamableHttpService::new(
                    move || Ok(tools.clone()),
                    Default::default(),
                    StreamableHttpServerConfig::default(),
                );
            let mcp = axum::Router::new().nest_service("/mcp", service);
            match guard {
                None => mcp,
                Some(oauth) => {
                    oauth.lock().base = format!("http://{addr}");
                    mcp.layer(axum::middleware::from_fn_with_state(
                        oauth.clone(),
                        mcp_oauth::require_bearer,
                    ))
                    .merge(mcp_oauth::router(oauth))
                }
            }
        })
        .await?;
        Ok(Self { server, oauth })
    }

    /// The server's URL (`http://127.0.0.1:PORT/mcp`).
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.server.addr())
    }

    /// The tool calls received so far.
    pub fn calls(&self) -> Vec<McpCall> {
        self.server.state().clone()
    }

    /// A `config.toml` table that makes Codex use this server as `name`, its tools approved
    /// (so `codex exec`, whose approval policy is `never`, may call them).
    pub fn config_toml(&self, name: &str) -> String {
        format!(
            "[mcp_servers.{name}]\nurl = \"{}\"\ndefault_tools_approval_mode = \"approve\"\n",
            self.url()
        )
    }

    /// Requests to the OAuth endpoints so far (empty without OAuth).
    pub fn oauth_requests(&self) -> Vec<OAuthRequest> {
        self.oauth
            .as_ref()
            .map(|o| o.lock().requests())
            .unwrap_or_default()
    }

    /// The `Authorization` header of every request to `/mcp` so far, in order (`None`: the
    /// request had none). Empty without OAuth.
    pub fn presented_authorizations(&self) -> Vec<Option<String>> {
        self.oauth
            .as_ref()
            .map(|o| o.lock().presented.clone())
            .unwrap_or_default()
    }

    /// The access token `/mcp` accepts now (`at-N`), once one was issued.
    pub fn current_access_token(&self) -> Option<String> {
        self.oauth
            .as_ref()
            .and_then(|o| o.lock().access_token.clone())
    }

    /// The refresh token `/token` accepts now (`rt-N`), once one was issued.
    pub fn current_refresh_token(&self) -> Option<String> {
        self.oauth
            .as_ref()
            .and_then(|o| o.lock().refresh_token.clone())
    }

    /// Plays the user's browser for `codex mcp login`: opens `authorize_url` (the one Codex
    /// prints, pointing at this server), which approves at once, and follows the redirect to
    /// Codex's loopback callback. Returns the callback's URL; fails unless it answered success.
    pub async fn approve_in_browser(&self, authorize_url: &str) -> std::io::Result<String> {
        crate::http::play_browser(authorize_url).await
    }
}
