//! GPU telemetry settings: how often sources are polled, and where each
//! endpoint's GPUs are read.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How often GPU telemetry is polled, and when a reading is too old.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GpuTelemetryConfig {
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Readings older than this are stale: shown as such and not relied on.
    #[serde(with = "humantime_serde")]
    pub stale_after: Duration,
    /// `libnvidia-ml.so.1` to load for `source: local` (default: the system
    /// loader's search, which finds the driver's library).
    pub nvml_library: Option<PathBuf>,
}

impl Default for GpuTelemetryConfig {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            stale_after: Duration::from_secs(5),
            nvml_library: None,
        }
    }
}

/// An endpoint's GPUs: which source reports them, and which of its GPUs.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointGpusConfig {
    pub source: GpuSourceKind,
    /// The agent's base URL (`agent`) or the exporter's metrics URL (`dcgm`).
    #[serde(default)]
    pub url: Option<String>,
    /// GPU indices or UUIDs; empty means every GPU of the source.
    #[serde(default)]
    pub devices: Vec<GpuId>,
}

/// A GPU by its index on the node (`0`) or its UUID (`GPU-...`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum GpuId {
    Index(u32),
    Uuid(String),
}

impl std::fmt::Display for GpuId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GpuId::Index(i) => write!(f, "{i}"),
            GpuId::Uuid(u) => f.write_str(u),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GpuSourceKind {
    /// NVML on the router's own host.
    Local,
    /// A `switchyard agent` on the GPU node (`GET URL/v1/gpus`).
    Agent,
    /// A DCGM exporter's `/metrics` page.
    Dcgm,
}
