//! Numeric axes with hand-picked ticks, linear or log10.

use std::ops::Range;

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// The coordinate used for every numeric axis: a linear range with hand-picked ticks. A log
/// axis is drawn as a linear axis over log10 of the values, so linear and log charts share
/// one type and one drawing function. (plotters' own f64 range cannot take custom ticks and
/// custom labels at once.)
pub(super) struct AxisCoord {
    pub(super) range: Range<f64>,
    pub(super) major: Vec<f64>,
    pub(super) minor: Vec<f64>,
}

impl Ranged for AxisCoord {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        let frac = if span > 0.0 {
            (value - self.range.start) / span
        } else {
            0.0
        };
        let pixels = f64::from(limit.1 - limit.0);
        // `as` saturates, so far-off values land far off the chart instead of wrapping.
        limit.0 + (pixels * frac + 1e-3).floor() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.minor.clone()
        } else {
            self.major.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

/// A numeric axis: its data range and whether it is logarithmic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(in crate::report) struct Axis {
    log: bool,
    lo: f64,
    hi: f64,
}

/// Spread (max / min) above which latency axes switch to a log scale.
const LOG_SPREAD: f64 = 100.0;

impl Axis {
    /// A linear axis over `lo..hi` with a nice upper end.
    pub(in crate::report) fn linear(lo: f64, hi: f64) -> Axis {
        let lo = if lo.is_finite() { lo } else { 0.0 };
        let hi = if hi.is_finite() && hi > lo {
            hi
        } else {
            lo + 1.0
        };
        let step = nice_step((hi - lo) / 8.0);
        let hi = (hi / step).ceil() * step;
        Axis { log: false, lo, hi }
    }

    /// An axis for latency-like values: log scale when all are positive and the spread is
    /// over [`LOG_SPREAD`], else linear from 0. `None` when no value is finite.
    pub(in crate::report) fn auto(values: impl IntoIterator<Item = f64>) -> Option<Axis> {
        let (mut min_pos, mut max) = (f64::INFINITY, f64::NEG_INFINITY);
        let mut any = false;
        for v in values.into_iter().filter(|v| v.is_finite() && *v >= 0.0) {
            any = true;
            max = max.max(v);
            if v > 0.0 {
                min_pos = min_pos.min(v);
            }
        }
        if !any {
            return None;
        }
        if min_pos.is_finite() && max / min_pos > LOG_SPREAD {
            Some(Axis {
                log: true,
                lo: nice_125_floor(min_pos),
                hi: nice_125_ceil(max),
            })
        } else {
            Some(Axis::linear(0.0, (max * 1.05).min(f64::MAX)))
        }
    }

    pub(in crate::report) fn is_log(&self) -> bool {
        self.log
    }

    /// Data value to chart coordinate; `None` for values the axis cannot show (not finite,
    /// outside its range, not positive on a log axis), so nothing is drawn off the chart.
    pub(in crate::report) fn map(&self, v: f64) -> Option<f64> {
        let slack = (self.hi - self.lo).abs() * 1e-9;
        if !v.is_finite() || v < self.lo - slack || v > self.hi + slack {
            None
        } else if self.log {
            (v > 0.0).then(|| v.log10())
        } else {
            Some(v)
        }
    }

    fn range(&self) -> Range<f64> {
        if self.log {
            self.lo.log10()..self.hi.log10()
        } else {
            self.lo..self.hi
        }
    }

    /// Tick positions (data values) and minor grid positions.
    fn ticks(&self) -> (Vec<f64>, Vec<f64>) {
        if self.log {
            let (k0, k1) = (
                self.lo.log10().floor() as i32,
                self.hi.log10().ceil() as i32,
            );
            let in_range = |v: &f64| *v >= self.lo * 0.999 && *v <= self.hi * 1.001;
            let decade = |ms: &[f64]| -> Vec<f64> {
                (k0..=k1)
                    .flat_map(|k| ms.iter().map(move |m| m * 10f64.powi(k)))
                    .filter(in_range)
                    .collect()
            };
            let mut major = decade(&[1.0, 2.0, 5.0]);
            if major.len() > 10 {
                major = decade(&[1.0]);
            }
            let minor = decade(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]);
            (major, minor)
        } else {
            let step = nice_step((self.hi - self.lo) / 8.0);
            let first = (self.lo / step).ceil() as i64;
            let last = (self.hi / step + 1e-9).floor() as i64;
            let major: Vec<f64> = (first..=last).map(|i| i as f64 * step).collect();
            let minor = major
                .iter()
                .map(|v| v + step / 2.0)
                .filter(|v| *v < self.hi)
                .collect();
            (major, minor)
        }
    }

    /// The plotters coordinate spec for this axis.
    pub(super) fn coord(&self) -> AxisCoord {
        let (major, minor) = self.ticks();
        let to = |v: Vec<f64>| -> Vec<f64> { v.into_iter().filter_map(|v| self.map(v)).collect() };
        AxisCoord {
            range: self.range(),
            major: to(major),
            minor: to(minor),
        }
    }

    /// The tick label for a chart coordinate; thousands as `k` on axes that reach 10 000,
    /// so one axis does not mix `5000` and `10k`.
    pub(super) fn label(&self, x: f64) -> String {
        let v = if self.log { 10f64.powf(x) } else { x };
        if self.hi >= 1e4 && v.abs() >= 1e3 && v.abs() < 1e6 {
            format!("{}k", trim_zeros(format!("{:.1}", v / 1e3)))
        } else {
            fmt_tick(v)
        }
    }
}

/// The smallest of 1, 2, 2.5, 5 x 10^k that is at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * 0.999)
        .unwrap_or(10.0 * mag)
}

/// The largest 1, 2 or 5 x 10^k not above `v` (`v` > 0).
fn nice_125_floor(v: f64) -> f64 {
    let mag = 10f64.powf(v.log10().floor());
    [5.0, 2.0, 1.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|c| *c <= v * 1.000_001)
        .unwrap_or(mag)
}

/// The smallest 1, 2 or 5 x 10^k not below `v` (`v` > 0).
fn nice_125_ceil(v: f64) -> f64 {
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|c| *c >= v * 0.999_999)
        .unwrap_or(10.0 * mag)
}

/// Tick labels: no float noise, thousands as `k`, millions as `M`.
pub(in crate::report) fn fmt_tick(v: f64) -> String {
    let trim = trim_zeros;
    let a = v.abs();
    if a < 1e-9 {
        "0".to_string()
    } else if a >= 1e6 {
        format!("{}M", trim(format!("{:.2}", v / 1e6)))
    } else if a >= 1e4 {
        format!("{}k", trim(format!("{:.1}", v / 1e3)))
    } else {
        trim(format!("{v:.4}"))
    }
}

fn trim_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}
