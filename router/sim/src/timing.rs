//! Timing model: how long prefill and decode steps take.
//!
//! Prefill costs `prefill_base + prefill_per_token * uncached_prompt_tokens`;
//! each decode step costs
//! `decode_per_token * (1 + batch_slowdown * (running - 1))`, so time per
//! output token grows with the batch. All divided by `speed`. Sleeps aim at an ideal schedule (a running deadline) rather than
//! "now + step", so tokio's millisecond timer granularity does not add up
//! over many sub-millisecond steps.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::SimConfig;

/// Longest single simulated step; keeps absurd configs from overflowing.
const MAX_STEP: Duration = Duration::from_secs(3600);

/// Step durations derived from a [`SimConfig`].
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    prefill_base: f64,
    prefill_per_token: f64,
    decode_per_token: f64,
    batch_slowdown: f64,
    speed: f64,
}

impl Timing {
    /// The timing model of `cfg`.
    pub fn new(cfg: &SimConfig) -> Self {
        Self {
            prefill_base: cfg.prefill_base.as_secs_f64(),
            prefill_per_token: cfg.prefill_per_token.as_secs_f64(),
            decode_per_token: cfg.decode_per_token.as_secs_f64(),
            batch_slowdown: cfg.batch_slowdown.max(0.0),
            speed: if cfg.speed > 0.0 { cfg.speed } else { 1.0 },
        }
    }

    /// Prefill time for `uncached_tokens` prompt tokens not in the cache.
    pub fn prefill(&self, uncached_tokens: usize) -> Duration {
        secs(
            self.prefill_base + self.prefill_per_token * uncached_tokens as f64,
            self.speed,
        )
    }

    /// Time of one decode step while `running` sequences share the batch.
    pub fn decode_step(&self, running: usize) -> Duration {
        let batch = running.saturating_sub(1) as f64;
        secs(
            self.decode_per_token * (1.0 + self.batch_slowdown * batch),
            self.speed,
        )
    }
}

fn secs(seconds: f64, speed: f64) -> Duration {
    Duration::try_from_secs_f64(seconds / speed)
        .unwrap_or(MAX_STEP)
        .min(MAX_STEP)
}

/// Waits until `deadline`; when it has already passed, only yields so other
/// tasks (and cancellation) still get a turn.
pub async fn wait_until(deadline: Instant) {
    if deadline > Instant::now() {
        tokio::time::sleep_until(deadline).await;
    } else {
        tokio::task::yield_now().await;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn prefill_scales_with_uncached_tokens() {
        let cfg = SimConfig {
            prefill_base: Duration::from_millis(2),
            prefill_per_token: Duration::from_micros(100),
            ..SimConfig::default()
        };
        let t = Timing::new(&cfg);
        assert_eq!(t.prefill(0), Duration::from_millis(2));
        assert_eq!(t.prefill(100), Duration::from_millis(12));
    }

    #[test]
    fn decode_slows_with_batch_and_speeds_up_with_speed() {
        let cfg = SimConfig {
            decode_per_token: Duration::from_millis(10),
            batch_slowdown: 0.5,
            ..SimConfig::default()
        };
        let t = Timing::new(&cfg);
        assert_eq!(t.decode_step(1), Duration::from_millis(10));
        assert_eq!(t.decode_step(0), Duration::from_millis(10));
        assert_eq!(t.decode_step(3), Duration::from_millis(20));
        let fast = Timing::new(&SimConfig { speed: 2.0, ..cfg });
        assert_eq!(fast.decode_step(3), Duration::from_millis(10));
    }

    #[test]
    fn zero_delay_is_zero_and_huge_values_are_capped() {
        let t = Timing::new(&SimConfig::zero_delay());
        assert!(t.prefill(10_000).is_zero());
        assert!(t.decode_step(8).is_zero());
        let huge = Timing::new(&SimConfig {
            decode_per_token: Duration::from_secs(1_000_000),
            ..SimConfig::default()
        });
        assert_eq!(huge.decode_step(1), MAX_STEP);
    }
}
