//! GPU telemetry: each configured source (this host's NVML, a `switchyard
//! agent` on a GPU node, a DCGM exporter) is polled in the background; each
//! endpoint is bound to its source's GPUs. Readings carry their age, and a
//! source that has not answered within `stale_after` is marked stale.
//! Without an NVIDIA driver the local source says so once and stays off.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use http::{HeaderMap, Method};
use http_body_util::{BodyExt, Limited};
use serde_json::{Value, json};
use switchyard_backends::gpu::nvml::NvmlReader;
use switchyard_backends::gpu::{GPU_METRICS, GpuReading, GpuReport, dcgm};
use switchyard_backends::{HttpClient, HttpUpstream};
use tokio_util::sync::CancellationToken;

use crate::clock::now_ms;
use crate::config::{Config, GpuSourceKind, GpuTelemetryConfig};

const TIMEOUT: Duration = Duration::from_secs(2);
const MAX_PAGE_BYTES: usize = 4 << 20;
/// How often a host without NVML is tried again (a driver can be loaded later).
const NVML_RETRY: Duration = Duration::from_secs(30);

pub struct GpuTelemetry {
    pub sources: Vec<Arc<GpuSource>>,
    pub bindings: Vec<Arc<GpuBinding>>,
    config: GpuTelemetryConfig,
}

/// An endpoint's GPUs.
pub struct GpuBinding {
    pub pool: Arc<str>,
    pub endpoint: Arc<str>,
    pub source: Arc<GpuSource>,
    /// Indices or UUIDs; empty: every GPU of the source.
    pub devices: Vec<String>,
}

pub struct GpuSource {
    pub kind: GpuSourceKind,
    /// `local`, or the URL polled.
    pub label: String,
    upstream: Option<HttpUpstream>,
    state: ArcSwapOption<Polled>,
}

/// The outcome of the latest poll, and the latest good report.
struct Polled {
    report: Option<Arc<GpuReport>>,
    /// When `report` was received (ms since the epoch).
    received_at_ms: u64,
    error: Option<String>,
}

impl GpuTelemetry {
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let mut by_key: HashMap<(GpuSourceKind, Option<String>), Arc<GpuSource>> = HashMap::new();
        let mut sources = Vec::new();
        let mut bindings = Vec::new();
        for (pool_name, pool) in &config.pools {
            for endpoint in &pool.endpoints {
                let Some(gpus) = &endpoint.gpus else { continue };
                let key = (gpus.source, gpus.url.clone());
                let source = match by_key.get(&key) {
                    Some(source) => Arc::clone(source),
                    None => {
                        let source = Arc::new(GpuSource::new(gpus.source, gpus.url.as_deref())?);
                        by_key.insert(key, Arc::clone(&source));
                        sources.push(Arc::clone(&source));
                        source
                    }
                };
                bindings.push(Arc::new(GpuBinding {
                    pool: Arc::from(pool_name.as_str()),
                    endpoint: Arc::from(
                        endpoint
                            .name
                            .clone()
                            .unwrap_or_else(|| crate::app::default_endpoint_name(&endpoint.url))
                            .as_str(),
                    ),
                    source,
                    devices: gpus.devices.iter().map(ToString::to_string).collect(),
                }));
            }
        }
        Ok(Self {
            sources,
            bindings,
            config: config.gpu_telemetry.clone(),
        })
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    pub fn stale_after(&self) -> Duration {
        self.config.stale_after
    }

    /// The binding of `endpoint` in `pool`, if it has GPUs configured.
    pub fn binding(&self, pool: &str, endpoint: &str) -> Option<Arc<GpuBinding>> {
        self.bindings
            .iter()
            .find(|b| &*b.pool == pool && &*b.endpoint == endpoint)
            .cloned()
    }

    pub fn spawn(&self, client: &HttpClient, shutdown: &CancellationToken) {
        for source in &self.sources {
            let source = Arc::clone(source);
            let config = self.config.clone();
            let client = client.clone();
            let shutdown = shutdown.child_token();
            tokio::spawn(async move { source.run(client, config, shutdown).await });
        }
    }

