//! `switchyard bench compare A.json B.json`: every headline figure of two runs and B/A.

use std::path::Path;

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};

use crate::results::{BenchResults, Distribution, SCHEMA, Summary};
use crate::terminal::fmt_ms;

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a switchyard bench results file: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("{path} has schema `{found}`; this tool reads `{SCHEMA}`")]
    Schema { path: String, found: String },
}

pub fn load(path: &Path) -> Result<BenchResults, CompareError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| CompareError::Read {
        path: shown.clone(),
        source,
    })?;
    // Check the schema first, so a newer file says so instead of failing on a field.
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| CompareError::Parse {
            path: shown.clone(),
            source,
        })?;
    let found = value
        .get("schema")
        .and_then(|s| s.as_str())
        .unwrap_or("none")
        .to_string();
    if found != SCHEMA {
        return Err(CompareError::Schema { path: shown, found });
    }
    serde_json::from_value(value).map_err(|source| CompareError::Parse {
        path: shown,
        source,
    })
}

/// (name, value, higher is better).
pub fn headline(s: &Summary) -> Vec<(&'static str, Option<f64>, bool)> {
    let d = |d: &Option<Distribution>, pick: fn(&Distribution) -> f64| d.as_ref().map(pick);
    vec![
        ("requests ok", Some(s.requests_ok as f64), true),
        ("requests failed", Some(s.requests_failed as f64), false),
        (
            "request throughput (req/s)",
            Some(s.request_throughput),
            true,
        ),
        (
            "output throughput (tok/s)",
            Some(s.output_token_throughput),
            true,
        ),
        ("goodput (req/s)", s.goodput, true),
        ("cache hit rate", s.cache_hit_rate, true),
        ("TTFT p50 (ms)", d(&s.ttft_ms, |d| d.p50), false),
        ("TTFT p90 (ms)", d(&s.ttft_ms, |d| d.p90), false),
        ("TTFT p99 (ms)", d(&s.ttft_ms, |d| d.p99), false),
        ("ITL p50 (ms)", d(&s.itl_ms, |d| d.p50), false),
        ("ITL p99 (ms)", d(&s.itl_ms, |d| d.p99), false),
        ("TPOT p50 (ms)", d(&s.tpot_ms, |d| d.p50), false),
        ("TPOT p99 (ms)", d(&s.tpot_ms, |d| d.p99), false),
        ("E2E p50 (ms)", d(&s.e2e_ms, |d| d.p50), false),
        ("E2E p90 (ms)", d(&s.e2e_ms, |d| d.p90), false),
        ("E2E p99 (ms)", d(&s.e2e_ms, |d| d.p99), false),
        ("E2E max (ms)", d(&s.e2e_ms, |d| d.max), false),
    ]
}

fn number(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e12 => format!("{v:.0}"),
        Some(v) if v < 1.0 => format!("{v:.3}"),
        v => fmt_ms(v),
    }
}

/// The comparison table: one row per headline figure; the last column is B/A with a note
/// saying which run is better where it differs by more than 1%.
pub fn render(a: &BenchResults, b: &BenchResults, a_name: &str, b_name: &str) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        Cell::new("figure"),
        Cell::new(a_name),
        Cell::new(b_name),
        Cell::new("B/A"),
        Cell::new(""),
    ]);
    for (i, ((name, va, higher), (_, vb, _))) in headline(&a.overall)
        .into_iter()
        .zip(headline(&b.overall))
        .enumerate()
    {
        let (ratio, verdict) = match (va, vb) {
            (Some(x), Some(y)) if x != 0.0 => {
                let r = y / x;
                let verdict = if (r - 1.0).abs() <= 0.01 {
                    "same"
                } else if (r > 1.0) == higher {
                    "B better"
                } else {
                    "A better"
                };
                (format!("{r:.3}"), verdict)
            }
            _ => ("-".into(), ""),
        };
        t.add_row(vec![
            name.to_string(),
            number(va),
            number(vb),
            ratio,
            verdict.into(),
        ]);
        if i == 0 {
            for column in 1..4 {
                if let Some(c) = t.column_mut(column) {
                    c.set_cell_alignment(CellAlignment::Right);
                }
            }
        }
    }
    let describe = |r: &BenchResults| {
        format!(
            "{} {} | {} | {}",
            r.config.api, r.config.url, r.config.workload, r.config.load
        )
    };
    format!("A: {}\nB: {}\n{t}\n", describe(a), describe(b))
}
