//! The simulated engine: shared state (scheduler, KV cache, metrics, faults)
//! and the life of one sequence, a [`Ticket`].
//!
//! One task per request drives its tickets: wait for a slot, sleep through
//! prefill, then one decode step per output token. Dropping a ticket before
//! [`Ticket::finish`] aborts the sequence: it leaves the queue or frees its
//! slot and blocks. That is how client disconnects reach the engine.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::config::SimConfig;
use crate::fault::FaultState;
use crate::metrics::{Gauges, Metrics};
use crate::prefix_cache::{Allocation, CacheEvent};
use crate::scheduler::{Admitted, Scheduler, SeqPlan};
use crate::stats::{Counters, SimStats};
use crate::timing::{Timing, wait_until};

/// Why a sequence stopped generating (vLLM's `finish_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FinishReason {
    /// The simulated model emitted EOS before `max_tokens`.
    Stop,
    /// `max_tokens` reached.
    Length,
}

impl FinishReason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
        }
    }
}

/// A sequence the KV cache could never hold.
#[derive(Debug, thiserror::Error)]
#[error(
    "request needs {blocks} KV-cache blocks but the cache has only {capacity}; reduce the prompt or max_tokens"
)]
pub(crate) struct TooLarge {
    pub blocks: usize,
    pub capacity: usize,
}

/// Wakes a waiting sequence and carries what the admission must record.
struct Waiter {
    tx: oneshot::Sender<Admitted>,
    prompt_len: usize,
    cacheable: bool,
    arrived: Instant,
}

struct State {
    sched: Scheduler<Waiter>,
    metrics: Metrics,
    /// Where the cache's changes go when KV events are published.
    kv_events: Option<UnboundedSender<Vec<CacheEvent>>>,
}

impl State {
    fn publish_cache_events(&mut self) {
        if let Some(tx) = &self.kv_events {
            let events = self.sched.cache_mut().take_events();
            if !events.is_empty() {
                // The publisher is gone only when the simulator shuts down.
                let _ = tx.send(events);
            }
        }
    }
}

/// Shared state of one simulated engine.
pub(crate) struct Engine {
    pub(crate) cfg: SimConfig,
    pub(crate) timing: Timing,
    pub(crate) counters: Arc<Counters>,
    state: Mutex<State>,
    faults: Mutex<FaultState>,
    next_id: AtomicU64,
}

