//! Metric names (one place, so dashboards and code agree) and the
//! Prometheus recorder.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests answered, by `model`, `endpoint` (`none` when none was reached)
/// and HTTP `status`.
pub const REQUESTS: &str = "switchyard_requests_total";
/// Whole-request latency as the client sees it, by `model`.
pub const REQUEST_DURATION: &str = "switchyard_request_duration_seconds";
/// Time to the first response body byte (first token for streams), by `model`.
pub const TIME_TO_FIRST_BYTE: &str = "switchyard_time_to_first_byte_seconds";
/// Time spent inside the router per request, upstream wait excluded.
pub const ROUTER_OVERHEAD: &str = "switchyard_router_overhead_seconds";
/// Requests in flight through this router, by `pool`, `endpoint`.
pub const ENDPOINT_IN_FLIGHT: &str = "switchyard_endpoint_in_flight";
/// 1 when the endpoint passes its health probes, by `pool`, `endpoint`.
pub const ENDPOINT_HEALTHY: &str = "switchyard_endpoint_healthy";
/// Attempts after the first, by `model` and `reason`.
pub const RETRIES: &str = "switchyard_retries_total";
/// Ejections by `pool`, `endpoint`, `reason` (`active_probe`, `passive`).
pub const EJECTIONS: &str = "switchyard_endpoint_ejections_total";
/// Failed upstream attempts by `pool`, `endpoint`, `kind`.
pub const UPSTREAM_ERRORS: &str = "switchyard_upstream_errors_total";
/// The engines' own gauges as last scraped, by `pool`, `endpoint`.
pub const ENGINE_WAITING: &str = "switchyard_engine_requests_waiting";
pub const ENGINE_RUNNING: &str = "switchyard_engine_requests_running";
pub const ENGINE_KV_USAGE: &str = "switchyard_engine_kv_cache_usage";
/// Mean seconds requests waited in the engine's own queue over the last scrape interval
/// (Triton, TorchServe: from their cumulative queue-time counters).
pub const ENGINE_QUEUE_WAIT: &str = "switchyard_engine_queue_wait_seconds";
pub const SCRAPE_ERRORS: &str = "switchyard_engine_scrape_errors_total";
/// Self-audit of prefix routing, by `pool`, `endpoint`: cached prompt tokens the router
/// predicted for the endpoint it chose, and what the engine reported in `usage`.
pub const PREFIX_PREDICTED_CACHED: &str = "switchyard_prefix_predicted_cached_tokens_total";
pub const PREFIX_REPORTED_CACHED: &str = "switchyard_prefix_reported_cached_tokens_total";
pub const PREFIX_AUDITED_PROMPT: &str = "switchyard_prefix_audited_prompt_tokens_total";
/// Predicted minus reported cached fraction of each audited prompt (-1..1), by `pool`.
pub const PREFIX_PREDICTION_ERROR: &str = "switchyard_prefix_prediction_error";
/// Exponential average of the absolute prediction error, by `pool`.
pub const PREFIX_PREDICTION_DRIFT: &str = "switchyard_prefix_prediction_drift";
/// KV-cache events applied, by `pool`, `endpoint`, `kind` (`stored`, `removed`,
/// `skipped`, `cleared`).
pub const KV_EVENT_BLOCKS: &str = "switchyard_kv_event_blocks_total";
/// Sequence gaps in an endpoint's event stream, by `pool`, `endpoint`, `outcome`
/// (`replayed`, `lost`); and engine restarts seen (`restart`).
pub const KV_EVENT_GAPS: &str = "switchyard_kv_event_gaps_total";
/// Blocks the event index holds for an endpoint, by `pool`, `endpoint`.
pub const KV_INDEX_BLOCKS: &str = "switchyard_kv_index_blocks";

/// Router-side batching, by `model`: requests per upstream call, rows per
/// upstream call, and how long each request waited for its batch.
pub const BATCH_REQUESTS: &str = "switchyard_batch_requests";
pub const BATCH_ROWS: &str = "switchyard_batch_rows";
pub const BATCH_QUEUE_DELAY: &str = "switchyard_batch_queue_delay_seconds";
/// Rows per batch the router uses now, by `model`: 0 while it passes the
/// model through (Triton batches it, or its config was not read yet).
pub const BATCH_MAX_ROWS: &str = "switchyard_batch_max_rows";
/// Requests waiting for a batch now, by `model`.
pub const BATCH_QUEUED: &str = "switchyard_batch_queued";
/// What became of requests offered to a batcher, by `model` and `outcome`:
/// `batched` (answered from a shared call), `alone` (sent unchanged: not
/// batchable, or nothing to share with), `retried_alone` (the shared call was
/// refused, so each member went on its own), `queue_full`, `expired`, `failed`.
pub const BATCH_OUTCOMES: &str = "switchyard_batch_requests_total";

const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
];
const ERROR_BUCKETS: &[f64] = &[
    -0.9, -0.5, -0.25, -0.1, -0.05, -0.01, 0.01, 0.05, 0.1, 0.25, 0.5, 0.9, 1.0,
];
const BATCH_SIZE_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
const QUEUE_DELAY_BUCKETS: &[f64] = &[
    0.000_1, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1.0,
];
const OVERHEAD_BUCKETS: &[f64] = &[
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.0025, 0.005, 0.01, 0.05,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder once and returns its handle. Several
/// routers in one process (tests) share it.
pub fn install() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(ROUTER_OVERHEAD.into()), OVERHEAD_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(PREFIX_PREDICTION_ERROR.into()),
                        ERROR_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(BATCH_REQUESTS.into()),
                        BATCH_SIZE_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(BATCH_ROWS.into()), BATCH_SIZE_BUCKETS)
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full(BATCH_QUEUE_DELAY.into()),
                        QUEUE_DELAY_BUCKETS,
                    )
                })
                .and_then(|b| b.set_buckets(LATENCY_BUCKETS));
            let recorder = match builder {
                Ok(b) => b.build_recorder(),
                // Only reachable with empty bucket lists, which these are not.
                Err(_) => PrometheusBuilder::new().build_recorder(),
            };
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            handle
        })
        .clone()
}

/// How often histogram samples are folded into their buckets.
const UPKEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);

/// The recorder keeps each histogram sample until upkeep folds it into the
/// buckets; without this loop memory grows with every request.
pub async fn run_upkeep(handle: PrometheusHandle, shutdown: tokio_util::sync::CancellationToken) {
    let mut ticker = tokio::time::interval(UPKEEP_INTERVAL);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => handle.run_upkeep(),
        }
    }
}
