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
use switchyard::config::{PassiveHealthConfig, PolicyKind, TimeoutsConfig};
use switchyard::endpoint::{Endpoint, EndpointSpec};
use switchyard::health::Breaker;
use switchyard::policy::{self, EndpointSnapshot, Policy, RequestFeatures};
use switchyard::pool::Pool;
use switchyard_backends::{
    EngineKind, EngineLoad, HttpClientConfig, HttpUpstream, build_grpc_client, build_http_client,
};
use switchyard_benches::{approximate_fixture, events_fixture, features, snapshots};

const SIZES: [usize; 3] = [4, 64, 512];
const POLICIES: [PolicyKind; 5] = [
    PolicyKind::RoundRobin,
    PolicyKind::Weighted,
    PolicyKind::Random,
    PolicyKind::LeastConnections,
    PolicyKind::PowerOfTwo,
];

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
                upstream: HttpUpstream::new(
                    &format!("http://10.0.{}.{}:8000", i / 250, i % 250),
                    None,
                )
                .expect("valid url"),
                grpc: None,
                metrics: None,
                served_names: BTreeMap::new(),
                health_path: "/health".into(),
                metrics_path: Some("/metrics".into()),
                breaker: Breaker::new(PassiveHealthConfig::default()),
            }));
            endpoint.store_engine_load(
                &EngineLoad {
                    running: Some(4),
                    waiting: Some((i % 5) as u32),
                    kv_cache_usage: Some(0.4),
                    ..EngineLoad::default()
                },
                None,
            );
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
        grpc_client: build_grpc_client(&HttpClientConfig::default()),
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

/// `cache_aware` at 64 endpoints with 100k indexed blocks, deciding for a 32-block prompt
/// that shares a cached prefix: the approximate index, and the event index (plus the bridge
/// of recent decisions). Fixtures in `benches/src/lib.rs`.
fn bench_cache_aware(c: &mut Criterion) {
    let snaps = snapshots(64);
    let view: &[EndpointSnapshot] = &snaps;
    for (group_name, fixture) in [
        ("cache_aware", approximate_fixture(view)),
        ("cache_aware_events", events_fixture()),
    ] {
        let mut group = c.benchmark_group(group_name);
        let mut i = 0usize;
        group.bench_function("64 endpoints, 100k blocks, 32-block prompt", |b| {
            b.iter(|| {
                i = (i + 7) % fixture.prompts.len();
                let (keys, len) = &fixture.prompts[i];
                let request = RequestFeatures {
                    prefix_blocks: keys,
                    prompt_len: *len,
                    ..features()
                };
                black_box(fixture.policy.pick(&request, black_box(&view)))
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench_policies, bench_pool_pick, bench_cache_aware);
criterion_main!(benches);
