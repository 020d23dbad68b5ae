//! The tables of the HTML report.

use super::{escape, head, ms, n, opt, pct, plain, row, signed, t};
use crate::report::fmt_num;
use crate::results::{AbResult, BenchResults, Distribution, EndpointResult, StageResult, Summary};

/// The rows of the per-stage tables: every stage, then the overall figures when there is
/// more than one stage (with one stage they are the same).
fn summaries(r: &BenchResults) -> Vec<(String, String, &Summary)> {
    let mut rows: Vec<(String, String, &Summary)> = r
        .stages
        .iter()
        .map(|st| (st.name.clone(), stage_load(st), &st.summary))
        .collect();
    if rows.len() != 1 {
        rows.push(("all stages".to_string(), String::new(), &r.overall));
    }
    rows
}

fn stage_load(st: &StageResult) -> String {
    match (st.offered_rate, st.concurrency) {
        (Some(rate), _) => format!("{}/s", plain(rate)),
        (None, Some(users)) => format!("{users} users"),
        (None, None) => String::new(),
    }
}

fn errors_text(s: &Summary) -> String {
    if s.errors.is_empty() {
        return "—".to_string();
    }
    s.errors
        .iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(super) fn summary_table(r: &BenchResults) -> String {
    let mut out = String::from("<h2>Throughput</h2>\n<table>\n");
    out.push_str(&head(&[
        "Stage",
        "#Load",
        "#Duration s",
        "#OK",
        "#Failed",
        "#Req/s",
        "#Output tok/s",
        "#Input tok/s",
        "#Goodput req/s",
        "#Cache hit",
        "Errors",
    ]));
    out.push_str("<tbody>\n");
    let rows = summaries(r);
    let last = rows.len().saturating_sub(1);
    for (i, (name, load, s)) in rows.iter().enumerate() {
        let goodput = match (s.goodput, s.goodput_fraction) {
            (Some(g), Some(f)) => format!("{} ({})", fmt_num(g), pct(f)),
            (Some(g), None) => fmt_num(g),
            _ => "—".to_string(),
        };
        let cells = [
            t(name.clone()),
            n(load.clone()),
            n(fmt_num(s.duration_s)),
            n(s.requests_ok.to_string()),
            n(s.requests_failed.to_string()),
            n(fmt_num(s.request_throughput)),
            n(fmt_num(s.output_token_throughput)),
            n(fmt_num(s.input_token_throughput)),
            n(goodput),
            n(opt(s.cache_hit_rate, pct)),
            t(errors_text(s)),
        ];
        let tr = row(&cells);
        if i == last && rows.len() > 1 {
            out.push_str(&tr.replacen("<tr>", "<tr class=\"total\">", 1));
        } else {
            out.push_str(&tr);
        }
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

pub(super) fn latency_table(r: &BenchResults) -> String {
    let mut out = String::from("<h2>Latency (ms)</h2>\n<table>\n");
    out.push_str(&head(&[
        "Stage", "Metric", "#Count", "#Mean", "#p50", "#p90", "#p99", "#Max",
    ]));
    out.push_str("<tbody>\n");
    let mut any = false;
    for (name, _, s) in summaries(r) {
        let metrics = [
            ("TTFT", &s.ttft_ms),
            ("ITL", &s.itl_ms),
            ("TPOT", &s.tpot_ms),
            ("E2E", &s.e2e_ms),
            ("send lag", &s.send_lag_ms),
        ];
        let present: Vec<(&str, &Distribution)> = metrics
            .into_iter()
            .filter_map(|(m, d)| d.as_ref().map(|d| (m, d)))
            .collect();
        for (i, (metric, d)) in present.iter().enumerate() {
            any = true;
            out.push_str("<tr>");
            if i == 0 {
                out.push_str(&format!(
                    "<td rowspan=\"{}\">{}</td>",
                    present.len(),
                    escape(&name)
                ));
            }
            let cells = [
                t(metric.to_string()),
                n(d.count.to_string()),
                n(fmt_num(d.mean)),
                n(fmt_num(d.p50)),
                n(fmt_num(d.p90)),
                n(fmt_num(d.p99)),
                n(fmt_num(d.max)),
            ];
            out.push_str(row(&cells).trim_start_matches("<tr>"));
        }
    }
    out.push_str("</tbody>\n</table>\n");
    if !any {
        return "<h2>Latency (ms)</h2>\n<p class=\"note\">No latency data.</p>\n".to_string();
    }
    out.push_str(
        "<p class=\"note\">TTFT: time to first token (streamed requests). ITL: gap between \
         streamed chunks. TPOT: time per output token after the first. E2E: end to end, \
         from the scheduled send time in open loop. Send lag: how late the load generator \
         sent requests against their schedule.</p>\n",
    );
    out
}

pub(super) fn ab_table(ab: &AbResult) -> String {
    let mut out = String::from("<h2>A/B: direct vs through the router</h2>\n");
    out.push_str("<table>\n<tbody>\n");
    let headline = [
        ("Rounds", ab.rounds.to_string()),
        (
            "Added E2E p50 (median over rounds)",
            ms(ab.added_e2e_p50_ms),
        ),
        (
            "Added E2E p99 (median over rounds)",
            ms(ab.added_e2e_p99_ms),
        ),
        (
            "Added TTFT p50 (median over rounds)",
            ms(ab.added_ttft_p50_ms),
        ),
        (
            "Throughput ratio router / direct",
            opt(ab.throughput_ratio, |v| format!("{v:.3}")),
        ),
    ];
    for (k, v) in headline {
        out.push_str(&format!(
            "<tr><th>{}</th><td class=\"n\">{}</td></tr>\n",
            escape(k),
            escape(&v)
        ));
    }
    out.push_str("</tbody>\n</table>\n<table>\n");
    out.push_str(&head(&["", "#A: direct", "#B: router", "#B − A"]));
    out.push_str("<tbody>\n");
    out.push_str(&format!(
        "<tr><td>URL</td><td>{}</td><td>{}</td><td></td></tr>\n",
        escape(&ab.direct_url),
        escape(&ab.router_url)
    ));
    let (a, b) = (&ab.direct, &ab.router);
    let count_rows: [(&str, u64, u64); 2] = [
        ("Requests ok", a.requests_ok, b.requests_ok),
        ("Failed", a.requests_failed, b.requests_failed),
    ];
    for (k, va, vb) in count_rows {
        let diff = i128::from(vb) - i128::from(va);
        let diff = if diff > 0 {
            format!("+{diff}")
        } else {
            diff.to_string()
        };
        out.push_str(&row(&[t(k), n(va.to_string()), n(vb.to_string()), n(diff)]));
    }
    let rate_rows: [(&str, f64, f64); 2] = [
        ("Requests/s", a.request_throughput, b.request_throughput),
        (
            "Output tokens/s",
            a.output_token_throughput,
            b.output_token_throughput,
        ),
    ];
    for (k, va, vb) in rate_rows {
        out.push_str(&row(&[
            t(k),
            n(fmt_num(va)),
            n(fmt_num(vb)),
            n(signed(vb - va)),
        ]));
    }
    let p50 = |d: &Distribution| d.p50;
    let p99 = |d: &Distribution| d.p99;
    let dist_rows = [
        (
            "TTFT p50, ms",
            a.ttft_ms.as_ref().map(p50),
            b.ttft_ms.as_ref().map(p50),
        ),
        (
            "TTFT p99, ms",
            a.ttft_ms.as_ref().map(p99),
            b.ttft_ms.as_ref().map(p99),
        ),
        (
            "E2E p50, ms",
            a.e2e_ms.as_ref().map(p50),
            b.e2e_ms.as_ref().map(p50),
        ),
        (
            "E2E p99, ms",
            a.e2e_ms.as_ref().map(p99),
            b.e2e_ms.as_ref().map(p99),
        ),
    ];
    for (k, va, vb) in dist_rows {
        let diff = va.zip(vb).map(|(x, y)| y - x);
        out.push_str(&row(&[
            t(k),
            n(opt(va, fmt_num)),
            n(opt(vb, fmt_num)),
            n(opt(diff, signed)),
        ]));
    }
    out.push_str("</tbody>\n</table>\n");
    out.push_str(
        "<p class=\"note\">The added figures are medians over rounds of (B − A) within a \
         round, so they are less sensitive to drift than the difference of the totals.</p>\n",
    );
    out
}

pub(super) fn endpoint_table(endpoints: &[EndpointResult]) -> String {
    let total: u64 = endpoints.iter().map(|e| e.routed_requests).sum();
    let mut out = String::from("<h2>Endpoints</h2>\n<table>\n");
    out.push_str(&head(&[
        "Endpoint",
        "#Routed",
        "#Share",
        "#Engine requests",
        "#Prefix cache hit",
        "#Cache queries",
        "#Cache hits",
        "#Engine TTFT mean",
        "Metrics",
    ]));
    out.push_str("<tbody>\n");
    for e in endpoints {
        let share = if total > 0 {
            pct(e.routed_requests as f64 / total as f64)
        } else {
            "—".to_string()
        };
        out.push_str(&row(&[
            t(e.name.clone()),
            n(e.routed_requests.to_string()),
            n(share),
            n(opt(e.engine_requests, |v| format!("{v:.0}"))),
            n(opt(e.prefix_cache_hit_rate, pct)),
            n(opt(e.prefix_cache_queries, |v| format!("{v:.0}"))),
            n(opt(e.prefix_cache_hits, |v| format!("{v:.0}"))),
            n(ms(e.engine_ttft_mean_ms)),
            t(e.metrics_url.clone().unwrap_or_default()),
        ]));
    }
    out.push_str("</tbody>\n</table>\n");
    out
}
