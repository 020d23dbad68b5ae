//! The fake Anthropic Messages API, driven with a plain HTTP client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{FULL_REPLY, KEY, client, json_of, parse_sse, start};
use serde_json::{Value, json};
use switchyard_fakes::Api;

fn body() -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hello, Claude"}]
    })
}

fn weather_tool() -> Value {
    json!([{
        "name": "get_weather",
        "description": "Weather for a city",
        "input_schema": {"type": "object", "properties": {
            "location": {"type": "string"}, "metric": {"type": "boolean"}
        }, "required": ["location", "metric"]}
    }])
}

async fn send(url: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{url}/v1/messages"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Sends `body`, expects a 400 `invalid_request_error`; returns its message.
async fn refused(url: &str, body: &Value) -> String {
    let (status, headers, r) = json_of(send(url, body).await).await;
    assert_eq!(status, 400, "{r}");
    assert!(headers.contains_key("request-id"));
    assert_eq!(r["type"], "error");
    assert_eq!(r["error"]["type"], "invalid_request_error");
    assert!(r["request_id"].is_string());
    r["error"]["message"].as_str().unwrap().to_owned()
}

fn names(events: &[common::Event]) -> Vec<&str> {
    events.iter().map(|e| e.event.as_deref().unwrap()).collect()
}

#[tokio::test]
async fn message_has_anthropics_shape() {
    let fake = start().await;
    let (status, headers, r) = json_of(send(&fake.url(), &body()).await).await;
    assert_eq!(status, 200, "{r}");
    assert!(headers["request-id"].to_str().unwrap().starts_with("req_"));
    assert!(r["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(r["type"], "message");
    assert_eq!(r["role"], "assistant");
    assert_eq!(r["model"], "claude-sonnet-4-5");
    assert_eq!(r["content"], json!([{"type": "text", "text": FULL_REPLY}]));
    assert_eq!(r["stop_reason"], "end_turn");
    assert!(r["stop_sequence"].is_null());
    assert_eq!(
        r["usage"],
        json!({"input_tokens": 6, "output_tokens": 16, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0})
    );
    let rec = &fake.requests()[0];
    assert_eq!(rec.api, Api::Anthropic);
    assert_eq!(rec.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(rec.body.as_ref().unwrap()["max_tokens"], 1024);
}

#[tokio::test]
async fn stop_reasons() {
    let fake = start().await;
    let mut b = body();
    b["max_tokens"] = json!(2);
    let (_, _, r) = json_of(send(&fake.url(), &b).await).await;
    assert_eq!(r["content"][0]["text"], "This is");
    assert_eq!(r["stop_reason"], "max_tokens");
    let mut b = body();
    b["stop_sequences"] = json!(["Switchyard"]);
    let (_, _, r) = json_of(send(&fake.url(), &b).await).await;
    assert_eq!(r["stop_reason"], "stop_sequence");
    assert_eq!(r["stop_sequence"], "Switchyard");
    assert_eq!(r["content"][0]["text"], "This is a fake reply from the ");
}

#[tokio::test]
async fn stream_events_come_in_the_real_order() {
    let fake = start().await;
    let mut b = body();
    b["stream"] = json!(true);
    let resp = send(&fake.url(), &b).await;
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = parse_sse(&resp.text().await.unwrap());
    let mut expected = vec!["message_start", "content_block_start", "ping"];
    expected.extend(std::iter::repeat_n("content_block_delta", 16));
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names(&events), expected);
    for e in &events {
        assert_eq!(
            e.json()["type"],
            e.event.as_deref().unwrap(),
            "event name matches data.type"
        );
    }
    let start = events[0].json();
    assert_eq!(start["message"]["content"], json!([]));
    assert!(start["message"]["stop_reason"].is_null());
    assert_eq!(start["message"]["usage"]["input_tokens"], 6);
    assert_eq!(start["message"]["usage"]["output_tokens"], 1);
    assert_eq!(
        events[1].json()["content_block"],
        json!({"type": "text", "text": ""})
    );
    let text: String = events[3..19]
        .iter()
        .map(|e| {
            let d = e.json();
            assert_eq!(d["index"], 0);
            assert_eq!(d["delta"]["type"], "text_delta");
            d["delta"]["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(text, FULL_REPLY);
    let delta = events[20].json();
    assert_eq!(
        delta["delta"],
        json!({"stop_reason": "end_turn", "stop_sequence": null})
    );
    assert_eq!(delta["usage"]["output_tokens"], 16);
}

#[tokio::test]
async fn tool_use_whole_and_streamed() {
    let fake = start().await;
    let mut b = body();
    b["tools"] = weather_tool();
    let (status, _, r) = json_of(send(&fake.url(), &b).await).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["stop_reason"], "tool_use");
    assert_eq!(
        r["content"][0],
        json!({"type": "text", "text": "Calling the tool."})
    );
    let tool = &r["content"][1];
    assert_eq!(tool["type"], "tool_use");
    assert!(tool["id"].as_str().unwrap().starts_with("toolu_"));
    assert_eq!(tool["name"], "get_weather");
    assert_eq!(tool["input"], json!({"location": "x", "metric": true}));

    b["stream"] = json!(true);
    let events = parse_sse(&send(&fake.url(), &b).await.text().await.unwrap());
    let n = names(&events);
    let tool_start = n.iter().rposition(|e| *e == "content_block_start").unwrap();
    let start = events[tool_start].json();
    assert_eq!(start["index"], 1);
    assert_eq!(start["content_block"]["type"], "tool_use");
    assert_eq!(start["content_block"]["input"], json!({}));
    let json_text: String = events[tool_start + 1..]
        .iter()
        .take_while(|e| e.event.as_deref() == Some("content_block_delta"))
        .map(|e| {
            let d = e.json();
            assert_eq!(d["delta"]["type"], "input_json_delta");
            d["delta"]["partial_json"].as_str().unwrap().to_owned()
        })
        .collect();
    let input: Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(input, json!({"location": "x", "metric": true}));
    assert_eq!(n[n.len() - 2..], ["message_delta", "message_stop"]);
    assert_eq!(
        events[events.len() - 2].json()["delta"]["stop_reason"],
        "tool_use"
    );
    assert_eq!(n.iter().filter(|e| **e == "ping").count(), 1);
}

#[tokio::test]
async fn tool_results_are_answered_with_text() {
    let fake = start().await;
    let mut b = body();
    b["tools"] = weather_tool();
    b["messages"] = json!([
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Calling the tool."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "Paris", "metric": true}}
        ]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}]}
    ]);
    let (status, _, r) = json_of(send(&fake.url(), &b).await).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["stop_reason"], "end_turn");
    assert_eq!(r["content"][0]["text"], FULL_REPLY);
}

