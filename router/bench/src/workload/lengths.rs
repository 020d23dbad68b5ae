//! Length distributions for prompts and outputs, written on the command line as
//! `N`, `uniform:MIN:MAX`, `normal:MEAN:SD` or `lognormal:MEDIAN:SIGMA`.

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use rand_distr::{Distribution, LogNormal, Normal};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LengthDist {
    Fixed(u32),
    Uniform {
        min: u32,
        max: u32,
    },
    /// Clipped to at least 1.
    Normal {
        mean: f64,
        sd: f64,
    },
    /// Heavy-tailed, like real chat prompts: `median * exp(sigma * N(0,1))`.
    LogNormal {
        median: f64,
        sigma: f64,
    },
}

impl LengthDist {
    pub fn sample(&self, rng: &mut impl Rng) -> u32 {
        let value = match *self {
            Self::Fixed(n) => return n,
            Self::Uniform { min, max } => return rng.random_range(min..=max),
            Self::Normal { mean, sd } => match Normal::new(mean, sd) {
                Ok(d) => d.sample(rng),
                Err(_) => mean,
            },
            Self::LogNormal { median, sigma } => match LogNormal::new(median.ln(), sigma) {
                Ok(d) => d.sample(rng),
                Err(_) => median,
            },
        };
        // Saturating float-to-int cast; at least one token.
        (value.round() as u32).max(1)
    }

    pub fn mean(&self) -> f64 {
        match *self {
            Self::Fixed(n) => f64::from(n),
            Self::Uniform { min, max } => (f64::from(min) + f64::from(max)) / 2.0,
            Self::Normal { mean, .. } => mean,
            Self::LogNormal { median, sigma } => median * (sigma * sigma / 2.0).exp(),
        }
    }
}

impl fmt::Display for LengthDist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fixed(n) => write!(f, "{n}"),
            Self::Uniform { min, max } => write!(f, "uniform:{min}:{max}"),
            Self::Normal { mean, sd } => write!(f, "normal:{mean}:{sd}"),
            Self::LogNormal { median, sigma } => write!(f, "lognormal:{median}:{sigma}"),
        }
    }
}

impl FromStr for LengthDist {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split(':').collect();
        let int = |s: &str| {
            s.trim()
                .parse::<u32>()
                .map_err(|_| format!("`{s}` is not a whole number of tokens"))
        };
        let float = |s: &str| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("`{s}` is not a non-negative number"))
        };
        let dist = match parts.as_slice() {
            [n] => Self::Fixed(int(n)?),
            ["uniform", min, max] => Self::Uniform {
                min: int(min)?,
                max: int(max)?,
            },
            ["normal", mean, sd] => Self::Normal {
                mean: float(mean)?,
                sd: float(sd)?,
            },
            ["lognormal", median, sigma] => Self::LogNormal {
                median: float(median)?,
                sigma: float(sigma)?,
            },
            _ => {
                return Err(format!(
                    "`{text}`: expected N, uniform:MIN:MAX, normal:MEAN:SD or lognormal:MEDIAN:SIGMA"
                ));
            }
        };
        match dist {
            Self::Fixed(0) => Err("a length must be at least 1".into()),
            Self::Uniform { min, max } if min == 0 || min > max => {
                Err(format!("`{text}`: need 1 <= MIN <= MAX"))
            }
            Self::Normal { mean, .. } if mean < 1.0 => Err(format!("`{text}`: MEAN must be >= 1")),
            Self::LogNormal { median, .. } if median < 1.0 => {
                Err(format!("`{text}`: MEDIAN must be >= 1"))
            }
            d => Ok(d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    #[test]
    fn parses_every_form_and_round_trips() {
        for text in ["7", "uniform:2:9", "normal:100:10", "lognormal:200:0.5"] {
            let d: LengthDist = text.parse().unwrap();
            assert_eq!(d.to_string(), text);
        }
    }

    #[test]
    fn rejects_bad_forms() {
        for text in [
            "0",
            "x",
            "uniform:5:2",
            "uniform:0:3",
            "normal:0:1",
            "beta:1:2",
            "-3",
        ] {
            assert!(text.parse::<LengthDist>().is_err(), "{text}");
        }
    }

    #[test]
    fn samples_stay_in_range_and_near_the_mean() {
        let mut rng = SmallRng::seed_from_u64(1);
        let d: LengthDist = "uniform:10:20".parse().unwrap();
        let samples: Vec<u32> = (0..2000).map(|_| d.sample(&mut rng)).collect();
        assert!(samples.iter().all(|&n| (10..=20).contains(&n)));
        let mean = samples.iter().map(|&n| f64::from(n)).sum::<f64>() / 2000.0;
        assert!((mean - 15.0).abs() < 0.5, "{mean}");
        let normal: LengthDist = "normal:3:50".parse().unwrap();
        assert!((0..500).all(|_| normal.sample(&mut rng) >= 1));
    }
}
