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
    /// Send a lone request at once when nothing of the model is queued or in
    /// flight.
    pub dispatch_when_idle: bool,
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
pub fn send_on_arrival(
    limits: &Limits,
    pending_rows: usize,
    pending_requests: usize,
    model_idle: bool,
) -> bool {
    pending_rows >= limits.max_rows
        || limits.preferred.contains(&pending_rows)
        || (limits.dispatch_when_idle && model_idle && pending_requests == 1)
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
            dispatch_when_idle: false,
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
    fn idle_dispatch_only_when_enabled_and_alone() {
        let l = Limits {
            dispatch_when_idle: true,
            ..limits()
        };
        assert!(send_on_arrival(&l, 1, 1, true));
        assert!(!send_on_arrival(&l, 1, 1, false), "something in flight");
        assert!(!send_on_arrival(&l, 2, 2, true), "already a queue");
        assert!(!send_on_arrival(&limits(), 1, 1, true), "disabled");
    }
}
