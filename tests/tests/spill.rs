//! Spill-over to external providers, on simulated engines. The providers
//! are FAKES (`switchyard-fakes`): local servers that follow OpenAI's,
//! Azure OpenAI's and Anthropic's wire formats and validate what the router
//! sends. They stand in because the real APIs cannot be called from tests.
//! GPU readings come from the FAKE `libnvidia-ml.so.1` (no GPU here).
//!
//! API keys: the router reads them from environment variables, and tests
//! cannot set one (`set_var` is unsafe in edition 2024 and unsafe code is
//! forbidden), so the key is the value of `CARGO_PKG_NAME`, which cargo
//! sets for every test run.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use serde_json::{Value, json};
use switchyard_fakes::{Api, FakeConfig, FakeProvider, Fault};
use switchyard_sim::SimConfig;
use switchyard_tests::fake_nvml::{fake_nvml, set_state};
use switchyard_tests::*;

const KEY_ENV: &str = "CARGO_PKG_NAME";

fn key() -> String {
    std::env::var(KEY_ENV).expect("cargo sets CARGO_PKG_NAME for tests")
}

async fn fake() -> FakeProvider {
    FakeProvider::start(FakeConfig {
        api_key: key(),
        ..FakeConfig::default()
    })
    .await
    .expect("fake provider starts")
}

/// Router YAML: pool `name` with `endpoints` (YAML list items), model
/// `name` spilling with `spill` (indented under `spill:`), and `providers`.
/// Tests share one metrics registry, so each uses a name of its own.
fn spill_yaml(
    name: &str,
    endpoints: &str,
    pool_extra: &str,
    spill: &str,
    providers: &str,
    top: &str,
) -> String {
    let indent = |text: &str, n: usize| -> String {
        text.lines()
            .map(|l| format!("{}{l}\n", " ".repeat(n)))
            .collect()
    };
    format!(
        "listeners:\n  - address: 127.0.0.1:0\nlogging:\n  level: warn\nhealth:\n  active:\n    interval: 100ms\n    timeout: 500ms\nretries:\n  max_attempts: 2\n  backoff_base: 5ms\nscrape:\n  interval: 100ms\n  stale_after: 1s\n{top}providers:\n{}pools:\n  {name}:\n{}    endpoints:\n{}models:\n  {name}:\n    pool: {name}\n    served_name: {MODEL}\n    spill:\n{}",
        indent(providers, 2),
        indent(pool_extra, 4),
        indent(endpoints, 6),
        indent(spill, 6),
    )
}

fn provider(name: &str, kind: &str, url: &str) -> String {
    let url = match kind {
        "openai" => format!("{url}/v1"),
        _ => url.to_owned(),
    };
    format!("{name}:\n  kind: {kind}\n  url: {url}\n  api_key_env: {KEY_ENV}\n  max_attempts: 2\n")
}

struct Answer {
    status: u16,
    served_by: String,
    reason: String,
    endpoint: String,
    body: Value,
    elapsed: Duration,
}

async fn chat(url: &str, body: &Value) -> Answer {
    let started = Instant::now();
    let response = client()
        .post(format!("{url}/v1/chat/completions"))
        .json(body)
        .send()
        .await
        .expect("router answers");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (served_by, reason, endpoint) = (
        header("x-switchyard-served-by"),
        header("x-switchyard-route-reason"),
        header("x-switchyard-endpoint"),
    );
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        served_by,
        reason,
        endpoint,
        body,
        elapsed: started.elapsed(),
    }
}

#[tokio::test]
async fn a_model_with_room_stays_local_and_says_so() {
    let sims = start_sims(1).await;
    let fake = fake().await;
    let yaml = spill_yaml(
        "room",
        &format!("- {{url: {}, name: ep0, kind: vllm}}", sims[0].base_url()),
        "",
        "to:\n  - {provider: cloud, model: gpt-4o-mini}",
        &provider("cloud", "openai", &fake.url()),
        "",
    );
    let router = start_router(&yaml).await;
    let a = chat(&router_url(&router), &chat_body("room", false, 4)).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        (a.served_by.as_str(), a.reason.as_str()),
        ("local", "has_room")
    );
    assert_eq!(a.endpoint, "ep0");
    assert!(fake.requests().is_empty(), "nothing spilled");
}

