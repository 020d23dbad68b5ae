//! Anthropic's error JSON,
//! `{"type":"error","error":{"type","message"},"request_id"}`, with the
//! validation messages its API uses (`<path>: <what is wrong>`).

use http::StatusCode;
use serde_json::json;

use crate::faults::Fault;
use crate::http::{Answer, json as json_response};

/// An Anthropic API error.
#[derive(Debug, Clone)]
pub(crate) struct AntError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub message: String,
}

impl AntError {
    /// `400 invalid_request_error`.
    pub fn invalid(message: impl Into<String>) -> Self {
        AntError {
            status: StatusCode::BAD_REQUEST,
            kind: "invalid_request_error",
            message: message.into(),
        }
    }

    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        AntError {
            status,
            kind: kind_for(status.as_u16()),
            message: message.into(),
        }
    }

    /// The error as a refused request, with its `request-id`.
    pub fn answer(&self, request_id: &str, extra: &[(&str, String)]) -> Answer {
        let body = json!({
            "type": "error",
            "error": {"type": self.kind, "message": self.message},
            "request_id": request_id,
        });
        let mut headers = vec![("request-id", request_id.to_owned())];
        headers.extend_from_slice(extra);
        Answer::rejected(
            json_response(self.status, &headers, &body),
            format!("{}: {}", self.status.as_u16(), self.message),
        )
    }
}

/// The error type Anthropic uses for `status`.
pub(crate) fn kind_for(status: u16) -> &'static str {
    match status {
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        500..=599 => "api_error",
        _ => "invalid_request_error",
    }
}

/// `<loc>: Field required`.
pub(crate) fn required(loc: &str) -> AntError {
    AntError::invalid(format!("{loc}: Field required"))
}

/// `<loc>: Input should be <what>` (e.g. "a valid string").
pub(crate) fn should_be(loc: &str, what: &str) -> AntError {
    AntError::invalid(format!("{loc}: Input should be {what}"))
}

/// `<loc>: Extra inputs are not permitted`.
pub(crate) fn extra(loc: &str) -> AntError {
    AntError::invalid(format!("{loc}: Extra inputs are not permitted"))
}

/// Anthropic's answer to an injected fault.
pub(crate) fn fault(fault: Fault, request_id: &str) -> Answer {
    let mut extra = Vec::new();
    let err = match fault {
        Fault::RateLimited { retry_after_secs } => {
            extra.push(("retry-after", retry_after_secs.to_string()));
            AntError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "This request would exceed the rate limit for your organization (fake provider). Please retry after {retry_after_secs} seconds."
                ),
            )
        }
        Fault::Overloaded => overloaded(),
        Fault::Status(529) => overloaded(),
        Fault::Status(s) => {
            let status = StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let message = if s >= 500 {
                "Internal server error"
            } else {
                "Request refused (fake provider fault)"
            };
            AntError::new(status, message)
        }
    };
    let mut answer = err.answer(request_id, &extra);
    answer.rejection = Some(format!("injected fault {fault:?}"));
    answer
}

fn overloaded() -> AntError {
    AntError {
        // 529 is a valid (unregistered) status code.
        status: StatusCode::from_u16(529).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
        kind: "overloaded_error",
        message: "Overloaded".to_owned(),
    }
}
