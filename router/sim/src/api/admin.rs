//! Non-inference endpoints: vLLM's `/health`, `/metrics`, `/v1/models`,
//! `/version`, `/reset_prefix_cache`, and the simulator's own `/sim/stats`
//! and `/sim/fault`.

use http::{HeaderValue, Response, StatusCode, header};
use serde_json::json;

use super::errors::ApiError;
use super::generate::json_response;
use super::wire::{random_id, unix_now};
use crate::body::SimBody;
use crate::engine::Engine;
use crate::fault::Fault;

/// Version reported by `/version`: the vLLM release the simulator mimics.
const VLLM_VERSION: &str = "0.32.0";

/// `GET /health`: 200 with an empty body, or 503 under the `Unhealthy` fault.
pub(crate) fn health(engine: &Engine) -> Response<SimBody> {
    let mut resp = Response::new(SimBody::empty());
    if engine.faults().unhealthy() {
        *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    }
    resp
}

/// `GET /metrics`: Prometheus text.
pub(crate) fn metrics(engine: &Engine) -> Response<SimBody> {
    let mut resp = Response::new(SimBody::full(engine.render_metrics()));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

/// `GET /v1/models`: every served name, as vLLM lists them.
pub(crate) fn models(engine: &Engine) -> Response<SimBody> {
    let cfg = &engine.cfg;
    let created = unix_now();
    let data: Vec<_> = cfg
        .served_names()
        .map(|name| {
            json!({
                "id": name,
                "object": "model",
                "created": created,
                "owned_by": "vllm",
                "root": cfg.served_model_name,
                "parent": null,
                "max_model_len": cfg.max_model_len,
                "permission": [{
                    "id": random_id("modelperm-"),
                    "object": "model_permission",
                    "created": created,
                    "allow_create_engine": false,
                    "allow_sampling": true,
                    "allow_logprobs": true,
                    "allow_search_indices": false,
                    "allow_view": true,
                    "allow_fine_tuning": false,
                    "organization": "*",
                    "group": null,
                    "is_blocking": false,
                }],
            })
        })
        .collect();
    json_value(&json!({"object": "list", "data": data}))
}

/// `GET /version`.
pub(crate) fn version() -> Response<SimBody> {
    json_value(&json!({ "version": VLLM_VERSION }))
}

/// `POST /reset_prefix_cache`: forgets unreferenced cached blocks.
pub(crate) fn reset_prefix_cache(engine: &Engine) -> Response<SimBody> {
    engine.reset_prefix_cache();
    Response::new(SimBody::empty())
}

/// `GET /sim/stats`.
pub(crate) fn stats(engine: &Engine) -> Response<SimBody> {
    json_response(serde_json::to_vec(&engine.stats()).unwrap_or_default())
}

/// `POST /sim/fault` with a [`Fault`] as JSON: activates it and answers the
/// active faults.
pub(crate) fn set_fault(engine: &Engine, body: &[u8]) -> Response<SimBody> {
    let fault: Fault = match serde_json::from_slice(body) {
        Ok(f) => f,
        Err(e) => return ApiError::bad_request(format!("Invalid fault: {e}")).into_response(),
    };
    if let Err(msg) = fault.validate() {
        return ApiError::bad_request(msg).into_response();
    }
    let mut faults = engine.faults();
    faults.set(fault);
    json_value(&json!({ "faults": faults.active() }))
}

/// `DELETE /sim/fault`: clears every fault.
pub(crate) fn clear_faults(engine: &Engine) -> Response<SimBody> {
    engine.faults().clear();
    json_value(&json!({ "faults": [] }))
}

fn json_value(v: &serde_json::Value) -> Response<SimBody> {
    json_response(serde_json::to_vec(v).unwrap_or_default())
}
