use super::rng::SharedRng;
use super::{EndpointSnapshots, Policy, RequestFeatures, random_available};

/// Power of two choices: two distinct random available endpoints, and the
/// one with less load wins (router in-flight plus the engine's own waiting
/// queue when a fresh scrape has it). Nearly as good as least-loaded, but
/// it does not herd every router replica onto the same endpoint.
#[derive(Debug)]
pub struct PowerOfTwo {
    rng: SharedRng,
}

impl PowerOfTwo {
    pub fn with_seed(seed: u64) -> Self {
        Self {
            rng: SharedRng::new(seed),
        }
    }
}

impl Policy for PowerOfTwo {
    fn name(&self) -> &'static str {
        "power_of_two"
    }

    fn pick(&self, _: &RequestFeatures<'_>, endpoints: &dyn EndpointSnapshots) -> Option<usize> {
        let first = random_available(endpoints, &self.rng, None)?;
        let Some(second) = random_available(endpoints, &self.rng, Some(first)) else {
            return Some(first);
        };
        // Equal loads go to the first draw, which is itself random.
        if endpoints.get(second).load() < endpoints.get(first).load() {
            Some(second)
        } else {
            Some(first)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::EndpointSnapshot;
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn two_endpoints_always_the_lighter() {
        let eps = [up(3), up(1)];
        assert_eq!(
            histogram(&PowerOfTwo::with_seed(5), &eps, 100),
            vec![0, 100]
        );
    }

    #[test]
    fn engine_queue_counts_as_load() {
        let queued = EndpointSnapshot {
            engine_waiting: Some(10),
            ..up(0)
        };
        let eps = [queued, up(2)];
        assert_eq!(
            histogram(&PowerOfTwo::with_seed(5), &eps, 100),
            vec![0, 100]
        );
    }

    #[test]
    fn the_most_loaded_never_wins_among_many() {
        let eps = [up(0), up(0), up(0), up(50)];
        let counts = histogram(&PowerOfTwo::with_seed(3), &eps, 3000);
        assert_eq!(counts[3], 0);
        assert!(counts[..3].iter().all(|&c| c > 800), "{counts:?}");
    }

    #[test]
    fn ties_spread() {
        let counts = histogram(&PowerOfTwo::with_seed(11), &[up(1), up(1)], 2000);
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
    }

    #[test]
    fn unavailable_one_and_none() {
        let policy = PowerOfTwo::with_seed(1);
        assert_eq!(policy.pick(&features(), &[down(), down()]), None);
        assert_eq!(
            histogram(&policy, &[down(), up(7), down()], 50),
            vec![0, 50, 0]
        );
        assert_eq!(histogram(&policy, &[up(7)], 5), vec![5]);
    }
}