impl Engine {
    pub(crate) fn new(
        cfg: SimConfig,
        kv_events: Option<UnboundedSender<Vec<CacheEvent>>>,
    ) -> Arc<Self> {
        let mut sched = Scheduler::new(
            cfg.max_num_seqs as usize,
            cfg.block_size as usize,
            cfg.num_blocks as usize,
        );
        if kv_events.is_some() {
            sched.cache_mut().record_events();
        }
        Arc::new(Self {
            timing: Timing::new(&cfg),
            faults: Mutex::new(FaultState::new(cfg.seed)),
            cfg,
            counters: Arc::default(),
            state: Mutex::new(State {
                sched,
                metrics: Metrics::default(),
                kv_events,
            }),
            next_id: AtomicU64::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the counters unusable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The fault slots.
    pub(crate) fn faults(&self) -> MutexGuard<'_, FaultState> {
        self.faults.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues a sequence of `prompt` plus `output_len` generated tokens.
    pub(crate) fn submit(
        self: &Arc<Self>,
        prompt: &[u32],
        output_len: u32,
        cacheable: bool,
    ) -> Result<Ticket, TooLarge> {
        let plan = SeqPlan::new(
            prompt,
            output_len as usize,
            self.cfg.block_size as usize,
            cacheable,
        );
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        let arrived = Instant::now();
        {
            let mut st = self.lock();
            if !st.sched.fits(&plan) {
                return Err(TooLarge {
                    blocks: plan.total_blocks(),
                    capacity: self.cfg.num_blocks as usize,
                });
            }
            let waiter = Waiter {
                tx,
                prompt_len: prompt.len(),
                cacheable,
                arrived,
            };
            st.sched.enqueue(id, plan, waiter);
            dispatch(&mut st);
        }
        Ok(Ticket {
            engine: Arc::clone(self),
            id,
            phase: Phase::Waiting(rx),
            arrived,
            prompt_len: prompt.len(),
            output_len,
            produced: 0,
            cached_tokens: 0,
            clock: arrived,
            last_token_at: arrived,
        })
    }

    /// Sequences running now.
    pub(crate) fn running(&self) -> usize {
        self.lock().sched.running()
    }

    /// Forgets unreferenced cached blocks.
    pub(crate) fn reset_prefix_cache(&self) {
        let mut st = self.lock();
        st.sched.cache_mut().reset();
        st.publish_cache_events();
    }

    fn gauges(&self, st: &State) -> Gauges {
        Gauges {
            running: st.sched.running(),
            waiting: st.sched.waiting(),
            kv_cache_usage: st.sched.cache().usage(),
            num_blocks: self.cfg.num_blocks,
            block_size: self.cfg.block_size,
            requests_cancelled: Counters::get(&self.counters.cancelled),
            requests_failed: Counters::get(&self.counters.failed),
        }
    }

    /// Prometheus text of the engine metrics.
    pub(crate) fn render_metrics(&self) -> String {
        let st = self.lock();
        st.metrics
            .render(&self.cfg.served_model_name, &self.gauges(&st))
    }

    /// Snapshot of counters and state.
    pub(crate) fn stats(&self) -> SimStats {
        let faults = self.faults().active();
        let st = self.lock();
        let c = &self.counters;
        let cache = st.sched.cache();
        SimStats {
            requests_received: Counters::get(&c.received),
            requests_completed: Counters::get(&c.completed),
            requests_cancelled: Counters::get(&c.cancelled),
            requests_failed: Counters::get(&c.failed),
            requests_rejected: Counters::get(&c.rejected),
            running: st.sched.running(),
            waiting: st.sched.waiting(),
            peak_running: st.sched.peak_running(),
            prompt_tokens: st.metrics.prompt_tokens,
            cached_tokens: st.metrics.prefix_cache_hits,
            prefix_cache_queries: st.metrics.prefix_cache_queries,
            generation_tokens: st.metrics.generation_tokens,
            kv_cache_usage: cache.usage(),
            kv_blocks_used: cache.used_blocks(),
            kv_blocks_cached: cache.cached_blocks(),
            kv_evictions: cache.evictions(),
            connections_accepted: Counters::get(&c.connections_accepted),
            connections_open: Counters::get(&c.connections_open),
            faults,
        }
    }
}

/// Starts every queued sequence that fits and wakes it, then publishes what that
/// changed in the cache.
fn dispatch(st: &mut State) {
    start_queued(st);
    st.publish_cache_events();
}

/// A waiter that is gone gives its slot straight back.
fn start_queued(st: &mut State) {
    loop {
        let started = st.sched.schedule();
        if started.is_empty() {
            return;
        }
        let mut freed = false;
        for (_, admitted, w) in started {
            let cached = admitted.cached_tokens;
            match w.tx.send(admitted) {
                Ok(()) => {
                    let m = &mut st.metrics;
                    m.prompt_tokens += w.prompt_len as u64;
                    if w.cacheable {
                        m.prefix_cache_queries += w.prompt_len as u64;
                        m.prefix_cache_hits += cached as u64;
                    }
                    m.queue_time.observe(w.arrived.elapsed().as_secs_f64());
                }
                Err(admitted) => {
                    st.sched.finish(admitted.alloc);
                    freed = true;
                }
            }
        }
        if !freed {
            return;
        }
    }
}

enum Phase {
    Waiting(oneshot::Receiver<Admitted>),
    Running(Allocation),
    Done,
}

/// One sequence in the engine. Drive it with [`Ticket::start`], then
/// [`Ticket::next_token`] until it returns false, then [`Ticket::finish`].
pub(crate) struct Ticket {
    engine: Arc<Engine>,
    id: u64,
    phase: Phase,
    arrived: Instant,
    prompt_len: usize,
    output_len: u32,
    produced: u32,
    cached_tokens: usize,
    /// Ideal time of the current step's end (see `timing`).
    clock: Instant,
    last_token_at: Instant,
}

impl Ticket {
    /// Waits for a slot, then through the prefill of the uncached prompt
    /// tokens. Returns the cached prompt tokens; `None` only if the engine
    /// dropped the sequence (not expected).
    pub(crate) async fn start(&mut self) -> Option<usize> {
        if let Phase::Waiting(rx) = &mut self.phase {
            let admitted = rx.await.ok()?;
            self.cached_tokens = admitted.cached_tokens;
            self.phase = Phase::Running(admitted.alloc);
            let uncached = self.prompt_len.saturating_sub(self.cached_tokens);
            self.clock = Instant::now() + self.engine.timing.prefill(uncached);
        }
        wait_until(self.clock).await;
        Some(self.cached_tokens)
    }

    /// Produces the next output token: the first at the end of prefill, each
    /// later one after a decode step sized by the current batch. False once
    /// all `output_len` tokens are out.
    pub(crate) async fn next_token(&mut self) -> bool {
        if self.produced >= self.output_len || !matches!(self.phase, Phase::Running(_)) {
            return false;
        }
        if self.produced > 0 {
            let running = self.engine.running();
            self.clock += self.engine.timing.decode_step(running);
            wait_until(self.clock).await;
        }
        self.produced += 1;
        let now = Instant::now();
        {
            let mut st = self.engine.lock();
            st.metrics.generation_tokens += 1;
            if self.produced == 1 {
                st.metrics.ttft.observe((now - self.arrived).as_secs_f64());
            } else {
                st.metrics
                    .itl
                    .observe((now - self.last_token_at).as_secs_f64());
            }
        }
        self.last_token_at = now;
        true
    }

    /// Output tokens produced so far.
    pub(crate) fn produced(&self) -> u32 {
        self.produced
    }

    /// Prompt length in tokens.
    pub(crate) fn prompt_len(&self) -> usize {
        self.prompt_len
    }

    /// Ends the sequence successfully, freeing its slot and blocks.
    pub(crate) fn finish(mut self, reason: FinishReason) {
        if let Phase::Running(alloc) = std::mem::replace(&mut self.phase, Phase::Done) {
            let mut st = self.engine.lock();
            st.sched.finish(alloc);
            match reason {
                FinishReason::Stop => st.metrics.success_stop += 1,
                FinishReason::Length => st.metrics.success_length += 1,
            }
            st.metrics.e2e.observe(self.arrived.elapsed().as_secs_f64());
            dispatch(&mut st);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Done => {}
            Phase::Running(alloc) => {
                let mut st = self.engine.lock();
                st.sched.finish(alloc);
                dispatch(&mut st);
            }
            Phase::Waiting(mut rx) => {
                let mut st = self.engine.lock();
                if !st.sched.cancel_waiting(self.id) {
                    // Admitted already (under this lock), but not yet seen.
                    if let Ok(admitted) = rx.try_recv() {
                        st.sched.finish(admitted.alloc);
                    }
                }
                dispatch(&mut st);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn engine(max_num_seqs: u32) -> Arc<Engine> {
        Engine::new(
            SimConfig {
                max_num_seqs,
                ..SimConfig::zero_delay()
            },
            None,
        )
    }

    #[tokio::test]
    async fn tickets_queue_and_free_slots_on_drop() {
        let e = engine(1);
        let prompt: Vec<u32> = (0..40).collect();
        let mut a = e.submit(&prompt, 3, true).unwrap();
        let mut b = e.submit(&prompt, 3, true).unwrap();
        assert_eq!(a.start().await, Some(0));
        let s = e.stats();
        assert_eq!((s.running, s.waiting), (1, 1));
        // Dropping the running one (client gone) lets the waiting one start.
        drop(a);
        assert_eq!(b.start().await, Some(32));
        while b.next_token().await {}
        assert_eq!(b.produced(), 3);
        b.finish(FinishReason::Length);
        let s = e.stats();
        assert_eq!((s.running, s.waiting, s.kv_blocks_used), (0, 0, 0));
        assert_eq!(s.generation_tokens, 3);
        assert_eq!((s.prompt_tokens, s.cached_tokens), (80, 32));
        assert!(
            e.render_metrics()
                .contains("finished_reason=\"length\"} 1.0")
        );
    }

    #[tokio::test]
    async fn dropping_a_waiting_ticket_leaves_the_queue() {
        let e = engine(1);
        let mut a = e.submit(&[1, 2, 3], 1, true).unwrap();
        let b = e.submit(&[4, 5, 6], 1, true).unwrap();
        assert_eq!(e.stats().waiting, 1);
        drop(b);
        assert_eq!(e.stats().waiting, 0);
        a.start().await;
        drop(a);
        assert_eq!(e.stats().running, 0);
    }

    #[tokio::test]
    async fn too_large_is_refused() {
        let e = Engine::new(
            SimConfig {
                num_blocks: 2,
                ..SimConfig::zero_delay()
            },
            None,
        );
        let prompt: Vec<u32> = (0..40).collect();
        assert!(e.submit(&prompt, 1, true).is_err());
        assert!(e.submit(&prompt[..20], 1, true).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn timing_follows_the_model() {
        let e = Engine::new(
            SimConfig {
                prefill_per_token: std::time::Duration::from_millis(1),
                decode_per_token: std::time::Duration::from_millis(10),
                batch_slowdown: 0.0,
                ..SimConfig::default()
            },
            None,
        );
        let t0 = Instant::now();
        let mut a = e.submit(&[0; 20], 3, true).unwrap();
        a.start().await;
        assert_eq!(t0.elapsed(), std::time::Duration::from_millis(20));
        while a.next_token().await {}
        assert_eq!(t0.elapsed(), std::time::Duration::from_millis(40));
        a.finish(FinishReason::Stop);
    }
}
