use std::sync::Mutex;

use super::{EndpointSnapshots, Policy, RequestFeatures};

/// Smooth weighted round robin (as in nginx): over any window each endpoint
/// gets its share of requests by weight, interleaved rather than in bursts.
#[derive(Debug, Default)]
pub struct Weighted {
    /// Running "current weight" per endpoint. Uncontended in practice: the
    /// critical section is a few additions.
    current: Mutex<Vec<i64>>,
}

impl Policy for Weighted {
    fn name(&self) -> &'static str {
        "weighted"
    }

    fn pick(&self, _: &RequestFeatures<'_>, endpoints: &dyn EndpointSnapshots) -> Option<usize> {
        let n = endpoints.len();
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if current.len() != n {
            current.clear();
            current.resize(n, 0);
        }
        let mut total = 0i64;
        let mut best: Option<usize> = None;
        for i in 0..n {
            let snapshot = endpoints.get(i);
            if !snapshot.available {
                continue;
            }
            let weight = i64::from(snapshot.weight.max(1));
            current[i] += weight;
            total += weight;
            if best.is_none_or(|b| current[i] > current[b]) {
                best = Some(i);
            }
        }
        let best = best?;
        current[best] -= total;
        Some(best)
    }
}

#[cfg(test)]
mod tests {
    use super::super::EndpointSnapshot;
    use super::super::test_support::*;
    use super::*;

    fn weighted(w: u32) -> EndpointSnapshot {
        EndpointSnapshot { weight: w, ..up(0) }
    }

    #[test]
    fn shares_follow_weights_exactly() {
        let eps = [weighted(5), weighted(1), weighted(1)];
        assert_eq!(
            histogram(&Weighted::default(), &eps, 700),
            vec![500, 100, 100]
        );
    }

    #[test]
    fn interleaves_instead_of_bursting() {
        let eps = [weighted(2), weighted(1)];
        let policy = Weighted::default();
        let picks: Vec<usize> = (0..6)
            .map(|_| policy.pick(&features(), &eps).unwrap())
            .collect();
        assert_eq!(picks, vec![0, 1, 0, 0, 1, 0]);
    }

    #[test]
    fn equal_weights_tie_round_robin() {
        let eps = [weighted(1), weighted(1), weighted(1)];
        assert_eq!(histogram(&Weighted::default(), &eps, 30), vec![10, 10, 10]);
    }

    #[test]
    fn unavailable_share_goes_to_the_rest() {
        let eps = [weighted(3), down(), weighted(1)];
        assert_eq!(
            histogram(&Weighted::default(), &eps, 400),
            vec![300, 0, 100]
        );
    }

    #[test]
    fn all_unavailable_is_none_and_one_endpoint_always_wins() {
        let policy = Weighted::default();
        assert_eq!(policy.pick(&features(), &[down()]), None);
        assert_eq!(histogram(&policy, &[weighted(9)], 5), vec![5]);
    }
}
