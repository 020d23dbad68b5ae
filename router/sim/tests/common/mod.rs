//! Helpers shared by the HTTP tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use switchyard_sim::{SimConfig, SimStats, Simulator};

pub fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

pub async fn start(cfg: SimConfig) -> Simulator {
    Simulator::start(cfg, any_port()).await.unwrap()
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .unwrap()
}

pub async fn post(sim: &Simulator, path: &str, body: Value) -> reqwest::Response {
    client()
        .post(format!("{}{path}", sim.base_url()))
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub fn chat(content: &str, max_tokens: u32) -> Value {
    serde_json::json!({
        "model": "sim-model",
        "messages": [{"role": "user", "content": content}],
        "max_tokens": max_tokens,
    })
}

/// Reads an SSE body to its end: the `data:` payloads in order.
pub async fn sse_events(resp: reqwest::Response) -> Vec<String> {
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        body.extend_from_slice(&chunk.unwrap());
    }
    parse_sse(&String::from_utf8(body).unwrap())
}

pub fn parse_sse(text: &str) -> Vec<String> {
    assert!(text.ends_with("\n\n"), "unterminated SSE: {text:?}");
    text.split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| e.strip_prefix("data: ").unwrap().to_owned())
        .collect()
}

/// Polls the stats until `pred` holds (or fails after 5 s).
pub async fn wait_for(sim: &Simulator, what: &str, pred: impl Fn(&SimStats) -> bool) -> SimStats {
    for _ in 0..500 {
        let s = sim.stats();
        if pred(&s) {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for {what}: {:?}", sim.stats());
}
