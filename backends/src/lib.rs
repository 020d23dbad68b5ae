//! Clients for the model servers Switchyard fronts, and the scrapers that turn
//! their own metrics into load signals. Nothing here chooses between
//! endpoints: that is the router's job.

pub mod engine_kind;
pub mod gpu;
pub mod http_client;
pub mod kv_events;
pub mod load_signals;
pub mod providers;
pub mod upstream;

pub use engine_kind::EngineKind;
pub use http_client::{
    BoxError, GrpcClient, HttpClient, HttpClientConfig, StreamingBody, build_grpc_client,
    build_http_client,
};
pub use load_signals::{EngineLoad, parse_engine_load, parse_sample_line};
pub use upstream::{HttpUpstream, UpstreamError, error_chain};
