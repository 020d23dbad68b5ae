//! Builds the running router from a configuration: pools, endpoints,
//! policies, the model table, and the background health and telemetry
//! loops.

use std::collections::HashMap;
use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use switchyard_backends::{
    EngineKind, HttpClientConfig, HttpUpstream, build_grpc_client, build_http_client,
};
use tokio_util::sync::CancellationToken;

use crate::batch::{ModelBatching, watch_triton_config};
use crate::config::{
    CacheAwareConfig, Config, EndpointConfig, HealthConfig, LoggingConfig, PolicyKind,
    PrefixIndexKind, RetryConfig, ScrapeConfig, ServerConfig,
};
use crate::endpoint::{Endpoint, EndpointSpec};
use crate::front::generate::GenerateRoute;
use crate::health::{Breaker, run_probes};
use crate::models::{ModelRoute, ModelTable};
use crate::observability::metrics as m;
use crate::policy::{self, CacheAware, Policy};
use crate::pool::Pool;
use crate::prefix::{KvEventIndex, PrefixAudit, PromptKeying};
use crate::spill::ModelSpill;
use crate::telemetry::gpu::GpuTelemetry;
use crate::telemetry::{KvEventFollower, run_engine_scrape};
use crate::tokenizer::PromptTokenizer;

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(
        "pool `{pool}`, endpoint {index}: environment variable `{var}` (api_key_env) is not set"
    )]
    MissingApiKey {
        pool: String,
        index: usize,
        var: String,
    },
    #[error("pool `{pool}`, endpoint {index}: {message}")]
    Endpoint {
        pool: String,
        index: usize,
        message: String,
    },
    #[error("model `{model}` refers to pool `{pool}`, which does not exist")]
    UnknownPool { model: String, pool: String },
    #[error("model `{model}`, generate: {message}")]
    Generate { model: String, message: String },
    #[error(transparent)]
    Provider(#[from] crate::spill::ProviderBuildError),
    #[error("model `{model}`, spill: {message}")]
    Spill { model: String, message: String },
    #[error("GPU telemetry: {0}")]
    GpuTelemetry(String),
    #[error("pool `{pool}`: {source}")]
    Tokenizer {
        pool: String,
        source: crate::tokenizer::TokenizerError,
    },
}

pub struct App {
    pub models: ModelTable,
    /// Time spent in the router per request, upstream wait excluded.
    pub router_overhead: metrics::Histogram,
    pub pools: Vec<Arc<Pool>>,
    pub metrics: PrometheusHandle,
    pub server: ServerConfig,
    pub retries: RetryConfig,
    pub logging: LoggingConfig,
    health: HealthConfig,
    scrape: ScrapeConfig,
    kv_followers: Vec<KvEventFollower>,
    /// GPU telemetry sources, and which endpoints' GPUs they report.
    pub gpu: GpuTelemetry,
}

