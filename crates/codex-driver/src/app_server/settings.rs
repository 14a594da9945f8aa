//! Server settings calls of an [`AppServerClient`]: `config.toml`, MCP servers, models.

use super::client::AppServerClient;
use super::protocol as p;
use crate::error::Result;
use serde_json::Value;

impl AppServerClient {
    /// `config/read`.
    pub async fn config_read(&self) -> Result<p::ConfigReadResponse> {
        self.request(&p::ConfigReadParams::default()).await
    }

    /// `config/value/write`: sets `key_path` (dotted) to `value` in the user's config.toml,
    /// replacing what was there. [`request`](Self::request) with
    /// [`ConfigValueWriteParams`](p::ConfigValueWriteParams) for the other options.
    pub async fn config_value_write(
        &self,
        key_path: &str,
        value: Value,
    ) -> Result<p::ConfigWriteResponse> {
        self.request(&p::ConfigValueWriteParams {
            key_path: key_path.to_owned(),
            value,
            merge_strategy: p::MergeStrategy::Replace,
            file_path: None,
            expected_version: None,
            extra: Default::default(),
        })
        .await
    }

    /// `mcpServerStatus/list`: the configured MCP servers, their tools and state (one page;
    /// see `next_cursor`).
    pub async fn mcp_server_status(&self) -> Result<p::ListMcpServerStatusResponse> {
        self.request(&p::ListMcpServerStatusParams::default()).await
    }

    /// `model/list` (one page; see `next_cursor`).
    pub async fn models(&self) -> Result<p::ModelListResponse> {
        self.request(&p::ModelListParams::default()).await
    }
}
