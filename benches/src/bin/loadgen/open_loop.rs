//! Open loop: requests at a constant rate, latency counted from each one's scheduled time.
//!
//! A pacer thread (timer slack 1 ns, see `procfs`) sleeps until each scheduled instant and hands it to the
//! runtime; tokio's own timer has 1 ms granularity and would send in bursts. Each connection
//! worker takes the next instant from a shared queue, so when all connections are busy the
//! instants wait in the queue and that wait counts in the latency (no coordinated omission).

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::Mutex;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinSet;

use crate::client::{Conn, LoadError, Template};
use crate::segment::{Outcome, Segment, collect};
use crate::stats::{HistogramResult, Recorder, new_histogram, record};

type Queue = Rc<Mutex<UnboundedReceiver<Instant>>>;

pub async fn run(
    conns: Vec<Conn>,
    template: Rc<Template>,
    rate: f64,
    segment: &Segment,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let (start, measure_start, end) = segment.schedule();
    let total = ((segment.warmup + segment.duration).as_secs_f64() * rate).round() as u64;
    let interval_ns = 1e9 / rate;
    let (sender, receiver) = unbounded_channel();
    let pacer = std::thread::Builder::new()
        .name("loadgen-pacer".into())
        .spawn(move || pace(&sender, start, measure_start, total, interval_ns))?;

    let queue: Queue = Rc::new(Mutex::new(receiver));
    let recorder = Rc::new(RefCell::new(Recorder::new()?));
    let mut workers = JoinSet::new();
    for conn in conns {
        let worker = worker(
            conn,
            Rc::clone(&queue),
            Rc::clone(&template),
            Rc::clone(&recorder),
            measure_start,
        );
        workers.spawn_local(worker);
    }
    let (conns, cpu_ticks) = collect(workers, segment, measure_start, end).await;
    let (lag, scheduled) = match pacer.join() {
        Ok(result) => result?,
        Err(_) => return Err("the pacer thread panicked".into()),
    };
    // Aborted workers may still hold a reference for a moment: take the contents out.
    let mut recorder = std::mem::replace(&mut *recorder.borrow_mut(), Recorder::new()?);
    // Scheduled requests that never finished (still queued or aborted) count as errors.
    let missing = scheduled.saturating_sub(recorder.ok + recorder.errors);
    for _ in 0..missing {
        recorder.error(&LoadError::Timeout);
    }
    Ok(Outcome {
        recorder,
        conns,
        cpu_ticks,
        lag: Some(lag),
    })
}

/// Sends each scheduled instant at its time; returns the lateness of the measured ones and
/// how many measured instants there were.
fn pace(
    sender: &UnboundedSender<Instant>,
    start: Instant,
    measure_start: Instant,
    total: u64,
    interval_ns: f64,
) -> Result<(Histogram<u64>, u64), hdrhistogram::CreationError> {
    let mut lag: HistogramResult = new_histogram();
    let mut scheduled = 0;
    for i in 0..total {
        let at = start + Duration::from_nanos((i as f64 * interval_ns) as u64);
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
        if at >= measure_start {
            scheduled += 1;
            if let Ok(lag) = lag.as_mut() {
                record(lag, Instant::now().saturating_duration_since(at));
            }
        }
        if sender.send(at).is_err() {
            break;
        }
    }
    Ok((lag?, scheduled))
}

async fn worker(
    mut conn: Conn,
    queue: Queue,
    template: Rc<Template>,
    recorder: Rc<RefCell<Recorder>>,
    measure_start: Instant,
) -> Conn {
    loop {
        let next = queue.lock().await.recv().await;
        let Some(at) = next else {
            return conn;
        };
        let result = conn.send(&template).await;
        let done = Instant::now();
        if at >= measure_start {
            recorder.borrow_mut().finish(at, done, result);
        }
    }
}
