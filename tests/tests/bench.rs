//! `switchyard bench` against the simulator (and the router in front of it): every workload
//! and load shape, the engines' view through their metrics, A/B mode, errors, goodput, and
//! the results file round trip with `bench compare`.

use std::time::Duration;

use switchyard_bench::app::run;
use switchyard_bench::cli::parse_run_args;
use switchyard_sim::{Fault, OutputLen, SimConfig, Simulator};
use switchyard_tests::*;

/// A simulator with real (small) timings, exact output lengths and a prefix cache.
async fn timed_sim(seed: u64, max_num_seqs: u32) -> Simulator {
    start_sim(SimConfig {
        seed,
        max_num_seqs,
        prefill_per_token: Duration::from_micros(20),
        decode_per_token: Duration::from_millis(2),
        output_len: OutputLen::Fixed,
        ..SimConfig::default()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_workload_runs_against_the_simulator() {
    let sim = timed_sim(1, 8).await;
    let url = sim.base_url();
    let common = format!("--url {url} --no-progress --concurrency 4 --requests 24 --output-len 6");

    let synthetic = run_bench(&format!("{common} --input-len uniform:20:60")).await;
    let s = &synthetic.overall;
    assert_eq!((s.requests_ok, s.requests_failed), (24, 0));
    assert_eq!(
        s.output_tokens,
        24 * 6,
        "the simulator honours max_tokens exactly"
    );
    assert_eq!(s.ttft_ms.as_ref().unwrap().count, 24);
    assert_eq!(
        s.itl_ms.as_ref().unwrap().count,
        24 * 5,
        "5 gaps per 6-token stream"
    );
    assert!(s.prompt_tokens > 24 * 20, "{}", s.prompt_tokens);

    let shared = run_bench(&format!(
        "{common} --workload shared-prefix --groups 2 --users 3 --prefix-len 256 --suffix-len 8"
    ))
    .await;
    let hit = shared.overall.cache_hit_rate.unwrap();
    assert!(
        hit > 0.5,
        "two 256-token prefixes reused by 24 requests: hit rate {hit}"
    );
    assert!(shared.config.workload.contains("2 groups x 3 users"));

    let multi = run_bench(&format!(
        "{common} --workload multi-turn --turns 4 --input-len 20"
    ))
    .await;
    assert_eq!(multi.overall.requests_ok, 24);
    // Later turns carry the history: more prompt tokens than four single turns would have.
    let single = run_bench(&format!("{common} --input-len 20")).await;
    assert!(
        multi.overall.prompt_tokens > single.overall.prompt_tokens * 3 / 2,
        "multi-turn {} vs single {}",
        multi.overall.prompt_tokens,
        single.overall.prompt_tokens
    );
    assert!(
        multi.overall.cache_hit_rate.unwrap() > 0.2,
        "each turn's prompt starts with the previous turn's"
    );

    let dir = tempfile::tempdir().unwrap();
    let dataset = dir.path().join("chats.jsonl");
    std::fs::write(
        &dataset,
        concat!(
            r#"{"conversations":[{"from":"human","value":"Where do trains sleep?"},{"from":"gpt","value":"In the yard, mostly."},{"from":"human","value":"And the engines?"},{"from":"gpt","value":"In the shed."}]}"#,
            "\n",
            r#"{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is a switch?"},{"role":"assistant","content":"A movable rail section."}]}"#,
            "\n"
        ),
    )
    .unwrap();
    let from_file = run_bench(&format!(
        "--url {url} --no-progress --requests 9 --workload dataset --dataset {}",
        dataset.display()
    ))
    .await;
    assert_eq!(from_file.overall.requests_ok, 9);
    assert!(
        from_file
            .config
            .workload
            .contains("2 conversations, 3 user turns")
    );

    for api in ["completions", "embeddings"] {
        let r = run_bench(&format!(
            "--url {url} --no-progress --requests 6 --api {api} --input-len 16"
        ))
        .await;
        assert_eq!(r.overall.requests_ok, 6, "{api}");
        assert!(r.overall.prompt_tokens >= 6 * 16, "{api}");
    }
    let whole = run_bench(&format!("{common} --no-stream")).await;
    assert!(whole.overall.ttft_ms.is_none() && whole.overall.e2e_ms.is_some());
    assert_eq!(whole.overall.output_tokens, 24 * 6);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_keeps_its_schedule_and_charges_queueing_to_the_server() {
    // One request at a time, ~40 ms each: 20 requests arriving over 0.4 s must queue.
    let sim = timed_sim(2, 1).await;
    let url = sim.base_url();
    let r = run_bench(&format!(
        "--url {url} --no-progress --rate 50 --arrivals constant --requests 20 --output-len 20 --ignore-eos"
    ))
    .await;
    let s = &r.overall;
    assert_eq!(s.requests_ok, 20);
    let e2e = s.e2e_ms.as_ref().unwrap();
    // Measured from the schedule, the last request waited for the 19 before it.
    assert!(
        e2e.max > 10.0 * e2e.min,
        "queueing must show in latency: min {} max {}",
        e2e.min,
        e2e.max
    );
    let lag = s.send_lag_ms.as_ref().unwrap();
    assert!(lag.p50 < 50.0, "the generator sent on schedule: {lag:?}");

    let ramp = run_bench(&format!(
        "--url {url} --no-progress --rate 20,40 --duration 500ms --output-len 1"
    ))
    .await;
    assert_eq!(ramp.stages.len(), 2);
    assert_eq!(ramp.stages[1].offered_rate, Some(40.0));
    let sent: u64 = ramp.stages.iter().map(|s| s.summary.requests_ok).sum();
    assert_eq!(sent, ramp.overall.requests_ok);
    assert!(
        ramp.stages[1].summary.requests_ok > ramp.stages[0].summary.requests_ok,
        "the second stage offers twice the rate"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routed_run_reports_each_engines_own_view_and_ab_overhead() {
    let sims = vec![timed_sim(3, 8).await, timed_sim(4, 8).await];
    let urls: Vec<String> = sims.iter().map(Simulator::base_url).collect();
    let router = start_router(&router_yaml("least_connections", &urls, "", "")).await;
    let router_url = router_url(&router);

    let r = run_bench(&format!(
        "--url {router_url} --no-progress --concurrency 6 --requests 60 --output-len 4 \
         --warmup-requests 6 --scrape ep0={}/metrics --scrape ep1={}/metrics \
         --scrape-interval 50ms --slo ttft=10s,e2e=10s",
        urls[0], urls[1]
    ))
    .await;
    assert_eq!(r.overall.requests_ok, 60);
    assert_eq!(r.endpoints.len(), 2);
    for e in &r.endpoints {
        // The router's header and the engine's own counter agree, warm-up excluded.
        assert_eq!(
            Some(e.routed_requests as f64),
            e.engine_requests,
            "{}: routed vs vllm:request_success_total",
            e.name
        );
        assert!(e.routed_requests > 10, "least connections spreads: {e:?}");
        assert!(e.engine_ttft_mean_ms.is_some());
    }
    assert_eq!(
        r.endpoints.iter().map(|e| e.routed_requests).sum::<u64>(),
        60
    );
    assert_eq!(r.overall.goodput_fraction, Some(1.0));

    let ab = run_bench(&format!(
        "--url {router_url} --direct-url {} --rounds 3 --no-progress --concurrency 2 \
         --requests 10 --output-len 4 --ignore-eos",
        urls[0]
    ))
    .await;
    let result = ab.ab.expect("A/B section");
    assert_eq!(result.rounds, 3);
    assert_eq!(result.direct.requests_ok, 30);
    assert_eq!(result.router.requests_ok, 30);
    assert_eq!(
        ab.overall.requests_ok, 30,
        "the main figures are the router's"
    );
    let ratio = result.throughput_ratio.unwrap();
    assert!(ratio > 0.2 && ratio < 5.0, "{ratio}");
    assert!(result.added_e2e_p50_ms.is_some());
    router.shutdown().await;
    for sim in sims {
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_counted_by_kind_and_goodput_follows_the_slo() {
    let sim = timed_sim(5, 8).await;
    let url = sim.base_url();
    sim.set_fault(Fault::FailFraction {
        fraction: 0.5,
        status: 503,
    });
    let r = run_bench(&format!(
        "--url {url} --no-progress --concurrency 4 --requests 80 --output-len 2 --slo ttft=1us"
    ))
    .await;
    let s = &r.overall;
    assert_eq!(s.requests_ok + s.requests_failed, 80);
    let failed = s.errors.get("http_503").copied().unwrap_or(0);
    assert_eq!(failed, s.requests_failed);
    assert!((20..=60).contains(&failed), "about half fail: {failed}");
    assert_eq!(s.goodput_fraction, Some(0.0), "no request answers in 1 us");
    sim.clear_fault();

    let dead = unused_url();
    let args = parse_run_args(
        format!("--url {dead} --model m --no-progress --requests 3 --timeout 2s")
            .split_whitespace(),
    )
    .unwrap();
    let r = run(&args)
        .await
        .expect("a dead target is reported, not a crash");
    assert_eq!(r.overall.requests_failed, 3);
    assert_eq!(r.overall.errors.get("connect"), Some(&3));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_files_round_trip_and_compare() {
    let sim = timed_sim(6, 8).await;
    let url = sim.base_url();
    let a = run_bench(&format!(
        "--url {url} --no-progress --concurrency 1 --requests 10 --output-len 4"
    ))
    .await;
    let b = run_bench(&format!(
        "--url {url} --no-progress --concurrency 4 --requests 20 --output-len 4"
    ))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (dir.path().join("a.json"), dir.path().join("b.json"));
    std::fs::write(&pa, serde_json::to_vec(&a).unwrap()).unwrap();
    std::fs::write(&pb, serde_json::to_vec(&b).unwrap()).unwrap();
    let ra = switchyard_bench::compare::load(&pa).unwrap();
    let rb = switchyard_bench::compare::load(&pb).unwrap();
    assert_eq!(ra.schema, "switchyard-bench/1");
    assert_eq!(rb.overall.requests_ok, 20);
    let table = switchyard_bench::compare::render(&ra, &rb, "A", "B");
    assert!(table.contains("request throughput (req/s)"), "{table}");
    assert!(table.contains("TTFT p99 (ms)"), "{table}");
    assert!(table.contains("2.000"), "requests ok 20 / 10: {table}");

    let mut wrong = serde_json::to_value(&a).unwrap();
    wrong["schema"] = "switchyard-bench/99".into();
    let pw = dir.path().join("w.json");
    std::fs::write(&pw, wrong.to_string()).unwrap();
    let err = switchyard_bench::compare::load(&pw)
        .unwrap_err()
        .to_string();
    assert!(err.contains("switchyard-bench/99"), "{err}");

    let html = dir.path().join("report.html");
    switchyard_bench::report::write_html(&b, &html).unwrap();
    let text = std::fs::read_to_string(&html).unwrap();
    assert!(text.contains("<svg"), "charts are inline SVG");
    let pngs = switchyard_bench::report::write_pngs(&b, &dir.path().join("png")).unwrap();
    assert!(pngs.len() >= 3, "{pngs:?}");
    for png in pngs {
        let bytes = std::fs::read(&png).unwrap();
        assert!(bytes.starts_with(b"\x89PNG"), "{}", png.display());
        assert!(bytes.len() > 5_000, "{} is nearly empty", png.display());
    }
    sim.shutdown().await;
}
