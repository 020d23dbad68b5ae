//! Admission: which sequences run and which wait.
//!
//! First come, first served. A sequence starts when fewer than `max_num_seqs`
//! run and the KV cache can hold all its blocks (prompt plus the output it
//! will generate, reserved up front, so the simulator never needs to
//! preempt). A head that does not fit blocks the queue, as in vLLM.

use std::collections::VecDeque;

use crate::prefix_cache::{Allocation, BlockHash, PrefixCache, block_hashes};

/// What one sequence needs from the KV cache.
#[derive(Debug, Clone)]
pub struct SeqPlan {
    /// Prompt length in tokens.
    pub prompt_len: usize,
    /// Chained hashes of the prompt's full blocks (empty when not cacheable).
    pub hashes: Vec<BlockHash>,
    /// Most leading blocks that may count as cache hits: the prompt's last
    /// token is always recomputed (vLLM needs its logits).
    pub max_hit_blocks: usize,
    /// Unshared blocks: a partial last prompt block plus output blocks.
    pub private_blocks: usize,
    /// The tokens of the hashed blocks, for KV events.
    pub block_tokens: Vec<u32>,
}

impl SeqPlan {
    /// Plan for `prompt` followed by `output_len` generated tokens. Sequences
    /// that are not `cacheable` (embeddings) neither hit nor fill the cache.
    pub fn new(prompt: &[u32], output_len: usize, block_size: usize, cacheable: bool) -> Self {
        let bs = block_size.max(1);
        let total = (prompt.len() + output_len).div_ceil(bs);
        let hashes = if cacheable {
            block_hashes(prompt, bs)
        } else {
            Vec::new()
        };
        Self {
            prompt_len: prompt.len(),
            max_hit_blocks: prompt.len().saturating_sub(1) / bs,
            private_blocks: total.saturating_sub(hashes.len()),
            block_tokens: prompt[..hashes.len() * bs].to_vec(),
            hashes,
        }
    }

    /// Blocks the sequence holds while it runs.
    pub fn total_blocks(&self) -> usize {
        self.hashes.len() + self.private_blocks
    }
}

/// A sequence that has just been given a slot.
#[derive(Debug)]
pub struct Admitted {
    /// Blocks to give back with [`Scheduler::finish`].
    pub alloc: Allocation,
    /// Prompt tokens served from the prefix cache.
    pub cached_tokens: usize,
}

struct Waiting<W> {
    id: u64,
    plan: SeqPlan,
    waiter: W,
}

/// FIFO scheduler over a [`PrefixCache`]; `W` is whatever wakes a waiting
/// sequence (a oneshot sender in the engine, a plain value in tests).
pub struct Scheduler<W> {
    max_num_seqs: usize,
    block_size: usize,
    running: usize,
    peak_running: usize,
    waiting: VecDeque<Waiting<W>>,
    cache: PrefixCache,
}

impl<W> Scheduler<W> {
    /// A scheduler with an empty cache.
    pub fn new(max_num_seqs: usize, block_size: usize, num_blocks: usize) -> Self {
        Self {
            max_num_seqs: max_num_seqs.max(1),
            block_size: block_size.max(1),
            running: 0,
            peak_running: 0,
            waiting: VecDeque::new(),
            cache: PrefixCache::new(num_blocks),
        }
    }

    /// Whether the plan could ever run (fits in an empty cache).
    pub fn fits(&self, plan: &SeqPlan) -> bool {
        plan.total_blocks() <= self.cache.capacity()
    }

    /// Appends a sequence to the queue; call [`Scheduler::schedule`] next.
    pub fn enqueue(&mut self, id: u64, plan: SeqPlan, waiter: W) {
        self.waiting.push_back(Waiting { id, plan, waiter });
    }

    /// Starts queued sequences in order while there is room; returns them.
    pub fn schedule(&mut self) -> Vec<(u64, Admitted, W)> {
        let mut started = Vec::new();
        while self.running < self.max_num_seqs {
            let Some(head) = self.waiting.front() else {
                break;
            };
            let plan = &head.plan;
            let hit_limit = plan.max_hit_blocks.min(plan.hashes.len());
            let hits = self.cache.longest_prefix(&plan.hashes[..hit_limit]);
            let Some(alloc) =
                self.cache
                    .try_allocate(&plan.hashes, &plan.block_tokens, plan.private_blocks)
            else {
                break;
            };
            let cached_tokens = (hits * self.block_size).min(plan.prompt_len);
            if let Some(w) = self.waiting.pop_front() {
                self.running += 1;
                self.peak_running = self.peak_running.max(self.running);
                started.push((
                    w.id,
                    Admitted {
                        alloc,
                        cached_tokens,
                    },
                    w.waiter,
                ));
            }
        }
        started
    }

    /// Removes a waiting sequence (its client went away). False if it is not
    /// waiting (already started, or unknown).
    pub fn cancel_waiting(&mut self, id: u64) -> bool {
        match self.waiting.iter().position(|w| w.id == id) {
            Some(pos) => {
                self.waiting.remove(pos);
                true
            }
            None => false,
        }
    }

