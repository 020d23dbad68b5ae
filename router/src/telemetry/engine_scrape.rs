use std::sync::Arc;

use http_body_util::{BodyExt, Limited};
use switchyard_backends::{EngineLoad, HttpClient, parse_engine_load};
use tokio_util::sync::CancellationToken;

use crate::config::ScrapeConfig;
use crate::endpoint::Endpoint;
use crate::observability::metrics as m;

/// Largest metrics page read; vLLM's is tens of KiB.
const MAX_METRICS_BYTES: usize = 8 * 1024 * 1024;

/// Scrapes one endpoint's engine metrics every `interval` until cancelled.
/// A failed scrape leaves the last reading to age out, so a dead exporter
/// turns into "unknown" after `stale_after`, never into stale numbers.
pub async fn run_engine_scrape(
    endpoint: Arc<Endpoint>,
    path: String,
    client: HttpClient,
    config: ScrapeConfig,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(config.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let labels = [
        ("pool", endpoint.pool.to_string()),
        ("endpoint", endpoint.name.to_string()),
    ];
    let waiting = metrics::gauge!(m::ENGINE_WAITING, &labels);
    let running = metrics::gauge!(m::ENGINE_RUNNING, &labels);
    let kv_usage = metrics::gauge!(m::ENGINE_KV_USAGE, &labels);
    let errors = metrics::counter!(m::SCRAPE_ERRORS, &labels);
    let queue_wait = metrics::gauge!(m::ENGINE_QUEUE_WAIT, &labels);
    let mut previous: Option<EngineLoad> = None;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        match scrape_once(&endpoint, &path, &client, &config).await {
            Ok(text) => {
                let load = parse_engine_load(endpoint.kind, &text);
                let mean_wait = previous.as_ref().and_then(|p| mean_queue_wait_us(p, &load));
                endpoint.store_engine_load(&load, mean_wait);
                if let Some(v) = mean_wait {
                    queue_wait.set(f64::from(v) / 1e6);
                }
                previous = Some(load);
                if let Some(v) = load.waiting {
                    waiting.set(f64::from(v));
                }
                if let Some(v) = load.running {
                    running.set(f64::from(v));
                }
                if let Some(v) = load.kv_cache_usage {
                    kv_usage.set(f64::from(v));
                }
            }
            Err(e) => {
                errors.increment(1);
                tracing::debug!(endpoint = %endpoint.name, error = %e, "engine metrics scrape failed");
            }
        }
    }
}

/// Mean queue wait (µs) of the requests counted between two scrapes, from
/// the engine's cumulative queue-time and request counters. `None` when the
/// engine lacks them, nothing completed in between, or a counter went back
/// (the engine restarted).
fn mean_queue_wait_us(before: &EngineLoad, now: &EngineLoad) -> Option<f32> {
    let time = now.queue_time_us? - before.queue_time_us?;
    let requests = now.queued_requests? - before.queued_requests?;
    (time >= 0.0 && requests > 0.0).then(|| (time / requests) as f32)
}

async fn scrape_once(
    endpoint: &Endpoint,
    path: &str,
    client: &HttpClient,
    config: &ScrapeConfig,
) -> Result<String, String> {
    let response = endpoint
        .metrics_upstream()
        .get(client, path, config.timeout)
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()));
    }
    let body = tokio::time::timeout(
        config.timeout,
        Limited::new(response.into_body(), MAX_METRICS_BYTES).collect(),
    )
    .await
    .map_err(|_| "timed out reading the body".to_owned())?
    .map_err(|e| e.to_string())?
    .to_bytes();
    String::from_utf8(body.to_vec()).map_err(|_| "metrics page is not UTF-8".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(time: f64, requests: f64) -> EngineLoad {
        EngineLoad {
            queue_time_us: Some(time),
            queued_requests: Some(requests),
            ..EngineLoad::default()
        }
    }

    #[test]
    fn queue_wait_is_the_mean_over_the_interval() {
        let wait = mean_queue_wait_us(&counters(1000.0, 10.0), &counters(5000.0, 20.0));
        assert_eq!(wait, Some(400.0));
    }

    #[test]
    fn no_new_requests_or_a_restart_gives_no_reading() {
        assert_eq!(
            mean_queue_wait_us(&counters(1000.0, 10.0), &counters(1000.0, 10.0)),
            None
        );
        assert_eq!(
            mean_queue_wait_us(&counters(1000.0, 10.0), &counters(10.0, 1.0)),
            None
        );
        assert_eq!(
            mean_queue_wait_us(&EngineLoad::default(), &counters(10.0, 1.0)),
            None
        );
    }
}
