//! Helpers shared by the fake providers' tests: starting a fake, a plain
//! HTTP client, and a server-sent-events parser.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use switchyard_fakes::{FakeConfig, FakeProvider};

pub const KEY: &str = "sk-test-fake-key-0123";

/// The whole reply of a fake with the default 16 words.
pub const FULL_REPLY: &str =
    "This is a fake reply from the Switchyard test provider and it repeats these words in";

pub async fn start() -> FakeProvider {
    start_with(FakeConfig {
        api_key: KEY.to_owned(),
        ..FakeConfig::default()
    })
    .await
}

pub async fn start_with(config: FakeConfig) -> FakeProvider {
    FakeProvider::start(config)
        .await
        .expect("fake provider starts")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::new()
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct Event {
    pub event: Option<String>,
    pub data: String,
}

impl Event {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("bad event data {:?}: {e}", self.data))
    }
}

/// Parses an SSE body, checking that every event is `\n\n`-terminated.
pub fn parse_sse(text: &str) -> Vec<Event> {
    assert!(
        text.ends_with("\n\n"),
        "stream must end with a blank line: {text:?}"
    );
    text.split_terminator("\n\n")
        .map(|block| {
            let mut event = None;
            let mut data = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    event = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data.push(v);
                } else {
                    panic!("unexpected SSE line {line:?}");
                }
            }
            Event {
                event,
                data: data.join("\n"),
            }
        })
        .collect()
}

/// Status, headers and JSON body of a response.
pub async fn json_of(resp: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, headers, body)
}

/// POSTs `body` as JSON with `Authorization: Bearer KEY`.
pub async fn post_bearer(url: &str, path: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{url}{path}"))
        .bearer_auth(KEY)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// POSTs `body`, expects `status` with OpenAI's error shape; returns `error`.
pub async fn openai_error(url: &str, path: &str, body: &Value, status: u16) -> Value {
    let (got, _, body) = json_of(post_bearer(url, path, body).await).await;
    assert_eq!(got, status, "{body}");
    let error = &body["error"];
    for key in ["message", "type", "param", "code"] {
        assert!(error.get(key).is_some(), "error lacks {key}: {body}");
    }
    error.clone()
}
