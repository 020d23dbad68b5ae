use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::gpu_types::{EndpointGpusConfig, GpuTelemetryConfig};
use super::model_types::ModelConfig;
use super::spill_types::ProviderConfig;

/// Top-level configuration. Every section but `pools` and `models` has
/// defaults, so a minimal file names only its endpoints.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default = "default_listeners")]
    pub listeners: Vec<ListenerConfig>,
    #[serde(default)]
    pub logging: LoggingConfig,
    #[serde(default)]
    pub timeouts: TimeoutsConfig,
    #[serde(default)]
    pub health: HealthConfig,
    #[serde(default)]
    pub retries: RetryConfig,
    #[serde(default)]
    pub scrape: ScrapeConfig,
    #[serde(default)]
    pub gpu_telemetry: GpuTelemetryConfig,
    /// External APIs that models may spill over to, by name.
    #[serde(default)]
    pub providers: BTreeMap<String, ProviderConfig>,
    pub pools: BTreeMap<String, PoolConfig>,
    pub models: BTreeMap<String, ModelConfig>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Tokio worker threads; 0 means one per core. With 1 the router runs on
    /// a single-threaded runtime, the cheapest way to use one core.
    pub workers: usize,
    /// Busy polling: while requests arrive, each worker polls its sockets in a loop
    /// instead of sleeping, and stops after this long with no new request (HAProxy's
    /// `busy-polling`). Waking a sleeping worker costs a cross-core interrupt and, on a
    /// VM, an idle vCPU's exit from halt: tens of microseconds, twice per request. Spends
    /// a core per worker at 100% under traffic; for a router on cores of its own. Off
    /// when absent or zero.
    #[serde(with = "humantime_serde")]
    pub busy_poll: Option<Duration>,
    /// Largest request body accepted (bytes); larger bodies get 413.
    pub max_body_bytes: usize,
    /// Adds `x-switchyard-endpoint` to responses, naming the endpoint that
    /// served the request.
    pub expose_endpoint_header: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            workers: 0,
            busy_poll: None,
            max_body_bytes: 32 * 1024 * 1024,
            expose_endpoint_header: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerConfig {
    pub address: SocketAddr,
    #[serde(default)]
    pub protocol: ListenerProtocol,
}

fn default_listeners() -> Vec<ListenerConfig> {
    vec![ListenerConfig {
        address: SocketAddr::from(([0, 0, 0, 0], 8080)),
        protocol: ListenerProtocol::All,
    }]
}

/// The front ends a listener serves. Their paths and gRPC services do not
/// overlap, so one port can serve them all; a dedicated listener keeps a
/// protocol's clients to its own port. `/health`, `/ready` and `/metrics`
/// are served on every listener.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ListenerProtocol {
    /// Every front end below.
    #[default]
    All,
    /// OpenAI-compatible HTTP API (`/v1/...`).
    OpenAi,
    /// KServe v2 / Triton: HTTP `/v2/...` and gRPC `inference.GRPCInferenceService`.
    Kserve,
    /// TorchServe: HTTP `/ping`, `/predictions/...` and gRPC
    /// `org.pytorch.serve.grpc.inference.InferenceAPIsService`.
    TorchServe,
}

impl ListenerProtocol {
    pub fn serves(self, front: ListenerProtocol) -> bool {
        self == ListenerProtocol::All || self == front
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoggingConfig {
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `switchyard=debug,info`;
    /// the `RUST_LOG` environment variable overrides it.
    pub level: String,
    /// One info line per request (costs throughput at high rates).
    pub access_log: bool,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
            access_log: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TimeoutsConfig {
    /// TCP (and TLS) connect to an endpoint.
    #[serde(with = "humantime_serde")]
    pub connect: Duration,
    /// From sending the request to receiving the response head. For a
    /// streamed completion that is the engine accepting it; for a
    /// non-streamed one, the whole generation.
    #[serde(with = "humantime_serde")]
    pub first_byte: Duration,
    /// The whole exchange, including streaming the body.
    #[serde(with = "humantime_serde")]
    pub total: Duration,
}

impl Default for TimeoutsConfig {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(2),
            first_byte: Duration::from_secs(300),
            total: Duration::from_secs(900),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    pub active: ActiveHealthConfig,
    pub passive: PassiveHealthConfig,
}

/// Periodic probes of each endpoint's health path.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ActiveHealthConfig {
    pub enabled: bool,
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Consecutive failed probes before an endpoint is ejected.
    pub unhealthy_threshold: u32,
    /// Consecutive good probes before an ejected endpoint is readmitted.
    pub healthy_threshold: u32,
}

impl Default for ActiveHealthConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(5),
            timeout: Duration::from_secs(2),
            unhealthy_threshold: 2,
            healthy_threshold: 2,
        }
    }
}

