use std::sync::atomic::{AtomicUsize, Ordering};

use super::{EndpointSnapshots, Policy, RequestFeatures, count_available, nth_available};

/// Each request to the next available endpoint in turn.
#[derive(Debug, Default)]
pub struct RoundRobin {
    next: AtomicUsize,
}

impl Policy for RoundRobin {
    fn name(&self) -> &'static str {
        "round_robin"
    }

    fn pick(&self, _: &RequestFeatures<'_>, endpoints: &dyn EndpointSnapshots) -> Option<usize> {
        let available = count_available(endpoints);
        if available == 0 {
            return None;
        }
        // Rotating over the available endpoints (not over all, skipping the
        // unavailable) keeps shares even: otherwise the endpoint after an
        // ejected one would inherit its turns.
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % available;
        nth_available(endpoints, turn)
    }
}

#[cfg(test)]
mod tests {
    use super::super::EndpointSnapshot;
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn cycles_evenly() {
        let eps = [up(0), up(5), up(0)];
        assert_eq!(
            histogram(&RoundRobin::default(), &eps, 300),
            vec![100, 100, 100]
        );
    }

    #[test]
    fn skips_unavailable() {
        let eps = [up(0), down(), up(0)];
        assert_eq!(
            histogram(&RoundRobin::default(), &eps, 300),
            vec![150, 0, 150]
        );
    }

    #[test]
    fn all_unavailable_or_empty_is_none() {
        let rr = RoundRobin::default();
        assert_eq!(rr.pick(&features(), &[down(), down()]), None);
        assert_eq!(
            rr.pick(&features(), &<&[EndpointSnapshot]>::default()),
            None
        );
    }

    #[test]
    fn one_endpoint() {
        assert_eq!(histogram(&RoundRobin::default(), &[up(3)], 10), vec![10]);
    }
}
