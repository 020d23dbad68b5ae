use std::fmt;
use std::path::Path;

use super::locate::{PathSegment, locate_line};
use super::types::Config;
use super::validate::validate;

/// A configuration that parsed and validated, with the warnings that did not
/// stop it (such as an API-key variable that is not set in this shell).
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub config: Config,
    pub warnings: Vec<ConfigIssue>,
}

/// One problem found in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Dotted field path such as `pools.gpu.endpoints[0].url`.
    pub path: String,
    /// 1-based line of the field (or of its closest parent found).
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{line}: {}: {}", self.path, self.message),
            None => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{}", render_issues(source_name, issues))]
    Invalid {
        source_name: String,
        issues: Vec<ConfigIssue>,
    },
}

fn render_issues(source_name: &str, issues: &[ConfigIssue]) -> String {
    let mut out = format!("{source_name}: {} error(s)", issues.len());
    for issue in issues {
        out.push_str(&format!("\n  {source_name}:{issue}"));
    }
    out
}

pub fn load_file(path: &Path) -> Result<LoadedConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.display().to_string(),
        source,
    })?;
    load_str(&text, &path.display().to_string())
}

pub fn load_str(text: &str, source_name: &str) -> Result<LoadedConfig, ConfigError> {
    let invalid = |issues| ConfigError::Invalid {
        source_name: source_name.to_owned(),
        issues,
    };
    let deserializer = serde_norway::Deserializer::from_str(text);
    let config: Config = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let line = inner.location().map(|l| l.line());
        let message = strip_location(&inner.to_string());
        // serde_norway prefixes the path itself; it is reported separately.
        let message = message
            .strip_prefix(&format!("{path}: "))
            .map(str::to_owned)
            .unwrap_or(message);
        invalid(vec![ConfigIssue {
            path: if path == "." {
                "(top level)".into()
            } else {
                path
            },
            line,
            message,
        }])
    })?;
    let report = validate(&config);
    let place = |(segments, message): (Vec<PathSegment>, String)| ConfigIssue {
        path: PathSegment::render(&segments),
        line: locate_line(text, &segments),
        message,
    };
    let errors: Vec<ConfigIssue> = report.errors.into_iter().map(place).collect();
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    Ok(LoadedConfig {
        config,
        warnings: report.warnings.into_iter().map(place).collect(),
    })
}

