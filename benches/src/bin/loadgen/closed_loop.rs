//! Closed loop: every connection sends its next request as soon as the previous one is
//! answered. Counts the requests sent and answered inside the measured window.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::client::{Conn, Template};
use crate::segment::{Outcome, Segment, collect};
use crate::stats::Recorder;

pub async fn run(
    conns: Vec<Conn>,
    template: Rc<Template>,
    segment: &Segment,
) -> Result<Outcome, Box<dyn std::error::Error>> {
    let (start, measure_start, end) = segment.schedule();
    let recorder = Rc::new(RefCell::new(Recorder::new()?));
    let mut workers = JoinSet::new();
    for conn in conns {
        let worker = worker(
            conn,
            Rc::clone(&template),
            Rc::clone(&recorder),
            (start, measure_start, end),
        );
        workers.spawn_local(worker);
    }
    let (conns, cpu_ticks) = collect(workers, segment, measure_start, end).await;
    let recorder = std::mem::replace(&mut *recorder.borrow_mut(), Recorder::new()?);
    Ok(Outcome {
        recorder,
        conns,
        cpu_ticks,
        lag: None,
    })
}

async fn worker(
    mut conn: Conn,
    template: Rc<Template>,
    recorder: Rc<RefCell<Recorder>>,
    (start, measure_start, end): (Instant, Instant, Instant),
) -> Conn {
    tokio::time::sleep_until(start.into()).await;
    loop {
        let sent = Instant::now();
        if sent >= end {
            return conn;
        }
        let result = conn.send(&template).await;
        let done = Instant::now();
        let failed = result.is_err();
        if sent >= measure_start && done <= end {
            recorder.borrow_mut().finish(sent, done, result);
        }
        if failed {
            // Do not spin on a refusing target.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
