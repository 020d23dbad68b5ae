//! Cost of one routing decision at 4, 64 and 512 endpoints: the policy alone
//! over prepared snapshots, and `Pool::pick` over live endpoints (atomic
//! reads, health and breaker checks, the in-flight cap) as the request path
//! pays it.

// Setup may panic: a bench that cannot build its fixture has nothing to measure.
#![allow(clippy::expect_used)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use switchyard::config::{
    CacheAwareConfig, PassiveHealthConfig, PolicyKind, PrefixIndexKind, TimeoutsConfig,
};
use switchyard::endpoint::{Endpoint, EndpointSpec};
use switchyard::health::Breaker;
use switchyard::policy::{self, CacheAware, EndpointSnapshot, Policy, RequestFeatures};
use switchyard::pool::Pool;
use switchyard::prefix::{KvEventIndex, PromptKeying, token_block_keys};
use switchyard::tokenizer::PromptTokenizer;
use switchyard_backends::kv_events::KvEvent;
use switchyard_backends::{
    EngineKind, EngineLoad, HttpClientConfig, OpenAiEndpoint, build_http_client,
};

const SIZES: [usize; 3] = [4, 64, 512];
const POLICIES: [PolicyKind; 5] = [
    PolicyKind::RoundRobin,
    PolicyKind::Weighted,
    PolicyKind::Random,
    PolicyKind::LeastConnections,
    PolicyKind::PowerOfTwo,
];

fn features() -> RequestFeatures<'static> {
    RequestFeatures {
        model: "m",
        stream: true,
        body_bytes: 2048,
        prefix_blocks: &[],
        prompt_len: 0,
        prediction: None,
    }
}

/// Varied but deterministic load, with one endpoint in eight unavailable.
fn snapshots(n: usize) -> Vec<EndpointSnapshot> {
    (0..n)
        .map(|i| EndpointSnapshot {
            available: i % 8 != 7,
            weight: 1 + (i % 3) as u32,
            in_flight: ((i * 7919) % 37) as u32,
            engine_running: Some(((i * 31) % 16) as u32),
            engine_waiting: Some(((i * 17) % 5) as u32),
            kv_cache_usage: Some(0.5),
        })
        .collect()
}

fn bench_policies(c: &mut Criterion) {
    let mut group = c.benchmark_group("policy");
    for kind in POLICIES {
        for n in SIZES {
            let policy = policy::build(kind, 7);
            let snaps = snapshots(n);
            let view: &[EndpointSnapshot] = &snaps;
            group.bench_with_input(BenchmarkId::new(kind.as_str(), n), &n, |b, _| {
                b.iter(|| black_box(policy.pick(&features(), black_box(&view))))
            });
        }
    }
    group.finish();
}

fn live_pool(kind: PolicyKind, n: usize) -> Pool {
    let pool_name: Arc<str> = Arc::from("bench");
    let endpoints = (0..n)
        .map(|i| {
            let endpoint = Arc::new(Endpoint::new(EndpointSpec {
                index: i,
                name: format!("ep{i}"),
                pool: Arc::clone(&pool_name),
                kind: EngineKind::Vllm,
                weight: 1 + (i % 3) as u32,
                upstream: OpenAiEndpoint::new(
                    &format!("http://10.0.{}.{}:8000", i / 250, i % 250),
                    None,
                )
                .expect("valid url"),
                served_names: BTreeMap::new(),
                health_path: "/health".into(),
                metrics_path: Some("/metrics".into()),
                breaker: Breaker::new(PassiveHealthConfig::default()),
            }));
            endpoint.store_engine_load(&EngineLoad {
                running: Some(4),
                waiting: Some((i % 5) as u32),
                kv_cache_usage: Some(0.4),
                prefix_cache_queries: None,
                prefix_cache_hits: None,
            });
            // Hold some requests in flight for the whole run.
            for _ in 0..(i * 7919) % 37 {
                std::mem::forget(endpoint.acquire());
            }
            endpoint
        })
        .collect();
    Pool {
        name: pool_name,
        policy: policy::build(kind, 7),
        endpoints,
        client: build_http_client(&HttpClientConfig::default()),
        timeouts: TimeoutsConfig::default(),
        max_in_flight_per_endpoint: Some(1000),
        stale_after_ms: 60_000,
        audit: None,
        kv_events: None,
    }
}

