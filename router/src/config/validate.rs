//! Checks that need more than one field, or more than a type, to decide.

use std::collections::HashSet;
use std::time::Duration;

use http::Uri;
use switchyard_backends::EngineKind;

use super::gpu_types::GpuSourceKind;
use super::locate::PathSegment;
use super::types::{Config, PrefixIndexKind, TimeoutsConfig, TokenizerKind};

pub(super) type Issue = (Vec<PathSegment>, String);

#[derive(Debug, Default)]
pub struct ValidationReport {
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
}

pub(super) fn at(parts: &[&str]) -> Vec<PathSegment> {
    parts.iter().map(|p| PathSegment::key(p)).collect()
}

fn check_cache_aware(
    pool: &super::types::PoolConfig,
    pool_path: &[PathSegment],
    errors: &mut Vec<Issue>,
) {
    let c = &pool.cache_aware;
    let mut problems: Vec<(&str, String)> = Vec::new();
    let mut problem = |field: &'static str, message: String| problems.push((field, message));
    if pool.endpoints.len() > crate::prefix::MAX_ENDPOINTS {
        let mut path = pool_path.to_vec();
        path.push(PathSegment::key("endpoints"));
        errors.push((
            path,
            format!(
                "cache_aware supports at most {} endpoints per pool",
                crate::prefix::MAX_ENDPOINTS
            ),
        ));
    }
    if c.block_bytes == 0 {
        problem("block_bytes", "must be at least 1".into());
    }
    if c.max_blocks == 0 {
        problem("max_blocks", "must be at least 1".into());
    }
    if c.engine_cache_tokens == Some(0) {
        problem(
            "engine_cache_tokens",
            "must be at least 1 (leave it out to read it from the engines)".into(),
        );
    }
    if !(c.bytes_per_token.is_finite() && c.bytes_per_token > 0.0) {
        problem("bytes_per_token", "must be a number > 0".into());
    }
    for (field, value) in [
        ("load_cost_bytes", c.load_cost_bytes),
        ("load_cost_tokens", c.load_cost_tokens),
        ("pending_prefill_weight", c.pending_prefill_weight),
    ] {
        if !(value.is_finite() && value >= 0.0) {
            problem(field, "must be a number >= 0".into());
        }
    }
    if !(c.balance_rel.is_finite() && c.balance_rel >= 1.0) {
        problem("balance_rel", "must be >= 1".into());
    }
    if !(c.fair_share_slack.is_finite() && c.fair_share_slack >= 0.0) {
        problem("fair_share_slack", "must be a number >= 0".into());
    }
    if !(c.recent_half_life.is_finite() && c.recent_half_life >= 1.0) {
        problem("recent_half_life", "must be at least 1 decision".into());
    }
    if !(0.0..=1.0).contains(&c.kv_usage_high) {
        problem("kv_usage_high", "must be between 0 and 1".into());
    }
    if c.block_tokens == 0 {
        problem("block_tokens", "must be at least 1".into());
    }
    if !(c.load_cost_tokens.is_finite() && c.load_cost_tokens >= 0.0) {
        problem("load_cost_tokens", "must be a number >= 0".into());
    }
    if !(c.audit_warn_error.is_finite() && c.audit_warn_error > 0.0) {
        problem("audit_warn_error", "must be a number > 0".into());
    }
    if let Some(tokenizer) = &c.tokenizer
        && tokenizer.kind == TokenizerKind::Huggingface
        && tokenizer.path.is_none()
    {
        problem(
            "tokenizer",
            "a huggingface tokenizer needs `path` (a model directory or tokenizer.json)".into(),
        );
    }
    if c.index == PrefixIndexKind::Events {
        if c.tokenizer.is_none() {
            problem(
                "index",
                "`events` keys the index on the engines' tokens: set `tokenizer`".into(),
            );
        }
        for (i, endpoint) in pool.endpoints.iter().enumerate() {
            if endpoint.kv_events.is_none() {
                let mut path = pool_path.to_vec();
                path.extend([PathSegment::key("endpoints"), PathSegment::Index(i)]);
                errors.push((
                    path,
                    "cache_aware with `index: events` needs `kv_events` on every endpoint".into(),
                ));
            }
        }
    }
    for (field, message) in problems {
        let mut path = pool_path.to_vec();
        path.extend([PathSegment::key("cache_aware"), PathSegment::key(field)]);
        errors.push((path, message));
    }
}

