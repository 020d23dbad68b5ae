//! Endpoint health: active probes on a timer, and a circuit breaker fed by
//! the outcomes of real requests.

mod breaker;
mod probe;

pub use breaker::{Breaker, FailureVerdict};
pub use probe::run_probes;