fn bench_pool_pick(c: &mut Criterion) {
    let mut group = c.benchmark_group("pool_pick");
    for kind in POLICIES {
        for n in SIZES {
            let pool = live_pool(kind, n);
            group.bench_with_input(BenchmarkId::new(kind.as_str(), n), &n, |b, _| {
                b.iter(|| black_box(pool.pick(&features(), &[]).ok()))
            });
        }
    }
    group.finish();
}

/// `cache_aware` at 64 endpoints with 100k indexed blocks (1,000 prompts of 100 blocks each,
/// spread over the endpoints), deciding for a 2 KiB-block prompt that shares one of them.
fn bench_cache_aware(c: &mut Criterion) {
    let mut group = c.benchmark_group("cache_aware");
    let config = CacheAwareConfig {
        max_blocks: 200_000,
        ..CacheAwareConfig::default()
    };
    let policy = CacheAware::new(config, None, None);
    let snaps = snapshots(64);
    let view: &[EndpointSnapshot] = &snaps;
    let prompts: Vec<Vec<u64>> = (0..1000u64)
        .map(|p| (0..100u64).map(|b| p * 1_000_003 + b).collect())
        .collect();
    for prompt in &prompts {
        let features = RequestFeatures {
            prefix_blocks: prompt,
            prompt_len: prompt.len() * 64,
            ..features()
        };
        black_box(policy.pick(&features, &view));
    }
    assert!(
        policy.indexed_blocks() >= 100_000,
        "{}",
        policy.indexed_blocks()
    );
    let mut i = 0usize;
    group.bench_function("64 endpoints, 100k blocks, 32-block prompt", |b| {
        b.iter(|| {
            i = (i + 7) % prompts.len();
            let features = RequestFeatures {
                prefix_blocks: &prompts[i][..32],
                prompt_len: 32 * 64,
                ..features()
            };
            black_box(policy.pick(&features, black_box(&view)))
        })
    });
    group.finish();
}

/// `cache_aware` with `index: events`: 100k blocks stored through KV events (1,000 prompts of
/// 100 16-token blocks, spread over 64 endpoints), deciding for a 32-block prompt; the bridge
/// of recent decisions is consulted too.
fn bench_cache_aware_events(c: &mut Criterion) {
    let mut group = c.benchmark_group("cache_aware_events");
    const BLOCK: usize = 16;
    let config = CacheAwareConfig {
        index: PrefixIndexKind::Events,
        max_blocks: 200_000,
        block_tokens: BLOCK,
        ..CacheAwareConfig::default()
    };
    let events = Arc::new(KvEventIndex::new(64, config.max_blocks));
    let keying = PromptKeying::Tokens {
        tokenizer: Arc::new(PromptTokenizer::Simulator),
        block_tokens: BLOCK,
    };
    let policy = CacheAware::new(config, Some(keying), Some(Arc::clone(&events)));
    let prompts: Vec<Vec<u32>> = (0..1000u32)
        .map(|p| (0..(100 * BLOCK) as u32).map(|t| p * 7919 + t).collect())
        .collect();
    for (p, tokens) in prompts.iter().enumerate() {
        let hashes = (0..100u64).map(|b| (p as u64) << 32 | b).collect();
        let stored = KvEvent::BlockStored {
            block_hashes: hashes,
            parent_block_hash: None,
            token_ids: tokens.clone(),
            block_size: BLOCK as u32,
            lora_id: None,
            medium: Some("GPU".into()),
        };
        events.apply(p % 64, &[stored]);
    }
    assert!(events.len() >= 100_000, "{}", events.len());
    let keys: Vec<Vec<u64>> = prompts
        .iter()
        .map(|t| token_block_keys(&t[..32 * BLOCK], BLOCK))
        .collect();
    let snaps = snapshots(64);
    let view: &[EndpointSnapshot] = &snaps;
    let mut i = 0usize;
    group.bench_function("64 endpoints, 100k blocks, 32-block prompt", |b| {
        b.iter(|| {
            i = (i + 7) % keys.len();
            let features = RequestFeatures {
                prefix_blocks: &keys[i],
                prompt_len: 32 * BLOCK,
                ..features()
            };
            black_box(policy.pick(&features, black_box(&view)))
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_policies,
    bench_pool_pick,
    bench_cache_aware,
    bench_cache_aware_events
);
criterion_main!(benches);
