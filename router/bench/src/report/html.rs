//! The HTML report: one self-contained page, tables plus the charts as inline SVG.

mod tables;

use super::charts::{self, Chart};
use super::{ReportError, fmt_num};
use crate::results::{BenchResults, Distribution, Summary};
use tables::{ab_table, endpoint_table, latency_table, summary_table};

const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif;
  margin: 0 auto; max-width: 1100px; padding: 1.5rem; color: #222; background: #fff; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
.sub { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.55rem; text-align: left; vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; }
tbody tr:nth-child(even) td { background: #fafafa; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.total td { font-weight: 600; border-top: 2px solid #bbb; }
.cards { display: flex; flex-wrap: wrap; gap: 0.6rem; margin: 1rem 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 0.5rem 0.9rem; min-width: 8rem; }
.card .v { font-size: 1.35rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.card .k { color: #666; font-size: 0.8rem; }
.bad { color: #b91c1c; }
figure { margin: 1rem 0 2rem; }
figure svg { width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #666; font-size: 0.85rem; }
.note { color: #666; font-size: 0.85rem; }
footer { margin-top: 3rem; color: #888; font-size: 0.8rem; }
";

/// Escapes the five HTML special characters.
pub(super) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.filter(|v| v.is_finite())
        .map_or_else(|| "—".to_string(), f)
}

fn pct(v: f64) -> String {
    format!("{:.1}%", v * 100.0)
}

fn ms(v: Option<f64>) -> String {
    opt(v, |v| format!("{} ms", fmt_num(v)))
}

/// A set value (rate, SLO) without trailing zeros: `20`, `2.5`.
fn plain(v: f64) -> String {
    let s = fmt_num(v);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A difference, with its sign.
fn signed(v: f64) -> String {
    if v > 0.0 {
        format!("+{}", fmt_num(v))
    } else {
        fmt_num(v)
    }
}

/// A table cell: text, or a number (right-aligned).
enum Cell {
    Text(String),
    Num(String),
}

fn t(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn n(s: impl Into<String>) -> Cell {
    Cell::Num(s.into())
}

/// A table row; cell text is escaped here.
fn row(cells: &[Cell]) -> String {
    let mut out = String::from("<tr>");
    for c in cells {
        match c {
            Cell::Num(v) => out.push_str(&format!("<td class=\"n\">{}</td>", escape(v))),
            Cell::Text(v) => out.push_str(&format!("<td>{}</td>", escape(v))),
        }
    }
    out.push_str("</tr>\n");
    out
}

/// A header row; names starting with `#` head numeric columns (the `#` is dropped).
fn head(cells: &[&str]) -> String {
    let mut out = String::from("<thead><tr>");
    for c in cells {
        match c.strip_prefix('#') {
            Some(n) => out.push_str(&format!("<th class=\"n\">{}</th>", escape(n))),
            None => out.push_str(&format!("<th>{}</th>", escape(c))),
        }
    }
    out.push_str("</tr></thead>\n");
    out
}

/// Renders the whole page; fails only when a chart cannot be drawn.
pub(super) fn render(r: &BenchResults) -> Result<String, ReportError> {
    let mut figures = String::new();
    for chart in Chart::ALL {
        if !chart.applies(r) {
            continue;
        }
        let svg = charts::render_svg(chart, r)?;
        figures.push_str(&format!(
            "<figure>\n{svg}\n<figcaption>{}</figcaption>\n</figure>\n",
            escape(caption(chart, r))
        ));
    }

    let title = format!("switchyard bench: {} at {}", r.config.model, r.config.url);
    let mut out = String::with_capacity(64 * 1024 + figures.len());
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str(&format!("<title>{}</title>\n", escape(&title)));
    out.push_str(&format!("<style>{STYLE}</style>\n</head>\n<body>\n"));
    out.push_str(&format!("<h1>{}</h1>\n", escape(&title)));
    out.push_str(&format!(
        "<p class=\"sub\">{} {} · started {} · {}</p>\n",
        escape(&r.tool.name),
        escape(&r.tool.version),
        escape(&r.started_at),
        escape(&r.schema)
    ));
    out.push_str(&cards(&r.overall));
    out.push_str(&config_table(r));
    out.push_str(&summary_table(r));
    out.push_str(&latency_table(r));
    if let Some(ab) = &r.ab {
        out.push_str(&ab_table(ab));
    }
    if !r.endpoints.is_empty() {
        out.push_str(&endpoint_table(&r.endpoints));
    }
    out.push_str("<h2>Charts</h2>\n");
    out.push_str(&figures);
    out.push_str(&format!(
        "<footer>Generated by {} {} from a {} results file.</footer>\n</body>\n</html>\n",
        escape(&r.tool.name),
        escape(&r.tool.version),
        escape(&r.schema)
    ));
    Ok(out)
}

fn caption(chart: Chart, r: &BenchResults) -> &'static str {
    match chart {
        Chart::LatencyCdf => {
            "Latency CDFs over all measured requests (TTFT, ITL, TPOT, E2E), and E2E per stage \
             when the run had several stages."
        }
        Chart::TtftOverTime if charts::has_ttft(r) => {
            "Sampled requests by scheduled send time; failed requests in red, line: median \
             TTFT of the requests completed in each second."
        }
        Chart::TtftOverTime => {
            "Sampled requests' end-to-end latency by scheduled send time (no TTFT was \
             recorded); failed requests in red."
        }
        Chart::ThroughputOverTime => {
            "Completed and failed requests, and output tokens, per second."
        }
        Chart::EndpointLoad => {
            "Requests per endpoint as reported by the router and counted by the engines, and \
             the engines' running/waiting requests over the run."
        }
    }
}

fn cards(s: &Summary) -> String {
    let p = |d: &Option<Distribution>, f: fn(&Distribution) -> f64| ms(d.as_ref().map(f));
    let mut items = vec![
        ("requests/s", fmt_num(s.request_throughput), false),
        ("output tokens/s", fmt_num(s.output_token_throughput), false),
        ("TTFT p50", p(&s.ttft_ms, |d| d.p50), false),
        ("E2E p50", p(&s.e2e_ms, |d| d.p50), false),
        ("E2E p99", p(&s.e2e_ms, |d| d.p99), false),
        ("requests ok", s.requests_ok.to_string(), false),
        (
            "failed",
            s.requests_failed.to_string(),
            s.requests_failed > 0,
        ),
    ];
    if let Some(g) = s.goodput {
        items.insert(2, ("goodput req/s", fmt_num(g), false));
    }
    let mut out = String::from("<div class=\"cards\">\n");
    for (k, v, bad) in items {
        let class = if bad { "v bad" } else { "v" };
        out.push_str(&format!(
            "<div class=\"card\"><div class=\"{class}\">{}</div><div class=\"k\">{}</div></div>\n",
            escape(&v),
            escape(k)
        ));
    }
    out.push_str("</div>\n");
    out
}

fn config_table(r: &BenchResults) -> String {
    let c = &r.config;
    let slo = &c.slo;
    let slo_text = if slo.is_empty() {
        "none".to_string()
    } else {
        [
            ("TTFT", slo.ttft_ms),
            ("TPOT", slo.tpot_ms),
            ("E2E", slo.e2e_ms),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k} ≤ {} ms", plain(v))))
        .collect::<Vec<_>>()
        .join(", ")
    };
    let rows = [
        ("URL", c.url.clone()),
        ("Model", c.model.clone()),
        ("API", c.api.clone()),
        ("Streaming", if c.stream { "yes" } else { "no" }.to_string()),
        ("Load", c.load.clone()),
        ("Workload", c.workload.clone()),
        ("Warm-up", c.warmup.clone()),
        ("Seed", c.seed.to_string()),
        ("SLO", slo_text),
        ("Measured", format!("{} s", fmt_num(r.overall.duration_s))),
    ];
    let mut out = String::from("<h2>Run</h2>\n<table>\n<tbody>\n");
    for (k, v) in rows {
        out.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>\n",
            escape(k),
            escape(&v)
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    out
}
