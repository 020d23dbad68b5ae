//! Public model names and where they route.

use std::collections::HashMap;
use std::sync::Arc;

use metrics::Histogram;

use crate::observability::metrics as m;
use crate::pool::Pool;

pub struct ModelRoute {
    pub name: Arc<str>,
    pub pool: Arc<Pool>,
    /// The name endpoints serve this model under, if not `name`.
    pub served_name: Option<String>,
    pub request_duration: Histogram,
    pub time_to_first_byte: Histogram,
}

impl ModelRoute {
    pub fn new(name: &str, pool: Arc<Pool>, served_name: Option<String>) -> Self {
        let label = [("model", name.to_owned())];
        Self {
            name: Arc::from(name),
            pool,
            served_name,
            request_duration: metrics::histogram!(m::REQUEST_DURATION, &label),
            time_to_first_byte: metrics::histogram!(m::TIME_TO_FIRST_BYTE, &label),
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
