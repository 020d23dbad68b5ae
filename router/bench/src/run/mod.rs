//! Running a plan: warm-up (not counted), then each stage in turn, each drained before the
//! next starts.

pub mod load;
pub mod record;
pub mod session;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

pub use load::{Arrivals, Bound, StageLoad, StagePlan};
use load::{StageContext, run_stage};
use record::{Collected, Collector};
use session::SessionPool;

use crate::progress::Progress;
use crate::target::Target;

#[derive(Debug, Clone)]
pub struct RunSpec {
    pub stages: Vec<StagePlan>,
    /// Run with the first stage's load before measuring; empty for none.
    pub warmup: Bound,
    pub max_concurrency: Option<usize>,
    pub seed: u64,
    /// Set on Ctrl-C: stages stop sending, in-flight requests finish, the report is written.
    pub stop: Arc<AtomicBool>,
}

pub struct Measured {
    pub collected: Collected,
    /// Start and end (last answer) of each stage.
    pub spans: Vec<(Instant, Instant)>,
}

impl Measured {
    pub fn origin(&self) -> Instant {
        self.spans.first().map_or_else(Instant::now, |s| s.0)
    }
}

fn context(
    target: &Arc<dyn Target>,
    sessions: &Arc<SessionPool>,
    collector: &Arc<Collector>,
    spec: &RunSpec,
    stage: Option<usize>,
    seed: u64,
) -> StageContext {
    StageContext {
        target: Arc::clone(target),
        sessions: Arc::clone(sessions),
        collector: Arc::clone(collector),
        stage,
        max_concurrency: spec.max_concurrency,
        seed,
        stop: Arc::clone(&spec.stop),
    }
}

/// Runs the warm-up (the first stage's load for `spec.warmup`); nothing is recorded.
pub async fn warm_up(
    target: &Arc<dyn Target>,
    sessions: &Arc<SessionPool>,
    spec: &RunSpec,
    progress: &Progress,
    label: &str,
) {
    let (false, Some(first)) = (spec.warmup.is_empty(), spec.stages.first()) else {
        return;
    };
    let plan = StagePlan {
        load: first.load,
        bound: spec.warmup,
    };
    let collector = Arc::new(Collector::default());
    let _ticker = progress.stage(
        &format!("{label}warm-up, {}", first.load),
        plan.bound,
        &collector,
    );
    run_stage(
        plan,
        context(target, sessions, &collector, spec, None, spec.seed ^ 0x5757),
    )
    .await;
}

/// Runs every stage in turn, each drained before the next.
pub async fn measure(
    target: &Arc<dyn Target>,
    sessions: &Arc<SessionPool>,
    spec: &RunSpec,
    progress: &Progress,
    label: &str,
) -> Measured {
    let collector = Arc::new(Collector::default());
    let mut spans = Vec::new();
    for (index, plan) in spec.stages.iter().enumerate() {
        if spec.stop.load(Ordering::Relaxed) {
            break;
        }
        let name = if spec.stages.len() > 1 {
            format!(
                "{label}stage {}/{}: {}",
                index + 1,
                spec.stages.len(),
                plan.load
            )
        } else {
            format!("{label}{}", plan.load)
        };
        let ticker = progress.stage(&name, plan.bound, &collector);
        let seed = spec.seed.wrapping_add(index as u64);
        let start = run_stage(
            *plan,
            context(target, sessions, &collector, spec, Some(index), seed),
        )
        .await;
        drop(ticker);
        spans.push((start, Instant::now()));
    }
    let collected = collector.drain();
    // A stage ends at its last answer (the drain is part of it).
    for (index, span) in spans.iter_mut().enumerate() {
        if let Some(last) = collected
            .records
            .iter()
            .filter(|r| r.stage == index)
            .map(|r| r.done)
            .max()
        {
            span.1 = last.max(span.0);
        }
    }
    Measured { collected, spans }
}
