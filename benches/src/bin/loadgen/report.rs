//! Per-target results across rounds: medians, merged histograms, the difference to the
//! baseline target, CPU per request; the JSON line and the human summary.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::stats::{Summary, median, new_histogram};

#[derive(Clone, Debug, Serialize)]
pub struct RoundResult {
    pub round: usize,
    pub requests: u64,
    pub errors: u64,
    pub rps: f64,
    pub latency_us: Option<Summary>,
    pub ttfc_us: Option<Summary>,
    pub cpu_ms: Option<f64>,
}

/// Medians over rounds of each round's percentile.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Medians {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    pub max: Option<f64>,
}

impl Medians {
    fn of<'a>(summaries: impl Iterator<Item = &'a Summary> + Clone) -> Self {
        let pick = |f: fn(&Summary) -> f64| median(summaries.clone().map(f));
        Self {
            p50: pick(|s| s.p50),
            p90: pick(|s| s.p90),
            p99: pick(|s| s.p99),
            p999: pick(|s| s.p999),
            max: pick(|s| s.max),
        }
    }
}

/// Median over rounds of (this target's value - the baseline's value in the same round).
#[derive(Clone, Debug, Default, Serialize)]
pub struct Added {
    pub p50: Option<f64>,
    pub p99: Option<f64>,
    pub ttfc_p50: Option<f64>,
    pub ttfc_p99: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct TargetResult {
    pub name: String,
    pub url: String,
    pub requests: u64,
    pub errors: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub rps_median: Option<f64>,
    pub latency_us: Medians,
    pub ttfc_us: Option<Medians>,
    pub latency_us_all_rounds: Option<Summary>,
    pub ttfc_us_all_rounds: Option<Summary>,
    pub added_us: Option<Added>,
    pub cpu_us_per_req: Option<f64>,
    pub cpu_util: Option<f64>,
    pub rss_kib: Option<u64>,
    pub rounds: Vec<RoundResult>,
}

/// Accumulates one target's rounds.
pub struct TargetRuns {
    pub name: String,
    pub url: String,
    pub rounds: Vec<RoundResult>,
    latency: Histogram<u64>,
    ttfc: Histogram<u64>,
    errors_by_kind: BTreeMap<String, u64>,
    cpu_ticks: Option<u64>,
    measured_s: f64,
}

impl TargetRuns {
    pub fn new(name: &str, url: &str) -> Result<Self, hdrhistogram::CreationError> {
        Ok(Self {
            name: name.to_string(),
            url: url.to_string(),
            rounds: Vec::new(),
            latency: new_histogram()?,
            ttfc: new_histogram()?,
            errors_by_kind: BTreeMap::new(),
            cpu_ticks: Some(0),
            measured_s: 0.0,
        })
    }

    pub fn add(
        &mut self,
        recorder: &crate::stats::Recorder,
        cpu_ticks: Option<u64>,
        duration_s: f64,
        clk_tck: u64,
    ) {
        let _ = self.latency.add(&recorder.latency);
        let _ = self.ttfc.add(&recorder.ttfc);
        for (kind, count) in &recorder.error_kinds {
            *self.errors_by_kind.entry(kind.clone()).or_insert(0) += count;
        }
        self.cpu_ticks = self.cpu_ticks.zip(cpu_ticks).map(|(a, b)| a + b);
        self.measured_s += duration_s;
        self.rounds.push(RoundResult {
            round: self.rounds.len() + 1,
            requests: recorder.ok,
            errors: recorder.errors,
            rps: (recorder.ok as f64 / duration_s).round(),
            latency_us: Summary::of(&recorder.latency),
            ttfc_us: Summary::of(&recorder.ttfc),
            cpu_ms: cpu_ticks.map(|t| t as f64 * 1000.0 / clk_tck as f64),
        });
    }

    pub fn finish(
        &self,
        baseline: Option<&TargetRuns>,
        clk_tck: u64,
        rss_kib: Option<u64>,
        has_pid: bool,
    ) -> TargetResult {
        let requests: u64 = self.rounds.iter().map(|r| r.requests).sum();
        let errors = self.rounds.iter().map(|r| r.errors).sum();
        let latencies = self.rounds.iter().filter_map(|r| r.latency_us.as_ref());
        let ttfcs = self.rounds.iter().filter_map(|r| r.ttfc_us.as_ref());
        let cpu_s = self
            .cpu_ticks
            .filter(|_| has_pid)
            .map(|t| t as f64 / clk_tck as f64);
        TargetResult {
            name: self.name.clone(),
            url: self.url.clone(),
            requests,
            errors,
            errors_by_kind: self.errors_by_kind.clone(),
            rps_median: median(self.rounds.iter().map(|r| r.rps)),
            latency_us: Medians::of(latencies),
            ttfc_us: (!self.ttfc.is_empty()).then(|| Medians::of(ttfcs)),
            latency_us_all_rounds: Summary::of(&self.latency),
            ttfc_us_all_rounds: Summary::of(&self.ttfc),
            added_us: baseline.map(|b| self.added_to(b)),
            cpu_us_per_req: cpu_s
                .filter(|_| requests > 0)
                .map(|s| (s * 1e7 / requests as f64).round() / 10.0),
            cpu_util: cpu_s.map(|s| (s / self.measured_s * 1000.0).round() / 1000.0),
            rss_kib,
            rounds: self.rounds.clone(),
        }
    }

    fn added_to(&self, baseline: &TargetRuns) -> Added {
        let pairs = || self.rounds.iter().zip(&baseline.rounds);
        let diff = |f: fn(&RoundResult) -> Option<f64>| {
            median(pairs().filter_map(|(mine, base)| Some(f(mine)? - f(base)?)))
        };
        Added {
            p50: diff(|r| r.latency_us.as_ref().map(|s| s.p50)),
            p99: diff(|r| r.latency_us.as_ref().map(|s| s.p99)),
            ttfc_p50: diff(|r| r.ttfc_us.as_ref().map(|s| s.p50)),
            ttfc_p99: diff(|r| r.ttfc_us.as_ref().map(|s| s.p99)),
        }
    }
}

fn show(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"))
}

/// One line per target on stderr.
pub fn print_summary(results: &[TargetResult], stream: bool) {
    for t in results {
        let (label, m) = match (&t.ttfc_us, stream) {
            (Some(ttfc), true) => ("ttfc", ttfc),
            _ => ("latency", &t.latency_us),
        };
        let added = t.added_us.as_ref().map_or(String::new(), |a| {
            let (p50, p99) = if stream {
                (a.ttfc_p50, a.ttfc_p99)
            } else {
                (a.p50, a.p99)
            };
            format!("  added p50 {} p99 {}", show(p50), show(p99))
        });
        eprintln!(
            "{:<12} {:>9} req/s  {label} us p50 {} p90 {} p99 {} p99.9 {} max {}{added}  errors {}  cpu/req {} us",
            t.name,
            show(t.rps_median),
            show(m.p50),
            show(m.p90),
            show(m.p99),
            show(m.p999),
            show(m.max),
            t.errors,
            show(t.cpu_us_per_req),
        );
    }
}
