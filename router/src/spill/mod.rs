//! Spill-over: when a model's local pool is saturated (see `saturation`),
//! new OpenAI requests go to external providers, in the model's order,
//! within a cap on the spilled share and each provider's spend budget.
//! Requests already running locally are never moved. A request that should
//! spill but may not (cap, budget, every provider failing) stays local, or
//! with `when_blocked: reject` waits briefly for room and is answered 429.

pub mod budget;
pub mod cap;
pub mod provider;
mod request;
pub mod serve;
mod stream;

use std::collections::HashMap;
use std::sync::Arc;

use http::HeaderValue;

pub use provider::{Provider, ProviderBuildError};
pub use serve::{Spilled, serve};

use crate::clock::now_ms;
use crate::config::{Price, SpillConfig};
use crate::models::ModelRoute;
use crate::saturation::{self, Band, Reason, SaturationState, Thresholds};
use cap::SpillCap;

/// Which provider served a request, or `local`, by `model`, `served_by`
/// (`local` or `provider/NAME`) and `reason` (the saturation reason for a
/// spill; for a local answer `has_room`, or why it could not spill).
pub const DECISIONS: &str = "switchyard_spill_decisions_total";

pub const SERVED_BY: http::HeaderName = http::HeaderName::from_static("x-switchyard-served-by");
pub const ROUTE_REASON: http::HeaderName =
    http::HeaderName::from_static("x-switchyard-route-reason");

/// One provider a model spills to.
pub struct Target {
    pub provider: Arc<Provider>,
    pub model: String,
    pub price: Price,
    pub max_tokens: u32,
}

pub struct ModelSpill {
    pub config: SpillConfig,
    pub targets: Vec<Target>,
    pub state: Arc<SaturationState>,
    pub thresholds: Thresholds,
    pub cap: SpillCap,
}

/// Why a request that the saturation model sent out was served locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocked {
    /// The cap on the spilled share.
    Cap,
    /// Every provider that could take it is over budget.
    Budget,
    /// No provider can serve this request (operation or fields).
    NotSpillable,
    /// Every provider failed.
    ProviderFailed,
}

impl Blocked {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cap => "spill_cap",
            Self::Budget => "budget",
            Self::NotSpillable => "not_spillable",
            Self::ProviderFailed => "provider_failed",
        }
    }
}

/// The request path's first question for a model that spills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Local,
    Spill(Reason),
}

impl ModelSpill {
    pub fn new(
        config: &SpillConfig,
        providers: &HashMap<String, Arc<Provider>>,
    ) -> Result<Self, String> {
        let targets = config
            .to
            .iter()
            .map(|t| {
                let provider = providers
                    .get(&t.provider)
                    .ok_or_else(|| format!("no provider named `{}`", t.provider))?;
                Ok(Target {
                    provider: Arc::clone(provider),
                    model: t.model.clone(),
                    price: t.price,
                    max_tokens: t.max_tokens,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        let target = config.ttft_target.as_secs_f64();
        Ok(Self {
            targets,
            state: Arc::new(SaturationState::default()),
            thresholds: Thresholds {
                enter_wait: config.enter_at * target,
                exit_wait: config.exit_at * target,
                kv_cache: config.kv_cache_high.map(|high| Band {
                    high: f64::from(high),
                    low: f64::from(config.kv_cache_low),
                }),
                gpu_memory: config.gpu_memory_high.map(|high| Band {
                    high,
                    low: config.gpu_memory_low,
                }),
                gpu_utilization: config.gpu_utilization_high.map(|high| Band {
                    high,
                    low: config.gpu_utilization_low,
                }),
            },
            cap: SpillCap::new(config.max_fraction, config.window),
            config: config.clone(),
        })
    }

    /// Local while the pool has room; otherwise the model is (or turns)
    /// saturated and the request should spill.
    pub fn decide(&self, route: &ModelRoute) -> Decision {
        self.cap.count_request(now_ms());
        let verdict = self
            .thresholds
            .assess(saturation::views(&route.pool), self.state.is_saturated());
        if verdict.room {
            return Decision::Local;
        }
        let reason = verdict.reason.unwrap_or(Reason::QueueWait);
        if let Some(transition) = self.state.refuse(reason) {
            saturation::record_transition(&route.name, transition);
        }
        Decision::Spill(reason)
    }

    /// Whether the pool has room now, under the current state's marks.
    pub fn has_room(&self, route: &ModelRoute) -> bool {
        self.thresholds
            .assess(saturation::views(&route.pool), self.state.is_saturated())
            .room
    }
}

/// Counts where a request was served and why, and returns the headers
/// that say so.
pub fn note(model: &str, served_by: &str, reason: &str) -> [(http::HeaderName, HeaderValue); 2] {
    metrics::counter!(
        DECISIONS,
        "model" => model.to_owned(),
        "served_by" => served_by.to_owned(),
        "reason" => reason.to_owned()
    )
    .increment(1);
    let value = |s: &str| HeaderValue::from_str(s).unwrap_or(HeaderValue::from_static("unknown"));
    [(SERVED_BY, value(served_by)), (ROUTE_REASON, value(reason))]
}
