//! The approximate prefix index: which endpoints were last sent each prompt block, learned
//! from the router's own decisions. Bounded: at most `max_blocks` blocks, least recently used
//! evicted first. Blocks of one request are touched from the last to the first, so a prefix's
//! head is always more recent than its tail and eviction trims prefixes from the end, keeping
//! what is left a real prefix.

use std::num::NonZeroUsize;

use lru::LruCache;
use rustc_hash::FxBuildHasher;

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

pub struct PrefixIndex {
    blocks: LruCache<u64, u128, FxBuildHasher>,
}

impl PrefixIndex {
    pub fn new(max_blocks: NonZeroUsize) -> Self {
        Self {
            blocks: LruCache::with_hasher(max_blocks, FxBuildHasher),
        }
    }

    pub fn len(&self) -> usize {
        self.blocks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// For each endpoint, how many leading blocks of `hashes` it holds, into `matched`
    /// (one slot per endpoint). Reading does not refresh recency.
    pub fn match_lengths(&self, hashes: &[u64], matched: &mut [u32]) {
        match_leading(hashes, matched, |hash| self.blocks.peek(hash).copied());
    }

    /// Records that `endpoint` now holds every block of `hashes`.
    pub fn insert(&mut self, hashes: &[u64], endpoint: usize) {
        if endpoint >= MAX_ENDPOINTS {
            return;
        }
        let bit = 1u128 << endpoint;
        for hash in hashes.iter().rev() {
            match self.blocks.get_mut(hash) {
                Some(holders) => *holders |= bit,
                None => {
                    self.blocks.push(*hash, bit);
                }
            }
        }
    }

    /// Forgets everything `endpoint` held (it left the pool or its cache was cleared).
    pub fn remove_endpoint(&mut self, endpoint: usize) {
        if endpoint >= MAX_ENDPOINTS {
            return;
        }
        let bit = 1u128 << endpoint;
        let mut emptied = Vec::new();
        for (hash, holders) in self.blocks.iter_mut() {
            *holders &= !bit;
            if *holders == 0 {
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
    fn handles_the_widest_pool() {
        let mut idx = index(10);
        idx.insert(&[1], MAX_ENDPOINTS - 1);
        idx.insert(&[1], MAX_ENDPOINTS);
        let mut matched = vec![0u32; MAX_ENDPOINTS];
        idx.match_lengths(&[1], &mut matched);
        assert_eq!(matched[MAX_ENDPOINTS - 1], 1);
    }
}
