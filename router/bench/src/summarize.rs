//! From records to the figures in the results file.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::results::{Distribution, RequestSample, Slo, Summary, TimelineBucket};
use crate::run::record::{Record, new_histogram};

/// Quantiles kept for CDF charts: dense in the body, denser in the tail.
const CDF_QUANTILES: &[f64] = &[
    0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7,
    0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.96, 0.97, 0.98, 0.99, 0.995, 0.999, 1.0,
];

const MAX_SAMPLES: usize = 5000;

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn distribution(h: &Histogram<u64>) -> Option<Distribution> {
    if h.is_empty() {
        return None;
    }
    let at = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    Some(Distribution {
        count: h.len(),
        mean: h.mean() / 1000.0,
        min: h.min() as f64 / 1000.0,
        p50: at(0.5),
        p90: at(0.9),
        p99: at(0.99),
        max: h.max() as f64 / 1000.0,
        cdf: CDF_QUANTILES.iter().map(|&q| [q, at(q)]).collect(),
    })
}

pub fn ttft(r: &Record) -> Option<Duration> {
    r.first_token
        .map(|t| t.saturating_duration_since(r.scheduled))
}

pub fn e2e(r: &Record) -> Duration {
    r.done.saturating_duration_since(r.scheduled)
}

/// Time per output token after the first (streamed requests with 2+ tokens).
pub fn tpot(r: &Record) -> Option<Duration> {
    let first = r.first_token?;
    (r.output_tokens > 1).then(|| {
        let rest = r.done.saturating_duration_since(first);
        rest.div_f64((r.output_tokens - 1) as f64)
    })
}

fn meets(slo: &Slo, r: &Record) -> bool {
    let within = |limit: Option<f64>, value: Duration| limit.is_none_or(|l| ms(value) <= l);
    r.ok()
        && within(slo.ttft_ms, ttft(r).unwrap_or_else(|| e2e(r)))
        && within(slo.e2e_ms, e2e(r))
        && tpot(r).is_none_or(|t| within(slo.tpot_ms, t))
}

/// Summary of `records` measured over `duration`. `itl_us` holds the inter-token gaps.
pub fn summarize(
    records: &[&Record],
    itl_us: &Histogram<u64>,
    duration: Duration,
    slo: &Slo,
    open_loop: bool,
) -> Summary {
    let mut ttft_h = new_histogram();
    let mut tpot_h = new_histogram();
    let mut e2e_h = new_histogram();
    let mut lag_h = new_histogram();
    let mut s = Summary {
        duration_s: duration.as_secs_f64(),
        ..Summary::default()
    };
    let mut cached_prompt = 0u64;
    let mut good = 0u64;
    for r in records {
        if open_loop {
            lag_h.saturating_record(micros(r.sent.saturating_duration_since(r.scheduled)));
        }
        if let Some(kind) = &r.error {
            s.requests_failed += 1;
            *s.errors.entry(kind.clone()).or_default() += 1;
            continue;
        }
        s.requests_ok += 1;
        s.prompt_tokens += r.prompt_tokens;
        s.output_tokens += r.output_tokens;
        if let Some(cached) = r.cached_tokens {
            s.cached_tokens += cached;
            cached_prompt += r.prompt_tokens;
        }
        e2e_h.saturating_record(micros(e2e(r)));
        if let Some(t) = ttft(r) {
            ttft_h.saturating_record(micros(t));
        }
        if let Some(t) = tpot(r) {
            tpot_h.saturating_record(micros(t));
        }
        good += u64::from(meets(slo, r));
    }
    let secs = s.duration_s.max(1e-9);
    s.request_throughput = s.requests_ok as f64 / secs;
    s.output_token_throughput = s.output_tokens as f64 / secs;
    s.input_token_throughput = s.prompt_tokens as f64 / secs;
    if !slo.is_empty() {
        s.goodput = Some(good as f64 / secs);
        s.goodput_fraction = (s.requests_ok > 0).then(|| good as f64 / s.requests_ok as f64);
    }
    s.cache_hit_rate = (cached_prompt > 0).then(|| s.cached_tokens as f64 / cached_prompt as f64);
    s.ttft_ms = distribution(&ttft_h);
    s.itl_ms = distribution(itl_us);
    s.tpot_ms = distribution(&tpot_h);
    s.e2e_ms = distribution(&e2e_h);
    s.send_lag_ms = distribution(&lag_h);
    s
}

