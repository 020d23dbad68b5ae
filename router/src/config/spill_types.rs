//! Spill-over settings: the external providers the router may call, and per
//! model when a local pool counts as saturated and where its excess goes.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::types::TimeoutsConfig;

/// An external API requests can spill to.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    pub kind: ProviderKind,
    /// Base URL. Defaults: `https://api.openai.com/v1` (openai),
    /// `https://api.anthropic.com` (anthropic); required for azure
    /// (`https://RESOURCE.openai.azure.com`).
    #[serde(default)]
    pub url: Option<String>,
    /// The environment variable holding the API key (sent as
    /// `Authorization: Bearer`, `api-key` or `x-api-key` as the kind wants).
    pub api_key_env: String,
    /// Azure's `api-version` query parameter.
    #[serde(default = "default_azure_api_version")]
    pub api_version: String,
    /// Anthropic's `anthropic-version` header.
    #[serde(default = "default_anthropic_version")]
    pub anthropic_version: String,
    #[serde(default = "default_provider_timeouts")]
    pub timeouts: TimeoutsConfig,
    /// Attempts per request on this provider (429, 5xx and connection
    /// failures are retried; a `Retry-After` is honoured).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// A `Retry-After` longer than this is not waited for: the request moves
    /// to the next provider (or stays local).
    #[serde(default = "default_max_retry_after", with = "humantime_serde")]
    pub max_retry_after: Duration,
    /// Spend limit; without one the provider is not limited by cost.
    #[serde(default)]
    pub budget: Option<BudgetConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// OpenAI's API, or any OpenAI-compatible API reached with a bearer key.
    OpenAi,
    /// Azure OpenAI: deployments, `api-version`, the `api-key` header.
    Azure,
    /// Anthropic's Messages API; chat requests are translated both ways.
    Anthropic,
}

/// Spend allowed per period, in US dollars, computed from the providers'
/// reported token usage and the configured prices.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetConfig {
    pub usd: f64,
    /// Periods are fixed windows from the Unix epoch (`1h`, `1day`, `30days`).
    #[serde(with = "humantime_serde")]
    pub period: Duration,
}

/// `models.M.spill`: when the model's pool counts as saturated, and which
/// providers take the excess, in order.
///
/// The pool is saturated when no available endpoint has room for a new
/// request. An endpoint has room when
/// - its predicted queue wait is under `enter_at × ttft_target`
///   (`exit_at × ttft_target` once the model is saturated: the band between
///   the two is the hysteresis), and
/// - its KV-cache usage, and the memory and utilisation of its GPUs (fresh
///   readings only), are under their `_high` marks (`_low` once saturated).
///
/// The predicted wait is the requests queued ahead of a new one on the
/// endpoint (the router's in-flight count beyond the concurrency the engine
/// was seen running when it had a queue, or the engine's own waiting count,
/// whichever is larger) divided by the rate the endpoint completes requests
/// when busy. A saturated model returns to normal at the first evaluation
/// (every `evaluate_every`) that finds room and saw no request spilled
/// since the one before.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SpillConfig {
    /// Providers in order of preference.
    pub to: Vec<SpillTarget>,
    /// The model's time-to-first-token target.
    #[serde(default = "default_ttft_target", with = "humantime_serde")]
    pub ttft_target: Duration,
    #[serde(default = "default_enter_at")]
    pub enter_at: f64,
    #[serde(default = "default_exit_at")]
    pub exit_at: f64,
    #[serde(default = "default_kv_high")]
    pub kv_cache_high: Option<f32>,
    #[serde(default = "default_kv_low")]
    pub kv_cache_low: f32,
    #[serde(default = "default_gpu_memory_high")]
    pub gpu_memory_high: Option<f64>,
    #[serde(default = "default_gpu_memory_low")]
    pub gpu_memory_low: f64,
    /// Off by default: a busy GPU is 100% utilised whether or not it is
    /// saturated.
    #[serde(default)]
    pub gpu_utilization_high: Option<f64>,
    #[serde(default = "default_gpu_utilization_low")]
    pub gpu_utilization_low: f64,
    /// Most of the model's requests that may spill, as a fraction over the
    /// last `window`.
    #[serde(default = "default_max_fraction")]
    pub max_fraction: f64,
    #[serde(default = "default_window", with = "humantime_serde")]
    pub window: Duration,
    /// What a request that should spill but may not (cap, budgets, every
    /// provider failing) does.
    #[serde(default)]
    pub when_blocked: WhenBlocked,
    /// With `when_blocked: reject`: how long such a request waits for local
    /// room before it is answered 429 with `Retry-After`.
    #[serde(default = "default_max_wait", with = "humantime_serde")]
    pub max_wait: Duration,
    #[serde(default = "default_evaluate_every", with = "humantime_serde")]
    pub evaluate_every: Duration,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenBlocked {
    /// Serve it locally anyway: it waits in the engines' queues.
    #[default]
    Local,
    /// Wait up to `max_wait` for local room, then answer 429.
    Reject,
}

/// One provider a model spills to.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SpillTarget {
    /// A name under `providers`.
    pub provider: String,
    /// The provider's model name (Azure: the deployment name).
    pub model: String,
    /// US dollars per million tokens; spend is counted against the
    /// provider's budget.
    #[serde(default)]
    pub price: Price,
    /// `max_tokens` sent to Anthropic when the request has none (it is
    /// required there), and the output estimate reserved against a budget.
    #[serde(default = "default_max_tokens")]
    pub max_tokens: u32,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Price {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
    /// Cached prompt tokens (defaults to the input price).
    pub cached_input_per_mtok: Option<f64>,
}

fn default_azure_api_version() -> String {
    "2024-10-21".into()
}
fn default_anthropic_version() -> String {
    "2023-06-01".into()
}
fn default_provider_timeouts() -> TimeoutsConfig {
    TimeoutsConfig {
        connect: Duration::from_secs(5),
        first_byte: Duration::from_secs(60),
        total: Duration::from_secs(600),
    }
}
fn default_attempts() -> u32 {
    3
}
fn default_max_retry_after() -> Duration {
    Duration::from_secs(10)
}
fn default_ttft_target() -> Duration {
    Duration::from_secs(2)
}
fn default_enter_at() -> f64 {
    0.5
}
fn default_exit_at() -> f64 {
    0.25
}
fn default_kv_high() -> Option<f32> {
    Some(0.98)
}
fn default_kv_low() -> f32 {
    0.9
}
fn default_gpu_memory_high() -> Option<f64> {
    Some(0.97)
}
fn default_gpu_memory_low() -> f64 {
    0.93
}
fn default_gpu_utilization_low() -> f64 {
    0.9
}
fn default_max_fraction() -> f64 {
    1.0
}
fn default_window() -> Duration {
    Duration::from_secs(60)
}
fn default_max_wait() -> Duration {
    Duration::from_secs(2)
}
fn default_evaluate_every() -> Duration {
    Duration::from_millis(250)
}
fn default_max_tokens() -> u32 {
    4096
}
