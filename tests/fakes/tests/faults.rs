//! Scripted faults, timing, recording and shutdown of the fake providers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{KEY, client, json_of, parse_sse, start};
use serde_json::{Value, json};
use switchyard_fakes::{Api, Fault};

fn openai_chat(url: &str) -> reqwest::RequestBuilder {
    client()
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&json!({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}))
}

fn azure_chat(url: &str) -> reqwest::RequestBuilder {
    client()
        .post(format!(
            "{url}/openai/deployments/d/chat/completions?api-version=2024-10-21"
        ))
        .header("api-key", KEY)
        .json(&json!({"messages": [{"role": "user", "content": "hi"}]}))
}

fn anthropic_message(url: &str) -> reqwest::RequestBuilder {
    client()
        .post(format!("{url}/v1/messages"))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "claude-haiku-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}))
}

async fn retry_after(resp: reqwest::Response) -> (u16, Option<String>, Value) {
    let ra = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, _, body) = json_of(resp).await;
    (status, ra, body)
}

#[tokio::test]
async fn rate_limits_then_recovery_on_every_api() {
    let fake = start().await;
    let url = fake.url();

    fake.fail_next(
        2,
        Fault::RateLimited {
            retry_after_secs: 7,
        },
    );
    for _ in 0..2 {
        let (status, ra, body) = retry_after(openai_chat(&url).send().await.unwrap()).await;
        assert_eq!((status, ra.as_deref()), (429, Some("7")));
        assert_eq!(body["error"]["code"], "rate_limit_exceeded");
        assert_eq!(body["error"]["type"], "requests");
    }
    assert_eq!(openai_chat(&url).send().await.unwrap().status(), 200);

    fake.fail_next(
        1,
        Fault::RateLimited {
            retry_after_secs: 3,
        },
    );
    let resp = azure_chat(&url).send().await.unwrap();
    assert_eq!(resp.headers()["retry-after-ms"], "3000");
    let (status, ra, body) = retry_after(resp).await;
    assert_eq!((status, ra.as_deref()), (429, Some("3")));
    assert_eq!(body["error"]["code"], "429");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ChatCompletions_Create")
    );
    assert_eq!(azure_chat(&url).send().await.unwrap().status(), 200);

    fake.fail_next(
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let resp = anthropic_message(&url).send().await.unwrap();
    assert!(resp.headers().contains_key("request-id"));
    let (status, ra, body) = retry_after(resp).await;
    assert_eq!((status, ra.as_deref()), (429, Some("1")));
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "rate_limit_error");
    assert_eq!(anthropic_message(&url).send().await.unwrap().status(), 200);

    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 429, 200, 429, 200, 429, 200]);
    let rec = fake.requests();
    assert!(rec[0].rejection.as_deref().unwrap().contains("RateLimited"));
    assert!(rec[2].rejection.is_none());
    assert_eq!(
        (
            fake.ok_count(Api::OpenAi),
            fake.ok_count(Api::Azure),
            fake.ok_count(Api::Anthropic)
        ),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn status_faults_use_each_providers_error_body() {
    let fake = start().await;
    let url = fake.url();
    fake.fail_next(1, Fault::Status(500));
    let (status, _, body) = json_of(openai_chat(&url).send().await.unwrap()).await;
    assert_eq!(status, 500);
    assert_eq!(body["error"]["type"], "server_error");

    fake.fail_next(1, Fault::Overloaded);
    let (status, _, body) = json_of(anthropic_message(&url).send().await.unwrap()).await;
    assert_eq!(status, 529);
    assert_eq!(
        body["error"],
        json!({"type": "overloaded_error", "message": "Overloaded"})
    );

    fake.fail_next(1, Fault::Status(503));
    let (status, _, body) = json_of(azure_chat(&url).send().await.unwrap()).await;
    assert_eq!(status, 503);
    assert!(body["error"]["message"].is_string());

    // Auth comes before faults: a bad key does not use up the fault.
    fake.fail_next(1, Fault::Status(500));
    let resp = client()
        .post(format!("{url}/v1/chat/completions"))
        .bearer_auth("bad")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(openai_chat(&url).send().await.unwrap().status(), 500);
    assert_eq!(openai_chat(&url).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn timing_applies_to_whole_and_streamed_replies() {
    let fake = start().await;
    fake.set_timing(Duration::from_millis(150), Duration::from_millis(10));
    let t = Instant::now();
    assert_eq!(openai_chat(&fake.url()).send().await.unwrap().status(), 200);
    // ttft + 15 intervals for 16 tokens.
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );

    fake.set_timing(Duration::from_millis(400), Duration::ZERO);
    let t = Instant::now();
    let mut resp = client()
        .post(format!("{}/v1/messages", fake.url()))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": "m", "max_tokens": 4, "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(350),
        "headers come before the first token"
    );
    let mut text = String::new();
    while let Some(chunk) = resp.chunk().await.unwrap() {
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(t.elapsed() >= Duration::from_millis(400));
    assert_eq!(
        parse_sse(&text).last().unwrap().event.as_deref(),
        Some("message_stop")
    );
}

#[tokio::test]
async fn records_can_be_cleared_and_the_server_stops() {
    let fake = start().await;
    let url = fake.url();
    assert_eq!(openai_chat(&url).send().await.unwrap().status(), 200);
    let rec = fake.requests();
    assert_eq!(rec.len(), 1);
    assert_eq!(rec[0].method, "POST");
    assert_eq!(rec[0].path, "/v1/chat/completions");
    assert_eq!(
        rec[0].header("Authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(rec[0].body.as_ref().unwrap()["model"], "gpt-4o-mini");
    assert_eq!(rec[0].status, 200);
    fake.clear_requests();
    assert!(fake.requests().is_empty());
    assert_eq!(fake.ok_count(Api::OpenAi), 1);

    fake.stop().await;
    assert!(
        openai_chat(&url).send().await.is_err(),
        "nothing listens after stop"
    );
}
