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
