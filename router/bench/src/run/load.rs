//! Load shapes: closed loop (N users, each sends when its last answer is in) and open loop
//! (arrivals on a schedule, constant or Poisson, whatever the server does). In open loop
//! every latency is measured from the scheduled send time, so a server that falls behind
//! shows its queueing instead of slowing the generator down (no coordinated omission).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand_distr::{Distribution, Exp};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::record::Collector;
use super::session::SessionPool;
use crate::target::{Exchange, Target};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StageLoad {
    Closed { users: usize },
    Open { rate: f64, arrivals: Arrivals },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Arrivals {
    Constant,
    Poisson,
}

impl fmt::Display for StageLoad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed { users: 1 } => write!(f, "1 user"),
            Self::Closed { users } => write!(f, "{users} users"),
            Self::Open {
                rate,
                arrivals: Arrivals::Constant,
            } => write!(f, "rate {rate}/s"),
            Self::Open {
                rate,
                arrivals: Arrivals::Poisson,
            } => write!(f, "poisson {rate}/s"),
        }
    }
}

/// When a stage stops sending: whichever limit comes first.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Bound {
    pub duration: Option<Duration>,
    pub requests: Option<u64>,
}

impl Bound {
    pub fn is_empty(&self) -> bool {
        self.duration.is_none() && self.requests.is_none()
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.duration, self.requests) {
            (Some(d), Some(n)) => write!(f, "{:?} or {n} requests", d),
            (Some(d), None) => write!(f, "{:?}", d),
            (None, Some(n)) => write!(f, "{n} requests"),
            (None, None) => write!(f, "nothing"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StagePlan {
    pub load: StageLoad,
    pub bound: Bound,
}

/// Everything one stage's request tasks share.
#[derive(Clone)]
pub struct StageContext {
    pub target: Arc<dyn Target>,
    pub sessions: Arc<SessionPool>,
    pub collector: Arc<Collector>,
    /// Index into the results' stages; `None` for warm-up.
    pub stage: Option<usize>,
    /// Open loop: most requests in flight at once (later arrivals wait, and the wait counts).
    pub max_concurrency: Option<usize>,
    pub seed: u64,
    /// Set on Ctrl-C: send nothing more; what is in flight finishes and is reported.
    pub stop: Arc<AtomicBool>,
}

/// Runs one stage to its bound and waits for every request it sent. Returns when the stage
/// started.
pub async fn run_stage(plan: StagePlan, ctx: StageContext) -> Instant {
    let start = Instant::now();
    let deadline = plan.bound.duration.map(|d| start + d);
    let limit = plan.bound.requests.unwrap_or(u64::MAX);
    let issued = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    match plan.load {
        StageLoad::Closed { users } => {
            for _ in 0..users.max(1) {
                let ctx = ctx.clone();
                let issued = Arc::clone(&issued);
                tasks.spawn(async move {
                    while !ctx.stop.load(Ordering::Relaxed)
                        && deadline.is_none_or(|d| Instant::now() < d)
                        && issued.fetch_add(1, Ordering::Relaxed) < limit
                    {
                        one_request(&ctx, None).await;
                    }
                });
            }
        }
        StageLoad::Open { rate, arrivals } => {
            // tokio's timer ticks in whole milliseconds and would send in bursts: a pacer
            // thread sleeps to each scheduled instant and hands it over.
            let (due_tx, mut due_rx) = tokio::sync::mpsc::unbounded_channel();
            let schedule = Schedule {
                next: start,
                rate,
                arrivals,
                rng: SmallRng::seed_from_u64(ctx.seed),
                deadline,
                remaining: limit,
            };
            let stop = Arc::clone(&ctx.stop);
            let pacer = std::thread::Builder::new()
                .name("bench-pacer".into())
                .spawn(move || pace(schedule, &due_tx, &stop));
            if let Err(e) = pacer {
                eprintln!("switchyard bench: cannot start the pacer thread: {e}");
            }
            let permits = ctx
                .max_concurrency
                .map(|n| Arc::new(Semaphore::new(n.max(1))));
            while let Some(due) = due_rx.recv().await {
                let permit = match &permits {
                    Some(p) => Arc::clone(p).acquire_owned().await.ok(),
                    None => None,
                };
                let ctx = ctx.clone();
                tasks.spawn(async move {
                    one_request(&ctx, Some(due)).await;
                    drop(permit);
                });
            }
        }
    }
    while tasks.join_next().await.is_some() {}
    start
}

/// Open-loop send times: constant gaps of `1/rate`, or exponential gaps (Poisson arrivals).
struct Schedule {
    next: Instant,
    rate: f64,
    arrivals: Arrivals,
    rng: SmallRng,
    deadline: Option<Instant>,
    remaining: u64,
}

impl Iterator for Schedule {
    type Item = Instant;

    fn next(&mut self) -> Option<Instant> {
        if self.remaining == 0 || self.deadline.is_some_and(|d| self.next >= d) {
            return None;
        }
        self.remaining -= 1;
        let due = self.next;
        let gap = match (self.arrivals, Exp::new(self.rate)) {
            (Arrivals::Poisson, Ok(exp)) => exp.sample(&mut self.rng),
            _ => 1.0 / self.rate,
        };
        self.next += Duration::from_secs_f64(gap);
        Some(due)
    }
}

fn pace(
    schedule: Schedule,
    due_tx: &tokio::sync::mpsc::UnboundedSender<Instant>,
    stop: &AtomicBool,
) {
    // Best effort: a 1 ns timer slack so sleeps end on time (the default 50 us would blur a
    // 500 us gap).
    let _ = std::fs::write("/proc/thread-self/timerslack_ns", "1");
    for due in schedule {
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        if stop.load(Ordering::Relaxed) || due_tx.send(due).is_err() {
            return;
        }
    }
}

async fn one_request(ctx: &StageContext, scheduled: Option<Instant>) {
    let session = ctx.sessions.take();
    let turn = session.turn();
    let exchange = Exchange {
        system: session.system(),
        history: session.history(),
        user: &turn.user,
        max_tokens: turn.max_tokens,
    };
    let outcome = ctx.target.send(exchange).await;
    ctx.collector
        .add(ctx.stage, scheduled.unwrap_or(outcome.sent), &outcome);
    let reply = outcome.result.ok().map(|r| r.text);
    ctx.sessions.finish(session, reply);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrivals(rate: f64, arrivals: Arrivals, seconds: u64, seed: u64) -> usize {
        let start = Instant::now();
        Schedule {
            next: start,
            rate,
            arrivals,
            rng: SmallRng::seed_from_u64(seed),
            deadline: Some(start + Duration::from_secs(seconds)),
            remaining: u64::MAX,
        }
        .count()
    }

    #[test]
    fn schedules_keep_their_rate() {
        assert_eq!(arrivals(20.0, Arrivals::Constant, 10, 0), 200);
        for seed in 0..5 {
            let n = arrivals(20.0, Arrivals::Poisson, 100, seed);
            // Poisson count: mean 2000, sd ~45.
            assert!((1850..2150).contains(&n), "seed {seed}: {n}");
        }
    }
}
