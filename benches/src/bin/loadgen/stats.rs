//! Latency recording (HDR histograms in nanoseconds) and the summaries printed in microseconds.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::client::LoadError;

pub type HistogramResult = Result<Histogram<u64>, hdrhistogram::CreationError>;

/// Histogram bounds: 1 ns to 100 s, three significant digits.
pub fn new_histogram() -> HistogramResult {
    Histogram::new_with_bounds(1, 100_000_000_000, 3)
}

pub fn record(histogram: &mut Histogram<u64>, elapsed: Duration) {
    let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
    histogram.saturating_record(nanos.max(1));
}

/// What one segment (one target, one round) recorded.
pub struct Recorder {
    pub latency: Histogram<u64>,
    pub ttfc: Histogram<u64>,
    pub ok: u64,
    pub errors: u64,
    pub error_kinds: BTreeMap<String, u64>,
    printed_errors: u32,
}

impl Recorder {
    pub fn new() -> Result<Self, hdrhistogram::CreationError> {
        Ok(Self {
            latency: new_histogram()?,
            ttfc: new_histogram()?,
            ok: 0,
            errors: 0,
            error_kinds: BTreeMap::new(),
            printed_errors: 0,
        })
    }

    /// Records one finished request whose latency counts from `base`.
    pub fn finish(
        &mut self,
        base: Instant,
        done: Instant,
        result: Result<Option<Instant>, LoadError>,
    ) {
        match result {
            Ok(first_chunk) => {
                self.ok += 1;
                record(&mut self.latency, done.saturating_duration_since(base));
                if let Some(first) = first_chunk {
                    record(&mut self.ttfc, first.saturating_duration_since(base));
                }
            }
            Err(error) => self.error(&error),
        }
    }

    pub fn error(&mut self, error: &LoadError) {
        self.errors += 1;
        *self.error_kinds.entry(error.kind()).or_insert(0) += 1;
        if self.printed_errors < 3 {
            self.printed_errors += 1;
            eprintln!("loadgen: {error}");
        }
    }
}

/// Percentiles of one histogram, in microseconds.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

fn micros(nanos: f64) -> f64 {
    (nanos / 100.0).round() / 10.0
}

impl Summary {
    pub fn of(histogram: &Histogram<u64>) -> Option<Self> {
        if histogram.is_empty() {
            return None;
        }
        let at = |q: f64| micros(histogram.value_at_quantile(q) as f64);
        Some(Self {
            count: histogram.len(),
            mean: micros(histogram.mean()),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            p999: at(0.999),
            max: micros(histogram.max() as f64),
        })
    }
}

/// The median of some values (mean of the middle two for an even count).
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    let value = if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    };
    Some((value * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(Vec::<f64>::new()), None);
    }

    #[test]
    fn summary_is_in_microseconds() {
        let mut h = new_histogram().unwrap();
        for us in [100u64, 200, 300] {
            record(&mut h, Duration::from_micros(us));
        }
        let s = Summary::of(&h).unwrap();
        assert_eq!(s.count, 3);
        assert!((s.p50 - 200.0).abs() < 1.0, "{s:?}");
        assert!((s.max - 300.0).abs() < 1.0, "{s:?}");
    }
}
