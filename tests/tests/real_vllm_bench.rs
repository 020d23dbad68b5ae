//! `switchyard bench` against two real vLLM CPU instances (tiny random-weight model, started
//! by the project's scripts): every workload through the router, the engines' own counters
//! lined up with the router's, and the tool's TTFT checked against vLLM's own
//! `vllm:time_to_first_token_seconds`.
//!
//! Ignored under a plain `cargo test` because it takes minutes and gigabytes; README's test
//! command (`scripts/test-all.sh`) runs it with `--ignored`. Set `SWITCHYARD_BENCH_ARTIFACTS`
//! to a folder to keep the results, HTML report and PNG charts of the routed run.

use switchyard_tests::vllm_fleet::{Fleet, SERVED, vllm_router_config};
use switchyard_tests::*;

/// How far the tool's mean TTFT may sit above vLLM's. vLLM starts its clock when the request
/// reaches the engine, after its Python HTTP server has parsed it and tokenised the prompt,
/// and stops it before detokenising and sending the first chunk; the tool's clock covers all
/// of that, as a user's does. Measured on this 2-core CPU machine: +15 to +25 ms over a
/// 20 ms engine TTFT. The tool never reads lower than the engine (beyond clock granularity).
const TTFT_TOLERANCE_MS: f64 = 40.0;
const TTFT_TOLERANCE_FRACTION: f64 = 0.5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the vLLM venv (scripts/vllm/install.sh); run by scripts/test-all.sh"]
async fn bench_on_real_vllm() {
    let fleet = Fleet::start(2);
    let urls = fleet.urls.clone();

    // 1. Direct to one engine: the tool's TTFT against vLLM's own histogram.
    let direct = run_bench(&format!(
        "--url {} --model {SERVED} --no-progress --concurrency 1 --requests 12 \
         --warmup-requests 2 --input-len 64 --output-len 16 --ignore-eos --scrape e0={}/metrics",
        urls[0], urls[0]
    ))
    .await;
    let s = &direct.overall;
    assert_eq!(
        (s.requests_ok, s.requests_failed),
        (12, 0),
        "{:?}",
        s.errors
    );
    assert_eq!(
        s.output_tokens,
        12 * 16,
        "ignore_eos gives exactly max_tokens"
    );
    let engine = &direct.endpoints[0];
    assert_eq!(engine.engine_requests, Some(12.0), "warm-up excluded");
    let tool_ttft = s.ttft_ms.as_ref().unwrap().mean;
    let engine_ttft = engine.engine_ttft_mean_ms.unwrap();
    let gap = tool_ttft - engine_ttft;
    eprintln!("TTFT mean: tool {tool_ttft:.2} ms, vLLM {engine_ttft:.2} ms, gap {gap:+.2} ms");
    let allowed = TTFT_TOLERANCE_MS.max(TTFT_TOLERANCE_FRACTION * engine_ttft);
    assert!(
        gap > -2.0 && gap < allowed,
        "tool TTFT {tool_ttft:.2} ms vs vLLM {engine_ttft:.2} ms: gap {gap:+.2} outside [-2, {allowed:.1}]"
    );

    // 2. Through the router: every workload, with the engines' view per endpoint.
    let router = start_router(&vllm_router_config(&urls)).await;
    let url = router_url(&router);
    let scrape = format!(
        "--scrape ep0={}/metrics --scrape ep1={}/metrics",
        urls[0], urls[1]
    );
    let common = format!("--url {url} --model {SERVED} --no-progress {scrape}");

    let shared = run_bench(&format!(
        "{common} --workload shared-prefix --groups 2 --users 4 --prefix-len 160 --suffix-len 8 \
         --concurrency 4 --requests 24 --output-len 8 --ignore-eos --scrape-interval 200ms \
         --slo ttft=5s"
    ))
    .await;
    assert_eq!(
        shared.overall.requests_ok, 24,
        "{:?}",
        shared.overall.errors
    );
    let cached = shared.overall.cache_hit_rate.unwrap_or(0.0);
    assert!(
        cached > 0.3,
        "shared 160-token prefixes: vLLM reported {cached} cached"
    );
    let mut routed = 0;
    for e in &shared.endpoints {
        assert_eq!(
            Some(e.routed_requests as f64),
            e.engine_requests,
            "{}: the router's count vs vLLM's",
            e.name
        );
        routed += e.routed_requests;
    }
    assert_eq!(routed, 24);
    let hits: f64 = shared
        .endpoints
        .iter()
        .filter_map(|e| e.prefix_cache_hits)
        .sum();
    assert!(
        hits > 0.0,
        "vLLM's own prefix-cache counters saw the shared prefixes"
    );

    let multi = run_bench(&format!(
        "{common} --workload multi-turn --turns 3 --input-len 32 --output-len 8 --concurrency 2 --requests 9"
    ))
    .await;
    assert_eq!(multi.overall.requests_ok, 9, "{:?}", multi.overall.errors);

    let dir = tempfile::tempdir().unwrap();
    let dataset = dir.path().join("chats.jsonl");
    std::fs::write(
        &dataset,
        r#"{"conversations":[{"from":"human","value":"Where do freight cars wait?"},{"from":"gpt","value":"On the classification tracks."},{"from":"human","value":"Who moves them?"},{"from":"gpt","value":"A switcher."}]}"#,
    )
    .unwrap();
    let from_file = run_bench(&format!(
        "{common} --workload dataset --dataset {} --requests 4",
        dataset.display()
    ))
    .await;
    assert_eq!(
        from_file.overall.requests_ok, 4,
        "{:?}",
        from_file.overall.errors
    );

    let open = run_bench(&format!(
        "{common} --rate 2,4 --arrivals poisson --duration 3s --input-len 64 --output-len 16 \
         --ignore-eos --api completions --scrape-interval 250ms"
    ))
    .await;
    assert_eq!(open.stages.len(), 2);
    assert_eq!(open.overall.requests_failed, 0, "{:?}", open.overall.errors);
    assert!(open.overall.requests_ok >= 8);
    assert!(
        open.endpoints.iter().any(|e| !e.load.is_empty()),
        "running requests were sampled during the run"
    );

    // The report of the routed open-loop run.
    let keep = std::env::var_os("SWITCHYARD_BENCH_ARTIFACTS").map(std::path::PathBuf::from);
    let out = keep.clone().unwrap_or_else(|| dir.path().to_path_buf());
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("vllm-routed.json"),
        serde_json::to_vec_pretty(&open).unwrap(),
    )
    .unwrap();
    switchyard_bench::report::write_html(&open, &out.join("vllm-routed.html")).unwrap();
    let pngs = switchyard_bench::report::write_pngs(&open, &out.join("vllm-routed-png")).unwrap();
    assert!(
        pngs.iter().any(|p| p.ends_with("endpoint_load.png")),
        "{pngs:?}"
    );
    for png in &pngs {
        assert!(std::fs::read(png).unwrap().starts_with(b"\x89PNG"));
    }
    router.shutdown().await;
    drop(fleet);
}
