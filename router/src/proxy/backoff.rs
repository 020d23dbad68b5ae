use std::time::Duration;

use rand::Rng;

use crate::config::RetryConfig;

/// Delay before retry number `retry` (1-based): exponential from
/// `backoff_base`, capped at `backoff_max`, with "equal jitter" (half fixed,
/// half random) so retries from many requests do not arrive in lockstep.
pub fn delay(config: &RetryConfig, retry: u32) -> Duration {
    let factor = 1u32
        .checked_shl(retry.saturating_sub(1).min(20))
        .unwrap_or(u32::MAX);
    let ceiling = config
        .backoff_base
        .saturating_mul(factor)
        .min(config.backoff_max);
    let half = ceiling / 2;
    half + half.mul_f64(rand::rng().random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_and_jitters_within_bounds() {
        let config = RetryConfig {
            max_attempts: 5,
            backoff_base: Duration::from_millis(10),
            backoff_max: Duration::from_millis(30),
        };
        for _ in 0..100 {
            let first = delay(&config, 1);
            assert!(first >= Duration::from_millis(5) && first <= Duration::from_millis(10));
            let second = delay(&config, 2);
            assert!(second >= Duration::from_millis(10) && second <= Duration::from_millis(20));
            let capped = delay(&config, 9);
            assert!(capped >= Duration::from_millis(15) && capped <= Duration::from_millis(30));
        }
    }
}