/// A saturated engine (the simulator runs two requests at a time, each
/// about 300 ms): once the router has learned its rate, a burst spills the
/// excess to the provider, and the model recovers once the burst is over.
#[tokio::test]
async fn a_queue_beyond_the_target_spills_and_spilling_stops_after_the_burst() {
    let sim = start_sim(SimConfig {
        max_num_seqs: 2,
        prefill_base: Duration::from_millis(5),
        decode_per_token: Duration::from_millis(20),
        ..SimConfig::zero_delay()
    })
    .await;
    let fake = fake().await;
    let yaml = spill_yaml(
        "queue",
        &format!("- {{url: {}, name: ep0, kind: vllm}}", sim.base_url()),
        "",
        "ttft_target: 1s\nenter_at: 0.5\nexit_at: 0.25\nevaluate_every: 100ms\nto:\n  - {provider: cloud, model: gpt-4o-mini}",
        &provider("cloud", "openai", &fake.url()),
        "",
    );
    let router = start_router(&yaml).await;
    let url = router_url(&router);
    let body = chat_body("queue", false, 15);
    // Learning: a queue of 6 on 2 slots (about 1 s of work, under the
    // enter mark while the rate is unknown) shows the engine's capacity.
    let warm = join_all((0..6).map(|_| chat(&url, &body))).await;
    assert!(
        warm.iter()
            .all(|a| a.status == 200 && a.served_by == "local")
    );
    let metrics = get_text(&client(), &format!("{url}/metrics")).await;
    assert_eq!(
        metric_sum(&metrics, "switchyard_endpoint_slots", &["pool=\"queue\""]),
        2.0,
        "the router learned the engine's concurrency:\n{metrics}"
    );
    assert!(
        metric_sum(
            &metrics,
            "switchyard_endpoint_completion_rate",
            &["pool=\"queue\""]
        ) > 1.0
    );

    // A burst of 24: about 3.6 s of local work against a 0.5 s mark.
    let burst = join_all((0..24).map(|_| chat(&url, &body))).await;
    assert!(burst.iter().all(|a| a.status == 200), "no request fails");
    let spilled: Vec<&Answer> = burst
        .iter()
        .filter(|a| a.served_by == "provider/cloud")
        .collect();
    let local = burst.len() - spilled.len();
    assert!(
        spilled.len() >= 12 && local >= 2,
        "spilled {} of {}",
        spilled.len(),
        burst.len()
    );
    assert!(spilled.iter().all(|a| a.reason == "queue_wait"));
    assert!(
        burst
            .iter()
            .filter(|a| a.served_by == "local")
            .all(|a| a.elapsed < Duration::from_secs(2)),
        "local requests waited within the target band"
    );
    // What reached the provider: the mapped model and its key.
    let sent = fake.requests();
    assert!(sent.iter().all(|r| r.api == Api::OpenAi && r.status == 200));
    assert_eq!(sent[0].body.as_ref().expect("json")["model"], "gpt-4o-mini");
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {}", key()).as_str())
    );
    let metrics = get_text(&client(), &format!("{url}/metrics")).await;
    assert!(
        metric_sum(
            &metrics,
            "switchyard_model_saturation_transitions_total",
            &[
                "model=\"queue\"",
                "to=\"saturated\"",
                "reason=\"queue_wait\""
            ]
        ) >= 1.0
    );

    // The burst is over: within two evaluations the model is back to normal.
    let recovered = eventually(Duration::from_millis(600), async || {
        let m = get_text(&client(), &format!("{url}/metrics")).await;
        metric_sum(&m, "switchyard_model_saturated", &["model=\"queue\""]) == 0.0
    })
    .await;
    assert!(recovered, "still saturated after the burst");
    for _ in 0..3 {
        let a = chat(&url, &body).await;
        assert_eq!((a.status, a.served_by.as_str()), (200, "local"));
    }
}

