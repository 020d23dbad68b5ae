//! One model's batching queues for one protocol: requests with the same
//! compatibility key wait together until their batch is full, reaches a
//! preferred size, or its first request has waited `max_queue_delay`; then
//! one task sends the batch as one call and hands each caller its part.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Histogram};
use tokio::sync::oneshot;

use super::queue::{self, Admission, ArrivalRate, Limits};
use super::send::{Codec, Outcome, send_batch};
use super::settings::Settings;
use crate::app::App;
use crate::clock::now_ms;
use crate::front::errors::ApiError;
use crate::models::ModelRoute;
use crate::observability::metrics as m;

/// Which requests may share a call: equal keys, equal layout.
pub type BatchKey = Vec<u8>;

/// Appends a length-prefixed part to a key, so that parts cannot run into
/// each other.
pub fn push_key(key: &mut BatchKey, part: &[u8]) {
    key.extend_from_slice(&(part.len() as u32).to_le_bytes());
    key.extend_from_slice(part);
}

/// A request offered to the batcher.
pub struct Offer<M> {
    pub key: BatchKey,
    /// Its size along the batch dimension.
    pub rows: usize,
    pub member: M,
    pub received_at: Instant,
}

pub struct Batcher<C: Codec> {
    codec: C,
    settings: Arc<Settings>,
    state: Mutex<State<C::Member>>,
    metrics: BatchMetrics,
}

struct State<M> {
    pending: HashMap<BatchKey, Pending<M>>,
    /// Requests in `pending`.
    queued: usize,
    next_generation: u64,
    arrivals: ArrivalRate,
}

struct Pending<M> {
    /// Tells a timer whether the batch it was set for is still this one.
    generation: u64,
    rows: usize,
    waiting: Vec<Waiting<M>>,
}

pub(super) struct Waiting<M> {
    pub member: M,
    pub rows: usize,
    pub received_at: Instant,
    pub enqueued_at: Instant,
    pub reply: oneshot::Sender<Outcome>,
}

pub(super) struct BatchMetrics {
    pub requests: Histogram,
    pub rows: Histogram,
    pub queue_delay: Histogram,
    pub queued: Gauge,
    pub batched: Counter,
    pub alone: Counter,
    pub retried_alone: Counter,
    pub queue_full: Counter,
    pub expired: Counter,
    pub failed: Counter,
}

impl BatchMetrics {
    fn new(model: &str) -> Self {
        let outcome = |o: &'static str| metrics::counter!(m::BATCH_OUTCOMES, "model" => model.to_owned(), "outcome" => o);
        let label = [("model", model.to_owned())];
        Self {
            requests: metrics::histogram!(m::BATCH_REQUESTS, &label),
            rows: metrics::histogram!(m::BATCH_ROWS, &label),
            queue_delay: metrics::histogram!(m::BATCH_QUEUE_DELAY, &label),
            queued: metrics::gauge!(m::BATCH_QUEUED, &label),
            batched: outcome("batched"),
            alone: outcome("alone"),
            retried_alone: outcome("retried_alone"),
            queue_full: outcome("queue_full"),
            expired: outcome("expired"),
            failed: outcome("failed"),
        }
    }
}

/// A batch taken out of the queues, ready to send.
type Batch<M> = Vec<Waiting<M>>;

/// A timer to set: the batch (key and generation) and when it fires.
type Timer = (BatchKey, u64, Instant);

impl<C: Codec> Batcher<C> {
    pub fn new(model: &str, codec: C, settings: Arc<Settings>) -> Self {
        let arrivals = ArrivalRate::new(settings.limits().max_queue_delay);
        Self {
            codec,
            settings,
            state: Mutex::new(State {
                pending: HashMap::new(),
                queued: 0,
                next_generation: 0,
                arrivals,
            }),
            metrics: BatchMetrics::new(model),
        }
    }

    /// Queues a request and waits for its part of a batch's answer, or for
    /// word that it should go on its own. Returns `SendAlone` at once when
    /// the model is not batched now.
    pub async fn submit(
        self: &Arc<Self>,
        app: &Arc<App>,
        route: &Arc<ModelRoute>,
        offer: Offer<C::Member>,
    ) -> Outcome {
        let limits = self.settings.limits();
        let deadline = offer.received_at + route.pool.timeouts.total;
        let (reply, answer) = oneshot::channel();
        let (ready, timer) = {
            let mut state = self.lock();
            match queue::admit(&limits, offer.rows, state.queued) {
                Admission::Alone => {
                    drop(state);
                    self.metrics.alone.increment(1);
                    return Outcome::SendAlone;
                }
                Admission::QueueFull => {
                    drop(state);
                    self.metrics.queue_full.increment(1);
                    return Outcome::Failed {
                        error: ApiError::queue_full(&route.name, limits.max_queued),
                        endpoint: None,
                    };
                }
                Admission::Queue => {}
            }
            let now = Instant::now();
            let waiting = Waiting {
                member: offer.member,
                rows: offer.rows,
                received_at: offer.received_at,
                enqueued_at: now,
                reply,
            };
            self.enqueue(
                &mut state,
                &limits,
                offer.key,
                waiting,
                now,
                idle_replica(route),
            )
        };
        for batch in ready {
            self.spawn_send(app, route, batch);
        }
        if let Some((key, generation, at)) = timer {
            let batcher = Arc::clone(self);
            let (app, route) = (Arc::clone(app), Arc::clone(route));
            tokio::spawn(async move {
                tokio::time::sleep_until(at.into()).await;
                batcher.expire(&app, &route, &key, generation);
            });
        }
        match tokio::time::timeout_at(deadline.into(), answer).await {
            Ok(Ok(outcome)) => outcome,
            // The sending task always answers; a dropped sender means it
            // panicked, which the caller should hear about as a 502.
            Ok(Err(_)) => Outcome::Failed {
                error: ApiError::bad_gateway("the batch this request joined was lost"),
                endpoint: None,
            },
            Err(_) => {
                self.metrics.expired.increment(1);
                Outcome::Failed {
                    error: ApiError::gateway_timeout(
                        "The request's total timeout expired while it waited for its batch.",
                    ),
                    endpoint: None,
                }
            }
        }
    }

