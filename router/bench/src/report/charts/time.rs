//! Charts over the run's time: TTFT scatter and throughput.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::legend::{self, Marker, item};
use super::{Axis, FAIL, PALETTE, bucket_width, build_chart, no_data, titled};
use crate::report::fmt_num;
use crate::results::BenchResults;

const OK_COLOR: RGBColor = PALETTE[0];
const MEDIAN_COLOR: RGBColor = RGBColor(230, 110, 0);
const SLO_COLOR: RGBColor = RGBColor(90, 90, 90);
const TOKENS_COLOR: RGBColor = PALETTE[2];

/// Splits `(x, Option<y>)` into runs of consecutive `Some`, so gaps stay gaps.
fn segments(points: impl IntoIterator<Item = (f64, Option<f64>)>) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current = Vec::new();
    for (x, y) in points {
        match y {
            Some(y) => current.push((x, y)),
            None if !current.is_empty() => out.push(std::mem::take(&mut current)),
            None => {}
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Whether the TTFT chart shows TTFT (else it falls back to E2E latency).
pub(in crate::report) fn has_ttft(results: &BenchResults) -> bool {
    results.samples.iter().any(|s| s.ttft_ms.is_some())
        || results.timeline.iter().any(|b| b.ttft_p50_ms.is_some())
}

/// TTFT of every sampled request over time, failures in red, with the per-second median.
/// Falls back to E2E latency when no request has a TTFT (e.g. embeddings).
pub(super) fn draw_ttft<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    results: &BenchResults,
) -> DrawResult<(), DB> {
    let use_ttft = has_ttft(results);
    let (title, metric, slo) = if use_ttft {
        ("TTFT over time", "TTFT", results.config.slo.ttft_ms)
    } else {
        ("E2E latency over time", "E2E", results.config.slo.e2e_ms)
    };
    let value = |s: &crate::results::RequestSample| {
        if use_ttft {
            s.ttft_ms.unwrap_or(s.e2e_ms)
        } else {
            s.e2e_ms
        }
    };
    let ok: Vec<(f64, f64)> = results
        .samples
        .iter()
        .filter(|s| s.ok && (s.ttft_ms.is_some() || !use_ttft))
        .map(|s| (s.t_s, value(s)))
        .collect();
    let failed: Vec<(f64, f64)> = results
        .samples
        .iter()
        .filter(|s| !s.ok)
        .map(|s| (s.t_s, value(s)))
        .collect();
    let width = bucket_width(results.timeline.iter().map(|b| b.t_s));
    let median = if use_ttft {
        segments(
            results
                .timeline
                .iter()
                .map(|b| (b.t_s + width / 2.0, b.ttft_p50_ms)),
        )
    } else {
        Vec::new()
    };
    let ys = ok
        .iter()
        .chain(&failed)
        .chain(median.iter().flatten())
        .map(|p| p.1)
        .chain(slo);
    let Some(y) = Axis::auto(ys) else {
        return no_data(root, title, "no latency samples");
    };
    let t_max = ok
        .iter()
        .chain(&failed)
        .map(|p| p.0)
        .chain(results.timeline.iter().map(|b| b.t_s + width))
        .filter(|t| t.is_finite())
        .fold(0.0, f64::max);
    let x = Axis::linear(0.0, t_max);

    let mut items = vec![item(
        Marker::Dot(OK_COLOR),
        format!("ok requests ({})", ok.len()),
    )];
    if !failed.is_empty() {
        items.push(item(
            Marker::Cross(FAIL),
            format!("failed requests ({})", failed.len()),
        ));
    }
    if !median.is_empty() {
        items.push(item(
            Marker::Line(MEDIAN_COLOR),
            format!("{metric} p50 per second"),
        ));
    }
    let slo = slo.filter(|v| y.map(*v).is_some());
    if let Some(slo) = slo {
        items.push(item(
            Marker::Dashed(SLO_COLOR),
            format!("{metric} SLO ({} ms)", fmt_num(slo)),
        ));
    }

    let area = titled(root, title)?;
    let area = legend::below(&area, &items)?;
    let y_desc = if y.is_log() {
        format!("{metric}, ms (log scale)")
    } else {
        format!("{metric}, ms")
    };
    let mut chart = build_chart(
        &area,
        None,
        x,
        y,
        "time since start of measurement, s",
        &y_desc,
    )?;
    let map = |pts: &[(f64, f64)]| -> Vec<(f64, f64)> {
        pts.iter()
            .filter_map(|(t, v)| Some((x.map(*t)?, y.map(*v)?)))
            .collect()
    };

    let ok_style = OK_COLOR.mix(0.45).filled();
    chart.draw_series(map(&ok).into_iter().map(|p| Circle::new(p, 2, ok_style)))?;
    let fail_style = FAIL.stroke_width(2);
    chart.draw_series(
        map(&failed)
            .into_iter()
            .map(|p| Cross::new(p, 4, fail_style)),
    )?;
    for seg in &median {
        // A lone point would be invisible as a line.
        let marker = if seg.len() == 1 { 4 } else { 0 };
        chart.draw_series(
            LineSeries::new(map(seg), MEDIAN_COLOR.stroke_width(3)).point_size(marker),
        )?;
    }
    if let (Some(slo), Some(x0), Some(x1)) = (slo.and_then(|v| y.map(v)), x.map(0.0), x.map(t_max))
    {
        chart.draw_series(DashedLineSeries::new(
            [(x0, slo), (x1, slo)],
            8,
            6,
            SLO_COLOR.stroke_width(2),
        ))?;
    }
    Ok(())
}

/// Completed and failed requests per second (top) and output tokens per second (bottom).
pub(super) fn draw_throughput<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    results: &BenchResults,
) -> DrawResult<(), DB> {
    const TITLE: &str = "Throughput over time";
    let timeline = &results.timeline;
    if timeline.is_empty() {
        return no_data(root, TITLE, "no timeline data");
    }
    let width = bucket_width(timeline.iter().map(|b| b.t_s));
    let mid = |t: f64| t + width / 2.0;
    let completed: Vec<(f64, f64)> = timeline
        .iter()
        .filter(|b| b.t_s.is_finite() && b.t_s >= 0.0)
        .map(|b| (mid(b.t_s), b.completed as f64 / width))
        .collect();
    let failed: Vec<(f64, f64)> = timeline
        .iter()
        .filter(|b| b.t_s.is_finite() && b.t_s >= 0.0)
        .map(|b| (mid(b.t_s), b.failed as f64 / width))
        .collect();
    let tokens: Vec<(f64, f64)> = timeline
        .iter()
        .filter(|b| b.t_s.is_finite() && b.t_s >= 0.0)
        .map(|b| (mid(b.t_s), b.output_tokens as f64 / width))
        .collect();
    let total_failed: u64 = timeline.iter().map(|b| b.failed).sum();
    let t_max = timeline
        .iter()
        .map(|b| b.t_s + width)
        .filter(|t| t.is_finite())
        .fold(0.0, f64::max);
    let x = Axis::linear(0.0, t_max);
    let max_of = |pts: &[(f64, f64)]| pts.iter().map(|p| p.1).fold(0.0, f64::max);
    let point_size = if timeline.len() <= 30 { 3 } else { 0 };

    let items = [
        item(Marker::Line(OK_COLOR), "completed requests/s"),
        item(
            Marker::Line(FAIL),
            format!("failed requests/s ({total_failed} in all)"),
        ),
        item(Marker::Line(TOKENS_COLOR), "output tokens/s"),
    ];
    let area = titled(root, TITLE)?;
    let area = legend::below(&area, &items)?;
    let (_, h) = area.dim_in_pixel();
    let (top, bottom) = area.split_vertically(h / 2);

    let y = Axis::linear(0.0, max_of(&completed).max(max_of(&failed)) * 1.1);
    let mut chart = build_chart(&top, None, x, y, "", "requests/s")?;
    chart
        .draw_series(LineSeries::new(completed, OK_COLOR.stroke_width(2)).point_size(point_size))?;
    chart.draw_series(LineSeries::new(failed, FAIL.stroke_width(2)).point_size(point_size))?;

    let y = Axis::linear(0.0, max_of(&tokens) * 1.1);
    let mut chart = build_chart(
        &bottom,
        None,
        x,
        y,
        "time since start of measurement, s",
        "output tokens/s",
    )?;
    chart.draw_series(
        AreaSeries::new(tokens, 0.0, TOKENS_COLOR.mix(0.25))
            .border_style(TOKENS_COLOR.stroke_width(2)),
    )?;
    Ok(())
}
