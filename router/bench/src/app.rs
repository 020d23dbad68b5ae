//! `switchyard bench`: set up, run, report.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use switchyard_backends::{HttpClient, HttpClientConfig, build_http_client};

use crate::ab::{self, AbRun};
use crate::cli::{BenchCommand, BenchSubcommand, RunArgs, WorkloadKind};
use crate::progress::Progress;
use crate::results::{BenchResults, RunConfig};
use crate::run::session::SessionPool;
use crate::run::{RunSpec, measure, warm_up};
use crate::scrape::Scraper;
use crate::target::{OpenAiTarget, OpenAiTargetConfig, PinnedTarget, Target};
use crate::workload::shared_prefix::SharedPrefixSpec;
use crate::workload::{Dataset, LengthDist, SharedPrefix, Synthetic, Workload};
use crate::{assemble, compare, http_get, report, terminal};

pub fn main(command: BenchCommand) -> ExitCode {
    let result = match command.command {
        Some(BenchSubcommand::Compare { a, b }) => compare_files(&a, &b),
        Some(BenchSubcommand::Report {
            results,
            html,
            png_dir,
        }) => compare::load(&results)
            .map_err(|e| e.to_string())
            .and_then(|r| write_reports(&r, html.as_deref(), png_dir.as_deref())),
        None => run_command(&command.run),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("switchyard bench: {message}");
            ExitCode::FAILURE
        }
    }
}

