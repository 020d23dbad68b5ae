//! Router-side batching of `/v1/embeddings` against simulated engines:
//! concurrent calls share upstream calls and each caller gets its own
//! vectors; the queue bound answers 429; a request whose total timeout runs
//! out while it waits gets 504; a config error names the field.

use futures_util::future::join_all;
use serde_json::{Value, json};
use switchyard::config::load_str;
use switchyard_tests::*;

async fn embed(url: &str, input: Value) -> (u16, Option<String>, Value) {
    let response = client()
        .post(format!("{url}/v1/embeddings"))
        .json(&json!({"model": MODEL, "input": input}))
        .send()
        .await
        .expect("embeddings call");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    (status, retry_after, response.json().await.expect("json"))
}

fn batching_yaml(url: &str, batching: &str, pool_extra: &str) -> String {
    router_yaml(
        "least_connections",
        &[url.to_owned()],
        pool_extra,
        &format!("    batching:\n{batching}"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_embeddings_share_calls_and_get_their_own_vectors() {
    let sims = start_sims(1).await;
    let yaml = batching_yaml(
        &sims[0].base_url(),
        "      max_batch_size: 64\n      max_queue_delay: 50ms\n",
        "",
    );
    let router = start_router(&yaml).await;
    let url = router_url(&router);
    let inputs: Vec<Value> = (0..24)
        .map(|i| match i % 3 {
            0 => json!(format!("text {i}")),
            1 => json!([format!("a {i}"), format!("b {i}")]),
            _ => json!([[1, 2, 3, i]]),
        })
        .collect();
    let answers = join_all(inputs.iter().map(|i| embed(&url, i.clone()))).await;
    for (input, (status, _, body)) in inputs.iter().zip(&answers) {
        assert_eq!(*status, 200, "{body}");
        let direct = client()
            .post(format!("{}/v1/embeddings", sims[0].base_url()))
            .json(&json!({"model": MODEL, "input": input}))
            .send()
            .await
            .expect("direct");
        let direct: Value = direct.json().await.expect("json");
        assert_eq!(body["data"], direct["data"], "input {input}");
        assert!(body["usage"]["prompt_tokens"].as_u64().unwrap_or(0) > 0);
    }
    let metrics = get_text(&client(), &format!("{url}/metrics")).await;
    let batched = metric_sum(
        &metrics,
        "switchyard_batch_requests_total",
        &["outcome=\"batched\""],
    );
    let calls = metric_sum(&metrics, "switchyard_batch_requests_count", &[]);
    assert!(batched >= 16.0, "most calls were batched: {batched}");
    assert!(
        calls < batched,
        "{calls} upstream calls carried {batched} requests"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_429_and_a_spent_timeout_504() {
    let sims = start_sims(1).await;
    let yaml = batching_yaml(
        &sims[0].base_url(),
        "      max_batch_size: 64\n      max_queue_delay: 400ms\n      max_queued: 3\n      eager_when_quiet: false\n",
        "",
    );
    let router = start_router(&yaml).await;
    let url = router_url(&router);
    let answers = join_all((0..4).map(|i| embed(&url, json!(format!("t{i}"))))).await;
    let full: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 429).collect();
    assert_eq!(full.len(), 1, "one over the bound: {answers:?}");
    let (_, retry_after, body) = full[0];
    assert_eq!(retry_after.as_deref(), Some("1"));
    assert_eq!(body["error"]["code"], "batch_queue_full");
    assert_eq!(answers.iter().filter(|(s, _, _)| *s == 200).count(), 3);

    // A total timeout shorter than the queue delay: the request gives up waiting.
    let yaml = batching_yaml(
        &sims[0].base_url(),
        "      max_batch_size: 64\n      max_queue_delay: 1s\n      eager_when_quiet: false\n",
        "timeouts:\n  first_byte: 100ms\n  total: 150ms\n",
    );
    let router = start_router(&yaml).await;
    let (status, _, body) = embed(&router_url(&router), json!("late")).await;
    assert_eq!(status, 504, "{body}");
}

#[test]
fn batching_settings_are_checked() {
    let yaml = batching_yaml(
        "http://127.0.0.1:9",
        "      max_batch_size: 1\n      preferred_batch_sizes: [99]\n",
        "",
    );
    let error = load_str(&yaml, "test.yaml")
        .expect_err("invalid batching")
        .to_string();
    assert!(
        error.contains("models.") && error.contains("batching.max_batch_size"),
        "{error}"
    );
    assert!(error.contains("batching.preferred_batch_sizes"), "{error}");
}
