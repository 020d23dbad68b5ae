//! The approximate prefix index: which endpoints were last sent each prompt block, learned
//! from the router's own decisions. Bounded: at most `max_blocks` blocks, least recently used
//! evicted first. Blocks of one request are touched from the last to the first, so a prefix's
//! head is always more recent than its tail and eviction trims prefixes from the end, keeping
//! what is left a real prefix.
//!
//! Each endpoint's claims also age as its engine's cache would: when the engine's cache size
//! is known (`set_capacity`), a block sent there counts as cached only until that many other
//! blocks have been newly sent there since, since the engine evicts least recently used
//! blocks first. Aged claims are still remembered, so a group whose prefix was evicted
//! everywhere can go back to where it was last sent (`remembered_lengths`).

use std::num::NonZeroUsize;

use lru::LruCache;
use rustc_hash::FxBuildHasher;
use smallvec::SmallVec;

/// Endpoints are bits of a `u128`: pools of up to 128 endpoints (checked at config load).
pub const MAX_ENDPOINTS: usize = 128;

/// For each endpoint (a bit of the holder sets `holders` returns), how many leading blocks of
/// `hashes` it holds, into `matched`; the walk stops at the first block nobody still matching
/// holds. Shared by the approximate and the event index.
pub fn match_leading(hashes: &[u64], matched: &mut [u32], holders: impl Fn(&u64) -> Option<u128>) {
    matched.fill(0);
    let mut alive = if matched.len() >= MAX_ENDPOINTS {
        u128::MAX
    } else {
        (1u128 << matched.len()) - 1
    };
    for (depth, hash) in hashes.iter().enumerate() {
        let Some(holders) = holders(hash) else {
            break;
        };
        alive &= holders;
        if alive == 0 {
            break;
        }
        let mut bits = alive;
        while bits != 0 {
            let endpoint = bits.trailing_zeros() as usize;
            matched[endpoint] = depth as u32 + 1;
            bits &= bits - 1;
        }
    }
}

/// One endpoint's claim on a block: the endpoint's placement clock when the block was last
/// sent there.
#[derive(Debug, Clone, Copy)]
struct Claim {
    endpoint: u8,
    at: u32,
}

/// An endpoint whose engine's cache size is unknown: its claims never age.
const UNBOUNDED: u32 = u32::MAX;

pub struct PrefixIndex {
    /// Most blocks have one or two holders, so the claims stay inline.
    blocks: LruCache<u64, SmallVec<[Claim; 2]>, FxBuildHasher>,
    /// Per endpoint, how many blocks were newly placed there so far (wrapping). A claim is
    /// `clock - at` placements old: the engine's cache has taken that many other blocks
    /// since, and evicts least recently used first.
    clocks: [u32; MAX_ENDPOINTS],
    /// Per endpoint, the blocks its engine's cache holds: an older claim is presumed
    /// evicted.
    capacity: [u32; MAX_ENDPOINTS],
}

impl PrefixIndex {
    pub fn new(max_blocks: NonZeroUsize) -> Self {
        Self {
            blocks: LruCache::with_hasher(max_blocks, FxBuildHasher),
            clocks: [0; MAX_ENDPOINTS],
            capacity: [UNBOUNDED; MAX_ENDPOINTS],
        }
    }

