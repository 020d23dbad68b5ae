//! One upstream endpoint: what the config says about it and its live state
//! (in-flight count, health, breaker, the engine's last scraped load). The
//! request path reads this through atomics only.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use metrics::Gauge;
use switchyard_backends::{EngineKind, EngineLoad, HttpUpstream};

use crate::clock::now_ms;
use crate::health::Breaker;
use crate::observability::metrics as m;
use crate::policy::EndpointSnapshot;
use crate::saturation::EndpointCapacity;

pub struct Endpoint {
    /// Position in its pool; what policies return.
    pub index: usize,
    /// Label for metrics and logs (never contains credentials).
    pub name: Arc<str>,
    pub pool: Arc<str>,
    pub kind: EngineKind,
    pub weight: u32,
    pub upstream: HttpUpstream,
    /// Where gRPC front-end calls go (Triton, TorchServe), if configured.
    pub grpc: Option<HttpUpstream>,
    /// Where the metrics live, if not on `upstream`.
    metrics: Option<HttpUpstream>,
    /// Public model name -> served name, where this endpoint differs.
    served_names: BTreeMap<String, String>,
    pub health_path: String,
    pub metrics_path: Option<String>,
    pub breaker: Breaker,
    /// `name` as a response header value, built once.
    pub name_header: Option<http::HeaderValue>,
    /// What the saturation model has learned of this endpoint.
    pub capacity: EndpointCapacity,
    in_flight: AtomicU32,
    /// Prompt the engine is still to compute for this router's requests that have not sent
    /// their first byte yet, as the pool's policy predicted it (`acquire_with_prefill`).
    pending_prefill: AtomicU64,
    probe_healthy: AtomicBool,
    engine: EngineLoadCell,
    in_flight_gauge: Gauge,
    healthy_gauge: Gauge,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("pool", &self.pool)
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

pub struct EndpointSpec {
    pub index: usize,
    pub name: String,
    pub pool: Arc<str>,
    pub kind: EngineKind,
    pub weight: u32,
    pub upstream: HttpUpstream,
    pub grpc: Option<HttpUpstream>,
    pub metrics: Option<HttpUpstream>,
    pub served_names: BTreeMap<String, String>,
    pub health_path: String,
    pub metrics_path: Option<String>,
    pub breaker: Breaker,
}

impl Endpoint {
    pub fn new(spec: EndpointSpec) -> Self {
        let name: Arc<str> = Arc::from(spec.name);
        let labels = [
            ("pool", spec.pool.to_string()),
            ("endpoint", name.to_string()),
        ];
        let healthy_gauge = metrics::gauge!(m::ENDPOINT_HEALTHY, &labels);
        healthy_gauge.set(1.0);
        Self {
            index: spec.index,
            pool: spec.pool,
            kind: spec.kind,
            weight: spec.weight,
            upstream: spec.upstream,
            grpc: spec.grpc,
            metrics: spec.metrics,
            served_names: spec.served_names,
            health_path: spec.health_path,
            metrics_path: spec.metrics_path,
            breaker: spec.breaker,
            // Endpoints start healthy: the first probe runs at once, and
            // until then failures are caught by retries and the breaker.
            probe_healthy: AtomicBool::new(true),
            in_flight: AtomicU32::new(0),
            pending_prefill: AtomicU64::new(0),
            engine: EngineLoadCell::default(),
            capacity: EndpointCapacity::default(),
            in_flight_gauge: metrics::gauge!(m::ENDPOINT_IN_FLIGHT, &labels),
            healthy_gauge,
            name_header: http::HeaderValue::from_str(&name).ok(),
            name,
        }
    }

