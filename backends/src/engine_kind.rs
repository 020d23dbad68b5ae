use std::fmt;
use std::str::FromStr;

/// The family of server behind an endpoint. It decides where health and load
/// signals live and how to read them; the request wire format is the same
/// OpenAI-compatible API for all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineKind {
    Vllm,
    Sglang,
    LlamaCpp,
    /// Any OpenAI-compatible server, including external APIs: no engine metrics.
    OpenAi,
}

impl EngineKind {
    pub const ALL: [EngineKind; 4] = [Self::Vllm, Self::Sglang, Self::LlamaCpp, Self::OpenAi];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vllm => "vllm",
            Self::Sglang => "sglang",
            Self::LlamaCpp => "llamacpp",
            Self::OpenAi => "openai",
        }
    }

    /// Default path for the active health probe.
    pub fn default_health_path(self) -> &'static str {
        match self {
            Self::Vllm | Self::Sglang | Self::LlamaCpp => "/health",
            Self::OpenAi => "/v1/models",
        }
    }

    /// Default path of the engine's Prometheus metrics, if it has any.
    pub fn default_metrics_path(self) -> Option<&'static str> {
        match self {
            Self::Vllm | Self::Sglang | Self::LlamaCpp => Some("/metrics"),
            Self::OpenAi => None,
        }
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown endpoint kind `{0}` (expected one of: vllm, sglang, llamacpp, openai)")]
pub struct UnknownEngineKind(String);

impl FromStr for EngineKind {
    type Err = UnknownEngineKind;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownEngineKind(s.to_owned()))
    }
}
