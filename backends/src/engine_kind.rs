use std::fmt;
use std::str::FromStr;

/// The family of server behind an endpoint. It decides where health and load
/// signals live and how to read them, and which front-end protocols it can
/// serve: the OpenAI API for the LLM engines, KServe v2 for Triton, the
/// TorchServe API for TorchServe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EngineKind {
    Vllm,
    Sglang,
    LlamaCpp,
    /// Any OpenAI-compatible server, including external APIs: no engine metrics.
    OpenAi,
    /// Triton Inference Server (KServe v2 over HTTP and gRPC, generate extension).
    Triton,
    /// TorchServe (`/predictions` over HTTP, its own gRPC inference service).
    TorchServe,
}

impl EngineKind {
    pub const ALL: [EngineKind; 6] = [
        Self::Vllm,
        Self::Sglang,
        Self::LlamaCpp,
        Self::OpenAi,
        Self::Triton,
        Self::TorchServe,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vllm => "vllm",
            Self::Sglang => "sglang",
            Self::LlamaCpp => "llamacpp",
            Self::OpenAi => "openai",
            Self::Triton => "triton",
            Self::TorchServe => "torchserve",
        }
    }

    /// Default path for the active health probe.
    pub fn default_health_path(self) -> &'static str {
        match self {
            Self::Vllm | Self::Sglang | Self::LlamaCpp => "/health",
            Self::OpenAi => "/v1/models",
            Self::Triton => "/v2/health/ready",
            Self::TorchServe => "/ping",
        }
    }

    /// Default path of the engine's Prometheus metrics, if it has any.
    pub fn default_metrics_path(self) -> Option<&'static str> {
        match self {
            // Triton and TorchServe serve metrics on a port of their own
            // (the endpoint's `metrics_url`).
            Self::Vllm | Self::Sglang | Self::LlamaCpp | Self::Triton | Self::TorchServe => {
                Some("/metrics")
            }
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
#[error(
    "unknown endpoint kind `{0}` (expected one of: vllm, sglang, llamacpp, openai, triton, torchserve)"
)]
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