/// Per-second buckets by completion time since `origin`.
pub fn timeline(records: &[Record], origin: Instant) -> Vec<TimelineBucket> {
    let Some(last) = records.iter().map(|r| r.done).max() else {
        return Vec::new();
    };
    let buckets = last.saturating_duration_since(origin).as_secs() as usize + 1;
    let mut out: Vec<TimelineBucket> = (0..buckets)
        .map(|i| TimelineBucket {
            t_s: i as f64,
            ..TimelineBucket::default()
        })
        .collect();
    let mut ttfts: Vec<Vec<f64>> = vec![Vec::new(); buckets];
    for r in records {
        let i = r.done.saturating_duration_since(origin).as_secs() as usize;
        let Some(bucket) = out.get_mut(i) else {
            continue;
        };
        if r.ok() {
            bucket.completed += 1;
            bucket.output_tokens += r.output_tokens;
            if let Some(t) = ttft(r) {
                ttfts[i].push(ms(t));
            }
        } else {
            bucket.failed += 1;
        }
    }
    let mut starts: Vec<Instant> = records.iter().map(|r| r.scheduled).collect();
    let mut ends: Vec<Instant> = records.iter().map(|r| r.done).collect();
    starts.sort_unstable();
    ends.sort_unstable();
    for (i, bucket) in out.iter_mut().enumerate() {
        let edge = origin + Duration::from_secs(i as u64 + 1);
        let started = starts.partition_point(|&t| t <= edge);
        let ended = ends.partition_point(|&t| t <= edge);
        bucket.in_flight = started.saturating_sub(ended) as u64;
        let values = &mut ttfts[i];
        if !values.is_empty() {
            values.sort_unstable_by(f64::total_cmp);
            bucket.ttft_p50_ms = Some(values[values.len() / 2]);
        }
    }
    out
}

/// Up to [`MAX_SAMPLES`] requests, evenly spread over the run.
pub fn samples(records: &[Record], origin: Instant) -> Vec<RequestSample> {
    let step = records.len().div_ceil(MAX_SAMPLES).max(1);
    records
        .iter()
        .step_by(step)
        .map(|r| RequestSample {
            t_s: r.scheduled.saturating_duration_since(origin).as_secs_f64(),
            ok: r.ok(),
            ttft_ms: ttft(r).map(ms),
            e2e_ms: ms(e2e(r)),
            output_tokens: r.output_tokens,
            endpoint: r.endpoint.clone(),
        })
        .collect()
}

/// Requests per endpoint by the router's answer header.
pub fn routed(records: &[Record]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for r in records {
        if let Some(endpoint) = &r.endpoint {
            *counts.entry(endpoint.clone()).or_default() += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(at: Instant, start_ms: u64, ttft_ms: Option<u64>, end_ms: u64, out: u64) -> Record {
        let t = |ms| at + Duration::from_millis(ms);
        Record {
            stage: 0,
            scheduled: t(start_ms),
            sent: t(start_ms + 1),
            first_token: ttft_ms.map(|v| t(start_ms + v)),
            done: t(end_ms),
            error: None,
            prompt_tokens: 10,
            output_tokens: out,
            cached_tokens: Some(4),
            endpoint: Some("a".into()),
        }
    }

    #[test]
    fn figures_follow_the_records() {
        let t0 = Instant::now();
        let mut failed = record(t0, 0, None, 50, 0);
        failed.error = Some("http_503".into());
        let records = [
            record(t0, 0, Some(100), 1100, 11),
            record(t0, 200, Some(300), 1200, 11),
            failed,
        ];
        let refs: Vec<&Record> = records.iter().collect();
        let slo = Slo {
            ttft_ms: Some(150.0),
            ..Slo::default()
        };
        let s = summarize(&refs, &new_histogram(), Duration::from_secs(2), &slo, true);
        assert_eq!((s.requests_ok, s.requests_failed), (2, 1));
        assert_eq!(s.errors["http_503"], 1);
        assert!((s.request_throughput - 1.0).abs() < 1e-9);
        assert!((s.output_token_throughput - 11.0).abs() < 1e-9);
        assert_eq!(s.goodput_fraction, Some(0.5));
        assert_eq!(s.cache_hit_rate, Some(0.4));
        let ttft = s.ttft_ms.unwrap();
        assert!(
            (ttft.p50 - 100.0).abs() < 0.2 && (ttft.max - 300.0).abs() < 0.5,
            "{ttft:?}"
        );
        let tpot = s.tpot_ms.unwrap();
        // (1100 - 100) / 10 and (1200 - 500) / 10.
        assert!(
            (tpot.p50 - 70.0).abs() < 0.2 && (tpot.max - 100.0).abs() < 0.2,
            "{tpot:?}"
        );
        assert!((s.send_lag_ms.unwrap().p50 - 1.0).abs() < 0.01);
        assert!(s.itl_ms.is_none());
        assert_eq!(s.e2e_ms.as_ref().unwrap().cdf.len(), CDF_QUANTILES.len());
    }

    #[test]
    fn timeline_buckets_completions_and_in_flight() {
        let t0 = Instant::now();
        let records = vec![
            record(t0, 0, Some(10), 500, 3),
            record(t0, 100, Some(10), 1500, 3),
            record(t0, 900, Some(20), 2500, 3),
        ];
        let tl = timeline(&records, t0);
        assert_eq!(tl.len(), 3);
        assert_eq!(
            tl.iter().map(|b| b.completed).collect::<Vec<_>>(),
            vec![1, 1, 1]
        );
        assert_eq!(tl[0].in_flight, 2);
        assert_eq!(tl[1].in_flight, 1);
        assert_eq!(tl[2].in_flight, 0);
        assert_eq!(routed(&records)["a"], 3);
        assert_eq!(samples(&records, t0).len(), 3);
    }
}
