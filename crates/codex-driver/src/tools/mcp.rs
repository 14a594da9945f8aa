//! A [`Toolbox`] served as an MCP server in this process, for transports without dynamic tools
//! (`codex exec`): Codex connects to it as a streamable-HTTP MCP server named for the run.
//!
//! The server listens on `127.0.0.1` (an ephemeral port) and accepts only requests bearing a
//! random token. The token reaches Codex through an environment variable of the child
//! (`bearer_token_env_var`), never argv. It stops when the [`McpToolServer`] is dropped.
//!
//! ```no_run
//! # async fn demo(tools: codex_driver::tools::Toolbox) -> codex_driver::Result<()> {
//! use codex_driver::Exec;
//! let server = tools.serve_mcp().await?;
//! let turn = server.attach(Exec::new("What's the status of ticket 1234?"), "mine").run().await?;
//! # Ok(()) }
//! ```

use super::{ToolCall, ToolContent, ToolOutput, Toolbox};
use crate::CancellationToken;
use crate::error::{Error, Result};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::Value;
use std::sync::Arc;

/// The environment variable carrying the server's token to Codex.
pub const TOKEN_ENV: &str = "CODEX_DRIVER_TOOLS_TOKEN";

#[derive(Clone)]
struct Handler {
    tools: Arc<Toolbox>,
}

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> std::result::Result<ListToolsResult, ErrorData> {
        let tools = self
            .tools
            .tools
            .values()
            .map(|t| {
                let schema = t.input_schema.as_object().cloned().unwrap_or_default();
                Tool::new(t.name.clone(), t.description.clone(), Arc::new(schema))
            })
            .collect();
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> std::result::Result<CallToolResponse, ErrorData> {
        let call = ToolCall {
            tool: request.name.to_string(),
            call_id: context.id.to_string(),
            thread_id: String::new(),
            turn_id: String::new(),
            arguments: Value::Object(request.arguments.clone().unwrap_or_default()),
            cancelled: context.ct.clone(),
        };
        match self.tools.call(call).await {
            Some(out) => Ok(result(out).into()),
            None => Err(ErrorData::internal_error("the call was cancelled", None)),
        }
    }
}

fn result(out: ToolOutput) -> CallToolResult {
    let blocks = out
        .content
        .into_iter()
        .map(|c| match c {
            ToolContent::Text(t) => ContentBlock::text(t),
            ToolContent::ImageUrl(u) => match data_url(&u) {
                Some((mime, data)) => ContentBlock::image(data, mime),
                None => ContentBlock::text(u),
            },
        })
        .collect();
    if out.success {
        CallToolResult::success(blocks)
    } else {
        CallToolResult::error(blocks)
    }
}

/// `data:MIME;base64,DATA` → (MIME, DATA).
fn data_url(u: &str) -> Option<(String, String)> {
    let rest = u.strip_prefix("data:")?;
    let (head, data) = rest.split_once(',')?;
    let mime = head.strip_suffix(";base64")?;
    Some((mime.to_owned(), data.to_owned()))
}

/// A toolbox served over MCP; stops when dropped.
pub struct McpToolServer {
    addr: std::net::SocketAddr,
    token: crate::auth::Secret,
    stop: CancellationToken,
}

impl std::fmt::Debug for McpToolServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpToolServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for McpToolServer {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Toolbox {
    /// Serves these tools as an MCP server on `127.0.0.1` (see [`mcp`](self)).
    pub async fn serve_mcp(self) -> Result<McpToolServer> {
        let io = |context: &str, source| Error::Io {
            context: context.into(),
            source,
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| io("binding the in-process MCP tool server", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| io("the in-process MCP tool server's address", e))?;
        let token = crate::auth::Secret::new(random_token()?);
        let handler = Handler {
            tools: Arc::new(self),
        };
        let service: StreamableHttpService<Handler, LocalSessionManager> =
            StreamableHttpService::new(
                move || Ok(handler.clone()),
                Default::default(),
                StreamableHttpServerConfig::default(),
            );
        let expected = format!("Bearer {}", token.expose());
        let app =
            axum::Router::new()
                .nest_service("/mcp", service)
                .layer(axum::middleware::from_fn(
                    move |req: axum::extract::Request, next: axum::middleware::Next| {
                        let ok = req
                            .headers()
                            .get(axum::http::header::AUTHORIZATION)
                            .is_some_and(|v| v.as_bytes() == expected.as_bytes());
                        async move {
                            if ok {
                                next.run(req).await
                            } else {
                                axum::http::StatusCode::UNAUTHORIZED.into_response()
                            }
                        }
                    },
                ));
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { stopped.cancelled().await })
                .await;
        });
        Ok(McpToolServer { addr, token, stop })
    }
}

use axum::response::IntoResponse;

fn random_token() -> Result<String> {
    crate::fsutil::random_hex(24, "the tool server's token")
}

impl McpToolServer {
    /// The server's URL (`http://127.0.0.1:PORT/mcp`).
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// `exec` with these tools as MCP server `name` (for this run only: `-c` overrides, the
    /// token in the child's environment, its tools approved so `exec` may call them).
    pub fn attach(&self, exec: crate::Exec, name: &str) -> crate::Exec {
        let key = |k: &str| format!("mcp_servers.{name}.{k}");
        exec.config(key("url"), self.url())
            .config(key("bearer_token_env_var"), TOKEN_ENV)
            .config(key("default_tools_approval_mode"), "approve")
            .env(TOKEN_ENV, self.token.expose())
    }
}
