//! `switchyard bench` flags.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::results::Slo;
use crate::run::{Arrivals, Bound, StageLoad, StagePlan};
use crate::scrape::ScrapeTarget;
use crate::target::Api;
use crate::workload::LengthDist;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BenchCommand {
    #[command(subcommand)]
    pub command: Option<BenchSubcommand>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Subcommand)]
pub enum BenchSubcommand {
    /// Print every headline figure of two results files side by side, with B/A ratios.
    Compare { a: PathBuf, b: PathBuf },
    /// Rebuild the HTML report and PNG charts from a results file.
    Report {
        results: PathBuf,
        #[arg(long)]
        html: Option<PathBuf>,
        #[arg(long)]
        png_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum WorkloadKind {
    /// Random prompts, lengths from --input-len / --output-len.
    Synthetic,
    /// --groups system prompts x --users questions each (KV-cache-aware routing).
    SharedPrefix,
    /// Conversations of --turns turns, each appending to the history.
    MultiTurn,
    /// Conversations from a JSONL file (--dataset), ShareGPT or OpenAI messages.
    Dataset,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Base URL of an OpenAI-compatible server or of the router, e.g. http://127.0.0.1:8000.
    #[arg(long, required = true)]
    pub url: Option<String>,
    /// Model name to ask for; by default the first one `GET /v1/models` lists.
    #[arg(long)]
    pub model: Option<String>,
    #[arg(long, value_enum, default_value = "chat")]
    pub api: Api,
    /// Ask for whole answers instead of streams (no TTFT/ITL then).
    #[arg(long)]
    pub no_stream: bool,
    /// Send vLLM's `ignore_eos` so every answer has exactly `max_tokens` tokens.
    #[arg(long)]
    pub ignore_eos: bool,
    /// Environment variable holding an API key (sent as a bearer token).
    #[arg(long, value_name = "VAR")]
    pub api_key_env: Option<String>,
    /// Extra request header `NAME: VALUE` (repeatable).
    #[arg(long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// Whole-request time limit.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,

    /// Closed loop: concurrent users; a comma list runs one stage per value.
    #[arg(long, value_delimiter = ',', conflicts_with = "rate")]
    pub concurrency: Vec<usize>,
    /// Open loop: requests per second; a comma list is a stepped ramp, one stage per rate.
    #[arg(long, value_delimiter = ',')]
    pub rate: Vec<f64>,
    /// Open-loop arrivals.
    #[arg(long, value_enum, default_value = "poisson")]
    pub arrivals: Arrivals,
    /// Open loop: most requests in flight at once; later arrivals wait, and the wait counts.
    #[arg(long)]
    pub max_concurrency: Option<usize>,
    /// How long each stage sends (default 30s when --requests is not given either).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// How many requests each stage sends.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Warm-up before measuring, with the first stage's load (not counted).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub warmup: Option<Duration>,
    /// Warm-up by request count.
    #[arg(long)]
    pub warmup_requests: Option<u64>,

    #[arg(long, value_enum, default_value = "synthetic")]
    pub workload: WorkloadKind,
    /// Prompt length in tokens: N, uniform:MIN:MAX, normal:MEAN:SD or lognormal:MEDIAN:SIGMA.
    #[arg(long, default_value = "128")]
    pub input_len: LengthDist,
    /// Output length (max_tokens) in tokens, same forms; for --workload dataset it replaces
    /// the reference replies' lengths.
    #[arg(long)]
    pub output_len: Option<LengthDist>,
    /// multi-turn: turns per conversation.
    #[arg(long, default_value_t = 4)]
    pub turns: u32,
    /// shared-prefix: number of system prompts.
    #[arg(long, default_value_t = 8)]
    pub groups: u32,
    /// shared-prefix: users (distinct questions) per system prompt.
    #[arg(long, default_value_t = 16)]
    pub users: u32,
    /// shared-prefix: every request asks a new question (as SGLang's generated-shared-prefix
    /// bench), so only the system prompt can hit the cache; --users is ignored.
    #[arg(long)]
    pub unique_questions: bool,
    /// shared-prefix: system prompt length in tokens.
    #[arg(long, default_value_t = 512)]
    pub prefix_len: u32,
    /// shared-prefix: question length.
    #[arg(long, default_value = "32")]
    pub suffix_len: LengthDist,
    /// shared-prefix: 0 spreads requests evenly over groups; s > 0 weights group g by
    /// 1/(g+1)^s so the first groups dominate.
    #[arg(long, default_value_t = 0.0)]
    pub skew: f64,
    /// dataset: JSONL file of conversations.
    #[arg(long, required_if_eq("workload", "dataset"))]
    pub dataset: Option<PathBuf>,
    /// dataset: cap on each turn's max_tokens.
    #[arg(long, default_value_t = 1024)]
    pub max_output: u32,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Service-level objective for goodput, `ttft=500ms`, `tpot=50ms` or `e2e=10s`
    /// (repeatable or comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub slo: Vec<String>,
    /// An engine's Prometheus endpoint, `[NAME=]URL` (repeatable). Read before and after
    /// the run and sampled during it. Name it as the router names the endpoint to line the
    /// two views up.
    #[arg(long)]
    pub scrape: Vec<ScrapeTarget>,
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub scrape_interval: Duration,

    /// The oracle for prefix routing: --url is a comma list of engines, and each distinct
    /// shared prefix (system prompt) is pinned to one of them, round-robin in order of first
    /// appearance, with no router in between.
    #[arg(long, conflicts_with = "direct_url")]
    pub pin_prefixes: bool,

    /// A/B overhead mode: this URL is the engine direct; --url is the router in front of it.
    #[arg(long)]
    pub direct_url: Option<String>,
    /// Model name to use direct, if the engine serves it under another name.
    #[arg(long, requires = "direct_url")]
    pub direct_model: Option<String>,
    /// A/B rounds (each runs the stages once direct and once through the router).
    #[arg(long, default_value_t = 5, requires = "direct_url")]
    pub rounds: usize,

    /// Write the results (JSON, schema switchyard-bench/1) here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the HTML report here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Write PNG charts into this folder.
    #[arg(long)]
    pub png_dir: Option<PathBuf>,
    /// No live progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// Load generator threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
}

/// Parses run flags as `switchyard bench` takes them (no program name), for embedding and
/// tests.
pub fn parse_run_args<I, T>(args: I) -> Result<RunArgs, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    #[derive(clap::Parser)]
    struct Wrapper {
        #[command(flatten)]
        run: RunArgs,
    }
    let argv =
        std::iter::once(std::ffi::OsString::from("bench")).chain(args.into_iter().map(Into::into));
    <Wrapper as clap::Parser>::try_parse_from(argv).map(|w| w.run)
}

impl RunArgs {
    pub fn stream(&self) -> bool {
        !self.no_stream && self.api != Api::Embeddings
    }

