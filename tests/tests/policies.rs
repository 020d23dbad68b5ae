//! How each policy spreads real requests over simulated engines, counted
//! both from the router's response header and from the engines' own stats.

use std::time::Duration;

use futures_util::future::join_all;
use switchyard_sim::{OutputLen, SimConfig};
use switchyard_tests::*;

async fn spread(policy: &str, weights: Option<&[u32]>, requests: usize) -> Vec<u64> {
    let sims = start_sims(weights.map_or(4, <[u32]>::len)).await;
    let urls: Vec<String> = sims.iter().map(|s| s.base_url()).collect();
    let mut yaml = router_yaml(policy, &urls, "", "");
    if let Some(weights) = weights {
        for (i, w) in weights.iter().enumerate() {
            yaml = yaml.replace(
                &format!("name: ep{i}\n"),
                &format!("name: ep{i}\n        weight: {w}\n"),
            );
        }
    }
    let router = start_router(&yaml).await;
    let url = router_url(&router);
    let client = client();
    let mut by_header = vec![0u64; sims.len()];
    for _ in 0..requests {
        let (status, endpoint) = chat_once(&client, &url).await;
        assert_eq!(status, 200);
        let endpoint = endpoint.expect("x-switchyard-endpoint header");
        let i: usize = endpoint.trim_start_matches("ep").parse().expect("ep<N>");
        by_header[i] += 1;
    }
    let by_engine: Vec<u64> = sims.iter().map(|s| s.stats().requests_completed).collect();
    assert_eq!(
        by_header, by_engine,
        "the header names the engine that served"
    );
    router.shutdown().await;
    by_engine
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_is_exactly_even() {
    assert_eq!(spread("round_robin", None, 200).await, vec![50, 50, 50, 50]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_follows_weights() {
    assert_eq!(
        spread("weighted", Some(&[3, 1, 1]), 250).await,
        vec![150, 50, 50]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_connections_rotates_ties_when_idle() {
    // Sequential requests: every endpoint is idle each time, so ties rotate.
    assert_eq!(
        spread("least_connections", None, 200).await,
        vec![50, 50, 50, 50]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_and_power_of_two_use_every_endpoint() {
    for policy in ["random", "power_of_two"] {
        let counts = spread(policy, None, 400).await;
        assert_eq!(counts.iter().sum::<u64>(), 400);
        for c in &counts {
            assert!((50..=150).contains(c), "{policy}: {counts:?}");
        }
    }
}

/// One engine decodes 10x slower. Under concurrent load, least-connections
/// sees its requests pile up and sends the fast one more; round robin
/// cannot tell them apart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_connections_favours_the_fast_engine_under_skewed_latency() {
    async fn run(policy: &str) -> (u64, u64) {
        let base = SimConfig {
            output_len: OutputLen::Fixed,
            prefill_per_token: Duration::ZERO,
            prefill_base: Duration::ZERO,
            ..SimConfig::default()
        };
        let fast = start_sim(SimConfig {
            decode_per_token: Duration::from_millis(1),
            ..base.clone()
        })
        .await;
        let slow = start_sim(SimConfig {
            decode_per_token: Duration::from_millis(10),
            ..base
        })
        .await;
        let router = start_router(&router_yaml(
            policy,
            &[fast.base_url(), slow.base_url()],
            "",
            "",
        ))
        .await;
        let url = router_url(&router);
        let client = client();
        // 8 closed-loop users, 20 requests each, 8 output tokens per request.
        let users = (0..8).map(|_| {
            let client = client.clone();
            let url = url.clone();
            async move {
                for _ in 0..20 {
                    let response = client
                        .post(format!("{url}/v1/completions"))
                        .json(&serde_json::json!({"model": MODEL, "prompt": "hello", "max_tokens": 8, "ignore_eos": true}))
                        .send()
                        .await
                        .expect("answer");
                    assert_eq!(response.status(), 200);
                    let _ = response.bytes().await;
                }
            }
        });
        join_all(users).await;
        let counts = (
            fast.stats().requests_completed,
            slow.stats().requests_completed,
        );
        router.shutdown().await;
        counts
    }
    let (lc_fast, lc_slow) = run("least_connections").await;
    let (rr_fast, rr_slow) = run("round_robin").await;
    assert_eq!(lc_fast + lc_slow, 160);
    assert_eq!(
        rr_fast, rr_slow,
        "round robin splits evenly whatever the latency"
    );
    assert!(
        lc_fast as f64 >= 0.65 * 160.0,
        "least_connections sent only {lc_fast}/160 to the fast engine"
    );
}
