//! What each measured request left behind, and the shared place it is put.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use hdrhistogram::Histogram;

use crate::target::Outcome;

#[derive(Debug, Clone)]
pub struct Record {
    pub stage: usize,
    /// When the request was due: the schedule in open loop, the send in closed loop.
    pub scheduled: Instant,
    pub sent: Instant,
    pub first_token: Option<Instant>,
    pub done: Instant,
    /// `None` for success, else the failure kind.
    pub error: Option<String>,
    pub prompt_tokens: u64,
    pub output_tokens: u64,
    pub cached_tokens: Option<u64>,
    pub endpoint: Option<String>,
}

impl Record {
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Histogram of microseconds, 1 us to 1 hour, 3 significant digits.
#[allow(clippy::expect_used)] // constant bounds that hdrhistogram accepts
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds")
}

#[derive(Default)]
struct Inner {
    records: Vec<Record>,
    /// Inter-token gaps per stage (too many to keep one by one).
    itl_us: Vec<Histogram<u64>>,
    /// First detail seen for each error kind, to show the user.
    error_examples: BTreeMap<String, String>,
}

/// Shared by every request task of a run.
#[derive(Default)]
pub struct Collector {
    inner: Mutex<Inner>,
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    pub output_tokens: AtomicU64,
}

impl Collector {
    /// Files a finished request; `stage` None for warm-up (only the live counters see it).
    pub fn add(&self, stage: Option<usize>, scheduled: Instant, outcome: &Outcome) {
        let (error, reply) = match &outcome.result {
            Ok(reply) => (None, Some(reply)),
            Err(failure) => (Some(failure.kind.clone()), None),
        };
        let output_tokens = reply.map_or(0, |r| r.output_tokens.unwrap_or(r.chunks));
        // The live counters include warm-up, so its progress bar moves too.
        if error.is_none() {
            self.ok.fetch_add(1, Ordering::Relaxed);
            self.output_tokens
                .fetch_add(output_tokens, Ordering::Relaxed);
        } else {
            self.failed.fetch_add(1, Ordering::Relaxed);
        }
        let Some(stage) = stage else { return };
        let record = Record {
            stage,
            scheduled,
            sent: outcome.sent,
            first_token: outcome.first_token,
            done: outcome.done,
            error,
            prompt_tokens: reply.and_then(|r| r.prompt_tokens).unwrap_or(0),
            output_tokens,
            cached_tokens: reply.and_then(|r| r.cached_tokens),
            endpoint: outcome.endpoint.clone(),
        };
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        if let Err(failure) = &outcome.result {
            inner
                .error_examples
                .entry(failure.kind.clone())
                .or_insert_with(|| failure.detail.clone());
        }
        if record.ok() {
            while inner.itl_us.len() <= stage {
                inner.itl_us.push(new_histogram());
            }
            let histogram = &mut inner.itl_us[stage];
            for &gap in &outcome.chunk_gaps_us {
                histogram.saturating_record(u64::from(gap.max(1)));
            }
        }
        inner.records.push(record);
    }

    pub fn done(&self) -> u64 {
        self.ok.load(Ordering::Relaxed) + self.failed.load(Ordering::Relaxed)
    }

    /// Everything recorded so far, leaving the collector empty.
    pub fn drain(&self) -> Collected {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let taken = std::mem::take(&mut *inner);
        Collected {
            records: taken.records,
            itl_us: taken.itl_us,
            error_examples: taken.error_examples,
        }
    }
}

pub struct Collected {
    pub records: Vec<Record>,
    pub itl_us: Vec<Histogram<u64>>,
    pub error_examples: BTreeMap<String, String>,
}
