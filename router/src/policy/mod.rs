//! Routing policies: small, pure functions of (request features, endpoint
//! snapshots) that return the index of the endpoint to use. They never
//! block and never touch the network; telemetry loops keep the snapshots
//! fresh.

mod cache_aware;
mod least_connections;
mod power_of_two;
mod random;
mod rng;
mod round_robin;
mod weighted;

use std::fmt;

pub use cache_aware::CacheAware;
pub use least_connections::LeastConnections;
pub use power_of_two::PowerOfTwo;
pub use random::Random;
pub use round_robin::RoundRobin;
pub use weighted::Weighted;

use crate::config::{CacheAwareConfig, PolicyKind};
use crate::prefix::PromptKeying;
pub use crate::prefix::audit::CachePrediction;

/// What a policy may know about the request.
#[derive(Debug, Clone, Copy)]
pub struct RequestFeatures<'a> {
    pub model: &'a str,
    pub stream: bool,
    /// Size of the request body, a cheap proxy for prompt length.
    pub body_bytes: usize,
    /// Chained keys of the prompt's blocks, when the policy asked for them
    /// ([`Policy::prompt_keying`]); empty otherwise.
    pub prefix_blocks: &'a [u64],
    /// Length of the prompt in the keying's unit, bytes or tokens (0 when not keyed).
    pub prompt_len: usize,
    /// Where a prefix-aware policy leaves the cached blocks it predicted for its choice,
    /// for the self-audit.
    pub prediction: Option<&'a CachePrediction>,
}

/// Everything a policy may read about one endpoint, at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EndpointSnapshot {
    /// Healthy, not ejected, under its in-flight cap, and not already tried
    /// for this request.
    pub available: bool,
    pub weight: u32,
    /// Requests this router has in flight to the endpoint.
    pub in_flight: u32,
    /// The engine's own running count, when a fresh scrape has it.
    pub engine_running: Option<u32>,
    /// The engine's own waiting queue, when a fresh scrape has it.
    pub engine_waiting: Option<u32>,
    /// The engine's KV-cache usage (0..=1), when a fresh scrape has it.
    pub kv_cache_usage: Option<f32>,
    /// Mean wait in the engine's own queue over the last scrape interval
    /// (Triton, TorchServe), when a fresh scrape has it.
    pub engine_queue_wait_us: Option<f32>,
    /// How many tokens the engine's KV cache holds, once a scrape has read it (vLLM).
    pub kv_cache_tokens: Option<u64>,
    /// Prompt the engine is still to compute for this router's requests awaiting their first
    /// byte, in the units of the pool's policy (0 where the policy predicts none).
    pub pending_prefill: u64,
}

impl EndpointSnapshot {
    /// Work the endpoint has that a new request would queue behind: what
    /// this router sent it plus what the engine says is waiting.
    pub fn load(&self) -> u64 {
        u64::from(self.in_flight) + u64::from(self.engine_waiting.unwrap_or(0))
    }
}

