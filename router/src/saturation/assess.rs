//! The saturation model as pure functions: an endpoint's predicted queue
//! wait, whether it has room for one more request, and whether a pool does.

use serde::Serialize;

/// One endpoint as the saturation model sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EndpointView {
    pub healthy: bool,
    /// Healthy and under the pool's in-flight cap.
    pub available: bool,
    pub in_flight: u32,
    /// The concurrency the engine was seen running with a queue.
    pub slots: Option<u32>,
    /// The engine's own waiting count, from a fresh scrape.
    pub engine_waiting: Option<u32>,
    pub kv_cache_usage: Option<f32>,
    pub gpu_memory: Option<f64>,
    pub gpu_utilization: Option<f64>,
    /// Requests completed per second when busy.
    pub rate: Option<f64>,
}

impl EndpointView {
    /// Requests queued now, that a new one would wait behind: the router's
    /// own beyond the engine's concurrency, or what the engine reports
    /// waiting (other clients' too), whichever is more.
    pub fn queued(&self) -> u32 {
        let beyond_slots = self
            .slots
            .map_or(0, |slots| self.in_flight.saturating_sub(slots));
        beyond_slots.max(self.engine_waiting.unwrap_or(0))
    }

    /// Requests that must finish before a new one starts.
    fn ahead_of_new(&self) -> u32 {
        let queued = self.queued();
        let full = self.slots.is_some_and(|s| self.in_flight >= s);
        if queued > 0 || full { queued + 1 } else { 0 }
    }

    /// Seconds a new request would wait for a slot; `None` while the
    /// endpoint's completion rate is unknown (no wait is predicted then).
    pub fn predicted_wait(&self) -> Option<f64> {
        let ahead = self.ahead_of_new();
        if ahead == 0 {
            return Some(0.0);
        }
        self.rate
            .filter(|r| *r > 0.0)
            .map(|rate| f64::from(ahead) / rate)
    }
}

/// Why an endpoint or a pool has no room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    QueueWait,
    KvCache,
    GpuMemory,
    GpuUtilization,
    /// Every healthy endpoint is at the pool's in-flight cap.
    AtCapacity,
    NoHealthyEndpoint,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::QueueWait => "queue_wait",
            Self::KvCache => "kv_cache",
            Self::GpuMemory => "gpu_memory",
            Self::GpuUtilization => "gpu_utilization",
            Self::AtCapacity => "at_capacity",
            Self::NoHealthyEndpoint => "no_healthy_endpoint",
        }
    }
}

/// A high mark that makes an endpoint full and the lower mark it must fall
/// under before it has room again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    pub high: f64,
    pub low: f64,
}

impl Band {
    fn over(&self, value: Option<f64>, saturated: bool) -> bool {
        let mark = if saturated { self.low } else { self.high };
        value.is_some_and(|v| v >= mark)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Predicted wait (seconds) at which a normal model turns saturated.
    pub enter_wait: f64,
    /// Predicted wait under which a saturated model has room again.
    pub exit_wait: f64,
    pub kv_cache: Option<Band>,
    pub gpu_memory: Option<Band>,
    pub gpu_utilization: Option<Band>,
}

impl Thresholds {
    /// Whether `endpoint` takes one more request; the lower marks apply
    /// while the model is `saturated`.
    pub fn room(&self, e: &EndpointView, saturated: bool) -> Result<(), Reason> {
        if !e.healthy {
            return Err(Reason::NoHealthyEndpoint);
        }
        if !e.available {
            return Err(Reason::AtCapacity);
        }
        let over =
            |band: Option<Band>, value: Option<f64>| band.is_some_and(|b| b.over(value, saturated));
        if over(self.gpu_memory, e.gpu_memory) {
            return Err(Reason::GpuMemory);
        }
        if over(self.kv_cache, e.kv_cache_usage.map(f64::from)) {
            return Err(Reason::KvCache);
        }
        if over(self.gpu_utilization, e.gpu_utilization) {
            return Err(Reason::GpuUtilization);
        }
        let limit = if saturated {
            self.exit_wait
        } else {
            self.enter_wait
        };
        match e.predicted_wait() {
            Some(wait) if wait >= limit => Err(Reason::QueueWait),
            _ => Ok(()),
        }
    }