/// Circuit breaker fed by real traffic: connect errors, timeouts and 5xx.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PassiveHealthConfig {
    pub enabled: bool,
    /// Consecutive failures that open the breaker (eject the endpoint).
    pub consecutive_failures: u32,
    /// First ejection length; each further ejection without a success in
    /// between doubles it, up to `max_ejection`.
    #[serde(with = "humantime_serde")]
    pub base_ejection: Duration,
    #[serde(with = "humantime_serde")]
    pub max_ejection: Duration,
}

impl Default for PassiveHealthConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            consecutive_failures: 3,
            base_ejection: Duration::from_secs(2),
            max_ejection: Duration::from_secs(60),
        }
    }
}

/// Retries of failures that happen before any byte reached the client.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Attempts in all, the first included (1 disables retries).
    pub max_attempts: u32,
    #[serde(with = "humantime_serde")]
    pub backoff_base: Duration,
    #[serde(with = "humantime_serde")]
    pub backoff_max: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            backoff_base: Duration::from_millis(20),
            backoff_max: Duration::from_millis(500),
        }
    }
}

/// Background scrape of each engine's own metrics.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScrapeConfig {
    pub enabled: bool,
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// A reading older than this is treated as unknown by policies.
    #[serde(with = "humantime_serde")]
    pub stale_after: Duration,
}

impl Default for ScrapeConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            stale_after: Duration::from_secs(3),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PoolConfig {
    #[serde(default)]
    pub policy: PolicyKind,
    pub endpoints: Vec<EndpointConfig>,
    /// Overrides the global `timeouts` for this pool.
    #[serde(default)]
    pub timeouts: Option<TimeoutsConfig>,
    /// Requests an endpoint may have in flight through this router; when
    /// every endpoint is at its limit new requests get 429.
    #[serde(default)]
    pub max_in_flight_per_endpoint: Option<u32>,
    /// Settings of the `cache_aware` policy (ignored by the others).
    #[serde(default)]
    pub cache_aware: CacheAwareConfig,
}