fn compare_files(a: &Path, b: &Path) -> Result<(), String> {
    let ra = compare::load(a).map_err(|e| e.to_string())?;
    let rb = compare::load(b).map_err(|e| e.to_string())?;
    let name = |p: &Path| {
        p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    print!(
        "{}",
        compare::render(
            &ra,
            &rb,
            &format!("A {}", name(a)),
            &format!("B {}", name(b))
        )
    );
    Ok(())
}

fn write_reports(
    results: &BenchResults,
    html: Option<&Path>,
    png_dir: Option<&Path>,
) -> Result<(), String> {
    if let Some(path) = html {
        report::write_html(results, path).map_err(|e| e.to_string())?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(dir) = png_dir {
        let files = report::write_pngs(results, dir).map_err(|e| e.to_string())?;
        eprintln!("wrote {} charts into {}", files.len(), dir.display());
    }
    Ok(())
}

fn run_command(args: &RunArgs) -> Result<(), String> {
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let results = runtime.block_on(run(args))?;
    print!("{}", terminal::render(&results));
    if let Some(path) = &args.out {
        let json = serde_json::to_vec_pretty(&results).map_err(|e| e.to_string())?;
        std::fs::write(path, json).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    write_reports(&results, args.html.as_deref(), args.png_dir.as_deref())?;
    if results.overall.requests_ok == 0 {
        return Err("no request succeeded".into());
    }
    Ok(())
}

pub fn workload(args: &RunArgs) -> Result<Box<dyn Workload>, String> {
    let output = args.output_len.unwrap_or(LengthDist::Fixed(64));
    Ok(match args.workload {
        WorkloadKind::Synthetic => Box::new(Synthetic::new(args.input_len, output, 1, args.seed)),
        WorkloadKind::MultiTurn => Box::new(Synthetic::new(
            args.input_len,
            output,
            args.turns.max(1),
            args.seed,
        )),
        WorkloadKind::SharedPrefix => Box::new(SharedPrefix::new(
            &SharedPrefixSpec {
                groups: args.groups,
                users: args.users,
                prefix_len: args.prefix_len,
                suffix: args.suffix_len,
                output,
                skew: args.skew,
                unique_questions: args.unique_questions,
            },
            args.seed,
        )?),
        WorkloadKind::Dataset => {
            let path = args
                .dataset
                .as_deref()
                .ok_or("--workload dataset needs --dataset FILE")?;
            Box::new(
                Dataset::load(path, args.output_len, args.max_output, args.seed)
                    .map_err(|e| e.to_string())?,
            )
        }
    })
}

/// First Ctrl-C: stop sending, let in-flight requests finish, report what was measured.
/// Second: exit at once.
fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nstopping: waiting for requests in flight (Ctrl-C again to quit now)");
            flag.store(true, Ordering::Relaxed);
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    stop
}

async fn discover_model(client: &HttpClient, url: &str) -> Result<String, String> {
    let base = url.trim_end_matches('/');
    let base = base.strip_suffix("/v1").unwrap_or(base);
    let body = http_get::get(
        client,
        &format!("{base}/v1/models"),
        Duration::from_secs(10),
    )
    .await
    .map_err(|e| format!("GET {base}/v1/models failed ({e}); give --model"))?;
    let models: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|_| format!("{base}/v1/models did not answer a model list; give --model"))?;
    models["data"][0]["id"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{base}/v1/models lists no model; give --model"))
}

fn target(
    client: &HttpClient,
    args: &RunArgs,
    url: &str,
    model: &str,
) -> Result<Arc<dyn Target>, String> {
    let api_key = match &args.api_key_env {
        Some(var) => {
            Some(std::env::var(var).map_err(|_| format!("--api-key-env: ${var} is not set"))?)
        }
        None => None,
    };
    Ok(Arc::new(OpenAiTarget::new(
        client.clone(),
        OpenAiTargetConfig {
            url: url.to_string(),
            model: model.to_string(),
            api: args.api,
            stream: args.stream(),
            ignore_eos: args.ignore_eos,
            api_key,
            headers: args.headers()?,
            timeout: args.timeout,
        },
    )?))
}

pub async fn run(args: &RunArgs) -> Result<BenchResults, String> {
    let url = args.url.clone().ok_or("--url is required")?;
    let stages = args.stages()?;
    let slo = args.slo()?;
    let client = build_http_client(&HttpClientConfig::default());
    let urls: Vec<&str> = if args.pin_prefixes {
        url.split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .collect()
    } else {
        vec![url.as_str()]
    };
    let model = match &args.model {
        Some(m) => m.clone(),
        None => discover_model(&client, urls.first().ok_or("--url is empty")?).await?,
    };
    let main_target = if args.pin_prefixes {
        let targets = urls
            .iter()
            .map(|u| target(&client, args, u, &model))
            .collect::<Result<Vec<_>, _>>()?;
        Arc::new(PinnedTarget::new(targets)) as Arc<dyn Target>
    } else {
        target(&client, args, &url, &model)?
    };
    let first_workload = workload(args)?;
    let spec = RunSpec {
        stages: stages.clone(),
        warmup: args.warmup(),
        max_concurrency: args.max_concurrency,
        seed: args.seed,
        stop: stop_on_ctrl_c(),
    };
    let config = RunConfig {
        url: url.clone(),
        model: model.clone(),
        api: args.api.name().to_string(),
        stream: args.stream(),
        load: args.describe_load(&stages),
        workload: first_workload.describe(),
        seed: args.seed,
        warmup: spec.warmup.to_string(),
        slo,
    };
    let mut scraper = Scraper::new(client.clone(), args.scrape.clone());
    let started_at = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    let progress = Progress::new(!args.no_progress);
    eprintln!("switchyard bench: {}", main_target.describe());
    let sessions = Arc::new(SessionPool::new(first_workload));
    if args.direct_url.is_none() {
        // The engines' "before" is read after the warm-up, so their deltas are the
        // measured requests only.
        warm_up(&main_target, &sessions, &spec, &progress, "").await;
    }
    if !scraper.is_empty() {
        scraper.before().await?;
    }
    let sampling_origin = std::time::Instant::now();
    let sampler =
        (!scraper.is_empty()).then(|| scraper.sample_during(sampling_origin, args.scrape_interval));
    let (measured, ab_result) = match &args.direct_url {
        None => (
            measure(&main_target, &sessions, &spec, &progress, "").await,
            None,
        ),
        Some(direct_url) => {
            let direct_model = args.direct_model.clone().unwrap_or_else(|| model.clone());
            let direct = target(&client, args, direct_url, &direct_model)?;
            // Every segment gets a fresh workload with the same seed: the same requests.
            let rounds = args.rounds.max(1);
            let pools = (0..2 * rounds)
                .map(|_| workload(args).map(SessionPool::new))
                .collect::<Result<Vec<_>, _>>()?;
            let run = AbRun {
                direct_url: direct_url.clone(),
                router_url: url.clone(),
                rounds: args.rounds,
            };
            let (measured, result) =
                ab::run(&run, direct, main_target, pools, &spec, &config, &progress).await;
            (measured, Some(result))
        }
    };
    if let Some(sampler) = sampler {
        sampler.abort();
    }
    let (mut scraped, warnings) = if scraper.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        scraper.after().await
    };
    for warning in warnings {
        eprintln!("warning: {warning}");
    }
    // Load samples were timed from the sampler's start; shift them onto the report's origin.
    let shift = measured
        .origin()
        .saturating_duration_since(sampling_origin)
        .as_secs_f64();
    for endpoint in &mut scraped {
        for sample in &mut endpoint.load {
            sample[0] -= shift;
        }
    }
    for (kind, example) in &measured.collected.error_examples {
        eprintln!("error {kind}, e.g.: {example}");
    }
    let mut results = assemble::results(config, &stages, &measured, scraped, started_at);
    results.ab = ab_result;
    Ok(results)
}
