//! Fault injection and shutdown.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use futures_util::StreamExt;
use serde_json::{Value, json};
use switchyard_sim::{Fault, SimConfig, Simulator};

#[tokio::test]
async fn fail_next_answers_errors_then_recovers() {
    let sim = start(SimConfig::zero_delay()).await;
    sim.set_fault(Fault::FailNext {
        count: 2,
        status: 503,
    });
    for _ in 0..2 {
        let resp = post(&sim, "/v1/chat/completions", chat("x", 2)).await;
        assert_eq!(resp.status(), 503);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["type"], "ServiceUnavailableError");
        assert_eq!(v["error"]["code"], 503);
    }
    // Health and metrics do not consume the count.
    let health = client()
        .get(format!("{}/health", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(
        post(&sim, "/v1/chat/completions", chat("x", 2))
            .await
            .status(),
        200
    );
    let s = sim.stats();
    assert_eq!(
        (s.requests_received, s.requests_failed, s.requests_completed),
        (3, 2, 1)
    );
    assert!(s.faults.is_empty());
}

#[tokio::test]
async fn fail_fraction_fails_some() {
    let sim = start(SimConfig::zero_delay()).await;
    sim.set_fault(Fault::FailFraction {
        fraction: 0.5,
        status: 500,
    });
    let mut failed = 0;
    for _ in 0..40 {
        if post(
            &sim,
            "/v1/completions",
            json!({"prompt": "p", "max_tokens": 1}),
        )
        .await
        .status()
            == 500
        {
            failed += 1;
        }
    }
    assert!((8..=32).contains(&failed), "{failed}");
    sim.clear_fault();
    assert_eq!(
        post(
            &sim,
            "/v1/completions",
            json!({"prompt": "p", "max_tokens": 1})
        )
        .await
        .status(),
        200
    );
}

#[tokio::test]
async fn abort_stream_after_cuts_the_connection() {
    let sim = start(SimConfig::zero_delay()).await;
    sim.set_fault(Fault::AbortStreamAfter { chunks: 3 });
    let mut body = chat("abort", 20);
    body["stream"] = json!(true);
    body["ignore_eos"] = json!(true);
    let resp = post(&sim, "/v1/chat/completions", body.clone()).await;
    assert_eq!(resp.status(), 200);
    let mut stream = resp.bytes_stream();
    let mut received = Vec::new();
    let mut errored = false;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(b) => received.extend_from_slice(&b),
            Err(_) => {
                errored = true;
                break;
            }
        }
    }
    assert!(errored, "the body should end with an error");
    let text = String::from_utf8(received).unwrap();
    assert_eq!(parse_sse(&text).len(), 3, "{text}");
    let s = wait_for(&sim, "failure", |s| {
        s.requests_failed == 1 && s.running == 0
    })
    .await;
    assert_eq!(s.requests_completed, 0);
    // Non-streaming requests are unaffected.
    let mut whole = body;
    whole["stream"] = json!(false);
    assert_eq!(
        post(&sim, "/v1/chat/completions", whole).await.status(),
        200
    );
}

#[tokio::test]
async fn extra_latency_delays_responses() {
    let sim = start(SimConfig::zero_delay()).await;
    sim.set_fault(Fault::ExtraLatency(Duration::from_millis(150)));
    let t0 = Instant::now();
    assert_eq!(
        post(
            &sim,
            "/v1/completions",
            json!({"prompt": "p", "max_tokens": 1})
        )
        .await
        .status(),
        200
    );
    assert!(t0.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn faults_over_http() {
    let sim = start(SimConfig::zero_delay()).await;
    let resp = post(
        &sim,
        "/sim/fault",
        json!({"fail_next": {"count": 1, "status": 429}}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["faults"],
        json!([{"fail_next": {"count": 1, "status": 429}}])
    );
    assert_eq!(
        post(&sim, "/sim/fault", json!("unhealthy")).await.status(),
        200
    );
    assert_eq!(
        post(
            &sim,
            "/sim/fault",
            json!({"fail_next": {"count": 1, "status": 200}})
        )
        .await
        .status(),
        400
    );
    assert_eq!(
        post(&sim, "/sim/fault", json!({"bogus": 1})).await.status(),
        400
    );
    let c = client();
    assert_eq!(
        c.get(format!("{}/health", sim.base_url()))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    assert_eq!(
        post(&sim, "/v1/embeddings", json!({"input": "x"}))
            .await
            .status(),
        429
    );
    let stats: Value = c
        .get(format!("{}/sim/stats", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["faults"], json!(["unhealthy"]));
    let resp = c
        .delete(format!("{}/sim/fault", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        c.get(format!("{}/health", sim.base_url()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn shutdown_cuts_streams_and_frees_the_port() {
    let sim = start(SimConfig {
        decode_per_token: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await;
    let addr = sim.local_addr();
    let mut body = chat("long", 500);
    body["stream"] = json!(true);
    body["ignore_eos"] = json!(true);
    let resp = post(&sim, "/v1/chat/completions", body).await;
    let mut stream = resp.bytes_stream();
    assert!(stream.next().await.unwrap().is_ok());
    let t0 = Instant::now();
    sim.shutdown().await;
    // The in-flight stream ends (with an error) at once.
    let mut ended = false;
    while let Some(item) = tokio::time::timeout(Duration::from_secs(2), stream.next())
        .await
        .unwrap()
    {
        if item.is_err() {
            ended = true;
            break;
        }
    }
    assert!(ended, "the stream should be cut");
    assert!(t0.elapsed() < Duration::from_secs(1));
    assert!(
        client()
            .get(format!("http://{addr}/health"))
            .send()
            .await
            .is_err()
    );
    // The same port can be bound again (a restarted engine).
    let again = Simulator::start(SimConfig::zero_delay(), addr)
        .await
        .unwrap();
    assert_eq!(again.local_addr(), addr);
    assert_eq!(
        client()
            .get(format!("{}/health", again.base_url()))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn serve_until_stops_when_the_future_completes() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(switchyard_sim::serve_until(
        SimConfig::zero_delay(),
        any_port(),
        async {
            let _ = rx.await;
        },
    ));
    tx.send(()).unwrap();
    task.await.unwrap().unwrap();
}
