//! `loadgen`: open-loop, closed-loop and streaming load for the router benches.
//!
//! One current-thread runtime (plus a pacer thread in open loop), hyper 1 HTTP/1.1 client
//! connections kept alive with TCP_NODELAY, HDR histograms. Targets are interleaved in short
//! rounds (see `cli::Args`); results are medians across rounds. Prints one JSON line on
//! stdout and a human summary on stderr.

mod cli;
mod client;
mod closed_loop;
mod open_loop;
mod procfs;
mod report;
mod segment;
mod stats;

use std::rc::Rc;
use std::time::Duration;

use clap::Parser;
use serde::Serialize;

use crate::cli::{Args, Mode};
use crate::client::{Conn, Template};
use crate::report::{TargetResult, TargetRuns, print_summary};
use crate::segment::Segment;
use crate::stats::{Summary, new_histogram};

#[derive(Serialize)]
struct Report {
    generator: &'static str,
    mode: Mode,
    rate: Option<f64>,
    stream: bool,
    path: String,
    connections: usize,
    duration_s: f64,
    warmup_s: f64,
    rounds: usize,
    interleaving: &'static str,
    baseline: String,
    /// Open loop: how late the pacer released requests relative to their schedule.
    pacer_lag_us: Option<Summary>,
    targets: Vec<TargetResult>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    args.validate()?;
    procfs::tighten_timer_slack();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let report = local.block_on(&runtime, run(&args))?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

async fn run(args: &Args) -> Result<Report, Box<dyn std::error::Error>> {
    let body = args.request_body();
    let mut pools = Vec::new();
    let mut runs = Vec::new();
    for target in &args.targets {
        let template = Template::new(&args.path, target.host.clone(), body.clone())?;
        let conns: Vec<Conn> = (0..args.connections)
            .map(|_| Conn::new(target.addr))
            .collect();
        pools.push((Rc::new(template), conns));
        runs.push(TargetRuns::new(&target.name, &target.url)?);
    }
    let mut lag = new_histogram()?;
    for round in 0..args.rounds {
        let mut order: Vec<usize> = (0..args.targets.len()).collect();
        if !round.is_multiple_of(2) {
            order.reverse();
        }
        for index in order {
            let target = &args.targets[index];
            let segment = Segment {
                warmup: Duration::from_secs_f64(args.warmup),
                duration: Duration::from_secs_f64(args.duration),
                grace: Duration::from_secs_f64(args.grace),
                pid: args.pid_of(&target.name),
            };
            let (template, pool) = &mut pools[index];
            let conns = std::mem::take(pool);
            let outcome = match args.mode {
                Mode::Open => {
                    open_loop::run(conns, Rc::clone(template), args.rate, &segment).await?
                }
                Mode::Closed => closed_loop::run(conns, Rc::clone(template), &segment).await?,
            };
            *pool = outcome.conns;
            // Connections of aborted workers are gone: open new ones.
            while pool.len() < args.connections {
                pool.push(Conn::new(target.addr));
            }
            if let Some(segment_lag) = &outcome.lag {
                let _ = lag.add(segment_lag);
            }
            runs[index].add(
                &outcome.recorder,
                outcome.cpu_ticks,
                args.duration,
                args.clk_tck,
            );
        }
    }

    let baseline_name = args
        .baseline
        .clone()
        .unwrap_or_else(|| args.targets[0].name.clone());
    let baseline = runs.iter().find(|r| r.name == baseline_name);
    let targets: Vec<TargetResult> = runs
        .iter()
        .map(|r| {
            let pid = args.pid_of(&r.name);
            let base = baseline.filter(|b| b.name != r.name);
            let rss = pid.and_then(procfs::rss_kib);
            r.finish(base, args.clk_tck, rss, pid.is_some())
        })
        .collect();
    print_summary(&targets, args.stream);
    let pacer_lag_us = Summary::of(&lag);
    if let Some(lag) = &pacer_lag_us {
        eprintln!(
            "pacer lag us: p50 {:.1} p99 {:.1} max {:.1}",
            lag.p50, lag.p99, lag.max
        );
    }
    Ok(Report {
        generator: "loadgen",
        mode: args.mode,
        rate: (args.mode == Mode::Open).then_some(args.rate),
        stream: args.stream,
        path: args.path.clone(),
        connections: args.connections,
        duration_s: args.duration,
        warmup_s: args.warmup,
        rounds: args.rounds,
        interleaving: "targets alternate per segment within each round, order reversed every other round; medians across rounds",
        baseline: baseline_name,
        pacer_lag_us,
        targets,
    })
}
