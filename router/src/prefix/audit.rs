//! Self-audit of prefix routing: for each answered request, the cached prompt tokens the
//! router predicted for the endpoint it chose against what the engine reports
//! (`usage.prompt_tokens_details.cached_tokens`). The error is exported as metrics and a
//! warning is logged when its running average drifts above the configured bound: a stale
//! index, a wrong tokenizer or block size, or an engine evicting faster than expected.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Histogram};

use crate::observability::metrics as m;

/// Samples averaged before a drift warning can fire.
const MIN_SAMPLES: u64 = 32;
/// Weight of a new sample in the running average.
const ALPHA: f64 = 0.05;
/// At most one drift warning per pool in this long.
const WARN_EVERY: Duration = Duration::from_secs(60);

/// What the policy predicted for one request, filled in when it picks.
#[derive(Debug, Default)]
pub struct CachePrediction {
    /// Leading prompt blocks the chosen endpoint was predicted to hold; `u32::MAX` for none.
    blocks: AtomicU32,
    /// The prompt the chosen endpoint was predicted to compute (bytes or tokens, as the
    /// policy keys prompts): its prefill work, counted on the endpoint until the first byte.
    uncached: AtomicU64,
}

impl CachePrediction {
    pub fn new() -> Self {
        Self {
            blocks: AtomicU32::new(u32::MAX),
            uncached: AtomicU64::new(0),
        }
    }

    pub fn record(&self, blocks: u32, uncached: u64) {
        self.blocks.store(blocks, Ordering::Relaxed);
        self.uncached.store(uncached, Ordering::Relaxed);
    }

    /// The uncached prompt of the last pick (0 before one).
    pub fn uncached(&self) -> u64 {
        self.uncached.load(Ordering::Relaxed)
    }

    pub fn blocks(&self) -> Option<u32> {
        match self.blocks.load(Ordering::Relaxed) {
            u32::MAX => None,
            n => Some(n),
        }
    }
}

/// A prediction in the prompt's own units, ready to compare with the engine's answer.
#[derive(Debug, Clone, Copy)]
pub struct PredictedPrompt {
    pub cached: usize,
    pub len: usize,
    pub in_tokens: bool,
}

impl PredictedPrompt {
    fn cached_fraction(&self) -> f64 {
        if self.len == 0 {
            0.0
        } else {
            (self.cached.min(self.len)) as f64 / self.len as f64
        }
    }
}

pub struct PrefixAudit {
    pool: Arc<str>,
    warn_error: f64,
    /// Per endpoint (by pool index): predicted, reported and audited prompt tokens,
    /// registered once so the request path does no label work.
    counters: Vec<[Counter; 3]>,
    error: Histogram,
    drift: Gauge,
    state: Mutex<Drift>,
}

#[derive(Default)]
struct Drift {
    mean_abs_error: f64,
    samples: u64,
    last_warning: Option<Instant>,
}

impl std::fmt::Debug for PrefixAudit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrefixAudit")
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

impl PrefixAudit {
    /// `endpoints`: the pool's endpoint names, in pool order.
    pub fn new(pool: Arc<str>, warn_error: f64, endpoints: &[Arc<str>]) -> Self {
        let counters = endpoints
            .iter()
            .map(|endpoint| {
                let labels = [
                    ("pool", pool.to_string()),
                    ("endpoint", endpoint.to_string()),
                ];
                [
                    metrics::counter!(m::PREFIX_PREDICTED_CACHED, &labels),
                    metrics::counter!(m::PREFIX_REPORTED_CACHED, &labels),
                    metrics::counter!(m::PREFIX_AUDITED_PROMPT, &labels),
                ]
            })
            .collect();
        Self {
            error: metrics::histogram!(m::PREFIX_PREDICTION_ERROR, "pool" => pool.to_string()),
            drift: metrics::gauge!(m::PREFIX_PREDICTION_DRIFT, "pool" => pool.to_string()),
            counters,
            pool,
            warn_error,
            state: Mutex::new(Drift::default()),
        }
    }

