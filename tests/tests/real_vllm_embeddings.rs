//! Router-side batching of `/v1/embeddings` in front of a real vLLM CPU
//! instance serving all-MiniLM-L6-v2 (`scripts/vllm/start.sh --embedding`):
//! concurrent calls are merged into array calls, and each caller gets the
//! vectors and token usage it gets when calling vLLM alone.
//!
//! Needs the vLLM venv (`scripts/vllm/install.sh`); `scripts/test-all.sh`
//! runs it with `--ignored`.

use futures_util::future::join_all;
use serde_json::{Value, json};
use switchyard_tests::vllm_fleet::Fleet;
use switchyard_tests::*;

fn request(model: &str, i: usize) -> Value {
    let input = match i % 4 {
        0 => json!(format!("sentence number {i} about routers")),
        1 => json!([format!("first of pair {i}"), "a second, shared sentence"]),
        // [CLS] hello world [SEP] in MiniLM's (BERT uncased) vocabulary, and a variant.
        2 => json!([101, 7592, 2088, 102 + (i % 2)]),
        _ => json!(["x".repeat(1 + i % 7)]),
    };
    json!({"model": model, "input": input})
}

async fn embed(url: &str, body: &Value) -> (u16, Value) {
    let response = client()
        .post(format!("{url}/v1/embeddings"))
        .json(body)
        .send()
        .await
        .expect("embeddings call");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs real vLLM (scripts/vllm/install.sh); run by scripts/test-all.sh"]
async fn embeddings_batched_through_the_router_match_direct_calls() {
    let fleet = Fleet::start_with(1, &["--embedding"]);
    let model = fleet.served_model_name.clone();
    let yaml = format!(
        "listeners:\n  - address: 127.0.0.1:0\nlogging:\n  level: warn\npools:\n  minilm:\n    policy: least_connections\n    endpoints:\n      - url: {}\n        kind: vllm\nmodels:\n  {model}:\n    pool: minilm\n    batching:\n      max_batch_size: 32\n      max_queue_delay: 20ms\n      tokenizer: {}\n",
        fleet.urls[0], fleet.model_dir
    );
    let router = start_router(&yaml).await;
    let url = router_url(&router);

    let n = 32;
    let bodies: Vec<Value> = (0..n).map(|i| request(&model, i)).collect();
    let through_router = join_all(bodies.iter().map(|b| embed(&url, b))).await;
    for (i, (body, (status, got))) in bodies.iter().zip(&through_router).enumerate() {
        assert_eq!(*status, 200, "request {i}: {got}");
        let (direct_status, want) = embed(&fleet.urls[0], body).await;
        assert_eq!(direct_status, 200, "direct {i}: {want}");
        assert_eq!(
            got["data"], want["data"],
            "request {i}: vectors and indexes"
        );
        assert_eq!(got["usage"], want["usage"], "request {i}: usage");
        assert_eq!(got["model"], want["model"]);
    }
    let metrics = get_text(&client(), &format!("{url}/metrics")).await;
    let batched = metric_sum(
        &metrics,
        "switchyard_batch_requests_total",
        &["outcome=\"batched\""],
    );
    assert!(batched >= 16.0, "most calls shared a batch: {batched}");

    // An input over the model's 256 tokens fails vLLM's check; merged with others it would
    // fail them all, so the router sends each member on its own: the long one gets vLLM's
    // 400, the rest their vectors.
    let mut crowd: Vec<Value> = (0..8).map(|i| request(&model, i)).collect();
    crowd[3] = json!({"model": model, "input": "word ".repeat(400)});
    let answers = join_all(crowd.iter().map(|b| embed(&url, b))).await;
    for (i, (status, body)) in answers.iter().enumerate() {
        if i == 3 {
            assert_eq!(*status, 400, "the long input: {body}");
            assert!(
                body["error"]["message"].is_string() || body["message"].is_string(),
                "{body}"
            );
        } else {
            assert_eq!(*status, 200, "request {i}: {body}");
        }
    }
}