impl App {
    pub fn from_config(config: &Config) -> Result<App, BuildError> {
        let metrics = m::install();
        let mut pools_by_name = HashMap::new();
        let mut pools = Vec::new();
        let mut kv_followers = Vec::new();
        for (seed, (pool_name, pool_config)) in config.pools.iter().enumerate() {
            let pool_label: Arc<str> = Arc::from(pool_name.as_str());
            let timeouts = pool_config.timeouts.unwrap_or(config.timeouts);
            let client_config = HttpClientConfig {
                connect_timeout: timeouts.connect,
                ..HttpClientConfig::default()
            };
            let client = build_http_client(&client_config);
            let grpc_client = build_grpc_client(&client_config);
            let endpoints = pool_config
                .endpoints
                .iter()
                .enumerate()
                .map(|(index, ep)| {
                    build_endpoint(index, ep, &pool_label, &config.health).map(Arc::new)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let prefix = match pool_config.policy {
                PolicyKind::CacheAware => Some(build_cache_aware(
                    &pool_label,
                    &pool_config.cache_aware,
                    &endpoints,
                )?),
                _ => None,
            };
            let (policy, audit, kv_events): (Box<dyn Policy>, _, _) = match prefix {
                Some(p) => (Box::new(p.policy), Some(p.audit), p.events),
                None => (
                    policy::build(pool_config.policy, 0x5eed ^ seed as u64),
                    None,
                    None,
                ),
            };
            if let Some(index) = &kv_events {
                for (endpoint, config) in endpoints.iter().zip(&pool_config.endpoints) {
                    if let Some(events) = &config.kv_events {
                        kv_followers.push(KvEventFollower::new(
                            Arc::clone(endpoint),
                            events.clone(),
                            Arc::clone(index),
                            pool_config.cache_aware.block_tokens,
                        ));
                    }
                }
            }
            let pool = Arc::new(Pool {
                name: pool_label,
                policy,
                audit,
                kv_events,
                endpoints,
                client,
                grpc_client,
                timeouts,
                max_in_flight_per_endpoint: pool_config.max_in_flight_per_endpoint,
                stale_after_ms: config.scrape.stale_after.as_millis() as u64,
            });
            pools_by_name.insert(pool_name.clone(), Arc::clone(&pool));
            pools.push(pool);
        }
        let providers = crate::spill::provider::build_all(config)?;
        let mut routes = Vec::new();
        for (model_name, model) in &config.models {
            let pool = pools_by_name
                .get(&model.pool)
                .ok_or_else(|| BuildError::UnknownPool {
                    model: model_name.clone(),
                    pool: model.pool.clone(),
                })?;
            let mut route =
                ModelRoute::new(model_name, Arc::clone(pool), model.served_name.clone());
            if let Some(generate) = &model.generate {
                let generate = GenerateRoute::new(generate.clone()).map_err(|message| {
                    BuildError::Generate {
                        model: model_name.clone(),
                        message,
                    }
                })?;
                route.generate = Some(Arc::new(generate));
            }
            if let Some(batching) = &model.batching {
                let triton = pool.endpoints.iter().any(|e| e.kind == EngineKind::Triton);
                let batching =
                    ModelBatching::new(model_name, batching, triton).map_err(|source| {
                        BuildError::Tokenizer {
                            pool: model.pool.clone(),
                            source,
                        }
                    })?;
                route.batching = Some(Arc::new(batching));
            }
            if let Some(spill) = &model.spill {
                let spill =
                    ModelSpill::new(spill, &providers).map_err(|message| BuildError::Spill {
                        model: model_name.clone(),
                        message,
                    })?;
                route.spill = Some(Arc::new(spill));
            }
            routes.push(route);
        }
        Ok(App {
            models: ModelTable::new(routes),
            router_overhead: metrics::histogram!(m::ROUTER_OVERHEAD),
            pools,
            metrics,
            server: config.server.clone(),
            retries: config.retries.clone(),
            logging: config.logging.clone(),
            health: config.health.clone(),
            scrape: config.scrape.clone(),
            kv_followers,
            gpu: GpuTelemetry::from_config(config).map_err(BuildError::GpuTelemetry)?,
        })
    }

    /// Whether every model has at least one healthy endpoint (`/ready`,
    /// KServe's server ready, TorchServe's ping).
    pub fn every_model_has_a_healthy_endpoint(&self) -> bool {
        self.models
            .iter()
            .all(|route| route.pool.healthy_count() > 0)
    }

    /// Starts the probe and scrape loops; they stop when `shutdown` fires.
    pub fn spawn_background(&self, shutdown: &CancellationToken) {
        tokio::spawn(m::run_upkeep(self.metrics.clone(), shutdown.child_token()));
        for follower in &self.kv_followers {
            tokio::spawn(follower.clone().run(shutdown.child_token()));
        }
        if !self.gpu.is_empty() {
            let client = build_http_client(&HttpClientConfig::default());
            self.gpu.spawn(&client, shutdown);
        }
        for route in self.models.iter() {
            if let Some(batching) = &route.batching
                && batching.reads_server_config
            {
                tokio::spawn(watch_triton_config(
                    Arc::clone(route),
                    Arc::clone(batching),
                    shutdown.child_token(),
                ));
            }
        }
        for pool in &self.pools {
            self.spawn_saturation(pool, shutdown);
            for endpoint in &pool.endpoints {
                if self.health.active.enabled {
                    tokio::spawn(run_probes(
                        Arc::clone(endpoint),
                        pool.client.clone(),
                        self.health.active.clone(),
                        shutdown.child_token(),
                    ));
                }
                if self.scrape.enabled
                    && let Some(path) = &endpoint.metrics_path
                {
                    tokio::spawn(run_engine_scrape(
                        Arc::clone(endpoint),
                        path.clone(),
                        pool.client.clone(),
                        self.scrape.clone(),
                        shutdown.child_token(),
                    ));
                }
            }
        }
    }
}

impl App {
    /// The pool's saturation loop, evaluating the models that spill from it
    /// at the shortest of their `evaluate_every` (250 ms without any).
    fn spawn_saturation(&self, pool: &Arc<Pool>, shutdown: &CancellationToken) {
        let watched: Vec<crate::saturation::Watched> = self
            .models
            .iter()
            .filter(|route| Arc::ptr_eq(&route.pool, pool))
            .filter_map(|route| {
                let spill = route.spill.as_ref()?;
                // Exported from the start, not only after the first change.
                metrics::gauge!(crate::saturation::MODEL_SATURATED, "model" => route.name.to_string())
                    .set(0.0);
                Some(crate::saturation::Watched {
                    route: Arc::clone(route),
                    state: Arc::clone(&spill.state),
                    thresholds: spill.thresholds,
                })
            })
            .collect();
        let interval = watched
            .iter()
            .filter_map(|w| w.route.spill.as_ref().map(|s| s.config.evaluate_every))
            .min()
            .unwrap_or(std::time::Duration::from_millis(250));
        let gpus = pool
            .endpoints
            .iter()
            .map(|e| self.gpu.binding(&pool.name, &e.name))
            .collect();
        tokio::spawn(crate::saturation::run(
            Arc::clone(pool),
            gpus,
            self.gpu.stale_after(),
            watched,
            interval,
            shutdown.child_token(),
        ));
    }
}

struct PrefixRouting {
    policy: CacheAware,
    audit: Arc<PrefixAudit>,
    events: Option<Arc<KvEventIndex>>,
}

/// The `cache_aware` policy with its prompt keying (tokens when a tokenizer is set), its
/// event index (with `index: events`), and its self-audit.
fn build_cache_aware(
    pool: &Arc<str>,
    config: &CacheAwareConfig,
    endpoints: &[Arc<Endpoint>],
) -> Result<PrefixRouting, BuildError> {
    let keying = match &config.tokenizer {
        Some(tokenizer) => {
            let tokenizer =
                PromptTokenizer::load(tokenizer).map_err(|source| BuildError::Tokenizer {
                    pool: pool.to_string(),
                    source,
                })?;
            if let PromptTokenizer::HuggingFace(hf) = &tokenizer
                && !hf.has_chat_template()
            {
                tracing::warn!(%pool, "the tokenizer has no chat template (set tokenizer.chat_template): chat requests are routed by load alone");
            }
            Some(PromptKeying::Tokens {
                tokenizer: Arc::new(tokenizer),
                block_tokens: config.block_tokens,
            })
        }
        None => None,
    };
    let events = (config.index == PrefixIndexKind::Events)
        .then(|| Arc::new(KvEventIndex::new(endpoints.len(), config.max_blocks)));
    let names: Vec<Arc<str>> = endpoints.iter().map(|e| Arc::clone(&e.name)).collect();
    let audit = Arc::new(PrefixAudit::new(
        Arc::clone(pool),
        config.audit_warn_error,
        &names,
    ));
    let policy = CacheAware::new(config.clone(), keying, events.clone());
    Ok(PrefixRouting {
        policy,
        audit,
        events,
    })
}

fn build_endpoint(
    index: usize,
    config: &EndpointConfig,
    pool: &Arc<str>,
    health: &HealthConfig,
) -> Result<Endpoint, BuildError> {
    let endpoint_error = |message: String| BuildError::Endpoint {
        pool: pool.to_string(),
        index,
        message,
    };
    let kind: EngineKind =
        config
            .kind
            .parse()
            .map_err(|e: switchyard_backends::engine_kind::UnknownEngineKind| {
                endpoint_error(e.to_string())
            })?;
    let api_key = match &config.api_key_env {
        Some(var) => Some(std::env::var(var).map_err(|_| BuildError::MissingApiKey {
            pool: pool.to_string(),
            index,
            var: var.clone(),
        })?),
        None => None,
    };
    let upstream = HttpUpstream::new(&config.url, api_key.as_deref())
        .map_err(|e| endpoint_error(e.to_string()))?;
    // The API key goes to the inference addresses only, never to metrics.
    let grpc = config
        .grpc_url
        .as_deref()
        .map(|url| HttpUpstream::new(url, api_key.as_deref()))
        .transpose()
        .map_err(|e| endpoint_error(e.to_string()))?;
    let metrics = config
        .metrics_url
        .as_deref()
        .map(|url| HttpUpstream::new(url, None))
        .transpose()
        .map_err(|e| endpoint_error(e.to_string()))?;
    let name = config
        .name
        .clone()
        .unwrap_or_else(|| default_endpoint_name(&config.url));
    let metrics_path = match &config.metrics_path {
        Some(p) if p.is_empty() => None,
        Some(p) => Some(p.clone()),
        None => kind.default_metrics_path().map(str::to_owned),
    };
    Ok(Endpoint::new(EndpointSpec {
        index,
        name,
        pool: Arc::clone(pool),
        kind,
        weight: config.weight,
        upstream,
        grpc,
        metrics,
        served_names: config.served_names.clone(),
        health_path: config
            .health_path
            .clone()
            .unwrap_or_else(|| kind.default_health_path().to_owned()),
        metrics_path,
        breaker: Breaker::new(health.passive.clone()),
    }))
}

/// `host:port` (plus any path prefix) of a URL: short, and free of the
/// credentials a URL may carry.
pub(crate) fn default_endpoint_name(url: &str) -> String {
    match url.parse::<http::Uri>() {
        Ok(uri) => {
            let host = uri.host().unwrap_or("unknown");
            let mut name = match uri.port_u16() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_owned(),
            };
            let path = uri.path().trim_end_matches('/');
            name.push_str(path);
            name
        }
        Err(_) => "invalid-url".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_names_drop_credentials() {
        assert_eq!(
            default_endpoint_name("http://user:secret@10.0.0.1:8000/"),
            "10.0.0.1:8000"
        );
        assert_eq!(
            default_endpoint_name("https://api.example.com/openai"),
            "api.example.com/openai"
        );
    }
}
