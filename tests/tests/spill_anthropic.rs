//! OpenAI chat spilled to Anthropic and back: the router translates the
//! request into a Messages call and the answer (whole or streamed) into
//! OpenAI's shapes. Anthropic is a FAKE (`switchyard-fakes`) that follows
//! its wire format and validates every request as the real API does
//! (roles, `max_tokens`, tool_use/tool_result pairing, extra fields). The
//! local pool is dead, so every request spills. Key: see spill.rs.

use serde_json::{Value, json};
use switchyard_fakes::{Api, FakeConfig, FakeProvider};
use switchyard_tests::*;

const NAME: &str = "claude-spill";

async fn setup() -> (FakeProvider, switchyard::RunningRouter, String) {
    let fake = FakeProvider::start(FakeConfig {
        api_key: std::env::var("CARGO_PKG_NAME").expect("set by cargo"),
        ..FakeConfig::default()
    })
    .await
    .expect("fake provider");
    let yaml = format!(
        "listeners:\n  - address: 127.0.0.1:0\nlogging:\n  level: warn\nhealth:\n  active:\n    interval: 100ms\n    timeout: 500ms\nproviders:\n  claude:\n    kind: anthropic\n    url: {}\n    api_key_env: CARGO_PKG_NAME\npools:\n  {NAME}:\n    endpoints:\n      - {{url: {}, name: dead, kind: openai}}\nmodels:\n  {NAME}:\n    pool: {NAME}\n    spill:\n      to:\n        - {{provider: claude, model: claude-haiku-4-5, max_tokens: 256}}\n",
        fake.url(),
        unused_url()
    );
    let router = start_router(&yaml).await;
    let url = router_url(&router);
    wait_until_down(&url, NAME).await;
    (fake, router, url)
}

fn weather_request(stream: bool) -> Value {
    json!({
        "model": NAME,
        "stream": stream,
        "stream_options": if stream { json!({"include_usage": true}) } else { Value::Null },
        "temperature": 1.4,
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "What is the weather in Paris?"}
        ],
        "tools": [{
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                    "required": ["city", "days"]
                }
            }
        }],
        "tool_choice": "auto"
    })
}

