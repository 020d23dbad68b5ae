//! The FAKE OpenAI API (`/v1/chat/completions`, `/v1/completions`,
//! `/v1/embeddings`, `/v1/models`). Azure OpenAI reuses its endpoints with
//! [`Flavor::Azure`].

mod chat;
mod chat_request;
mod check;
mod completions;
mod embeddings;
pub(crate) mod errors;
mod messages;

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::http::{Answer, Req, json as json_response, new_id};
use crate::state::Shared;
use errors::OaiError;

/// Which service the OpenAI endpoints are answering as.
pub(crate) enum Flavor {
    OpenAi,
    Azure { deployment: String },
}

impl Flavor {
    /// Response headers every answer carries (request ids).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            Flavor::OpenAi => vec![("x-request-id", new_id("req_", 32))],
            Flavor::Azure { .. } => {
                let id = uuid::Uuid::new_v4().to_string();
                vec![("apim-request-id", id.clone()), ("x-request-id", id)]
            }
        }
    }

    /// The `model` responses report: the requested one, or for Azure the
    /// deployment's (its name).
    pub fn model(&self, requested: Option<&str>) -> String {
        match self {
            Flavor::OpenAi => requested.unwrap_or_default().to_owned(),
            Flavor::Azure { deployment } => deployment.clone(),
        }
    }

    pub fn is_azure(&self) -> bool {
        matches!(self, Flavor::Azure { .. })
    }
}

/// An inference endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Chat,
    Completions,
    Embeddings,
}

/// Answers a request to the fake OpenAI.
pub(crate) async fn handle(shared: &Shared, req: &Req) -> Answer {
    let flavor = Flavor::OpenAi;
    let headers = flavor.headers();
    let endpoint = match req.path.as_str() {
        "/v1/chat/completions" => Some(Endpoint::Chat),
        "/v1/completions" => Some(Endpoint::Completions),
        "/v1/embeddings" => Some(Endpoint::Embeddings),
        "/v1/models" => None,
        _ => return invalid_url(req, "Invalid URL", StatusCode::NOT_FOUND, &headers),
    };
    let allowed = if endpoint.is_some() {
        Method::POST
    } else {
        Method::GET
    };
    if req.method != allowed {
        let status = StatusCode::METHOD_NOT_ALLOWED;
        return invalid_url(req, "Invalid method for URL", status, &headers);
    }
    if let Err(e) = authorize(shared, req) {
        return e.answer(&headers);
    }
    let Some(endpoint) = endpoint else {
        return Answer::ok(json_response(StatusCode::OK, &headers, &models(shared)));
    };
    if let Some(fault) = shared.take_fault() {
        return errors::fault(fault, &headers);
    }
    serve(shared, req, endpoint, &flavor).await
}

/// Parses and answers an inference request (OpenAI or Azure, authorized).
pub(crate) async fn serve(
    shared: &Shared,
    req: &Req,
    endpoint: Endpoint,
    flavor: &Flavor,
) -> Answer {
    let headers = flavor.headers();
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(_) => return errors::bad_json().answer(&headers),
    };
    let azure = flavor.is_azure();
    let outcome = match endpoint {
        Endpoint::Chat => match chat_request::parse(&body, !azure) {
            Ok(r) => match check_model(shared, flavor, r.model.as_deref()) {
                Ok(()) => Ok(chat::respond(shared, r, flavor, &headers).await),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        },
        Endpoint::Completions => match completions::parse(&body, !azure) {
            Ok(r) => match check_model(shared, flavor, r.model.as_deref()) {
                Ok(()) => Ok(completions::respond(shared, r, flavor, &headers).await),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        },
        Endpoint::Embeddings => match embeddings::parse(&body, !azure) {
            Ok(r) => match check_model(shared, flavor, r.model.as_deref()) {
                Ok(()) => Ok(embeddings::respond(shared, r, flavor, &headers).await),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        },
    };
    outcome.unwrap_or_else(|e| e.answer(&headers))
}

/// `404` for a model the fake OpenAI is not configured with (Azure: the
/// deployment decides the model, `model` in the body is ignored).
fn check_model(shared: &Shared, flavor: &Flavor, model: Option<&str>) -> Result<(), OaiError> {
    match model {
        Some(m) if !flavor.is_azure() && !shared.model_known(m) => Err(errors::model_not_found(m)),
        _ => Ok(()),
    }
}

/// Checks `Authorization: Bearer <key>`.
fn authorize(shared: &Shared, req: &Req) -> Result<(), OaiError> {
    let Some(auth) = req.header("authorization") else {
        return Err(errors::no_key());
    };
    let key = auth.strip_prefix("Bearer ").unwrap_or(auth).trim();
    if key.is_empty() {
        return Err(errors::no_key());
    }
    if key != shared.config.api_key {
        return Err(errors::wrong_key(key));
    }
    Ok(())
}

fn invalid_url(req: &Req, what: &str, status: StatusCode, headers: &[(&str, String)]) -> Answer {
    let mut err = OaiError::invalid(format!("{what} ({} {})", req.method, req.path), None, None);
    err.status = status;
    err.answer(headers)
}

/// `GET /v1/models` in OpenAI's shape.
fn models(shared: &Shared) -> Value {
    let names = model_names(
        shared,
        &[
            "gpt-4o-mini",
            "gpt-4o",
            "gpt-3.5-turbo-instruct",
            "text-embedding-3-small",
        ],
    );
    let data: Vec<Value> = names
        .iter()
        .map(|id| json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "system"}))
        .collect();
    json!({"object": "list", "data": data})
}

/// The configured models, or `defaults`.
pub(crate) fn model_names(shared: &Shared, defaults: &[&str]) -> Vec<String> {
    if shared.config.models.is_empty() {
        defaults.iter().map(|s| (*s).to_owned()).collect()
    } else {
        shared.config.models.clone()
    }
}
