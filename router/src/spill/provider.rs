//! The configured external providers, built once: their clients, retry
//! settings and budgets.

use std::collections::HashMap;
use std::sync::Arc;

use switchyard_backends::providers::{ProviderApi, ProviderClient, RetryPolicy};
use switchyard_backends::{HttpClient, HttpClientConfig, build_http_client};

use super::budget::Budget;
use crate::config::{Config, ProviderConfig, ProviderKind, TimeoutsConfig};

pub struct Provider {
    pub name: Arc<str>,
    pub kind: ProviderKind,
    pub client: ProviderClient,
    pub http: HttpClient,
    pub timeouts: TimeoutsConfig,
    pub retry: RetryPolicy,
    pub budget: Option<Arc<Budget>>,
    /// `provider/NAME`, for headers and metric labels.
    pub label: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderBuildError {
    #[error("provider `{provider}`: environment variable `{var}` (api_key_env) is not set")]
    MissingKey { provider: String, var: String },
    #[error("provider `{provider}`: {message}")]
    Invalid { provider: String, message: String },
}

pub fn build_all(config: &Config) -> Result<HashMap<String, Arc<Provider>>, ProviderBuildError> {
    config
        .providers
        .iter()
        .map(|(name, provider)| Ok((name.clone(), Arc::new(build(name, provider)?))))
        .collect()
}

fn build(name: &str, config: &ProviderConfig) -> Result<Provider, ProviderBuildError> {
    let key = std::env::var(&config.api_key_env).map_err(|_| ProviderBuildError::MissingKey {
        provider: name.to_owned(),
        var: config.api_key_env.clone(),
    })?;
    let (api, default_url) = match config.kind {
        ProviderKind::OpenAi => (ProviderApi::OpenAi, Some("https://api.openai.com/v1")),
        ProviderKind::Azure => (
            ProviderApi::Azure {
                api_version: config.api_version.clone(),
            },
            None,
        ),
        ProviderKind::Anthropic => (
            ProviderApi::Anthropic {
                version: config.anthropic_version.clone(),
            },
            Some("https://api.anthropic.com"),
        ),
    };
    let invalid = |message: String| ProviderBuildError::Invalid {
        provider: name.to_owned(),
        message,
    };
    let url = config
        .url
        .as_deref()
        .or(default_url)
        .ok_or_else(|| invalid("needs a url".into()))?;
    let client = ProviderClient::new(api, url, &key).map_err(|e| invalid(e.to_string()))?;
    let http = build_http_client(&HttpClientConfig {
        connect_timeout: config.timeouts.connect,
        ..HttpClientConfig::default()
    });
    Ok(Provider {
        name: Arc::from(name),
        kind: config.kind,
        client,
        http,
        timeouts: config.timeouts,
        retry: RetryPolicy {
            max_attempts: config.max_attempts,
            max_retry_after: config.max_retry_after,
            backoff: std::time::Duration::from_millis(250),
        },
        budget: config
            .budget
            .as_ref()
            .map(|b| Arc::new(Budget::new(name, b))),
        label: format!("provider/{name}"),
    })
}