/// The OpenAI answer a streamed response adds up to, and its usage.
fn reassemble(sse: &str) -> (Value, Option<Value>) {
    let mut content = String::new();
    let mut calls: Vec<Value> = Vec::new();
    let mut finish = Value::Null;
    let mut usage = None;
    let events: Vec<&str> = sse
        .split("\n\n")
        .filter_map(|e| e.trim().strip_prefix("data: "))
        .collect();
    assert_eq!(events.last(), Some(&"[DONE]"), "{sse}");
    for data in &events[..events.len() - 1] {
        let chunk: Value = serde_json::from_str(data).expect("chunk json");
        assert_eq!(chunk["object"], "chat.completion.chunk");
        if chunk["usage"].is_object() {
            usage = Some(chunk["usage"].clone());
        }
        let Some(choice) = chunk["choices"].get(0) else {
            continue;
        };
        if let Some(text) = choice["delta"]["content"].as_str() {
            content.push_str(text);
        }
        for call in choice["delta"]["tool_calls"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let i = call["index"].as_u64().expect("index") as usize;
            if calls.len() <= i {
                calls.push(json!({"id": call["id"], "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""}}));
            }
            let args = call["function"]["arguments"].as_str().unwrap_or("");
            let so_far = calls[i]["function"]["arguments"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            calls[i]["function"]["arguments"] = json!(so_far + args);
        }
        if !choice["finish_reason"].is_null() {
            finish = choice["finish_reason"].clone();
        }
    }
    (
        json!({"content": content, "tool_calls": calls, "finish_reason": finish}),
        usage,
    )
}

async fn post(url: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{url}/v1/chat/completions"))
        .json(body)
        .send()
        .await
        .expect("router answers")
}

#[tokio::test]
async fn tool_calls_round_trip_whole_and_streamed() {
    let (fake, _router, url) = setup().await;

    // Whole: a tool call comes back in OpenAI's shape.
    let response = post(&url, &weather_request(false)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-switchyard-served-by"],
        "provider/claude"
    );
    let whole: Value = response.json().await.expect("json");
    assert_eq!(whole["object"], "chat.completion");
    let choice = &whole["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    let call = &choice["message"]["tool_calls"][0];
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value = serde_json::from_str(call["function"]["arguments"].as_str().expect("string"))
        .expect("json");
    assert_eq!(args, json!({"city": "x", "days": 1}));
    assert!(whole["usage"]["prompt_tokens"].as_u64() > Some(0));
    assert_eq!(
        whole["usage"]["total_tokens"].as_u64(),
        Some(
            whole["usage"]["prompt_tokens"].as_u64().unwrap_or(0)
                + whole["usage"]["completion_tokens"].as_u64().unwrap_or(0)
        )
    );

    // What Anthropic received: system on top, a clamped temperature, the
    // tool's schema, max_tokens from the target.
    let sent = fake.requests_to(Api::Anthropic);
    let first = sent[0].body.as_ref().expect("json");
    assert_eq!(sent[0].status, 200, "{:?}", sent[0].rejection);
    assert_eq!(first["system"], "You are terse.");
    assert_eq!(first["model"], "claude-haiku-4-5");
    assert_eq!(first["max_tokens"], 256);
    assert_eq!(first["temperature"], 1.0);
    assert_eq!(
        first["tools"][0]["input_schema"]["required"],
        json!(["city", "days"])
    );
    assert_eq!(first["tool_choice"], json!({"type": "auto"}));
    assert_eq!(sent[0].header("anthropic-version"), Some("2023-06-01"));

    // Streamed: the same answer, assembled from chunks, with usage at the end.
    let response = post(&url, &weather_request(true)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let (streamed, usage) = reassemble(&response.text().await.expect("sse"));
    assert_eq!(streamed["finish_reason"], "tool_calls");
    assert_eq!(streamed["content"], choice["message"]["content"]);
    let streamed_call = &streamed["tool_calls"][0];
    assert_eq!(streamed_call["function"]["name"], "get_weather");
    let streamed_args: Value = serde_json::from_str(
        streamed_call["function"]["arguments"]
            .as_str()
            .expect("string"),
    )
    .expect("arguments are whole JSON once reassembled");
    assert_eq!(streamed_args, args);
    let usage = usage.expect("include_usage gives a usage chunk");
    assert_eq!(usage["prompt_tokens"], whole["usage"]["prompt_tokens"]);

    // The tool's result goes back; Anthropic's pairing rules hold and the
    // final answer is text, whole and streamed alike.
    let mut follow_up = weather_request(false);
    let history = follow_up["messages"].as_array_mut().expect("messages");
    history.push(json!({"role": "assistant", "content": null, "tool_calls": [call]}));
    history.push(json!({"role": "tool", "tool_call_id": call["id"], "content": "18 C, sunny"}));
    let response = post(&url, &follow_up).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    let text = answer["choices"][0]["message"]["content"]
        .as_str()
        .expect("text")
        .to_owned();
    assert!(!text.is_empty());
    let last = fake.requests_to(Api::Anthropic).pop().expect("recorded");
    assert_eq!(last.status, 200, "{:?}", last.rejection);
    let messages = &last.body.as_ref().expect("json")["messages"];
    assert_eq!(messages[1]["content"][0]["type"], "tool_use");
    assert_eq!(messages[2]["role"], "user");
    assert_eq!(messages[2]["content"][0]["type"], "tool_result");
    assert_eq!(messages[2]["content"][0]["tool_use_id"], call["id"]);

    follow_up["stream"] = json!(true);
    let response = post(&url, &follow_up).await;
    let (streamed, usage) = reassemble(&response.text().await.expect("sse"));
    assert_eq!(streamed["content"], json!(text));
    assert_eq!(streamed["finish_reason"], "stop");
    assert!(usage.is_none(), "no usage chunk unless asked for");
}

/// What Anthropic cannot do stays local (here: no local endpoint, so the
/// router's own 503), and nothing malformed reaches the provider.
#[tokio::test]
async fn requests_anthropic_cannot_serve_do_not_spill_to_it() {
    let (fake, _router, url) = setup().await;
    for body in [
        json!({"model": NAME, "n": 2, "messages": [{"role": "user", "content": "hi"}]}),
        json!({"model": NAME, "logprobs": true, "messages": [{"role": "user", "content": "hi"}]}),
    ] {
        let response = post(&url, &body).await;
        assert_eq!(response.status(), 503);
        assert_eq!(
            response.headers()["x-switchyard-route-reason"],
            "not_spillable"
        );
    }
    let completions = client()
        .post(format!("{url}/v1/completions"))
        .json(&json!({"model": NAME, "prompt": "hi"}))
        .send()
        .await
        .expect("router answers");
    assert_eq!(
        completions.status(),
        503,
        "Anthropic has no completions API"
    );
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}
