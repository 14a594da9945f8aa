//! In-process tools: Rust functions the model can call during a turn.
//!
//! A [`Tool`] is a name, a description, a JSON Schema for its arguments (derived with
//! `schemars` from the argument type) and an async handler. A [`Toolbox`] holds the tools of a
//! thread. On the app-server transport they are given to Codex as *dynamic tools*
//! (`thread/start`'s `dynamicTools`, experimental API) and each call comes back as an
//! `item/tool/call` request that this library answers by running the handler: see
//! [`AppServerClient::start_thread_with_tools`](crate::app_server::AppServerClient::start_thread_with_tools).
//!
//! `codex exec` has no dynamic tools: with the `tools-mcp` feature, `Toolbox::serve_mcp`
//! serves the same toolbox as a loopback MCP server and `McpToolServer::attach` points one run
//! at it (module `tools::mcp`).
//! Both paths work on every supported release (0.130 and later).
//!
//! A handler never crashes a turn: its error, a panic, arguments that don't fit the type or a
//! timeout all become a failed tool result the model sees (`success: false` with the reason).
//! When the turn ends or is interrupted while a handler runs, [`ToolCall::cancelled`] fires and
//! the handler's future is dropped.
//!
//! ```
//! use codex_driver::tools::{Tool, ToolOutput, Toolbox};
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct Add {
//!     /// First term.
//!     a: i64,
//!     /// Second term.
//!     b: i64,
//! }
//!
//! let tools = Toolbox::new().with(Tool::new("add", "Adds two integers.", |args: Add, _call| async move {
//!     Ok(ToolOutput::text((args.a + args.b).to_string()))
//! }));
//! assert_eq!(tools.names(), ["add"]);
//! assert_eq!(tools.specs()[0]["inputSchema"]["required"], serde_json::json!(["a", "b"]));
//! ```

#[cfg(feature = "tools-mcp")]
pub mod mcp;

use crate::CancellationToken;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// A boxed future, as handlers return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// One part of a tool's result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolContent {
    /// Text for the model.
    Text(String),
    /// An image, as a URL (`https://...` or a `data:image/png;base64,...` URL).
    ImageUrl(String),
}

/// What a tool returns to the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutput {
    /// The parts, in order.
    pub content: Vec<ToolContent>,
    /// False: the model is told the call failed (the content says why).
    pub success: bool,
}

impl ToolOutput {
    /// A successful text result.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            content: vec![ToolContent::Text(text.into())],
            success: true,
        }
    }

    /// A successful image result.
    pub fn image_url(url: impl Into<String>) -> Self {
        Self {
            content: vec![ToolContent::ImageUrl(url.into())],
            success: true,
        }
    }

    /// A failed call, with the reason the model reads.
    pub fn failure(reason: impl Into<String>) -> Self {
        Self {
            content: vec![ToolContent::Text(reason.into())],
            success: false,
        }
    }

    /// Adds a part.
    pub fn and(mut self, part: ToolContent) -> Self {
        self.content.push(part);
        self
    }

    /// The JSON-RPC result of `item/tool/call` (`DynamicToolCallResponse`).
    pub fn to_response(&self) -> Value {
        let items: Vec<Value> = self
            .content
            .iter()
            .map(|c| match c {
                ToolContent::Text(t) => json!({"type": "inputText", "text": t}),
                ToolContent::ImageUrl(u) => json!({"type": "inputImage", "imageUrl": u}),
            })
            .collect();
        json!({"contentItems": items, "success": self.success})
    }
}

/// A handler's failure: shown to the model as a failed tool call. Any error type converts
/// into it (`?` works in handlers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError(pub String);

impl<E: std::fmt::Display> From<E> for ToolError {
    fn from(e: E) -> Self {
        Self(e.to_string())
    }
}

/// The call being answered: where it comes from, and its cancellation.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ToolCall {
    /// The tool's name.
    pub tool: String,
    /// Codex's call id.
    pub call_id: String,
    /// The thread.
    pub thread_id: String,
    /// The turn.
    pub turn_id: String,
    /// The raw arguments, as the model sent them.
    pub arguments: Value,
    /// Cancelled when the turn ends or is interrupted (or the connection closes) before the
    /// handler is done; the handler's future is dropped then too.
    pub cancelled: CancellationToken,
}

type Handler = dyn Fn(Value, ToolCall) -> BoxFuture<Result<ToolOutput, ToolError>> + Send + Sync;

