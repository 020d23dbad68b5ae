//! Latency CDFs: one line per metric over all stages, and, for multi-stage runs, E2E per
//! stage in a second panel.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::legend::{self, Marker};
use super::{Axis, build_chart, color, no_data, titled};
use crate::report::fmt_num;
use crate::results::{BenchResults, Distribution, Summary};

/// One CDF line: its name, p50 and p99, and `(value_ms, quantile)` points.
struct Curve {
    name: String,
    p50: f64,
    p99: f64,
    points: Vec<(f64, f64)>,
}

/// Legend label: with p50 and p99 while the legend stays short, else the name alone.
fn label(curve: &Curve, n: usize) -> String {
    if n <= 5 {
        format!(
            "{}  p50 {} ms, p99 {} ms",
            curve.name,
            fmt_num(curve.p50),
            fmt_num(curve.p99)
        )
    } else {
        curve.name.clone()
    }
}

impl Curve {
    fn new(name: &str, d: &Distribution) -> Option<Curve> {
        let mut points: Vec<(f64, f64)> = d
            .cdf
            .iter()
            .map(|[q, v]| (*v, *q))
            .filter(|(v, q)| v.is_finite() && q.is_finite() && *v >= 0.0)
            .collect();
        if points.is_empty() {
            return None;
        }
        points.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.total_cmp(&b.0)));
        Some(Curve {
            name: name.to_string(),
            p50: d.p50,
            p99: d.p99,
            points,
        })
    }
}

fn metric_curves(s: &Summary) -> Vec<Curve> {
    [
        ("TTFT", &s.ttft_ms),
        ("ITL", &s.itl_ms),
        ("TPOT", &s.tpot_ms),
        ("E2E", &s.e2e_ms),
    ]
    .into_iter()
    .filter_map(|(name, d)| d.as_ref().and_then(|d| Curve::new(name, d)))
    .collect()
}

/// E2E (or TTFT when no stage has E2E) per stage; empty unless at least two stages have it.
fn stage_curves(results: &BenchResults) -> (Vec<Curve>, &'static str) {
    for (metric, pick) in [
        (
            "E2E",
            (|s: &Summary| s.e2e_ms.as_ref()) as fn(&Summary) -> Option<&Distribution>,
        ),
        ("TTFT", |s: &Summary| s.ttft_ms.as_ref()),
    ] {
        let curves: Vec<Curve> = results
            .stages
            .iter()
            .filter_map(|st| pick(&st.summary).and_then(|d| Curve::new(&st.name, d)))
            .collect();
        if curves.len() >= 2 {
            return (curves, metric);
        }
    }
    (Vec::new(), "")
}

pub(super) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    results: &BenchResults,
) -> DrawResult<(), DB> {
    const TITLE: &str = "Latency CDF";
    let metrics = metric_curves(&results.overall);
    let (stages, stage_metric) = stage_curves(results);
    if metrics.is_empty() && stages.is_empty() {
        return no_data(root, TITLE, "no latency data");
    }
    let area = titled(root, TITLE)?;
    if stages.is_empty() {
        panel(&area, None, &metrics, 0)
    } else if metrics.is_empty() {
        panel(&area, Some(&format!("{stage_metric} by stage")), &stages, 0)
    } else {
        let (w, _) = area.dim_in_pixel();
        let (left, right) = area.split_horizontally(w / 2);
        // The same legend height on both sides keeps the two x axes level.
        let rows =
            legend::rows(&left, &items(&metrics))?.max(legend::rows(&right, &items(&stages))?);
        panel(&left, Some("All stages, by metric"), &metrics, rows)?;
        panel(
            &right,
            Some(&format!("{stage_metric} by stage")),
            &stages,
            rows,
        )
    }
}

fn items(curves: &[Curve]) -> Vec<legend::Item> {
    curves
        .iter()
        .enumerate()
        .map(|(i, c)| legend::item(Marker::Line(color(i, curves.len())), label(c, curves.len())))
        .collect()
}

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: Option<&str>,
    curves: &[Curve],
    legend_rows: usize,
) -> DrawResult<(), DB> {
    let values = curves.iter().flat_map(|c| c.points.iter().map(|p| p.0));
    let Some(x) = Axis::auto(values) else {
        return Ok(());
    };
    let y = Axis::linear(0.0, 1.0);
    let x_desc = if x.is_log() {
        "latency, ms (log scale)"
    } else {
        "latency, ms"
    };
    let area = legend::below_rows(area, &items(curves), legend_rows)?;
    let mut chart = build_chart(&area, caption, x, y, x_desc, "quantile")?;
    for (i, curve) in curves.iter().enumerate() {
        let points: Vec<(f64, f64)> = curve
            .points
            .iter()
            .filter_map(|(v, q)| x.map(*v).map(|v| (v, *q)))
            .collect();
        chart.draw_series(LineSeries::new(
            points,
            color(i, curves.len()).stroke_width(2),
        ))?;
    }
    Ok(())
}
