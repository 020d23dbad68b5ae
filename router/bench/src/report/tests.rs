//! Report tests on synthetic results. Set `SWITCHYARD_REPORT_KEEP=<dir>` to also write the
//! reports there, to look at them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::charts::{Axis, fmt_tick};
use super::html::escape;
use super::*;
use crate::results::*;

/// Deterministic xorshift generator (no `rand` needed).
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Log-logistic with the given median; `shape` around 2 to 4.
    fn latency(&mut self, median: f64, shape: f64) -> f64 {
        let q = self.next_f64().clamp(1e-6, 1.0 - 1e-6);
        median * (q / (1.0 - q)).powf(1.0 / shape)
    }
}

/// A log-logistic latency distribution with its CDF, as the bench would record it.
fn dist(count: u64, median: f64, shape: f64) -> Distribution {
    let quantile = |q: f64| median * (q / (1.0 - q)).powf(1.0 / shape);
    let min = quantile(0.001);
    let max = quantile(0.9995);
    let mut cdf = vec![[0.0, min]];
    cdf.extend((1..100).map(|i| {
        let q = f64::from(i) / 100.0;
        [q, quantile(q)]
    }));
    cdf.extend([[0.999, quantile(0.999)], [1.0, max]]);
    Distribution {
        count,
        mean: median * 1.15,
        min,
        p50: median,
        p90: quantile(0.9),
        p99: quantile(0.99),
        max,
        cdf,
    }
}

fn summary(ok: u64, failed: u64, duration_s: f64, scale: f64, streaming: bool) -> Summary {
    let mut errors = BTreeMap::new();
    if failed > 0 {
        errors.insert("http_429".to_string(), failed * 2 / 3);
        errors.insert("timeout".to_string(), failed - failed * 2 / 3);
    }
    let output_tokens = ok * 180;
    Summary {
        duration_s,
        requests_ok: ok,
        requests_failed: failed,
        errors,
        request_throughput: ok as f64 / duration_s,
        output_token_throughput: output_tokens as f64 / duration_s,
        input_token_throughput: (ok * 900) as f64 / duration_s,
        goodput: Some(ok as f64 * 0.93 / duration_s),
        goodput_fraction: Some(0.93),
        prompt_tokens: ok * 900,
        output_tokens,
        cached_tokens: ok * 500,
        cache_hit_rate: Some(0.555),
        ttft_ms: streaming.then(|| dist(ok, 85.0 * scale, 2.5)),
        itl_ms: streaming.then(|| dist(ok * 179, 14.0 * scale, 4.0)),
        tpot_ms: streaming.then(|| dist(ok, 15.5 * scale, 6.0)),
        e2e_ms: Some(dist(ok, 2900.0 * scale, 5.0)),
        send_lag_ms: Some(dist(ok, 0.4, 3.0)),
    }
}

fn config(stream: bool) -> RunConfig {
    RunConfig {
        url: "http://127.0.0.1:8080".to_string(),
        model: "Qwen/Qwen3-8B".to_string(),
        api: "chat".to_string(),
        stream,
        load: "poisson ramp 10/s, 20/s, 40/s".to_string(),
        workload: "shared-prefix 4 groups x 8 users <b>".to_string(),
        seed: 42,
        warmup: "10s".to_string(),
        slo: Slo {
            ttft_ms: Some(500.0),
            tpot_ms: Some(50.0),
            e2e_ms: None,
        },
    }
}

