//! Requests per endpoint (bars) and, when the engines were scraped during the run, running
//! and waiting requests per endpoint over time.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::legend::{self, Marker, item};
use super::{
    Axis, AxisCoord, GRID, GRID_LIGHT, build_chart, caption_style, color, desc_style, fmt_tick,
    font, label_style, no_data, titled,
};
use crate::results::{BenchResults, EndpointResult};

/// Legend colour for "routed" / "engine" bars (the bars themselves take the endpoint's colour).
const KEY_COLOR: RGBColor = RGBColor(110, 110, 110);

pub(super) fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    results: &BenchResults,
) -> DrawResult<(), DB> {
    const TITLE: &str = "Load per endpoint";
    let endpoints = &results.endpoints;
    if endpoints.is_empty() {
        return no_data(root, TITLE, "no endpoint data");
    }
    let area = titled(root, TITLE)?;
    if endpoints.iter().any(|e| !e.load.is_empty()) {
        let (_, h) = area.dim_in_pixel();
        let (top, bottom) = area.split_vertically(h * 9 / 20);
        bars(&top, endpoints)?;
        load(&bottom, endpoints)
    } else {
        bars(&area, endpoints)
    }
}

/// Names short enough for `max` characters each, keeping the part that tells them apart:
/// the scheme goes first, then what all names share at the start and the end.
fn short_names(names: &[&str], max: usize) -> Vec<String> {
    let fits = |v: &[&str]| v.iter().all(|s| s.chars().count() <= max);
    if fits(names) {
        return names.iter().map(|s| s.to_string()).collect();
    }
    let names: Vec<&str> = names
        .iter()
        .map(|s| s.split_once("://").map_or(*s, |(_, rest)| rest))
        .collect();
    if fits(&names) {
        return names.iter().map(|s| s.to_string()).collect();
    }
    let chars: Vec<Vec<char>> = names.iter().map(|s| s.chars().collect()).collect();
    let shortest = chars.iter().map(Vec::len).min().unwrap_or(0);
    let (mut pre, mut suf) = (0, 0);
    if chars.len() > 1 {
        while pre < shortest && chars.iter().all(|c| c[pre] == chars[0][pre]) {
            pre += 1;
        }
        while suf < shortest - pre
            && chars
                .iter()
                .all(|c| c[c.len() - 1 - suf] == chars[0][chars[0].len() - 1 - suf])
        {
            suf += 1;
        }
    }
    let max = max.max(3);
    chars
        .iter()
        .map(|c| {
            let end = c.len() - suf;
            let middle = end - pre;
            if max < 10 {
                // No room for context or ellipses: the distinct part alone.
                return c[pre..end].iter().take(max).collect();
            }
            let room = max - usize::from(suf > 0);
            if middle > room {
                // Even the distinct part is too long: keep its start.
                let kept: String = c[pre..pre + max - 1].iter().collect();
                return kept + "…";
            }
            // The distinct part, with as much of the shared start as fits before it.
            let start = end.saturating_sub(room).min(pre);
            let mut s: String = c[start..end].iter().collect();
            if start > 0 {
                s = format!("…{}", s.chars().skip(1).collect::<String>());
            }
            if suf > 0 {
                s.push('…');
            }
            s
        })
        .collect()
}

