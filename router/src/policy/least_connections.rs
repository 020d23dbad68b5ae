use std::sync::atomic::{AtomicUsize, Ordering};

use super::{EndpointSnapshot, EndpointSnapshots, Policy, RequestFeatures};

/// The available endpoint with the fewest requests in flight through this
/// router, relative to its weight. Ties rotate, so an idle pool is still
/// spread evenly rather than piling onto the first endpoint.
#[derive(Debug, Default)]
pub struct LeastConnections {
    tie_break: AtomicUsize,
}

/// `a` has less in flight per unit of weight than `b`
/// (cross-multiplied to stay in integers).
fn lighter(a: &EndpointSnapshot, b: &EndpointSnapshot) -> bool {
    u64::from(a.in_flight) * u64::from(b.weight.max(1))
        < u64::from(b.in_flight) * u64::from(a.weight.max(1))
}

impl Policy for LeastConnections {
    fn name(&self) -> &'static str {
        "least_connections"
    }

    fn pick(&self, _: &RequestFeatures<'_>, endpoints: &dyn EndpointSnapshots) -> Option<usize> {
        let mut best: Option<(usize, EndpointSnapshot)> = None;
        let mut ties = 0usize;
        for i in 0..endpoints.len() {
            let snapshot = endpoints.get(i);
            if !snapshot.available {
                continue;
            }
            match &best {
                Some((_, b)) if lighter(b, &snapshot) => {}
                Some((_, b)) if !lighter(&snapshot, b) => ties += 1,
                _ => {
                    best = Some((i, snapshot));
                    ties = 1;
                }
            }
        }
        let (best_index, best) = best?;
        if ties == 1 {
            return Some(best_index);
        }
        // Rotate among the equally light ones so an idle pool is spread
        // evenly. Counts are live and may have moved since the first pass;
        // the lightest seen then stays a valid answer.
        let turn = self.tie_break.fetch_add(1, Ordering::Relaxed) % ties;
        (0..endpoints.len())
            .filter(|&i| {
                let s = endpoints.get(i);
                s.available && !lighter(&s, &best) && !lighter(&best, &s)
            })
            .nth(turn)
            .or(Some(best_index))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn picks_the_least_loaded() {
        let eps = [up(5), up(2), up(7)];
        assert_eq!(
            histogram(&LeastConnections::default(), &eps, 10),
            vec![0, 10, 0]
        );
    }

    #[test]
    fn ties_rotate() {
        let eps = [up(1), up(1), up(1), up(4)];
        assert_eq!(
            histogram(&LeastConnections::default(), &eps, 300),
            vec![100, 100, 100, 0]
        );
    }

    #[test]
    fn weights_scale_capacity() {
        // 4 in flight on weight 4 is lighter than 2 in flight on weight 1.
        let heavy = EndpointSnapshot { weight: 4, ..up(4) };
        let eps = [heavy, up(2)];
        assert_eq!(LeastConnections::default().pick(&features(), &eps), Some(0));
    }

    #[test]
    fn skips_unavailable_even_if_idle() {
        let eps = [down(), up(9)];
        assert_eq!(histogram(&LeastConnections::default(), &eps, 5), vec![0, 5]);
    }

    #[test]
    fn none_when_all_unavailable_and_one_endpoint_wins() {
        let policy = LeastConnections::default();
        assert_eq!(policy.pick(&features(), &[down(), down()]), None);
        assert_eq!(policy.pick(&features(), &[up(100)]), Some(0));
    }
}
