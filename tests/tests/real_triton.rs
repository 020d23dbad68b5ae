//! The router in front of two real Triton 2.51 servers (the `tritonserver`
//! of the nvidia-pytriton wheel, Python-backend models from
//! `scripts/triton/models`), started by the project's own scripts.
//! tritonclient's HTTP and gRPC calls go through the router unchanged
//! (`tests/python/triton_clients.py`); the spread of load is read from each
//! Triton's own request counter; a generate model answers OpenAI
//! requests; errors map across protocols.
//!
//! Needs the Triton venv (`scripts/triton/install.sh`, installed on first
//! use); `scripts/test-all.sh` runs it with `--ignored`.

use std::time::Duration;

use futures_util::StreamExt;
use switchyard_tests::server_fleet::{ServerFleet, run_client};
use switchyard_tests::*;

const GENERATE: &str =
    "    generate:\n      text_input: text_input\n      text_output: text_output\n";

/// Requests Triton ran for `model`: its executions, since the model does not batch
/// (`nv_inference_count` counts batch items).
async fn inferences(metrics_base: &str, model: &str) -> f64 {
    let text = get_text(&client(), &format!("{metrics_base}/metrics")).await;
    metric_sum(
        &text,
        "nv_inference_exec_count",
        &[&format!("model=\"{model}\"")],
    )
}

