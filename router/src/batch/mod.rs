//! Router-side dynamic batching, for backends that do not batch: KServe v2
//! infer calls (HTTP and gRPC) to Triton models without `dynamic_batching`,
//! and OpenAI `/v1/embeddings` calls. Concurrent compatible requests of one
//! model are sent as one call to one endpoint (chosen by the pool's policy)
//! and each caller gets its own part back. Models the server batches itself
//! (Triton's `dynamic_batching`, TorchServe, LLM engines' continuous
//! batching) pass through: batching twice only adds delay.

mod batcher;
pub mod embeddings;
pub mod kserve_grpc;
pub mod kserve_http;
mod queue;
mod send;
mod settings;
mod tensor;
mod triton_config;

use std::sync::Arc;

use http::{HeaderValue, Response};

pub use batcher::{Batcher, Offer};
pub use send::Outcome;
pub use settings::Settings;
pub use triton_config::watch_triton_config;

use crate::app::App;
use crate::config::BatchingConfig;
use crate::front::errors::ApiError;
use crate::front::{ResponseBody, SERVED_BY, log_access};
use crate::models::ModelRoute;
use crate::tokenizer::{HuggingFaceTokenizer, TokenizerError};

/// A model's batchers, one per protocol that can be batched.
pub struct ModelBatching {
    pub settings: Arc<Settings>,
    pub kserve_http: Arc<Batcher<kserve_http::KserveHttp>>,
    pub kserve_grpc: Arc<Batcher<kserve_grpc::KserveGrpc>>,
    pub embeddings: Arc<Batcher<embeddings::Embeddings>>,
    /// Whether the batch size comes from the server's own model config
    /// (Triton): until it is read, requests pass through.
    pub reads_server_config: bool,
    pub even_if_server_batches: bool,
    /// Counts embedding inputs' tokens, to share out `usage` exactly.
    pub tokenizer: Option<Arc<HuggingFaceTokenizer>>,
}

impl ModelBatching {
    pub fn new(
        model: &str,
        config: &BatchingConfig,
        reads_server_config: bool,
    ) -> Result<Self, TokenizerError> {
        let settings = Arc::new(Settings::new(model, config, !reads_server_config));
        let tokenizer = match &config.tokenizer {
            Some(path) => Some(Arc::new(HuggingFaceTokenizer::load(path, None)?)),
            None => None,
        };
        Ok(Self {
            kserve_http: Arc::new(Batcher::new(
                model,
                kserve_http::KserveHttp,
                Arc::clone(&settings),
            )),
            kserve_grpc: Arc::new(Batcher::new(
                model,
                kserve_grpc::KserveGrpc,
                Arc::clone(&settings),
            )),
            embeddings: Arc::new(Batcher::new(
                model,
                embeddings::Embeddings,
                Arc::clone(&settings),
            )),
            settings,
            reads_server_config,
            even_if_server_batches: config.even_if_server_batches,
            tokenizer,
        })
    }
}

/// The response for a batcher's outcome, counted and logged as a routed
/// request; `None` when the request is to be sent on its own.
pub fn respond(
    app: &App,
    route: &ModelRoute,
    outcome: Outcome,
    request_id: &HeaderValue,
    protocol: &'static str,
    render: impl FnOnce(ApiError) -> Response<ResponseBody>,
) -> Option<Response<ResponseBody>> {
    let (response, endpoint, status) = match outcome {
        Outcome::SendAlone => return None,
        Outcome::Answered {
            mut response,
            endpoint,
        } => {
            let status = response.status();
            route.count_request(Some((endpoint.index, &endpoint.name)), status);
            if app.server.expose_endpoint_header
                && let Some(value) = &endpoint.name_header
            {
                response.headers_mut().insert(SERVED_BY, value.clone());
            }
            (response, Some(Arc::clone(&endpoint.name)), status)
        }
        Outcome::Failed { error, endpoint } => {
            let status = error.status;
            route.count_request(None, status);
            (render(error), endpoint, status)
        }
    };
    log_access(
        app,
        request_id,
        &route.name,
        endpoint.as_deref(),
        status,
        protocol,
    );
    Some(response)
}
