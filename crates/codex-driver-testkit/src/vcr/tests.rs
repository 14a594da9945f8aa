use super::*;

fn rt() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn exchange(prompt: &str) -> Exchange {
    Exchange::sse(
        "POST",
        "/v1/responses",
        json!({"model": "m", "input": [{"type": "message", "role": "user", "id": "msg_1",
            "content": [{"type": "input_text", "text": prompt}]}]}),
        vec![
            SseEvent::json(
                Some("response.created"),
                json!({"type": "response.created"}),
            ),
            SseEvent::json(
                Some("response.completed"),
                json!({"type": "response.completed"}),
            ),
        ],
    )
}

#[test]
fn redaction_replaces_secrets_everywhere_and_drops_credentials() {
    let r = Redaction::new()
        .secret("s3cret")
        .secret("s3cret-longer")
        .allow_header("Authorization");
    let mut headers = HeaderMap::new();
    headers.insert("authorization", HeaderValue::from_static("Bearer s3cret"));
    headers.insert("cookie", HeaderValue::from_static("a=b"));
    headers.insert("x-other", HeaderValue::from_static("x"));
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/json; s3cret"),
    );
    assert_eq!(
        r.headers(&headers),
        BTreeMap::from([(
            "content-type".to_owned(),
            "application/json; [REDACTED]".to_owned()
        )])
    );
    assert_eq!(
        r.value(&json!({"s3cret": ["a s3cret-longer b", 1, {"k": "s3cret"}]})),
        json!({"[REDACTED]": ["a [REDACTED] b", 1, {"k": "[REDACTED]"}]})
    );
    let mut e = exchange("my s3cret");
    e.response.body = ResponseBody::Events(vec![SseEvent {
        event: Some("s3cret".into()),
        data: None,
        text: Some("raw s3cret".into()),
    }]);
    r.exchange(&mut e);
    assert_eq!(
        e.request.body["input"][0]["content"][0]["text"],
        "my [REDACTED]"
    );
    assert_eq!(
        e.response.body,
        ResponseBody::Events(vec![SseEvent {
            event: Some("[REDACTED]".into()),
            data: None,
            text: Some("raw [REDACTED]".into()),
        }])
    );
    assert_eq!(
        format!("{r:?}"),
        "Redaction { secrets: 2, allow_headers: [\"content-type\", \"accept\", \"openai-beta\", \"originator\", \"authorization\"] }"
    );
}

#[test]
fn normalization_ignores_what_varies_between_runs() {
    let run = |cwd: &str, home: &str, id: &str, date: &str, chunk: &str| {
        json!({
            "model": "m",
            "prompt_cache_key": id,
            "client_metadata": {"session_id": id},
            "input": [
                {"type": "message", "id": format!("msg_{id}"), "role": "user", "content": [
                    {"type": "input_text", "text": format!("<environment_context>\n  <cwd>{cwd}</cwd>\n  <current_date>{date}</current_date>\n  <timezone>Etc/UTC</timezone>\n</environment_context>")},
                    {"type": "input_text", "text": format!("- `r0` = `{home}/skills/.system`; roots `/tmp`, `{cwd}`.")},
                ]},
                {"type": "function_call_output", "id": format!("fco_{id}"), "call_id": "call_1",
                 "output": format!("Chunk ID: {chunk}\nWall time: 0.01 seconds\nOutput:\nhi\n")},
            ],
        })
    };
    let n1 = Normalizer::new().path("/h/one", HOME_PLACEHOLDER);
    let n2 = Normalizer::new().path("/h/two", HOME_PLACEHOLDER);
    let a = n1.normalize(&run("/w/one", "/h/one", "1", "2026-01-01", "ab12"));
    let b = n2.normalize(&run("/w/two", "/h/two", "2", "2026-01-02", "cd34"));
    assert_eq!(a, b);
    assert_eq!(
        a,
        json!({
            "model": "m",
            "input": [
                {"type": "message", "role": "user", "content": [
                    {"type": "input_text", "text": "<environment_context>\n  <cwd>[CWD]</cwd>\n  <current_date>[IGNORED]</current_date>\n  <timezone>[IGNORED]</timezone>\n</environment_context>"},
                    {"type": "input_text", "text": "- `r0` = `[CODEX_HOME]/skills/.system`; roots `/tmp`, `[CWD]`."},
                ]},
                {"type": "function_call_output", "call_id": "call_1",
                 "output": "Chunk ID: [IGNORED]\nWall time: [IGNORED]\nOutput:\nhi\n"},
            ],
        })
    );
    // A real change survives normalization; user rules extend the defaults.
    let c = n1.normalize(&run("/w/one", "/h/one", "1", "2026-01-01", "ab12"));
    assert_eq!(a, c);
    let strict = Normalizer::none();
    assert_ne!(
        strict.normalize(&run("/w/one", "/h/one", "1", "d", "c")),
        strict.normalize(&run("/w/one", "/h/one", "2", "d", "c"))
    );
    let custom = Normalizer::none()
        .ignore("/input/*/content")
        .ignore("/model");
    assert_eq!(
        custom.normalize(&json!({"model": "m", "input": [{"content": 1, "k": 2}]})),
        json!({"input": [{"k": 2}]})
    );
}