/// A tool: name, description, argument schema and handler.
#[derive(Clone)]
pub struct Tool {
    name: String,
    description: String,
    input_schema: Value,
    handler: Arc<Handler>,
}

impl std::fmt::Debug for Tool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tool")
            .field("name", &self.name)
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

impl Tool {
    /// A tool whose arguments decode into `A`; its schema is `A`'s JSON Schema. Arguments that
    /// don't decode are answered with a failed call naming serde's reason (the handler isn't
    /// run), so the model can correct itself.
    pub fn new<A, F, Fut>(name: impl Into<String>, description: impl Into<String>, f: F) -> Self
    where
        A: DeserializeOwned + schemars::JsonSchema,
        F: Fn(A, ToolCall) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ToolOutput, ToolError>> + Send + 'static,
    {
        let schema = input_schema::<A>();
        let f = Arc::new(f);
        Self::raw(name, description, schema, move |args, call| {
            let f = Arc::clone(&f);
            async move {
                let args: A = serde_json::from_value(args)
                    .map_err(|e| ToolError(format!("invalid arguments: {e}")))?;
                f(args, call).await
            }
        })
    }

    /// A tool with a hand-written JSON Schema and untyped arguments.
    pub fn raw<F, Fut>(
        name: impl Into<String>,
        description: impl Into<String>,
        input_schema: Value,
        f: F,
    ) -> Self
    where
        F: Fn(Value, ToolCall) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<ToolOutput, ToolError>> + Send + 'static,
    {
        Self {
            name: name.into(),
            description: description.into(),
            input_schema,
            handler: Arc::new(move |args, call| Box::pin(f(args, call))),
        }
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The JSON Schema of the arguments.
    pub fn input_schema(&self) -> &Value {
        &self.input_schema
    }

    /// The dynamic-tool spec sent in `thread/start`. The `type` tag is what releases since
    /// 0.153 require; older ones ignore it.
    pub fn spec(&self) -> Value {
        json!({
            "type": "function",
            "name": self.name,
            "description": self.description,
            "inputSchema": self.input_schema,
        })
    }
}

/// `A`'s JSON Schema as a tool's `inputSchema`: an object schema without the `$schema` and
/// `title` keys, which model APIs don't want.
pub fn input_schema<A: schemars::JsonSchema>() -> Value {
    let mut v = schemars::schema_for!(A).to_value();
    if let Some(o) = v.as_object_mut() {
        o.remove("$schema");
        o.remove("title");
        o.entry("type").or_insert_with(|| json!("object"));
    }
    v
}

/// The tools of a thread, with how long one call may take.
#[derive(Debug, Clone, Default)]
pub struct Toolbox {
    tools: BTreeMap<String, Tool>,
    timeout: Option<Duration>,
}

impl Toolbox {
    /// No tools.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tool (replacing one of the same name).
    pub fn with(mut self, tool: Tool) -> Self {
        self.tools.insert(tool.name.clone(), tool);
        self
    }

    /// Adds a tool (replacing one of the same name).
    pub fn add(&mut self, tool: Tool) -> &mut Self {
        self.tools.insert(tool.name.clone(), tool);
        self
    }

    /// A call running longer than this is answered as failed (default: no limit; the turn's
    /// end still cancels it).
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// The tool names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.tools.keys().map(String::as_str).collect()
    }

    /// A tool by name.
    pub fn get(&self, name: &str) -> Option<&Tool> {
        self.tools.get(name)
    }

    /// No tools.
    pub fn is_empty(&self) -> bool {
        self.tools.is_empty()
    }

    /// The `dynamicTools` of `thread/start`.
    pub fn specs(&self) -> Vec<Value> {
        self.tools.values().map(Tool::spec).collect()
    }

    /// Runs one call to the end and returns what the model gets. Never fails: an unknown tool,
    /// bad arguments, the handler's error or panic and a timeout are failed results. `None`
    /// when `call.cancelled` fired first (no answer is due then).
    pub async fn call(&self, call: ToolCall) -> Option<ToolOutput> {
        let Some(tool) = self.tools.get(&call.tool) else {
            return Some(ToolOutput::failure(format!(
                "no tool named `{}` is registered (tools: {})",
                call.tool,
                self.names().join(", ")
            )));
        };
        let cancelled = call.cancelled.clone();
        let name = tool.name.clone();
        // A panicking handler is caught here, so it is one failed call, not a dead task.
        let run = CatchUnwind((tool.handler)(call.arguments.clone(), call));
        let limited = async {
            match self.timeout {
                Some(limit) => tokio::time::timeout(limit, run).await.map_err(|_| limit),
                None => Ok(run.await),
            }
        };
        tokio::select! {
            biased;
            () = cancelled.cancelled() => None,
            r = limited => Some(match r {
                Ok(Ok(Ok(out))) => out,
                Ok(Ok(Err(ToolError(why)))) => ToolOutput::failure(why),
                Ok(Err(_)) => ToolOutput::failure(format!("the tool `{name}` failed (its handler panicked)")),
                Err(limit) => ToolOutput::failure(format!("the tool `{name}` timed out after {limit:?}")),
            }),
        }
    }
}