/// Three stages, 60 s timeline, 2000 samples, 3 endpoints with load samples, A/B figures.
pub(super) fn full_results() -> BenchResults {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let stages: Vec<StageResult> = [(10.0, 1.0, 0), (20.0, 1.3, 2), (40.0, 2.4, 37)]
        .into_iter()
        .map(|(rate, scale, failed)| StageResult {
            name: format!("rate {rate}/s"),
            offered_rate: Some(rate),
            concurrency: None,
            summary: summary((rate * 20.0) as u64 - failed, failed, 20.0, scale, true),
        })
        .collect();
    let timeline: Vec<TimelineBucket> = (0..60)
        .map(|i| {
            let rate = [10.0, 20.0, 40.0][i / 20];
            let completed = (rate * (0.8 + 0.4 * rng.next_f64())) as u64;
            let failed = if i >= 40 && rng.next_f64() < 0.5 {
                1 + i as u64 % 4
            } else {
                0
            };
            TimelineBucket {
                t_s: i as f64,
                completed,
                failed,
                output_tokens: completed * (150 + (rng.next_f64() * 60.0) as u64),
                ttft_p50_ms: (i != 7).then(|| 85.0 * [1.0, 1.3, 2.4][i / 20]),
                in_flight: (rate * 3.0) as u64,
            }
        })
        .collect();
    let endpoints_names = [
        "http://10.0.0.11:8000",
        "http://10.0.0.12:8000",
        "http://10.0.0.13:8000",
    ];
    let samples: Vec<RequestSample> = (0..2000)
        .map(|i| {
            let t_s = i as f64 * 60.0 / 2000.0;
            let scale = [1.0, 1.3, 2.4][(t_s / 20.0) as usize];
            let ok = !(t_s > 40.0 && rng.next_f64() < 0.05);
            let ttft = rng.latency(85.0 * scale, 2.5);
            RequestSample {
                t_s,
                ok,
                ttft_ms: (ok || i % 2 == 0).then_some(ttft),
                e2e_ms: if ok {
                    rng.latency(2900.0 * scale, 5.0)
                } else {
                    30_000.0
                },
                output_tokens: if ok { 180 } else { 0 },
                endpoint: Some(endpoints_names[i % 3].to_string()),
            }
        })
        .collect();
    let endpoints: Vec<EndpointResult> = endpoints_names
        .iter()
        .enumerate()
        .map(|(k, name)| EndpointResult {
            name: name.to_string(),
            metrics_url: Some(format!("{name}/metrics")),
            routed_requests: 460 - k as u64 * 40,
            engine_requests: Some(470.0 - k as f64 * 40.0),
            prefix_cache_queries: Some(400_000.0),
            prefix_cache_hits: Some(220_000.0 - k as f64 * 10_000.0),
            prefix_cache_hit_rate: Some(0.55 - k as f64 * 0.025),
            engine_ttft_mean_ms: Some(80.0 + k as f64 * 12.0),
            load: (0..120)
                .map(|j| {
                    let t = j as f64 * 0.5;
                    let rate = [10.0, 20.0, 40.0][(t / 20.0) as usize];
                    let running = (rate / 3.0 * 3.0 * (0.7 + 0.6 * rng.next_f64())).round();
                    let waiting = if t > 40.0 {
                        (rng.next_f64() * 12.0).round()
                    } else {
                        0.0
                    };
                    [t, running + k as f64, waiting]
                })
                .collect(),
        })
        .collect();
    let mut overall = summary(1361, 39, 60.0, 1.6, true);
    overall.request_throughput = 22.683;
    BenchResults {
        schema: SCHEMA.to_string(),
        tool: ToolInfo {
            name: "switchyard-bench".to_string(),
            version: "0.1.0".to_string(),
        },
        started_at: "2025-05-01T12:00:00Z".to_string(),
        config: config(true),
        stages,
        overall,
        timeline,
        samples,
        endpoints,
        ab: Some(AbResult {
            direct_url: "http://10.0.0.11:8000".to_string(),
            router_url: "http://127.0.0.1:8080".to_string(),
            rounds: 6,
            direct: summary(600, 0, 30.0, 1.0, true),
            router: summary(598, 1, 30.0, 1.01, true),
            added_e2e_p50_ms: Some(0.84),
            added_e2e_p99_ms: Some(2.37),
            added_ttft_p50_ms: Some(0.61),
            throughput_ratio: Some(0.997),
        }),
    }
}

/// One non-streamed stage, E2E only, no timeline, samples or endpoints.
pub(super) fn sparse_results() -> BenchResults {
    let mut s = summary(12, 0, 3.0, 1.0, false);
    s.goodput = None;
    s.goodput_fraction = None;
    s.cache_hit_rate = None;
    s.send_lag_ms = None;
    s.errors.clear();
    let mut r = full_results();
    r.config = config(false);
    r.config.slo = Slo::default();
    r.stages = vec![StageResult {
        name: "4 users".to_string(),
        offered_rate: None,
        concurrency: Some(4),
        summary: s.clone(),
    }];
    r.overall = s;
    r.timeline.clear();
    r.samples.clear();
    r.endpoints.clear();
    r.ab = None;
    r
}

