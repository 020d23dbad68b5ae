//! GPU telemetry: what a node's GPUs hold and do, read from NVML on the
//! node itself, from a `switchyard agent` on it, or from a DCGM exporter.
//! One reading type serves all three; it is also the agent's JSON.

pub mod dcgm;
pub mod nvml;

use serde::{Deserialize, Serialize};

/// One GPU at one moment. Fields a source cannot give are `None`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GpuReading {
    pub index: u32,
    pub uuid: String,
    pub name: String,
    pub memory_total_bytes: u64,
    pub memory_used_bytes: u64,
    /// Percent of time a kernel ran over the driver's last sample period.
    pub utilization_gpu_percent: Option<u32>,
    /// Percent of time device memory was read or written.
    pub utilization_memory_percent: Option<u32>,
    pub temperature_celsius: Option<u32>,
    pub power_watts: Option<f64>,
    /// NVML's clock-throttle (clock event) reasons bitmask; 0 is none.
    pub throttle_reasons: Option<u64>,
    /// Uncorrected ECC errors since the driver loaded.
    pub ecc_uncorrected_volatile: Option<u64>,
}

impl GpuReading {
    /// Used memory as a fraction of total (0 when total is unknown).
    pub fn memory_fraction(&self) -> f64 {
        if self.memory_total_bytes == 0 {
            0.0
        } else {
            self.memory_used_bytes as f64 / self.memory_total_bytes as f64
        }
    }

    /// Whether `id` names this GPU: its index, or its UUID.
    pub fn is(&self, id: &str) -> bool {
        id == self.uuid || id.parse::<u32>().is_ok_and(|i| i == self.index)
    }
}

/// A source's GPUs, as `switchyard agent` serves them at `/v1/gpus`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuReport {
    /// `nvml` or `dcgm`.
    pub source: String,
    /// When the readings were taken, in milliseconds since the Unix epoch.
    pub read_at_unix_ms: u64,
    pub gpus: Vec<GpuReading>,
}

#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    /// The library could not be loaded or initialised (no driver, no GPU).
    #[error("NVML is not available: {0}")]
    NvmlUnavailable(String),
    #[error("NVML call {call} failed: {message}")]
    Nvml { call: &'static str, message: String },
    #[error("the DCGM exporter page has no GPU memory metrics (DCGM_FI_DEV_FB_USED)")]
    NoDcgmGpus,
}

/// How a reading turns into a metric value (`None`: not known).
pub type GpuField = fn(&GpuReading) -> Option<f64>;

/// The per-GPU metrics, as (name, Prometheus type, value): the agent's
/// `/metrics` and the router's own gauges use the same names and units.
pub const GPU_METRICS: [(&str, &str, GpuField); 8] = [
    ("switchyard_gpu_memory_used_bytes", "gauge", |g| {
        Some(g.memory_used_bytes as f64)
    }),
    ("switchyard_gpu_memory_total_bytes", "gauge", |g| {
        Some(g.memory_total_bytes as f64)
    }),
    ("switchyard_gpu_utilization_ratio", "gauge", |g| {
        g.utilization_gpu_percent.map(|p| f64::from(p) / 100.0)
    }),
    ("switchyard_gpu_memory_utilization_ratio", "gauge", |g| {
        g.utilization_memory_percent.map(|p| f64::from(p) / 100.0)
    }),
    ("switchyard_gpu_temperature_celsius", "gauge", |g| {
        g.temperature_celsius.map(f64::from)
    }),
    ("switchyard_gpu_power_watts", "gauge", |g| g.power_watts),
    ("switchyard_gpu_throttle_reasons", "gauge", |g| {
        g.throttle_reasons.map(|r| r as f64)
    }),
    ("switchyard_gpu_ecc_uncorrected_errors", "counter", |g| {
        g.ecc_uncorrected_volatile.map(|e| e as f64)
    }),
];

/// Prometheus text for a set of readings (the agent's `/metrics`).
pub fn prometheus_text(report: &GpuReport) -> String {
    let mut out = String::new();
    for (name, kind, value) in GPU_METRICS {
        out.push_str(&format!("# TYPE {name} {kind}\n"));
        for gpu in &report.gpus {
            if let Some(v) = value(gpu) {
                out.push_str(&format!(
                    "{name}{{gpu=\"{}\",uuid=\"{}\"}} {v}\n",
                    gpu.index,
                    escape(&gpu.uuid)
                ));
            }
        }
    }
    out
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gpu() -> GpuReading {
        GpuReading {
            index: 1,
            uuid: "GPU-abc".into(),
            name: "H100".into(),
            memory_total_bytes: 80,
            memory_used_bytes: 20,
            utilization_gpu_percent: Some(50),
            utilization_memory_percent: None,
            temperature_celsius: Some(40),
            power_watts: Some(100.5),
            throttle_reasons: Some(0),
            ecc_uncorrected_volatile: Some(0),
        }
    }

    #[test]
    fn ids_are_indices_or_uuids() {
        let g = gpu();
        assert!(g.is("1") && g.is("GPU-abc"));
        assert!(!g.is("0") && !g.is("GPU-xyz"));
        assert_eq!(g.memory_fraction(), 0.25);
    }

    #[test]
    fn prometheus_text_skips_unknown_fields() {
        let report = GpuReport {
            source: "nvml".into(),
            read_at_unix_ms: 0,
            gpus: vec![gpu()],
        };
        let text = prometheus_text(&report);
        assert!(text.contains("switchyard_gpu_memory_used_bytes{gpu=\"1\",uuid=\"GPU-abc\"} 20\n"));
        assert!(
            text.contains("switchyard_gpu_utilization_ratio{gpu=\"1\",uuid=\"GPU-abc\"} 0.5\n")
        );
        assert!(!text.contains("switchyard_gpu_memory_utilization_ratio{"));
    }
}
