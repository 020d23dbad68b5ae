//! The router in front of two real vLLM CPU instances (tiny random-weight
//! model), started by the project's own scripts. Everything asserted is read
//! from vLLM's own metrics: balance under load, ejection of a stopped
//! instance, readmission when it returns, and cancellation on disconnect.
//!
//! Needs the vLLM venv (`scripts/vllm/install.sh`); `scripts/test-all.sh`
//! runs it with `--ignored`. It is ignored under a plain `cargo test` only
//! because it takes minutes and gigabytes.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::future::join_all;
use switchyard_tests::vllm_fleet::{Fleet, SERVED, vllm_router_config};
use switchyard_tests::*;

async fn vllm_metrics(url: &str) -> String {
    get_text(&client(), &format!("{url}/metrics")).await
}

/// Finished requests by vLLM's own count, `finished_reason` given.
async fn finished(url: &str, reason: &str) -> f64 {
    let text = vllm_metrics(url).await;
    metric_sum(
        &text,
        "vllm:request_success_total",
        &[&format!("finished_reason=\"{reason}\"")],
    )
}

async fn completed(url: &str) -> f64 {
    finished(url, "length").await + finished(url, "stop").await
}

/// Completed requests over the fleet, read once the engines are idle and the count has held
/// still for a moment: vLLM can send a response before its stats loop counts it, so a count
/// read right after a response may still move by one.
async fn settled_completed(urls: &[String]) -> Vec<f64> {
    let mut last: Option<Vec<f64>> = None;
    for _ in 0..40 {
        let mut counts = Vec::with_capacity(urls.len());
        let mut busy = 0.0;
        for u in urls {
            let text = vllm_metrics(u).await;
            busy += metric_sum(&text, "vllm:num_requests_running", &[])
                + metric_sum(&text, "vllm:num_requests_waiting", &[]);
            counts.push(
                metric_sum(
                    &text,
                    "vllm:request_success_total",
                    &["finished_reason=\"length\""],
                ) + metric_sum(
                    &text,
                    "vllm:request_success_total",
                    &["finished_reason=\"stop\""],
                ),
            );
        }
        if busy == 0.0 && last.as_ref() == Some(&counts) {
            return counts;
        }
        last = Some(counts);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("vLLM's request counters did not settle: {last:?}");
}

fn completion(max_tokens: u32, stream: bool) -> serde_json::Value {
    serde_json::json!({
        "model": SERVED,
        "prompt": "The switchyard sorts the freight cars onto their tracks",
        "max_tokens": max_tokens,
        "ignore_eos": true,
        "stream": stream,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts two real vLLM instances; run by scripts/test-all.sh"]
async fn router_in_front_of_two_real_vllm_instances() {
    let fleet = Fleet::start(2);
    let router = start_router(&vllm_router_config(&fleet.urls)).await;
    let url = router_url(&router);
    let client = client();

    // A fresh CPU engine is slow on its first batches (kernels warm up per
    // batch shape): warm each one directly, at the concurrency it will see.
    for u in &fleet.urls {
        let warm = (0..4).map(|_| {
            let client = client.clone();
            async move {
                let response = client
                    .post(format!("{u}/v1/completions"))
                    .json(&completion(32, false))
                    .send()
                    .await
                    .expect("warm-up");
                assert_eq!(response.status(), 200);
                let _ = response.bytes().await;
            }
        });
        join_all(warm).await;
    }

    // 1. Balance under load, read from vLLM's own gauges and counters.
    let before = settled_completed(&fleet.urls).await;
    let done = std::sync::atomic::AtomicBool::new(false);
    let load = async {
        let users = (0..8).map(|_| {
            let client = client.clone();
            let url = url.clone();
            async move {
                for _ in 0..4 {
                    let response = client
                        .post(format!("{url}/v1/completions"))
                        .json(&completion(256, true))
                        .send()
                        .await
                        .expect("answer");
                    assert_eq!(response.status(), 200);
                    let body = response.text().await.expect("stream");
                    assert!(body.ends_with("data: [DONE]\n\n"), "complete stream");
                }
            }
        });
        join_all(users).await;
        done.store(true, std::sync::atomic::Ordering::Relaxed);
    };
    let watch = async {
        // vLLM's own occupancy (running + waiting), sampled on each instance, and the
        // router's in-flight count per endpoint at the same moments.
        let mut occupancy = vec![Vec::new(); fleet.urls.len()];
        let mut router_in_flight = vec![Vec::new(); fleet.urls.len()];
        while !done.load(std::sync::atomic::Ordering::Relaxed) {
            for (i, u) in fleet.urls.iter().enumerate() {
                let text = vllm_metrics(u).await;
                let busy = metric_sum(&text, "vllm:num_requests_running", &[])
                    + metric_sum(&text, "vllm:num_requests_waiting", &[]);
                occupancy[i].push(busy);
                router_in_flight[i].push(f64::from(router.app.pools[0].endpoints[i].in_flight()));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (occupancy, router_in_flight)
    };
    let ((), (occupancy, router_in_flight)) = tokio::join!(load, watch);
    let after = settled_completed(&fleet.urls).await;
    let served: Vec<f64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(
        served.iter().sum::<f64>(),
        32.0,
        "every request completed on some instance: {served:?}"
    );
    // Least connections sends each request to the endpoint with the fewest in flight at that
    // moment. It cannot level time averages when the load does not saturate the engines, and
    // here it does not: the two CPU engines take both cores, so this test's own clients are
    // slow to send their next request, and the engines run at very different speeds (seen:
    // 3x), so the faster one's requests finish and leave it idle sooner (seen: router
    // in-flight averages from 1:1 to 1:7 with no retry or ejection). What it guarantees, read
    // from vLLM's own gauges and counters: both engines work and serve a real share, and
    // when one holds clearly fewer requests in flight on average (it frees up sooner), it
    // served about as many or more. Round robin would serve 16/16 whatever the speeds; a policy
    // stuck on one engine fails the first two checks.
    let mean = |series: &Vec<Vec<f64>>| -> Vec<f64> {
        series
            .iter()
            .map(|samples| samples.iter().sum::<f64>() / samples.len().max(1) as f64)
            .collect()
    };
    let (mean, routed) = (mean(&occupancy), mean(&router_in_flight));
    let health: Vec<(bool, u32)> = router.app.pools[0]
        .endpoints
        .iter()
        .map(|e| (e.probe_healthy(), e.in_flight()))
        .collect();
    // Seen busy at least once in vLLM's own gauges. Not a mean: a fast engine finishes a
    // tiny model's requests between samples (seen: 24 served, mean occupancy 0.03, while a
    // slow one averaged 2.3), and what matters is that it worked, which its counter says.
    let seen_busy: Vec<bool> = occupancy
        .iter()
        .map(|samples| samples.iter().any(|busy| *busy >= 1.0))
        .collect();
    assert!(
        seen_busy.iter().all(|busy| *busy),
        "both engines were seen busy: occupancy {mean:?}, served {served:?}, (healthy, in flight) {health:?}"
    );
    assert!(
        served.iter().all(|s| *s >= 5.0),
        "both engines served requests: {served:?}"
    );
    let (idler, busier) = if routed[0] < routed[1] {
        (0, 1)
    } else {
        (1, 0)
    };
    // 32 requests and ties that rotate leave a few requests of slack (seen: 15 vs 17 with
    // in-flight averages 1.6 vs 3.7); a policy that favoured the busier endpoint would put it
    // far ahead.
    if routed[busier] > 1.5 * routed[idler] {
        assert!(
            served[idler] + 4.0 >= served[busier],
            "the endpoint that freed up sooner did not fall behind: router in flight {routed:?}, served {served:?}"
        );
    }
    eprintln!(
        "real vLLM balance: router in flight {routed:?}, vLLM occupancy {mean:?}, requests served {served:?}"
    );
    let endpoint0 = &router.app.pools[0].endpoints[0];
    assert!(
        endpoint0
            .engine_load(switchyard::clock::now_ms(), 1000)
            .is_some_and(|l| l.running.is_some()),
        "the router scraped vLLM's gauges"
    );

    // 2. A client that goes away: vLLM aborts the request. vLLM does not
    // count client aborts in `request_success_total`, so the proof is that
    // the engines go idle with the request neither completed nor generated
    // to its end.
    let generated = async || {
        let mut total = 0.0;
        for u in &fleet.urls {
            total += metric_sum(&vllm_metrics(u).await, "vllm:generation_tokens_total", &[]);
        }
        total
    };
    let completed_all = async || settled_completed(&fleet.urls).await.iter().sum::<f64>();
    let completed_before = completed_all().await;
    let tokens_before = generated().await;
    let response = client
        .post(format!("{url}/v1/completions"))
        .json(&completion(480, true))
        .send()
        .await
        .expect("answer");
    let mut stream = response.bytes_stream();
    stream.next().await.expect("first chunk").expect("no error");
    drop(stream);
    let idle = eventually(Duration::from_secs(10), async || {
        let mut running = 0.0;
        for u in &fleet.urls {
            running += metric_sum(&vllm_metrics(u).await, "vllm:num_requests_running", &[]);
        }
        running == 0.0
    })
    .await;
    assert!(idle, "vLLM stopped running the abandoned request");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let tokens = generated().await - tokens_before;
    assert_eq!(
        completed_all().await,
        completed_before,
        "the abandoned request did not complete"
    );
    assert!(
        tokens < 240.0,
        "generation stopped early: {tokens} of 480 tokens"
    );
    eprintln!("real vLLM cancellation: {tokens} of 480 tokens generated before the abort");

    // 3. Stop instance 1: no request fails, and once ejected none is sent there.
    fleet.stop_one(1);
    for _ in 0..10 {
        let (status, _) = chat_like(&client, &url).await;
        assert_eq!(status, 200, "retries hide the dead instance");
    }
    let endpoint1 = &router.app.pools[0].endpoints[1];
    assert!(
        eventually(Duration::from_secs(10), async || !endpoint1.probe_healthy()).await,
        "ejected"
    );
    for _ in 0..10 {
        let (status, served_by) = chat_like(&client, &url).await;
        assert_eq!(status, 200);
        assert_eq!(served_by.as_deref(), Some("ep0"));
    }

    // 4. Bring it back on the same port: readmitted, and it serves again.
    fleet.restart_one(1);
    assert!(
        eventually(Duration::from_secs(30), async || endpoint1.probe_healthy()).await,
        "readmitted"
    );
    let base = completed(&fleet.urls[1]).await;
    for _ in 0..10 {
        assert_eq!(chat_like(&client, &url).await.0, 200);
    }
    assert!(
        completed(&fleet.urls[1]).await > base,
        "the returned instance serves traffic again"
    );
    router.shutdown().await;
}

async fn chat_like(client: &reqwest::Client, url: &str) -> (u16, Option<String>) {
    chat_once_for(client, url, SERVED).await
}
