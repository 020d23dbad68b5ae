//! What the router tells operators: Prometheus metrics and structured logs.

pub mod logging;
pub mod metrics;
