//! Block-based prefix cache, modelled on vLLM's.
//!
//! The KV cache holds `num_blocks` blocks of `block_size` tokens. A full
//! prompt block is identified by a chained hash of its tokens and its parent
//! block's hash, so a block only matches when the whole prefix before it
//! matches. Blocks of running sequences are reference-counted; when the count
//! drops to zero the block stays cached but becomes evictable, least recently
//! freed first. Partial blocks and output-token blocks are private: they
//! occupy capacity while the sequence runs and are never shared.

use std::collections::{BTreeMap, HashMap};

use crate::hashing;

/// Identity of a full block of tokens (chained with its parent).
pub type BlockHash = u64;

/// Hash chain root, standing in for "no parent block".
const ROOT_HASH: BlockHash = 0x5357_4954_4348_5944;

/// Chained hashes of the full blocks of `tokens` (a trailing partial block
/// has no hash: vLLM only caches full blocks).
pub fn block_hashes(tokens: &[u32], block_size: usize) -> Vec<BlockHash> {
    let mut parent = ROOT_HASH;
    tokens
        .chunks_exact(block_size.max(1))
        .map(|block| {
            parent = hashing::hash_tokens(parent, block);
            parent
        })
        .collect()
}

/// Blocks held by one running sequence; give it back with
/// [`PrefixCache::release`].
#[derive(Debug, Default)]
pub struct Allocation {
    shared: Vec<BlockHash>,
    private: usize,
}

impl Allocation {
    /// Number of blocks this allocation holds.
    pub fn blocks(&self) -> usize {
        self.shared.len() + self.private
    }
}

/// A change to the set of cached blocks, as vLLM reports it in its KV events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheEvent {
    Stored {
        hash: BlockHash,
        parent: Option<BlockHash>,
        tokens: Vec<u32>,
    },
    Removed {
        hash: BlockHash,
    },
}

#[derive(Debug)]
struct Entry {
    refs: u32,
    /// Position in the LRU order; meaningful only while `refs == 0`.
    tick: u64,
}

/// The KV cache's block pool.
#[derive(Debug)]
pub struct PrefixCache {
    num_blocks: usize,
    entries: HashMap<BlockHash, Entry>,
    /// Evictable (unreferenced) cached blocks by the tick they were freed.
    lru: BTreeMap<u64, BlockHash>,
    next_tick: u64,
    private_in_use: usize,
    evictions: u64,
    /// Changes not yet taken, when events are recorded.
    events: Option<Vec<CacheEvent>>,
}

impl PrefixCache {
    /// An empty cache of `num_blocks` blocks.
    pub fn new(num_blocks: usize) -> Self {
        Self {
            num_blocks,
            entries: HashMap::new(),
            lru: BTreeMap::new(),
            next_tick: 0,
            private_in_use: 0,
            evictions: 0,
            events: None,
        }
    }

    /// Records [`CacheEvent`]s from now on; take them with [`PrefixCache::take_events`].
    pub fn record_events(&mut self) {
        self.events.get_or_insert_with(Vec::new);
    }

