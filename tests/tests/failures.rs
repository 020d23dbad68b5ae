//! Failure handling against simulated engines: retries before the first
//! byte, passive and active ejection, readmission, and the error statuses
//! when nothing can serve.

use std::time::Duration;

use switchyard_sim::{Fault, SimConfig, Simulator};
use switchyard_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_attempt_is_retried_on_another_endpoint() {
    let sims = start_sims(2).await;
    let urls: Vec<String> = sims.iter().map(|s| s.base_url()).collect();
    let router = start_router(&router_yaml("round_robin", &urls, "", "")).await;
    let url = router_url(&router);
    let client = client();
    sims[0].set_fault(Fault::FailNext {
        count: 1,
        status: 503,
    });
    for _ in 0..4 {
        let (status, _) = chat_once(&client, &url).await;
        assert_eq!(status, 200, "the client never sees the 503");
    }
    assert_eq!(sims[0].stats().requests_failed, 1);
    assert_eq!(
        sims[0].stats().requests_completed + sims[1].stats().requests_completed,
        4
    );
    let metrics = get_text(&client, &format!("{url}/metrics")).await;
    assert!(
        metric_sum(&metrics, "switchyard_retries_total", &[]) >= 1.0,
        "{metrics}"
    );
    router.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_endpoints_are_retried_then_ejected() {
    let sims = start_sims(1).await;
    // Nothing listens on the second URL: a port that was free a moment ago.
    let dead = unused_url();
    let yaml = without_active_probes(&router_yaml(
        "round_robin",
        &[sims[0].base_url(), dead],
        "",
        "",
    ));
    let router = start_router(&yaml).await;
    let url = router_url(&router);
    let client = client();
    for _ in 0..20 {
        let (status, endpoint) = chat_once(&client, &url).await;
        assert_eq!(status, 200);
        assert_eq!(endpoint.as_deref(), Some("ep0"));
    }
    let metrics = get_text(&client, &format!("{url}/metrics")).await;
    assert!(
        metric_sum(
            &metrics,
            "switchyard_endpoint_ejections_total",
            &["endpoint=\"ep1\"", "reason=\"passive\""]
        ) >= 1.0,
        "the breaker ejected the dead endpoint:\n{metrics}"
    );
    assert!(
        metric_sum(
            &metrics,
            "switchyard_upstream_errors_total",
            &["endpoint=\"ep1\"", "kind=\"connect\""]
        ) >= 2.0
    );
    router.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_engine_is_ejected_and_readmitted_when_it_returns() {
    let sims = start_sims(3).await;
    let urls: Vec<String> = sims.iter().map(|s| s.base_url()).collect();
    let router = start_router(&router_yaml("round_robin", &urls, "", "")).await;
    let url = router_url(&router);
    let client = client();

    let mut sims = sims;
    let address = sims[1].local_addr();
    let config = sims[1].config().clone();
    sims.remove(1).shutdown().await;

    // While it is down no request fails, and once the probes eject it none
    // is even tried there.
    for _ in 0..30 {
        assert_eq!(chat_once(&client, &url).await.0, 200);
    }
    let endpoint = &router.app.pools[0].endpoints[1];
    assert!(
        eventually(Duration::from_secs(3), async || !endpoint.probe_healthy()).await,
        "probes eject the dead engine"
    );
    for _ in 0..20 {
        let (status, served_by) = chat_once(&client, &url).await;
        assert_eq!(status, 200);
        assert_ne!(served_by.as_deref(), Some("ep1"));
    }

    // Back on the same port: readmitted after `healthy_threshold` probes.
    let revived = Simulator::start(config, address)
        .await
        .expect("restart on the same port");
    assert!(
        eventually(Duration::from_secs(3), async || endpoint.probe_healthy()).await,
        "probes readmit the engine"
    );
    let served = eventually(Duration::from_secs(3), async || {
        chat_once(&client, &url).await.1.as_deref() == Some("ep1")
    })
    .await;
    assert!(served, "traffic reaches the readmitted engine");
    assert!(revived.stats().requests_completed >= 1);
    router.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_health_endpoint_ejects_without_traffic() {
    let sims = start_sims(2).await;
    let urls: Vec<String> = sims.iter().map(|s| s.base_url()).collect();
    let router = start_router(&router_yaml("round_robin", &urls, "", "")).await;
    sims[0].set_fault(Fault::Unhealthy);
    let endpoint = &router.app.pools[0].endpoints[0];
    assert!(eventually(Duration::from_secs(3), async || !endpoint.probe_healthy()).await);
    sims[0].clear_fault();
    assert!(eventually(Duration::from_secs(3), async || endpoint.probe_healthy()).await);
    router.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_endpoints_failing_returns_the_upstream_error_after_bounded_attempts() {
    let sims = start_sims(2).await;
    let urls: Vec<String> = sims.iter().map(|s| s.base_url()).collect();
    let router = start_router(&router_yaml("round_robin", &urls, "", "")).await;
    let url = router_url(&router);
    for sim in &sims {
        sim.set_fault(Fault::FailFraction {
            fraction: 1.0,
            status: 500,
        });
    }
    let (status, _) = chat_once(&client(), &url).await;
    assert_eq!(status, 500, "the last upstream answer is passed through");
    let attempts: u64 = sims.iter().map(|s| s.stats().requests_failed).sum();
    assert_eq!(attempts, 3, "max_attempts bounds the tries");
    router.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_healthy_endpoint_is_503_with_retry_after() {
    let sims = start_sims(1).await;
    let router = start_router(&router_yaml(
        "least_connections",
        &[sims[0].base_url()],
        "",
        "",
    ))
    .await;
    let url = router_url(&router);
    sims.into_iter().next().unwrap().shutdown().await;
    let endpoint = &router.app.pools[0].endpoints[0];
    assert!(eventually(Duration::from_secs(3), async || !endpoint.probe_healthy()).await);
    let response = client()
        .post(format!("{url}/v1/chat/completions"))
        .json(&chat_body(MODEL, false, 4))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "no_healthy_endpoint");
    let ready = client().get(format!("{url}/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    router.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_upstream_without_alternatives_is_502() {
    let dead = unused_url();
    let yaml = without_active_probes(&router_yaml("round_robin", &[dead], "", ""));
    let router = start_router(&yaml).await;
    let response = client()
        .post(format!("{}/v1/completions", router_url(&router)))
        .json(&serde_json::json!({"model": MODEL, "prompt": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 502);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["type"], "upstream_error");
    router.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_first_byte_is_504() {
    let sim = start_sim(SimConfig {
        ..SimConfig::zero_delay()
    })
    .await;
    sim.set_fault(Fault::ExtraLatency(Duration::from_secs(2)));
    let yaml = router_yaml(
        "round_robin",
        &[sim.base_url()],
        "timeouts: { connect: 1s, first_byte: 200ms, total: 5s }",
        "",
    );
    let router = start_router(&yaml).await;
    let started = std::time::Instant::now();
    let response = client()
        .post(format!("{}/v1/completions", router_url(&router)))
        .json(&serde_json::json!({"model": MODEL, "prompt": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 504);
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "answered at the timeout, not the upstream"
    );
    router.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_at_its_cap_is_429_with_retry_after() {
    let sim = start_sim(SimConfig::zero_delay()).await;
    sim.set_fault(Fault::ExtraLatency(Duration::from_millis(600)));
    let yaml = router_yaml(
        "least_connections",
        &[sim.base_url()],
        "max_in_flight_per_endpoint: 1",
        "",
    );
    let router = start_router(&yaml).await;
    let url = router_url(&router);
    let client = client();
    let first = {
        let client = client.clone();
        let url = url.clone();
        tokio::spawn(async move { chat_once(&client, &url).await.0 })
    };
    assert!(
        eventually(Duration::from_secs(2), async || router.app.pools[0]
            .endpoints[0]
            .in_flight()
            == 1)
        .await
    );
    let response = client
        .post(format!("{url}/v1/chat/completions"))
        .json(&chat_body(MODEL, false, 4))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(first.await.unwrap(), 200);
    router.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passed_through_5xx_still_counts_against_the_endpoint() {
    let sims = start_sims(1).await;
    sims[0].set_fault(Fault::FailFraction {
        fraction: 1.0,
        status: 500,
    });
    // One attempt per request: each 500 goes straight back to the client.
    let yaml = without_active_probes(&router_yaml("round_robin", &[sims[0].base_url()], "", ""))
        .replace("  max_attempts: 3", "  max_attempts: 1");
    let router = start_router(&yaml).await;
    let url = router_url(&router);
    let client = client();
    for _ in 0..2 {
        assert_eq!(chat_once(&client, &url).await.0, 500);
        // Let the first response's body finish before the next failure,
        // so a reset on body end (the bug this guards) would show.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = get_text(&client, &format!("{url}/metrics")).await;
    assert!(
        metric_sum(
            &metrics,
            "switchyard_endpoint_ejections_total",
            &["reason=\"passive\""]
        ) >= 1.0,
        "two 5xx in a row eject (consecutive_failures: 2), even when passed through:\n{metrics}"
    );
    router.shutdown().await;
}
