//! The charts, drawn with `plotters`. Every chart is drawn by one function generic over the
//! backend, so the HTML report (SVG into a string) and the PNG files show the same picture.

mod axis;
mod endpoints;
mod latency;
mod legend;
mod time;

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{FONT_FAMILY, ReportError};
use crate::results::BenchResults;
use axis::AxisCoord;
pub(super) use axis::{Axis, fmt_tick};
pub(super) use time::has_ttft;

/// Size of every chart, pixels (PNG) or SVG user units.
pub(super) const SIZE: (u32, u32) = (1000, 600);

/// Line and marker colours (Tableau 10 without its red, which marks failures).
const PALETTE: [RGBColor; 9] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
/// Failed requests.
const FAIL: RGBColor = RGBColor(214, 39, 40);
const GRID: RGBColor = RGBColor(225, 225, 225);
const GRID_LIGHT: RGBColor = RGBColor(242, 242, 242);

/// Colour of series `i` of `n`: distinct colours while they last, else a dark-to-light
/// viridis-like ramp (many series are usually ordered stages or endpoints).
fn color(i: usize, n: usize) -> RGBColor {
    if n <= PALETTE.len() {
        return PALETTE[i % PALETTE.len()];
    }
    const RAMP: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (200.0, 210.0, 40.0),
    ];
    let f = i as f64 / (n - 1) as f64 * (RAMP.len() - 1) as f64;
    let k = (f.floor() as usize).min(RAMP.len() - 2);
    let w = f - k as f64;
    let (a, b) = (RAMP[k], RAMP[k + 1]);
    let mix = |x: f64, y: f64| (x + (y - x) * w).round().clamp(0.0, 255.0) as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The charts a report can contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chart {
    LatencyCdf,
    TtftOverTime,
    ThroughputOverTime,
    EndpointLoad,
}

impl Chart {
    pub(super) const ALL: [Chart; 4] = [
        Chart::LatencyCdf,
        Chart::TtftOverTime,
        Chart::ThroughputOverTime,
        Chart::EndpointLoad,
    ];

    pub(super) fn file_name(self) -> &'static str {
        match self {
            Chart::LatencyCdf => "latency_cdf.png",
            Chart::TtftOverTime => "ttft_over_time.png",
            Chart::ThroughputOverTime => "throughput_over_time.png",
            Chart::EndpointLoad => "endpoint_load.png",
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Chart::LatencyCdf => "latency CDF",
            Chart::TtftOverTime => "TTFT over time",
            Chart::ThroughputOverTime => "throughput over time",
            Chart::EndpointLoad => "endpoint load",
        }
    }

    /// Whether the chart is drawn at all for these results (the others show "no data" when
    /// there is nothing to plot).
    pub(super) fn applies(self, results: &BenchResults) -> bool {
        match self {
            Chart::EndpointLoad => !results.endpoints.is_empty(),
            _ => true,
        }
    }

    fn draw<DB: DrawingBackend>(
        self,
        root: &DrawingArea<DB, Shift>,
        results: &BenchResults,
    ) -> DrawResult<(), DB> {
        root.fill(&WHITE)?;
        match self {
            Chart::LatencyCdf => latency::draw(root, results),
            Chart::TtftOverTime => time::draw_ttft(root, results),
            Chart::ThroughputOverTime => time::draw_throughput(root, results),
            Chart::EndpointLoad => endpoints::draw(root, results),
        }
    }
}

fn chart_error(chart: Chart, message: impl std::fmt::Display) -> ReportError {
    ReportError::Chart {
        chart: chart.name(),
        message: message.to_string(),
    }
}

/// Draws `chart` as an SVG document (`<svg …>…</svg>`).
pub(super) fn render_svg(chart: Chart, results: &BenchResults) -> Result<String, ReportError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        chart
            .draw(&root, results)
            .map_err(|e| chart_error(chart, e))?;
        root.present().map_err(|e| chart_error(chart, e))?;
    }
    Ok(svg)
}

/// Draws `chart` into the PNG file `path`.
pub(super) fn render_png(
    chart: Chart,
    results: &BenchResults,
    path: &Path,
) -> Result<(), ReportError> {
    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    chart
        .draw(&root, results)
        .map_err(|e| chart_error(chart, e))?;
    root.present()
        .map_err(|e| chart_error(chart, format!("writing {}: {e}", path.display())))
}

/// Chart text. Sizes are even: plotters' ab_glyph rasteriser rounds half pixels in
/// opposite directions for glyphs above and below the middle line, which puts full stops
/// and commas a pixel too high at odd sizes.
fn font(size: f64) -> TextStyle<'static> {
    (FONT_FAMILY, size).into_font().into()
}

fn title_style() -> TextStyle<'static> {
    font(24.0)
}

fn caption_style() -> TextStyle<'static> {
    font(18.0)
}

fn label_style() -> TextStyle<'static> {
    font(14.0)
}

fn desc_style() -> TextStyle<'static> {
    font(16.0)
}

/// The chart title on top of `root`, returning the area below it.
fn titled<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> DrawResult<DrawingArea<DB, Shift>, DB> {
    root.titled(title, title_style())
}

/// A titled chart that only says there is nothing to show.
fn no_data<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    message: &str,
) -> DrawResult<(), DB> {
    let area = titled(root, title)?;
    let (w, h) = area.dim_in_pixel();
    let style = font(20.0)
        .color(&RGBColor(110, 110, 110))
        .pos(Pos::new(HPos::Center, VPos::Center));
    area.draw(&Text::new(
        message.to_string(),
        (w as i32 / 2, h as i32 / 2),
        style,
    ))?;
    Ok(())
}

/// Builds a chart on `area` with our axes, grid and label sizes, and draws the mesh.
fn build_chart<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    caption: Option<&str>,
    x: Axis,
    y: Axis,
    x_desc: &str,
    y_desc: &str,
) -> DrawResult<ChartContext<'a, DB, Cartesian2d<AxisCoord, AxisCoord>>, DB> {
    let mut builder = ChartBuilder::on(area);
    builder
        .margin(12)
        .margin_right(24)
        .x_label_area_size(50)
        .y_label_area_size(72);
    if let Some(caption) = caption {
        builder.caption(caption, caption_style());
    }
    let mut chart = builder.build_cartesian_2d(x.coord(), y.coord())?;
    let fx = |v: &f64| x.label(*v);
    let fy = |v: &f64| y.label(*v);
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&fx)
        .y_label_formatter(&fy)
        .label_style(label_style())
        .axis_desc_style(desc_style())
        .bold_line_style(GRID)
        .light_line_style(GRID_LIGHT)
        .draw()?;
    Ok(chart)
}

/// Bucket width of a timeline in seconds (1 unless the buckets say otherwise).
fn bucket_width(ts: impl IntoIterator<Item = f64>) -> f64 {
    let ts: Vec<f64> = ts.into_iter().filter(|t| t.is_finite()).collect();
    ts.windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| *d > 1e-9)
        .fold(None, |acc: Option<f64>, d| {
            Some(acc.map_or(d, |a| a.min(d)))
        })
        .unwrap_or(1.0)
}