/// `cache_aware`: send a request where its prompt prefix is likely cached, unless that
/// endpoint is much busier than the least busy one. Each candidate endpoint `e` costs
///
/// `cost(e) = uncached(e) + pending_prefill_weight * pending_prefill(e)
///            + load_cost * (load(e) + kv_penalty(e) + share_excess(e))`
///
/// where `uncached` is the prompt's length minus the leading blocks the index says `e` holds
/// (in bytes, or in tokens when a `tokenizer` is set; `load_cost` is `load_cost_bytes` or
/// `load_cost_tokens` to match), `load` is the router's in-flight requests plus the engine's
/// waiting queue, and `kv_penalty` is 2 when the engine's KV-cache usage is above
/// `kv_usage_high`. `pending_prefill` is the uncached prompt of the requests this router sent
/// `e` that have not had their first byte yet (the prefill work queued ahead of this one).
/// `share_excess` is `e`'s recent share of decisions (below) less the smallest candidate's,
/// counted where `e` neither holds nor remembers the prefix (a group never seen, or a
/// request its holders' guards turn away, goes where traffic is lightest), and with
/// `balance_holders` also on every holder of a prefix that two or more endpoints hold (the
/// group goes to the one with the least recent traffic). A sole holder never pays it, so no
/// request is drawn away from the only cache holding its prefix by it. Two
/// guards keep the policy from making hot spots; an endpoint is a candidate only when
/// - its load is at most `max(min_load + balance_abs, min_load * balance_rel)`, and
/// - its share of recent decisions (decayed with a half-life of `recent_half_life`
///   decisions) is at most `(1 + fair_share_slack)` times the fair share, plus one request,
///
/// so a prefix group too busy for one endpoint spreads to a second (which then learns it).
///
/// A prompt no endpoint is thought to hold (`uncached` is the whole prompt everywhere) goes
/// back to its group's home, if that one passes both guards (the endpoint it was last sent
/// to; with `index: events`, where it was last placed while nobody held it): its group keeps
/// its home after the engine evicted it, instead of being placed anew (and moving other
/// groups' prefixes out of a second cache).
///
/// The router's own index (with `index: events`, the bridge) ages what it predicts as the
/// engine's cache would: a block counts as cached on `e` only until as many other blocks as
/// `e`'s cache holds were newly sent to `e` since (least recently used goes first). The
/// cache's size comes from `engine_cache_tokens`, or else from the engine's own metrics
/// (vLLM's `cache_config_info`); while neither is known, predictions do not age.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct CacheAwareConfig {
    /// Where "which endpoint holds this prefix" comes from.
    pub index: PrefixIndexKind,
    /// Tokenizes prompts so the index is keyed on tokens, as the engine's cache is; required
    /// by `index: events`. Without it the index is keyed on bytes.
    pub tokenizer: Option<TokenizerConfig>,
    /// Prompt bytes per index block when keyed on bytes (about 4 bytes per token).
    pub block_bytes: usize,
    /// Tokens per block when keyed on tokens: the engine's `--block-size`.
    pub block_tokens: usize,
    /// Most blocks the index keeps (least recently used go first); about 80 bytes each.
    pub max_blocks: usize,
    /// Tokens each engine's KV cache holds, for the router's own index (approximate, or the
    /// events bridge) to age its predictions; unset = read from each engine's metrics
    /// (vLLM), or no ageing.
    pub engine_cache_tokens: Option<u64>,
    /// Prompt bytes per token, to size an engine's cache in index blocks when the index is
    /// keyed on bytes.
    pub bytes_per_token: f64,
    /// How many uncached prompt bytes one queued request is worth.
    pub load_cost_bytes: f64,
    /// How many uncached prompt tokens one queued request is worth.
    pub load_cost_tokens: f64,
    /// Weight of an endpoint's pending prefill (the uncached prompts of this router's
    /// requests still waiting for their first byte there) against the request's own
    /// uncached prompt; 0 leaves it out.
    pub pending_prefill_weight: f64,
    pub balance_abs: u32,
    pub balance_rel: f64,
    pub kv_usage_high: f32,
    pub fair_share_slack: f64,
    pub recent_half_life: f64,
    /// Where two or more endpoints hold a prefix, charge the recent-share term to them too,
    /// not only to those that would compute it anew: such a group goes to the holder with
    /// the least recent traffic. Each router replica counts only its own traffic, so
    /// replicas may then split such a group between its holders (a group held by one
    /// endpoint still goes there from every replica while the guards allow); `false`
    /// charges the term only where the prefix would be computed anew.
    pub balance_holders: bool,
    /// With `index: events`, how long the router's own recent decisions count as cached
    /// before the engine's events confirm them (prefill and the event's trip take this long).
    #[serde(with = "humantime_serde")]
    pub bridge_ttl: Duration,
    /// Warn when the mean absolute error between predicted and engine-reported cached
    /// fractions of prompts (exponentially averaged) goes above this.
    pub audit_warn_error: f64,
}

