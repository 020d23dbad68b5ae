//! A model's saturation state with hysteresis: it turns saturated as soon
//! as a request finds no room, and back to normal only at an evaluation
//! that finds room again after an interval in which no request was turned
//! away, so it does not flap with each request.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use super::assess::Reason;

#[derive(Debug, Default)]
pub struct SaturationState {
    saturated: AtomicBool,
    /// A request found no room since the last evaluation.
    refused: AtomicBool,
    /// The latest reason, as `Reason` index + 1 (0: none).
    reason: AtomicU8,
}

/// A change of state, for logs and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Saturated(Reason),
    Recovered,
}

const REASONS: [Reason; 6] = [
    Reason::QueueWait,
    Reason::KvCache,
    Reason::GpuMemory,
    Reason::GpuUtilization,
    Reason::AtCapacity,
    Reason::NoHealthyEndpoint,
];

impl SaturationState {
    pub fn is_saturated(&self) -> bool {
        self.saturated.load(Ordering::Relaxed)
    }

    pub fn reason(&self) -> Option<Reason> {
        let i = self.reason.load(Ordering::Relaxed);
        (i > 0).then(|| REASONS[usize::from(i - 1) % REASONS.len()])
    }

    /// A request found no room for `reason`.
    pub fn refuse(&self, reason: Reason) -> Option<Transition> {
        self.refused.store(true, Ordering::Relaxed);
        let index = REASONS.iter().position(|r| *r == reason).unwrap_or(0) as u8 + 1;
        self.reason.store(index, Ordering::Relaxed);
        (!self.saturated.swap(true, Ordering::Relaxed)).then_some(Transition::Saturated(reason))
    }

    /// The periodic evaluation: `room` is the pool's verdict under the
    /// saturated (lower) marks.
    pub fn evaluate(&self, room: bool) -> Option<Transition> {
        let refused = self.refused.swap(false, Ordering::Relaxed);
        if self.is_saturated() && room && !refused {
            self.saturated.store(false, Ordering::Relaxed);
            self.reason.store(0, Ordering::Relaxed);
            return Some(Transition::Recovered);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturates_at_once_and_recovers_after_a_quiet_interval() {
        let s = SaturationState::default();
        assert_eq!(s.evaluate(true), None);
        assert_eq!(
            s.refuse(Reason::QueueWait),
            Some(Transition::Saturated(Reason::QueueWait))
        );
        assert_eq!(s.refuse(Reason::GpuMemory), None, "already saturated");
        assert_eq!(s.reason(), Some(Reason::GpuMemory));
        assert_eq!(s.evaluate(true), None, "a refusal in the last interval");
        assert_eq!(s.evaluate(false), None, "no room yet");
        assert!(s.is_saturated());
        assert_eq!(s.evaluate(true), Some(Transition::Recovered));
        assert!(!s.is_saturated());
        assert_eq!(s.reason(), None);
    }
}