    /// The pool's verdict: room when any endpoint has room; otherwise the
    /// reason of its most promising endpoint.
    pub fn assess(
        &self,
        endpoints: impl IntoIterator<Item = EndpointView>,
        saturated: bool,
    ) -> PoolVerdict {
        let mut reason: Option<Reason> = None;
        for e in endpoints {
            match self.room(&e, saturated) {
                Ok(()) => {
                    return PoolVerdict {
                        room: true,
                        reason: None,
                    };
                }
                // Prefer the reason closest to having room.
                Err(r) => reason = Some(reason.map_or(r, |old| closer(old, r))),
            }
        }
        PoolVerdict {
            room: false,
            reason: Some(reason.unwrap_or(Reason::NoHealthyEndpoint)),
        }
    }
}

/// Of two reasons, the one an endpoint with room would more likely have
/// had: a healthy endpoint's beats "unhealthy".
fn closer(a: Reason, b: Reason) -> Reason {
    let rank = |r: Reason| match r {
        Reason::NoHealthyEndpoint => 2,
        Reason::AtCapacity => 1,
        _ => 0,
    };
    if rank(b) < rank(a) { b } else { a }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolVerdict {
    pub room: bool,
    pub reason: Option<Reason>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(in_flight: u32, slots: Option<u32>, rate: Option<f64>) -> EndpointView {
        EndpointView {
            healthy: true,
            available: true,
            in_flight,
            slots,
            rate,
            ..EndpointView::default()
        }
    }

    const T: Thresholds = Thresholds {
        enter_wait: 1.0,
        exit_wait: 0.5,
        kv_cache: Some(Band {
            high: 0.98,
            low: 0.9,
        }),
        gpu_memory: Some(Band {
            high: 0.97,
            low: 0.93,
        }),
        gpu_utilization: None,
    };

    #[test]
    fn predicted_wait_counts_requests_beyond_slots() {
        assert_eq!(ep(2, Some(4), Some(4.0)).predicted_wait(), Some(0.0));
        // Full: the next completion frees a slot.
        assert_eq!(ep(4, Some(4), Some(4.0)).predicted_wait(), Some(0.25));
        assert_eq!(ep(7, Some(4), Some(4.0)).predicted_wait(), Some(1.0));
        // The engine's own queue counts when larger (other clients).
        let mut e = ep(4, Some(4), Some(2.0));
        e.engine_waiting = Some(5);
        assert_eq!(e.predicted_wait(), Some(3.0));
        // Slots unknown: only the engine's queue says anything.
        assert_eq!(ep(50, None, Some(2.0)).predicted_wait(), Some(0.0));
        // Rate unknown: no prediction.
        assert_eq!(ep(9, Some(4), None).predicted_wait(), None);
    }

    #[test]
    fn hysteresis_band_on_wait() {
        let e = ep(6, Some(4), Some(4.0)); // 3 ahead: 0.75 s
        assert_eq!(T.room(&e, false), Ok(()), "under enter_wait");
        assert_eq!(T.room(&e, true), Err(Reason::QueueWait), "over exit_wait");
        let e = ep(5, Some(4), Some(4.0)); // 0.5 s
        assert_eq!(T.room(&e, true), Err(Reason::QueueWait), "at exit_wait");
        let e = ep(4, Some(4), Some(4.0)); // 0.25 s
        assert_eq!(T.room(&e, true), Ok(()));
        assert_eq!(
            T.room(&ep(8, Some(4), Some(4.0)), false),
            Err(Reason::QueueWait)
        );
    }

    #[test]
    fn resource_marks_with_hysteresis() {
        let mut e = ep(0, None, None);
        e.gpu_memory = Some(0.95);
        assert_eq!(T.room(&e, false), Ok(()));
        assert_eq!(T.room(&e, true), Err(Reason::GpuMemory));
        e.gpu_memory = Some(0.99);
        assert_eq!(T.room(&e, false), Err(Reason::GpuMemory));
        e.gpu_memory = None; // stale or unknown: not held against it
        e.kv_cache_usage = Some(0.99);
        assert_eq!(T.room(&e, false), Err(Reason::KvCache));
        e.kv_cache_usage = Some(0.5);
        e.gpu_utilization = Some(1.0);
        assert_eq!(T.room(&e, false), Ok(()), "utilisation off by default");
    }

    #[test]
    fn pool_has_room_if_any_endpoint_has() {
        let busy = ep(9, Some(4), Some(4.0));
        let idle = ep(1, Some(4), Some(4.0));
        let v = T.assess([busy, idle], false);
        assert!(v.room);
        let v = T.assess([busy, busy], false);
        assert_eq!((v.room, v.reason), (false, Some(Reason::QueueWait)));
        assert_eq!(busy.predicted_wait(), Some(1.5));
        let down = EndpointView::default();
        let v = T.assess([down, down], false);
        assert_eq!(v.reason, Some(Reason::NoHealthyEndpoint));
        let capped = EndpointView {
            healthy: true,
            ..EndpointView::default()
        };
        assert_eq!(
            T.assess([down, capped], false).reason,
            Some(Reason::AtCapacity)
        );
        assert_eq!(
            T.assess([down, busy], false).reason,
            Some(Reason::QueueWait)
        );
        assert_eq!(T.assess([], false).reason, Some(Reason::NoHealthyEndpoint));
    }
}
