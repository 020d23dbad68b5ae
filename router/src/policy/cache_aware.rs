//! `cache_aware`: the endpoint where the request's prompt prefix is most likely cached, traded
//! off against load, with a guard against hot spots. The formula is documented on
//! [`CacheAwareConfig`]; every decision's terms are logged at debug level.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

use super::{EndpointSnapshot, EndpointSnapshots, Policy, RequestFeatures};
use crate::config::CacheAwareConfig;
use crate::prefix::{MAX_ENDPOINTS, PrefixIndex};

pub struct CacheAware {
    config: CacheAwareConfig,
    /// Per-decision decay of `recent` (from the configured half-life).
    decay: f64,
    state: Mutex<State>,
    /// Rotates the scan start so that exact ties do not always go to the first endpoint.
    next_start: AtomicUsize,
}

struct State {
    index: PrefixIndex,
    /// Decisions per endpoint, exponentially decayed: the recent share of traffic.
    recent: [f64; MAX_ENDPOINTS],
}

impl std::fmt::Debug for CacheAware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheAware")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl CacheAware {
    pub fn new(config: CacheAwareConfig) -> Self {
        let capacity = NonZeroUsize::new(config.max_blocks).unwrap_or(NonZeroUsize::MIN);
        let decay = 0.5f64.powf(1.0 / config.recent_half_life.max(1.0));
        Self {
            config,
            decay,
            state: Mutex::new(State {
                index: PrefixIndex::new(capacity),
                recent: [0.0; MAX_ENDPOINTS],
            }),
            next_start: AtomicUsize::new(0),
        }
    }

    /// Blocks the index holds now (for metrics and tests).
    pub fn indexed_blocks(&self) -> usize {
        self.lock().index.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Policy for CacheAware {
    fn name(&self) -> &'static str {
        "cache_aware"
    }

    fn prefix_block_bytes(&self) -> Option<usize> {
        Some(self.config.block_bytes)
    }

    fn pick(
        &self,
        request: &RequestFeatures<'_>,
        endpoints: &dyn EndpointSnapshots,
    ) -> Option<usize> {
        let n = endpoints.len().min(MAX_ENDPOINTS);
        // Read each endpoint once, on the stack: this runs for every request.
        let mut snapshots = [EndpointSnapshot::default(); MAX_ENDPOINTS];
        for (i, slot) in snapshots[..n].iter_mut().enumerate() {
            *slot = endpoints.get(i);
        }
        let snapshots = &snapshots[..n];
        let min_load = snapshots
            .iter()
            .filter(|s| s.available)
            .map(|s| s.load())
            .min()?;
        let c = &self.config;
        let ceiling = (min_load + u64::from(c.balance_abs))
            .max((min_load as f64 * c.balance_rel).floor() as u64);
        let mut matched = [0u32; MAX_ENDPOINTS];
        let mut state = self.lock();
        if !request.prefix_blocks.is_empty() {
            state
                .index
                .match_lengths(request.prefix_blocks, &mut matched[..n]);
        }
        // Fair share among the endpoints the load guard lets through: the one of them with the
        // smallest recent share is at most their mean, so some endpoint always passes both.
        let within_load = |i: usize| snapshots[i].available && snapshots[i].load() <= ceiling;
        let (eligible, recent_total) = (0..n)
            .filter(|&i| within_load(i))
            .fold((0usize, 0.0f64), |(count, sum), i| {
                (count + 1, sum + state.recent[i])
            });
        let share_cap = (1.0 + c.fair_share_slack) * recent_total / eligible.max(1) as f64 + 1.0;
        let start = self.next_start.fetch_add(1, Ordering::Relaxed);
        let mut best: Option<(f64, u64, usize)> = None;
        for k in 0..n {
            let i = (start + k) % n;
            let s = &snapshots[i];
            if !within_load(i) || state.recent[i] > share_cap {
                continue;
            }
            let cached = matched[i] as usize * c.block_bytes;
            let uncached = request.prompt_bytes.saturating_sub(cached) as f64;
            let kv_penalty = match s.kv_cache_usage {
                Some(usage) if usage > c.kv_usage_high => 2.0,
                _ => 0.0,
            };
            let cost = uncached + c.load_cost_bytes * (s.load() as f64 + kv_penalty);
            tracing::debug!(
                model = request.model,
                endpoint = i,
                cached_bytes = cached,
                uncached_bytes = uncached,
                load = s.load(),
                kv_usage = s.kv_cache_usage,
                cost,
                "cache_aware candidate"
            );
            let better = match best {
                None => true,
                Some((best_cost, best_load, _)) => {
                    cost < best_cost || (cost == best_cost && s.load() < best_load)
                }
            };
            if better {
                best = Some((cost, s.load(), i));
            }
        }
        // `best` is empty only when nothing is available (see the fair-share note above).
        let (_, _, chosen) = best?;
        if !request.prefix_blocks.is_empty() {
            state.index.insert(request.prefix_blocks, chosen);
        }
        for recent in &mut state.recent[..n] {
            *recent *= self.decay;
        }
        state.recent[chosen] += 1.0;
        Some(chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{features, up};
    use super::*;

    fn policy() -> CacheAware {
        CacheAware::new(CacheAwareConfig {
            block_bytes: 4,
            ..CacheAwareConfig::default()
        })
    }

    fn request<'a>(blocks: &'a [u64]) -> RequestFeatures<'a> {
        RequestFeatures {
            prefix_blocks: blocks,
            prompt_bytes: blocks.len() * 4 * 100,
            ..features()
        }
    }

    #[test]
    fn each_prefix_group_goes_back_where_it_went() {
        let p = policy();
        let eps = [up(0), up(0), up(0)];
        let groups: [&[u64]; 3] = [&[1, 2, 3], &[4, 5, 6], &[7, 8, 9]];
        let homes: Vec<usize> = groups
            .iter()
            .map(|g| p.pick(&request(g), &eps).unwrap())
            .collect();
        let mut distinct = homes.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            3,
            "three new groups, three idle endpoints: {homes:?}"
        );
        for _ in 0..5 {
            for (group, home) in groups.iter().zip(&homes) {
                assert_eq!(p.pick(&request(group), &eps), Some(*home));
            }
        }
        assert!(p.indexed_blocks() >= 9);
    }

    #[test]
    fn one_group_carrying_all_traffic_spreads_over_its_fair_share() {
        let p = policy();
        let eps = [up(0), up(0)];
        let mut counts = [0u32; 2];
        for _ in 0..100 {
            counts[p.pick(&request(&[1, 2, 3]), &eps).unwrap()] += 1;
        }
        // Fair share 50 each; the guard caps an endpoint at 1.1x the mean share (plus one).
        assert!(counts.iter().all(|&c| c >= 30), "{counts:?}");
    }

    #[test]
    fn new_prefixes_spread_by_load() {
        let p = policy();
        let eps = [up(3), up(0), up(2)];
        assert_eq!(p.pick(&request(&[9, 8]), &eps), Some(1));
    }

    #[test]
    fn a_hot_endpoint_loses_its_prefix_group_to_a_second() {
        let p = policy();
        let idle = [up(0), up(0)];
        let home = p.pick(&request(&[5, 6, 7]), &idle).unwrap();
        let mut busy = [up(0), up(0)];
        busy[home].in_flight = 10; // far above min + balance_abs (4)
        let other = 1 - home;
        assert_eq!(p.pick(&request(&[5, 6, 7]), &busy), Some(other));
        // Now both hold the prefix: with equal load either is fine, but never a third choice.
        let both = [up(1), up(1)];
        assert!(p.pick(&request(&[5, 6, 7]), &both).is_some());
    }

    #[test]
    fn always_decides_when_busy_endpoints_never_drain() {
        // Loads that never change: the two idle endpoints take everything, and the fair
        // share is theirs, so the guard never leaves no candidate.
        let p = policy();
        let eps = [up(0), up(30), up(0), up(40)];
        for i in 0..500u64 {
            let chosen = p.pick(&request(&[i, i + 1]), &eps);
            assert!(matches!(chosen, Some(0 | 2)), "{i}: {chosen:?}");
        }
    }

    #[test]
    fn kv_pressure_and_unavailability_count() {
        let p = policy();
        let eps = [up(0), up(0)];
        let home = p.pick(&request(&[1]), &eps).unwrap();
        let mut down = [up(0), up(0)];
        down[home].available = false;
        assert_eq!(p.pick(&request(&[1]), &down), Some(1 - home));
        let none = [EndpointSnapshot::default(); 2];
        assert_eq!(p.pick(&request(&[1]), &none), None, "all unavailable");
        let one = [up(7)];
        assert_eq!(p.pick(&request(&[1]), &one), Some(0), "one endpoint");
    }

    #[test]
    fn requests_without_a_prompt_fall_back_to_least_load() {
        let p = policy();
        let eps = [up(2), up(1), up(3)];
        assert_eq!(p.pick(&features(), &eps), Some(1));
    }
}
