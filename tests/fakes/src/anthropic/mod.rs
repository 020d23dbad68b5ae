//! The FAKE Anthropic API: `POST /v1/messages` (and `GET /v1/models` in
//! Anthropic's shape). Checks, in order: `x-api-key` (`401
//! authentication_error`), `anthropic-version` (`400`), `content-type:
//! application/json` (`400`), scripted faults, the JSON body (Messages API
//! rules, extra fields refused), the model. Every answer has a `request-id`.

mod blocks;
mod errors;
mod messages;
mod respond;
mod validate;

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::http::{Answer, Req, json as json_response, new_id};
use crate::openai::model_names;
use crate::state::Shared;
use errors::AntError;

/// `anthropic-version` values the API accepts.
const VERSIONS: &[&str] = &["2023-06-01", "2023-01-01"];

/// Answers a request to the fake Anthropic API.
pub(crate) async fn handle(shared: &Shared, req: &Req) -> Answer {
    let request_id = new_id("req_011", 24);
    match (req.path.as_str(), &req.method) {
        ("/v1/messages", &Method::POST) | ("/v1/models", &Method::GET) => {}
        ("/v1/messages", _) => {
            let err = AntError::new(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed");
            return err.answer(&request_id, &[]);
        }
        _ => return AntError::new(StatusCode::NOT_FOUND, "Not Found").answer(&request_id, &[]),
    }
    if let Err(e) = check_headers(shared, req) {
        return e.answer(&request_id, &[]);
    }
    if req.method == Method::GET {
        let headers = [("request-id", request_id)];
        return Answer::ok(json_response(StatusCode::OK, &headers, &models(shared)));
    }
    if !req
        .header("content-type")
        .is_some_and(|c| c.trim_start().starts_with("application/json"))
    {
        let err =
            AntError::invalid("content-type: the request body must be sent as application/json");
        return err.answer(&request_id, &[]);
    }
    if let Some(fault) = shared.take_fault() {
        return errors::fault(fault, &request_id);
    }
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => {
            let err = AntError::invalid(format!("The request body is not valid JSON: {e}"));
            return err.answer(&request_id, &[]);
        }
    };
    let parsed = match validate::parse(&body) {
        Ok(p) => p,
        Err(e) => return e.answer(&request_id, &[]),
    };
    if !shared.model_known(&parsed.model) {
        let err = AntError::new(StatusCode::NOT_FOUND, format!("model: {}", parsed.model));
        return err.answer(&request_id, &[]);
    }
    respond::respond(shared, parsed, &request_id).await
}

/// `x-api-key`, then `anthropic-version`.
fn check_headers(shared: &Shared, req: &Req) -> Result<(), AntError> {
    match req.header("x-api-key") {
        None => {
            return Err(AntError::new(
                StatusCode::UNAUTHORIZED,
                "x-api-key header is required",
            ));
        }
        Some(k) if k != shared.config.api_key => {
            return Err(AntError::new(StatusCode::UNAUTHORIZED, "invalid x-api-key"));
        }
        Some(_) => {}
    }
    match req.header("anthropic-version") {
        None => Err(AntError::invalid("anthropic-version: header is required")),
        Some(v) if !VERSIONS.contains(&v) => Err(AntError::invalid(format!(
            "anthropic-version: \"{v}\" is not a valid version"
        ))),
        Some(_) => Ok(()),
    }
}

/// `GET /v1/models` in Anthropic's shape.
fn models(shared: &Shared) -> Value {
    let names = model_names(shared, &["claude-sonnet-4-5", "claude-haiku-4-5"]);
    let data: Vec<Value> = names
        .iter()
        .map(|id| json!({"type": "model", "id": id, "display_name": id, "created_at": "2025-01-01T00:00:00Z"}))
        .collect();
    json!({
        "data": data,
        "has_more": false,
        "first_id": names.first(),
        "last_id": names.last(),
    })
}
