//! The fake OpenAI API, driven with a plain HTTP client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    FULL_REPLY, KEY, client, json_of, openai_error as expect_error, parse_sse, post_bearer as post,
    start,
};
use serde_json::{Value, json};
use switchyard_fakes::Api;

fn chat_body() -> Value {
    json!({
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Say something nice."}
        ]
    })
}

fn weather_tools() -> Value {
    json!([{"type": "function", "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string"}, "days": {"type": "integer"}, "unit": {"type": "string"}
        }, "required": ["city", "days"]}
    }}])
}

#[tokio::test]
async fn chat_completion_has_openais_shape() {
    let fake = start().await;
    let (status, headers, body) =
        json_of(post(&fake.url(), "/v1/chat/completions", &chat_body()).await).await;
    assert_eq!(status, 200);
    assert!(headers.contains_key("x-request-id"));
    assert_eq!(body["object"], "chat.completion");
    assert!(body["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(body["model"], "gpt-4o-mini");
    let choice = &body["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], FULL_REPLY);
    assert_eq!(choice["finish_reason"], "stop");
    let usage = &body["usage"];
    assert_eq!(usage["prompt_tokens"], 9); // (14 + 19) chars / 4, rounded up
    assert_eq!(usage["completion_tokens"], 16);
    assert_eq!(usage["total_tokens"], 25);
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 0);
    assert_eq!(fake.ok_count(Api::OpenAi), 1);
}

#[tokio::test]
async fn max_tokens_and_stop_end_the_reply() {
    let fake = start().await;
    let mut body = chat_body();
    body["max_completion_tokens"] = json!(3);
    let (_, _, r) = json_of(post(&fake.url(), "/v1/chat/completions", &body).await).await;
    assert_eq!(r["choices"][0]["message"]["content"], "This is a");
    assert_eq!(r["choices"][0]["finish_reason"], "length");
    assert_eq!(r["usage"]["completion_tokens"], 3);

    let mut body = chat_body();
    body["stop"] = json!(["reply"]);
    let (_, _, r) = json_of(post(&fake.url(), "/v1/chat/completions", &body).await).await;
    assert_eq!(r["choices"][0]["message"]["content"], "This is a fake ");
    assert_eq!(r["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn streamed_chat_with_usage() {
    let fake = start().await;
    let mut body = chat_body();
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let resp = post(&fake.url(), "/v1/chat/completions", &body).await;
    assert_eq!(resp.status(), 200);
    let ctype = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ctype.starts_with("text/event-stream"), "{ctype}");
    let text = resp.text().await.unwrap();
    assert!(text.starts_with("data: {"));
    assert!(text.ends_with("data: [DONE]\n\n"));
    let events = parse_sse(&text);
    assert!(events.iter().all(|e| e.event.is_none()));
    let (done, chunks) = events.split_last().unwrap();
    assert_eq!(done.data, "[DONE]");
    let chunks: Vec<Value> = chunks.iter().map(|e| e.json()).collect();
    let (usage_chunk, chunks) = chunks.split_last().unwrap();
    assert_eq!(usage_chunk["choices"], json!([]));
    assert_eq!(usage_chunk["usage"]["completion_tokens"], 16);
    assert_eq!(usage_chunk["usage"]["prompt_tokens"], 9);
    let id = chunks[0]["id"].clone();
    for c in chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["id"], id);
        assert!(
            c.get("usage").is_some_and(Value::is_null),
            "usage must be null: {c}"
        );
    }
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let (last, content) = chunks.split_last().unwrap();
    assert_eq!(last["choices"][0]["finish_reason"], "stop");
    assert_eq!(last["choices"][0]["delta"], json!({}));
    let words: Vec<&str> = content[1..]
        .iter()
        .map(|c| {
            assert!(c["choices"][0]["finish_reason"].is_null());
            c["choices"][0]["delta"]["content"].as_str().unwrap()
        })
        .collect();
    assert_eq!(words.len(), 16, "one chunk per word");
    assert_eq!(words.concat(), FULL_REPLY);
}

#[tokio::test]
async fn streamed_chat_without_usage_has_no_usage_field() {
    let fake = start().await;
    let mut body = chat_body();
    body["stream"] = json!(true);
    let text = post(&fake.url(), "/v1/chat/completions", &body)
        .await
        .text()
        .await
        .unwrap();
    let events = parse_sse(&text);
    for e in &events[..events.len() - 1] {
        let c = e.json();
        assert!(c.get("usage").is_none(), "{c}");
        assert_eq!(c["choices"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn tool_calls_whole_and_streamed() {
    let fake = start().await;
    let mut body = chat_body();
    body["tools"] = weather_tools();
    let (_, _, r) = json_of(post(&fake.url(), "/v1/chat/completions", &body).await).await;
    let choice = &r["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert!(choice["message"]["content"].is_null());
    let call = &choice["message"]["tool_calls"][0];
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    let args: Value =
        serde_json::from_str(call["function"]["arguments"].as_str().unwrap()).unwrap();
    assert_eq!(args, json!({"city": "x", "days": 1}));

    body["stream"] = json!(true);
    let text = post(&fake.url(), "/v1/chat/completions", &body)
        .await
        .text()
        .await
        .unwrap();
    let events = parse_sse(&text);
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| e.json())
        .collect();
    let first = &chunks[0]["choices"][0]["delta"];
    assert_eq!(first["role"], "assistant");
    assert_eq!(first["tool_calls"][0]["index"], 0);
    assert_eq!(first["tool_calls"][0]["function"]["name"], "get_weather");
    assert_eq!(first["tool_calls"][0]["function"]["arguments"], "");
    let pieces: Vec<&str> = chunks[1..chunks.len() - 1]
        .iter()
        .map(|c| {
            c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert!(pieces.len() > 1, "arguments come in several pieces");
    let args: Value = serde_json::from_str(&pieces.concat()).unwrap();
    assert_eq!(args, json!({"city": "x", "days": 1}));
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[tokio::test]
async fn tool_results_are_answered_with_text() {
    let fake = start().await;
    let body = json!({
        "model": "gpt-4o-mini",
        "tools": weather_tools(),
        "messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
        ]
    });
    let (status, _, r) = json_of(post(&fake.url(), "/v1/chat/completions", &body).await).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["choices"][0]["message"]["content"], FULL_REPLY);
    assert_eq!(r["choices"][0]["finish_reason"], "stop");
}

#[tokio::test]
async fn bad_or_missing_key_is_refused() {
    let fake = start().await;
    let resp = client()
        .post(format!("{}/v1/chat/completions", fake.url()))
        .bearer_auth("sk-wrong-key-123456")
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    let (status, _, body) = json_of(resp).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["param"].is_null());

    let resp = client()
        .post(format!("{}/v1/chat/completions", fake.url()))
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    let (status, _, body) = json_of(resp).await;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("didn't provide an API key")
    );
    let rec = fake.requests();
    assert_eq!(rec.len(), 2);
    assert_eq!(rec[0].status, 401);
    assert!(
        rec[0]
            .rejection
            .as_deref()
            .unwrap()
            .contains("Incorrect API key")
    );
}

#[tokio::test]
async fn invalid_chat_requests_are_refused() {
    let fake = start().await;
    let url = fake.url();
    let path = "/v1/chat/completions";

    let mut b = chat_body();
    b["stream_options"] = json!({"include_usage": true});
    let e = expect_error(&url, path, &b, 400).await;
    assert_eq!(e["param"], "stream_options");

    let mut b = chat_body();
    b["max_tokens"] = json!(0);
    let e = expect_error(&url, path, &b, 400).await;
    assert_eq!(e["code"], "integer_below_min_value");

    let mut b = chat_body();
    b["messages"][1]["role"] = json!("bot");
    let e = expect_error(&url, path, &b, 400).await;
    assert_eq!(e["code"], "invalid_value");
    assert_eq!(e["param"], "messages[1].role");

    let mut b = chat_body();
    b["messages"] = json!([]);
    let e = expect_error(&url, path, &b, 400).await;
    assert_eq!(e["code"], "empty_array");

    let mut b = chat_body();
    b["top_k"] = json!(3);
    let e = expect_error(&url, path, &b, 400).await;
    assert_eq!(
        e["message"],
        "Unrecognized request argument supplied: top_k"
    );

    let mut b = chat_body();
    b.as_object_mut().unwrap().remove("model");
    let e = expect_error(&url, path, &b, 400).await;
    assert_eq!(e["message"], "you must provide a model parameter");

    let mut b = chat_body();
    b["stream"] = json!("yes");
    let e = expect_error(&url, path, &b, 400).await;
    assert_eq!(e["code"], "invalid_type");

    // A tool message that answers nothing.
    let b = json!({"model": "m", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "tool", "tool_call_id": "call_x", "content": "r"}
    ]});
    let e = expect_error(&url, path, &b, 400).await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("must be a response to a preceeding message with 'tool_calls'")
    );

    // A tool message whose id matches no call.
    let b = json!({"model": "m", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_2", "content": "r"}
    ]});
    let e = expect_error(&url, path, &b, 400).await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("'call_2' not found")
    );

    // A tool call left unanswered.
    let b = json!({"model": "m", "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "user", "content": "well?"}
    ]});
    let e = expect_error(&url, path, &b, 400).await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("did not have response messages: call_1")
    );

    let resp = client()
        .post(format!("{url}{path}"))
        .bearer_auth(KEY)
        .body("{not json")
        .send()
        .await
        .unwrap();
    let (status, _, body) = json_of(resp).await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("We could not parse the JSON body")
    );
    assert_eq!(fake.ok_count(Api::OpenAi), 0);
}

#[tokio::test]
async fn forced_tool_choice_and_several_choices() {
    let fake = start().await;
    let mut body = chat_body();
    body["tools"] = weather_tools();
    body["tool_choice"] = json!({"type": "function", "function": {"name": "get_weather"}});
    let (_, _, r) = json_of(post(&fake.url(), "/v1/chat/completions", &body).await).await;
    // OpenAI reports "stop" when tool_choice names the function.
    assert_eq!(r["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        r["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );

    body["tool_choice"] = json!("none");
    body["n"] = json!(2);
    let (_, _, r) = json_of(post(&fake.url(), "/v1/chat/completions", &body).await).await;
    let choices = r["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 2);
    assert_eq!(choices[1]["index"], 1);
    assert_eq!(choices[1]["message"]["content"], FULL_REPLY);
    assert_eq!(r["usage"]["completion_tokens"], 32);

    body["tool_choice"] = json!({"type": "function", "function": {"name": "nope"}});
    let e = expect_error(&fake.url(), "/v1/chat/completions", &body, 400).await;
    assert_eq!(e["param"], "tool_choice");
}
