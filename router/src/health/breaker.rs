use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::config::PassiveHealthConfig;

/// Passive ejection: after `consecutive_failures` failed requests in a row
/// (connect errors, timeouts, 5xx) the endpoint is ejected for a while, and
/// each ejection that follows without a success in between lasts twice as
/// long, up to a cap. When the time is up the endpoint takes traffic again;
/// a single success resets the back-off.
#[derive(Debug)]
pub struct Breaker {
    config: PassiveHealthConfig,
    /// Until when (`clock::now_ms`) the endpoint is ejected; 0 = closed.
    ejected_until_ms: AtomicU64,
    /// Read without the lock so the success path stays two atomic loads.
    consecutive_failures: AtomicU32,
    ejections_in_a_row: AtomicU32,
    /// Serialises the read-modify-write of a failure.
    update: Mutex<()>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureVerdict {
    /// Counted; the endpoint stays in.
    Counted,
    /// This failure ejected the endpoint for the given time.
    Ejected(Duration),
}

impl Breaker {
    pub fn new(config: PassiveHealthConfig) -> Self {
        Self {
            config,
            ejected_until_ms: AtomicU64::new(0),
            consecutive_failures: AtomicU32::new(0),
            ejections_in_a_row: AtomicU32::new(0),
            update: Mutex::new(()),
        }
    }

    pub fn allows(&self, now_ms: u64) -> bool {
        now_ms >= self.ejected_until_ms.load(Ordering::Relaxed)
    }

    pub fn record_success(&self) {
        let r = Ordering::Relaxed;
        if self.consecutive_failures.load(r) != 0 || self.ejections_in_a_row.load(r) != 0 {
            let _lock = self.update.lock().unwrap_or_else(|p| p.into_inner());
            self.consecutive_failures.store(0, r);
            self.ejections_in_a_row.store(0, r);
        }
    }

    pub fn record_failure(&self, now_ms: u64) -> FailureVerdict {
        if !self.config.enabled {
            return FailureVerdict::Counted;
        }
        let r = Ordering::Relaxed;
        let _lock = self.update.lock().unwrap_or_else(|p| p.into_inner());
        // Failures of requests that were already in flight when the endpoint
        // was ejected say nothing new.
        if !self.allows(now_ms) {
            return FailureVerdict::Counted;
        }
        let failures = self.consecutive_failures.load(r) + 1;
        if failures < self.config.consecutive_failures {
            self.consecutive_failures.store(failures, r);
            return FailureVerdict::Counted;
        }
        let ejections = self.ejections_in_a_row.load(r) + 1;
        let factor = 1u32
            .checked_shl(ejections.saturating_sub(1).min(30))
            .unwrap_or(u32::MAX);
        let duration = self
            .config
            .base_ejection
            .saturating_mul(factor)
            .min(self.config.max_ejection);
        self.ejected_until_ms
            .store(now_ms + duration.as_millis() as u64, r);
        self.ejections_in_a_row.store(ejections, r);
        self.consecutive_failures.store(0, r);
        FailureVerdict::Ejected(duration)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new(PassiveHealthConfig {
            enabled: true,
            consecutive_failures: 2,
            base_ejection: Duration::from_millis(100),
            max_ejection: Duration::from_millis(350),
        })
    }

    #[test]
    fn ejects_after_consecutive_failures_with_growing_backoff() {
        let b = breaker();
        assert_eq!(b.record_failure(1), FailureVerdict::Counted);
        assert_eq!(
            b.record_failure(2),
            FailureVerdict::Ejected(Duration::from_millis(100))
        );
        assert!(!b.allows(50));
        assert!(b.allows(102));
        b.record_failure(200);
        assert_eq!(
            b.record_failure(201),
            FailureVerdict::Ejected(Duration::from_millis(200))
        );
        b.record_failure(500);
        assert_eq!(
            b.record_failure(501),
            FailureVerdict::Ejected(Duration::from_millis(350)),
            "capped"
        );
    }

    #[test]
    fn a_success_resets_the_count_and_backoff() {
        let b = breaker();
        b.record_failure(1);
        b.record_success();
        assert_eq!(b.record_failure(2), FailureVerdict::Counted);
        assert_eq!(
            b.record_failure(3),
            FailureVerdict::Ejected(Duration::from_millis(100))
        );
        b.record_success();
        b.record_failure(200);
        assert_eq!(
            b.record_failure(201),
            FailureVerdict::Ejected(Duration::from_millis(100))
        );
    }

    #[test]
    fn failures_while_ejected_do_not_extend_it() {
        let b = breaker();
        b.record_failure(1);
        b.record_failure(2);
        assert_eq!(b.record_failure(3), FailureVerdict::Counted);
        assert_eq!(b.record_failure(4), FailureVerdict::Counted);
        assert!(b.allows(102));
    }

    #[test]
    fn disabled_never_ejects() {
        let b = Breaker::new(PassiveHealthConfig {
            enabled: false,
            ..PassiveHealthConfig::default()
        });
        for t in 0..100 {
            b.record_failure(t);
        }
        assert!(b.allows(100));
    }
}
