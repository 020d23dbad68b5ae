//! `cache_aware`: the endpoint where the request's prompt prefix is most likely cached, traded
//! off against load, with a guard against hot spots. The formula is documented on
//! [`CacheAwareConfig`]; every decision's terms are logged at debug level.
//!
//! Which endpoint holds a prefix comes from the approximate index (the router's own past
//! decisions), or with `index: events` from the engines' KV-cache events, bridged by the
//! router's decisions of the last `bridge_ttl` (the blocks of a request just sent are not in
//! any event yet).

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use super::{EndpointSnapshot, EndpointSnapshots, Policy, RequestFeatures};
use crate::config::CacheAwareConfig;
use crate::prefix::{KvEventIndex, MAX_ENDPOINTS, PrefixIndex, PromptKeying};

pub struct CacheAware {
    config: CacheAwareConfig,
    keying: PromptKeying,
    /// The engines' own view, with `index: events`.
    events: Option<Arc<KvEventIndex>>,
    /// Per-decision decay of `recent` (from the configured half-life).
    decay: f64,
    state: Mutex<State>,
    /// Rotates the scan start so that exact ties do not always go to the first endpoint.
    next_start: AtomicUsize,
}

struct State {
    /// The router's own decisions: the whole index in approximate mode (aged by each
    /// engine's cache size), the bridge to the events in events mode.
    index: PrefixIndex,
    /// Events mode: where each prefix was placed when nobody held it, never rotated, for
    /// where such a prefix goes next time (in approximate mode `index` remembers where each
    /// prefix was sent).
    homes: Option<PrefixIndex>,
    /// Events mode: the bridge's previous generation, dropped at the next rotation, so a
    /// decision counts for between one and two `bridge_ttl`s.
    previous: Option<PrefixIndex>,
    rotated_at: Instant,
    /// Decisions per endpoint, exponentially decayed: the recent share of traffic.
    recent: [f64; MAX_ENDPOINTS],
}

impl std::fmt::Debug for CacheAware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheAware")
            .field("config", &self.config)
            .field("keying", &self.keying)
            .finish_non_exhaustive()
    }
}

impl CacheAware {
    /// `keying` defaults to byte blocks of `config.block_bytes`; `events` is the event index
    /// the pool's subscribers fill, when `config.index` is `events`.
    pub fn new(
        config: CacheAwareConfig,
        keying: Option<PromptKeying>,
        events: Option<Arc<KvEventIndex>>,
    ) -> Self {
        let capacity = NonZeroUsize::new(config.max_blocks).unwrap_or(NonZeroUsize::MIN);
        let decay = 0.5f64.powf(1.0 / config.recent_half_life.max(1.0));
        let keying = keying.unwrap_or(PromptKeying::Bytes {
            block_bytes: config.block_bytes,
        });
        let homes = events.is_some().then(|| PrefixIndex::new(capacity));
        Self {
            config,
            keying,
            events,
            decay,
            state: Mutex::new(State {
                index: PrefixIndex::new(capacity),
                homes,
                previous: None,
                rotated_at: Instant::now(),
                recent: [0.0; MAX_ENDPOINTS],
            }),
            next_start: AtomicUsize::new(0),
        }
    }

    /// Blocks the router's own index holds now (for metrics and tests).
    pub fn indexed_blocks(&self) -> usize {
        self.lock().index.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Events mode: starts a new bridge generation every `bridge_ttl`.
    fn rotate_bridge(&self, state: &mut State) {
        if self.events.is_none() || state.rotated_at.elapsed() < self.config.bridge_ttl {
            return;
        }
        let capacity = NonZeroUsize::new(self.config.max_blocks).unwrap_or(NonZeroUsize::MIN);
        let next = state.index.next_generation(capacity);
        state.previous = Some(std::mem::replace(&mut state.index, next));
        state.rotated_at = Instant::now();
    }

    /// Tells the router's own index (in events mode, the bridge) how many of its blocks each
    /// engine's cache can keep for later, from the configured size or the engine's own
    /// metrics, less what its running requests pin (estimated as this prompt's size per
    /// request in flight).
    fn size_caches(&self, state: &mut State, snapshots: &[EndpointSnapshot], prompt_blocks: usize) {
        let tokens_per_block = if self.keying.in_tokens() {
            self.keying.block_len() as f64
        } else {
            self.keying.block_len() as f64 / self.config.bytes_per_token
        };
        for (i, s) in snapshots.iter().enumerate() {
            let blocks = self
                .config
                .engine_cache_tokens
                .or(s.kv_cache_tokens)
                .map(|tokens| {
                    let total = tokens as f64 / tokens_per_block;
                    let pinned = f64::from(s.in_flight) * prompt_blocks as f64;
                    (total - pinned).clamp(1.0, f64::from(u32::MAX - 1)) as u32
                });
            state.index.set_capacity(i, blocks);
        }
    }

    /// For each endpoint, the leading blocks of a prompt nobody holds that its group's home
    /// record gives it.
    fn remembered_lengths(&self, state: &State, blocks: &[u64], remembered: &mut [u32]) {
        state
            .homes
            .as_ref()
            .unwrap_or(&state.index)
            .remembered_lengths(blocks, remembered);
    }

    /// For each endpoint, the leading prompt blocks it is expected to hold.
    fn match_lengths(&self, state: &mut State, blocks: &[u64], matched: &mut [u32]) {
        let Some(events) = &self.events else {
            state.index.match_lengths(blocks, matched);
            return;
        };
        events.match_lengths(blocks, matched);
        let mut bridged = [0u32; MAX_ENDPOINTS];
        let n = matched.len();
        state.index.match_lengths(blocks, &mut bridged[..n]);
        merge_max(matched, &bridged[..n]);
        if let Some(previous) = &state.previous {
            previous.match_lengths_aged_by(&state.index, blocks, &mut bridged[..n]);
            merge_max(matched, &bridged[..n]);
        }
    }
}

fn merge_max(matched: &mut [u32], other: &[u32]) {
    for (m, o) in matched.iter_mut().zip(other) {
        *m = (*m).max(*o);
    }
}

impl Policy for CacheAware {
    fn name(&self) -> &'static str {
        "cache_aware"
    }