/// A read-only view of a pool's endpoints. Production reads live atomics
/// through it without copying the whole pool; tests use a plain slice.
pub trait EndpointSnapshots {
    fn len(&self) -> usize;
    fn get(&self, index: usize) -> EndpointSnapshot;
    /// `get(index).available`, which a live view can answer without
    /// reading the engine gauges.
    fn is_available(&self, index: usize) -> bool {
        self.get(index).available
    }
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl EndpointSnapshots for &[EndpointSnapshot] {
    fn len(&self) -> usize {
        <[EndpointSnapshot]>::len(self)
    }
    fn get(&self, index: usize) -> EndpointSnapshot {
        self[index]
    }
}

impl<const N: usize> EndpointSnapshots for [EndpointSnapshot; N] {
    fn len(&self) -> usize {
        N
    }
    fn get(&self, index: usize) -> EndpointSnapshot {
        self[index]
    }
}

pub trait Policy: Send + Sync + fmt::Debug {
    fn name(&self) -> &'static str;
    /// How to key prompts, when the policy routes on prompt prefixes: the request path then
    /// keys the prompt once and fills [`RequestFeatures::prefix_blocks`].
    fn prompt_keying(&self) -> Option<&PromptKeying> {
        None
    }
    /// The chosen endpoint's index, or `None` when no endpoint is available.
    fn pick(
        &self,
        request: &RequestFeatures<'_>,
        endpoints: &dyn EndpointSnapshots,
    ) -> Option<usize>;
}

/// A policy of `kind`; `cache_aware` here keys prompts on bytes with default settings (the
/// router builds it with its pool's settings, tokenizer and event index instead).
pub fn build(kind: PolicyKind, seed: u64) -> Box<dyn Policy> {
    match kind {
        PolicyKind::CacheAware => {
            Box::new(CacheAware::new(CacheAwareConfig::default(), None, None))
        }
        PolicyKind::RoundRobin => Box::new(RoundRobin::default()),
        PolicyKind::Weighted => Box::new(Weighted::default()),
        PolicyKind::Random => Box::new(Random::with_seed(seed)),
        PolicyKind::LeastConnections => Box::new(LeastConnections::default()),
        PolicyKind::PowerOfTwo => Box::new(PowerOfTwo::with_seed(seed)),
    }
}

/// The `k`-th available endpoint (0-based), scanning in index order. A live
/// view can change between counting and this scan; if fewer are available
/// now, the first available one is taken rather than none.
fn nth_available(endpoints: &dyn EndpointSnapshots, k: usize) -> Option<usize> {
    let mut available = (0..endpoints.len()).filter(|&i| endpoints.is_available(i));
    let first = available.next()?;
    if k == 0 {
        return Some(first);
    }
    available.nth(k - 1).or(Some(first))
}

fn count_available(endpoints: &dyn EndpointSnapshots) -> usize {
    (0..endpoints.len())
        .filter(|&i| endpoints.is_available(i))
        .count()
}

/// A uniformly random available endpoint other than `not`. A few blind
/// draws almost always land on one (most of a pool is usually up), which
/// keeps big pools O(1); the exact scan is the fallback.
fn random_available(
    endpoints: &dyn EndpointSnapshots,
    rng: &rng::SharedRng,
    not: Option<usize>,
) -> Option<usize> {
    let n = endpoints.len();
    for _ in 0..8.min(n) {
        let i = rng.below(n);
        if Some(i) != not && endpoints.is_available(i) {
            return Some(i);
        }
    }
    let eligible = |i: &usize| Some(*i) != not && endpoints.is_available(*i);
    let candidates = (0..n).filter(eligible).count();
    if candidates == 0 {
        return None;
    }
    // The live view may have changed since the count: never answer none.
    let k = rng.below(candidates);
    (0..n)
        .filter(eligible)
        .nth(k)
        .or_else(|| (0..n).find(eligible))
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    pub fn features() -> RequestFeatures<'static> {
        RequestFeatures {
            model: "m",
            stream: false,
            body_bytes: 100,
            prefix_blocks: &[],
            prompt_len: 0,
            prediction: None,
        }
    }

    pub fn up(in_flight: u32) -> EndpointSnapshot {
        EndpointSnapshot {
            available: true,
            weight: 1,
            in_flight,
            ..Default::default()
        }
    }

    pub fn down() -> EndpointSnapshot {
        EndpointSnapshot {
            available: false,
            weight: 1,
            ..Default::default()
        }
    }

    /// Picks `n` times and counts how often each endpoint was chosen.
    pub fn histogram(policy: &dyn Policy, endpoints: &[EndpointSnapshot], n: usize) -> Vec<usize> {
        let mut counts = vec![0; endpoints.len()];
        for _ in 0..n {
            let i = policy.pick(&features(), &endpoints).expect("an endpoint");
            counts[i] += 1;
        }
        counts
    }

    /// A live view whose in-flight counts move on every read, as atomics
    /// do under load.
    pub struct ShiftingView {
        pub len: usize,
        pub reads: std::cell::Cell<usize>,
    }

    impl EndpointSnapshots for ShiftingView {
        fn len(&self) -> usize {
            self.len
        }
        fn get(&self, index: usize) -> EndpointSnapshot {
            let read = self.reads.get();
            self.reads.set(read + 1);
            up(((read * 7 + index * 3) % 4) as u32)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;

    #[test]
    fn a_view_that_moves_between_reads_never_yields_none() {
        for kind in [
            PolicyKind::RoundRobin,
            PolicyKind::Weighted,
            PolicyKind::Random,
            PolicyKind::LeastConnections,
            PolicyKind::PowerOfTwo,
        ] {
            let policy = build(kind, 3);
            let view = ShiftingView {
                len: 5,
                reads: std::cell::Cell::new(0),
            };
            for _ in 0..2000 {
                assert!(
                    policy.pick(&features(), &view).is_some(),
                    "{}",
                    policy.name()
                );
            }
        }
    }
}
