//! Configuration of the fake providers.

use std::time::Duration;

/// Settings of a [`FakeProvider`](crate::FakeProvider) (a FAKE of OpenAI,
/// Azure OpenAI and Anthropic for tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeConfig {
    /// The one key the fakes accept: as `Authorization: Bearer <key>`
    /// (OpenAI), `api-key: <key>` (Azure) or `x-api-key: <key>` (Anthropic).
    pub api_key: String,
    /// Time to first token of the fake replies: for a stream, the wait before the first content
    /// chunk; for a whole response, part of the wait before it is sent.
    pub ttft: Duration,
    /// Time between tokens (fake stream chunks) after the first one.
    pub token_interval: Duration,
    /// Words in a fake reply that no limit cuts short (finish reason `stop` /
    /// `end_turn`); a smaller `max_tokens` cuts it (`length` / `max_tokens`).
    pub default_max_words: u32,
    /// Azure deployment names the fake Azure resource has; empty: any name
    /// is a deployment. A deployment's model is reported as its name.
    pub azure_deployments: Vec<String>,
    /// Model names the fake OpenAI and Anthropic accept (and list at
    /// `GET /v1/models`); empty: any model name is accepted.
    pub models: Vec<String>,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            api_key: "fake-api-key".to_owned(),
            ttft: Duration::ZERO,
            token_interval: Duration::ZERO,
            default_max_words: 16,
            azure_deployments: Vec::new(),
            models: Vec::new(),
        }
    }
}
