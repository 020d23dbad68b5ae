//! Reading GPUs from a DCGM exporter's `/metrics` page (NVIDIA's
//! dcgm-exporter, default counters): framebuffer memory in MiB, utilisation
//! in percent, temperature, power, the clock-throttle bitmask and ECC
//! counts, each labelled with the GPU's index (`gpu`) and `UUID`.

use std::collections::BTreeMap;

use super::{GpuError, GpuReading};

const MIB: u64 = 1 << 20;

/// The GPUs on a DCGM exporter page, in index order.
pub fn parse(text: &str) -> Result<Vec<GpuReading>, GpuError> {
    let mut by_index: BTreeMap<u32, Partial> = BTreeMap::new();
    for line in text.lines() {
        let Some((name, labels, value)) = parse_line(line) else {
            continue;
        };
        let Some(index) = label(&labels, "gpu").and_then(|g| g.parse::<u32>().ok()) else {
            continue;
        };
        let gpu = by_index.entry(index).or_default();
        if gpu.uuid.is_empty() {
            gpu.uuid = label(&labels, "UUID").unwrap_or_default().to_owned();
            gpu.name = label(&labels, "modelName").unwrap_or_default().to_owned();
        }
        let whole = value.max(0.0).round() as u64;
        match name {
            "DCGM_FI_DEV_FB_USED" => gpu.used_mib = Some(whole),
            "DCGM_FI_DEV_FB_FREE" => gpu.free_mib = Some(whole),
            "DCGM_FI_DEV_FB_RESERVED" => gpu.reserved_mib = Some(whole),
            "DCGM_FI_DEV_GPU_UTIL" => gpu.reading.utilization_gpu_percent = Some(whole as u32),
            "DCGM_FI_DEV_MEM_COPY_UTIL" => {
                gpu.reading.utilization_memory_percent = Some(whole as u32);
            }
            "DCGM_FI_DEV_GPU_TEMP" => gpu.reading.temperature_celsius = Some(whole as u32),
            "DCGM_FI_DEV_POWER_USAGE" => gpu.reading.power_watts = Some(value),
            "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS" | "DCGM_FI_DEV_CLOCKS_EVENT_REASONS" => {
                gpu.reading.throttle_reasons = Some(whole);
            }
            "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL" => gpu.reading.ecc_uncorrected_volatile = Some(whole),
            _ => {}
        }
    }
    let gpus: Vec<GpuReading> = by_index
        .into_iter()
        .filter_map(|(index, p)| p.finish(index))
        .collect();
    if gpus.is_empty() {
        return Err(GpuError::NoDcgmGpus);
    }
    Ok(gpus)
}

#[derive(Default)]
struct Partial {
    uuid: String,
    name: String,
    used_mib: Option<u64>,
    free_mib: Option<u64>,
    reserved_mib: Option<u64>,
    reading: GpuReading,
}

impl Partial {
    /// A GPU needs its used memory at least; total = used + free + reserved.
    fn finish(self, index: u32) -> Option<GpuReading> {
        let used = self.used_mib?;
        let total = used + self.free_mib.unwrap_or(0) + self.reserved_mib.unwrap_or(0);
        Some(GpuReading {
            index,
            uuid: self.uuid,
            name: self.name,
            memory_total_bytes: total * MIB,
            memory_used_bytes: used * MIB,
            ..self.reading
        })
    }
}

