//! The engines' own metrics flow into endpoint snapshots in the background,
//! age out when the engine stops answering, and steer power-of-two.

use std::time::Duration;

use switchyard::clock::now_ms;
use switchyard_sim::{OutputLen, SimConfig};
use switchyard_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scraped_queue_reaches_snapshots_and_goes_stale() {
    let sim = start_sim(SimConfig {
        max_num_seqs: 1,
        output_len: OutputLen::Fixed,
        decode_per_token: Duration::from_millis(20),
        ..SimConfig::default()
    })
    .await;
    let mut sims = vec![sim];
    let router = start_router(&router_yaml("power_of_two", &[sims[0].base_url()], "", "")).await;
    let url = router_url(&router);
    // Four concurrent requests on a one-seat engine: three wait.
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move {
                client()
                    .post(format!("{url}/v1/completions"))
                    .json(&serde_json::json!({"model": MODEL, "prompt": "x", "max_tokens": 20, "ignore_eos": true}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    let endpoint = &router.app.pools[0].endpoints[0];
    let saw_queue = eventually(Duration::from_secs(3), async || {
        endpoint
            .engine_load(now_ms(), 1000)
            .is_some_and(|l| l.waiting.unwrap_or(0) >= 2 && l.running == Some(1))
    })
    .await;
    assert!(
        saw_queue,
        "the scrape saw vLLM-style waiting/running gauges"
    );
    for call in calls {
        assert_eq!(call.await.unwrap(), 200);
    }
    let metrics = get_text(&client(), &format!("{url}/metrics")).await;
    assert!(metrics.contains("switchyard_engine_requests_waiting"));

    sims.remove(0).shutdown().await;
    assert!(
        eventually(Duration::from_secs(3), async || endpoint
            .engine_load(now_ms(), 1000)
            .is_none())
        .await,
        "readings from a silent engine age out to unknown"
    );
    router.shutdown().await;
}