    pub fn stages(&self) -> Result<Vec<StagePlan>, String> {
        let mut bound = Bound {
            duration: self.duration,
            requests: self.requests,
        };
        if bound.is_empty() {
            bound.duration = Some(Duration::from_secs(30));
        }
        if bound.duration.is_some_and(|d| d.is_zero()) || bound.requests == Some(0) {
            return Err("--duration and --requests must be positive".into());
        }
        if !self.rate.is_empty() {
            if let Some(bad) = self.rate.iter().find(|r| !(r.is_finite() && **r > 0.0)) {
                return Err(format!("--rate must be positive, got {bad}"));
            }
            return Ok(self
                .rate
                .iter()
                .map(|&rate| StagePlan {
                    load: StageLoad::Open {
                        rate,
                        arrivals: self.arrivals,
                    },
                    bound,
                })
                .collect());
        }
        let users = if self.concurrency.is_empty() {
            vec![1]
        } else {
            self.concurrency.clone()
        };
        if users.contains(&0) {
            return Err("--concurrency must be at least 1".into());
        }
        Ok(users
            .into_iter()
            .map(|users| StagePlan {
                load: StageLoad::Closed { users },
                bound,
            })
            .collect())
    }

    pub fn warmup(&self) -> Bound {
        Bound {
            duration: self.warmup.filter(|d| !d.is_zero()),
            requests: self.warmup_requests.filter(|&n| n > 0),
        }
    }