#[tokio::test]
async fn thinking_comes_first() {
    let fake = start().await;
    let mut b = body();
    b["max_tokens"] = json!(4096);
    b["thinking"] = json!({"type": "enabled", "budget_tokens": 1024});
    let (status, _, r) = json_of(send(&fake.url(), &b).await).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["content"][0]["type"], "thinking");
    assert_eq!(r["content"][1]["type"], "text");
    b["thinking"]["budget_tokens"] = json!(8192);
    assert!(
        refused(&fake.url(), &b)
            .await
            .contains("must be greater than `thinking.budget_tokens`")
    );
}

#[tokio::test]
async fn bad_headers_are_refused() {
    let fake = start().await;
    let url = format!("{}/v1/messages", fake.url());
    let resp = client()
        .post(&url)
        .header("x-api-key", "wrong")
        .header("anthropic-version", "2023-06-01")
        .json(&body())
        .send()
        .await
        .unwrap();
    let (status, headers, r) = json_of(resp).await;
    assert_eq!(status, 401);
    assert!(headers.contains_key("request-id"));
    assert_eq!(r["type"], "error");
    assert_eq!(
        r["error"],
        json!({"type": "authentication_error", "message": "invalid x-api-key"})
    );

    let resp = client()
        .post(&url)
        .header("x-api-key", KEY)
        .json(&body())
        .send()
        .await
        .unwrap();
    let (status, _, r) = json_of(resp).await;
    assert_eq!(status, 400);
    assert_eq!(r["error"]["type"], "invalid_request_error");
    assert_eq!(
        r["error"]["message"],
        "anthropic-version: header is required"
    );

    let resp = client()
        .post(&url)
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .body(body().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        400,
        "content-type: application/json is required"
    );
    assert_eq!(fake.ok_count(Api::Anthropic), 0);
}

