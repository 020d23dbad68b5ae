//! The exact prefix index: which endpoint's KV cache holds which token blocks, from the
//! engines' own KV-cache events. Blocks are keyed by [`token_block_key`] over the token ids a
//! `BlockStored` carries, chained through the parent block, so the keys equal those the
//! request path computes from its own tokenization; the engine's hash function never has to
//! be reproduced. Memory follows the engines' caches (what they evict is removed here), with
//! `max_blocks` as a backstop.

use std::sync::{PoisonError, RwLock, RwLockReadGuard};

use rustc_hash::FxHashMap;
use switchyard_backends::kv_events::KvEvent;

use super::blocks::{TOKEN_CHAIN_ROOT, token_block_key};
use super::index::{MAX_ENDPOINTS, match_leading};

pub struct KvEventIndex {
    inner: RwLock<Inner>,
    max_blocks: usize,
}

#[derive(Default)]
struct Inner {
    /// Block key -> the endpoints holding it.
    holders: FxHashMap<u64, u128>,
    endpoints: Vec<EndpointBlocks>,
}

#[derive(Default)]
struct EndpointBlocks {
    /// The engine's block hash -> our key.
    by_engine_hash: FxHashMap<u64, u64>,
    /// How many engine blocks carry each key (the same tokens can be stored twice).
    count: FxHashMap<u64, u32>,
}

/// See [`KvEventIndex::holders`].
pub struct EventHolders<'a>(RwLockReadGuard<'a, Inner>);

impl EventHolders<'_> {
    /// The endpoints holding the block `key` (bit `e` for endpoint `e`).
    pub fn get(&self, key: &u64) -> u128 {
        self.0.holders.get(key).copied().unwrap_or(0)
    }
}

/// What applying a batch did, for metrics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub stored: usize,
    pub removed: usize,
    /// Blocks skipped: a parent never seen, a LoRA adapter, offloaded to CPU, or over
    /// `max_blocks`.
    pub skipped: usize,
    pub cleared: bool,
    /// The block size the engine reported, when a `BlockStored` said.
    pub block_size: Option<u32>,
}

impl std::fmt::Debug for KvEventIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvEventIndex")
            .field("blocks", &self.len())
            .finish_non_exhaustive()
    }
}

/// Blocks in the engine's (GPU) cache. Offloaded (`CPU`) copies are slower to use and are
/// not counted as cached.
fn on_device(medium: Option<&str>) -> bool {
    matches!(medium, None | Some("GPU") | Some("gpu"))
}

impl KvEventIndex {
    pub fn new(endpoints: usize, max_blocks: usize) -> Self {
        let endpoints = endpoints.min(MAX_ENDPOINTS);
        Self {
            inner: RwLock::new(Inner {
                holders: FxHashMap::default(),
                endpoints: (0..endpoints).map(|_| EndpointBlocks::default()).collect(),
            }),
            max_blocks,
        }
    }

    /// Distinct block keys held by any endpoint.
    pub fn len(&self) -> usize {
        self.read().holders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Blocks one endpoint holds.
    pub fn endpoint_blocks(&self, endpoint: usize) -> usize {
        self.read()
            .endpoints
            .get(endpoint)
            .map_or(0, |e| e.by_engine_hash.len())
    }

    /// For each endpoint, how many leading blocks of `keys` its cache holds.
    pub fn match_lengths(&self, keys: &[u64], matched: &mut [u32]) {
        let inner = self.read();
        match_leading(keys, matched, |key| inner.holders.get(key).copied());
    }

    /// A read view of who holds which block, for a walk over a prompt (writers wait while it
    /// lives).
    pub fn holders(&self) -> EventHolders<'_> {
        EventHolders(self.read())
    }

