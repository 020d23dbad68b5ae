//! The HTTP API: vLLM's OpenAI-compatible endpoints plus the simulator's
//! control endpoints. One function maps a request to its handler.

mod admin;
mod chat;
mod completions;
mod embeddings;
mod errors;
mod generate;
mod request;
mod sse;
mod wire;

use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::json;

use crate::body::SimBody;
use crate::engine::Engine;
use crate::stats::RequestGuard;
use errors::ApiError;
use generate::json_response;

/// Largest request body accepted.
const MAX_BODY_BYTES: usize = 64 << 20;

/// Answers one HTTP request.
pub(crate) async fn handle(engine: Arc<Engine>, req: Request<Incoming>) -> Response<SimBody> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    match (method, path.as_str()) {
        (Method::GET, "/health") => admin::health(&engine),
        (Method::GET, "/metrics") => admin::metrics(&engine),
        (Method::GET, "/v1/models") => admin::models(&engine),
        (Method::GET, "/version") => admin::version(),
        (Method::GET, "/sim/stats") => admin::stats(&engine),
        (Method::POST, "/reset_prefix_cache") => admin::reset_prefix_cache(&engine),
        (Method::DELETE, "/sim/fault") => admin::clear_faults(&engine),
        (Method::POST, "/sim/fault") => match read_body(req).await {
            Ok(body) => admin::set_fault(&engine, &body),
            Err(e) => e.into_response(),
        },
        (Method::POST, "/v1/chat/completions") => inference(&engine, req, Endpoint::Chat).await,
        (Method::POST, "/v1/completions") => inference(&engine, req, Endpoint::Completions).await,
        (Method::POST, "/v1/embeddings") => inference(&engine, req, Endpoint::Embeddings).await,
        (
            _,
            "/health"
            | "/metrics"
            | "/v1/models"
            | "/version"
            | "/sim/stats"
            | "/sim/fault"
            | "/reset_prefix_cache"
            | "/v1/chat/completions"
            | "/v1/completions"
            | "/v1/embeddings",
        ) => detail(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed"),
        _ => detail(StatusCode::NOT_FOUND, "Not Found"),
    }
}

#[derive(Debug, Clone, Copy)]
enum Endpoint {
    Chat,
    Completions,
    Embeddings,
}

/// An inference request: count it, apply faults, then run it.
async fn inference(
    engine: &Arc<Engine>,
    req: Request<Incoming>,
    endpoint: Endpoint,
) -> Response<SimBody> {
    let body = match read_body(req).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let guard = match apply_faults(engine).await {
        Ok(g) => g,
        Err(resp) => return resp,
    };
    let prepared = match endpoint {
        Endpoint::Chat => chat::prepare(&engine.cfg, &body),
        Endpoint::Completions => completions::prepare(&engine.cfg, &body),
        Endpoint::Embeddings => return embeddings::respond(engine, guard, &body).await,
    };
    match prepared {
        Ok(p) => generate::respond(engine, guard, p).await,
        Err(e) => {
            guard.reject();
            e.into_response()
        }
    }
}

/// Counts the request, then applies `ExtraLatency` and the failure faults
/// (decided on arrival, answered after the latency).
async fn apply_faults(engine: &Arc<Engine>) -> Result<RequestGuard, Response<SimBody>> {
    let guard = engine.counters.arrive();
    let (failure, latency) = {
        let mut f = engine.faults();
        (f.draw_failure(), f.extra_latency())
    };
    if let Some(d) = latency {
        tokio::time::sleep(d).await;
    }
    match failure {
        Some(status) => {
            guard.fail();
            Err(ApiError::injected(status).into_response())
        }
        None => Ok(guard),
    }
}

async fn read_body(req: Request<Incoming>) -> Result<Bytes, ApiError> {
    match Limited::new(req.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
    {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => Err(ApiError::bad_request(format!(
            "cannot read request body: {e}"
        ))),
    }
}

/// FastAPI's `{"detail": ...}` answer for unknown routes and methods.
fn detail(status: StatusCode, message: &str) -> Response<SimBody> {
    let mut resp =
        json_response(serde_json::to_vec(&json!({ "detail": message })).unwrap_or_default());
    *resp.status_mut() = status;
    resp
}