/// GPU memory read through NVML (the fake library, changed while the router
/// runs) saturates the model; the cap holds the spilled share; recovery
/// follows the memory back down.
#[tokio::test]
async fn gpu_memory_drives_spill_and_the_cap_holds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let library = fake_nvml(dir.path());
    set_state(&library, [40, 40], [50, 50]);
    let sims = start_sims(1).await;
    let fake = fake().await;
    let yaml = spill_yaml(
        "gpu",
        &format!(
            "- {{url: {}, name: ep0, kind: vllm, gpus: {{source: local, devices: [0]}}}}",
            sims[0].base_url()
        ),
        "",
        "max_fraction: 0.5\nwindow: 60s\nevaluate_every: 100ms\nto:\n  - {provider: cloud, model: gpt-4o-mini}",
        &provider("cloud", "openai", &fake.url()),
        &format!(
            "gpu_telemetry:\n  interval: 100ms\n  stale_after: 3s\n  nvml_library: {}\n",
            library.display()
        ),
    );
    let router = start_router(&yaml).await;
    let url = router_url(&router);
    let body = chat_body("gpu", false, 4);
    // 40 of 80 GiB: room.
    tokio::time::sleep(Duration::from_millis(400)).await;
    for _ in 0..4 {
        assert_eq!(chat(&url, &body).await.served_by, "local");
    }
    // 79 of 80 GiB (98.75%, over the 97% mark): spill, within the cap.
    set_state(&library, [79, 40], [100, 50]);
    let spilling = eventually(Duration::from_secs(2), async || {
        chat(&url, &body).await.served_by == "provider/cloud"
    })
    .await;
    assert!(spilling, "the router never followed the GPU's memory");
    let mut served = Vec::new();
    for _ in 0..20 {
        let a = chat(&url, &body).await;
        assert_eq!(a.status, 200);
        served.push((a.served_by, a.reason));
    }
    let spilled = served
        .iter()
        .filter(|(by, _)| by == "provider/cloud")
        .count();
    assert!(
        served
            .iter()
            .filter(|(by, _)| by == "provider/cloud")
            .all(|(_, reason)| reason == "gpu_memory")
    );
    assert!(
        served
            .iter()
            .filter(|(by, _)| by == "local")
            .all(|(_, reason)| reason == "spill_cap")
    );
    // Of all requests in the window (4 + 1+ + 20), at most half spilled.
    let metrics = get_text(&client(), &format!("{url}/metrics")).await;
    let total_spilled = metric_sum(
        &metrics,
        "switchyard_spill_decisions_total",
        &["model=\"gpu\"", "served_by=\"provider/cloud\""],
    );
    let total = metric_sum(
        &metrics,
        "switchyard_spill_decisions_total",
        &["model=\"gpu\""],
    );
    assert!(
        total_spilled <= 0.5 * total + 1.0 && spilled >= 8,
        "spilled {total_spilled} of {total}"
    );
    // 94% is under the high mark but over the low one (93%): still saturated.
    set_state(&library, [75, 40], [100, 50]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let metrics = get_text(&client(), &format!("{url}/metrics")).await;
    let gpus = get_text(&client(), &format!("{url}/gpus")).await;
    assert_eq!(
        metric_sum(&metrics, "switchyard_model_saturated", &["model=\"gpu\""]),
        1.0,
        "{gpus}\n{metrics}"
    );
    // Back to 50%: local again within two polls.
    set_state(&library, [40, 40], [50, 50]);
    let local = eventually(Duration::from_millis(800), async || {
        chat(&url, &body).await.served_by == "local"
    })
    .await;
    assert!(local, "spilling did not stop after the memory dropped");
}

