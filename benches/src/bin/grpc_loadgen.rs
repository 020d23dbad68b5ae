//! `grpc-loadgen`: open-loop KServe v2 `ModelInfer` load over gRPC, to
//! measure the latency the router adds in front of Triton.
//!
//! Targets are interleaved in short rounds (one segment per target per round,
//! order reversed every other round) so a noisy shared machine hits all
//! alike. Latency runs from each request's scheduled send time, so a stall
//! counts against whoever caused it. Each target gets one HTTP/2 channel,
//! as tritonclient uses. Prints a table and one JSON line per target.

use std::time::{Duration, Instant};

use clap::Parser;
use hdrhistogram::Histogram;
use switchyard_proto::inference::grpc_inference_service_client::GrpcInferenceServiceClient;
use switchyard_proto::inference::model_infer_request::InferInputTensor;
use switchyard_proto::inference::{InferTensorContents, ModelInferRequest};
use tonic::transport::Channel;

#[derive(Parser, Debug)]
struct Args {
    /// Target as NAME=http://HOST:PORT (a gRPC address); the first is the baseline.
    #[arg(long = "target", required = true)]
    targets: Vec<String>,
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    #[arg(long, default_value_t = 3.0)]
    duration: f64,
    #[arg(long, default_value_t = 0.5)]
    warmup: f64,
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// A model with two FP32 [1,4] inputs INPUT0 and INPUT1 (scripts/triton/models/add_sub).
    #[arg(long, default_value = "add_sub")]
    model: String,
}

fn request(model: &str) -> ModelInferRequest {
    let input = |name: &str, data: Vec<f32>| InferInputTensor {
        name: name.into(),
        datatype: "FP32".into(),
        shape: vec![1, 4],
        contents: Some(InferTensorContents {
            fp32_contents: data,
            ..Default::default()
        }),
        ..Default::default()
    };
    ModelInferRequest {
        model_name: model.into(),
        inputs: vec![
            input("INPUT0", vec![1.0, 2.0, 3.0, 4.0]),
            input("INPUT1", vec![0.5, 0.5, 0.5, 0.5]),
        ],
        ..Default::default()
    }
}

struct Segment {
    latency_us: Histogram<u64>,
    errors: u64,
}

/// One open-loop segment: `warmup` unmeasured, then `duration` measured.
async fn segment(
    client: &GrpcInferenceServiceClient<Channel>,
    args: &Args,
) -> Result<Segment, hdrhistogram::CreationError> {
    let interval = Duration::from_secs_f64(1.0 / args.rate);
    let start = tokio::time::Instant::now();
    let measured_from = start + Duration::from_secs_f64(args.warmup);
    let end = measured_from + Duration::from_secs_f64(args.duration);
    let mut tasks = Vec::new();
    let mut next = start;
    while next < end {
        tokio::time::sleep_until(next).await;
        let scheduled = next;
        let mut client = client.clone();
        let request = request(&args.model);
        tasks.push(tokio::spawn(async move {
            let ok = client.model_infer(request).await.is_ok();
            (scheduled, scheduled.elapsed(), ok)
        }));
        next += interval;
    }
    let mut latency_us = Histogram::new_with_bounds(1, 60_000_000, 3)?;
    let mut errors = 0;
    for task in tasks {
        let Ok((scheduled, latency, ok)) = task.await else {
            errors += 1;
            continue;
        };
        if scheduled < measured_from {
            continue;
        }
        if ok {
            let _ = latency_us.record(latency.as_micros().max(1) as u64);
        } else {
            errors += 1;
        }
    }
    Ok(Segment { latency_us, errors })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let mut targets = Vec::new();
    for target in &args.targets {
        let (name, url) = target
            .split_once('=')
            .ok_or_else(|| format!("expected NAME=URL, got {target}"))?;
        let channel = Channel::from_shared(url.to_owned())?
            .tcp_nodelay(true)
            .connect()
            .await?;
        targets.push((name.to_owned(), GrpcInferenceServiceClient::new(channel)));
    }
    // Per target, per round: p50 and p99 in µs, and errors.
    let mut results: Vec<Vec<(f64, f64, u64)>> = vec![Vec::new(); targets.len()];
    let started = Instant::now();
    for round in 0..args.rounds {
        let mut order: Vec<usize> = (0..targets.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for i in order {
            let s = segment(&targets[i].1, &args).await?;
            results[i].push((
                s.latency_us.value_at_quantile(0.5) as f64,
                s.latency_us.value_at_quantile(0.99) as f64,
                s.errors,
            ));
        }
    }
    eprintln!(
        "grpc-loadgen: {} rounds, {} req/s, {:.1} s each, {:.0} s in all",
        args.rounds,
        args.rate,
        args.duration,
        started.elapsed().as_secs_f64()
    );
    eprintln!(
        "{:<16} {:>10} {:>10} {:>12} {:>12} {:>7}",
        "target", "p50 µs", "p99 µs", "added p50", "added p99", "errors"
    );
    for (i, (name, _)) in targets.iter().enumerate() {
        let p50 = median(results[i].iter().map(|r| r.0).collect());
        let p99 = median(results[i].iter().map(|r| r.1).collect());
        let errors: u64 = results[i].iter().map(|r| r.2).sum();
        // Added latency: the median over rounds of (target - baseline) in the same round.
        let added = |k: fn(&(f64, f64, u64)) -> f64| {
            median(
                results[i]
                    .iter()
                    .zip(&results[0])
                    .map(|(r, b)| k(r) - k(b))
                    .collect(),
            )
        };
        let (added_p50, added_p99) = (added(|r| r.0), added(|r| r.1));
        eprintln!(
            "{name:<16} {p50:>10.0} {p99:>10.0} {added_p50:>12.0} {added_p99:>12.0} {errors:>7}"
        );
        println!(
            "{}",
            serde_json::json!({
                "target": name, "rate": args.rate, "rounds": args.rounds,
                "p50_us": p50, "p99_us": p99,
                "added_p50_us": added_p50, "added_p99_us": added_p99, "errors": errors,
            })
        );
    }
    Ok(())
}