fn label<'a>(labels: &'a [(&'a str, String)], key: &str) -> Option<&'a str> {
    labels
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.as_str())
}

/// A sample: its metric name, its labels, its value.
type Sample<'a> = (&'a str, Vec<(&'a str, String)>, f64);

/// `name{k="v",...} value` -> (name, labels, value).
fn parse_line(line: &str) -> Option<Sample<'_>> {
    let (name, mut rest) = crate::load_signals::split_metric_name(line)?;
    let mut labels = Vec::new();
    if let Some(inner) = rest.strip_prefix('{') {
        let mut chars = inner.char_indices().peekable();
        let mut key_start = 0;
        loop {
            // key
            let (eq, _) = chars.find(|&(_, c)| c == '=' || c == '}')?;
            if inner[eq..].starts_with('}') {
                rest = &inner[eq + 1..];
                break;
            }
            let key = inner[key_start..eq].trim().trim_start_matches(',').trim();
            if chars.next().map(|(_, c)| c) != Some('"') {
                return None;
            }
            let mut value = String::new();
            let mut escaped = false;
            let mut end = None;
            for (i, c) in chars.by_ref() {
                match c {
                    _ if escaped => {
                        value.push(match c {
                            'n' => '\n',
                            other => other,
                        });
                        escaped = false;
                    }
                    '\\' => escaped = true,
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    other => value.push(other),
                }
            }
            key_start = end? + 1;
            labels.push((key, value));
        }
    }
    let value: f64 = rest.split_whitespace().next()?.parse().ok()?;
    value.is_finite().then_some((name, labels, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    // The shape of dcgm-exporter's default counters (labels as it writes them).
    const PAGE: &str = r#"# HELP DCGM_FI_DEV_FB_USED Framebuffer memory used (in MiB).
# TYPE DCGM_FI_DEV_FB_USED gauge
DCGM_FI_DEV_FB_USED{gpu="0",UUID="GPU-aaaa",pci_bus_id="00000000:07:00.0",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="node-1"} 40960
DCGM_FI_DEV_FB_USED{gpu="1",UUID="GPU-bbbb",pci_bus_id="00000000:0F:00.0",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",Hostname="node-1"} 1024
# TYPE DCGM_FI_DEV_FB_FREE gauge
DCGM_FI_DEV_FB_FREE{gpu="0",UUID="GPU-aaaa",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="node-1"} 40000
DCGM_FI_DEV_FB_FREE{gpu="1",UUID="GPU-bbbb",device="nvidia1",modelName="NVIDIA H100 80GB HBM3",Hostname="node-1"} 79000
DCGM_FI_DEV_FB_RESERVED{gpu="0",UUID="GPU-aaaa",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="node-1"} 960
DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-aaaa",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="node-1"} 97
DCGM_FI_DEV_GPU_TEMP{gpu="0",UUID="GPU-aaaa",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="node-1"} 61
DCGM_FI_DEV_POWER_USAGE{gpu="0",UUID="GPU-aaaa",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="node-1"} 512.25
DCGM_FI_DEV_XID_ERRORS{gpu="0",UUID="GPU-aaaa",device="nvidia0",modelName="NVIDIA H100 80GB HBM3",Hostname="node-1",err_code="0",err_msg="No Error"} 0
"#;

    #[test]
    fn reads_memory_and_gauges_per_gpu() {
        let gpus = parse(PAGE).unwrap();
        assert_eq!(gpus.len(), 2);
        let g0 = &gpus[0];
        assert_eq!((g0.index, g0.uuid.as_str()), (0, "GPU-aaaa"));
        assert_eq!(g0.name, "NVIDIA H100 80GB HBM3");
        assert_eq!(g0.memory_used_bytes, 40960 * MIB);
        assert_eq!(g0.memory_total_bytes, (40960 + 40000 + 960) * MIB);
        assert_eq!(g0.utilization_gpu_percent, Some(97));
        assert_eq!(g0.temperature_celsius, Some(61));
        assert_eq!(g0.power_watts, Some(512.25));
        assert_eq!(gpus[1].utilization_gpu_percent, None);
        assert_eq!(gpus[1].memory_total_bytes, (1024 + 79000) * MIB);
    }

    #[test]
    fn a_page_without_gpus_is_an_error() {
        assert!(matches!(
            parse("# nothing\nup 1\n"),
            Err(GpuError::NoDcgmGpus)
        ));
    }

    #[test]
    fn escaped_label_values() {
        let (name, labels, value) = parse_line(r#"m{a="x\"y",b="z"} 3"#).unwrap();
        assert_eq!(name, "m");
        assert_eq!(
            labels,
            vec![("a", "x\"y".to_owned()), ("b", "z".to_owned())]
        );
        assert_eq!(value, 3.0);
    }
}