/// Budgets: spend is reserved before a call and settled from the reported
/// usage; over budget, `when_blocked: reject` answers 429 with Retry-After.
#[tokio::test]
async fn the_budget_holds_and_then_requests_are_refused() {
    let fake = fake().await;
    let yaml = spill_yaml(
        "budget",
        &format!("- {{url: {}, name: dead, kind: openai}}", unused_url()),
        "",
        "when_blocked: reject\nmax_wait: 100ms\nto:\n  - {provider: metered, model: gpt-4o-mini, price: {input_per_mtok: 0, output_per_mtok: 100000}}",
        &format!(
            "{}  budget: {{usd: 5, period: 1h}}\n",
            provider("metered", "openai", &fake.url())
        ),
        "",
    );
    let router = start_router(&yaml).await;
    let url = router_url(&router);
    wait_until_down(&url, "budget").await;
    // 16 output tokens at $0.10 each: $1.60 a request; three fit in $5.
    let body = chat_body("budget", false, 16);
    for _ in 0..3 {
        let a = chat(&url, &body).await;
        assert_eq!(
            (a.status, a.served_by.as_str()),
            (200, "provider/metered"),
            "{}",
            a.body
        );
        assert_eq!(a.reason, "no_healthy_endpoint");
        assert_eq!(a.body["usage"]["completion_tokens"], 16);
    }
    let refused = chat(&url, &body).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.reason, "budget");
    assert_eq!(refused.body["error"]["code"], "model_saturated");
    let metrics = get_text(&client(), &format!("{url}/metrics")).await;
    let spent = metric_sum(
        &metrics,
        "switchyard_provider_spend_usd",
        &["provider=\"metered\""],
    );
    assert!((spent - 4.8).abs() < 1e-6, "spent {spent}");
    assert_eq!(
        fake.ok_count(Api::OpenAi),
        3,
        "the fourth never reached the provider"
    );
}

/// Retry-After is honoured on the same provider; a provider that keeps
/// failing hands over to the next one; when all fail, the request stays
/// local.
#[tokio::test]
async fn retry_after_is_honoured_and_failing_providers_hand_over() {
    let fake = fake().await;
    let providers = format!(
        "{}{}",
        provider("claude", "anthropic", &fake.url()),
        provider("cloud", "openai", &fake.url())
    );
    let yaml = spill_yaml(
        "handover",
        &format!("- {{url: {}, name: dead, kind: openai}}", unused_url()),
        "",
        "to:\n  - {provider: claude, model: claude-haiku-4-5}\n  - {provider: cloud, model: gpt-4o-mini}",
        &providers,
        "",
    );
    let router = start_router(&yaml).await;
    let url = router_url(&router);
    wait_until_down(&url, "handover").await;
    let body = chat_body("handover", false, 8);

    fake.fail_next(
        1,
        Fault::RateLimited {
            retry_after_secs: 1,
        },
    );
    let a = chat(&url, &body).await;
    assert_eq!(
        (a.status, a.served_by.as_str()),
        (200, "provider/claude"),
        "{}",
        a.body
    );
    assert!(
        a.elapsed >= Duration::from_secs(1),
        "waited {:?}",
        a.elapsed
    );
    let sent = fake.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!((sent[0].status, sent[1].status), (429, 200));
    assert_eq!(a.body["object"], "chat.completion");

    fake.clear_requests();
    fake.fail_next(2, Fault::Overloaded);
    let a = chat(&url, &body).await;
    assert_eq!(
        (a.status, a.served_by.as_str()),
        (200, "provider/cloud"),
        "{}",
        a.body
    );
    let apis: Vec<(Api, u16)> = fake.requests().iter().map(|r| (r.api, r.status)).collect();
    assert_eq!(
        apis,
        [
            (Api::Anthropic, 529),
            (Api::Anthropic, 529),
            (Api::OpenAi, 200)
        ]
    );

    // Every provider failing: the request cannot stay local (no endpoint),
    // so the client gets the router's 503.
    fake.fail_next(4, Fault::Status(500));
    let a = chat(&url, &body).await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(a.reason, "provider_failed");
}

