//! Sending a request to a pool: pick, send, retry failures that happened
//! before any byte reached the client, and stream the answer back.

mod backoff;
mod body;
mod forward;
mod usage_tap;

pub use body::{BoxError, BreakStyle, ProxyBody};
pub use forward::{ForwardError, ForwardRequest, ModelName, Wire, forward, forward_stream};