    /// Compares a prediction with the engine's `usage`; returns the signed error in
    /// fractions of the prompt (predicted minus reported).
    pub fn record(
        &self,
        endpoint: usize,
        predicted: PredictedPrompt,
        prompt_tokens: u64,
        cached_tokens: u64,
    ) -> f64 {
        let reported = if prompt_tokens == 0 {
            0.0
        } else {
            (cached_tokens.min(prompt_tokens)) as f64 / prompt_tokens as f64
        };
        let predicted_fraction = predicted.cached_fraction();
        let predicted_tokens = if predicted.in_tokens {
            predicted.cached.min(prompt_tokens as usize) as u64
        } else {
            (predicted_fraction * prompt_tokens as f64).round() as u64
        };
        let error = predicted_fraction - reported;
        if let Some([predicted_counter, reported, audited]) = self.counters.get(endpoint) {
            predicted_counter.increment(predicted_tokens);
            reported.increment(cached_tokens);
            audited.increment(prompt_tokens);
        }
        self.error.record(error);
        let mut drift = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        drift.samples += 1;
        drift.mean_abs_error = if drift.samples == 1 {
            error.abs()
        } else {
            drift.mean_abs_error + ALPHA * (error.abs() - drift.mean_abs_error)
        };
        self.drift.set(drift.mean_abs_error);
        let due = drift
            .last_warning
            .is_none_or(|at| at.elapsed() >= WARN_EVERY);
        if drift.samples >= MIN_SAMPLES && drift.mean_abs_error > self.warn_error && due {
            drift.last_warning = Some(Instant::now());
            tracing::warn!(
                pool = %self.pool,
                mean_abs_error = drift.mean_abs_error,
                bound = self.warn_error,
                "prefix routing's cache predictions drift from what the engines report \
                 (check the tokenizer, block size and index settings)"
            );
        }
        error
    }

    /// The running mean absolute error (for tests and status).
    pub fn drift(&self) -> f64 {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .mean_abs_error
    }
}

/// Finds `usage.prompt_tokens` and `usage.prompt_tokens_details.cached_tokens` in the tail
/// of a response (a JSON body, or the last events of an SSE stream with
/// `stream_options.include_usage`).
pub fn parse_usage(tail: &[u8]) -> Option<(u64, u64)> {
    let usage_at = rfind(tail, b"\"usage\"")?;
    let usage = &tail[usage_at..];
    let prompt = number_after(usage, b"\"prompt_tokens\"")?;
    let cached = number_after(usage, b"\"cached_tokens\"")?;
    Some((prompt, cached))
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

fn number_after(text: &[u8], key: &[u8]) -> Option<u64> {
    let at = text.windows(key.len()).position(|w| w == key)? + key.len();
    let rest = &text[at..];
    let rest = rest
        .trim_ascii_start()
        .strip_prefix(b":")?
        .trim_ascii_start();
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_usage_in_bodies_and_stream_tails() {
        let body = br#"{"id":"x","choices":[{"text":"\"usage\" here"}],"usage":{"prompt_tokens":120,"total_tokens":130,"completion_tokens":10,"prompt_tokens_details":{"cached_tokens":96}}}"#;
        assert_eq!(parse_usage(body), Some((120, 96)));
        let sse = b"data: {\"choices\":[],\"usage\": {\"prompt_tokens\": 7, \"prompt_tokens_details\": {\"cached_tokens\": 0}}}\n\ndata: [DONE]\n\n";
        assert_eq!(parse_usage(sse), Some((7, 0)));
        let no_details = br#"{"usage":{"prompt_tokens":5,"prompt_tokens_details":null}}"#;
        assert_eq!(parse_usage(no_details), None);
        assert_eq!(parse_usage(b"data: [DONE]"), None);
    }

    #[test]
    fn error_is_predicted_minus_reported_fraction() {
        let audit = PrefixAudit::new("p".into(), 0.2, &["e".into()]);
        let predicted = PredictedPrompt {
            cached: 64,
            len: 100,
            in_tokens: true,
        };
        let error = audit.record(0, predicted, 100, 32);
        assert!((error - 0.32).abs() < 1e-9, "{error}");
        let bytes = PredictedPrompt {
            cached: 200,
            len: 400,
            in_tokens: false,
        };
        assert!(audit.record(0, bytes, 100, 50).abs() < 1e-9);
        assert!(audit.drift() > 0.0);
    }
}
