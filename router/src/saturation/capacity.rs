//! What the router learns about one endpoint's capacity while it runs: how
//! many requests it completes per second when it has a queue, how many it
//! runs at once, and its GPUs' latest fresh readings. Written by the
//! saturation loop, read on the request path through atomics.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Busy seconds over which completions are averaged: older intervals fade
/// with this time constant. A ratio of decayed sums, not an average of
/// per-interval rates, so a short interval with one or two completions does
/// not swing the estimate.
const RATE_MEMORY_S: f64 = 5.0;

#[derive(Debug)]
pub struct EndpointCapacity {
    completed: AtomicU64,
    /// Requests completed per second while requests queued (f64 bits; NaN:
    /// not measured yet).
    rate_bits: AtomicU64,
    /// Decayed completions and busy seconds behind `rate_bits`.
    busy: Mutex<(f64, f64)>,
    /// Most requests the engine was seen running while others waited: its
    /// concurrency (0: not seen yet).
    slots: AtomicU32,
    gpu_memory_bits: AtomicU64,
    gpu_utilization_bits: AtomicU64,
}

impl Default for EndpointCapacity {
    fn default() -> Self {
        Self {
            completed: AtomicU64::new(0),
            rate_bits: AtomicU64::new(f64::NAN.to_bits()),
            busy: Mutex::new((0.0, 0.0)),
            slots: AtomicU32::new(0),
            gpu_memory_bits: AtomicU64::new(f64::NAN.to_bits()),
            gpu_utilization_bits: AtomicU64::new(f64::NAN.to_bits()),
        }
    }
}

fn known(bits: u64) -> Option<f64> {
    Some(f64::from_bits(bits)).filter(|v| !v.is_nan())
}

impl EndpointCapacity {
    /// Counts one request that left the endpoint (answered, failed or cut).
    pub fn record_completion(&self) {
        self.completed.fetch_add(1, Ordering::Relaxed);
    }

    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    pub fn rate(&self) -> Option<f64> {
        known(self.rate_bits.load(Ordering::Relaxed))
    }

    pub fn slots(&self) -> Option<u32> {
        Some(self.slots.load(Ordering::Relaxed)).filter(|&s| s > 0)
    }

    /// Highest used-memory fraction among the endpoint's GPUs, when fresh.
    pub fn gpu_memory(&self) -> Option<f64> {
        known(self.gpu_memory_bits.load(Ordering::Relaxed))
    }

    /// Highest utilisation (0..=1) among the endpoint's GPUs, when fresh.
    pub fn gpu_utilization(&self) -> Option<f64> {
        known(self.gpu_utilization_bits.load(Ordering::Relaxed))
    }

    /// Folds in `seconds` during which requests queued throughout (the
    /// engine ran flat out, so its completions measure its capacity).
    pub fn observe_busy(&self, completed: u64, seconds: f64) {
        if !(seconds.is_finite() && seconds > 0.0) {
            return;
        }
        let Ok(mut busy) = self.busy.lock() else {
            return;
        };
        let keep = (-seconds / RATE_MEMORY_S).exp();
        busy.0 = busy.0 * keep + completed as f64;
        busy.1 = busy.1 * keep + seconds;
        let rate = busy.0 / busy.1;
        if rate.is_finite() && rate > 0.0 {
            self.rate_bits.store(rate.to_bits(), Ordering::Relaxed);
        }
    }

    /// The engine ran `running` requests while others waited.
    pub fn observe_full(&self, running: u32) {
        self.slots.fetch_max(running, Ordering::Relaxed);
    }

    pub fn set_gpus(&self, memory: Option<f64>, utilization: Option<f64>) {
        let bits = |v: Option<f64>| v.unwrap_or(f64::NAN).to_bits();
        self.gpu_memory_bits.store(bits(memory), Ordering::Relaxed);
        self.gpu_utilization_bits
            .store(bits(utilization), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learns_rate_and_slots() {
        let c = EndpointCapacity::default();
        assert_eq!((c.rate(), c.slots()), (None, None));
        c.observe_busy(0, 0.25);
        assert_eq!(c.rate(), None, "nothing completed yet");
        c.observe_busy(5, 0.25);
        assert!(
            c.rate().is_some_and(|r| (r - 10.0).abs() < 0.5),
            "{:?}",
            c.rate()
        );
        // One quiet interval barely moves a rate built on several.
        for _ in 0..8 {
            c.observe_busy(5, 0.5);
        }
        c.observe_busy(0, 0.25);
        assert!(
            c.rate().is_some_and(|r| r > 9.0 && r < 10.0),
            "{:?}",
            c.rate()
        );
        c.observe_full(4);
        c.observe_full(3);
        assert_eq!(c.slots(), Some(4));
        c.set_gpus(Some(0.5), None);
        assert_eq!((c.gpu_memory(), c.gpu_utilization()), (Some(0.5), None));
    }
}
