//! State shared by the server and the [`FakeProvider`](crate::FakeProvider)
//! handle: settings, scripted faults, the record and counters.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::config::FakeConfig;
use crate::faults::Fault;
use crate::record::{Api, Received};

pub(crate) struct Shared {
    /// Settings fixed at start (timing is copied into `timing`).
    pub config: FakeConfig,
    timing: Mutex<Timing>,
    faults: Mutex<VecDeque<Fault>>,
    records: Mutex<Vec<Received>>,
    ok: [AtomicU64; 3],
}

/// Time to first token and between tokens.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub ttft: Duration,
    pub interval: Duration,
}

impl Timing {
    /// The whole generation time of `tokens` tokens.
    pub fn total(self, tokens: u64) -> Duration {
        let rest = u32::try_from(tokens.saturating_sub(1)).unwrap_or(u32::MAX);
        self.ttft + self.interval.saturating_mul(rest)
    }
}

/// Locks `m`, ignoring poisoning (a panicking test must not hide the record).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub fn new(config: FakeConfig) -> Self {
        let timing = Timing {
            ttft: config.ttft,
            interval: config.token_interval,
        };
        Shared {
            config,
            timing: Mutex::new(timing),
            faults: Mutex::new(VecDeque::new()),
            records: Mutex::new(Vec::new()),
            ok: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
        }
    }

    pub fn timing(&self) -> Timing {
        *lock(&self.timing)
    }

    pub fn set_timing(&self, ttft: Duration, interval: Duration) {
        *lock(&self.timing) = Timing { ttft, interval };
    }

    pub fn push_faults(&self, n: usize, fault: Fault) {
        lock(&self.faults).extend(std::iter::repeat_n(fault, n));
    }

    /// The fault the next inference request gets, if any.
    pub fn take_fault(&self) -> Option<Fault> {
        lock(&self.faults).pop_front()
    }

    pub fn record(&self, received: Received) {
        if (200..300).contains(&received.status) {
            self.ok[received.api.index()].fetch_add(1, Ordering::Relaxed);
        }
        lock(&self.records).push(received);
    }

    pub fn records(&self) -> Vec<Received> {
        lock(&self.records).clone()
    }

    pub fn clear_records(&self) {
        lock(&self.records).clear();
    }

    pub fn ok_count(&self, api: Api) -> u64 {
        self.ok[api.index()].load(Ordering::Relaxed)
    }

    /// Whether `model` is accepted (any, when no list is configured).
    pub fn model_known(&self, model: &str) -> bool {
        self.config.models.is_empty() || self.config.models.iter().any(|m| m == model)
    }

    /// Whether `deployment` exists (any, when no list is configured).
    pub fn deployment_known(&self, deployment: &str) -> bool {
        self.config.azure_deployments.is_empty()
            || self
                .config
                .azure_deployments
                .iter()
                .any(|d| d == deployment)
    }
}