    /// Adds a request to its queue. Returns the batches to send now, and
    /// the timer to set when the request started a new batch.
    fn enqueue(
        &self,
        state: &mut State<C::Member>,
        limits: &Limits,
        key: BatchKey,
        waiting: Waiting<C::Member>,
        now: Instant,
        idle_replica: bool,
    ) -> (Vec<Batch<C::Member>>, Option<Timer>) {
        let mut ready = Vec::new();
        let pending_rows = state.pending.get(&key).map_or(0, |p| p.rows);
        if queue::send_before_joining(limits, pending_rows, waiting.rows)
            && let Some(batch) = self.take(state, &key)
        {
            ready.push(batch);
        }
        let company = state.arrivals.arrive(now, limits.max_queue_delay);
        let quiet = idle_replica && company < 1.0;
        let generation = state.next_generation;
        let pending = state.pending.entry(key.clone()).or_insert_with(|| Pending {
            generation,
            rows: 0,
            waiting: Vec::new(),
        });
        let started = pending.waiting.is_empty();
        pending.rows += waiting.rows;
        pending.waiting.push(waiting);
        let (rows, requests) = (pending.rows, pending.waiting.len());
        if started {
            state.next_generation += 1;
        }
        state.queued += 1;
        self.metrics.queued.set(state.queued as f64);
        let mut timer = None;
        if queue::send_on_arrival(limits, rows, requests, quiet) {
            ready.extend(self.take(state, &key));
        } else if started {
            timer = Some((key, generation, timer_deadline(now, limits.max_queue_delay)));
        }
        (ready, timer)
    }

    /// Removes a pending batch from the queues.
    fn take(&self, state: &mut State<C::Member>, key: &BatchKey) -> Option<Batch<C::Member>> {
        let pending = state.pending.remove(key)?;
        state.queued -= pending.waiting.len();
        self.metrics.queued.set(state.queued as f64);
        Some(pending.waiting)
    }

    /// A batch's delay ran out: send it, unless it already went.
    fn expire(
        self: &Arc<Self>,
        app: &Arc<App>,
        route: &Arc<ModelRoute>,
        key: &BatchKey,
        generation: u64,
    ) {
        let batch = {
            let mut state = self.lock();
            match state.pending.get(key) {
                Some(p) if p.generation == generation => self.take(&mut state, key),
                _ => None,
            }
        };
        if let Some(batch) = batch {
            self.spawn_send(app, route, batch);
        }
    }

    /// Sends a batch from its own task: a caller that goes away must not
    /// take the others' call with it.
    fn spawn_send(
        self: &Arc<Self>,
        app: &Arc<App>,
        route: &Arc<ModelRoute>,
        batch: Batch<C::Member>,
    ) {
        let batcher = Arc::clone(self);
        let (app, route) = (Arc::clone(app), Arc::clone(route));
        tokio::spawn(async move {
            send_batch(&batcher.codec, &batcher.metrics, &app, &route, batch).await;
        });
    }

    fn lock(&self) -> MutexGuard<'_, State<C::Member>> {
        // The state stays consistent across a panic elsewhere: every update
        // is made under the lock in a few plain steps.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether some replica of the model's pool is up and has nothing in flight
/// through this router. Without one, a request that goes at once only
/// queues on a busy server: it may as well wait for company.
fn idle_replica(route: &ModelRoute) -> bool {
    let pool = &route.pool;
    let now = now_ms();
    pool.endpoints
        .iter()
        .any(|e| e.in_flight() == 0 && e.is_available(now, pool.max_in_flight_per_endpoint))
}

/// When a batch's timer fires. Tokio's timers round up to the next whole
/// millisecond, so the timer is set up to 1 ms early: a request never waits
/// longer than `max_queue_delay` for its batch.
fn timer_deadline(enqueued: Instant, delay: Duration) -> Instant {
    let early = delay.saturating_sub(Duration::from_millis(1));
    enqueued + early
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_fire_no_later_than_the_delay() {
        let t = Instant::now();
        assert_eq!(
            timer_deadline(t, Duration::from_millis(5)),
            t + Duration::from_millis(4)
        );
        assert_eq!(timer_deadline(t, Duration::from_micros(300)), t);
    }
}
