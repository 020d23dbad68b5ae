//! A client that goes away must take its upstream request with it: the
//! engine sees the disconnect and frees the slot.

use std::time::Duration;

use futures_util::StreamExt;
use switchyard_sim::{OutputLen, SimConfig};
use switchyard_tests::*;

fn slow_engine() -> SimConfig {
    SimConfig {
        output_len: OutputLen::Fixed,
        decode_per_token: Duration::from_millis(50),
        ..SimConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_stream_cancels_the_upstream_request() {
    let sim = start_sim(slow_engine()).await;
    let router = start_router(&router_yaml("round_robin", &[sim.base_url()], "", "")).await;
    let response = client()
        .post(format!("{}/v1/chat/completions", router_url(&router)))
        .json(&chat_body(MODEL, true, 200))
        .send()
        .await
        .unwrap();
    let mut stream = response.bytes_stream();
    stream
        .next()
        .await
        .expect("a first chunk")
        .expect("no error");
    assert_eq!(sim.stats().running, 1);
    drop(stream);
    assert!(
        eventually(Duration::from_secs(3), async || sim
            .stats()
            .requests_cancelled
            == 1)
        .await,
        "the engine saw the request go away: {:?}",
        sim.stats()
    );
    assert_eq!(sim.stats().running, 0);
    assert!(
        eventually(Duration::from_secs(1), async || router.app.pools[0]
            .endpoints[0]
            .in_flight()
            == 0)
        .await
    );
    router.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoning_a_non_streamed_request_cancels_it_upstream() {
    let sim = start_sim(slow_engine()).await;
    let router = start_router(&router_yaml("round_robin", &[sim.base_url()], "", "")).await;
    let quick_client = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let result = quick_client
        .post(format!("{}/v1/chat/completions", router_url(&router)))
        .json(&chat_body(MODEL, false, 200))
        .send()
        .await;
    assert!(result.is_err(), "the client gave up first");
    assert!(
        eventually(Duration::from_secs(3), async || sim
            .stats()
            .requests_cancelled
            == 1)
        .await,
        "the engine saw the request go away: {:?}",
        sim.stats()
    );
    assert_eq!(sim.stats().requests_completed, 0);
    router.shutdown().await;
}
