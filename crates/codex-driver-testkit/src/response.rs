//! One scripted answer to `POST /v1/responses`.

use serde_json::{Value, json};
use std::time::Duration;

/// One scripted HTTP answer: an SSE stream of output items, or a fault.
#[derive(Debug, Clone)]
pub struct MockResponse {
    pub(crate) kind: Kind,
    pub(crate) delay_before: Duration,
    pub(crate) delay_between: Duration,
    pub(crate) cut_after: Option<usize>,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Stream {
        outputs: Vec<Output>,
        usage: Usage,
    },
    HttpError {
        status: u16,
        body: String,
        headers: Vec<(String, String)>,
    },
}

#[derive(Debug, Clone)]
pub(crate) enum Output {
    Message {
        chunks: Vec<String>,
    },
    Item(Value),
    FunctionCall {
        name: String,
        namespace: Option<String>,
        arguments: String,
    },
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Usage {
    pub input: u64,
    pub cached: u64,
    pub output: u64,
    pub reasoning: u64,
}

impl Default for MockResponse {
    fn default() -> Self {
        Self::new()
    }
}

impl MockResponse {
    /// An empty successful response (add outputs with the builder methods).
    pub fn new() -> Self {
        Self {
            kind: Kind::Stream {
                outputs: Vec::new(),
                usage: Usage {
                    input: 100,
                    cached: 10,
                    output: 20,
                    reasoning: 5,
                },
            },
            delay_before: Duration::ZERO,
            delay_between: Duration::ZERO,
            cut_after: None,
        }
    }

    /// Shorthand for `MockResponse::new().message(text)`.
    pub fn text(text: impl Into<String>) -> Self {
        Self::new().message(text)
    }

    /// A fault: this HTTP status with this body instead of a stream.
    pub fn http_error(status: u16, body: impl Into<String>) -> Self {
        Self {
            kind: Kind::HttpError {
                status,
                body: body.into(),
                headers: Vec::new(),
            },
            ..Self::new()
        }
    }

    /// HTTP 429 with a `Retry-After: SECS` header and an OpenAI-style `rate_limit_exceeded` body.
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::http_error(
            429,
            r#"{"error":{"type":"rate_limit_exceeded","code":"rate_limit_exceeded","message":"Rate limit reached; try again later"}}"#,
        )
        .header("retry-after", retry_after_secs.to_string())
    }