impl Default for CacheAwareConfig {
    fn default() -> Self {
        Self {
            index: PrefixIndexKind::Approximate,
            tokenizer: None,
            block_bytes: 64,
            block_tokens: 16,
            max_blocks: 262_144,
            engine_cache_tokens: None,
            bytes_per_token: 4.0,
            load_cost_bytes: 64.0,
            load_cost_tokens: 16.0,
            pending_prefill_weight: 0.0,
            balance_abs: 8,
            balance_rel: 1.5,
            kv_usage_high: 0.9,
            fair_share_slack: 0.2,
            recent_half_life: 256.0,
            balance_holders: true,
            bridge_ttl: Duration::from_secs(2),
            audit_warn_error: 0.25,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrefixIndexKind {
    /// Learned from the router's own decisions.
    #[default]
    Approximate,
    /// From the engines' KV-cache events (each endpoint needs `kv_events`), bridged by the
    /// router's decisions of the last `bridge_ttl`.
    Events,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TokenizerConfig {
    #[serde(default)]
    pub kind: TokenizerKind,
    /// A model directory holding `tokenizer.json` (and `tokenizer_config.json`, whose chat
    /// template renders chat requests), or the `tokenizer.json` file itself.
    #[serde(default)]
    pub path: Option<PathBuf>,
    /// A Jinja file to use instead of the config's chat template (vLLM's `--chat-template`).
    #[serde(default)]
    pub chat_template: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenizerKind {
    /// A Hugging Face tokenizer from local files.
    #[default]
    Huggingface,
    /// `switchyard sim`'s pseudo-tokenizer, for pools of simulated engines.
    Simulator,
}

/// Where an engine publishes its KV-cache events (vLLM's `--kv-events-config`).
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct KvEventsConfig {
    /// The publisher's ZMQ address, e.g. `tcp://10.0.0.5:5557` for a vLLM configured with
    /// `"endpoint": "tcp://*:5557"`. With `bind: true`, the address this router binds for a
    /// vLLM that connects (configured with a plain host).
    pub endpoint: String,
    /// The replay (ROUTER) address, e.g. `tcp://10.0.0.5:5558`: missed events are fetched
    /// from it. Without it a gap clears the endpoint's entries instead.
    #[serde(default)]
    pub replay_endpoint: Option<String>,
    #[serde(default)]
    pub topic: String,
    #[serde(default)]
    pub bind: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    RoundRobin,
    Weighted,
    Random,
    #[default]
    LeastConnections,
    PowerOfTwo,
    CacheAware,
}

impl PolicyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RoundRobin => "round_robin",
            Self::Weighted => "weighted",
            Self::Random => "random",
            Self::LeastConnections => "least_connections",
            Self::PowerOfTwo => "power_of_two",
            Self::CacheAware => "cache_aware",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// Base URL, e.g. `http://10.0.0.5:8000` (requests go to `<url>/v1/...`;
    /// for Triton and TorchServe, their HTTP inference port).
    pub url: String,
    /// The server's gRPC address (`http://host:port`, h2c; `https://` for
    /// TLS), where gRPC front-end calls go. Triton and TorchServe serve gRPC
    /// on a port of their own.
    #[serde(default)]
    pub grpc_url: Option<String>,
    /// Base URL of the server's metrics, when they are not on `url` (Triton
    /// and TorchServe serve them on a port of their own).
    #[serde(default)]
    pub metrics_url: Option<String>,
    /// Label in metrics and logs; defaults to the URL's host:port.
    #[serde(default)]
    pub name: Option<String>,
    /// `vllm`, `sglang`, `llamacpp`, `openai` (any other OpenAI-compatible
    /// server or external API; no engine metrics), `triton` or `torchserve`.
    #[serde(default = "default_kind")]
    pub kind: String,
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// Name of the environment variable holding this endpoint's API key,
    /// sent as `Authorization: Bearer`. The key itself never appears in the
    /// config, in logs or in `config check` output.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// Public model name -> the name this endpoint serves it under, where
    /// they differ (overrides the model's `served_name`).
    #[serde(default)]
    pub served_names: BTreeMap<String, String>,
    /// Overrides the kind's default health path (`/health`, or `/v1/models`
    /// for `openai`).
    #[serde(default)]
    pub health_path: Option<String>,
    /// Overrides the kind's default metrics path; `""` turns scraping off.
    #[serde(default)]
    pub metrics_path: Option<String>,
    /// The engine's KV-cache event stream, for `cache_aware` with `index: events`.
    #[serde(default)]
    pub kv_events: Option<KvEventsConfig>,
    /// Where this endpoint's GPUs are read (`switchyard_gpu_*`, `/gpus`).
    #[serde(default)]
    pub gpus: Option<EndpointGpusConfig>,
}

fn default_kind() -> String {
    "openai".into()
}

fn default_weight() -> u32 {
    1
}