    /// The `/gpus` page: every source, and every endpoint's GPUs.
    pub fn describe(&self) -> Value {
        let stale_after = self.config.stale_after;
        let now = now_ms();
        let sources: Vec<Value> = self
            .sources
            .iter()
            .map(|s| {
                let polled = s.state.load_full();
                let age_ms = polled
                    .as_ref()
                    .filter(|p| p.report.is_some())
                    .map(|p| now.saturating_sub(p.received_at_ms));
                json!({
                    "source": s.label,
                    "kind": s.kind,
                    "age_ms": age_ms,
                    "stale": age_ms.is_none_or(|a| a > stale_after.as_millis() as u64),
                    "error": polled.as_ref().and_then(|p| p.error.clone()),
                    "gpus": polled.as_ref().and_then(|p| p.report.as_ref()).map(|r| &r.gpus),
                })
            })
            .collect();
        let endpoints: Vec<Value> = self
            .bindings
            .iter()
            .map(|b| {
                let latest = b.source.latest(stale_after);
                json!({
                    "pool": &*b.pool,
                    "endpoint": &*b.endpoint,
                    "source": b.source.label,
                    "stale": latest.as_ref().is_none_or(|(_, fresh)| !fresh),
                    "gpus": latest.map(|(report, _)| b.select(&report)),
                })
            })
            .collect();
        json!({ "sources": sources, "endpoints": endpoints })
    }
}

impl GpuBinding {
    /// The endpoint's GPUs, if the source's latest report is younger than
    /// `stale_after`.
    pub fn fresh(&self, stale_after: Duration) -> Option<Vec<GpuReading>> {
        let (report, fresh) = self.source.latest(stale_after)?;
        fresh.then(|| self.select(&report))
    }

    fn select(&self, report: &GpuReport) -> Vec<GpuReading> {
        report
            .gpus
            .iter()
            .filter(|g| self.devices.is_empty() || self.devices.iter().any(|d| g.is(d)))
            .cloned()
            .collect()
    }
}

impl GpuSource {
    fn new(kind: GpuSourceKind, url: Option<&str>) -> Result<Self, String> {
        let upstream = match (kind, url) {
            (GpuSourceKind::Local, _) => None,
            (_, Some(url)) => Some(HttpUpstream::new(url, None).map_err(|e| e.to_string())?),
            (_, None) => return Err(format!("a {kind:?} GPU source needs a url")),
        };
        Ok(Self {
            kind,
            label: url.unwrap_or("local").to_owned(),
            upstream,
            state: ArcSwapOption::empty(),
        })
    }

    /// The latest good report, and whether it is younger than `stale_after`.
    fn latest(&self, stale_after: Duration) -> Option<(Arc<GpuReport>, bool)> {
        let polled = self.state.load_full()?;
        let report = polled.report.clone()?;
        let age = now_ms().saturating_sub(polled.received_at_ms);
        Some((report, age <= stale_after.as_millis() as u64))
    }

    fn store(&self, outcome: Result<GpuReport, String>) {
        let previous = self.state.load_full();
        let polled = match outcome {
            Ok(report) => {
                record_metrics(&self.label, &report);
                Polled {
                    report: Some(Arc::new(report)),
                    received_at_ms: now_ms(),
                    error: None,
                }
            }
            // Keep the last good report: its age says how far to trust it.
            Err(error) => Polled {
                report: previous.as_ref().and_then(|p| p.report.clone()),
                received_at_ms: previous.as_ref().map_or(0, |p| p.received_at_ms),
                error: Some(error),
            },
        };
        metrics::gauge!("switchyard_gpu_telemetry_up", "source" => self.label.clone())
            .set(if polled.error.is_none() { 1.0 } else { 0.0 });
        self.state.store(Some(Arc::new(polled)));
    }

