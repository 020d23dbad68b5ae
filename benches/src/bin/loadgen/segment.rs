//! What open and closed loops share: a segment's timing, and waiting for its workers while
//! sampling the target's CPU time over the measured window.

use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::client::Conn;
use crate::procfs::cpu_ticks;
use crate::stats::Recorder;

/// One target for one round: `warmup` unmeasured, then `duration` measured.
pub struct Segment {
    pub warmup: Duration,
    pub duration: Duration,
    /// How long to wait past the end for in-flight requests.
    pub grace: Duration,
    /// Process whose CPU time is sampled over the measured window.
    pub pid: Option<u32>,
}

impl Segment {
    /// The segment starts a few milliseconds from now, so that all workers are ready.
    pub fn schedule(&self) -> (Instant, Instant, Instant) {
        let start = Instant::now() + Duration::from_millis(5);
        let measure_start = start + self.warmup;
        (start, measure_start, measure_start + self.duration)
    }
}

/// What a segment produced.
pub struct Outcome {
    pub recorder: Recorder,
    /// The connections, to reuse in the next segment for the same target.
    pub conns: Vec<Conn>,
    /// The target's CPU ticks (utime + stime) over the measured window.
    pub cpu_ticks: Option<u64>,
    /// How late the open-loop pacer sent requests relative to their schedule.
    pub lag: Option<hdrhistogram::Histogram<u64>>,
}

/// Waits for all workers (each gives its connection back), at most until `end + grace`; takes
/// CPU samples at `measure_start` and when the workers are done. Returns the connections and
/// the CPU delta. Workers still running at the deadline are aborted; the caller replaces their
/// connections (and the open loop counts their requests as errors).
pub async fn collect(
    mut workers: JoinSet<Conn>,
    segment: &Segment,
    measure_start: Instant,
    end: Instant,
) -> (Vec<Conn>, Option<u64>) {
    tokio::time::sleep_until(measure_start.into()).await;
    let cpu_before = segment.pid.and_then(cpu_ticks);
    let deadline = end + segment.grace;
    let mut conns = Vec::with_capacity(workers.len());
    loop {
        match tokio::time::timeout_at(deadline.into(), workers.join_next()).await {
            Ok(Some(Ok(conn))) => conns.push(conn),
            Ok(Some(Err(error))) => eprintln!("loadgen: worker failed: {error}"),
            Ok(None) => break,
            Err(_) => {
                let running = workers.len();
                eprintln!("loadgen: {running} workers still running after the grace period");
                workers.abort_all();
                break;
            }
        }
    }
    let cpu_after = segment.pid.and_then(cpu_ticks);
    let cpu = cpu_before
        .zip(cpu_after)
        .map(|(before, after)| after.saturating_sub(before));
    (conns, cpu)
}
