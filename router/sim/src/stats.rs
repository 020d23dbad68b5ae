//! Request accounting at the HTTP level, and the stats snapshot.
//!
//! Engine metrics count sequences (one per prompt, like vLLM); these counters
//! count HTTP inference requests, which is what router tests reason about.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use crate::fault::Fault;

/// Snapshot of the simulator's state (`Simulator::stats`, `GET /sim/stats`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SimStats {
    /// Inference requests (chat, completions, embeddings) received.
    pub requests_received: u64,
    /// Inference requests answered in full.
    pub requests_completed: u64,
    /// Inference requests whose client went away before the end.
    pub requests_cancelled: u64,
    /// Inference requests failed by fault injection (status or cut stream).
    pub requests_failed: u64,
    /// Inference requests refused as invalid (4xx).
    pub requests_rejected: u64,
    /// Sequences running now.
    pub running: usize,
    /// Sequences waiting for a slot now.
    pub waiting: usize,
    /// Most sequences that ever ran at once.
    pub peak_running: usize,
    /// Prompt tokens of admitted sequences.
    pub prompt_tokens: u64,
    /// Prompt tokens served from the prefix cache.
    pub cached_tokens: u64,
    /// Prompt tokens looked up in the prefix cache (cacheable sequences).
    pub prefix_cache_queries: u64,
    /// Output tokens generated.
    pub generation_tokens: u64,
    /// KV-cache blocks held by running sequences / capacity.
    pub kv_cache_usage: f64,
    /// KV-cache blocks held by running sequences.
    pub kv_blocks_used: usize,
    /// Blocks with cached content (held or evictable).
    pub kv_blocks_cached: usize,
    /// Cached blocks evicted.
    pub kv_evictions: u64,
    /// TCP connections accepted.
    pub connections_accepted: u64,
    /// TCP connections open now.
    pub connections_open: u64,
    /// Active faults.
    pub faults: Vec<Fault>,
}

/// Lock-free HTTP-level counters.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub received: AtomicU64,
    pub completed: AtomicU64,
    pub cancelled: AtomicU64,
    pub failed: AtomicU64,
    pub rejected: AtomicU64,
    pub connections_accepted: AtomicU64,
    pub connections_open: AtomicU64,
}

impl Counters {
    pub(crate) fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a new inference request; its guard records how it ended.
    pub(crate) fn arrive(self: &Arc<Self>) -> RequestGuard {
        Self::bump(&self.received);
        RequestGuard {
            counters: Arc::clone(self),
            settled: false,
        }
    }

    /// Counts an open connection until the returned guard drops.
    pub(crate) fn open_connection(self: &Arc<Self>) -> ConnectionGuard {
        Self::bump(&self.connections_accepted);
        Self::bump(&self.connections_open);
        ConnectionGuard {
            counters: Arc::clone(self),
        }
    }
}

/// Outcome of one inference request. Dropped unsettled means the client
/// went away (the response future or body was dropped): counted as
/// cancelled. This is how cancellation is detected reliably.
#[derive(Debug)]
pub(crate) struct RequestGuard {
    counters: Arc<Counters>,
    settled: bool,
}

impl RequestGuard {
    fn settle(mut self, counter: fn(&Counters) -> &AtomicU64) {
        self.settled = true;
        Counters::bump(counter(&self.counters));
    }

    pub(crate) fn complete(self) {
        self.settle(|c| &c.completed);
    }

    pub(crate) fn fail(self) {
        self.settle(|c| &c.failed);
    }

    pub(crate) fn reject(self) {
        self.settle(|c| &c.rejected);
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        if !self.settled {
            Counters::bump(&self.counters.cancelled);
        }
    }
}

/// Open-connection marker.
#[derive(Debug)]
pub(crate) struct ConnectionGuard {
    counters: Arc<Counters>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.counters
            .connections_open
            .fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn guards_count_outcomes_and_drops_as_cancellations() {
        let c = Arc::new(Counters::default());
        c.arrive().complete();
        c.arrive().fail();
        c.arrive().reject();
        drop(c.arrive());
        assert_eq!(Counters::get(&c.received), 4);
        assert_eq!(Counters::get(&c.completed), 1);
        assert_eq!(Counters::get(&c.failed), 1);
        assert_eq!(Counters::get(&c.rejected), 1);
        assert_eq!(Counters::get(&c.cancelled), 1);
        let conn = c.open_connection();
        assert_eq!(Counters::get(&c.connections_open), 1);
        drop(conn);
        assert_eq!(Counters::get(&c.connections_open), 0);
        assert_eq!(Counters::get(&c.connections_accepted), 1);
    }
}