fn bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    endpoints: &[EndpointResult],
) -> DrawResult<(), DB> {
    let n = endpoints.len();
    let engine = endpoints.iter().any(|e| e.engine_requests.is_some());
    let max = endpoints
        .iter()
        .flat_map(|e| [e.routed_requests as f64, e.engine_requests.unwrap_or(0.0)])
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let y = Axis::linear(0.0, max * 1.18);
    let x_coord = AxisCoord {
        range: -0.5..n as f64 - 0.5,
        major: (0..n).map(|i| i as f64).collect(),
        minor: Vec::new(),
    };
    // Roughly 8 px per character of a 15 px label.
    let max_chars = ((900 / n.max(1)) / 8).max(4);
    let all: Vec<&str> = endpoints.iter().map(|e| e.name.as_str()).collect();
    let names = short_names(&all, max_chars);
    let fx = |v: &f64| {
        let i = v.round();
        if (v - i).abs() < 1e-6 && i >= 0.0 {
            names.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let fy = |v: &f64| y.label(*v);

    let mut items = vec![item(
        Marker::Bar(KEY_COLOR),
        "routed by the router (x-switchyard-endpoint)",
    )];
    if engine {
        items.push(item(
            Marker::LightBar(KEY_COLOR),
            "finished, by the engine's own count",
        ));
    }
    let area = legend::below(area, &items)?;
    let mut chart = ChartBuilder::on(&area)
        .margin(12)
        .margin_right(24)
        .x_label_area_size(30)
        .y_label_area_size(72)
        .caption("Requests per endpoint", caption_style())
        .build_cartesian_2d(x_coord, y.coord())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .y_desc("requests")
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .label_style(label_style())
        .axis_desc_style(desc_style())
        .bold_line_style(GRID)
        .light_line_style(GRID_LIGHT)
        .draw()?;

    let half = if engine { 0.38 } else { 0.3 };
    let value_style = font(14.0).pos(Pos::new(HPos::Center, VPos::Bottom));
    let mut bars = Vec::new();
    for (i, e) in endpoints.iter().enumerate() {
        let (c, x) = (color(i, n), i as f64);
        let routed_end = if engine { x - 0.01 } else { x + half };
        bars.push((x - half, routed_end, e.routed_requests as f64, c.filled()));
        if let Some(v) = e.engine_requests.filter(|v| v.is_finite()) {
            bars.push((x + 0.01, x + half, v, c.mix(0.4).filled()));
        }
    }
    chart.draw_series(
        bars.iter()
            .map(|(x0, x1, v, style)| Rectangle::new([(*x0, 0.0), (*x1, *v)], *style)),
    )?;
    // Value labels only where bars are wide enough to carry them (~900 px for all).
    if 900.0 / n as f64 * half >= 30.0 {
        chart.draw_series(bars.iter().map(|(x0, x1, v, _)| {
            Text::new(
                fmt_tick(v.round()),
                ((x0 + x1) / 2.0, *v),
                value_style.clone(),
            )
        }))?;
    }
    Ok(())
}

fn load<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    endpoints: &[EndpointResult],
) -> DrawResult<(), DB> {
    let finite = |s: &&[f64; 3]| s.iter().all(|v| v.is_finite());
    let t_max = endpoints
        .iter()
        .flat_map(|e| e.load.iter().filter(finite).map(|s| s[0]))
        .fold(0.0, f64::max);
    let y_max = endpoints
        .iter()
        .flat_map(|e| e.load.iter().filter(finite).map(|s| s[1].max(s[2])))
        .fold(0.0, f64::max);
    let waiting = endpoints
        .iter()
        .any(|e| e.load.iter().filter(finite).any(|s| s[2] > 0.0));
    let x = Axis::linear(0.0, t_max);
    let y = Axis::linear(0.0, (y_max * 1.1).max(1.0));
    let caption = if waiting {
        "Running (solid) and waiting (dashed) requests per endpoint"
    } else {
        "Running requests per endpoint"
    };
    let all: Vec<&str> = endpoints.iter().map(|e| e.name.as_str()).collect();
    let legend_names = short_names(&all, 40);
    let mut items: Vec<legend::Item> = endpoints
        .iter()
        .zip(legend_names)
        .enumerate()
        .filter(|(_, (e, _))| e.load.iter().any(|s| finite(&s)))
        .map(|(i, (_, name))| item(Marker::Line(color(i, endpoints.len())), name))
        .collect();
    if waiting {
        items.push(item(Marker::Dashed(KEY_COLOR), "waiting"));
    }
    let area = legend::below(area, &items)?;
    let mut chart = build_chart(
        &area,
        Some(caption),
        x,
        y,
        "time since start of measurement, s",
        "requests",
    )?;
    for (i, e) in endpoints.iter().enumerate() {
        let c = color(i, endpoints.len());
        let samples: Vec<&[f64; 3]> = e.load.iter().filter(finite).collect();
        if samples.is_empty() {
            continue;
        }
        chart.draw_series(LineSeries::new(
            samples.iter().map(|s| (s[0], s[1])),
            c.stroke_width(2),
        ))?;
        if waiting {
            chart.draw_series(DashedLineSeries::new(
                samples.iter().map(|s| (s[0], s[2])),
                6,
                4,
                c.stroke_width(2),
            ))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::short_names;

    #[test]
    fn names_keep_what_differs() {
        let short = ["http://a:1", "http://b:1"];
        assert_eq!(short_names(&short, 20), ["http://a:1", "http://b:1"]);
        assert_eq!(short_names(&short, 5), ["a:1", "b:1"]);
        let long = [
            "http://inference-node-07.cluster.example.internal:8000",
            "http://inference-node-12.cluster.example.internal:8000",
        ];
        assert_eq!(short_names(&long, 5), ["07", "12"]);
        assert_eq!(
            short_names(&long, 20),
            ["inference-node-07…", "inference-node-12…"]
        );
        let one = ["http://a-very-long-single-endpoint-name.example.internal:8000"];
        assert_eq!(short_names(&one, 12), ["a-very-long…"]);
        assert!(short_names(&[], 5).is_empty());
    }
}