/// Nothing at all measured.
fn empty_results() -> BenchResults {
    let mut r = sparse_results();
    r.stages.clear();
    r.overall = Summary::default();
    r
}

fn out_dir(tmp: &Path, name: &str) -> PathBuf {
    match std::env::var_os("SWITCHYARD_REPORT_KEEP") {
        Some(dir) => PathBuf::from(dir).join(name),
        None => tmp.join(name),
    }
}

/// The rendering tests need a TrueType font (see the module docs); a machine without one
/// fails them (install fonts-dejavu-core or set SWITCHYARD_FONT): a report that cannot be
/// drawn is a failure, not a skip.
fn have_font() -> bool {
    match ensure_font() {
        Ok(()) => true,
        Err(e) => panic!("no chart font: {e}; install fonts-dejavu-core or set SWITCHYARD_FONT"),
    }
}

const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

fn check_pngs(files: &[PathBuf], expected: &[&str]) {
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, expected);
    for f in files {
        let bytes = std::fs::read(f).unwrap();
        assert!(bytes.starts_with(PNG_MAGIC), "{} is not a PNG", f.display());
        assert!(
            bytes.len() > 10_000,
            "{} is only {} bytes",
            f.display(),
            bytes.len()
        );
        assert!(
            bytes.len() < 3_000_000,
            "{} is {} bytes",
            f.display(),
            bytes.len()
        );
    }
}

const ALL_PNGS: [&str; 4] = [
    "latency_cdf.png",
    "ttft_over_time.png",
    "throughput_over_time.png",
    "endpoint_load.png",
];

#[test]
fn full_report() {
    if !have_font() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = out_dir(tmp.path(), "full");
    let r = full_results();

    let files = write_pngs(&r, &dir).unwrap();
    check_pngs(&files, &ALL_PNGS);

    let html_path = dir.join("report.html");
    write_html(&r, &html_path).unwrap();
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<svg").count(), 4);
    for needle in [
        "Qwen/Qwen3-8B",
        "rate 10/s",
        "rate 40/s",
        "all stages",
        "22.7", // overall requests/s
        "http_429: 24",
        "55.5%", // cache hit rate
        "http://10.0.0.13:8000",
        "A/B: direct vs through the router",
        "0.840 ms",
        "0.997",
        "TTFT ≤ 500 ms",
        "&lt;b&gt;", // escaped workload text
        "Latency CDF",
        "TTFT over time",
    ] {
        assert!(html.contains(needle), "report lacks {needle:?}");
    }
    assert!(!html.contains("<b>"));
    assert!(!html.contains("<script"));
}

#[test]
fn sparse_report() {
    if !have_font() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = out_dir(tmp.path(), "sparse");
    let r = sparse_results();
    let files = write_pngs(&r, &dir).unwrap();
    check_pngs(&files, &ALL_PNGS[..3]);
    let html_path = dir.join("report.html");
    write_html(&r, &html_path).unwrap();
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert_eq!(html.matches("<svg").count(), 3);
    assert!(html.contains("4 users"));
    assert!(html.contains("no timeline data"));
    assert!(!html.contains("Endpoints</h2>"));
    assert!(!html.contains("A/B"));
}

#[test]
fn empty_report() {
    if !have_font() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = out_dir(tmp.path(), "empty");
    let r = empty_results();
    let files = write_pngs(&r, &dir.join("nested/pngs")).unwrap();
    check_pngs(&files, &ALL_PNGS[..3]);
    write_html(&r, &dir.join("report.html")).unwrap();
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.contains("no latency data"));
    assert!(html.contains("No latency data."));
}

