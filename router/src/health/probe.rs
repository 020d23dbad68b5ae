use std::sync::Arc;
use std::time::Duration;

use switchyard_backends::HttpClient;
use tokio_util::sync::CancellationToken;

use crate::config::ActiveHealthConfig;
use crate::endpoint::Endpoint;
use crate::observability::metrics as m;

/// Probes one endpoint's health path every `interval` until cancelled.
/// `unhealthy_threshold` failures in a row eject it, `healthy_threshold`
/// successes in a row readmit it.
pub async fn run_probes(
    endpoint: Arc<Endpoint>,
    client: HttpClient,
    config: ActiveHealthConfig,
    shutdown: CancellationToken,
) {
    let mut successes = 0u32;
    let mut failures = 0u32;
    let mut ticker = tokio::time::interval(config.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let ok = probe_once(&endpoint, &client, config.timeout).await;
        if ok {
            successes += 1;
            failures = 0;
        } else {
            failures += 1;
            successes = 0;
        }
        let healthy = endpoint.probe_healthy();
        if healthy && failures >= config.unhealthy_threshold {
            endpoint.set_probe_healthy(false);
            metrics::counter!(m::EJECTIONS, "pool" => endpoint.pool.to_string(), "endpoint" => endpoint.name.to_string(), "reason" => "active_probe").increment(1);
            tracing::warn!(pool = %endpoint.pool, endpoint = %endpoint.name, failures, "endpoint failed its health probes; ejected");
        } else if !healthy && successes >= config.healthy_threshold {
            endpoint.set_probe_healthy(true);
            tracing::info!(pool = %endpoint.pool, endpoint = %endpoint.name, successes, "endpoint passed its health probes; readmitted");
        }
    }
}

async fn probe_once(endpoint: &Endpoint, client: &HttpClient, timeout: Duration) -> bool {
    match endpoint
        .upstream
        .get(client, &endpoint.health_path, timeout)
        .await
    {
        Ok(response) => {
            let ok = response.status().is_success();
            if !ok {
                tracing::debug!(endpoint = %endpoint.name, status = %response.status(), "health probe failed");
            }
            ok
        }
        Err(e) => {
            tracing::debug!(endpoint = %endpoint.name, error = %e, "health probe failed");
            false
        }
    }
}
