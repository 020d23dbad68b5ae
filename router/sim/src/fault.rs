//! Fault injection: make the simulated engine fail the way real ones do, so
//! router retries, spill-over and health checks can be tested.
//!
//! Each kind of fault has its own slot: setting a fault replaces the active
//! fault of the same kind and leaves the others in place; clearing removes
//! all. Faults apply to the inference endpoints only (`/v1/chat/completions`,
//! `/v1/completions`, `/v1/embeddings`), except `Unhealthy`, which is about
//! `/health`.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::hashing;

/// One injected fault. JSON form (for `POST /sim/fault`), e.g.
/// `{"fail_next":{"count":2,"status":503}}`, `{"fail_fraction":{"fraction":0.1,"status":500}}`,
/// `{"abort_stream_after":{"chunks":3}}`, `{"extra_latency":"200ms"}`, `"unhealthy"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Fault {
    /// Answer the next `count` inference requests with `status` (a vLLM-shaped
    /// error body) without running them.
    FailNext { count: u32, status: u16 },
    /// Answer each inference request with `status` with probability
    /// `fraction` (drawn from the seeded generator: reproducible).
    FailFraction { fraction: f64, status: u16 },
    /// Every streaming request sends `chunks` SSE events (the role chunk
    /// counts), then the connection is cut without the end of the response.
    /// Non-streaming requests are not affected. Stays until cleared.
    AbortStreamAfter { chunks: u32 },
    /// Delay every inference request by this much before it is queued (the
    /// response headers come after the delay too).
    ExtraLatency(#[serde(with = "humantime_serde")] Duration),
    /// `GET /health` answers 503, as vLLM does when its engine died; requests
    /// are still served.
    Unhealthy,
}

impl Fault {
    /// Checks statuses (400..=599) and fractions (0..=1).
    pub fn validate(&self) -> Result<(), String> {
        let status_ok = |s: u16| {
            if (400..=599).contains(&s) {
                Ok(())
            } else {
                Err(format!("status must be in 400..=599, got {s}"))
            }
        };
        match self {
            Fault::FailNext { status, .. } => status_ok(*status),
            Fault::FailFraction { fraction, status } => {
                if !(0.0..=1.0).contains(fraction) {
                    return Err(format!("fraction must be in 0..=1, got {fraction}"));
                }
                status_ok(*status)
            }
            Fault::AbortStreamAfter { .. } | Fault::ExtraLatency(_) | Fault::Unhealthy => Ok(()),
        }
    }
}

/// The active faults of one simulator.
#[derive(Debug)]
pub(crate) struct FaultState {
    fail_next: Option<(u32, u16)>,
    fail_fraction: Option<(f64, u16)>,
    abort_after: Option<u32>,
    extra_latency: Option<Duration>,
    unhealthy: bool,
    rng: SmallRng,
}

