//! Spill-over end to end on two real vLLM CPU instances: `switchyard bench`
//! offers twice what they can serve; the router keeps the local queue near
//! its target and spills the excess to a provider, then stops spilling when
//! the load drops. The provider is a FAKE OpenAI (`switchyard-fakes`, the
//! real wire format, served locally), since the real API cannot be called
//! from tests. The API key is the value of `CARGO_PKG_NAME` (see spill.rs).
//!
//! Run: `cargo test -p switchyard-tests --test real_vllm_spill -- --ignored --nocapture`
//! (`scripts/bench/spill.sh` does that and prints the figures README quotes).

use std::time::Duration;

use switchyard_bench::results::{BenchResults, RequestSample};
use switchyard_fakes::{FakeConfig, FakeProvider};
use switchyard_tests::vllm_fleet::{Fleet, SERVED, vllm_router_config};
use switchyard_tests::*;

const TTFT_TARGET_MS: f64 = 2000.0;
/// The saturation loop's period (`evaluate_every`).
const EVALUATE_MS: f64 = 250.0;
const WORKLOAD: &str = "--input-len 64 --output-len 32 --ignore-eos";

fn spill_config(urls: &[String], provider_url: &str) -> String {
    let base = vllm_router_config(urls);
    let (head, models) = base.split_once("models:\n").expect("models section");
    format!(
        "{head}providers:\n  cloud:\n    kind: openai\n    url: {provider_url}/v1\n    api_key_env: CARGO_PKG_NAME\nmodels:\n{models}    spill:\n      ttft_target: {TTFT_TARGET_MS}ms\n      enter_at: 0.5\n      exit_at: 0.25\n      evaluate_every: {EVALUATE_MS}ms\n      to:\n        - {{provider: cloud, model: gpt-4o-mini}}\n"
    )
}

fn p99(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    if values.is_empty() {
        return 0.0;
    }
    values[((values.len() as f64 * 0.99).ceil() as usize).clamp(1, values.len()) - 1]
}

fn spilled(s: &RequestSample) -> bool {
    s.endpoint.as_deref() == Some("provider/cloud")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs real vLLM: scripts/vllm/install.sh"]
async fn twice_the_local_capacity_spills_the_excess_and_stops_when_load_drops() {
    // The engines share CPU 0 and leave CPU 1 to the router, the bench and the
    // provider: on this 2-core machine that is what separate GPUs are.
    let fleet = Fleet::start_with(2, &["--cpus", "0"]);
    let provider = FakeProvider::start(FakeConfig {
        api_key: std::env::var("CARGO_PKG_NAME").expect("set by cargo"),
        ttft: Duration::from_millis(40),
        token_interval: Duration::from_millis(5),
        default_max_words: 4,
        ..FakeConfig::default()
    })
    .await
    .expect("fake provider");

    // Local capacity: closed loop through a router that never spills.
    let plain = start_router(&vllm_router_config(&fleet.urls)).await;
    let capacity: BenchResults = run_bench(&format!(
        "--url {} --model {SERVED} --no-progress --concurrency 16 --duration 15s --warmup-requests 16 {WORKLOAD}",
        router_url(&plain)
    ))
    .await;
    let capacity_rps = capacity.overall.request_throughput;
    assert_eq!(capacity.overall.requests_failed, 0);
    drop(plain);

    // Twice that, then a quarter of it, through the spilling router.
    let router = start_router(&spill_config(&fleet.urls, &provider.url())).await;
    let (high, low) = (2.0 * capacity_rps, capacity_rps / 4.0);
    let high_s = 30.0;
    let results = run_bench(&format!(
        "--url {} --model {SERVED} --no-progress --rate {high:.2},{low:.2} --arrivals poisson \
         --duration {high_s}s --warmup 5s {WORKLOAD}",
        router_url(&router)
    ))
    .await;
    let overload = &results.stages[0].summary;
    let after = &results.stages[1].summary;
    let in_overload: Vec<&RequestSample> =
        results.samples.iter().filter(|s| s.t_s < high_s).collect();
    let spilled_n = in_overload.iter().filter(|s| spilled(s)).count();
    let spilled_fraction = spilled_n as f64 / in_overload.len().max(1) as f64;
    let excess = 1.0 - capacity_rps / high;
    let local_ttft: Vec<f64> = in_overload
        .iter()
        .filter(|s| !spilled(s))
        .filter_map(|s| s.ttft_ms)
        .collect();
    let spilled_ttft: Vec<f64> = in_overload
        .iter()
        .filter(|s| spilled(s))
        .filter_map(|s| s.ttft_ms)
        .collect();
    let local_p99 = p99(local_ttft.clone());
    let late_spills: Vec<f64> = results
        .samples
        .iter()
        .filter(|s| s.t_s >= high_s && spilled(s))
        .map(|s| s.t_s - high_s)
        .collect();
    let last_spill_after_drop_ms = late_spills.iter().copied().fold(0.0, f64::max) * 1000.0;

    println!(
        "SPILL_RESULTS capacity_rps={capacity_rps:.2} offered_rps={high:.2} excess={excess:.3}"
    );
    println!(
        "SPILL_RESULTS requests={} failed={} spilled={spilled_n} spilled_fraction={spilled_fraction:.3}",
        in_overload.len(),
        overload.requests_failed + after.requests_failed
    );
    println!(
        "SPILL_RESULTS local_ttft_p99_ms={local_p99:.0} local_ttft_p50_ms={:.0} spilled_ttft_p99_ms={:.0} target_ms={TTFT_TARGET_MS:.0}",
        {
            let mut v = local_ttft.clone();
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(0.0)
        },
        p99(spilled_ttft)
    );
    println!(
        "SPILL_RESULTS after_drop_spills={} last_spill_after_drop_ms={last_spill_after_drop_ms:.0} limit_ms={:.0}",
        late_spills.len(),
        2.0 * EVALUATE_MS
    );

    assert_eq!(
        overload.requests_failed + after.requests_failed,
        0,
        "no request fails: {:?} {:?}",
        overload.errors,
        after.errors
    );
    assert!(
        (spilled_fraction - excess).abs() <= 0.10,
        "spilled {spilled_fraction:.3} of requests against an excess of {excess:.3}"
    );
    assert!(
        local_p99 <= TTFT_TARGET_MS,
        "local p99 TTFT {local_p99:.0} ms over the {TTFT_TARGET_MS} ms target"
    );
    assert!(
        last_spill_after_drop_ms <= 2.0 * EVALUATE_MS,
        "spilled {late_spills:?} s after the load dropped"
    );
    let metrics = get_text(&client(), &format!("{}/metrics", router_url(&router))).await;
    assert_eq!(
        metric_sum(&metrics, "switchyard_model_saturated", &[]),
        0.0,
        "the model is back to normal"
    );
}