/// serde_norway appends " at line L column C"; the line is reported
/// separately, so drop it from the message.
fn strip_location(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(text: &str) -> Vec<ConfigIssue> {
        match load_str(text, "test.yaml") {
            Err(ConfigError::Invalid { issues, .. }) => issues,
            other => panic!("expected errors, got {other:?}"),
        }
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let loaded = load_str(
            "pools:\n  p:\n    endpoints:\n      - url: http://a:1\nmodels:\n  m:\n    pool: p\n",
            "t",
        )
        .unwrap();
        let c = loaded.config;
        assert_eq!(c.listeners.len(), 1);
        assert_eq!(
            c.pools["p"].policy,
            crate::config::PolicyKind::LeastConnections
        );
        assert_eq!(c.pools["p"].endpoints[0].kind, "openai");
        assert_eq!(c.retries.max_attempts, 3);
    }

    #[test]
    fn type_errors_name_path_and_line() {
        let found = issues("pools:\n  p:\n    policy: fastest\n    endpoints: []\nmodels: {}\n");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path, "pools.p.policy");
        assert_eq!(found[0].line, Some(3));
        assert!(
            found[0].message.starts_with("unknown variant `fastest`"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn cache_aware_settings_are_checked() {
        let found = issues(
            "pools:\n  p:\n    policy: cache_aware\n    cache_aware:\n      block_bytes: 0\n      balance_rel: 0.5\n    endpoints:\n      - url: http://a:1\nmodels:\n  m:\n    pool: p\n",
        );
        let paths: Vec<&str> = found.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "pools.p.cache_aware.block_bytes",
                "pools.p.cache_aware.balance_rel"
            ],
            "{found:?}"
        );
        assert_eq!(found[0].line, Some(5));
    }

    #[test]
    fn unknown_fields_are_errors() {
        let found = issues(
            "pools:\n  p:\n    endpoints:\n      - url: http://a:1\n        wieght: 2\nmodels: {}\n",
        );
        assert_eq!(found[0].line, Some(5));
        assert!(
            found[0].message.contains("unknown field `wieght`"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn semantic_errors_name_path_and_line() {
        let text = "pools:\n  p:\n    endpoints:\n      - url: http://a:1\n      - url: nope\n        weight: 0\nmodels:\n  m:\n    pool: q\n";
        let found = issues(text);
        let at = |path: &str| found.iter().find(|i| i.path == path).map(|i| i.line);
        assert_eq!(at("pools.p.endpoints[1].url"), Some(Some(5)));
        assert_eq!(at("pools.p.endpoints[1].weight"), Some(Some(6)));
        assert_eq!(at("models.m.pool"), Some(Some(9)));
    }

    #[test]
    fn the_event_index_needs_a_tokenizer_and_every_endpoints_events() {
        let text = "pools:\n  p:\n    policy: cache_aware\n    cache_aware:\n      index: events\n    endpoints:\n      - url: http://a:1\n        kv_events: { endpoint: \"tcp://a:5557\" }\n      - url: http://b:1\nmodels:\n  m:\n    pool: p\n";
        let found = issues(text);
        let paths: Vec<&str> = found.iter().map(|i| i.path.as_str()).collect();
        assert!(paths.contains(&"pools.p.cache_aware.index"), "{paths:?}");
        assert!(paths.contains(&"pools.p.endpoints[1]"), "{paths:?}");
        assert!(!paths.contains(&"pools.p.endpoints[0]"), "{paths:?}");
    }

    #[test]
    fn gpu_sources_need_the_right_url() {
        let text = "gpu_telemetry:\n  interval: 2s\n  stale_after: 1s\npools:\n  p:\n    endpoints:\n      - url: http://a:1\n        gpus: {source: agent}\n      - url: http://b:1\n        gpus: {source: local, url: \"http://b:9401\"}\n      - url: http://c:1\n        gpus: {source: dcgm, url: \"http://c:9400/metrics\", devices: [0, GPU-x]}\nmodels:\n  m:\n    pool: p\n";
        let found = issues(text);
        let paths: Vec<&str> = found.iter().map(|i| i.path.as_str()).collect();
        assert!(
            paths.contains(&"pools.p.endpoints[0].gpus.url"),
            "{paths:?}"
        );
        assert!(
            paths.contains(&"pools.p.endpoints[1].gpus.url"),
            "{paths:?}"
        );
        assert!(
            !paths.contains(&"pools.p.endpoints[2].gpus.url"),
            "{paths:?}"
        );
        assert!(paths.contains(&"gpu_telemetry.stale_after"), "{paths:?}");
    }

    #[test]
    fn missing_api_key_variable_is_a_warning_that_names_only_the_variable() {
        let text = "pools:\n  p:\n    endpoints:\n      - url: https://api.example.com\n        api_key_env: SWITCHYARD_TEST_SURELY_UNSET\nmodels:\n  m:\n    pool: p\n";
        let loaded = load_str(text, "t").unwrap();
        assert_eq!(loaded.warnings.len(), 1);
        assert_eq!(loaded.warnings[0].line, Some(5));
        assert!(
            loaded.warnings[0]
                .message
                .contains("SWITCHYARD_TEST_SURELY_UNSET")
        );
    }

    #[test]
    fn the_shipped_example_is_valid() {
        let text = include_str!("../../examples/vllm-pair.yaml");
        let loaded = load_str(text, "vllm-pair.yaml").unwrap();
        assert_eq!(loaded.config.models.len(), 2);
    }
}
