//! The router in front of two real TorchServe 0.12 instances (handlers that
//! need no real torch), started by the project's own scripts. TorchServe's
//! own HTTP and gRPC clients' calls go through the router unchanged
//! (`tests/python/torchserve_clients.py`); the spread of load is read from
//! each TorchServe's own request counter.
//!
//! Needs the TorchServe venv (`scripts/torchserve/install.sh`, installed on
//! first use); `scripts/test-all.sh` runs it with `--ignored`.

use std::time::Duration;

use switchyard_tests::server_fleet::{ServerFleet, run_client};
use switchyard_tests::*;

const MODELS: [(&str, &str); 3] = [("echo", ""), ("echo_batched", ""), ("echo_stream", "")];

async fn served_by(instance_metrics: &str) -> f64 {
    let text = get_text(&client(), &format!("{instance_metrics}/metrics")).await;
    metric_sum(
        &text,
        "ts_inference_requests_total",
        &["model_name=\"echo\""],
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs real TorchServe (scripts/torchserve/install.sh); run by scripts/test-all.sh"]
async fn torchserve_clients_through_the_router() {
    let fleet = ServerFleet::start("torchserve", 2, &[]);
    let router = start_router(&fleet.router_yaml(&MODELS)).await;
    let url = router_url(&router);
    let grpc_target = url.trim_start_matches("http://").to_owned();

    // 1. TorchServe's HTTP and gRPC calls, pointed at the router unchanged.
    let checks = [
        "--http-url",
        url.as_str(),
        "--grpc-url",
        grpc_target.as_str(),
    ];
    let out = run_client(fleet.client("torchserve_clients.py", &checks)).await;
    eprintln!("{}", out.lines().last().unwrap_or_default());

    // 2. Least connections spreads load across both instances, by TorchServe's own count.
    let before = [
        served_by(&fleet.instances[0].metrics_url).await,
        served_by(&fleet.instances[1].metrics_url).await,
    ];
    let load = ["--http-url", url.as_str(), "--load", "400"];
    run_client(fleet.client("torchserve_clients.py", &load)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let served = [
        served_by(&fleet.instances[0].metrics_url).await - before[0],
        served_by(&fleet.instances[1].metrics_url).await - before[1],
    ];
    eprintln!("TorchServe requests served per instance: {served:?}");
    assert_eq!(
        served[0] + served[1],
        400.0,
        "each request served once: {served:?}"
    );
    assert!(
        served.iter().all(|s| *s >= 100.0),
        "both instances took a real share: {served:?}"
    );

    // 3. A stopped instance: retries hide it, over HTTP and gRPC alike.
    fleet.stop_one(1);
    let client = client();
    for _ in 0..10 {
        let response = client
            .post(format!("{url}/predictions/echo"))
            .json(&serde_json::json!({"data": [1, 2]}))
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status(), 200, "retried on the live instance");
    }
    let endpoint1 = &router.app.pools[0].endpoints[1];
    assert!(
        eventually(Duration::from_secs(10), async || !endpoint1.probe_healthy()).await,
        "the stopped instance is ejected by /ping probes"
    );
    router.shutdown().await;
}
