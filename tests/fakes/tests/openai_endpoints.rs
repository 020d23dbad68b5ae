//! The fake OpenAI API's legacy completions, embeddings and models list,
//! driven with a plain HTTP client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{
    FULL_REPLY, KEY, client, json_of, openai_error as expect_error, parse_sse, post_bearer as post,
    start,
};
use serde_json::json;

#[tokio::test]
async fn legacy_completions_whole_and_streamed() {
    let fake = start().await;
    let body = json!({"model": "gpt-3.5-turbo-instruct", "prompt": "Once upon", "max_tokens": 4});
    let (status, _, r) = json_of(post(&fake.url(), "/v1/completions", &body).await).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["object"], "text_completion");
    assert_eq!(r["choices"][0]["text"], "This is a fake");
    assert_eq!(r["choices"][0]["finish_reason"], "length");
    assert_eq!(r["usage"]["prompt_tokens"], 3);
    assert_eq!(r["usage"]["completion_tokens"], 4);

    let body = json!({"model": "m", "prompt": ["a", "b"], "stream": true, "stream_options": {"include_usage": true}});
    let text = post(&fake.url(), "/v1/completions", &body)
        .await
        .text()
        .await
        .unwrap();
    let events = parse_sse(&text);
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let usage = events[events.len() - 2].json();
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"]["completion_tokens"], 32);
    let mut texts = [String::new(), String::new()];
    for e in &events[..events.len() - 2] {
        let c = e.json();
        assert_eq!(c["object"], "text_completion");
        let choice = &c["choices"][0];
        texts[choice["index"].as_u64().unwrap() as usize] += choice["text"].as_str().unwrap();
    }
    assert_eq!(texts, [FULL_REPLY, FULL_REPLY]);
    expect_error(&fake.url(), "/v1/completions", &json!({"model": "m"}), 400).await;
}

#[tokio::test]
async fn embeddings_are_deterministic() {
    let fake = start().await;
    let body = json!({"model": "text-embedding-3-small", "input": ["hello world", "bye"], "dimensions": 8});
    let (status, _, r) = json_of(post(&fake.url(), "/v1/embeddings", &body).await).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["object"], "list");
    assert_eq!(r["data"].as_array().unwrap().len(), 2);
    assert_eq!(r["data"][1]["index"], 1);
    assert_eq!(r["data"][0]["object"], "embedding");
    assert_eq!(r["data"][0]["embedding"].as_array().unwrap().len(), 8);
    assert_eq!(r["usage"], json!({"prompt_tokens": 4, "total_tokens": 4}));
    let (_, _, again) = json_of(post(&fake.url(), "/v1/embeddings", &body).await).await;
    assert_eq!(r["data"], again["data"]);
    assert_ne!(r["data"][0]["embedding"], r["data"][1]["embedding"]);

    let body =
        json!({"model": "text-embedding-3-small", "input": "hi", "encoding_format": "base64"});
    let (_, _, r) = json_of(post(&fake.url(), "/v1/embeddings", &body).await).await;
    // 1536 little-endian f32s in base64.
    assert_eq!(r["data"][0]["embedding"].as_str().unwrap().len(), 8192);
    let e = expect_error(
        &fake.url(),
        "/v1/embeddings",
        &json!({"model": "m", "input": ""}),
        400,
    )
    .await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("'$.input' is invalid")
    );
}

#[tokio::test]
async fn models_and_unknown_paths() {
    let fake = common::start_with(switchyard_fakes::FakeConfig {
        api_key: KEY.into(),
        models: vec!["gpt-4o-mini".into()],
        ..Default::default()
    })
    .await;
    let resp = client()
        .get(format!("{}/v1/models", fake.url()))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    let (status, _, r) = json_of(resp).await;
    assert_eq!(status, 200);
    assert_eq!(r["object"], "list");
    assert_eq!(r["data"][0]["id"], "gpt-4o-mini");
    assert_eq!(r["data"][0]["object"], "model");

    let b = json!({"model": "gpt-nope", "messages": [{"role": "user", "content": "hi"}]});
    let e = expect_error(&fake.url(), "/v1/chat/completions", &b, 404).await;
    assert_eq!(e["code"], "model_not_found");
    let e = expect_error(&fake.url(), "/v1/nothing", &b, 404).await;
    assert!(e["message"].as_str().unwrap().starts_with("Invalid URL"));
}
