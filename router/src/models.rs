//! Public model names and where they route.

use std::collections::HashMap;
use std::sync::Arc;

use http::StatusCode;
use metrics::{Counter, Histogram};

use crate::batch::ModelBatching;
use crate::front::generate::GenerateRoute;
use crate::observability::metrics as m;
use crate::pool::Pool;
use crate::spill::ModelSpill;

pub struct ModelRoute {
    pub name: Arc<str>,
    pub pool: Arc<Pool>,
    /// The name endpoints serve this model under, if not `name`.
    pub served_name: Option<String>,
    pub request_duration: Histogram,
    pub time_to_first_byte: Histogram,
    /// Set when OpenAI requests for this model go through Triton's generate
    /// extension.
    pub generate: Option<Arc<GenerateRoute>>,
    /// Set when the router batches this model's requests.
    pub batching: Option<Arc<ModelBatching>>,
    /// Set when the model spills to external providers when saturated.
    pub spill: Option<Arc<ModelSpill>>,
    /// `requests_total{status="200"}` per endpoint of the pool, registered
    /// once: the common case skips the metrics registry lookup.
    ok_by_endpoint: Vec<Counter>,
}

impl ModelRoute {
    pub fn new(name: &str, pool: Arc<Pool>, served_name: Option<String>) -> Self {
        let label = [("model", name.to_owned())];
        let ok_by_endpoint = pool
            .endpoints
            .iter()
            .map(|e| {
                metrics::counter!(m::REQUESTS, "model" => name.to_owned(), "endpoint" => e.name.to_string(), "status" => "200")
            })
            .collect();
        Self {
            name: Arc::from(name),
            pool,
            served_name,
            request_duration: metrics::histogram!(m::REQUEST_DURATION, &label),
            time_to_first_byte: metrics::histogram!(m::TIME_TO_FIRST_BYTE, &label),
            generate: None,
            batching: None,
            spill: None,
            ok_by_endpoint,
        }
    }

    /// Counts one answered request.
    pub fn count_request(&self, endpoint: Option<(usize, &str)>, status: StatusCode) {
        match endpoint {
            Some((index, _)) if status == StatusCode::OK && index < self.ok_by_endpoint.len() => {
                self.ok_by_endpoint[index].increment(1);
            }
            _ => metrics::counter!(
                m::REQUESTS,
                "model" => self.name.to_string(),
                "endpoint" => endpoint.map_or("none", |(_, name)| name).to_owned(),
                "status" => status.as_str().to_owned()
            )
            .increment(1),
        }
    }
}

pub struct ModelTable {
    by_name: HashMap<Arc<str>, Arc<ModelRoute>>,
    /// In configuration order, for `/v1/models`.
    ordered: Vec<Arc<ModelRoute>>,
}

impl ModelTable {
    pub fn new(routes: Vec<ModelRoute>) -> Self {
        let ordered: Vec<Arc<ModelRoute>> = routes.into_iter().map(Arc::new).collect();
        let by_name = ordered
            .iter()
            .map(|r| (Arc::clone(&r.name), Arc::clone(r)))
            .collect();
        Self { by_name, ordered }
    }

    pub fn get(&self, name: &str) -> Option<&Arc<ModelRoute>> {
        self.by_name.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<ModelRoute>> {
        self.ordered.iter()
    }
}