/// Azure: the deployment path, api-version and api-key header, for chat
/// (streamed and not) and embeddings.
#[tokio::test]
async fn azure_gets_its_paths_and_headers() {
    let fake = fake().await;
    let yaml = spill_yaml(
        "azure",
        &format!("- {{url: {}, name: dead, kind: openai}}", unused_url()),
        "",
        "to:\n  - {provider: az, model: my-deployment}",
        &format!(
            "{}  api_version: 2024-10-21\n",
            provider("az", "azure", &fake.url())
        ),
        "",
    );
    let router = start_router(&yaml).await;
    let url = router_url(&router);
    wait_until_down(&url, "azure").await;
    let a = chat(&url, &chat_body("azure", false, 4)).await;
    assert_eq!(
        (a.status, a.served_by.as_str()),
        (200, "provider/az"),
        "{}",
        a.body
    );

    let streamed = client()
        .post(format!("{url}/v1/chat/completions"))
        .json(&chat_body("azure", true, 4))
        .send()
        .await
        .expect("stream");
    assert_eq!(streamed.status(), 200);
    let text = streamed.text().await.expect("sse");
    assert!(text.trim_end().ends_with("data: [DONE]"), "{text}");
    assert!(
        !text.contains("\"prompt_tokens\""),
        "the usage chunk the router asked for is not passed to a client that did not:\n{text}"
    );
    assert!(
        text.contains("prompt_filter_results"),
        "Azure's own first chunk (no choices, no usage) stays:\n{text}"
    );

    let embedded = client()
        .post(format!("{url}/v1/embeddings"))
        .json(&json!({"model": "azure", "input": ["one", "two"]}))
        .send()
        .await
        .expect("embeddings");
    assert_eq!(embedded.status(), 200);
    let embedded: Value = embedded.json().await.expect("json");
    assert_eq!(embedded["data"].as_array().map(Vec::len), Some(2));

    let sent = fake.requests();
    assert_eq!(sent.len(), 3);
    for r in &sent {
        assert_eq!(r.api, Api::Azure);
        assert_eq!(r.status, 200, "{:?}", r.rejection);
        assert_eq!(r.query.as_deref(), Some("api-version=2024-10-21"));
        assert_eq!(r.header("api-key"), Some(key().as_str()));
        assert_eq!(
            r.header("authorization"),
            None,
            "no client credentials leak"
        );
    }
    assert_eq!(
        sent[0].path,
        "/openai/deployments/my-deployment/chat/completions"
    );
    assert_eq!(
        sent[1].body.as_ref().expect("json")["stream_options"]["include_usage"],
        true
    );
    assert_eq!(sent[2].path, "/openai/deployments/my-deployment/embeddings");
}

#[tokio::test]
async fn spill_settings_are_checked() {
    let cases = [
        (
            "to:\n  - {provider: nowhere, model: m}",
            "models.checked.spill.to[0].provider",
        ),
        (
            "enter_at: 0.2\nexit_at: 0.5\nto:\n  - {provider: cloud, model: m}",
            "models.checked.spill.exit_at",
        ),
        (
            "max_fraction: 1.5\nto:\n  - {provider: cloud, model: m}",
            "models.checked.spill.max_fraction",
        ),
        ("to: []", "models.checked.spill.to"),
    ];
    for (spill, path) in cases {
        let yaml = spill_yaml(
            "checked",
            "- {url: http://127.0.0.1:9, name: ep0}",
            "",
            spill,
            &provider("cloud", "openai", "http://127.0.0.1:9"),
            "",
        );
        let error = switchyard::config::load_str(&yaml, "t.yaml")
            .expect_err("invalid spill settings are refused")
            .to_string();
        assert!(error.contains(path), "{path} not in: {error}");
    }
    let azure_without_url = spill_yaml(
        "checked",
        "- {url: http://127.0.0.1:9, name: ep0}",
        "",
        "to:\n  - {provider: az, model: m}",
        &format!("az:\n  kind: azure\n  api_key_env: {KEY_ENV}\n"),
        "",
    );
    let error = switchyard::config::load_str(&azure_without_url, "t.yaml")
        .expect_err("azure needs a url")
        .to_string();
    assert!(error.contains("providers.az.url"), "{error}");
}
