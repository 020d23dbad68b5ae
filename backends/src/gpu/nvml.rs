//! Reading the local GPUs through NVML. The library is opened at run time
//! (nvml-wrapper loads it with libloading), so one binary runs with and
//! without NVIDIA drivers; without them, `open` returns an error and the
//! caller turns telemetry off.

use std::ffi::OsStr;
use std::path::Path;

use nvml_wrapper::Nvml;
use nvml_wrapper::enum_wrappers::device::{EccCounter, MemoryError, TemperatureSensor};
use nvml_wrapper::error::NvmlError;

use super::{GpuError, GpuReading};

pub struct NvmlReader {
    nvml: Nvml,
}

impl NvmlReader {
    /// Opens NVML: `library` is a path to `libnvidia-ml.so.1`, or `None` for
    /// the system loader's search (the driver's own library).
    pub fn open(library: Option<&Path>) -> Result<Self, GpuError> {
        let mut builder = Nvml::builder();
        if let Some(path) = library {
            builder.lib_path(OsStr::new(path.as_os_str()));
        }
        let nvml = builder
            .init()
            .map_err(|e| GpuError::NvmlUnavailable(e.to_string()))?;
        Ok(Self { nvml })
    }

    /// The driver version, for the log line that says telemetry is on.
    pub fn driver_version(&self) -> Option<String> {
        self.nvml.sys_driver_version().ok()
    }

    /// Every GPU's reading. Blocking (NVML calls take microseconds to
    /// milliseconds): call it off the async runtime's workers.
    pub fn read(&self) -> Result<Vec<GpuReading>, GpuError> {
        let count = self.nvml.device_count().map_err(failed("device_count"))?;
        let mut gpus = Vec::with_capacity(count as usize);
        for index in 0..count {
            let device = self
                .nvml
                .device_by_index(index)
                .map_err(failed("device_by_index"))?;
            let memory = device.memory_info().map_err(failed("memory_info"))?;
            let utilization = device.utilization_rates().ok();
            gpus.push(GpuReading {
                index,
                uuid: device.uuid().map_err(failed("uuid"))?,
                name: device.name().unwrap_or_default(),
                memory_total_bytes: memory.total,
                memory_used_bytes: memory.used,
                utilization_gpu_percent: utilization.as_ref().map(|u| u.gpu),
                utilization_memory_percent: utilization.as_ref().map(|u| u.memory),
                temperature_celsius: device.temperature(TemperatureSensor::Gpu).ok(),
                // NVML reports milliwatts.
                power_watts: device.power_usage().ok().map(|mw| f64::from(mw) / 1000.0),
                throttle_reasons: device.current_throttle_reasons().ok().map(|r| r.bits()),
                // Not every GPU has ECC; unsupported is simply unknown.
                ecc_uncorrected_volatile: device
                    .total_ecc_errors(MemoryError::Uncorrected, EccCounter::Volatile)
                    .ok(),
            });
        }
        Ok(gpus)
    }
}

fn failed(call: &'static str) -> impl Fn(NvmlError) -> GpuError {
    move |e| GpuError::Nvml {
        call,
        message: e.to_string(),
    }
}
