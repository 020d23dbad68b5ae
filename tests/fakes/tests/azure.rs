//! The fake Azure OpenAI resource, driven with a plain HTTP client.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{KEY, client, json_of, parse_sse, start, start_with};
use serde_json::{Value, json};
use switchyard_fakes::{Api, FakeConfig};

const VERSION: &str = "2024-10-21";

fn chat_body() -> Value {
    json!({"messages": [{"role": "user", "content": "Hello there"}]})
}

async fn post(
    url: &str,
    path_and_query: &str,
    key: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut req = client().post(format!("{url}{path_and_query}")).json(body);
    if let Some(k) = key {
        req = req.header("api-key", k);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn chat_answers_with_the_deployment_as_model() {
    let fake = start().await;
    let path = format!("/openai/deployments/my-gpt/chat/completions?api-version={VERSION}");
    let (status, headers, r) =
        json_of(post(&fake.url(), &path, Some(KEY), &chat_body()).await).await;
    assert_eq!(status, 200, "{r}");
    assert!(headers.contains_key("apim-request-id"));
    assert_eq!(r["object"], "chat.completion");
    assert_eq!(r["model"], "my-gpt");
    assert_eq!(r["choices"][0]["finish_reason"], "stop");
    assert_eq!(
        r["choices"][0]["content_filter_results"]["hate"]["filtered"],
        false
    );
    assert_eq!(r["prompt_filter_results"][0]["prompt_index"], 0);
    assert_eq!(r["usage"]["prompt_tokens"], 3);
    let rec = fake.requests_to(Api::Azure);
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].query.as_deref(), Some("api-version=2024-10-21"));
    assert_eq!(rec[0].header("api-key"), Some(KEY));
    assert_eq!(fake.ok_count(Api::Azure), 1);
    assert_eq!(fake.ok_count(Api::OpenAi), 0);
}

#[tokio::test]
async fn streams_start_with_the_prompt_filter_chunk() {
    let fake = start().await;
    let path = format!("/openai/deployments/d1/chat/completions?api-version={VERSION}");
    let mut body = chat_body();
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let text = post(&fake.url(), &path, Some(KEY), &body)
        .await
        .text()
        .await
        .unwrap();
    let events = parse_sse(&text);
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let first = events[0].json();
    assert_eq!(first["choices"], json!([]));
    assert!(first["prompt_filter_results"].is_array());
    let second = events[1].json();
    assert_eq!(second["model"], "d1");
    assert_eq!(second["choices"][0]["delta"]["role"], "assistant");
    let usage = events[events.len() - 2].json();
    assert_eq!(usage["usage"]["completion_tokens"], 16);
}

#[tokio::test]
async fn missing_or_bad_api_version() {
    let fake = start().await;
    let (status, _, r) = json_of(
        post(
            &fake.url(),
            "/openai/deployments/d/chat/completions",
            Some(KEY),
            &chat_body(),
        )
        .await,
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        r,
        json!({"error": {"code": "404", "message": "Resource not found"}})
    );

    let path = "/openai/deployments/d/chat/completions?api-version=latest";
    let (status, _, r) = json_of(post(&fake.url(), path, Some(KEY), &chat_body()).await).await;
    assert_eq!(status, 400);
    assert_eq!(r["error"]["code"], "BadRequest");
}

#[tokio::test]
async fn key_is_the_api_key_header() {
    let fake = start().await;
    let path = format!("/openai/deployments/d/chat/completions?api-version={VERSION}");
    let (status, _, r) = json_of(post(&fake.url(), &path, Some("nope"), &chat_body()).await).await;
    assert_eq!(status, 401);
    assert_eq!(r["error"]["code"], "401");
    let resp = client()
        .post(format!("{}{path}", fake.url()))
        .bearer_auth(KEY)
        .json(&chat_body())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401, "a Bearer token is not the api-key");
}

#[tokio::test]
async fn unknown_deployment_is_not_found() {
    let fake = start_with(FakeConfig {
        api_key: KEY.into(),
        azure_deployments: vec!["gpt-4o".into()],
        ..Default::default()
    })
    .await;
    let path = format!("/openai/deployments/gpt-5/chat/completions?api-version={VERSION}");
    let (status, _, r) = json_of(post(&fake.url(), &path, Some(KEY), &chat_body()).await).await;
    assert_eq!(status, 404);
    assert_eq!(r["error"]["code"], "DeploymentNotFound");
    let path = format!("/openai/deployments/gpt-4o/chat/completions?api-version={VERSION}");
    assert_eq!(
        post(&fake.url(), &path, Some(KEY), &chat_body())
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn bodies_are_validated_like_openai() {
    let fake = start().await;
    let path = format!("/openai/deployments/d/chat/completions?api-version={VERSION}");
    let body = json!({"messages": [{"role": "user", "content": "x"}], "max_tokens": -1});
    let (status, _, r) = json_of(post(&fake.url(), &path, Some(KEY), &body).await).await;
    assert_eq!(status, 400);
    assert_eq!(r["error"]["code"], "integer_below_min_value");
}

#[tokio::test]
async fn embeddings_and_completions() {
    let fake = start().await;
    let path = format!("/openai/deployments/emb/embeddings?api-version={VERSION}");
    let (status, _, r) =
        json_of(post(&fake.url(), &path, Some(KEY), &json!({"input": "abc"})).await).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["model"], "emb");
    assert_eq!(r["data"][0]["embedding"].as_array().unwrap().len(), 1536);

    let path = format!("/openai/deployments/inst/completions?api-version={VERSION}");
    let (status, _, r) = json_of(
        post(
            &fake.url(),
            &path,
            Some(KEY),
            &json!({"prompt": "abc", "max_tokens": 2}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["choices"][0]["text"], "This is");
}
