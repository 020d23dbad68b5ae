//! Reports built from a [`BenchResults`]: a self-contained HTML page (tables and inline SVG
//! charts, no scripts, fonts or network) and PNG charts for READMEs and issues. Both are
//! drawn from the results alone, so they can be rebuilt from a saved results file.
//!
//! The charts are drawn with `plotters` and its `ab_glyph` text support, which measures (and,
//! for PNG, rasterises) text with a TrueType font loaded at run time: `$SWITCHYARD_FONT` when
//! set, else the first of the usual DejaVu Sans / Liberation Sans paths that exists. The SVG
//! backend needs the font too (plotters measures labels to lay the chart out; the browser
//! then draws the text with its own sans-serif), so both writers fail with
//! [`ReportError::NoFont`] without one.

mod charts;
mod html;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::{fs, io};

use plotters::style::FontStyle;

use crate::results::BenchResults;
use charts::Chart;

/// Environment variable naming the TrueType font used for chart text.
const FONT_ENV: &str = "SWITCHYARD_FONT";

/// Fonts tried, in order, when [`FONT_ENV`] is not set.
const FONT_CANDIDATES: [&str; 4] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
];

/// The font family every chart text uses; the loaded font is registered under it.
const FONT_FAMILY: &str = "sans-serif";

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Creating a directory or writing a file (or reading the font) failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// plotters failed to draw or encode a chart (for PNGs this includes writing the file).
    #[error("drawing the {chart} chart: {message}")]
    Chart {
        chart: &'static str,
        message: String,
    },
    /// No font file for chart text was found; `tried` lists the paths looked at.
    #[error(
        "no font for chart text: set SWITCHYARD_FONT to a TrueType font file (tried {})",
        display_paths(.tried)
    )]
    NoFont { tried: Vec<PathBuf> },
    /// The font file exists but plotters cannot use it.
    #[error(
        "{}: not a usable TrueType/OpenType font (set SWITCHYARD_FONT to another)",
        path.display()
    )]
    BadFont { path: PathBuf },
}

fn display_paths(paths: &[PathBuf]) -> String {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    shown.join(", ")
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes a self-contained HTML report (no external scripts, fonts or network): title, run
/// config table, per-stage summary tables (throughput, goodput, TTFT/ITL/TPOT/E2E
/// p50/p90/p99/max, errors by kind, cache hit rate), per-endpoint table, A/B table when
/// `results.ab` is Some, and the charts inline as SVG.
pub fn write_html(results: &BenchResults, path: &Path) -> Result<(), ReportError> {
    ensure_font()?;
    let page = html::render(results)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io_error(parent))?;
    }
    fs::write(path, page).map_err(io_error(path))
}

/// Writes PNG charts into `dir` (created if missing), returns the files written. File names:
/// latency_cdf.png, ttft_over_time.png, throughput_over_time.png, endpoint_load.png (the last
/// only when there is endpoint data).
pub fn write_pngs(results: &BenchResults, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    ensure_font()?;
    fs::create_dir_all(dir).map_err(io_error(dir))?;
    let mut written = Vec::new();
    for chart in Chart::ALL {
        if !chart.applies(results) {
            continue;
        }
        let path = dir.join(chart.file_name());
        charts::render_png(chart, results, &path)?;
        written.push(path);
    }
    Ok(written)
}

/// Why the chart font could not be set up; kept (cloneable) so the answer is computed once.
#[derive(Debug, Clone)]
enum FontFailure {
    NotFound(Vec<PathBuf>),
    Unreadable(PathBuf, io::ErrorKind, String),
    Invalid(PathBuf),
}

impl FontFailure {
    fn into_error(self) -> ReportError {
        match self {
            FontFailure::NotFound(tried) => ReportError::NoFont { tried },
            FontFailure::Unreadable(path, kind, message) => ReportError::Io {
                path,
                source: io::Error::new(kind, message),
            },
            FontFailure::Invalid(path) => ReportError::BadFont { path },
        }
    }
}

/// The font files to try: `$SWITCHYARD_FONT` alone when set, else [`FONT_CANDIDATES`].
fn font_candidates() -> Vec<PathBuf> {
    match std::env::var_os(FONT_ENV).filter(|v| !v.is_empty()) {
        Some(path) => vec![PathBuf::from(path)],
        None => FONT_CANDIDATES.iter().map(PathBuf::from).collect(),
    }
}

/// Reads the first candidate that exists.
fn read_first_font(candidates: &[PathBuf]) -> Result<(PathBuf, Vec<u8>), FontFailure> {
    for path in candidates {
        match fs::read(path) {
            Ok(bytes) => return Ok((path.clone(), bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(FontFailure::Unreadable(
                    path.clone(),
                    e.kind(),
                    e.to_string(),
                ));
            }
        }
    }
    Err(FontFailure::NotFound(candidates.to_vec()))
}

/// Loads the chart font and registers it with plotters, once per process (the bytes are
/// leaked: plotters keeps `&'static` font data).
fn ensure_font() -> Result<(), ReportError> {
    static FONT: OnceLock<Result<(), FontFailure>> = OnceLock::new();
    FONT.get_or_init(|| {
        let (path, bytes) = read_first_font(&font_candidates())?;
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font(FONT_FAMILY, FontStyle::Normal, bytes)
            .map_err(|_| FontFailure::Invalid(path))
    })
    .clone()
    .map_err(FontFailure::into_error)
}

/// A number for tables and legends: 3 to 4 significant digits, `—` when not finite.
fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        "—".to_string()
    } else if a == 0.0 {
        "0".to_string()
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}
