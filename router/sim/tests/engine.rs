//! Scheduling, timing, streaming and cancellation over real HTTP.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use serde_json::json;
use switchyard_sim::SimConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn slow(decode_ms: u64) -> SimConfig {
    SimConfig {
        decode_per_token: Duration::from_millis(decode_ms),
        prefill_per_token: Duration::ZERO,
        batch_slowdown: 0.0,
        ..SimConfig::default()
    }
}

fn stream_body(content: &str, max_tokens: u32) -> serde_json::Value {
    let mut body = chat(content, max_tokens);
    body["stream"] = json!(true);
    body["ignore_eos"] = json!(true);
    body
}

#[tokio::test]
async fn requests_beyond_max_num_seqs_wait() {
    let sim = start(SimConfig {
        max_num_seqs: 2,
        ..slow(20)
    })
    .await;
    let url = format!("{}/v1/chat/completions", sim.base_url());
    let c = client();
    let mut handles = Vec::new();
    for i in 0..4 {
        let mut body = chat(&format!("request {i}"), 5);
        body["ignore_eos"] = json!(true);
        let req = c.post(&url).json(&body);
        handles.push(tokio::spawn(
            async move { req.send().await.unwrap().status() },
        ));
    }
    let s = wait_for(&sim, "two running and two waiting", |s| {
        s.running == 2 && s.waiting == 2
    })
    .await;
    assert!(s.kv_cache_usage > 0.0);
    let metrics = c
        .get(format!("{}/metrics", sim.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("vllm:num_requests_waiting{model_name=\"sim-model\",engine=\"0\"} 2.0")
    );
    for h in handles {
        assert_eq!(h.await.unwrap(), 200);
    }
    let s = sim.stats();
    assert_eq!(
        (s.peak_running, s.running, s.waiting, s.requests_completed),
        (2, 0, 0, 4)
    );
}

#[tokio::test]
async fn chunks_are_flushed_as_generated() {
    let sim = start(slow(40)).await;
    let resp = post(&sim, "/v1/chat/completions", stream_body("timing", 6)).await;
    let t0 = Instant::now();
    let mut arrivals = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        for _ in 0..chunk.windows(6).filter(|w| w == b"data: ").count() {
            arrivals.push(t0.elapsed());
        }
    }
    // role + 6 tokens + [DONE]; the token chunks come one decode step apart.
    assert_eq!(arrivals.len(), 8);
    let span = arrivals[6] - arrivals[1];
    assert!(
        span >= Duration::from_millis(180),
        "tokens arrived together: {arrivals:?}"
    );
    assert!(
        arrivals[2] - arrivals[1] >= Duration::from_millis(25),
        "{arrivals:?}"
    );
}

#[tokio::test]
async fn prefill_time_depends_on_uncached_tokens() {
    let sim = start(SimConfig {
        prefill_per_token: Duration::from_millis(1),
        decode_per_token: Duration::ZERO,
        ..SimConfig::default()
    })
    .await;
    let text = "x".repeat(4 * 300); // about 300 tokens -> about 300 ms cold
    let body = json!({"prompt": text, "max_tokens": 1});
    let t0 = Instant::now();
    assert_eq!(
        post(&sim, "/v1/completions", body.clone()).await.status(),
        200
    );
    let cold = t0.elapsed();
    let t1 = Instant::now();
    assert_eq!(post(&sim, "/v1/completions", body).await.status(), 200);
    let warm = t1.elapsed();
    assert!(cold >= Duration::from_millis(290), "{cold:?}");
    assert!(warm < Duration::from_millis(100), "{warm:?}");
    assert_eq!(sim.stats().cached_tokens, 288);
}

#[tokio::test]
async fn dropped_stream_is_cancelled_and_frees_its_slot() {
    let sim = start(SimConfig {
        max_num_seqs: 1,
        ..slow(20)
    })
    .await;
    let resp = post(&sim, "/v1/chat/completions", stream_body("cancel me", 200)).await;
    let mut stream = resp.bytes_stream();
    assert!(stream.next().await.unwrap().is_ok());
    assert_eq!(sim.stats().running, 1);
    drop(stream);
    let s = wait_for(&sim, "cancellation", |s| {
        s.requests_cancelled == 1 && s.running == 0
    })
    .await;
    assert_eq!(s.requests_completed, 0);
    assert_eq!(s.kv_blocks_used, 0);
    assert!(s.generation_tokens < 200);
    let metrics = client()
        .get(format!("{}/metrics", sim.base_url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("sim_requests_cancelled_total{model_name=\"sim-model\",engine=\"0\"} 1.0")
    );
    assert!(metrics.contains("finished_reason=\"length\"} 0.0"));
    // The slot is free again: a new request runs at once.
    let mut body = chat("next", 2);
    body["ignore_eos"] = json!(true);
    assert_eq!(post(&sim, "/v1/chat/completions", body).await.status(), 200);
}

#[tokio::test]
async fn client_timeout_cancels_a_non_stream_request() {
    let sim = start(slow(20)).await;
    let err = client()
        .post(format!("{}/v1/chat/completions", sim.base_url()))
        .json(&{
            let mut b = chat("too slow", 100);
            b["ignore_eos"] = json!(true);
            b
        })
        .timeout(Duration::from_millis(100))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    let s = wait_for(&sim, "cancellation", |s| {
        s.requests_cancelled == 1 && s.running == 0
    })
    .await;
    assert_eq!(s.requests_completed, 0);
}

#[tokio::test]
async fn closed_socket_cancels_a_waiting_request() {
    let sim = start(SimConfig {
        max_num_seqs: 1,
        ..slow(20)
    })
    .await;
    // Occupy the only slot.
    let busy = post(&sim, "/v1/chat/completions", stream_body("busy", 100)).await;
    // A raw request that will wait in the queue, then its socket closes.
    let body = chat("queued", 5).to_string();
    let mut sock = tokio::net::TcpStream::connect(sim.local_addr())
        .await
        .unwrap();
    let req = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    sock.write_all(req.as_bytes()).await.unwrap();
    wait_for(&sim, "queued", |s| s.waiting == 1).await;
    drop(sock);
    let s = wait_for(&sim, "dequeued", |s| {
        s.waiting == 0 && s.requests_cancelled == 1
    })
    .await;
    assert_eq!(s.running, 1);
    drop(busy);
    wait_for(&sim, "all cancelled", |s| {
        s.requests_cancelled == 2 && s.running == 0
    })
    .await;
}

#[tokio::test]
async fn keep_alive_reuses_one_connection() {
    let sim = start(SimConfig::zero_delay()).await;
    let c = client();
    for _ in 0..5 {
        let resp = c
            .post(format!("{}/v1/completions", sim.base_url()))
            .json(&json!({"prompt": "hi", "max_tokens": 2}))
            .send()
            .await
            .unwrap();
        resp.bytes().await.unwrap();
    }
    assert_eq!(sim.stats().connections_accepted, 1);
    // A raw HTTP/1.1 exchange: the response ends and the connection stays open.
    let mut sock = tokio::net::TcpStream::connect(sim.local_addr())
        .await
        .unwrap();
    sock.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let n = sock.read(&mut buf).await.unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("content-length: 0"),
        "{head}"
    );
}
