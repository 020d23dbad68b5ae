//! When a batch is sent: the pure decision, separate from channels and
//! timers so that it can be tested on its own.

use std::time::Duration;

/// The limits a model's batches live within.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Rows per call; 0 means the model is not batched now (pass through).
    pub max_rows: usize,
    pub max_queue_delay: Duration,
    /// Sizes sent at once when reached.
    pub preferred: Vec<usize>,
    /// Requests waiting across all of the model's queues.
    pub max_queued: usize,
    /// Send a request that starts a batch at once when no other request is
    /// expected within `max_queue_delay`.
    pub eager_when_quiet: bool,
}

/// What to do with a request that arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Send it unchanged, on its own: the model is not batched now, or the
    /// request alone has more rows than a batch may.
    Alone,
    /// Over `max_queued`: refuse it.
    QueueFull,
    /// Queue it.
    Queue,
}

pub fn admit(limits: &Limits, rows: usize, queued: usize) -> Admission {
    if limits.max_rows == 0 || rows == 0 || rows > limits.max_rows {
        Admission::Alone
    } else if queued >= limits.max_queued {
        Admission::QueueFull
    } else {
        Admission::Queue
    }
}

/// Whether a pending batch of `pending_rows` must be sent before a request
/// of `rows` joins it (the two would not fit in one call).
pub fn send_before_joining(limits: &Limits, pending_rows: usize, rows: usize) -> bool {
    pending_rows > 0 && pending_rows + rows > limits.max_rows
}

/// Whether a pending batch is sent right after a request joined it.
/// `quiet`: a replica is idle and no other request is expected within
/// `max_queue_delay`.
pub fn send_on_arrival(
    limits: &Limits,
    pending_rows: usize,
    pending_requests: usize,
    quiet: bool,
) -> bool {
    pending_rows >= limits.max_rows
        || limits.preferred.contains(&pending_rows)
        || (limits.eager_when_quiet && pending_requests == 1 && quiet)
}

/// The recent arrival rate of a model's requests: an exponentially decayed
/// count, so that a burst counts at once and a lull fades within `horizon`.
#[derive(Debug, Clone)]
pub struct ArrivalRate {
    horizon: Duration,
    count: f64,
    last: Option<std::time::Instant>,
}

impl ArrivalRate {
    pub fn new(max_queue_delay: Duration) -> Self {
        Self {
            // Long enough to span several delays, short enough to follow load.
            horizon: (max_queue_delay * 10).max(Duration::from_millis(100)),
            count: 0.0,
            last: None,
        }
    }

    /// Records an arrival; returns how many other requests are expected
    /// within `window`: by the rate before it, and at least one when the
    /// previous request came less than `window` ago (a burst is under way).
    pub fn arrive(&mut self, now: std::time::Instant, window: Duration) -> f64 {
        let tau = self.horizon.as_secs_f64();
        let mut expected = 0.0;
        if let Some(last) = self.last {
            let gap = now.saturating_duration_since(last);
            self.count *= (-gap.as_secs_f64() / tau).exp();
            if gap < window {
                expected = 1.0;
            }
        }
        let expected = f64::max(expected, self.count / tau * window.as_secs_f64());
        self.count += 1.0;
        self.last = Some(now);
        expected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_rows: 8,
            max_queue_delay: Duration::from_millis(5),
            preferred: vec![4],
            max_queued: 10,
            eager_when_quiet: false,
        }
    }

    #[test]
    fn admission() {
        let l = limits();
        assert_eq!(admit(&l, 1, 0), Admission::Queue);
        assert_eq!(admit(&l, 8, 9), Admission::Queue);
        assert_eq!(admit(&l, 9, 0), Admission::Alone, "bigger than a batch");
        assert_eq!(admit(&l, 0, 0), Admission::Alone, "no rows to batch");
        assert_eq!(admit(&l, 1, 10), Admission::QueueFull);
        let off = Limits { max_rows: 0, ..l };
        assert_eq!(admit(&off, 1, 0), Admission::Alone, "not batched now");
    }

    #[test]
    fn full_or_preferred_batches_go_at_once() {
        let l = limits();
        assert!(!send_on_arrival(&l, 3, 3, true));
        assert!(send_on_arrival(&l, 4, 2, false), "preferred size");
        assert!(send_on_arrival(&l, 8, 5, false), "full");
        assert!(send_before_joining(&l, 6, 3));
        assert!(!send_before_joining(&l, 6, 2));
        assert!(!send_before_joining(&l, 0, 8));
    }

    #[test]
    fn quiet_models_skip_the_delay() {
        let l = Limits {
            eager_when_quiet: true,
            ..limits()
        };
        assert!(send_on_arrival(&l, 1, 1, true), "quiet: go");
        assert!(
            !send_on_arrival(&l, 1, 1, false),
            "busy or company expected: wait"
        );
        assert!(
            !send_on_arrival(&l, 2, 2, true),
            "already a batch: its timer decides"
        );
        assert!(!send_on_arrival(&limits(), 1, 1, true), "disabled");
    }

    #[test]
    fn arrival_rate_follows_load() {
        let delay = Duration::from_millis(5);
        let mut rate = ArrivalRate::new(delay);
        let mut now = std::time::Instant::now();
        // One request every 21 ms (one client, a 20 ms model): nobody to wait for.
        let mut expected = 0.0;
        for _ in 0..50 {
            now += Duration::from_millis(21);
            expected = rate.arrive(now, delay);
        }
        assert!(expected < 0.5, "{expected}");
        // Eight requests every 25 ms: company is expected.
        for _ in 0..20 {
            now += Duration::from_millis(25);
            for _ in 0..8 {
                expected = rate.arrive(now, delay);
            }
        }
        assert!(expected > 1.0, "{expected}");
        // After a lull the rate fades; a burst is company at once.
        now += Duration::from_secs(2);
        assert!(rate.arrive(now, delay) < 0.01);
        now += Duration::from_micros(100);
        assert!(rate.arrive(now, delay) >= 1.0);
    }
}