    fn prompt_keying(&self) -> Option<&PromptKeying> {
        Some(&self.keying)
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
        let block_len = self.keying.block_len();
        let load_cost = if self.keying.in_tokens() {
            c.load_cost_tokens
        } else {
            c.load_cost_bytes
        };
        let mut matched = [0u32; MAX_ENDPOINTS];
        let mut state = self.lock();
        self.rotate_bridge(&mut state);
        if !request.prefix_blocks.is_empty() {
            // Sizes matter only to prompts: the index is read and written for them alone.
            self.size_caches(&mut state, snapshots, request.prefix_blocks.len());
            self.match_lengths(&mut state, request.prefix_blocks, &mut matched[..n]);
        }
        // Fair share among the endpoints the load guard lets through: the one of them with the
        // smallest recent share is at most their mean, so some endpoint always passes both.
        let within_load = |i: usize| snapshots[i].available && snapshots[i].load() <= ceiling;
        let (eligible, recent_total, least_recent) = (0..n)
            .filter(|&i| within_load(i))
            .fold((0usize, 0.0f64, f64::INFINITY), |(count, sum, least), i| {
                (count + 1, sum + state.recent[i], least.min(state.recent[i]))
            });
        let mean_recent = recent_total / eligible.max(1) as f64;
        let share_cap = (1.0 + c.fair_share_slack) * mean_recent + 1.0;
        // A prefix no endpoint holds goes back to its group's home (see `homes`) when that
        // one passes the guards: placing it anew would move the group and
        // push other groups' prefixes out of a second cache. A prefix never seen starts a new
        // group, and a request its holders cannot take (the guards) spills over; either way
        // an endpoint that would have to compute the prefix anew also pays for its recent
        // share above the smallest one (one decision weighs as one queued request), so new
        // groups and spills go where traffic is lightest. That term is never negative, so it
        // does not pull requests away from where their prefix is cached.
        let cold = matched[..n].iter().all(|&m| m == 0);
        let mut remembered = [0u32; MAX_ENDPOINTS];
        if cold && !request.prefix_blocks.is_empty() {
            self.remembered_lengths(&state, request.prefix_blocks, &mut remembered[..n]);
        }
        let start = self.next_start.fetch_add(1, Ordering::Relaxed);
        // (home match, cost, load, endpoint): the longest home match first, then the cost.
        let mut best: Option<(u32, f64, u64, usize)> = None;
        let (mut over_load, mut over_share) = (0u32, 0u32);
        for k in 0..n {
            let i = (start + k) % n;
            let s = &snapshots[i];
            if !within_load(i) {
                over_load += u32::from(s.available);
                continue;
            }
            if state.recent[i] > share_cap {
                over_share += 1;
                continue;
            }
            let cached = matched[i] as usize * block_len;
            let uncached = request.prompt_len.saturating_sub(cached) as f64;
            let kv_penalty = match s.kv_cache_usage {
                Some(usage) if usage > c.kv_usage_high => 2.0,
                _ => 0.0,
            };
            let share_excess = if matched[i] == 0 && remembered[i] == 0 {
                state.recent[i] - least_recent
            } else {
                0.0
            };
            let cost = uncached + load_cost * (s.load() as f64 + kv_penalty + share_excess);
            let home = remembered[i];
            tracing::debug!(
                model = request.model,
                endpoint = i,
                cached,
                uncached,
                home,
                load = s.load(),
                kv_usage = s.kv_cache_usage,
                cost,
                "cache_aware candidate"
            );
            let better = match best {
                None => true,
                Some((best_home, best_cost, best_load, _)) => {
                    home > best_home
                        || (home == best_home
                            && (cost < best_cost || (cost == best_cost && s.load() < best_load)))
                }
            };
            if better {
                best = Some((home, cost, s.load(), i));
            }
        }
        // `best` is empty only when nothing is available (see the fair-share note above).
        let (home, cost, _, chosen) = best?;
        tracing::debug!(
            model = request.model,
            chosen,
            cost,
            cached_blocks = matched[chosen],
            home_blocks = home,
            best_cached_blocks = matched[..n].iter().max().copied().unwrap_or(0),
            prompt_blocks = request.prefix_blocks.len(),
            over_load,
            over_share,
            "cache_aware decision"
        );
        if !request.prefix_blocks.is_empty() {
            state.index.insert(request.prefix_blocks, chosen);
            // A home is where a group is placed when nobody holds it; being spread for load
            // does not move it (and warm decisions, the most, skip this insert).
            if cold && let Some(homes) = &mut state.homes {
                homes.insert(request.prefix_blocks, chosen);
            }
        }
        if let Some(prediction) = request.prediction {
            prediction.record(matched[chosen]);
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
    use crate::policy::CachePrediction;

    fn policy() -> CacheAware {
        CacheAware::new(
            CacheAwareConfig {
                block_bytes: 4,
                ..CacheAwareConfig::default()
            },
            None,
            None,
        )
    }

    fn request<'a>(blocks: &'a [u64]) -> RequestFeatures<'a> {
        RequestFeatures {
            prefix_blocks: blocks,
            prompt_len: blocks.len() * 4 * 100,
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
    fn a_spilled_request_goes_where_the_recent_share_is_smallest() {
        use super::super::test_support::down;
        let p = policy();
        // The group's home is endpoint 0; endpoint 1 then takes five other new groups.
        assert_eq!(
            p.pick(&request(&[1, 2, 3]), &[up(0), down(), down()]),
            Some(0)
        );
        for g in 0..5u64 {
            let blocks = [100 + g, 200 + g];
            assert_eq!(p.pick(&request(&blocks), &[down(), up(0), down()]), Some(1));
        }
        // The home is too busy: neither other endpoint holds the prefix, and endpoint 2,
        // with no recent decisions, takes it rather than endpoint 1.
        for _ in 0..3 {
            assert_eq!(
                p.pick(&request(&[1, 2, 3]), &[up(20), up(0), up(0)]),
                Some(2)
            );
        }
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
    fn event_mode_follows_the_engines_and_bridges_fresh_decisions() {
        use crate::prefix::token_block_keys;
        use switchyard_backends::kv_events::KvEvent;
        let events = Arc::new(KvEventIndex::new(2, 1000));
        let config = CacheAwareConfig {
            index: crate::config::PrefixIndexKind::Events,
            bridge_ttl: std::time::Duration::from_millis(50),
            ..CacheAwareConfig::default()
        };
        let keying = PromptKeying::Tokens {
            tokenizer: Arc::new(crate::tokenizer::PromptTokenizer::Simulator),
            block_tokens: 2,
        };
        let p = CacheAware::new(config, Some(keying), Some(Arc::clone(&events)));
        let tokens = [1u32, 2, 3, 4, 5, 6];
        let keys = token_block_keys(&tokens, 2);
        // Endpoint 1's engine reports the prompt's blocks: the request goes there.
        events.apply(
            1,
            &[KvEvent::BlockStored {
                block_hashes: vec![10, 11, 12],
                parent_block_hash: None,
                token_ids: tokens.to_vec(),
                block_size: 2,
                lora_id: None,
                medium: None,
            }],
        );
        let prediction = CachePrediction::new();
        let features = RequestFeatures {
            prefix_blocks: &keys,
            prompt_len: 6,
            prediction: Some(&prediction),
            ..features()
        };
        let eps = [up(0), up(0)];
        assert_eq!(p.pick(&features, &eps), Some(1));
        assert_eq!(prediction.blocks(), Some(3));
        // The engine evicts them: within the bridge the decision still counts...
        events.apply(1, &[KvEvent::AllBlocksCleared]);
        assert_eq!(p.pick(&features, &eps), Some(1));
        // ...and after two rotations only the engines' word is left.
        std::thread::sleep(std::time::Duration::from_millis(60));
        let _ = p.pick(
            &RequestFeatures {
                prefix_blocks: &[],
                ..features
            },
            &eps,
        );
        std::thread::sleep(std::time::Duration::from_millis(60));
        let fresh = CachePrediction::new();
        let again = RequestFeatures {
            prediction: Some(&fresh),
            ..features
        };
        p.pick(&again, &eps);
        assert_eq!(
            fresh.blocks(),
            Some(0),
            "no endpoint holds the prefix any more"
        );
    }

    #[test]
    fn a_group_evicted_from_its_home_goes_back_there() {
        // Byte keying, 4 bytes a block and a token: engines that cache 4 tokens hold 4 blocks.
        let p = CacheAware::new(
            CacheAwareConfig {
                block_bytes: 4,
                bytes_per_token: 4.0,
                ..CacheAwareConfig::default()
            },
            None,
            None,
        );
        let sized = |in_flight: u32, available: bool| EndpointSnapshot {
            available,
            kv_cache_tokens: Some(4),
            ..up(in_flight)
        };
        let group = [1u64, 2, 3];
        let home = p
            .pick(&request(&group), &[sized(0, true), sized(0, true)])
            .unwrap();
        let other = 1 - home;
        // Another prompt fills the home's cache while the other endpoint is down.
        let mut eps = [sized(0, true), sized(0, true)];
        eps[other].available = false;
        assert_eq!(p.pick(&request(&[10, 11, 12, 13]), &eps), Some(home));
        // The group's blocks are now the least recent of more than the engine holds: nobody
        // is predicted to hold them, and the home has the larger recent share. It still goes
        // home rather than being placed anew.
        let prediction = CachePrediction::new();
        let features = RequestFeatures {
            prediction: Some(&prediction),
            ..request(&group)
        };
        assert_eq!(
            p.pick(&features, &[sized(0, true), sized(0, true)]),
            Some(home)
        );
        assert_eq!(prediction.blocks(), Some(0), "aged out of the home's cache");
        // Once sent again, it is cached there again.
        let again = CachePrediction::new();
        let features = RequestFeatures {
            prediction: Some(&again),
            ..request(&group)
        };
        assert_eq!(p.pick(&features, &eps), Some(home));
        assert_eq!(again.blocks(), Some(3));
    }

    #[test]
    fn without_a_cache_size_predictions_do_not_age() {
        let p = policy();
        let eps = [up(0)];
        p.pick(&request(&[1, 2]), &eps);
        for b in 10..1000 {
            p.pick(&request(&[b]), &eps);
        }
        let prediction = CachePrediction::new();
        let features = RequestFeatures {
            prediction: Some(&prediction),
            ..request(&[1, 2])
        };
        p.pick(&features, &eps);
        assert_eq!(prediction.blocks(), Some(2));
    }

    #[test]
    fn event_mode_sends_a_prefix_nobody_holds_back_home() {
        use crate::prefix::token_block_keys;
        let events = Arc::new(KvEventIndex::new(2, 1000));
        let config = CacheAwareConfig {
            index: crate::config::PrefixIndexKind::Events,
            bridge_ttl: std::time::Duration::from_millis(20),
            ..CacheAwareConfig::default()
        };
        let keying = PromptKeying::Tokens {
            tokenizer: Arc::new(crate::tokenizer::PromptTokenizer::Simulator),
            block_tokens: 2,
        };
        let p = CacheAware::new(config, Some(keying), Some(events));
        let keys = token_block_keys(&[1, 2, 3, 4], 2);
        let group = RequestFeatures {
            prefix_blocks: &keys,
            prompt_len: 4,
            ..features()
        };
        let home = p.pick(&group, &[up(0), up(0)]).unwrap();
        let other = 1 - home;
        // Two bridge rotations, with prompt-less requests that leave the home with the larger
        // recent share; no engine ever reports the group's blocks.
        let mut loads = [up(0), up(0)];
        loads[other].in_flight = 3;
        std::thread::sleep(std::time::Duration::from_millis(25));
        assert_eq!(p.pick(&features(), &loads), Some(home));
        loads.swap(0, 1);
        std::thread::sleep(std::time::Duration::from_millis(25));
        assert_eq!(p.pick(&features(), &loads), Some(other));
        let prediction = CachePrediction::new();
        let cold = RequestFeatures {
            prediction: Some(&prediction),
            ..group
        };
        assert_eq!(p.pick(&cold, &[up(0), up(0)]), Some(home));
        assert_eq!(
            prediction.blocks(),
            Some(0),
            "neither the events nor the bridge hold it"
        );
    }

    #[test]
    fn requests_without_a_prompt_fall_back_to_least_load() {
        let p = policy();
        let eps = [up(2), up(1), up(3)];
        assert_eq!(p.pick(&features(), &eps), Some(1));
    }
}