    async fn run(
        self: Arc<Self>,
        client: HttpClient,
        config: GpuTelemetryConfig,
        shutdown: CancellationToken,
    ) {
        let mut nvml = LocalNvml::new(config.nvml_library.clone());
        loop {
            let outcome = match self.kind {
                GpuSourceKind::Local => nvml.read().await,
                GpuSourceKind::Agent => self.fetch(&client, "/v1/gpus").await.and_then(|page| {
                    serde_json::from_slice::<GpuReport>(&page)
                        .map_err(|e| format!("agent JSON: {e}"))
                }),
                GpuSourceKind::Dcgm => self.fetch(&client, "").await.and_then(|page| {
                    let text = String::from_utf8_lossy(&page);
                    dcgm::parse(&text)
                        .map(|gpus| GpuReport {
                            source: "dcgm".into(),
                            read_at_unix_ms: crate::clock::unix_ms(),
                            gpus,
                        })
                        .map_err(|e| e.to_string())
                }),
            };
            if let Err(error) = &outcome {
                tracing::debug!(source = %self.label, %error, "GPU telemetry poll failed");
            }
            self.store(outcome);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(config.interval) => {}
            }
        }
    }

    async fn fetch(&self, client: &HttpClient, path: &str) -> Result<Bytes, String> {
        let upstream = self.upstream.as_ref().ok_or("no url")?;
        let response = upstream
            .send(
                client,
                Method::GET,
                path,
                HeaderMap::new(),
                Bytes::new(),
                TIMEOUT,
            )
            .await
            .map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("answered {}", response.status()));
        }
        Limited::new(response.into_body(), MAX_PAGE_BYTES)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .map_err(|e| e.to_string())
    }
}

/// This host's NVML: loaded on first use, and again every `NVML_RETRY`
/// while it cannot be (a driver can be installed later); says once, as a
/// warning, that GPU telemetry is off. Shared by the router and the agent.
pub struct LocalNvml {
    library: Option<PathBuf>,
    reader: Option<Arc<NvmlReader>>,
    told_off: bool,
    next_open: tokio::time::Instant,
}

impl LocalNvml {
    pub fn new(library: Option<PathBuf>) -> Self {
        Self {
            library,
            reader: None,
            told_off: false,
            next_open: tokio::time::Instant::now(),
        }
    }

    /// One reading of every GPU, or why there is none. NVML calls run off
    /// the async workers.
    pub async fn read(&mut self) -> Result<GpuReport, String> {
        if self.reader.is_none() && tokio::time::Instant::now() >= self.next_open {
            let library = self.library.clone();
            let opened = tokio::task::spawn_blocking(move || NvmlReader::open(library.as_deref()))
                .await
                .map_err(|e| e.to_string())?;
            match opened {
                Ok(reader) => {
                    tracing::info!(
                        driver = reader.driver_version().unwrap_or_default(),
                        "GPU telemetry on: NVML loaded"
                    );
                    self.reader = Some(Arc::new(reader));
                }
                Err(error) => {
                    if !self.told_off {
                        tracing::warn!(%error, "GPU telemetry off for this host: NVML could not be loaded (no NVIDIA driver?); running without it");
                        self.told_off = true;
                    }
                    self.next_open = tokio::time::Instant::now() + NVML_RETRY;
                    return Err(error.to_string());
                }
            }
        }
        let Some(reader) = self.reader.clone() else {
            return Err("NVML is not available on this host".to_owned());
        };
        tokio::task::spawn_blocking(move || reader.read())
            .await
            .map_err(|e| e.to_string())?
            .map(|gpus| GpuReport {
                source: "nvml".into(),
                read_at_unix_ms: crate::clock::unix_ms(),
                gpus,
            })
            .map_err(|e| e.to_string())
    }
}

fn record_metrics(source: &str, report: &GpuReport) {
    for gpu in &report.gpus {
        let labels = [
            ("source", source.to_owned()),
            ("gpu", gpu.index.to_string()),
            ("uuid", gpu.uuid.clone()),
        ];
        for (name, _, value) in GPU_METRICS {
            if let Some(v) = value(gpu) {
                metrics::gauge!(name, &labels).set(v);
            }
        }
    }
}
