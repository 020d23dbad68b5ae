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

use smallvec::SmallVec;

use super::{EndpointSnapshot, EndpointSnapshots, Policy, RequestFeatures};
use crate::config::CacheAwareConfig;
use crate::prefix::{
    KvEventIndex, MAX_ENDPOINTS, PrefixIndex, PromptKeying, match_confirmed_or_bridged,
};

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
        let current = std::mem::replace(&mut state.index, next);
        retire(state.previous.replace(current));
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
    fn match_lengths(&self, state: &State, blocks: &[u64], matched: &mut [u32]) {
        let Some(events) = &self.events else {
            state.index.match_lengths(blocks, matched);
            return;
        };
        let events = events.holders();
        let (bridge, previous) = (&state.index, state.previous.as_ref());
        match_confirmed_or_bridged(
            blocks,
            |hash| events.get(hash),
            |hash| {
                bridge.live_holders_aged_by(bridge, hash)
                    | previous.map_or(0, |p| p.live_holders_aged_by(bridge, hash))
            },
            matched,
        );
    }
}

/// Frees a bridge generation that has served its time. A busy router's generation holds up to
/// `max_blocks` entries, each freed on its own, so a large one goes to a thread of its own
/// rather than holding up a decision (and the lock every decision waits on); a small one is
/// freed here, which costs less than starting a thread.
fn retire(generation: Option<PrefixIndex>) {
    const FREE_INLINE_BELOW: usize = 65_536;
    let Some(generation) = generation.filter(|g| g.len() >= FREE_INLINE_BELOW) else {
        return;
    };
    // Should the thread not start, the closure and the generation are freed here instead.
    let _ = std::thread::Builder::new()
        .name("switchyard-bridge-free".into())
        .spawn(move || drop(generation));
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
        // Read each endpoint once, on the stack up to 64 (not zeroed first: this runs for
        // every request).
        let snapshots: SmallVec<[EndpointSnapshot; 64]> =
            (0..n).map(|i| endpoints.get(i)).collect();
        let snapshots = &snapshots[..];
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
            self.match_lengths(&state, request.prefix_blocks, &mut matched[..n]);
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
        // groups and spills go where traffic is lightest. With `balance_holders` (the
        // default), where two or more endpoints hold the prefix they all pay it, so the
        // group goes to the quieter; a sole holder never does, so the term never pulls a
        // request away from the only cache that holds its prefix.
        let cold = matched[..n].iter().all(|&m| m == 0);
        let holders = (0..n)
            .filter(|&i| snapshots[i].available && matched[i] > 0)
            .count();
        let charge_holders = c.balance_holders && holders >= 2;
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
            let share_excess = if charge_holders || (matched[i] == 0 && remembered[i] == 0) {
                state.recent[i] - least_recent
            } else {
                0.0
            };
            let queued_prefill = c.pending_prefill_weight * s.pending_prefill as f64;
            let cost = uncached
                + queued_prefill
                + load_cost * (s.load() as f64 + kv_penalty + share_excess);
            let home = remembered[i];
            tracing::debug!(
                model = request.model,
                endpoint = i,
                cached,
                uncached,
                home,
                pending_prefill = s.pending_prefill,
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
            // The match just made says which leading blocks the engine looks up rather than
            // computes. (In events mode the bridge takes them all, those the events confirm
            // too: an eviction reported after this decision is undone by its prefill.)
            let cached = matched[chosen] as usize;
            state
                .index
                .insert_after_match(request.prefix_blocks, chosen, cached);
            // A home is where a group is placed when nobody holds it; being spread for load
            // does not move it (and warm decisions, the most, skip this insert).
            if cold && let Some(homes) = &mut state.homes {
                homes.insert(request.prefix_blocks, chosen);
            }
        }
        if let Some(prediction) = request.prediction {
            let cached = matched[chosen] as usize * block_len;
            prediction.record(
                matched[chosen],
                request.prompt_len.saturating_sub(cached) as u64,
            );
        }
        for recent in &mut state.recent[..n] {
            *recent *= self.decay;
        }
        state.recent[chosen] += 1.0;
        Some(chosen)
    }
}

#[cfg(test)]
mod tests;