impl FaultState {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            fail_next: None,
            fail_fraction: None,
            abort_after: None,
            extra_latency: None,
            unhealthy: false,
            rng: SmallRng::seed_from_u64(hashing::combine(seed, 0xfa17)),
        }
    }

    /// Activates `fault`, replacing an active fault of the same kind. A
    /// status outside 400..=599 is treated as 500.
    pub(crate) fn set(&mut self, fault: Fault) {
        let fix = |s: u16| if (400..=599).contains(&s) { s } else { 500 };
        match fault {
            Fault::FailNext { count, status } => {
                self.fail_next = (count > 0).then_some((count, fix(status)));
            }
            Fault::FailFraction { fraction, status } => {
                self.fail_fraction = Some((fraction.clamp(0.0, 1.0), fix(status)));
            }
            Fault::AbortStreamAfter { chunks } => self.abort_after = Some(chunks),
            Fault::ExtraLatency(d) => self.extra_latency = Some(d),
            Fault::Unhealthy => self.unhealthy = true,
        }
    }

    /// Removes every fault.
    pub(crate) fn clear(&mut self) {
        self.fail_next = None;
        self.fail_fraction = None;
        self.abort_after = None;
        self.extra_latency = None;
        self.unhealthy = false;
    }

    /// The active faults (counts as they stand now).
    pub(crate) fn active(&self) -> Vec<Fault> {
        let mut out = Vec::new();
        if let Some((count, status)) = self.fail_next {
            out.push(Fault::FailNext { count, status });
        }
        if let Some((fraction, status)) = self.fail_fraction {
            out.push(Fault::FailFraction { fraction, status });
        }
        if let Some(chunks) = self.abort_after {
            out.push(Fault::AbortStreamAfter { chunks });
        }
        if let Some(d) = self.extra_latency {
            out.push(Fault::ExtraLatency(d));
        }
        if self.unhealthy {
            out.push(Fault::Unhealthy);
        }
        out
    }

    /// Decides whether the request arriving now fails, and with what status.
    /// `FailNext` is consumed first; then `FailFraction` draws.
    pub(crate) fn draw_failure(&mut self) -> Option<u16> {
        if let Some((count, status)) = self.fail_next {
            self.fail_next = (count > 1).then_some((count - 1, status));
            return Some(status);
        }
        let (fraction, status) = self.fail_fraction?;
        (self.rng.random::<f64>() < fraction).then_some(status)
    }

    pub(crate) fn abort_after(&self) -> Option<u32> {
        self.abort_after
    }

    pub(crate) fn extra_latency(&self) -> Option<Duration> {
        self.extra_latency
    }

    pub(crate) fn unhealthy(&self) -> bool {
        self.unhealthy
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn fail_next_counts_down() {
        let mut f = FaultState::new(1);
        f.set(Fault::FailNext {
            count: 2,
            status: 503,
        });
        assert_eq!(f.draw_failure(), Some(503));
        assert_eq!(
            f.active(),
            vec![Fault::FailNext {
                count: 1,
                status: 503
            }]
        );
        assert_eq!(f.draw_failure(), Some(503));
        assert_eq!(f.draw_failure(), None);
        assert!(f.active().is_empty());
    }

    #[test]
    fn fraction_is_reproducible_and_roughly_right() {
        let run = || {
            let mut f = FaultState::new(42);
            f.set(Fault::FailFraction {
                fraction: 0.25,
                status: 500,
            });
            (0..1000)
                .map(|_| f.draw_failure().is_some())
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let failed = a.iter().filter(|x| **x).count();
        assert!((180..320).contains(&failed), "{failed}");
    }

    #[test]
    fn kinds_are_independent_and_clear_removes_all() {
        let mut f = FaultState::new(0);
        f.set(Fault::ExtraLatency(Duration::from_millis(5)));
        f.set(Fault::AbortStreamAfter { chunks: 3 });
        f.set(Fault::AbortStreamAfter { chunks: 4 });
        f.set(Fault::Unhealthy);
        assert_eq!(f.abort_after(), Some(4));
        assert_eq!(f.extra_latency(), Some(Duration::from_millis(5)));
        assert!(f.unhealthy());
        assert_eq!(f.active().len(), 3);
        f.clear();
        assert!(f.active().is_empty());
        assert_eq!(f.draw_failure(), None);
    }

    #[test]
    fn json_forms() {
        let f: Fault = serde_json::from_str(r#"{"fail_next":{"count":2,"status":503}}"#).unwrap();
        assert_eq!(
            f,
            Fault::FailNext {
                count: 2,
                status: 503
            }
        );
        let f: Fault = serde_json::from_str(r#"{"extra_latency":"200ms"}"#).unwrap();
        assert_eq!(f, Fault::ExtraLatency(Duration::from_millis(200)));
        let f: Fault = serde_json::from_str(r#""unhealthy""#).unwrap();
        assert_eq!(f, Fault::Unhealthy);
        assert!(
            Fault::FailNext {
                count: 1,
                status: 200
            }
            .validate()
            .is_err()
        );
        assert!(
            Fault::FailFraction {
                fraction: 1.5,
                status: 500
            }
            .validate()
            .is_err()
        );
    }
}
