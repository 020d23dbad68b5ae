//! The cap on a model's spilled share: requests and spilled requests over a
//! sliding window, kept in a ring of sub-windows.

use std::sync::Mutex;
use std::time::Duration;

const SLICES: usize = 10;

#[derive(Debug)]
pub struct SpillCap {
    max_fraction: f64,
    slice_ms: u64,
    ring: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    /// (slice number, requests, spilled) per slot.
    slots: [(u64, u64, u64); SLICES],
}

impl Ring {
    fn slot(&mut self, slice: u64) -> &mut (u64, u64, u64) {
        let slot = &mut self.slots[(slice % SLICES as u64) as usize];
        if slot.0 != slice {
            *slot = (slice, 0, 0);
        }
        slot
    }

    fn totals(&self, slice: u64) -> (u64, u64) {
        self.slots
            .iter()
            .filter(|(s, _, _)| slice.saturating_sub(*s) < SLICES as u64 && *s <= slice)
            .fold((0, 0), |(r, s), (_, req, sp)| (r + req, s + sp))
    }
}

impl SpillCap {
    pub fn new(max_fraction: f64, window: Duration) -> Self {
        Self {
            max_fraction,
            slice_ms: (window.as_millis() as u64 / SLICES as u64).max(1),
            ring: Mutex::new(Ring::default()),
        }
    }

    /// Counts a request of the model.
    pub fn count_request(&self, now_ms: u64) {
        let slice = now_ms / self.slice_ms;
        if let Ok(mut ring) = self.ring.lock() {
            ring.slot(slice).1 += 1;
        }
    }

    /// Takes one spill if the share stays within the cap; the request was
    /// already counted.
    pub fn try_spill(&self, now_ms: u64) -> bool {
        if self.max_fraction >= 1.0 {
            self.count_spill(now_ms);
            return true;
        }
        let slice = now_ms / self.slice_ms;
        let Ok(mut ring) = self.ring.lock() else {
            return false;
        };
        let (requests, spilled) = ring.totals(slice);
        if (spilled + 1) as f64 > self.max_fraction * requests.max(1) as f64 {
            return false;
        }
        ring.slot(slice).2 += 1;
        true
    }

    /// Gives back a spill that did not happen (every provider failed).
    pub fn undo_spill(&self, now_ms: u64) {
        let slice = now_ms / self.slice_ms;
        if let Ok(mut ring) = self.ring.lock() {
            let slot = ring.slot(slice);
            slot.2 = slot.2.saturating_sub(1);
        }
    }

    fn count_spill(&self, now_ms: u64) {
        let slice = now_ms / self.slice_ms;
        if let Ok(mut ring) = self.ring.lock() {
            ring.slot(slice).2 += 1;
        }
    }

    /// (requests, spilled) over the window ending at `now_ms`.
    #[cfg(test)]
    fn totals(&self, now_ms: u64) -> (u64, u64) {
        let slice = now_ms / self.slice_ms;
        self.ring.lock().map(|r| r.totals(slice)).unwrap_or((0, 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_the_share_over_the_window() {
        let cap = SpillCap::new(0.25, Duration::from_secs(10));
        let mut spilled = 0;
        for i in 0..100 {
            cap.count_request(i * 10);
            if cap.try_spill(i * 10) {
                spilled += 1;
            }
        }
        assert_eq!(spilled, 25);
        assert_eq!(cap.totals(990), (100, 25));
        // A window later, the old counts are gone.
        assert_eq!(cap.totals(20_000), (0, 0));
        cap.count_request(20_000);
        assert!(!cap.try_spill(20_000), "1 of 1 is over a quarter");
        for _ in 0..3 {
            cap.count_request(20_000);
        }
        assert!(cap.try_spill(20_000));
        cap.undo_spill(20_000);
        assert_eq!(cap.totals(20_000), (4, 0));
    }

    #[test]
    fn a_cap_of_one_never_blocks() {
        let cap = SpillCap::new(1.0, Duration::from_secs(1));
        cap.count_request(0);
        assert!(cap.try_spill(0));
        assert!(cap.try_spill(0));
    }
}