    /// A running sequence ended (finished or aborted): frees its slot and
    /// blocks. Call [`Scheduler::schedule`] next.
    pub fn finish(&mut self, alloc: Allocation) {
        self.running = self.running.saturating_sub(1);
        self.cache.release(alloc);
    }

    /// Sequences running now.
    pub fn running(&self) -> usize {
        self.running
    }

    /// Most sequences that ever ran at once.
    pub fn peak_running(&self) -> usize {
        self.peak_running
    }

    /// Sequences waiting now.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// The KV cache.
    pub fn cache(&self) -> &PrefixCache {
        &self.cache
    }

    /// The KV cache, for resets.
    pub fn cache_mut(&mut self) -> &mut PrefixCache {
        &mut self.cache
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn prompt(start: u32, len: u32) -> Vec<u32> {
        (start..start + len).collect()
    }

    #[test]
    fn plan_counts_blocks() {
        let p = SeqPlan::new(&prompt(0, 40), 10, 16, true);
        assert_eq!(p.hashes.len(), 2);
        assert_eq!(p.total_blocks(), 4); // 50 tokens -> 4 blocks
        assert_eq!(p.max_hit_blocks, 2);
        // Exactly two blocks: the last token is recomputed, so one block can hit.
        assert_eq!(SeqPlan::new(&prompt(0, 32), 1, 16, true).max_hit_blocks, 1);
        let e = SeqPlan::new(&prompt(0, 40), 0, 16, false);
        assert!(e.hashes.is_empty());
        assert_eq!(e.total_blocks(), 3);
    }

    #[test]
    fn queues_beyond_max_num_seqs_in_fifo_order() {
        let mut s: Scheduler<u32> = Scheduler::new(2, 16, 100);
        for id in 0..4u32 {
            s.enqueue(
                u64::from(id),
                SeqPlan::new(&prompt(id * 100, 20), 5, 16, true),
                id,
            );
        }
        let mut started = s.schedule();
        assert_eq!(started.iter().map(|x| x.0).collect::<Vec<_>>(), vec![0, 1]);
        assert_eq!((s.running(), s.waiting()), (2, 2));
        assert!(s.schedule().is_empty());
        assert!(s.cancel_waiting(2));
        assert!(!s.cancel_waiting(2));
        // Finish one: the next in line (3) starts.
        let (_, a, _) = started.remove(0);
        s.finish(a.alloc);
        let next = s.schedule();
        assert_eq!(next.iter().map(|x| x.2).collect::<Vec<_>>(), vec![3]);
        assert_eq!(s.peak_running(), 2);
        for (_, a, _) in started.into_iter().chain(next) {
            s.finish(a.alloc);
        }
        assert_eq!((s.running(), s.cache().used_blocks()), (0, 0));
    }

    #[test]
    fn cached_tokens_come_from_earlier_sequences() {
        let mut s: Scheduler<()> = Scheduler::new(4, 16, 100);
        let p = prompt(0, 50); // 3 full blocks + 2 tokens
        s.enqueue(1, SeqPlan::new(&p, 4, 16, true), ());
        let (_, a, _) = s.schedule().remove(0);
        assert_eq!(a.cached_tokens, 0);
        s.finish(a.alloc);
        // Same prefix, different tail: 3 blocks = 48 tokens hit.
        let mut q = prompt(0, 48);
        q.extend([7, 7, 7]);
        s.enqueue(2, SeqPlan::new(&q, 4, 16, true), ());
        let (_, b, _) = s.schedule().remove(0);
        assert_eq!(b.cached_tokens, 48);
        s.finish(b.alloc);
        // A prompt that is exactly the 3 cached blocks recomputes its last block.
        s.enqueue(3, SeqPlan::new(&prompt(0, 48), 4, 16, true), ());
        let (_, c, _) = s.schedule().remove(0);
        assert_eq!(c.cached_tokens, 32);
        s.finish(c.alloc);
    }

    #[test]
    fn waits_for_free_blocks_and_blocks_the_queue() {
        let mut s: Scheduler<()> = Scheduler::new(8, 16, 10);
        s.enqueue(1, SeqPlan::new(&prompt(0, 100), 28, 16, true), ()); // 8 blocks
        s.enqueue(2, SeqPlan::new(&prompt(500, 40), 8, 16, true), ()); // 3 blocks
        s.enqueue(3, SeqPlan::new(&prompt(900, 8), 0, 16, true), ()); // 1 block
        let first = s.schedule();
        assert_eq!(first.len(), 1);
        // 2 does not fit; 3 would, but FIFO keeps it behind 2.
        assert_eq!(s.waiting(), 2);
        assert!((s.cache().usage() - 0.8).abs() < 1e-9);
        for (_, a, _) in first {
            s.finish(a.alloc);
        }
        assert_eq!(s.schedule().len(), 2);
        assert!(!s.fits(&SeqPlan::new(&prompt(0, 200), 0, 16, true)));
    }
}