pub fn validate(config: &Config) -> ValidationReport {
    let mut report = ValidationReport::default();
    let errors = &mut report.errors;

    if config.listeners.is_empty() {
        errors.push((
            at(&["listeners"]),
            "at least one listener is required".into(),
        ));
    }
    let mut addresses = HashSet::new();
    for (i, listener) in config.listeners.iter().enumerate() {
        if !addresses.insert(listener.address) {
            let mut path = at(&["listeners"]);
            path.extend([PathSegment::Index(i), PathSegment::key("address")]);
            errors.push((path, format!("address {} is used twice", listener.address)));
        }
    }
    let gpu = &config.gpu_telemetry;
    if gpu.interval.is_zero() {
        errors.push((
            at(&["gpu_telemetry", "interval"]),
            "must be greater than 0".into(),
        ));
    }
    if gpu.stale_after < gpu.interval {
        errors.push((
            at(&["gpu_telemetry", "stale_after"]),
            "must not be shorter than interval".into(),
        ));
    }
    if config.server.max_body_bytes == 0 {
        errors.push((
            at(&["server", "max_body_bytes"]),
            "must be greater than 0".into(),
        ));
    }
    if let Err(e) = tracing_subscriber::EnvFilter::try_new(&config.logging.level) {
        errors.push((
            at(&["logging", "level"]),
            format!("not a valid log filter: {e}"),
        ));
    }
    check_timeouts(&config.timeouts, at(&["timeouts"]), errors);

    let health = &config.health;
    for (name, value) in [
        ("unhealthy_threshold", health.active.unhealthy_threshold),
        ("healthy_threshold", health.active.healthy_threshold),
    ] {
        if value == 0 {
            errors.push((at(&["health", "active", name]), "must be at least 1".into()));
        }
    }
    if health.active.enabled && health.active.interval.is_zero() {
        errors.push((
            at(&["health", "active", "interval"]),
            "must be greater than 0".into(),
        ));
    }
    if health.passive.consecutive_failures == 0 {
        errors.push((
            at(&["health", "passive", "consecutive_failures"]),
            "must be at least 1".into(),
        ));
    }
    if health.passive.max_ejection < health.passive.base_ejection {
        errors.push((
            at(&["health", "passive", "max_ejection"]),
            "must not be shorter than base_ejection".into(),
        ));
    }
    if config.retries.max_attempts == 0 {
        errors.push((
            at(&["retries", "max_attempts"]),
            "must be at least 1 (1 means no retries)".into(),
        ));
    }
    if config.scrape.enabled && config.scrape.interval.is_zero() {
        errors.push((at(&["scrape", "interval"]), "must be greater than 0".into()));
    }

    if config.pools.is_empty() {
        errors.push((at(&["pools"]), "at least one pool is required".into()));
    }
    for (pool_name, pool) in &config.pools {
        let pool_path = at(&["pools", pool_name]);
        if pool.endpoints.is_empty() {
            let mut path = pool_path.clone();
            path.push(PathSegment::key("endpoints"));
            errors.push((path, "a pool needs at least one endpoint".into()));
        }
        if let Some(timeouts) = &pool.timeouts {
            let mut path = pool_path.clone();
            path.push(PathSegment::key("timeouts"));
            check_timeouts(timeouts, path, errors);
        }
        if pool.max_in_flight_per_endpoint == Some(0) {
            let mut path = pool_path.clone();
            path.push(PathSegment::key("max_in_flight_per_endpoint"));
            errors.push((path, "must be at least 1 (omit it for no limit)".into()));
        }
        if pool.policy == super::types::PolicyKind::CacheAware {
            check_cache_aware(pool, &pool_path, errors);
        }
        let mut names = HashSet::new();
        for (i, endpoint) in pool.endpoints.iter().enumerate() {
            let mut ep_path = pool_path.clone();
            ep_path.extend([PathSegment::key("endpoints"), PathSegment::Index(i)]);
            let field = |f: &str| {
                let mut p = ep_path.clone();
                p.push(PathSegment::key(f));
                p
            };
            if let Err(message) = check_url(&endpoint.url) {
                errors.push((field("url"), message));
            }
            for (f, url) in [
                ("grpc_url", &endpoint.grpc_url),
                ("metrics_url", &endpoint.metrics_url),
            ] {
                if let Some(url) = url
                    && let Err(message) = check_url(url)
                {
                    errors.push((field(f), message));
                }
            }
            if let Err(e) = endpoint.kind.parse::<EngineKind>() {
                errors.push((field("kind"), e.to_string()));
            }
            if let Some(gpus) = &endpoint.gpus {
                let mut gpu_field = field("gpus");
                gpu_field.push(PathSegment::key("url"));
                match (gpus.source, &gpus.url) {
                    (GpuSourceKind::Local, Some(_)) => errors.push((
                        gpu_field,
                        "`source: local` reads this host's NVML and takes no url".into(),
                    )),
                    (GpuSourceKind::Agent | GpuSourceKind::Dcgm, None) => errors.push((
                        gpu_field,
                        "the agent's base URL or the DCGM exporter's metrics URL is required"
                            .into(),
                    )),
                    (_, Some(url)) => {
                        if let Err(message) = check_url(url) {
                            errors.push((gpu_field, message));
                        }
                    }
                    (GpuSourceKind::Local, None) => {}
                }
            }
            if endpoint.weight == 0 {
                errors.push((field("weight"), "must be at least 1".into()));
            }
            let label = endpoint
                .name
                .clone()
                .unwrap_or_else(|| endpoint.url.clone());
            if !names.insert(label.clone()) {
                errors.push((
                    field("url"),
                    format!("endpoint `{label}` appears twice in this pool"),
                ));
            }
            for (f, value) in [
                ("health_path", &endpoint.health_path),
                ("metrics_path", &endpoint.metrics_path),
            ] {
                if let Some(p) = value
                    && !p.is_empty()
                    && !p.starts_with('/')
                {
                    errors.push((field(f), "must start with `/`".into()));
                }
            }
            if let Some(var) = &endpoint.api_key_env {
                if var.is_empty() {
                    errors.push((field("api_key_env"), "names no variable".into()));
                } else if std::env::var_os(var).is_none() {
                    report.warnings.push((
                        field("api_key_env"),
                        format!(
                            "environment variable `{var}` is not set; `serve` will refuse to start"
                        ),
                    ));
                }
            }
            for public in endpoint.served_names.keys() {
                if !config.models.contains_key(public) {
                    let mut p = field("served_names");
                    p.push(PathSegment::key(public));
                    report
                        .warnings
                        .push((p, format!("no model named `{public}` is configured")));
                }
            }
        }
    }

    if config.models.is_empty() {
        errors.push((at(&["models"]), "at least one model is required".into()));
    }
    for (model_name, model) in &config.models {
        if !config.pools.contains_key(&model.pool) {
            let known: Vec<&str> = config.pools.keys().map(String::as_str).collect();
            errors.push((
                at(&["models", model_name, "pool"]),
                format!(
                    "no pool named `{}` (pools: {})",
                    model.pool,
                    known.join(", ")
                ),
            ));
        }
        if model.served_name.as_deref() == Some("") {
            errors.push((
                at(&["models", model_name, "served_name"]),
                "must not be empty".into(),
            ));
        }
        if let Some(generate) = &model.generate {
            check_generate(config, model_name, model, generate, errors);
        }
        if let Some(batching) = &model.batching {
            check_batching(config, model_name, model, batching, errors);
        }
    }
    super::validate_spill::check(config, &mut report);
    report
}