    /// Applies one endpoint's events, in order.
    pub fn apply(&self, endpoint: usize, events: &[KvEvent]) -> Applied {
        let mut applied = Applied::default();
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if endpoint >= inner.endpoints.len() {
            return applied;
        }
        for event in events {
            match event {
                KvEvent::BlockStored {
                    block_hashes,
                    parent_block_hash,
                    token_ids,
                    block_size,
                    lora_id,
                    medium,
                } => {
                    applied.block_size = Some(*block_size);
                    if lora_id.is_some() || !on_device(medium.as_deref()) || *block_size == 0 {
                        applied.skipped += block_hashes.len();
                        continue;
                    }
                    let stored = inner.store(
                        endpoint,
                        block_hashes,
                        *parent_block_hash,
                        token_ids,
                        *block_size as usize,
                        self.max_blocks,
                    );
                    applied.stored += stored;
                    applied.skipped += block_hashes.len() - stored;
                }
                KvEvent::BlockRemoved {
                    block_hashes,
                    medium,
                } => {
                    if on_device(medium.as_deref()) {
                        applied.removed += inner.remove(endpoint, block_hashes);
                    }
                }
                KvEvent::AllBlocksCleared => {
                    inner.clear(endpoint);
                    applied.cleared = true;
                }
            }
        }
        applied
    }