    /// An extra response header (on [`http_error`](Self::http_error) answers).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        if let Kind::HttpError { headers, .. } = &mut self.kind {
            headers.push((name.into(), value.into()));
        }
        self
    }

    fn push(mut self, out: Output) -> Self {
        if let Kind::Stream { outputs, .. } = &mut self.kind {
            outputs.push(out);
        }
        self
    }

    /// An assistant message (streamed as one text delta, then the finished item).
    pub fn message(self, text: impl Into<String>) -> Self {
        self.push(Output::Message {
            chunks: vec![text.into()],
        })
    }

    /// An assistant message streamed as these text deltas.
    pub fn message_chunks<I, S>(self, chunks: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.push(Output::Message {
            chunks: chunks.into_iter().map(Into::into).collect(),
        })
    }

    /// A message whose text is this JSON value (structured output).
    pub fn json_output(self, value: &Value) -> Self {
        self.message(value.to_string())
    }

    /// A reasoning item with this summary text.
    pub fn reasoning(self, summary: impl Into<String>) -> Self {
        self.push(Output::Item(json!({
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": summary.into()}],
        })))
    }

    /// A shell command through Codex's `exec_command` tool.
    pub fn exec_command(self, cmd: impl Into<String>) -> Self {
        self.exec_command_with(json!({ "cmd": cmd.into() }))
    }

    /// `exec_command` with full arguments (e.g. `workdir`, `sandbox_permissions`,
    /// `justification`).
    pub fn exec_command_with(self, arguments: Value) -> Self {
        self.function_call("exec_command", arguments)
    }

    /// A file edit: `apply_patch` run through `exec_command`, which Codex reports as a
    /// `file_change` item. See [`add_file_patch`] for building a patch.
    pub fn apply_patch(self, patch: impl AsRef<str>) -> Self {
        let patch = patch.as_ref().trim_end();
        self.exec_command(format!("apply_patch <<'PATCH'\n{patch}\nPATCH"))
    }

    /// A web search call.
    pub fn web_search(self, query: impl Into<String>) -> Self {
        let query = query.into();
        self.push(Output::Item(json!({
            "type": "web_search_call",
            "status": "completed",
            "action": {"type": "search", "query": query},
        })))
    }

    /// A call to tool `tool` of MCP server `server`.
    pub fn mcp_tool_call(self, server: &str, tool: &str, arguments: Value) -> Self {
        self.push(Output::FunctionCall {
            name: tool.to_owned(),
            namespace: Some(format!("mcp__{server}")),
            arguments: arguments.to_string(),
        })
    }

    /// Any function call (`arguments` is sent as its JSON text).
    pub fn function_call(self, name: impl Into<String>, arguments: Value) -> Self {
        self.push(Output::FunctionCall {
            name: name.into(),
            namespace: None,
            arguments: arguments.to_string(),
        })
    }

    /// Any raw output item (sent as `response.output_item.done`).
    pub fn raw_item(self, item: Value) -> Self {
        self.push(Output::Item(item))
    }

    /// The usage reported in `response.completed`.
    pub fn usage(mut self, input: u64, cached: u64, output: u64, reasoning: u64) -> Self {
        if let Kind::Stream { usage, .. } = &mut self.kind {
            *usage = Usage {
                input,
                cached,
                output,
                reasoning,
            };
        }
        self
    }

    /// Wait this long before answering at all.
    pub fn delay_before(mut self, d: Duration) -> Self {
        self.delay_before = d;
        self
    }

    /// Wait this long between SSE events.
    pub fn delay_between(mut self, d: Duration) -> Self {
        self.delay_between = d;
        self
    }

    /// A fault: send only the first `n` SSE events, then abort the connection (no
    /// `response.completed`).
    pub fn cut_after(mut self, n: usize) -> Self {
        self.cut_after = Some(n);
        self
    }

    /// The SSE events of this response, numbered with `seq` so ids are unique.
    pub(crate) fn sse_events(&self, seq: u64) -> Vec<Value> {
        let Kind::Stream { outputs, usage } = &self.kind else {
            return Vec::new();
        };
        let rid = format!("resp_{seq}");
        let mut evs = vec![json!({"type": "response.created", "response": {"id": rid}})];
        for (i, out) in outputs.iter().enumerate() {
            match out {
                Output::Message { chunks } => {
                    let id = format!("msg_{seq}_{i}");
                    evs.push(json!({
                        "type": "response.output_item.added",
                        "item": {"type": "message", "role": "assistant", "id": id, "content": []},
                    }));
                    for c in chunks {
                        evs.push(json!({
                            "type": "response.output_text.delta",
                            "item_id": id,
                            "output_index": i,
                            "content_index": 0,
                            "delta": c,
                        }));
                    }
                    evs.push(json!({
                        "type": "response.output_item.done",
                        "item": {
                            "type": "message", "role": "assistant", "id": id,
                            "content": [{"type": "output_text", "text": chunks.concat()}],
                        },
                    }));
                }
                Output::Item(item) => {
                    let mut item = item.clone();
                    if let Some(obj) = item.as_object_mut() {
                        let prefix = match obj.get("type").and_then(Value::as_str) {
                            Some("reasoning") => "rs",
                            Some("web_search_call") => "ws",
                            _ => "item",
                        };
                        obj.entry("id")
                            .or_insert_with(|| json!(format!("{prefix}_{seq}_{i}")));
                    }
                    evs.push(json!({"type": "response.output_item.done", "item": item}));
                }
                Output::FunctionCall {
                    name,
                    namespace,
                    arguments,
                } => {
                    let mut item = json!({
                        "type": "function_call",
                        "id": format!("fc_{seq}_{i}"),
                        "call_id": format!("call_{seq}_{i}"),
                        "name": name,
                        "arguments": arguments,
                    });
                    if let (Some(ns), Some(obj)) = (namespace, item.as_object_mut()) {
                        obj.insert("namespace".into(), json!(ns));
                    }
                    evs.push(json!({"type": "response.output_item.done", "item": item}));
                }
            }
        }
        evs.push(json!({
            "type": "response.completed",
            "response": {
                "id": rid,
                "usage": {
                    "input_tokens": usage.input,
                    "input_tokens_details": {"cached_tokens": usage.cached},
                    "output_tokens": usage.output,
                    "output_tokens_details": {"reasoning_tokens": usage.reasoning},
                    "total_tokens": usage.input + usage.output,
                },
            },
        }));
        evs
    }
}

/// An `apply_patch` patch that creates `path` (relative to the workspace) with `contents`.
pub fn add_file_patch(path: &str, contents: &str) -> String {
    let mut p = format!("*** Begin Patch\n*** Add File: {path}\n");
    for line in contents.lines() {
        p.push('+');
        p.push_str(line);
        p.push('\n');
    }
    p.push_str("*** End Patch");
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_of_a_message_turn() {
        let evs = MockResponse::text("hi").usage(1, 0, 2, 0).sse_events(7);
        let types: Vec<&str> = evs.iter().filter_map(|e| e["type"].as_str()).collect();
        assert_eq!(
            types,
            [
                "response.created",
                "response.output_item.added",
                "response.output_text.delta",
                "response.output_item.done",
                "response.completed"
            ]
        );
        assert_eq!(evs[3]["item"]["content"][0]["text"], "hi");
        assert_eq!(evs[4]["response"]["usage"]["total_tokens"], 3);
    }

    #[test]
    fn tool_calls_get_unique_ids() {
        let evs = MockResponse::new()
            .exec_command("ls")
            .mcp_tool_call("docs", "search", json!({"q": 1}))
            .sse_events(3);
        assert_eq!(
            evs[1]["item"],
            json!({"type":"function_call","id":"fc_3_0","call_id":"call_3_0","name":"exec_command","arguments":"{\"cmd\":\"ls\"}"})
        );
        assert_eq!(evs[2]["item"]["namespace"], "mcp__docs");
        assert_eq!(evs[2]["item"]["call_id"], "call_3_1");
    }

    #[test]
    fn patch_builder() {
        assert_eq!(
            add_file_patch("a.txt", "x\ny"),
            "*** Begin Patch\n*** Add File: a.txt\n+x\n+y\n*** End Patch"
        );
    }
}