fn check_batching(
    config: &Config,
    model_name: &str,
    model: &super::model_types::ModelConfig,
    batching: &super::model_types::BatchingConfig,
    errors: &mut Vec<Issue>,
) {
    let at_field = |f: &str| at(&["models", model_name, "batching", f]);
    if batching.max_batch_size < 2 {
        errors.push((
            at_field("max_batch_size"),
            "must be at least 2 (1 would never batch)".into(),
        ));
    }
    if batching.max_queue_delay > Duration::from_secs(1) {
        errors.push((
            at_field("max_queue_delay"),
            "must be at most 1s: every request may wait this long".into(),
        ));
    }
    if let Some(size) = batching
        .preferred_batch_sizes
        .iter()
        .find(|&&s| s == 0 || s > batching.max_batch_size)
    {
        errors.push((
            at_field("preferred_batch_sizes"),
            format!(
                "{size} is not between 1 and max_batch_size ({})",
                batching.max_batch_size
            ),
        ));
    }
    if let Some(path) = &batching.tokenizer
        && !path.exists()
    {
        errors.push((
            at_field("tokenizer"),
            format!("{} does not exist", path.display()),
        ));
    }
    if batching.max_queued == 0 {
        errors.push((at_field("max_queued"), "must be at least 1".into()));
    }
    if model.generate.is_some() {
        errors.push((
            at(&["models", model_name, "batching"]),
            "a generate model is an LLM the engine batches continuously; it is never batched by the router".into(),
        ));
    }
    let torchserve = config.pools.get(&model.pool).and_then(|pool| {
        pool.endpoints
            .iter()
            .position(|e| e.kind.parse::<EngineKind>().ok() == Some(EngineKind::TorchServe))
    });
    if let Some(index) = torchserve {
        errors.push((
            at(&["models", model_name, "batching"]),
            format!(
                "endpoint {index} of pool `{}` is TorchServe, which batches on the server \
                 (batchSize and maxBatchDelay in its model registration); the router passes its calls through",
                model.pool
            ),
        ));
    }
}

