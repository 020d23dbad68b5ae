//! The results file: `switchyard-bench/1`. Everything the terminal summary, the HTML report,
//! the PNG charts and `bench compare` show is read from this one structure, so a report can
//! be rebuilt from a saved file. The schema is documented in `router/bench/SCHEMA.md`; a
//! change that removes or renames a field bumps `SCHEMA`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub const SCHEMA: &str = "switchyard-bench/1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchResults {
    /// Always [`SCHEMA`].
    pub schema: String,
    pub tool: ToolInfo,
    /// Wall-clock start, RFC 3339 (UTC).
    pub started_at: String,
    /// The run's settings as given (workload, load shape, SLOs, seed).
    pub config: RunConfig,
    /// One entry per measured stage (one for a plain run, one per rate for a ramp).
    pub stages: Vec<StageResult>,
    /// All measured stages together.
    pub overall: Summary,
    /// Per-second buckets over the measured part of the run (warm-up excluded).
    pub timeline: Vec<TimelineBucket>,
    /// Up to a few thousand requests, evenly sampled, for scatter plots.
    pub samples: Vec<RequestSample>,
    /// The engines' own view, from their `/metrics` before and after (empty unless scraped),
    /// and requests per endpoint as seen by the router's `x-switchyard-endpoint` header.
    pub endpoints: Vec<EndpointResult>,
    /// Present in A/B overhead mode: direct vs through the router, interleaved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ab: Option<AbResult>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunConfig {
    pub url: String,
    pub model: String,
    /// `chat`, `completions` or `embeddings`.
    pub api: String,
    pub stream: bool,
    /// Human description of the load, e.g. `closed loop, 8 users` or `poisson 20/s`.
    pub load: String,
    /// Human description of the workload, e.g. `shared-prefix 4 groups x 8 users`.
    pub workload: String,
    pub seed: u64,
    pub warmup: String,
    pub slo: Slo,
}

/// Service-level objectives for goodput; a request counts as good when it succeeded and
/// meets every objective that is set.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Slo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpot_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e_ms: Option<f64>,
}

impl Slo {
    pub fn is_empty(&self) -> bool {
        self.ttft_ms.is_none() && self.tpot_ms.is_none() && self.e2e_ms.is_none()
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageResult {
    /// e.g. `rate 20/s`, `8 users`.
    pub name: String,
    /// Offered rate in requests per second for open-loop stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offered_rate: Option<f64>,
    /// Concurrent users for closed-loop stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    pub summary: Summary,
}

/// Headline figures for a set of requests.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    /// Measured wall time, seconds (first scheduled send to last completion).
    pub duration_s: f64,
    pub requests_ok: u64,
    pub requests_failed: u64,
    /// Errors by kind: `connect`, `timeout`, `http_429`, `http_5xx`, `stream_error`, ...
    pub errors: BTreeMap<String, u64>,
    /// Successful requests per second.
    pub request_throughput: f64,
    /// Output tokens per second (successful requests).
    pub output_token_throughput: f64,
    /// Prompt tokens per second (successful requests).
    pub input_token_throughput: f64,
    /// Requests per second that met every SLO; `None` when no SLO was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput: Option<f64>,
    /// Share of successful requests that met every SLO.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goodput_fraction: Option<f64>,
    pub prompt_tokens: u64,
    pub output_tokens: u64,
    /// `usage.prompt_tokens_details.cached_tokens`, summed.
    pub cached_tokens: u64,
    /// cached / prompt tokens, over the requests whose server reported cached tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_hit_rate: Option<f64>,
    /// Time to first token, ms (streamed requests).
    pub ttft_ms: Option<Distribution>,
    /// Gaps between consecutive streamed chunks, ms.
    pub itl_ms: Option<Distribution>,
    /// Time per output token after the first: (e2e - ttft) / (output tokens - 1), ms.
    pub tpot_ms: Option<Distribution>,
    /// End-to-end latency, ms, from the scheduled send time in open loop.
    pub e2e_ms: Option<Distribution>,
    /// Open loop: how late the generator sent requests against their schedule, ms. Large
    /// values mean the generator, not the server, was the bottleneck.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_lag_ms: Option<Distribution>,
}

/// A latency distribution from an HDR histogram (microsecond resolution, 3 significant
/// digits), in milliseconds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Distribution {
    pub count: u64,
    pub mean: f64,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    /// `[quantile, value_ms]` pairs from 0 to 1 for CDF charts.
    pub cdf: Vec<[f64; 2]>,
}

/// One second of the measured run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TimelineBucket {
    /// Seconds since the start of measurement (bucket start).
    pub t_s: f64,
    pub completed: u64,
    pub failed: u64,
    pub output_tokens: u64,
    /// Median TTFT of the requests that completed in this second, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_p50_ms: Option<f64>,
    /// Requests in flight at the end of the second.
    pub in_flight: u64,
}

/// One request, for scatter plots.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestSample {
    /// Scheduled send time, seconds since the start of measurement.
    pub t_s: f64,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    pub e2e_ms: f64,
    pub output_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EndpointResult {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_url: Option<String>,
    /// Requests the router reported serving here (`x-switchyard-endpoint`).
    pub routed_requests: u64,
    /// The engine's own count of finished requests during the run
    /// (`vllm:request_success_total` delta).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_requests: Option<f64>,
    /// Prefix-cache token queries and hits during the run (vLLM counters, deltas).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_cache_queries: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_cache_hits: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_cache_hit_rate: Option<f64>,
    /// Mean TTFT by the engine's own histogram (`vllm:time_to_first_token_seconds`), ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine_ttft_mean_ms: Option<f64>,
    /// Running requests sampled during the run: `[t_s, running, waiting]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load: Vec<[f64; 3]>,
}

/// A/B overhead mode: the same workload alternated between the direct target (A) and the
/// router (B) in rounds; `added` figures are medians over rounds of (B - A) within a round.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AbResult {
    pub direct_url: String,
    pub router_url: String,
    pub rounds: usize,
    pub direct: Summary,
    pub router: Summary,
    /// `None` when no round had successes on both sides.
    pub added_e2e_p50_ms: Option<f64>,
    pub added_e2e_p99_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_ttft_p50_ms: Option<f64>,
    /// Router throughput / direct throughput (median over rounds).
    pub throughput_ratio: Option<f64>,
}