    /// An empty index that goes on from this one's placement clocks and cache sizes, so the
    /// claims left in this one keep ageing against it (`live_holders_aged_by`). Its table
    /// grows as it fills instead of being allocated whole, as `new` does: a generation
    /// starts on the request path.
    pub fn next_generation(&self, max_blocks: NonZeroUsize) -> Self {
        let mut blocks = LruCache::unbounded_with_hasher(FxBuildHasher);
        blocks.resize(max_blocks);
        Self {
            blocks,
            clocks: self.clocks,
            capacity: self.capacity,
        }
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// How many blocks `endpoint`'s engine caches (`None`: unknown, claims never age).
    pub fn set_capacity(&mut self, endpoint: usize, blocks: Option<u32>) {
        if let Some(slot) = self.capacity.get_mut(endpoint) {
            *slot = blocks.map_or(UNBOUNDED, |b| b.max(1));
        }
    }

    fn is_live(&self, claim: Claim) -> bool {
        let e = usize::from(claim.endpoint);
        self.clocks[e].wrapping_sub(claim.at) < self.capacity[e]
    }

    /// Endpoints among `claims` whose claim has not aged out by this index's placements.
    fn live_holders(&self, claims: &[Claim]) -> u128 {
        claims
            .iter()
            .filter(|c| self.is_live(**c))
            .fold(0, |bits, c| bits | 1u128 << c.endpoint)
    }

    fn all_holders(claims: &[Claim]) -> u128 {
        claims.iter().fold(0, |bits, c| bits | 1u128 << c.endpoint)
    }

    /// For each endpoint, how many leading blocks of `hashes` its engine still holds as far
    /// as the router can tell (claims not aged out), into `matched` (one slot per endpoint).
    /// Reading does not refresh recency.
    pub fn match_lengths(&self, hashes: &[u64], matched: &mut [u32]) {
        match_leading(hashes, matched, |hash| {
            self.blocks.peek(hash).map(|c| self.live_holders(c))
        });
    }

    /// The endpoints whose claim on `hash` has not aged out by the placements counted in
    /// `current`: this index itself, or a later generation made by `next_generation` from
    /// it (or from its successors).
    pub fn live_holders_aged_by(&self, current: &PrefixIndex, hash: &u64) -> u128 {
        self.blocks
            .peek(hash)
            .map_or(0, |claims| current.live_holders(claims))
    }

    /// Like `match_lengths`, but counting aged-out claims too: where each prefix was sent,
    /// whether or not it is likely still cached.
    pub fn remembered_lengths(&self, hashes: &[u64], matched: &mut [u32]) {
        match_leading(hashes, matched, |hash| {
            self.blocks.peek(hash).map(|c| Self::all_holders(c))
        });
    }

    /// Records that `endpoint` now holds every block of `hashes`.
    pub fn insert(&mut self, hashes: &[u64], endpoint: usize) {
        let mut cached = 0;
        if self.capacity.get(endpoint).is_some_and(|&c| c != UNBOUNDED) {
            let mut matched = [0u32; MAX_ENDPOINTS];
            self.match_lengths(hashes, &mut matched[..=endpoint]);
            cached = matched[endpoint] as usize;
        }
        self.insert_after_match(hashes, endpoint, cached);
    }

    /// `insert` when the caller knows how many leading blocks `endpoint` still holds
    /// (`cached`, from a match just made): those are looked up in its cache and keep their
    /// slots, the rest are computed, each taking a new slot (which ages every other claim by
    /// one), as in the engine. (A lookup also pushes back the blocks used after it; the model
    /// leaves that out, so it errs towards "still cached" for those.)
    pub fn insert_after_match(&mut self, hashes: &[u64], endpoint: usize, cached: usize) {
        let Ok(tag) = u8::try_from(endpoint) else {
            return;
        };
        if endpoint >= MAX_ENDPOINTS {
            return;
        }
        let start = self.clocks[endpoint];
        let bounded = self.capacity[endpoint] != UNBOUNDED;
        let cached = cached.min(hashes.len());
        // Looked-up blocks are stamped with the clock after this prompt's new slots: the
        // engine touches them as it computes the rest.
        let end = start.wrapping_add((hashes.len() - cached) as u32);
        let mut clock = start;
        // Tail first, so the head of the prefix ends up the most recent, as in the engine.
        for (depth, hash) in hashes.iter().enumerate().rev() {
            let claims = self.blocks.get_or_insert_mut(*hash, SmallVec::new);
            let mine = claims.iter_mut().find(|c| c.endpoint == tag);
            let at = if bounded && depth < cached {
                end
            } else if !bounded && mine.is_some() {
                // Without a cache size nothing ages; only a new claim counts on the clock.
                clock
            } else {
                clock = clock.wrapping_add(1);
                clock
            };
            match mine {
                Some(claim) => claim.at = at,
                None => claims.push(Claim { endpoint: tag, at }),
            }
        }
        // Bounded, `clock` has reached `end`.
        self.clocks[endpoint] = clock;
    }

    /// Forgets everything `endpoint` held (it left the pool or its cache was cleared).
    pub fn remove_endpoint(&mut self, endpoint: usize) {
        let Ok(tag) = u8::try_from(endpoint) else {
            return;
        };
        let mut emptied = Vec::new();
        for (hash, claims) in self.blocks.iter_mut() {
            claims.retain(|c| c.endpoint != tag);
            if claims.is_empty() {
                emptied.push(*hash);
            }
        }
        for hash in emptied {
            self.blocks.pop(&hash);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(max: usize) -> PrefixIndex {
        PrefixIndex::new(NonZeroUsize::new(max).unwrap())
    }

    #[test]
    fn matches_leading_blocks_per_endpoint() {
        let mut idx = index(100);
        idx.insert(&[1, 2, 3], 0);
        idx.insert(&[1, 2, 9], 1);
        let mut matched = [0u32; 3];
        idx.match_lengths(&[1, 2, 3, 4], &mut matched);
        assert_eq!(matched, [3, 2, 0]);
        idx.match_lengths(&[7, 1, 2], &mut matched);
        assert_eq!(matched, [0, 0, 0], "only leading blocks count");
    }

    #[test]
    fn eviction_trims_prefixes_from_the_end_and_respects_the_bound() {
        let mut idx = index(4);
        idx.insert(&[1, 2, 3], 0);
        idx.insert(&[5, 6], 1);
        assert_eq!(idx.len(), 4);
        let mut matched = [0u32; 2];
        idx.match_lengths(&[1, 2, 3], &mut matched);
        // Block 3, the oldest tail, went first; 1 and 2 still form a prefix.
        assert_eq!(matched, [2, 0]);
        idx.match_lengths(&[5, 6], &mut matched);
        assert_eq!(matched, [0, 2]);
    }

    #[test]
    fn blocks_the_caller_matched_take_no_new_slot() {
        let mut told = index(100);
        let mut guessed = index(100);
        for idx in [&mut told, &mut guessed] {
            idx.set_capacity(0, Some(2));
        }
        // The engine reported blocks 1 and 2 (say, through its events): only 3 is computed.
        told.insert_after_match(&[1, 2, 3], 0, 2);
        // Not told, the index takes all three for new slots.
        guessed.insert(&[1, 2, 3], 0);
        let mut matched = [0u32; 1];
        for idx in [&mut told, &mut guessed] {
            idx.insert(&[7], 0);
        }
        told.match_lengths(&[1, 2, 3], &mut matched);
        assert_eq!(matched, [3], "two slots taken since: block 3 and block 7");
        guessed.match_lengths(&[1, 2, 3], &mut matched);
        assert_eq!(
            matched,
            [1],
            "four slots taken since block 3, three since block 2"
        );
    }

    #[test]
    fn an_earlier_generation_ages_by_its_successors_placements() {
        let mut old = index(100);
        old.set_capacity(0, Some(2));
        old.insert(&[1], 0);
        let mut next = old.next_generation(NonZeroUsize::new(100).unwrap());
        assert_eq!(
            old.live_holders_aged_by(&next, &1),
            1,
            "nothing placed since"
        );
        next.insert(&[2, 3], 0);
        assert_eq!(
            old.live_holders_aged_by(&next, &1),
            0,
            "two newer blocks filled the engine's two slots"
        );
        let mut matched = [0u32; 1];
        old.match_lengths(&[1], &mut matched);
        assert_eq!(
            matched,
            [1],
            "by its own clock the old generation would still hold it"
        );
    }

    #[test]
    fn removing_an_endpoint_removes_its_entries() {
        let mut idx = index(100);
        idx.insert(&[1, 2], 0);
        idx.insert(&[1, 3], 1);
        idx.remove_endpoint(0);
        assert_eq!(idx.len(), 2, "block 2 was only endpoint 0's");
        let mut matched = [0u32; 2];
        idx.match_lengths(&[1, 2], &mut matched);
        assert_eq!(matched, [0, 1]);
    }

    #[test]
    fn claims_age_out_as_the_engine_cache_fills() {
        let mut idx = index(100);
        idx.set_capacity(0, Some(4));
        idx.insert(&[1, 2], 0);
        let mut matched = [0u32; 2];
        idx.match_lengths(&[1, 2], &mut matched);
        assert_eq!(matched, [2, 0]);
        // Two more new blocks fill the engine's four slots: 1 and 2 are still there.
        idx.insert(&[7, 8], 0);
        idx.match_lengths(&[1, 2], &mut matched);
        assert_eq!(matched, [2, 0]);
        // A fifth pushes out the least recent, block 2 (the tail of the older prefix).
        idx.insert(&[9], 0);
        idx.match_lengths(&[1, 2], &mut matched);
        assert_eq!(matched, [1, 0]);
        idx.remembered_lengths(&[1, 2], &mut matched);
        assert_eq!(matched, [2, 0], "still remembered as sent to endpoint 0");
        // Block 1, still cached, is looked up before block 2 is computed again: the
        // prefix is whole again, and 1 did not age out while 2 took a slot.
        idx.insert(&[1, 2], 0);
        idx.match_lengths(&[1, 2], &mut matched);
        assert_eq!(matched, [2, 0]);
        // 7 and 8 are the oldest now: one more new block pushes out 8, the older.
        idx.insert(&[10], 0);
        idx.match_lengths(&[7], &mut matched);
        assert_eq!(matched, [1, 0]);
        idx.match_lengths(&[8], &mut matched);
        assert_eq!(matched, [0, 0]);
    }

    #[test]
    fn refreshing_a_cached_block_ages_nothing() {
        let mut idx = index(100);
        idx.set_capacity(1, Some(3));
        idx.insert(&[1, 2, 3], 1);
        for _ in 0..10 {
            idx.insert(&[1, 2, 3], 1);
        }
        let mut matched = [0u32; 2];
        idx.match_lengths(&[1, 2, 3], &mut matched);
        assert_eq!(matched, [0, 3]);
    }

    #[test]
    fn unknown_capacity_never_ages_and_endpoints_age_apart() {
        let mut idx = index(1000);
        idx.set_capacity(0, Some(2));
        idx.insert(&[1], 0);
        idx.insert(&[1], 1);
        for b in 100..200 {
            idx.insert(&[b], 1);
        }
        let mut matched = [0u32; 2];
        idx.match_lengths(&[1], &mut matched);
        assert_eq!(
            matched,
            [1, 1],
            "endpoint 1's size is unknown; endpoint 0 took nothing"
        );
        idx.set_capacity(1, Some(50));
        idx.match_lengths(&[1], &mut matched);
        assert_eq!(matched, [1, 0]);
        idx.set_capacity(1, None);
        idx.match_lengths(&[1], &mut matched);
        assert_eq!(matched, [1, 1]);
    }

    #[test]
    fn handles_the_widest_pool() {
        let mut idx = index(10);
        idx.insert(&[1], MAX_ENDPOINTS - 1);
        idx.insert(&[1], MAX_ENDPOINTS);
        let mut matched = vec![0u32; MAX_ENDPOINTS];
        idx.match_lengths(&[1], &mut matched);
        assert_eq!(matched[MAX_ENDPOINTS - 1], 1);
    }
}
