//! Per-decision latency of `cache_aware` at 64 endpoints with 100k indexed blocks, as a
//! distribution (criterion reports means): each decision is timed on its own and recorded in
//! an HDR histogram. The clock read costs a few tens of nanoseconds, included; the first
//! line times no decision at all, the floor this machine's noise sets.
//!
//!     cargo run --release -p switchyard-benches --bin decision-latency [-- DECISIONS]

use std::hint::black_box;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use switchyard::policy::{EndpointSnapshot, Policy, RequestFeatures};
use switchyard_benches::{
    CacheAwareFixture, approximate_fixture, events_fixture, events_fixture_bridging, features,
    snapshots,
};

fn measure(name: &str, fixture: &CacheAwareFixture, view: &[EndpointSnapshot], decisions: usize) {
    record(name, decisions, |round| {
        let (keys, len) = &fixture.prompts[(round * 7) % fixture.prompts.len()];
        let request = RequestFeatures {
            prefix_blocks: keys,
            prompt_len: *len,
            ..features()
        };
        black_box(fixture.policy.pick(&request, black_box(&view)));
    });
}

/// Times `decide(round)` once per round into a histogram and prints its quantiles.
fn record(name: &str, decisions: usize, mut decide: impl FnMut(usize)) {
    let Ok(mut histogram) = Histogram::<u64>::new_with_bounds(1, 10_000_000, 3) else {
        return;
    };
    for round in 0..decisions {
        let started = Instant::now();
        decide(round);
        let _ = histogram.record(started.elapsed().as_nanos() as u64);
    }
    let us = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{name}: {decisions} decisions, p50 {:.2} us, p99 {:.2} us, p99.9 {:.2} us, max {:.2} us",
        us(0.5),
        us(0.99),
        us(0.999),
        histogram.max() as f64 / 1000.0
    );
}

fn main() {
    let decisions = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(200_000);
    // The floor: the clock reads and whatever the machine interrupts them with.
    record(
        "no decision (timer and machine noise)",
        decisions,
        |round| {
            black_box(round);
        },
    );
    let snaps = snapshots(64);
    let view: &[EndpointSnapshot] = &snaps;
    measure(
        "cache_aware approximate, 64 endpoints, 100k blocks",
        &approximate_fixture(view),
        view,
        decisions,
    );
    measure(
        "cache_aware events, 64 endpoints, 100k blocks",
        &events_fixture(),
        view,
        decisions,
    );
    // The bridge's generations turn over during the run, as they do every `bridge_ttl` (2 s)
    // in a router: the cost of starting one and retiring the last shows in the tail.
    measure(
        "cache_aware events, bridge renewed every 5 ms",
        &events_fixture_bridging(Duration::from_millis(5)),
        view,
        decisions,
    );
}