    /// The model name to send this endpoint for a public model name, when
    /// it differs from `default_served`.
    pub fn served_name<'a>(
        &'a self,
        public: &str,
        default_served: Option<&'a str>,
    ) -> Option<&'a str> {
        self.served_names
            .get(public)
            .map(String::as_str)
            .or(default_served)
    }

    /// The address of the engine's metrics page.
    pub fn metrics_upstream(&self) -> &HttpUpstream {
        self.metrics.as_ref().unwrap_or(&self.upstream)
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn probe_healthy(&self) -> bool {
        self.probe_healthy.load(Ordering::Relaxed)
    }

    /// Healthy by probe and not ejected by the breaker.
    pub fn is_healthy(&self, now_ms: u64) -> bool {
        self.probe_healthy() && self.breaker.allows(now_ms)
    }

    /// Records a probe verdict; returns true if it changed the state.
    pub fn set_probe_healthy(&self, healthy: bool) -> bool {
        let changed = self.probe_healthy.swap(healthy, Ordering::Relaxed) != healthy;
        if changed {
            self.healthy_gauge.set(if healthy { 1.0 } else { 0.0 });
        }
        changed
    }

    /// Stores a scrape, with the mean queue wait since the previous one
    /// when the engine's counters give it.
    pub fn store_engine_load(&self, load: &EngineLoad, queue_wait_us: Option<f32>) {
        self.engine.store(load, queue_wait_us, now_ms());
    }

    /// Mean time requests waited in the engine's own queue over the last
    /// scrape interval (Triton, TorchServe), if fresh.
    pub fn engine_queue_wait_us(&self, now_ms: u64, stale_after_ms: u64) -> Option<f32> {
        self.engine.queue_wait_us(now_ms, stale_after_ms)
    }

    /// The engine's last reading, if younger than `stale_after_ms`.
    pub fn engine_load(&self, now_ms: u64, stale_after_ms: u64) -> Option<EngineLoad> {
        self.engine.load(now_ms, stale_after_ms)
    }

    /// Healthy, not ejected, and under the pool's in-flight cap.
    pub fn is_available(&self, now_ms: u64, max_in_flight: Option<u32>) -> bool {
        self.is_healthy(now_ms) && max_in_flight.is_none_or(|cap| self.in_flight() < cap)
    }

    pub fn snapshot(
        &self,
        now_ms: u64,
        stale_after_ms: u64,
        max_in_flight: Option<u32>,
    ) -> EndpointSnapshot {
        let in_flight = self.in_flight();
        let engine = self.engine.load(now_ms, stale_after_ms).unwrap_or_default();
        EndpointSnapshot {
            available: self.is_available(now_ms, max_in_flight),
            weight: self.weight,
            in_flight,
            engine_running: engine.running,
            engine_waiting: engine.waiting,
            kv_cache_usage: engine.kv_cache_usage,
            engine_queue_wait_us: self.engine.queue_wait_us(now_ms, stale_after_ms),
            kv_cache_tokens: self.engine.kv_cache_tokens(),
            pending_prefill: self.pending_prefill.load(Ordering::Relaxed),
        }
    }

    /// Counts a request as in flight until the guard drops.
    pub fn acquire(self: &Arc<Self>) -> InFlightGuard {
        self.acquire_with_prefill(0)
    }

    /// `acquire`, and counts `prefill` (the prompt the engine must compute, in the policy's
    /// units) as pending until the guard's `first_byte` or drop.
    pub fn acquire_with_prefill(self: &Arc<Self>, prefill: u64) -> InFlightGuard {
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.in_flight_gauge.set(f64::from(now));
        if prefill > 0 {
            self.pending_prefill.fetch_add(prefill, Ordering::Relaxed);
        }
        InFlightGuard {
            endpoint: Arc::clone(self),
            prefill,
        }
    }
}

/// Holds one unit of an endpoint's in-flight count; travels with the
/// response body so a streamed request counts until its last byte.
#[derive(Debug)]
pub struct InFlightGuard {
    endpoint: Arc<Endpoint>,
    /// Prefill work still counted as pending on the endpoint.
    prefill: u64,
}

impl InFlightGuard {
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.endpoint
    }

    /// The engine answered: whatever it had to compute before its first token is done.
    pub fn first_byte(&mut self) {
        if self.prefill > 0 {
            self.endpoint
                .pending_prefill
                .fetch_sub(std::mem::take(&mut self.prefill), Ordering::Relaxed);
        }
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.first_byte();
        let now = self
            .endpoint
            .in_flight
            .fetch_sub(1, Ordering::Relaxed)
            .saturating_sub(1);
        self.endpoint.in_flight_gauge.set(f64::from(now));
        self.endpoint.capacity.record_completion();
    }
}

const UNKNOWN: u32 = u32::MAX;

/// The engine's last scraped load, in atomics so readers never lock. Fields
/// may tear across a concurrent store; each is independently valid, which
/// is all a policy needs.
#[derive(Debug)]
struct EngineLoadCell {
    running: AtomicU32,
    waiting: AtomicU32,
    kv_usage_bits: AtomicU32,
    prefix_queries_bits: AtomicU64,
    prefix_hits_bits: AtomicU64,
    queue_wait_us_bits: AtomicU32,
    /// The engine's KV-cache size in tokens; 0 = unknown. A configuration, not a load: it
    /// does not go stale, and a page without it leaves the last one read.
    kv_cache_tokens: AtomicU64,
    /// `now_ms()` of the scrape; 0 = never scraped.
    updated_ms: AtomicU64,
}

impl Default for EngineLoadCell {
    fn default() -> Self {
        Self {
            running: AtomicU32::new(UNKNOWN),
            waiting: AtomicU32::new(UNKNOWN),
            kv_usage_bits: AtomicU32::new(f32::NAN.to_bits()),
            prefix_queries_bits: AtomicU64::new(f64::NAN.to_bits()),
            prefix_hits_bits: AtomicU64::new(f64::NAN.to_bits()),
            queue_wait_us_bits: AtomicU32::new(f32::NAN.to_bits()),
            kv_cache_tokens: AtomicU64::new(0),
            updated_ms: AtomicU64::new(0),
        }
    }
}