/// What Triton itself generates for a prompt, through its own generate endpoint.
async fn generated_directly(http_url: &str, prompt: &str, max_tokens: u32) -> String {
    let response = client()
        .post(format!("{http_url}/v2/models/tiny_gen/generate"))
        .json(&serde_json::json!({"text_input": prompt, "max_tokens": max_tokens}))
        .send()
        .await
        .expect("direct generate");
    let body: serde_json::Value = response.json().await.expect("json");
    body["text_output"]
        .as_str()
        .expect("text_output")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs real Triton (scripts/triton/install.sh); run by scripts/test-all.sh"]
async fn triton_clients_through_the_router() {
    let fleet = ServerFleet::start("triton", 2, &[]);
    let models = [
        ("add_sub", ""),
        ("add_sub_batched", ""),
        ("stream_counter", ""),
        ("fixed_cost", ""),
        ("tiny_gen", GENERATE),
    ];
    let router = start_router(&fleet.router_yaml(&models)).await;
    let url = router_url(&router);
    let grpc_target = url.trim_start_matches("http://").to_owned();

    // 1. tritonclient over HTTP and gRPC, pointed at the router unchanged.
    let checks = [
        "--http-url",
        url.as_str(),
        "--grpc-url",
        grpc_target.as_str(),
    ];
    let out = run_client(fleet.client("triton_clients.py", &checks)).await;
    eprintln!("{}", out.lines().last().unwrap_or_default());

    // 2. Least connections spreads gRPC infers over both servers, by Triton's own count.
    let count = async || {
        [
            inferences(&fleet.instances[0].metrics_url, "add_sub").await,
            inferences(&fleet.instances[1].metrics_url, "add_sub").await,
        ]
    };
    let before = count().await;
    let load = ["--grpc-url", grpc_target.as_str(), "--load", "400"];
    run_client(fleet.client("triton_clients.py", &load)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = count().await;
    let served = [after[0] - before[0], after[1] - before[1]];
    eprintln!("Triton add_sub inferences per server: {served:?}");
    assert_eq!(
        served[0] + served[1],
        400.0,
        "each infer ran once: {served:?}"
    );
    assert!(
        served.iter().all(|s| *s >= 100.0),
        "both servers took a real share: {served:?}"
    );

    // 3. OpenAI completions and chat over Triton's generate extension, streamed and not.
    let client = client();
    let expected = generated_directly(&fleet.instances[0].http_url, "The yard", 5).await;
    let body: serde_json::Value = client
        .post(format!("{url}/v1/completions"))
        .json(&serde_json::json!({"model": "tiny_gen", "prompt": "The yard", "max_tokens": 5}))
        .send()
        .await
        .expect("completion")
        .json()
        .await
        .expect("json");
    assert_eq!(body["object"], "text_completion");
    assert_eq!(body["choices"][0]["text"], expected.as_str(), "{body}");
    assert_eq!(body["choices"][0]["finish_reason"], "length");
    let response = client
        .post(format!("{url}/v1/chat/completions"))
        .json(&serde_json::json!({
            "model": "tiny_gen", "stream": true, "max_tokens": 4,
            "messages": [{"role": "user", "content": "hi"}],
        }))
        .send()
        .await
        .expect("chat stream");
    assert_eq!(response.status(), 200);
    let mut text = String::new();
    let mut events = 0;
    let mut stream = response.bytes_stream();
    while let Some(chunk) = stream.next().await {
        text.push_str(std::str::from_utf8(&chunk.expect("chunk")).expect("utf-8"));
    }
    let mut content = String::new();
    for data in text.split("\n\n").filter_map(|e| e.strip_prefix("data: ")) {
        if data == "[DONE]" {
            continue;
        }
        let chunk: serde_json::Value = serde_json::from_str(data).expect("chunk json");
        assert_eq!(chunk["object"], "chat.completion.chunk");
        if let Some(piece) = chunk["choices"][0]["delta"]["content"].as_str() {
            content.push_str(piece);
            events += 1;
        }
    }
    assert!(
        text.ends_with("data: [DONE]\n\n"),
        "OpenAI stream ends with [DONE]"
    );
    assert_eq!(events, 4, "one chunk per generated word: {text}");
    let chat_prompt = "user: hi\nassistant:";
    assert_eq!(
        content,
        generated_directly(&fleet.instances[1].http_url, chat_prompt, 4).await
    );

    // 4. Errors: unknown model 404; a server that is gone is hidden by retries; when all
    //    are gone, 503 over HTTP.
    let unknown = client
        .post(format!("{url}/v2/models/nope/infer"))
        .body("{}")
        .send()
        .await
        .expect("answer");
    assert_eq!(unknown.status(), 404);
    let error: serde_json::Value = unknown.json().await.expect("KServe error json");
    assert!(
        error["error"].as_str().is_some_and(|m| m.contains("nope")),
        "{error}"
    );
    fleet.stop_one(1);
    for _ in 0..5 {
        let check = [
            "--http-url",
            url.as_str(),
            "--grpc-url",
            grpc_target.as_str(),
            "--requests",
            "1",
        ];
        run_client(fleet.client("triton_clients.py", &check)).await;
    }
    fleet.stop_one(0);
    let pool = &router.app.pools[0];
    assert!(
        eventually(Duration::from_secs(10), async || pool.healthy_count() == 0).await,
        "both servers ejected"
    );
    let down = client
        .post(format!("{url}/v2/models/add_sub/infer"))
        .body("{}")
        .send()
        .await
        .expect("answer");
    assert_eq!(down.status(), 503, "no healthy endpoint");
    router.shutdown().await;
}

/// The router's own gauge or counter, summed over the series that carry `labels`.
async fn router_metric(url: &str, name: &str, labels: &[&str]) -> f64 {
    let text = get_text(&client(), &format!("{url}/metrics")).await;
    metric_sum(&text, name, labels)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs real Triton (scripts/triton/install.sh); run by scripts/test-all.sh"]
async fn router_batches_models_triton_does_not() {
    let fleet = ServerFleet::start("triton", 2, &[]);
    let batching = "    batching:\n      max_batch_size: 16\n      max_queue_delay: 20ms\n";
    let models = [
        ("fixed_cost", batching),
        ("add_sub", batching),
        ("add_sub_batched", batching),
    ];
    let router = start_router(&fleet.router_yaml(&models)).await;
    let url = router_url(&router);

    // The router reads each model's config from Triton: fixed_cost and add_sub do not batch
    // (max_batch_size 64 and 8), add_sub_batched has dynamic_batching and is left to Triton.
    let max_rows = async |model: &str| {
        router_metric(
            &url,
            "switchyard_batch_max_rows",
            &[&format!("model=\"{model}\"")],
        )
        .await
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while max_rows("fixed_cost").await != 16.0 || max_rows("add_sub").await != 8.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the router never read the model configs"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        max_rows("add_sub_batched").await,
        0.0,
        "a model Triton batches passes through"
    );

    let executions = async || {
        inferences(&fleet.instances[0].metrics_url, "fixed_cost").await
            + inferences(&fleet.instances[1].metrics_url, "fixed_cost").await
    };
    let before = executions().await;
    let grpc_target = url.trim_start_matches("http://").to_owned();
    let args = [
        "--router-http",
        url.as_str(),
        "--router-grpc",
        grpc_target.as_str(),
        "--direct-http",
        fleet.instances[0].http_url.as_str(),
    ];
    let out = run_client(fleet.client("triton_batching.py", &args)).await;
    eprintln!("{out}");

    // 3 x 96 calls plus 2 x 24 with one bad call each: 336 fixed_cost calls reached the
    // router. The script also called instance 0 directly, one call per comparison.
    let summary: serde_json::Value =
        serde_json::from_str(out.lines().last().unwrap_or_default()).expect("summary line");
    let direct = summary["direct_calls"]["fixed_cost"]
        .as_f64()
        .expect("direct calls");
    let ran = executions().await - before - direct;
    let batched = async |model: &str| {
        let model = format!("model=\"{model}\"");
        router_metric(
            &url,
            "switchyard_batch_requests_total",
            &[&model, "outcome=\"batched\""],
        )
        .await
    };
    let fixed_batched = batched("fixed_cost").await;
    assert!(
        fixed_batched >= 200.0,
        "most fixed_cost calls shared a batch: {fixed_batched}"
    );
    assert!(
        ran < 200.0,
        "Triton ran far fewer fixed_cost executions than calls: {ran} for 336 calls"
    );
    assert!(batched("add_sub").await > 0.0, "add_sub calls were batched");

    // add_sub_batched: concurrent calls pass through, one call each.
    let body = serde_json::json!({"inputs": [
        {"name": "INPUT0", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]},
        {"name": "INPUT1", "shape": [1, 4], "datatype": "FP32", "data": [1, 1, 1, 1]}
    ]});
    let calls = (0..8).map(|_| {
        client()
            .post(format!("{url}/v2/models/add_sub_batched/infer"))
            .json(&body)
            .send()
    });
    for response in futures_util::future::join_all(calls).await {
        assert_eq!(response.expect("add_sub_batched").status(), 200);
    }
    assert_eq!(batched("add_sub_batched").await, 0.0);
    let alone = router_metric(
        &url,
        "switchyard_batch_requests_total",
        &["model=\"add_sub_batched\"", "outcome=\"alone\""],
    )
    .await;
    assert_eq!(alone, 8.0, "each add_sub_batched call went on its own");
}
