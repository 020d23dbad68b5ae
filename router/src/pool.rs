//! A pool: endpoints that serve the same models, the policy that chooses
//! between them, and the connection pool used to reach them.

use std::sync::Arc;

use switchyard_backends::{GrpcClient, HttpClient};

use crate::clock::now_ms;
use crate::config::TimeoutsConfig;
use crate::endpoint::Endpoint;
use crate::policy::{EndpointSnapshot, EndpointSnapshots, Policy, RequestFeatures};
use crate::prefix::{KvEventIndex, PrefixAudit};

pub struct Pool {
    pub name: Arc<str>,
    pub policy: Box<dyn Policy>,
    pub endpoints: Vec<Arc<Endpoint>>,
    pub client: HttpClient,
    /// HTTP/2 only, for calls from the gRPC front ends.
    pub grpc_client: GrpcClient,
    pub timeouts: TimeoutsConfig,
    pub max_in_flight_per_endpoint: Option<u32>,
    pub stale_after_ms: u64,
    /// Self-audit of the policy's cache predictions (prefix-aware policies only).
    pub audit: Option<Arc<PrefixAudit>>,
    /// Filled by the endpoints' KV-event subscribers (`cache_aware` with `index: events`).
    pub kv_events: Option<Arc<KvEventIndex>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickError {
    /// Every endpoint is unhealthy or ejected.
    NoHealthyEndpoint,
    /// Healthy endpoints exist but all are at their in-flight cap.
    AtCapacity,
}

/// Live snapshots of a pool for one decision, with the endpoints already
/// tried for this request marked unavailable.
struct LiveSnapshots<'a> {
    pool: &'a Pool,
    now_ms: u64,
    excluded: &'a [usize],
}

impl EndpointSnapshots for LiveSnapshots<'_> {
    fn len(&self) -> usize {
        self.pool.endpoints.len()
    }

    fn get(&self, index: usize) -> EndpointSnapshot {
        let mut snapshot = self.pool.endpoints[index].snapshot(
            self.now_ms,
            self.pool.stale_after_ms,
            self.pool.max_in_flight_per_endpoint,
        );
        if self.excluded.contains(&index) {
            snapshot.available = false;
        }
        snapshot
    }

    fn is_available(&self, index: usize) -> bool {
        self.pool.endpoints[index].is_available(self.now_ms, self.pool.max_in_flight_per_endpoint)
            && !self.excluded.contains(&index)
    }
}

impl Pool {
    /// Chooses an endpoint, avoiding `excluded` (those already tried for
    /// this request) unless nothing else is left.
    pub fn pick(
        &self,
        request: &RequestFeatures<'_>,
        excluded: &[usize],
    ) -> Result<Arc<Endpoint>, PickError> {
        let now = now_ms();
        let live = LiveSnapshots {
            pool: self,
            now_ms: now,
            excluded,
        };
        let chosen = self.policy.pick(request, &live).or_else(|| {
            if excluded.is_empty() {
                return None;
            }
            let again = LiveSnapshots {
                excluded: &[],
                ..live
            };
            self.policy.pick(request, &again)
        });
        match chosen.and_then(|i| self.endpoints.get(i)) {
            Some(endpoint) => Ok(Arc::clone(endpoint)),
            None if self.endpoints.iter().any(|e| e.is_healthy(now)) => Err(PickError::AtCapacity),
            None => Err(PickError::NoHealthyEndpoint),
        }
    }

    pub fn healthy_count(&self) -> usize {
        let now = now_ms();
        self.endpoints.iter().filter(|e| e.is_healthy(now)).count()
    }
}