impl EngineLoadCell {
    fn store(&self, load: &EngineLoad, queue_wait_us: Option<f32>, at_ms: u64) {
        let r = Ordering::Relaxed;
        self.running.store(load.running.unwrap_or(UNKNOWN), r);
        self.waiting.store(load.waiting.unwrap_or(UNKNOWN), r);
        self.kv_usage_bits
            .store(load.kv_cache_usage.unwrap_or(f32::NAN).to_bits(), r);
        self.prefix_queries_bits
            .store(load.prefix_cache_queries.unwrap_or(f64::NAN).to_bits(), r);
        self.prefix_hits_bits
            .store(load.prefix_cache_hits.unwrap_or(f64::NAN).to_bits(), r);
        self.queue_wait_us_bits
            .store(queue_wait_us.unwrap_or(f32::NAN).to_bits(), r);
        if let Some(tokens) = load.kv_cache_tokens {
            self.kv_cache_tokens.store(tokens, r);
        }
        self.updated_ms.store(at_ms, Ordering::Release);
    }

    fn fresh(&self, now_ms: u64, stale_after_ms: u64) -> bool {
        let updated = self.updated_ms.load(Ordering::Acquire);
        updated != 0 && now_ms.saturating_sub(updated) <= stale_after_ms
    }

    fn queue_wait_us(&self, now_ms: u64, stale_after_ms: u64) -> Option<f32> {
        if !self.fresh(now_ms, stale_after_ms) {
            return None;
        }
        Some(f32::from_bits(
            self.queue_wait_us_bits.load(Ordering::Relaxed),
        ))
        .filter(|v| !v.is_nan())
    }

    fn kv_cache_tokens(&self) -> Option<u64> {
        Some(self.kv_cache_tokens.load(Ordering::Relaxed)).filter(|&t| t > 0)
    }

    fn load(&self, now_ms: u64, stale_after_ms: u64) -> Option<EngineLoad> {
        if !self.fresh(now_ms, stale_after_ms) {
            return None;
        }
        let r = Ordering::Relaxed;
        let count = |v: u32| (v != UNKNOWN).then_some(v);
        let f32_known = |bits: u32| Some(f32::from_bits(bits)).filter(|v| !v.is_nan());
        let f64_known = |bits: u64| Some(f64::from_bits(bits)).filter(|v| !v.is_nan());
        Some(EngineLoad {
            running: count(self.running.load(r)),
            waiting: count(self.waiting.load(r)),
            kv_cache_usage: f32_known(self.kv_usage_bits.load(r)),
            prefix_cache_queries: f64_known(self.prefix_queries_bits.load(r)),
            prefix_cache_hits: f64_known(self.prefix_hits_bits.load(r)),
            queue_time_us: None,
            queued_requests: None,
            kv_cache_tokens: self.kv_cache_tokens(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> Arc<Endpoint> {
        Arc::new(Endpoint::new(EndpointSpec {
            index: 0,
            name: "e0".into(),
            pool: Arc::from("p"),
            kind: EngineKind::Vllm,
            weight: 1,
            upstream: HttpUpstream::new("http://127.0.0.1:9", None).unwrap(),
            grpc: None,
            metrics: None,
            served_names: BTreeMap::new(),
            health_path: "/health".into(),
            metrics_path: None,
            breaker: Breaker::new(crate::config::PassiveHealthConfig::default()),
        }))
    }

    #[test]
    fn prefill_is_pending_until_the_first_byte_or_the_end() {
        let e = endpoint();
        let pending = |e: &Endpoint| e.snapshot(0, 1000, None).pending_prefill;
        let mut answered = e.acquire_with_prefill(300);
        let abandoned = e.acquire_with_prefill(200);
        let _unpredicted = e.acquire();
        assert_eq!(pending(&e), 500);
        assert_eq!(e.in_flight(), 3);
        answered.first_byte();
        answered.first_byte();
        assert_eq!(pending(&e), 200, "released once, at the first byte");
        assert_eq!(e.in_flight(), 3, "still in flight until its last byte");
        drop(abandoned);
        assert_eq!(
            pending(&e),
            0,
            "a request that ends before its first byte releases it"
        );
        drop(answered);
        assert_eq!((pending(&e), e.in_flight()), (0, 1));
    }

    #[test]
    fn engine_load_goes_stale() {
        let cell = EngineLoadCell::default();
        assert_eq!(cell.load(10, 1000), None, "never scraped is unknown");
        let load = EngineLoad {
            running: Some(2),
            waiting: Some(0),
            kv_cache_usage: Some(0.5),
            prefix_cache_queries: None,
            prefix_cache_hits: Some(3.0),
            queue_time_us: None,
            queued_requests: None,
            kv_cache_tokens: Some(3072),
        };
        cell.store(&load, Some(250.0), 100);
        assert_eq!(cell.queue_wait_us(600, 1000), Some(250.0));
        assert_eq!(cell.load(600, 1000), Some(load));
        assert_eq!(
            cell.load(1101, 1000),
            None,
            "older than stale_after is unknown"
        );
        assert_eq!(
            cell.kv_cache_tokens(),
            Some(3072),
            "a size does not go stale"
        );
        let without_size = EngineLoad {
            kv_cache_tokens: None,
            ..load
        };
        cell.store(&without_size, None, 2000);
        assert_eq!(
            cell.kv_cache_tokens(),
            Some(3072),
            "kept from the last page that had it"
        );
    }
}
