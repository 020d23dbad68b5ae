//! Whether to batch a Triton model, from its own config
//! (`GET /v2/models/M/config`): a model without a batch dimension
//! (`max_batch_size: 0`) or with sequence batching cannot be batched; one
//! with `dynamic_batching` is batched by Triton already, so the router
//! passes it through unless told otherwise. The config is read again every
//! `REFRESH`, since a model can be reloaded with another one.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method};
use http_body_util::{BodyExt, Limited};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::ModelBatching;
use crate::models::ModelRoute;

const REFRESH: Duration = Duration::from_secs(30);
const RETRY: Duration = Duration::from_secs(2);
const TIMEOUT: Duration = Duration::from_secs(5);
const MAX_CONFIG_BYTES: usize = 1 << 20;

/// What the router does with a model, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Batch { max_rows: usize },
    PassThrough(String),
}

pub async fn watch_triton_config(
    route: Arc<ModelRoute>,
    batching: Arc<ModelBatching>,
    shutdown: CancellationToken,
) {
    let mut last: Option<Decision> = None;
    loop {
        let pause = match read_config(&route).await {
            Ok(config) => {
                let decision = decide(
                    &config,
                    batching.settings.configured_rows(),
                    batching.even_if_server_batches,
                );
                if last.as_ref() != Some(&decision) {
                    match &decision {
                        Decision::Batch { max_rows } => {
                            tracing::info!(model = %route.name, max_rows, "router-side batching on")
                        }
                        Decision::PassThrough(why) => {
                            tracing::info!(model = %route.name, reason = %why, "router-side batching off: requests pass through")
                        }
                    }
                }
                batching.settings.set_max_rows(match decision {
                    Decision::Batch { max_rows } => max_rows,
                    Decision::PassThrough(_) => 0,
                });
                last = Some(decision);
                REFRESH
            }
            Err(error) => {
                if last.is_none() {
                    tracing::debug!(model = %route.name, %error, "model config not read yet; requests pass through");
                }
                RETRY
            }
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

pub fn decide(config: &Value, configured_rows: usize, even_if_server_batches: bool) -> Decision {
    let server_max = config
        .get("max_batch_size")
        .and_then(Value::as_u64)
        .unwrap_or(0) as usize;
    if server_max == 0 {
        return Decision::PassThrough(
            "the model has no batch dimension (max_batch_size is 0)".into(),
        );
    }
    if config.get("sequence_batching").is_some() {
        return Decision::PassThrough("a sequence model keeps state between calls".into());
    }
    if config.get("dynamic_batching").is_some() && !even_if_server_batches {
        return Decision::PassThrough(
            "Triton batches it (dynamic_batching); set even_if_server_batches to batch anyway"
                .into(),
        );
    }
    Decision::Batch {
        max_rows: configured_rows.min(server_max),
    }
}

/// The model's config from the first endpoint that gives it.
async fn read_config(route: &ModelRoute) -> Result<Value, String> {
    let pool = &route.pool;
    let mut last_error = String::from("the pool has no endpoints");
    for endpoint in &pool.endpoints {
        let served = endpoint
            .served_name(&route.name, route.served_name.as_deref())
            .unwrap_or(&route.name);
        let path = format!("/v2/models/{served}/config");
        let response = endpoint
            .upstream
            .send(
                &pool.client,
                Method::GET,
                &path,
                HeaderMap::new(),
                Bytes::new(),
                TIMEOUT,
            )
            .await;
        let response = match response {
            Ok(r) if r.status().is_success() => r,
            Ok(r) => {
                last_error = format!("{}: {path} answered {}", endpoint.name, r.status());
                continue;
            }
            Err(e) => {
                last_error = format!("{}: {e}", endpoint.name);
                continue;
            }
        };
        let body = match Limited::new(response.into_body(), MAX_CONFIG_BYTES)
            .collect()
            .await
        {
            Ok(body) => body.to_bytes(),
            Err(e) => {
                last_error = format!("{}: {e}", endpoint.name);
                continue;
            }
        };
        return serde_json::from_slice(&body).map_err(|e| format!("{}: {e}", endpoint.name));
    }
    Err(last_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn models_without_server_batching_are_batched_up_to_their_limit() {
        let config = json!({"name": "fixed_cost", "max_batch_size": 64});
        assert_eq!(decide(&config, 32, false), Decision::Batch { max_rows: 32 });
        assert_eq!(
            decide(&config, 128, false),
            Decision::Batch { max_rows: 64 }
        );
    }

    #[test]
    fn server_batching_and_unbatchable_models_pass_through() {
        let dynamic = json!({"max_batch_size": 8, "dynamic_batching": {}});
        assert!(matches!(
            decide(&dynamic, 32, false),
            Decision::PassThrough(_)
        ));
        assert_eq!(decide(&dynamic, 32, true), Decision::Batch { max_rows: 8 });
        let no_batch_dim = json!({"max_batch_size": 0});
        assert!(matches!(
            decide(&no_batch_dim, 32, true),
            Decision::PassThrough(_)
        ));
        let sequence = json!({"max_batch_size": 8, "sequence_batching": {}});
        assert!(matches!(
            decide(&sequence, 32, true),
            Decision::PassThrough(_)
        ));
    }
}
