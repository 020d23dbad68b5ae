//! The `cache_aware` policy on simulated engines with small KV caches: measured with
//! `switchyard bench`'s shared-prefix workload and read from the engines' own prefix-cache
//! counters, it keeps each prompt group where it is cached (far more hits than round robin)
//! without piling groups onto one engine.

use switchyard_bench::results::BenchResults;
use switchyard_sim::{SimConfig, Simulator};
use switchyard_tests::*;

const ENGINES: usize = 4;

async fn small_cache_sims() -> Vec<Simulator> {
    let mut sims = Vec::new();
    for seed in 0..ENGINES as u64 {
        sims.push(
            start_sim(SimConfig {
                seed,
                // 64 blocks of 16 tokens: room for about four of the 8 groups' prefixes.
                num_blocks: 64,
                ..SimConfig::zero_delay()
            })
            .await,
        );
    }
    sims
}

async fn shared_prefix_run(policy: &str) -> BenchResults {
    let sims = small_cache_sims().await;
    let urls: Vec<String> = sims.iter().map(Simulator::base_url).collect();
    let router = start_router(&router_yaml(policy, &urls, "", "")).await;
    let scrape: String = urls
        .iter()
        .enumerate()
        .map(|(i, u)| format!(" --scrape ep{i}={u}/metrics"))
        .collect();
    let args = format!(
        "--url {} --no-progress --workload shared-prefix --groups 8 --users 4 --prefix-len 200 \
         --suffix-len 8 --output-len 4 --concurrency 4 --requests 240 --seed 7{scrape}",
        router_url(&router)
    );
    let results = run_bench(&args).await;
    router.shutdown().await;
    for sim in sims {
        sim.shutdown().await;
    }
    results
}

fn engine_hit_rate(r: &BenchResults) -> f64 {
    let queries: f64 = r
        .endpoints
        .iter()
        .filter_map(|e| e.prefix_cache_queries)
        .sum();
    let hits: f64 = r.endpoints.iter().filter_map(|e| e.prefix_cache_hits).sum();
    hits / queries
}

fn imbalance(r: &BenchResults) -> f64 {
    let counts: Vec<u64> = r.endpoints.iter().map(|e| e.routed_requests).collect();
    let max = *counts.iter().max().unwrap() as f64;
    let min = *counts.iter().min().unwrap() as f64;
    max / min.max(1.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_aware_beats_round_robin_on_shared_prefixes_without_hot_spots() {
    let rr = shared_prefix_run("round_robin").await;
    let ca = shared_prefix_run("cache_aware").await;
    assert_eq!(rr.overall.requests_ok, 240);
    assert_eq!(ca.overall.requests_ok, 240);
    let (rr_hits, ca_hits) = (engine_hit_rate(&rr), engine_hit_rate(&ca));
    eprintln!(
        "engine prefix-cache hit rate: round_robin {rr_hits:.3}, cache_aware {ca_hits:.3}; \
         max/min requests: {:.2} vs {:.2}",
        imbalance(&rr),
        imbalance(&ca)
    );
    assert!(
        ca_hits > rr_hits + 0.3,
        "cache_aware {ca_hits:.3} vs round_robin {rr_hits:.3}"
    );
    assert!(imbalance(&ca) <= 2.0, "no hot spot: {:?}", ca.endpoints);
    assert!(
        ca.endpoints.iter().all(|e| e.routed_requests > 0),
        "every engine gets work"
    );
}

/// Predicted and reported cached tokens, and the prompt tokens they were audited over, for a
/// run where every question is new and each engine's share of the groups is larger than its
/// cache, so engines evict a group's prefix between its uses.
async fn audited_run(tag: &str, cache_extra: &str) -> (f64, f64, f64) {
    let sims = small_cache_sims().await;
    let urls: Vec<String> = sims.iter().map(Simulator::base_url).collect();
    let pool = format!(
        "cache_aware:\n  index: approximate\n  tokenizer: {{ kind: simulator }}\n  block_tokens: 16\n{cache_extra}"
    );
    // Metrics are process-wide and tests run side by side: endpoint names of this run's own.
    let yaml =
        router_yaml("cache_aware", &urls, &pool, "").replace("name: ep", &format!("name: {tag}"));
    let router = start_router(&yaml).await;
    // Give the router a few scrapes (every 100 ms) to read the engines' cache sizes.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let args = format!(
        "--url {} --no-progress --workload shared-prefix --unique-questions --groups 16 \
         --prefix-len 400 --suffix-len 24 --output-len 4 --concurrency 4 --requests 320 \
         --seed 9",
        router_url(&router)
    );
    let results = run_bench(&args).await;
    assert_eq!(results.overall.requests_ok, 320);
    let text = get_text(&client(), &format!("{}/metrics", router_url(&router))).await;
    let sum = |name: &str| -> f64 {
        (0..ENGINES)
            .map(|i| metric_sum(&text, name, &[&format!("endpoint=\"{tag}{i}\"")]))
            .sum()
    };
    let predicted = sum("switchyard_prefix_predicted_cached_tokens_total");
    let reported = sum("switchyard_prefix_reported_cached_tokens_total");
    let audited = sum("switchyard_prefix_audited_prompt_tokens_total");
    router.shutdown().await;
    for sim in sims {
        sim.shutdown().await;
    }
    (predicted, reported, audited)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approximate_index_ages_its_predictions_as_the_engines_evict() {
    // Sized from the simulators' own `vllm:cache_config_info`, and told the caches are
    // endless: the same workload's bookkeeping, with and without ageing.
    let aged = audited_run("aged", "").await;
    let endless = audited_run("endless", "  engine_cache_tokens: 1000000000\n").await;
    eprintln!("(predicted, reported, audited prompt tokens): aged {aged:?}, endless {endless:?}");
    // The error as a share of the prompts audited.
    let error = |(predicted, reported, audited): (f64, f64, f64)| {
        assert!(audited > 0.0, "nothing audited");
        (predicted - reported).abs() / audited
    };
    assert!(
        endless.0 - endless.1 > 0.2 * endless.2,
        "without ageing the index should count evicted prefixes as cached: {endless:?}"
    );
    assert!(
        error(aged) < 0.5 * error(endless),
        "ageing should at least halve the prediction error: {aged:?} vs {endless:?}"
    );
}