    pub fn slo(&self) -> Result<Slo, String> {
        let mut slo = Slo::default();
        for item in &self.slo {
            let (name, value) = item.split_once('=').ok_or_else(|| {
                format!("--slo `{item}`: expected ttft=500ms, tpot=50ms or e2e=10s")
            })?;
            let ms = humantime::parse_duration(value.trim())
                .map_err(|e| format!("--slo `{item}`: {e}"))?
                .as_secs_f64()
                * 1000.0;
            match name.trim() {
                "ttft" => slo.ttft_ms = Some(ms),
                "tpot" => slo.tpot_ms = Some(ms),
                "e2e" => slo.e2e_ms = Some(ms),
                other => {
                    return Err(format!(
                        "--slo: unknown objective `{other}` (ttft, tpot, e2e)"
                    ));
                }
            }
        }
        Ok(slo)
    }

    pub fn headers(&self) -> Result<Vec<(String, String)>, String> {
        self.headers
            .iter()
            .map(|h| {
                h.split_once(':')
                    .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
                    .ok_or_else(|| format!("--header `{h}`: expected `NAME: VALUE`"))
            })
            .collect()
    }

    pub fn describe_load(&self, stages: &[StagePlan]) -> String {
        let loads: Vec<String> = stages.iter().map(|s| s.load.to_string()).collect();
        let kind = if self.rate.is_empty() {
            "closed loop"
        } else {
            "open loop"
        };
        let cap = self
            .max_concurrency
            .filter(|_| !self.rate.is_empty())
            .map(|n| format!(", at most {n} in flight"))
            .unwrap_or_default();
        format!(
            "{kind}: {}{cap}; each stage {}",
            loads.join(" -> "),
            stages
                .first()
                .map(|s| s.bound.to_string())
                .unwrap_or_default()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        bench: BenchCommand,
    }

    fn parse(args: &str) -> Result<BenchCommand, clap::Error> {
        Cli::try_parse_from(std::iter::once("bench").chain(args.split_whitespace()))
            .map(|c| c.bench)
    }

    #[test]
    fn ramps_and_closed_loops_become_stages() {
        let cmd = parse("--url http://h:1 --rate 5,10 --arrivals constant --requests 20").unwrap();
        let stages = cmd.run.stages().unwrap();
        assert_eq!(stages.len(), 2);
        assert_eq!(
            stages[1].load,
            StageLoad::Open {
                rate: 10.0,
                arrivals: Arrivals::Constant
            }
        );
        assert_eq!(stages[0].bound.requests, Some(20));
        let cmd = parse("--url http://h:1").unwrap();
        let stages = cmd.run.stages().unwrap();
        assert_eq!(stages[0].load, StageLoad::Closed { users: 1 });
        assert_eq!(stages[0].bound.duration, Some(Duration::from_secs(30)));
        assert!(parse("--url http://h:1 --rate 5 --concurrency 2").is_err());
        assert!(
            parse("--url http://h:1 --rate 0")
                .unwrap()
                .run
                .stages()
                .is_err()
        );
    }

    #[test]
    fn slos_headers_and_subcommands() {
        let cmd = parse("--url http://h:1 --slo ttft=250ms,e2e=2s --header x-a:b").unwrap();
        let slo = cmd.run.slo().unwrap();
        assert_eq!(
            (slo.ttft_ms, slo.tpot_ms, slo.e2e_ms),
            (Some(250.0), None, Some(2000.0))
        );
        assert_eq!(cmd.run.headers().unwrap(), vec![("x-a".into(), "b".into())]);
        assert!(
            parse("--url http://h:1 --slo latency=1s")
                .unwrap()
                .run
                .slo()
                .is_err()
        );
        let cmd = parse("compare a.json b.json").unwrap();
        assert!(matches!(cmd.command, Some(BenchSubcommand::Compare { .. })));
        assert!(parse("--model m").is_err(), "--url is required for a run");
        assert!(parse("--url http://h:1 --workload dataset").is_err());
    }
}