#[test]
fn diff_shows_changed_lines_with_context() {
    let d = diff_json(
        &json!({"a": 1, "b": ["x", "y"], "c": "line1\nold\nline3", "d": 4}),
        &json!({"a": 1, "b": ["x", "y"], "c": "line1\nnew\nline3", "d": 4}),
    );
    assert_eq!(
        d,
        "--- cassette\n+++ request\n@@ -6,7 +6,7 @@\n   ],\n   \"c\": [\n     \"line1\",\n-    \"old\",\n+    \"new\",\n     \"line3\"\n   ],\n   \"d\": 4\n"
    );
    assert_eq!(diff_json(&json!({"a": 1}), &json!({"a": 1})), "");
    assert_eq!(
        diff_text("a\nb\nc", "a\nc\nd", "old", "new"),
        "--- old\n+++ new\n@@ -1,3 +1,3 @@\n a\n-b\n c\n+d\n"
    );
}

#[test]
fn cassette_round_trips_through_jsonl_and_a_file() -> anyhow::Result<()> {
    let mut c = Cassette::with_exchanges(vec![exchange("hello")]);
    c.exchanges.push(Exchange {
        method: "GET".into(),
        path: "/v1/models".into(),
        request: CassetteRequest {
            headers: BTreeMap::new(),
            body: Value::Null,
        },
        response: CassetteResponse {
            status: 404,
            content_type: Some("text/plain".into()),
            headers: BTreeMap::from([("retry-after".into(), "1".into())]),
            body: ResponseBody::Body(json!("nope")),
            truncated: true,
        },
    });
    let text = c.to_jsonl()?;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[0],
        format!(
            "{{\"vcr\":\"codex-driver-testkit/vcr\",\"format\":1,\"recorded_at\":\"{}\"}}",
            c.header.recorded_at
        )
    );
    assert_eq!(
        lines[2],
        r#"{"method":"GET","path":"/v1/models","request":{"headers":{},"body":null},"response":{"status":404,"content_type":"text/plain","headers":{"retry-after":"1"},"body":"nope","truncated":true}}"#
    );
    assert_eq!(Cassette::parse(&text)?, c);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("sub/c.jsonl");
    c.save(&path)?;
    assert_eq!(Cassette::load(&path)?, c);
    let err = Cassette::parse("{\"not\": 1}\n")
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("cassette , line 1: not a cassette header: missing field `vcr` at line 1 column 10")
    );
    Ok(())
}

#[test]
fn sse_parsing_keeps_names_and_payloads() {
    let evs = parse_sse(
        "event: a\ndata: {\"x\":1}\n\n: comment\r\nevent: b\r\ndata: one\r\ndata: two\r\n\r\n",
    );
    assert_eq!(
        evs,
        vec![
            SseEvent::json(Some("a"), json!({"x": 1})),
            SseEvent {
                event: Some("b".into()),
                data: None,
                text: Some("one\ntwo".into())
            },
        ]
    );
    assert_eq!(evs[1].wire(), "event: b\ndata: one\ndata: two\n\n");
}

