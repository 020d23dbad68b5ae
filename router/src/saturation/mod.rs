//! The saturation model: per endpoint, a predicted queue wait for a new
//! request (from the router's in-flight counts, the engine's gauges and the
//! completion rate the router measures) and resource marks (KV cache, GPU
//! memory and utilisation); per pool, whether any endpoint has room; per
//! model, a saturated state with hysteresis. A background loop per pool
//! learns each endpoint's capacity, copies its GPU readings where the
//! request path can read them, evaluates recovery and exports it all.

pub mod assess;
pub mod capacity;
pub mod state;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

pub use assess::{Band, EndpointView, PoolVerdict, Reason, Thresholds};
pub use capacity::EndpointCapacity;
pub use state::{SaturationState, Transition};

use crate::clock::now_ms;
use crate::endpoint::Endpoint;
use crate::models::ModelRoute;
use crate::pool::Pool;
use crate::telemetry::gpu::GpuBinding;

pub const PREDICTED_WAIT: &str = "switchyard_endpoint_predicted_wait_seconds";
pub const COMPLETION_RATE: &str = "switchyard_endpoint_completion_rate";
pub const SLOTS: &str = "switchyard_endpoint_slots";
/// 1 while the model's pool is saturated, by `model`.
pub const MODEL_SATURATED: &str = "switchyard_model_saturated";
/// State changes, by `model`, `to` (`saturated`, `normal`) and `reason`.
pub const TRANSITIONS: &str = "switchyard_model_saturation_transitions_total";
/// The lowest predicted wait among the pool's endpoints, by `model`.
pub const MODEL_PREDICTED_WAIT: &str = "switchyard_model_predicted_wait_seconds";

/// How the model sees `endpoint` now.
pub fn view(pool: &Pool, endpoint: &Endpoint, now_ms: u64) -> EndpointView {
    let engine = endpoint.engine_load(now_ms, pool.stale_after_ms);
    EndpointView {
        healthy: endpoint.is_healthy(now_ms),
        available: endpoint.is_available(now_ms, pool.max_in_flight_per_endpoint),
        in_flight: endpoint.in_flight(),
        slots: endpoint.capacity.slots(),
        engine_waiting: engine.and_then(|e| e.waiting),
        kv_cache_usage: engine.and_then(|e| e.kv_cache_usage),
        gpu_memory: endpoint.capacity.gpu_memory(),
        gpu_utilization: endpoint.capacity.gpu_utilization(),
        rate: endpoint.capacity.rate(),
    }
}

/// Every endpoint of `pool`, now.
pub fn views(pool: &Pool) -> impl Iterator<Item = EndpointView> + '_ {
    let now = now_ms();
    pool.endpoints.iter().map(move |e| view(pool, e, now))
}

/// One model's state change: logged and counted.
pub fn record_transition(model: &str, transition: Transition) {
    let (to, reason) = match transition {
        Transition::Saturated(reason) => {
            tracing::warn!(
                model,
                reason = reason.as_str(),
                "model saturated: new requests spill over"
            );
            ("saturated", reason.as_str())
        }
        Transition::Recovered => {
            tracing::info!(model, "model no longer saturated: requests stay local");
            ("normal", "recovered")
        }
    };
    metrics::counter!(TRANSITIONS, "model" => model.to_owned(), "to" => to, "reason" => reason)
        .increment(1);
    metrics::gauge!(MODEL_SATURATED, "model" => model.to_owned()).set(if to == "saturated" {
        1.0
    } else {
        0.0
    });
}

/// What the loop needs of a model that spills.
pub struct Watched {
    pub route: Arc<ModelRoute>,
    pub state: Arc<SaturationState>,
    pub thresholds: Thresholds,
}

/// The per-pool loop: every `interval`, learns each endpoint's capacity and
/// GPU state, and lets each watched model recover.
pub async fn run(
    pool: Arc<Pool>,
    gpus: Vec<Option<Arc<GpuBinding>>>,
    gpu_stale_after: Duration,
    watched: Vec<Watched>,
    interval: Duration,
    shutdown: CancellationToken,
) {
    let mut previous: Vec<(u64, u32)> = pool
        .endpoints
        .iter()
        .map(|e| (e.capacity.completed(), 0))
        .collect();
    let mut last = Instant::now();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let elapsed = last.elapsed().as_secs_f64();
        last = Instant::now();
        let now = now_ms();
        let mut views_now = Vec::with_capacity(pool.endpoints.len());
        for (i, endpoint) in pool.endpoints.iter().enumerate() {
            let capacity = &endpoint.capacity;
            if let Some(Some(binding)) = gpus.get(i) {
                let readings = binding.fresh(gpu_stale_after);
                let max = |f: fn(&switchyard_backends::gpu::GpuReading) -> Option<f64>| {
                    readings
                        .as_ref()
                        .and_then(|r| r.iter().filter_map(f).reduce(f64::max))
                };
                capacity.set_gpus(
                    max(|g| Some(g.memory_fraction()).filter(|_| g.memory_total_bytes > 0)),
                    max(|g| g.utilization_gpu_percent.map(|p| f64::from(p) / 100.0)),
                );
            }
            if let Some(engine) = endpoint.engine_load(now, pool.stale_after_ms)
                && engine.waiting.is_some_and(|w| w > 0)
                && let Some(running) = engine.running
            {
                capacity.observe_full(running);
            }
            let view = view(&pool, endpoint, now);
            let queued = view.queued();
            let completed = capacity.completed();
            let (completed_before, queued_before) = previous[i];
            // Queued at both ends of the interval: the engine ran flat out.
            if queued > 0 && queued_before > 0 {
                capacity.observe_busy(completed.saturating_sub(completed_before), elapsed);
            }
            previous[i] = (completed, queued);
            let labels = [
                ("pool", pool.name.to_string()),
                ("endpoint", endpoint.name.to_string()),
            ];
            if let Some(wait) = view.predicted_wait() {
                metrics::gauge!(PREDICTED_WAIT, &labels).set(wait);
            }
            if let Some(rate) = view.rate {
                metrics::gauge!(COMPLETION_RATE, &labels).set(rate);
            }
            if let Some(slots) = view.slots {
                metrics::gauge!(SLOTS, &labels).set(f64::from(slots));
            }
            views_now.push(view);
        }
        let best = views_now
            .iter()
            .filter(|v| v.healthy)
            .filter_map(EndpointView::predicted_wait)
            .reduce(f64::min);
        for model in &watched {
            let verdict = model.thresholds.assess(views_now.iter().copied(), true);
            if let Some(transition) = model.state.evaluate(verdict.room) {
                record_transition(&model.route.name, transition);
            }
            metrics::gauge!(MODEL_PREDICTED_WAIT, "model" => model.route.name.to_string())
                .set(best.unwrap_or(0.0));
        }
    }
}