#[tokio::test]
async fn invalid_bodies_are_refused() {
    let fake = start().await;
    let url = fake.url();

    let mut b = body();
    b["messages"] = json!([{"role": "system", "content": "x"}, {"role": "user", "content": "hi"}]);
    assert!(
        refused(&url, &b)
            .await
            .starts_with("messages: Unexpected role \"system\"")
    );

    let mut b = body();
    b["messages"] = json!([{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "r"}]}]);
    let m = refused(&url, &b).await;
    assert!(
        m.contains("unexpected `tool_use_id` found in `tool_result` blocks: toolu_9"),
        "{m}"
    );

    let mut b = body();
    b["temperature"] = json!(1.5);
    assert_eq!(
        refused(&url, &b).await,
        "temperature: Input should be less than or equal to 1"
    );

    let mut b = body();
    b["frequency_penalty"] = json!(0.5);
    assert_eq!(
        refused(&url, &b).await,
        "frequency_penalty: Extra inputs are not permitted"
    );

    let mut b = body();
    b.as_object_mut().unwrap().remove("max_tokens");
    assert_eq!(refused(&url, &b).await, "max_tokens: Field required");

    let mut b = body();
    b["max_tokens"] = json!(0);
    assert_eq!(
        refused(&url, &b).await,
        "max_tokens: Input should be greater than or equal to 1"
    );

    let mut b = body();
    b["messages"] = json!([]);
    assert_eq!(
        refused(&url, &b).await,
        "messages: at least one message is required"
    );

    let mut b = body();
    b["messages"] =
        json!([{"role": "user", "content": [{"type": "text", "text": "hi", "extra": 1}]}]);
    assert_eq!(
        refused(&url, &b).await,
        "messages.0.content.0.text.extra: Extra inputs are not permitted"
    );

    let mut b = body();
    b["messages"] = json!([{"role": "user", "content": [{"type": "video"}]}]);
    assert!(refused(&url, &b).await.contains("Input tag 'video'"));

    let mut b = body();
    b["messages"] = json!([
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]},
        {"role": "user", "content": "and?"}
    ]);
    assert!(
        refused(&url, &b)
            .await
            .contains("`tool_use` ids were found without `tool_result` blocks")
    );

    let mut b = body();
    b["tool_choice"] = json!({"type": "auto"});
    b["tools"] = json!([{"name": "f", "input_schema": {"type": "string"}}]);
    assert_eq!(
        refused(&url, &b).await,
        "tools.0.custom.input_schema.type: Input should be 'object'"
    );

    let rec = fake.requests();
    assert!(rec.iter().all(|r| r.status == 400 && r.rejection.is_some()));
}

#[tokio::test]
async fn models_list_in_anthropics_shape() {
    let fake = start().await;
    let resp = client()
        .get(format!("{}/v1/models", fake.url()))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .send()
        .await
        .unwrap();
    let (status, _, r) = json_of(resp).await;
    assert_eq!(status, 200);
    assert_eq!(r["data"][0]["type"], "model");
    assert_eq!(r["has_more"], false);
}
