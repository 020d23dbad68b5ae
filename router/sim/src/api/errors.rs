//! Error responses in vLLM's shape:
//! `{"error":{"message":..,"type":"BadRequestError","param":null,"code":400}}`.

use http::{HeaderValue, Response, StatusCode, header};
use serde::Serialize;

use crate::body::SimBody;

/// An error answered to the client.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorInfo<'a>,
}

#[derive(Serialize)]
struct ErrorInfo<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: String,
    param: Option<&'a str>,
    code: u16,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// vLLM's answer to a model name it does not serve.
    pub(crate) fn model_not_found(model: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            format!("The model `{model}` does not exist."),
        )
    }

    /// The answer of a `FailNext` / `FailFraction` fault.
    pub(crate) fn injected(status: u16) -> Self {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self::new(
            status,
            format!(
                "Simulated engine failure (fault injection, status {}).",
                status.as_u16()
            ),
        )
    }

    pub(crate) fn into_response(self) -> Response<SimBody> {
        let body = ErrorBody {
            error: ErrorInfo {
                message: &self.message,
                kind: error_type(self.status),
                param: None,
                code: self.status.as_u16(),
            },
        };
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut resp = Response::new(SimBody::full(bytes));
        *resp.status_mut() = self.status;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        resp
    }
}

/// vLLM's error `type`: the reason phrase in CamelCase, ending in "Error"
/// ("BadRequestError", "NotFoundError", "InternalServerError",
/// "ServiceUnavailableError").
fn error_type(status: StatusCode) -> String {
    let phrase = status.canonical_reason().unwrap_or("Unknown");
    let mut name: String = phrase
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars
                .next()
                .map(|f| f.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect();
    if !name.ends_with("Error") {
        name.push_str("Error");
    }
    name
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn error_types_match_vllm() {
        assert_eq!(error_type(StatusCode::BAD_REQUEST), "BadRequestError");
        assert_eq!(error_type(StatusCode::NOT_FOUND), "NotFoundError");
        assert_eq!(
            error_type(StatusCode::INTERNAL_SERVER_ERROR),
            "InternalServerError"
        );
        assert_eq!(
            error_type(StatusCode::SERVICE_UNAVAILABLE),
            "ServiceUnavailableError"
        );
        assert_eq!(
            error_type(StatusCode::TOO_MANY_REQUESTS),
            "TooManyRequestsError"
        );
    }

    #[test]
    fn body_shape() {
        let resp = ApiError::model_not_found("x").into_response();
        assert_eq!(resp.status(), 404);
        let SimBody::Full(Some(bytes)) = resp.into_body() else {
            panic!("expected a full body")
        };
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error":{"message":"The model `x` does not exist.",
                "type":"NotFoundError","param":null,"code":404}})
        );
    }
}
