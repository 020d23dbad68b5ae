//! The `switchyard` command line: `serve`, `sim`, `config check`, `bench`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{self, Config, LoggingConfig};
use crate::demo;
use crate::observability::logging;
use crate::server::RunningRouter;

#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version,
    about = "Inference router for GPU model servers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the router.
    Serve(ServeArgs),
    /// Run a simulated vLLM engine (OpenAI API, prefix cache, queueing, vLLM metrics).
    Sim(SimArgs),
    /// Work with configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Load-test an OpenAI-compatible server or the router; `bench compare A.json B.json`.
    Bench(Box<switchyard_bench::BenchCommand>),
    /// Serve this GPU node's GPU state (NVML) for routers to poll: `/v1/gpus`, `/metrics`.
    Agent(AgentArgs),
}

#[derive(Debug, Args)]
struct AgentArgs {
    #[arg(long, default_value = "0.0.0.0:9401")]
    listen: SocketAddr,
    /// How often NVML is read.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    interval: std::time::Duration,
    /// `libnvidia-ml.so.1` to load (default: the system loader's search).
    #[arg(long)]
    nvml_library: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// YAML configuration file.
    #[arg(long, short, required_unless_present = "demo", conflicts_with = "demo")]
    config: Option<PathBuf>,
    /// Serve a built-in demo: three simulated engines started in-process
    /// behind one model, `demo-model`.
    #[arg(long)]
    demo: bool,
    /// Listen address for --demo.
    #[arg(long, default_value = "127.0.0.1:8080", requires = "demo")]
    listen: SocketAddr,
}

#[derive(Debug, Args)]
struct SimArgs {
    /// YAML file with simulator settings (see `SimConfig`); flags override it.
    #[arg(long, short)]
    config: Option<PathBuf>,
    #[arg(long, default_value = "127.0.0.1:8001")]
    listen: SocketAddr,
    /// Model name the simulated engine serves.
    #[arg(long)]
    model: Option<String>,
    #[arg(long)]
    seed: Option<u64>,
    /// Answer instantly: no prefill or decode time.
    #[arg(long)]
    zero_delay: bool,
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Parse and validate a configuration file; errors name the field and line.
    Check { file: PathBuf },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Config(ConfigCommand::Check { file }) => check(&file),
        Command::Serve(args) => serve(args),
        Command::Sim(args) => sim(args),
        Command::Bench(command) => switchyard_bench::main(*command),
        Command::Agent(args) => agent(args),
    }
}

fn check(file: &std::path::Path) -> ExitCode {
    match config::load_file(file) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                eprintln!("warning: {}:{warning}", file.display());
            }
            let endpoints: usize = loaded
                .config
                .pools
                .values()
                .map(|p| p.endpoints.len())
                .sum();
            println!(
                "{}: ok ({} models, {} pools, {} endpoints)",
                file.display(),
                loaded.config.models.len(),
                loaded.config.pools.len(),
                endpoints
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `work` on a multi-threaded runtime (one worker per core).
fn run_on_runtime(work: impl std::future::Future<Output = ExitCode>) -> ExitCode {
    match runtime(0) {
        Ok(rt) => rt.block_on(work),
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

fn runtime(workers: usize) -> std::io::Result<tokio::runtime::Runtime> {
    if workers == 1 {
        // One core: a current-thread runtime avoids work-stealing overhead.
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if workers > 1 {
            builder.worker_threads(workers);
        }
        builder.enable_all().build()
    }
}

fn serve(args: ServeArgs) -> ExitCode {
    let config = match &args.config {
        Some(path) => match config::load_file(path) {
            Ok(loaded) => {
                logging::init(&loaded.config.logging);
                for warning in &loaded.warnings {
                    tracing::warn!("{}:{warning}", path.display());
                }
                Some(loaded.config)
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => {
            logging::init(&LoggingConfig::default());
            None
        }
    };
    let workers = config.as_ref().map_or(0, |c| c.server.workers);
    let rt = match runtime(workers) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    rt.block_on(async move {
        match config {
            Some(config) => run_router(&config).await,
            None => run_demo(args.listen).await,
        }
    })
}

async fn run_router(config: &Config) -> ExitCode {
    let router = match RunningRouter::start(config).await {
        Ok(router) => router,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for address in router.addresses() {
        tracing::info!(%address, models = config.models.len(), pools = config.pools.len(), "switchyard listening");
    }
    let token = router.shutdown_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down: draining in-flight requests");
        token.cancel();
    });
    router.wait().await;
    ExitCode::SUCCESS
}

async fn run_demo(listen: SocketAddr) -> ExitCode {
    let demo = match demo::start(listen).await {
        Ok(demo) => demo,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!("{}", demo.banner());
    shutdown_signal().await;
    demo.shutdown().await;
    ExitCode::SUCCESS
}

fn agent(args: AgentArgs) -> ExitCode {
    logging::init(&LoggingConfig::default());
    run_on_runtime(async move {
        let config = crate::agent::AgentConfig {
            listen: args.listen,
            interval: args.interval,
            nvml_library: args.nvml_library,
        };
        match crate::agent::RunningAgent::start(config).await {
            Ok(agent) => {
                tracing::info!(address = %agent.address(), "switchyard agent listening");
                shutdown_signal().await;
                agent.shutdown().await;
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: cannot listen on {}: {e}", args.listen);
                ExitCode::FAILURE
            }
        }
    })
}

fn sim(args: SimArgs) -> ExitCode {
    logging::init(&LoggingConfig::default());
    let mut config = match &args.config {
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| {
                serde_norway::from_str::<switchyard_sim::SimConfig>(&text)
                    .map_err(|e| e.to_string())
            }) {
            Ok(config) => config,
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        },
        None => switchyard_sim::SimConfig::default(),
    };
    if args.zero_delay {
        config = switchyard_sim::SimConfig {
            served_model_name: config.served_model_name.clone(),
            seed: config.seed,
            ..switchyard_sim::SimConfig::zero_delay()
        };
    }
    if let Some(model) = args.model {
        config.served_model_name = model;
    }
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    run_on_runtime(async move {
        tracing::info!(address = %args.listen, model = %config.served_model_name, "simulated engine listening");
        match switchyard_sim::serve_until(config, args.listen, shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

/// Ctrl-C, or SIGTERM on Unix (what orchestrators send).
async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