    /// The changes since the last call.
    pub fn take_events(&mut self) -> Vec<CacheEvent> {
        self.events.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Total capacity in blocks.
    pub fn capacity(&self) -> usize {
        self.num_blocks
    }

    /// How many leading blocks of `hashes` are cached (in use or evictable).
    pub fn longest_prefix(&self, hashes: &[BlockHash]) -> usize {
        hashes
            .iter()
            .take_while(|h| self.entries.contains_key(h))
            .count()
    }

    /// Takes a reference on every block of `hashes` (inserting the missing
    /// ones) plus `private` unshared blocks, evicting unreferenced blocks as
    /// needed. Returns `None`, changing nothing, when they do not fit.
    /// `tokens` are the blocks' tokens (`hashes.len()` equal chunks), for the
    /// events; they may be empty when events are not recorded.
    pub fn try_allocate(
        &mut self,
        hashes: &[BlockHash],
        tokens: &[u32],
        private: usize,
    ) -> Option<Allocation> {
        let mut missing = 0usize;
        let mut revived = 0usize;
        for h in hashes {
            match self.entries.get(h) {
                None => missing += 1,
                Some(e) if e.refs == 0 => revived += 1,
                Some(_) => {}
            }
        }
        let needed = missing + private;
        let evictable = self.lru.len() - revived;
        if needed > self.free_blocks() + evictable {
            return None;
        }
        // Pin the cached blocks first so the evictions below cannot take them.
        let mut present = Vec::with_capacity(hashes.len());
        for h in hashes {
            let entry = self.entries.get_mut(h);
            present.push(entry.is_some());
            if let Some(e) = entry {
                if e.refs == 0 {
                    self.lru.remove(&e.tick);
                }
                e.refs += 1;
            }
        }
        while self.free_blocks() < needed && !self.lru.is_empty() {
            self.evict_one();
        }
        let block_size = tokens.len().checked_div(hashes.len()).unwrap_or(0);
        for (k, (h, was_present)) in hashes.iter().zip(present).enumerate() {
            if !was_present {
                if let Some(events) = &mut self.events
                    && block_size > 0
                    && !self.entries.contains_key(h)
                {
                    events.push(CacheEvent::Stored {
                        hash: *h,
                        parent: k.checked_sub(1).map(|p| hashes[p]),
                        tokens: tokens[k * block_size..(k + 1) * block_size].to_vec(),
                    });
                }
                // `or_insert` guards against a hash repeated within `hashes`.
                self.entries
                    .entry(*h)
                    .and_modify(|e| e.refs += 1)
                    .or_insert(Entry { refs: 1, tick: 0 });
            }
        }
        self.private_in_use += private;
        Some(Allocation {
            shared: hashes.to_vec(),
            private,
        })
    }

    /// Drops the references of `alloc`. Blocks are freed tail first, so the
    /// end of a chain is evicted before its start (as vLLM does).
    pub fn release(&mut self, alloc: Allocation) {
        self.private_in_use = self.private_in_use.saturating_sub(alloc.private);
        for h in alloc.shared.iter().rev() {
            if let Some(e) = self.entries.get_mut(h) {
                e.refs = e.refs.saturating_sub(1);
                if e.refs == 0 {
                    e.tick = self.next_tick;
                    self.lru.insert(self.next_tick, *h);
                    self.next_tick += 1;
                }
            }
        }
    }

    /// Forgets every unreferenced cached block (vLLM's `/reset_prefix_cache`).
    pub fn reset(&mut self) {
        for h in std::mem::take(&mut self.lru).into_values() {
            self.entries.remove(&h);
            if let Some(events) = &mut self.events {
                events.push(CacheEvent::Removed { hash: h });
            }
        }
    }

    /// Blocks held by running sequences (vLLM's "used" blocks: cached but
    /// unreferenced blocks count as free there too).
    pub fn used_blocks(&self) -> usize {
        self.entries.len() - self.lru.len() + self.private_in_use
    }

    /// Blocks holding cached content (referenced or evictable).
    pub fn cached_blocks(&self) -> usize {
        self.entries.len()
    }

    /// Cached blocks evicted so far.
    pub fn evictions(&self) -> u64 {
        self.evictions
    }

    /// Fraction of the cache held by running sequences, 0..=1.
    pub fn usage(&self) -> f64 {
        self.used_blocks() as f64 / self.num_blocks.max(1) as f64
    }

    fn free_blocks(&self) -> usize {
        self.num_blocks
            .saturating_sub(self.entries.len() + self.private_in_use)
    }

    fn evict_one(&mut self) {
        if let Some((_, h)) = self.lru.pop_first() {
            self.entries.remove(&h);
            self.evictions += 1;
            if let Some(events) = &mut self.events {
                events.push(CacheEvent::Removed { hash: h });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn toks(range: std::ops::Range<u32>) -> Vec<u32> {
        range.collect()
    }

    #[test]
    fn hashes_chain_over_full_blocks() {
        let a = block_hashes(&toks(0..40), 16);
        assert_eq!(a.len(), 2);
        let mut other = toks(0..40);
        other[3] = 999; // change the first block: every later hash changes
        let b = block_hashes(&other, 16);
        assert_ne!(a[0], b[0]);
        assert_ne!(a[1], b[1]);
        // Same second block content under a different parent differs too.
        assert_ne!(block_hashes(&toks(16..32), 16)[0], a[1]);
    }

    #[test]
    fn hits_and_refcounts() {
        let mut c = PrefixCache::new(10);
        let h = block_hashes(&toks(0..64), 16); // 4 blocks
        assert_eq!(c.longest_prefix(&h), 0);
        let a1 = c.try_allocate(&h, &[], 1).unwrap();
        assert_eq!(c.used_blocks(), 5);
        // A second sequence shares the 4 blocks: only its private one is new.
        let a2 = c.try_allocate(&h[..3], &[], 2).unwrap();
        assert_eq!(c.longest_prefix(&h), 4);
        assert_eq!(c.used_blocks(), 7);
        c.release(a1);
        assert_eq!(c.used_blocks(), 5); // blocks 0..3 still held by a2
        c.release(a2);
        assert_eq!(c.used_blocks(), 0);
        assert_eq!(c.cached_blocks(), 4);
        assert_eq!(c.longest_prefix(&h), 4);
        assert!((c.usage() - 0.0).abs() < f64::EPSILON);
    }

    #[test]
    fn lru_evicts_least_recently_freed_tail_first() {
        let mut c = PrefixCache::new(6);
        let a = block_hashes(&toks(0..48), 16); // 3 blocks
        let b = block_hashes(&toks(100..148), 16); // 3 blocks
        let x = c.try_allocate(&a, &[], 0).unwrap();
        c.release(x);
        let y = c.try_allocate(&b, &[], 0).unwrap();
        c.release(y);
        assert_eq!(c.cached_blocks(), 6);
        // Needs 2 new blocks: evicts a's last two blocks (a freed first, tail first).
        let z = c.try_allocate(&[], &[], 2).unwrap();
        assert_eq!(c.evictions(), 2);
        assert_eq!(c.longest_prefix(&a), 1);
        assert_eq!(c.longest_prefix(&b), 3);
        c.release(z);
        // Reusing b refreshes it, so a's remaining block goes next.
        let w = c.try_allocate(&b, &[], 0).unwrap();
        c.release(w);
        let v = c.try_allocate(&[], &[], 3).unwrap();
        assert_eq!(c.longest_prefix(&a), 0);
        assert_eq!(c.longest_prefix(&b), 3);
        c.release(v);
    }

    #[test]
    fn allocation_fails_without_room_and_changes_nothing() {
        let mut c = PrefixCache::new(4);
        let a = block_hashes(&toks(0..32), 16);
        let held = c.try_allocate(&a, &[], 1).unwrap();
        assert!(c.try_allocate(&[], &[], 2).is_none());
        assert_eq!(c.used_blocks(), 3);
        // Sharing held blocks costs nothing extra.
        let shared = c.try_allocate(&a, &[], 1).unwrap();
        assert_eq!(c.used_blocks(), 4);
        assert_eq!(shared.blocks(), 3);
        c.release(held);
        c.release(shared);
        assert_eq!(c.used_blocks(), 0);
    }

    #[test]
    fn evictable_blocks_being_revived_are_not_counted_as_room() {
        let mut c = PrefixCache::new(3);
        let a = block_hashes(&toks(0..48), 16);
        let x = c.try_allocate(&a, &[], 0).unwrap();
        c.release(x);
        // Reusing the 3 cached blocks plus 1 private block needs 4 > 3.
        assert!(c.try_allocate(&a, &[], 1).is_none());
        assert_eq!(c.cached_blocks(), 3);
        assert!(c.try_allocate(&a, &[], 0).is_some());
    }

    #[test]
    fn reset_drops_only_unreferenced_blocks() {
        let mut c = PrefixCache::new(8);
        let a = block_hashes(&toks(0..32), 16);
        let b = block_hashes(&toks(50..82), 16);
        let held = c.try_allocate(&a, &[], 0).unwrap();
        let freed = c.try_allocate(&b, &[], 0).unwrap();
        c.release(freed);
        c.reset();
        assert_eq!(c.longest_prefix(&a), 2);
        assert_eq!(c.longest_prefix(&b), 0);
        c.release(held);
    }

    #[test]
    fn records_stored_and_removed_blocks_when_asked() {
        let mut c = PrefixCache::new(3);
        c.record_events();
        let tokens = toks(0..4);
        let h = block_hashes(&tokens, 2);
        let a = c.try_allocate(&h, &tokens, 0).unwrap();
        assert_eq!(
            c.take_events(),
            vec![
                CacheEvent::Stored {
                    hash: h[0],
                    parent: None,
                    tokens: vec![0, 1]
                },
                CacheEvent::Stored {
                    hash: h[1],
                    parent: Some(h[0]),
                    tokens: vec![2, 3]
                },
            ]
        );
        c.release(a);
        let again = c.try_allocate(&h, &tokens, 0).unwrap();
        assert!(
            c.take_events().is_empty(),
            "a cached block is not stored again"
        );
        c.release(again);
        // Two private blocks need room: the chain's tail goes first.
        let _private = c.try_allocate(&[], &[], 2).unwrap();
        assert_eq!(c.take_events(), vec![CacheEvent::Removed { hash: h[1] }]);
        c.reset();
        assert_eq!(c.take_events(), vec![CacheEvent::Removed { hash: h[0] }]);
    }
}