/// Resolves to `Err` when the inner future panics (the panic is caught at each poll).
struct CatchUnwind<T>(BoxFuture<T>);

impl<T> Future for CatchUnwind<T> {
    type Output = Result<T, ()>;

    fn poll(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let inner = self.0.as_mut();
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(std::task::Poll::Ready(v)) => std::task::Poll::Ready(Ok(v)),
            Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
            Err(_) => std::task::Poll::Ready(Err(())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, schemars::JsonSchema)]
    struct Echo {
        /// What to say.
        text: String,
    }

    fn call(tool: &str, arguments: Value) -> ToolCall {
        ToolCall {
            tool: tool.into(),
            call_id: "c1".into(),
            thread_id: "t".into(),
            turn_id: "u".into(),
            arguments,
            cancelled: CancellationToken::new(),
        }
    }

    fn echo_box() -> Toolbox {
        Toolbox::new().with(Tool::new("echo", "Echoes.", |a: Echo, _| async move {
            if a.text == "boom" {
                panic!("boom");
            }
            if a.text == "err" {
                return Err("it went wrong".into());
            }
            Ok(ToolOutput::text(a.text))
        }))
    }

    #[test]
    fn the_spec_is_the_function_shape_with_the_derived_schema() {
        assert_eq!(
            echo_box().specs(),
            vec![json!({
                "type": "function",
                "name": "echo",
                "description": "Echoes.",
                "inputSchema": {
                    "type": "object",
                    "properties": {"text": {"type": "string", "description": "What to say."}},
                    "required": ["text"],
                },
            })]
        );
    }

    #[tokio::test]
    async fn every_failure_is_a_failed_result_the_model_reads() {
        let b = echo_box();
        assert_eq!(
            b.call(call("echo", json!({"text": "hi"}))).await,
            Some(ToolOutput::text("hi"))
        );
        assert_eq!(
            b.call(call("echo", json!({"text": "err"}))).await,
            Some(ToolOutput::failure("it went wrong"))
        );
        assert_eq!(
            b.call(call("echo", json!({"text": "boom"}))).await,
            Some(ToolOutput::failure(
                "the tool `echo` failed (its handler panicked)"
            ))
        );
        assert_eq!(
            b.call(call("echo", json!({"txt": 1}))).await,
            Some(ToolOutput::failure(
                "invalid arguments: missing field `text`"
            ))
        );
        assert_eq!(
            b.call(call("nope", json!({}))).await,
            Some(ToolOutput::failure(
                "no tool named `nope` is registered (tools: echo)"
            ))
        );
    }

    #[tokio::test]
    async fn a_slow_call_times_out_and_a_cancelled_one_gets_no_answer() {
        let slow = Toolbox::new()
            .with(Tool::raw(
                "slow",
                "Sleeps.",
                json!({"type": "object"}),
                |_, _| async {
                    tokio::time::sleep(Duration::from_secs(60)).await;
                    Ok(ToolOutput::text("late"))
                },
            ))
            .timeout(Duration::from_millis(20));
        assert_eq!(
            slow.call(call("slow", json!({}))).await,
            Some(ToolOutput::failure("the tool `slow` timed out after 20ms"))
        );
        let c = call("slow", json!({}));
        c.cancelled.cancel();
        assert_eq!(slow.call(c).await, None);
    }

    #[test]
    fn outputs_become_dynamic_tool_call_responses() {
        assert_eq!(
            ToolOutput::text("a")
                .and(ToolContent::ImageUrl("data:image/png;base64,AA==".into()))
                .to_response(),
            json!({"contentItems": [
                {"type": "inputText", "text": "a"},
                {"type": "inputImage", "imageUrl": "data:image/png;base64,AA=="},
            ], "success": true})
        );
    }
}