#[test]
fn dates() {
    assert_eq!(crate::clock::rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(crate::clock::rfc3339(1_796_369_647), "2026-12-04T07:34:07Z");
}

#[test]
fn replayer_serves_in_order_and_reports_divergences() -> anyhow::Result<()> {
    rt()?.block_on(async {
        let cassette = Cassette::with_exchanges(vec![exchange("one"), exchange("two")]);
        let replayer = Replayer::start(cassette.clone()).await?;
        let client = reqwest::Client::new();
        let url = format!("{}/responses", replayer.base_url());
        let post = |body: Value| client.post(&url).json(&body).send();
        let ok = post(cassette.exchanges[0].request.body.clone()).await?;
        assert_eq!(ok.status(), 200);
        assert_eq!(
            ok.text().await?,
            "event: response.created\ndata: {\"type\":\"response.created\"}\n\nevent: response.completed\ndata: {\"type\":\"response.completed\"}\n\n"
        );
        let bad = post(exchange("TWO").request.body).await?;
        assert_eq!(bad.status(), 400);
        let text = bad.text().await?;
        assert!(text.contains("cassette exchange #1"), "{text}");
        let divs = replayer.divergences();
        assert_eq!(divs.len(), 1);
        assert_eq!((divs[0].index, divs[0].kind.clone()), (1, DivergenceKind::Body));
        assert_eq!(
            divs[0].diff,
            "--- cassette\n+++ request\n@@ -7,7 +7,7 @@\n       \"content\": [\n         {\n           \"type\": \"input_text\",\n-          \"text\": \"two\"\n+          \"text\": \"TWO\"\n         }\n       ]\n     }\n"
        );
        assert_eq!(replayer.remaining(), 1);
        assert!(replayer.all_used().is_err());
        assert_eq!(post(exchange("two").request.body).await?.status(), 200);
        let done = post(exchange("three").request.body).await?;
        assert_eq!(done.status(), 500);
        assert_eq!(
            replayer.divergences()[1],
            Divergence {
                index: 3,
                method: "POST".into(),
                path: "/v1/responses".into(),
                kind: DivergenceKind::Exhausted,
                diff: String::new(),
            }
        );
        assert_eq!(replayer.remaining(), 0);
        assert_eq!(
            replayer.config_toml(),
            format!(
                "model = \"m\"\nmodel_provider = \"mock\"\n\n[model_providers.mock]\nname = \"mock\"\nbase_url = \"{}\"\nwire_api = \"responses\"\nrequest_max_retries = 0\nstream_max_retries = 0\n",
                replayer.base_url()
            )
        );
        Ok(())
    })
}

#[test]
fn recorder_forwards_with_the_key_and_records_redacted() -> anyhow::Result<()> {
    rt()?.block_on(async {
        let provider =
            crate::MockProvider::start(vec![crate::MockResponse::text("hi there")]).await?;
        let recorder = Recorder::builder(provider.base_url())
            .api_key("sk-unit-secret")
            .redact("hidden-word")
            .start()
            .await?;
        assert_eq!(
            format!("{recorder:?}"),
            format!("Recorder {{ addr: {} }}", recorder.addr())
        );
        let resp = reqwest::Client::new()
            .post(format!("{}/responses", recorder.base_url()))
            .header("cookie", "c=1")
            .json(&json!({"input": "say the hidden-word and sk-unit-secret"}))
            .send()
            .await?;
        assert_eq!(resp.status(), 200);
        let streamed = resp.text().await?;
        assert!(streamed.contains("hi there"), "{streamed}");
        let reqs = provider.requests();
        assert_eq!(
            reqs[0].header("authorization"),
            Some("Bearer sk-unit-secret")
        );
        assert_eq!(reqs[0].header("cookie"), Some("c=1"));
        let cassette = recorder.finish().await?;
        assert_eq!(cassette.exchanges.len(), 1);
        let e = &cassette.exchanges[0];
        assert_eq!(
            e.request,
            CassetteRequest {
                headers: BTreeMap::from([
                    ("accept".into(), "*/*".into()),
                    ("content-type".into(), "application/json".into()),
                ]),
                body: json!({"input": "say the [REDACTED] and [REDACTED]"}),
            }
        );
        let ResponseBody::Events(evs) = &e.response.body else {
            anyhow::bail!("not SSE: {e:?}");
        };
        let names: Vec<_> = evs.iter().filter_map(|e| e.event.as_deref()).collect();
        assert_eq!(
            names,
            [
                "response.created",
                "response.output_item.added",
                "response.output_text.delta",
                "response.output_item.done",
                "response.completed"
            ]
        );
        let text = cassette.to_jsonl()?;
        assert!(
            !text.contains("sk-unit-secret") && !text.contains("hidden-word"),
            "{text}"
        );
        Ok(())
    })
}

#[test]
fn missing_key_variable_is_an_error() -> anyhow::Result<()> {
    rt()?.block_on(async {
        let err = Recorder::builder("http://127.0.0.1:9/v1")
            .api_key_env("CODEX_DRIVER_VCR_SURELY_UNSET_VAR")
            .start()
            .await
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("environment variable CODEX_DRIVER_VCR_SURELY_UNSET_VAR (the upstream API key) is not set")
        );
        Ok(())
    })
}
