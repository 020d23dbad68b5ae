//! Checks of the spill-over settings: providers and each model's `spill`.

use super::locate::PathSegment;
use super::spill_types::{ProviderKind, SpillConfig};
use super::types::Config;
use super::validate::{ValidationReport, at, check_timeouts, check_url};

pub fn check(config: &Config, report: &mut ValidationReport) {
    for (name, provider) in &config.providers {
        let field = |f: &str| at(&["providers", name, f]);
        match (&provider.url, provider.kind) {
            (None, ProviderKind::Azure) => report.errors.push((
                field("url"),
                "azure needs the resource's URL, like https://NAME.openai.azure.com".into(),
            )),
            (Some(url), _) => {
                if let Err(message) = check_url(url) {
                    report.errors.push((field("url"), message));
                }
            }
            (None, _) => {}
        }
        if provider.api_key_env.is_empty() {
            report
                .errors
                .push((field("api_key_env"), "names no variable".into()));
        } else if std::env::var_os(&provider.api_key_env).is_none() {
            report.warnings.push((
                field("api_key_env"),
                format!(
                    "environment variable `{}` is not set; `serve` will refuse to start",
                    provider.api_key_env
                ),
            ));
        }
        if provider.max_attempts == 0 {
            report
                .errors
                .push((field("max_attempts"), "must be at least 1".into()));
        }
        check_timeouts(&provider.timeouts, field("timeouts"), &mut report.errors);
        if let Some(budget) = &provider.budget {
            let mut path = field("budget");
            if !(budget.usd.is_finite() && budget.usd >= 0.0) {
                path.push(PathSegment::key("usd"));
                report.errors.push((path, "must be a number >= 0".into()));
            } else if budget.period.is_zero() {
                path.push(PathSegment::key("period"));
                report.errors.push((path, "must be greater than 0".into()));
            }
        }
    }
    for (model_name, model) in &config.models {
        if let Some(spill) = &model.spill {
            check_model(config, model_name, spill, report);
        }
    }
}

fn check_model(config: &Config, model: &str, spill: &SpillConfig, report: &mut ValidationReport) {
    let field = |f: &str| at(&["models", model, "spill", f]);
    let errors = &mut report.errors;
    if spill.to.is_empty() {
        errors.push((field("to"), "lists no provider".into()));
    }
    for (i, target) in spill.to.iter().enumerate() {
        let mut path = field("to");
        path.push(PathSegment::Index(i));
        let sub = |f: &str| {
            let mut p = path.clone();
            p.push(PathSegment::key(f));
            p
        };
        if !config.providers.contains_key(&target.provider) {
            let known: Vec<&str> = config.providers.keys().map(String::as_str).collect();
            errors.push((
                sub("provider"),
                format!(
                    "no provider named `{}` (providers: {})",
                    target.provider,
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        }
        if target.model.is_empty() {
            errors.push((sub("model"), "must not be empty".into()));
        }
        if target.max_tokens == 0 {
            errors.push((sub("max_tokens"), "must be at least 1".into()));
        }
        let p = target.price;
        let prices = [
            Some(p.input_per_mtok),
            Some(p.output_per_mtok),
            p.cached_input_per_mtok,
        ];
        if prices
            .into_iter()
            .flatten()
            .any(|v| !(v.is_finite() && v >= 0.0))
        {
            errors.push((sub("price"), "prices must be numbers >= 0".into()));
        }
    }
    if spill.ttft_target.is_zero() {
        errors.push((field("ttft_target"), "must be greater than 0".into()));
    }
    if !(spill.enter_at.is_finite() && spill.enter_at > 0.0) {
        errors.push((field("enter_at"), "must be a number > 0".into()));
    }
    if !(spill.exit_at.is_finite() && spill.exit_at > 0.0 && spill.exit_at <= spill.enter_at) {
        errors.push((
            field("exit_at"),
            "must be > 0 and not above enter_at (the band between them keeps the state from flapping)"
                .into(),
        ));
    }
    let bands = [
        (
            "kv_cache_high",
            spill.kv_cache_high.map(f64::from),
            f64::from(spill.kv_cache_low),
        ),
        (
            "gpu_memory_high",
            spill.gpu_memory_high,
            spill.gpu_memory_low,
        ),
        (
            "gpu_utilization_high",
            spill.gpu_utilization_high,
            spill.gpu_utilization_low,
        ),
    ];
    for (name, high, low) in bands {
        if let Some(high) = high
            && !((0.0..=1.0).contains(&high) && (0.0..=high).contains(&low))
        {
            errors.push((
                field(name),
                "must be between 0 and 1, and not below its `_low` mark".into(),
            ));
        }
    }
    if !(spill.max_fraction.is_finite() && (0.0..=1.0).contains(&spill.max_fraction)) {
        errors.push((field("max_fraction"), "must be between 0 and 1".into()));
    }
    for (name, value) in [
        ("window", spill.window),
        ("evaluate_every", spill.evaluate_every),
    ] {
        if value.is_zero() {
            errors.push((field(name), "must be greater than 0".into()));
        }
    }
}