#[test]
fn report_survives_odd_values() {
    if !have_font() {
        return;
    }
    let mut r = full_results();
    r.samples[0].ttft_ms = Some(f64::NAN);
    r.samples[1].e2e_ms = f64::INFINITY;
    r.samples[2].ttft_ms = Some(0.0);
    r.timeline[3].t_s = f64::NAN;
    r.endpoints[0].load[0] = [f64::NAN, 1.0, 0.0];
    r.endpoints[1].engine_requests = None;
    if let Some(d) = r.overall.ttft_ms.as_mut() {
        d.cdf.push([0.5, f64::NAN]);
        d.cdf.push([0.0, 0.0]);
    }
    r.overall.itl_ms = Some(Distribution::default());
    if let Some(ab) = r.ab.as_mut() {
        ab.added_e2e_p50_ms = None;
        ab.added_e2e_p99_ms = None;
        ab.throughput_ratio = Some(f64::NAN);
        ab.router.e2e_ms = None;
    }
    let tmp = tempfile::tempdir().unwrap();
    write_pngs(&r, tmp.path()).unwrap();
    write_html(&r, &tmp.path().join("r.html")).unwrap();
}

#[test]
fn tiny_and_crowded_report() {
    if !have_font() {
        return;
    }
    let mut r = full_results();
    r.timeline.truncate(1);
    r.samples.truncate(1);
    let base = r.stages[0].clone();
    r.stages = (0..12)
        .map(|i| {
            let mut st = base.clone();
            st.name = format!("{} users", 1 << i);
            st.offered_rate = None;
            st.concurrency = Some(1 << i);
            if let Some(d) = st.summary.e2e_ms.as_mut() {
                for p in &mut d.cdf {
                    p[1] *= 1.0 + f64::from(i) * 0.3;
                }
            }
            st
        })
        .collect();
    let template = r.endpoints[0].clone();
    r.endpoints = (0..20)
        .map(|i| {
            let mut e = template.clone();
            e.name = format!("http://inference-node-{i:02}.cluster.example.internal:8000");
            e.routed_requests = 50 + i * 7;
            e.engine_requests = (i % 3 != 0).then(|| (55 + i * 7) as f64);
            if i % 4 != 0 {
                e.load.clear();
            }
            e
        })
        .collect();
    r.endpoints[3].name = "<script>alert(1)</script>".to_string();
    let tmp = tempfile::tempdir().unwrap();
    let dir = out_dir(tmp.path(), "crowded");
    let files = write_pngs(&r, &dir).unwrap();
    check_pngs(&files, &ALL_PNGS);
    write_html(&r, &dir.join("report.html")).unwrap();
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(!html.contains("<script"));
    assert!(html.contains("&lt;script&gt;"));
}

#[test]
fn missing_font_is_reported() {
    let tried = vec![
        PathBuf::from("/nonexistent/a.ttf"),
        PathBuf::from("/nonexistent/b.ttf"),
    ];
    let err = read_first_font(&tried).unwrap_err().into_error();
    match &err {
        ReportError::NoFont { tried: t } => assert_eq!(t, &tried),
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("/nonexistent/b.ttf"), "{err}");
}

#[test]
fn unwritable_path_is_an_io_error() {
    if !have_font() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let err = write_pngs(&full_results(), &file.join("sub")).unwrap_err();
    assert!(matches!(err, ReportError::Io { .. }), "{err:?}");
}

#[test]
fn axes() {
    let lin = Axis::auto([3.0, 50.0, 120.0]).unwrap();
    assert!(!lin.is_log());
    let log = Axis::auto([0.4, 50.0, 30_000.0]).unwrap();
    assert!(log.is_log());
    assert_eq!(log.map(100.0), Some(2.0));
    assert_eq!(log.map(0.0), None);
    assert!(Axis::auto([f64::NAN]).is_none());
    assert!(Axis::auto(Vec::new()).is_none());
    assert_eq!(fmt_tick(0.30000000000000004), "0.3");
    assert_eq!(fmt_tick(2000.0), "2000");
    assert_eq!(fmt_tick(25_000.0), "25k");
    assert_eq!(fmt_tick(1_500_000.0), "1.5M");
    assert_eq!(fmt_num(f64::NAN), "—");
    assert_eq!(fmt_num(22.683), "22.7");
}

#[test]
fn escapes_html() {
    assert_eq!(
        escape(r#"<a href="x">'&'</a>"#),
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
    );
}
