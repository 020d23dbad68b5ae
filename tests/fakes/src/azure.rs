//! The FAKE Azure OpenAI resource:
//! `POST /openai/deployments/{deployment}/{chat/completions|completions|embeddings}?api-version=V`.
//!
//! Checks, in order: a known path (else `404 Resource not found`), the
//! `api-version` query (missing: `404 Resource not found`; not of the form
//! `YYYY-MM-DD[-preview]`: `400 API version not supported`), the `api-key`
//! header (else `401`; an `Authorization: Bearer` Entra token is not
//! accepted by the fake), the deployment (`404 DeploymentNotFound`), then
//! scripted faults, then the body as OpenAI validates it. Answers are
//! OpenAI's, with `model` set to the deployment and Azure's content-filter
//! annotations (streams start with a `choices: []` prompt-filter chunk).

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::faults::Fault;
use crate::http::{Answer, Req, json as json_response};
use crate::openai::{self, Endpoint, Flavor};
use crate::state::Shared;

/// Answers a request to the fake Azure OpenAI resource.
pub(crate) async fn handle(shared: &Shared, req: &Req) -> Answer {
    let headers = Flavor::Azure {
        deployment: String::new(),
    }
    .headers();
    let Some((deployment, endpoint)) = route(&req.path).filter(|_| req.method == Method::POST)
    else {
        return error(StatusCode::NOT_FOUND, "404", "Resource not found", &headers);
    };
    let Some(version) = req.query_param("api-version") else {
        return error(StatusCode::NOT_FOUND, "404", "Resource not found", &headers);
    };
    if !valid_version(&version) {
        return error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "API version not supported",
            &headers,
        );
    }
    if req.header("api-key") != Some(shared.config.api_key.as_str()) {
        let message = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.";
        return error(StatusCode::UNAUTHORIZED, "401", message, &headers);
    }
    if !shared.deployment_known(deployment) {
        let message = "The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again.";
        return error(
            StatusCode::NOT_FOUND,
            "DeploymentNotFound",
            message,
            &headers,
        );
    }
    if let Some(f) = shared.take_fault() {
        return fault(f, endpoint, &version, &headers);
    }
    let flavor = Flavor::Azure {
        deployment: deployment.to_owned(),
    };
    openai::serve(shared, req, endpoint, &flavor).await
}

/// The deployment and endpoint of an Azure inference path.
fn route(path: &str) -> Option<(&str, Endpoint)> {
    let rest = path.strip_prefix("/openai/deployments/")?;
    let (deployment, op) = rest.split_once('/')?;
    let endpoint = match op {
        "chat/completions" => Endpoint::Chat,
        "completions" => Endpoint::Completions,
        "embeddings" => Endpoint::Embeddings,
        _ => return None,
    };
    (!deployment.is_empty()).then_some((deployment, endpoint))
}

/// `YYYY-MM-DD` or `YYYY-MM-DD-preview`.
fn valid_version(v: &str) -> bool {
    let date = v.strip_suffix("-preview").unwrap_or(v);
    let b = date.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// Azure's own error JSON, `{"error":{"code","message"}}`.
fn error(status: StatusCode, code: &str, message: &str, headers: &[(&str, String)]) -> Answer {
    let body = json!({"error": {"code": code, "message": message}});
    Answer::rejected(
        json_response(status, headers, &body),
        format!("{}: {message}", status.as_u16()),
    )
}

/// Azure's answer to an injected fault.
fn fault(fault: Fault, endpoint: Endpoint, version: &str, headers: &[(&str, String)]) -> Answer {
    let mut headers = headers.to_vec();
    let (status, code, message) = match fault {
        Fault::RateLimited { retry_after_secs } => {
            headers.push(("retry-after", retry_after_secs.to_string()));
            headers.push(("retry-after-ms", (retry_after_secs * 1000).to_string()));
            let operation = match endpoint {
                Endpoint::Chat => "ChatCompletions_Create",
                Endpoint::Completions => "Completions_Create",
                Endpoint::Embeddings => "Embeddings_Create",
            };
            (
                429,
                "429".to_owned(),
                format!(
                    "Requests to the {operation} Operation under Azure OpenAI API version {version} have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after {retry_after_secs} seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."
                ),
            )
        }
        Fault::Overloaded => (
            503,
            "ServiceUnavailable".to_owned(),
            "The service is temporarily unable to process your request. Please try again later."
                .to_owned(),
        ),
        Fault::Status(s) => (
            s,
            s.to_string(),
            "The server had an error while processing your request. Sorry about that!".to_owned(),
        ),
    };
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut answer = error(status, &code, &message, &headers);
    answer.rejection = Some(format!("injected fault {fault:?}"));
    answer
}

/// Azure's per-choice content filter annotations (nothing filtered).
pub(crate) fn content_filter_results() -> Value {
    let safe = json!({"filtered": false, "severity": "safe"});
    json!({"hate": safe, "self_harm": safe, "sexual": safe, "violence": safe})
}

/// Azure's `prompt_filter_results` (nothing filtered).
pub(crate) fn prompt_filter_results() -> Value {
    let mut results = content_filter_results();
    results["jailbreak"] = json!({"filtered": false, "detected": false});
    json!([{"prompt_index": 0, "content_filter_results": results}])
}

/// The chunk Azure streams first: no choices, only the prompt filter results.
pub(crate) fn prompt_filter_chunk() -> Value {
    json!({
        "choices": [], "created": 0, "id": "", "model": "", "object": "",
        "prompt_filter_results": prompt_filter_results(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_versions() {
        assert!(matches!(
            route("/openai/deployments/gpt4/chat/completions"),
            Some(("gpt4", Endpoint::Chat))
        ));
        assert!(matches!(
            route("/openai/deployments/e/embeddings"),
            Some(("e", Endpoint::Embeddings))
        ));
        assert!(route("/openai/deployments//completions").is_none());
        assert!(route("/openai/deployments/x/images").is_none());
        assert!(valid_version("2024-10-21"));
        assert!(valid_version("2025-01-01-preview"));
        assert!(!valid_version("latest"));
        assert!(!valid_version("2024-1-21"));
    }
}
