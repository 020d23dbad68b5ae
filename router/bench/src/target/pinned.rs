//! The hand-pinned oracle for prefix routing: each distinct shared prefix (system prompt) goes
//! to one engine, assigned round-robin in order of first appearance, so groups are spread
//! evenly and every group's prefix stays cached where it went. It is what a perfect
//! cache-aware router would do for a shared-prefix workload whose groups are all alike.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::{Exchange, SendFuture, Target};

pub struct PinnedTarget {
    targets: Vec<Arc<dyn Target>>,
    homes: Mutex<HashMap<Arc<str>, usize>>,
}

impl PinnedTarget {
    pub fn new(targets: Vec<Arc<dyn Target>>) -> Self {
        Self {
            targets,
            homes: Mutex::new(HashMap::new()),
        }
    }

    fn home(&self, prefix: Option<&str>) -> usize {
        let Some(prefix) = prefix else {
            return 0;
        };
        let mut homes = self.homes.lock().unwrap_or_else(PoisonError::into_inner);
        let next = homes.len() % self.targets.len().max(1);
        *homes.entry(Arc::from(prefix)).or_insert(next)
    }
}

impl Target for PinnedTarget {
    fn describe(&self) -> String {
        let each: Vec<String> = self.targets.iter().map(|t| t.describe()).collect();
        format!("pinned by prefix over [{}]", each.join(", "))
    }

    fn send<'a>(&'a self, exchange: Exchange<'a>) -> SendFuture<'a> {
        let home = self.home(exchange.system);
        self.targets[home].send(exchange)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named;
    impl Target for Named {
        fn describe(&self) -> String {
            "n".into()
        }
        fn send<'a>(&'a self, _: Exchange<'a>) -> SendFuture<'a> {
            unreachable!("not sent in this test")
        }
    }

    #[test]
    fn prefixes_are_spread_in_order_and_stay_put() {
        let pinned = PinnedTarget::new(vec![Arc::new(Named), Arc::new(Named)]);
        assert_eq!(pinned.home(Some("a")), 0);
        assert_eq!(pinned.home(Some("b")), 1);
        assert_eq!(pinned.home(Some("c")), 0);
        assert_eq!(pinned.home(Some("b")), 1);
        assert_eq!(pinned.home(None), 0);
    }
}
