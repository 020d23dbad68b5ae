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
