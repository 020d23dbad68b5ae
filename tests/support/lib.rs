//! Shared fixtures for the integration tests: simulated engines, a router
//! started in-process on a free port, and a scripted upstream for
//! byte-level checks.

pub mod fake_nvml;
pub mod scripted_upstream;
pub mod server_fleet;
pub mod vllm_fleet;

use std::net::SocketAddr;
use std::time::Duration;

use switchyard::RunningRouter;
use switchyard::config::load_str;
use switchyard_sim::{SimConfig, Simulator};

pub const MODEL: &str = "sim-model";

pub fn localhost() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Starts `n` zero-delay simulators serving `MODEL`.
pub async fn start_sims(n: usize) -> Vec<Simulator> {
    let mut sims = Vec::new();
    for i in 0..n {
        let config = SimConfig {
            seed: i as u64,
            ..SimConfig::zero_delay()
        };
        sims.push(start_sim(config).await);
    }
    sims
}

pub async fn start_sim(config: SimConfig) -> Simulator {
    Simulator::start(config, localhost())
        .await
        .expect("simulator starts")
}

/// Router YAML with one pool of `urls` serving `MODEL`. `pool_extra` is
/// indented into the pool, `top_extra` appended at the top level. Probes
/// and scrapes are fast so tests see state changes quickly.
pub fn router_yaml(policy: &str, urls: &[String], pool_extra: &str, top_extra: &str) -> String {
    let endpoints: String = urls
        .iter()
        .enumerate()
        .map(|(i, url)| format!("      - url: {url}\n        name: ep{i}\n        kind: vllm\n"))
        .collect();
    let pool_extra: String = pool_extra.lines().map(|l| format!("    {l}\n")).collect();
    format!(
        "listeners:\n  - address: 127.0.0.1:0\nlogging:\n  level: warn\nhealth:\n  active:\n    interval: 100ms\n    timeout: 500ms\n    unhealthy_threshold: 2\n    healthy_threshold: 2\n  passive:\n    consecutive_failures: 2\n    base_ejection: 500ms\n    max_ejection: 2s\nretries:\n  max_attempts: 3\n  backoff_base: 5ms\n  backoff_max: 20ms\nscrape:\n  interval: 100ms\n  stale_after: 1s\npools:\n  main:\n    policy: {policy}\n{pool_extra}    endpoints:\n{endpoints}models:\n  {MODEL}:\n    pool: main\n{top_extra}"
    )
}

pub async fn start_router(yaml: &str) -> RunningRouter {
    let loaded = load_str(yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}\n---\n{yaml}"));
    RunningRouter::start(&loaded.config)
        .await
        .expect("router starts")
}

pub fn router_url(router: &RunningRouter) -> String {
    format!("http://{}", router.addresses()[0])
}

/// Runs `switchyard bench` with command-line flags, in process; a bad flag or a failed run
/// fails the test.
pub async fn run_bench(args: &str) -> switchyard_bench::results::BenchResults {
    let args = switchyard_bench::cli::parse_run_args(args.split_whitespace())
        .unwrap_or_else(|e| panic!("{e}"));
    switchyard_bench::app::run(&args)
        .await
        .unwrap_or_else(|e| panic!("bench failed: {e}"))
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

pub fn chat_body(model: &str, stream: bool, max_tokens: u32) -> serde_json::Value {
    serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": "Tell me about switchyards and trains."}],
        "max_tokens": max_tokens,
        "stream": stream,
    })
}

/// Polls `check` every 20 ms until it holds or `timeout` passes.
pub async fn eventually(timeout: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends one non-streamed chat request for `MODEL` and returns (status,
/// serving endpoint).
pub async fn chat_once(client: &reqwest::Client, url: &str) -> (u16, Option<String>) {
    chat_once_for(client, url, MODEL).await
}

pub async fn chat_once_for(
    client: &reqwest::Client,
    url: &str,
    model: &str,
) -> (u16, Option<String>) {
    let response = client
        .post(format!("{url}/v1/chat/completions"))
        .json(&chat_body(model, false, 4))
        .send()
        .await
        .expect("router answers");
    let endpoint = response
        .headers()
        .get("x-switchyard-endpoint")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let status = response.status().as_u16();
    let _ = response.bytes().await;
    (status, endpoint)
}

/// The value of an unlabelled-or-labelled sample in Prometheus text whose
/// line starts with `prefix` (name plus any labels), summed over matches.
pub fn metric_sum(text: &str, name: &str, label_filter: &[&str]) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter(|l| {
            let rest = &l[name.len()..];
            rest.starts_with('{') || rest.starts_with(' ')
        })
        .filter(|l| label_filter.iter().all(|f| l.contains(f)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// A router's `/health` document.
pub async fn router_health(router_url: &str) -> serde_json::Value {
    client()
        .get(format!("{router_url}/health"))
        .send()
        .await
        .expect("health answers")
        .json()
        .await
        .expect("health json")
}

/// Blocks a router's event index holds for `pool`, from its `/health`.
pub async fn kv_index_blocks(router_url: &str, pool: &str) -> u64 {
    router_health(router_url).await["pools"][pool]["kv_index_blocks"]
        .as_u64()
        .unwrap_or(0)
}

/// `GET url` as text (the router's or an engine's `/metrics`, say).
pub async fn get_text(client: &reqwest::Client, url: &str) -> String {
    client
        .get(url)
        .send()
        .await
        .expect("GET answers")
        .text()
        .await
        .expect("text body")
}

/// A URL on which nothing listens: a port that was free a moment ago.
pub fn unused_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    format!("http://{}", listener.local_addr().expect("addr"))
}

/// `router_yaml` output with active health probes turned off, so only real
/// traffic (and the breaker) can find a dead endpoint.
pub fn without_active_probes(yaml: &str) -> String {
    yaml.replace(
        "    interval: 100ms\n    timeout: 500ms",
        "    enabled: false\n    interval: 100ms\n    timeout: 500ms",
    )
}

/// Waits until the router's only local endpoint is seen as down.
pub async fn wait_until_down(url: &str, pool: &str) {
    let down = eventually(Duration::from_secs(5), async || {
        router_health(url).await["pools"][pool]["healthy_endpoints"] == 0
    })
    .await;
    assert!(down, "the dead endpoint was never marked down");
}
