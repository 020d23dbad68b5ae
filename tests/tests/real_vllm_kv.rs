//! KV-cache-aware routing against real vLLM CPU engines (ignored by default; run by
//! `scripts/test-all.sh`, which has the vLLM venv): the router tokenizes prompts exactly as
//! vLLM does, follows each engine's KV events into its index, two router replicas fed by the
//! same events send a prefix to the same engine, and the self-audit's predictions agree with
//! what vLLM reports in `usage`.

use std::time::Duration;

use serde_json::json;
use switchyard::config::{TokenizerConfig, TokenizerKind};
use switchyard::tokenizer::PromptTokenizer;
use switchyard_tests::vllm_fleet::{Fleet, SERVED, repo_root, vllm_router_config};
use switchyard_tests::*;

const BLOCK_TOKENS: usize = 32;

fn model_dir() -> std::path::PathBuf {
    repo_root().join(".cache/models/tiny-llama")
}

async fn vllm_tokens(url: &str, body: serde_json::Value) -> Vec<u32> {
    let reply: serde_json::Value = client()
        .post(format!("{url}/tokenize"))
        .json(&body)
        .send()
        .await
        .expect("tokenize answers")
        .json()
        .await
        .expect("json");
    serde_json::from_value(reply["tokens"].clone()).unwrap_or_else(|_| panic!("{reply}"))
}

/// Router YAML for `cache_aware` with the event index over the fleet.
fn events_router_yaml(fleet: &Fleet) -> String {
    let mut yaml = vllm_router_config(&fleet.urls).replace(
        "    policy: least_connections\n",
        &format!(
            "    policy: cache_aware\n    cache_aware:\n      index: events\n      block_tokens: {BLOCK_TOKENS}\n      tokenizer:\n        path: {}\n",
            model_dir().display()
        ),
    );
    for (i, kv) in fleet.kv_events.iter().enumerate() {
        let (endpoint, replay) = kv.as_ref().expect("started with --kv-events");
        let name_line = format!("        name: ep{i}\n");
        yaml = yaml.replace(
            &name_line,
            &format!("{name_line}        kv_events:\n          endpoint: {endpoint}\n          replay_endpoint: {replay}\n          topic: kv\n"),
        );
    }
    yaml
}

/// A system prompt of about 200 tokens per group, so each group fills several blocks.
fn system_prompt(group: usize) -> String {
    (0..60)
        .map(|i| format!("rule{group}x{i}"))
        .collect::<Vec<_>>()
        .join(" ")
}

fn chat(group: usize, question: &str) -> serde_json::Value {
    json!({
        "model": SERVED,
        "messages": [
            {"role": "system", "content": system_prompt(group)},
            {"role": "user", "content": question},
        ],
        "max_tokens": 2,
    })
}

/// Sends one chat request; returns the endpoint that served it.
async fn send(router: &str, body: &serde_json::Value) -> String {
    let response = client()
        .post(format!("{router}/v1/chat/completions"))
        .json(body)
        .send()
        .await
        .expect("router answers");
    assert_eq!(response.status(), 200);
    let endpoint = response
        .headers()
        .get("x-switchyard-endpoint")
        .expect("endpoint header")
        .to_str()
        .expect("ascii")
        .to_owned();
    let _ = response.bytes().await;
    endpoint
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the vLLM venv; run by scripts/test-all.sh"]
async fn event_routing_on_real_vllm() {
    let fleet = Fleet::start_with(2, &["--kv-events", "--num-gpu-blocks", "96"]);

    // 1. The router's tokenization is vLLM's, for chat (through the chat template) and
    //    completions.
    let tokenizer = PromptTokenizer::load(&TokenizerConfig {
        kind: TokenizerKind::Huggingface,
        path: Some(model_dir()),
        chat_template: None,
    })
    .expect("tokenizer loads");
    let body = chat(3, "what is the rule?");
    let ours = tokenizer
        .prompt_tokens("/v1/chat/completions", body.to_string().as_bytes())
        .expect("chat renders");
    let theirs = vllm_tokens(
        &fleet.urls[0],
        json!({"model": SERVED, "messages": body["messages"], "add_generation_prompt": true}),
    )
    .await;
    assert_eq!(ours, theirs, "chat prompt tokens");
    let prompt = format!("{} and then", system_prompt(1));
    let ours = tokenizer
        .prompt_tokens(
            "/v1/completions",
            json!({"prompt": prompt}).to_string().as_bytes(),
        )
        .expect("completion tokens");
    let theirs = vllm_tokens(&fleet.urls[0], json!({"model": SERVED, "prompt": prompt})).await;
    assert_eq!(ours, theirs, "completion prompt tokens");

    // 2. Two router replicas on the same engines, both following their KV events.
    let yaml = events_router_yaml(&fleet);
    let a = start_router(&yaml).await;
    let b = start_router(&yaml).await;
    let (url_a, url_b) = (router_url(&a), router_url(&b));
    const GROUPS: usize = 6;
    let mut homes = Vec::new();
    for group in 0..GROUPS {
        homes.push(send(&url_a, &chat(group, "first question")).await);
    }
    let distinct: std::collections::BTreeSet<_> = homes.iter().collect();
    assert_eq!(
        distinct.len(),
        2,
        "idle engines share the new groups: {homes:?}"
    );
    // Router B never saw these groups; once the engines' events reach it, it must send each
    // group where router A did (its own decisions are not involved).
    let learned = eventually(Duration::from_secs(10), async || {
        kv_index_blocks(&url_b, "main").await >= (GROUPS * 6) as u64
    })
    .await;
    assert!(learned, "router B's event index did not fill");
    for (group, home) in homes.iter().enumerate() {
        let served = send(&url_b, &chat(group, &format!("another question {group}"))).await;
        assert_eq!(
            &served, home,
            "group {group}: router B agrees with router A"
        );
    }
    for (group, home) in homes.iter().enumerate() {
        let served = send(&url_a, &chat(group, "a third question")).await;
        assert_eq!(&served, home, "group {group}: router A keeps its groups");
    }

    // 3. The self-audit (both routers' samples, in the shared recorder): what they
    //    predicted matches what vLLM reported.
    {
        let text = get_text(&client(), &format!("{url_a}/metrics")).await;
        let predicted = metric_sum(
            &text,
            "switchyard_prefix_predicted_cached_tokens_total",
            &[],
        );
        let reported = metric_sum(&text, "switchyard_prefix_reported_cached_tokens_total", &[]);
        let drift = metric_sum(&text, "switchyard_prefix_prediction_drift", &[]);
        assert!(reported > 0.0, "vLLM reported cached tokens\n{text}");
        assert!(
            (predicted - reported).abs() <= 0.1 * reported,
            "predicted {predicted} vs reported {reported} cached tokens"
        );
        assert!(drift < 0.1, "mean absolute error {drift}");
    }
    a.shutdown().await;
    b.shutdown().await;
}