fn check_generate(
    config: &Config,
    model_name: &str,
    model: &super::model_types::ModelConfig,
    generate: &super::model_types::GenerateConfig,
    errors: &mut Vec<Issue>,
) {
    let at_field = |f: &str| at(&["models", model_name, "generate", f]);
    for (f, value) in [
        ("text_input", &generate.text_input),
        ("text_output", &generate.text_output),
    ] {
        if value.is_empty() {
            errors.push((at_field(f), "must name a field".into()));
        }
    }
    if let Some(path) = &generate.chat_template
        && !path.is_file()
    {
        errors.push((
            at_field("chat_template"),
            format!("{} is not a readable file", path.display()),
        ));
    }
    let not_triton = config.pools.get(&model.pool).and_then(|pool| {
        pool.endpoints
            .iter()
            .position(|e| e.kind.parse::<EngineKind>().ok() != Some(EngineKind::Triton))
    });
    if let Some(index) = not_triton {
        errors.push((
            at(&["models", model_name, "generate"]),
            format!(
                "the generate extension is Triton's: endpoint {index} of pool `{}` is not `kind: triton`",
                model.pool
            ),
        ));
    }
}

pub(super) fn check_timeouts(t: &TimeoutsConfig, path: Vec<PathSegment>, errors: &mut Vec<Issue>) {
    for (name, value) in [
        ("connect", t.connect),
        ("first_byte", t.first_byte),
        ("total", t.total),
    ] {
        if value.is_zero() {
            let mut p = path.clone();
            p.push(PathSegment::key(name));
            errors.push((p, "must be greater than 0".into()));
        }
    }
    if t.total < t.first_byte {
        let mut p = path;
        p.push(PathSegment::key("total"));
        errors.push((p, "must not be shorter than first_byte".into()));
    }
}

pub(super) fn check_url(url: &str) -> Result<(), String> {
    let uri: Uri = url.parse().map_err(|e| format!("not a valid URL: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => {
            return Err(format!(
                "scheme `{other}` is not supported (use http or https)"
            ));
        }
        None => return Err("needs a scheme, like http://host:port".into()),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("needs a host".into());
    }
    if uri.query().is_some() {
        return Err("must not have a query string".into());
    }
    Ok(())
}