    /// Forgets everything the endpoint held: its engine restarted, or events were lost.
    pub fn clear_endpoint(&self, endpoint: usize) {
        let mut inner = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        if endpoint < inner.endpoints.len() {
            inner.clear(endpoint);
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    /// Stores a chain of blocks; returns how many were stored.
    fn store(
        &mut self,
        endpoint: usize,
        hashes: &[u64],
        parent: Option<u64>,
        tokens: &[u32],
        block_size: usize,
        max_blocks: usize,
    ) -> usize {
        let mut parent_key = match parent {
            None => TOKEN_CHAIN_ROOT,
            // A parent we never saw (events from before we subscribed): the chain's keys
            // cannot be computed, and requests could not match past the gap anyway.
            Some(hash) => match self.endpoints[endpoint].by_engine_hash.get(&hash) {
                Some(&key) => key,
                None => return 0,
            },
        };
        let bit = 1u128 << endpoint;
        let mut stored = 0;
        for (hash, block) in hashes.iter().zip(tokens.chunks_exact(block_size)) {
            let key = token_block_key(parent_key, block);
            parent_key = key;
            let blocks = &mut self.endpoints[endpoint];
            if let Some(old) = blocks.by_engine_hash.insert(*hash, key) {
                // Re-stored under the same engine hash: keep the count right.
                if old == key {
                    stored += 1;
                    continue;
                }
                release(&mut self.holders, blocks, old, bit);
            }
            let blocks = &mut self.endpoints[endpoint];
            if !self.holders.contains_key(&key) && self.holders.len() >= max_blocks {
                blocks.by_engine_hash.remove(hash);
                continue;
            }
            *blocks.count.entry(key).or_insert(0) += 1;
            *self.holders.entry(key).or_insert(0) |= bit;
            stored += 1;
        }
        stored
    }

    fn remove(&mut self, endpoint: usize, hashes: &[u64]) -> usize {
        let bit = 1u128 << endpoint;
        let mut removed = 0;
        for hash in hashes {
            let blocks = &mut self.endpoints[endpoint];
            if let Some(key) = blocks.by_engine_hash.remove(hash) {
                release(&mut self.holders, blocks, key, bit);
                removed += 1;
            }
        }
        removed
    }

    fn clear(&mut self, endpoint: usize) {
        let bit = 1u128 << endpoint;
        let blocks = std::mem::take(&mut self.endpoints[endpoint]);
        for key in blocks.count.keys() {
            if let Some(holders) = self.holders.get_mut(key) {
                *holders &= !bit;
                if *holders == 0 {
                    self.holders.remove(key);
                }
            }
        }
    }
}

/// One engine block with `key` is gone from the endpoint whose bit is `bit`.
fn release(holders: &mut FxHashMap<u64, u128>, blocks: &mut EndpointBlocks, key: u64, bit: u128) {
    let Some(count) = blocks.count.get_mut(&key) else {
        return;
    };
    *count -= 1;
    if *count > 0 {
        return;
    }
    blocks.count.remove(&key);
    if let Some(set) = holders.get_mut(&key) {
        *set &= !bit;
        if *set == 0 {
            holders.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::blocks::token_block_keys;
    use super::*;

    fn stored(hashes: &[u64], parent: Option<u64>, tokens: &[u32]) -> KvEvent {
        KvEvent::BlockStored {
            block_hashes: hashes.to_vec(),
            parent_block_hash: parent,
            token_ids: tokens.to_vec(),
            block_size: 2,
            lora_id: None,
            medium: Some("GPU".into()),
        }
    }

    fn removed(hashes: &[u64]) -> KvEvent {
        KvEvent::BlockRemoved {
            block_hashes: hashes.to_vec(),
            medium: Some("GPU".into()),
        }
    }

    fn matched(index: &KvEventIndex, tokens: &[u32]) -> Vec<u32> {
        let mut out = vec![0; 2];
        index.match_lengths(&token_block_keys(tokens, 2), &mut out);
        out
    }

    #[test]
    fn stored_chains_match_the_request_side_keys() {
        let index = KvEventIndex::new(2, 100);
        // Two events, the second extending the first's chain by its engine hash.
        index.apply(0, &[stored(&[11, 12], None, &[1, 2, 3, 4])]);
        index.apply(0, &[stored(&[13], Some(12), &[5, 6])]);
        index.apply(1, &[stored(&[91], None, &[1, 2])]);
        assert_eq!(matched(&index, &[1, 2, 3, 4, 5, 6, 7]), [3, 1]);
        assert_eq!(matched(&index, &[1, 2, 9, 9]), [1, 1]);
        assert_eq!(matched(&index, &[2, 1]), [0, 0]);
        assert_eq!(index.len(), 3);
    }

    #[test]
    fn removals_and_clears_forget_blocks() {
        let index = KvEventIndex::new(2, 100);
        index.apply(0, &[stored(&[11, 12], None, &[1, 2, 3, 4])]);
        index.apply(1, &[stored(&[21, 22], None, &[1, 2, 3, 4])]);
        let applied = index.apply(0, &[removed(&[12, 999])]);
        assert_eq!(applied.removed, 1, "an unknown hash is ignored");
        assert_eq!(matched(&index, &[1, 2, 3, 4]), [1, 2]);
        index.apply(1, &[KvEvent::AllBlocksCleared]);
        assert_eq!(matched(&index, &[1, 2, 3, 4]), [1, 0]);
        index.clear_endpoint(0);
        assert!(index.is_empty());
    }

    #[test]
    fn the_same_tokens_stored_twice_need_two_removals() {
        let index = KvEventIndex::new(1, 100);
        index.apply(
            0,
            &[stored(&[1], None, &[7, 7]), stored(&[2], None, &[7, 7])],
        );
        index.apply(0, &[removed(&[1])]);
        assert_eq!(matched(&index, &[7, 7])[0], 1);
        index.apply(0, &[removed(&[2])]);
        assert_eq!(matched(&index, &[7, 7])[0], 0);
    }

    #[test]
    fn orphans_adapters_offloads_and_overflow_are_skipped() {
        let index = KvEventIndex::new(1, 2);
        let orphan = index.apply(0, &[stored(&[5], Some(404), &[1, 2])]);
        assert_eq!((orphan.stored, orphan.skipped), (0, 1));
        let lora = KvEvent::BlockStored {
            block_hashes: vec![6],
            parent_block_hash: None,
            token_ids: vec![1, 2],
            block_size: 2,
            lora_id: Some(3),
            medium: None,
        };
        assert_eq!(index.apply(0, &[lora]).skipped, 1);
        let cpu = KvEvent::BlockRemoved {
            block_hashes: vec![7],
            medium: Some("CPU".into()),
        };
        assert_eq!(index.apply(0, &[cpu]).removed, 0);
        let full = index.apply(0, &[stored(&[1, 2, 3], None, &[1, 2, 3, 4, 5, 6])]);
        assert_eq!(
            (full.stored, full.skipped),
            (2, 1),
            "max_blocks is a hard bound"
        );
        assert_eq!(index.len(), 2);
    }
}
