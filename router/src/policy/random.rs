use super::rng::SharedRng;
use super::{EndpointSnapshots, Policy, RequestFeatures, random_available};

/// A uniformly random available endpoint.
#[derive(Debug)]
pub struct Random {
    rng: SharedRng,
}

impl Random {
    pub fn with_seed(seed: u64) -> Self {
        Self {
            rng: SharedRng::new(seed),
        }
    }
}

impl Policy for Random {
    fn name(&self) -> &'static str {
        "random"
    }

    fn pick(&self, _: &RequestFeatures<'_>, endpoints: &dyn EndpointSnapshots) -> Option<usize> {
        random_available(endpoints, &self.rng, None)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn spreads_roughly_evenly() {
        let counts = histogram(
            &Random::with_seed(42),
            &[up(0), up(0), up(0), up(0)],
            40_000,
        );
        for c in counts {
            assert!((9_000..11_000).contains(&c), "{c}");
        }
    }

    #[test]
    fn never_picks_unavailable() {
        let counts = histogram(&Random::with_seed(1), &[down(), up(0), down()], 1000);
        assert_eq!(counts, vec![0, 1000, 0]);
    }

    #[test]
    fn deterministic_under_a_seed() {
        let eps = [up(0), up(0), up(0)];
        let (a, b) = (Random::with_seed(9), Random::with_seed(9));
        for _ in 0..50 {
            assert_eq!(a.pick(&features(), &eps), b.pick(&features(), &eps));
        }
    }

    #[test]
    fn none_when_all_unavailable() {
        assert_eq!(
            Random::with_seed(0).pick(&features(), &[down(), down()]),
            None
        );
    }
}
