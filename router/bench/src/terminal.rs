//! The summary printed at the end of a run.

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};

use crate::results::{BenchResults, Distribution, Summary};

fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(header.iter().map(Cell::new));
    for i in 1..header.len() {
        if let Some(column) = t.column_mut(i) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

pub fn fmt_ms(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) if v >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
    }
}

fn signed(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{v:+.3}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "-".into(), |v| format!("{:.1}%", v * 100.0))
}

fn p(d: &Option<Distribution>, pick: fn(&Distribution) -> f64) -> Option<f64> {
    d.as_ref().map(pick)
}

fn stage_row(name: &str, s: &Summary) -> Vec<String> {
    vec![
        name.to_string(),
        s.requests_ok.to_string(),
        s.requests_failed.to_string(),
        format!("{:.2}", s.request_throughput),
        format!("{:.1}", s.output_token_throughput),
        s.goodput.map_or_else(|| "-".into(), |g| format!("{g:.2}")),
        format!(
            "{} / {}",
            fmt_ms(p(&s.ttft_ms, |d| d.p50)),
            fmt_ms(p(&s.ttft_ms, |d| d.p99))
        ),
        format!(
            "{} / {}",
            fmt_ms(p(&s.itl_ms, |d| d.p50)),
            fmt_ms(p(&s.itl_ms, |d| d.p99))
        ),
        format!(
            "{} / {}",
            fmt_ms(p(&s.e2e_ms, |d| d.p50)),
            fmt_ms(p(&s.e2e_ms, |d| d.p99))
        ),
        pct(s.cache_hit_rate),
    ]
}

pub fn render(results: &BenchResults) -> String {
    let c = &results.config;
    let mut out = format!(
        "switchyard bench: {} {} model={}{}\nworkload: {}\nload: {}, warm-up {}, seed {}\n",
        c.api,
        c.url,
        c.model,
        if c.stream { " (stream)" } else { "" },
        c.workload,
        c.load,
        c.warmup,
        c.seed
    );
    let mut stages = table(&[
        "stage",
        "ok",
        "failed",
        "req/s",
        "out tok/s",
        "goodput/s",
        "TTFT ms p50/p99",
        "ITL ms p50/p99",
        "E2E ms p50/p99",
        "cache hit",
    ]);
    for stage in &results.stages {
        stages.add_row(stage_row(&stage.name, &stage.summary));
    }
    if results.stages.len() > 1 {
        stages.add_row(stage_row("all", &results.overall));
    }
    out.push_str(&format!("{stages}\n"));

    let mut latency = table(&["latency (ms)", "count", "mean", "p50", "p90", "p99", "max"]);
    let s = &results.overall;
    for (name, d) in [
        ("TTFT", &s.ttft_ms),
        ("ITL", &s.itl_ms),
        ("TPOT", &s.tpot_ms),
        ("E2E", &s.e2e_ms),
        ("send lag", &s.send_lag_ms),
    ] {
        if let Some(d) = d {
            latency.add_row(vec![
                name.to_string(),
                d.count.to_string(),
                fmt_ms(Some(d.mean)),
                fmt_ms(Some(d.p50)),
                fmt_ms(Some(d.p90)),
                fmt_ms(Some(d.p99)),
                fmt_ms(Some(d.max)),
            ]);
        }
    }
    out.push_str(&format!("{latency}\n"));
    out.push_str(&format!(
        "tokens: {} prompt ({} cached), {} output; {:.1} prompt tok/s\n",
        s.prompt_tokens, s.cached_tokens, s.output_tokens, s.input_token_throughput
    ));
    if let Some(fraction) = s.goodput_fraction {
        out.push_str(&format!(
            "goodput: {:.2} req/s met every SLO ({:.1}% of successful requests)\n",
            s.goodput.unwrap_or(0.0),
            fraction * 100.0
        ));
    }
    if !s.errors.is_empty() {
        let errors: Vec<String> = s.errors.iter().map(|(k, n)| format!("{k}: {n}")).collect();
        out.push_str(&format!("errors: {}\n", errors.join(", ")));
    }
    if !results.endpoints.is_empty() {
        let mut endpoints = table(&[
            "endpoint",
            "routed",
            "engine requests",
            "prefix-cache hit",
            "engine TTFT mean ms",
        ]);
        for e in &results.endpoints {
            endpoints.add_row(vec![
                e.name.clone(),
                e.routed_requests.to_string(),
                e.engine_requests
                    .map_or_else(|| "-".into(), |n| format!("{n:.0}")),
                pct(e.prefix_cache_hit_rate),
                fmt_ms(e.engine_ttft_mean_ms),
            ]);
        }
        out.push_str(&format!("{endpoints}\n"));
    }
    if let Some(ab) = &results.ab {
        let mut t = table(&["A/B", "direct", "router", "router - direct"]);
        let e2e = |s: &Summary, pick: fn(&Distribution) -> f64| fmt_ms(p(&s.e2e_ms, pick));
        t.add_row(vec![
            "E2E p50 ms".into(),
            e2e(&ab.direct, |d| d.p50),
            e2e(&ab.router, |d| d.p50),
            signed(ab.added_e2e_p50_ms),
        ]);
        t.add_row(vec![
            "E2E p99 ms".into(),
            e2e(&ab.direct, |d| d.p99),
            e2e(&ab.router, |d| d.p99),
            signed(ab.added_e2e_p99_ms),
        ]);
        if let Some(added) = ab.added_ttft_p50_ms {
            t.add_row(vec![
                "TTFT p50 ms".into(),
                fmt_ms(p(&ab.direct.ttft_ms, |d| d.p50)),
                fmt_ms(p(&ab.router.ttft_ms, |d| d.p50)),
                format!("{added:+.3}"),
            ]);
        }
        t.add_row(vec![
            "req/s".into(),
            format!("{:.1}", ab.direct.request_throughput),
            format!("{:.1}", ab.router.request_throughput),
            ab.throughput_ratio
                .map_or_else(|| "-".into(), |r| format!("x{r:.3}")),
        ]);
        out.push_str(&format!(
            "A/B over {} interleaved rounds (added = median of per-round differences):\n{t}\n",
            ab.rounds
        ));
    }
    out
}
