//! The router's own errors. Each front end renders them in its protocol's
//! shape: OpenAI's `{"error": {"message", "type", "param", "code"}}` (so SDKs
//! surface them as their usual exception types), KServe v2's
//! `{"error": "..."}`, TorchServe's `{"code", "type", "message"}`, or a gRPC
//! status.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use http::{Response, StatusCode};

use super::ResponseBody;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub param: Option<&'static str>,
    pub message: String,
    /// Seconds, for 429 and 503.
    pub retry_after: Option<u32>,
}

impl ApiError {
    fn new(
        status: StatusCode,
        kind: &'static str,
        code: Option<&'static str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            code,
            param: None,
            message: message.into(),
            retry_after: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            None,
            message,
        )
    }

    pub fn missing_field(param: &'static str, message: impl Into<String>) -> Self {
        Self {
            param: Some(param),
            ..Self::bad_request(message)
        }
    }

    pub fn model_not_found(model: &str) -> Self {
        Self {
            param: Some("model"),
            ..Self::new(
                StatusCode::NOT_FOUND,
                "invalid_request_error",
                Some("model_not_found"),
                format!("The model `{model}` does not exist or is not served by this router."),
            )
        }
    }

    pub fn not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("unknown_url"),
            format!("Unknown request URL: {path}."),
        )
    }

    pub fn method_not_allowed(method: &http::Method, path: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request_error",
            Some("method_not_allowed"),
            format!("Method {method} is not allowed for {path}."),
        )
    }

    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            Some("request_too_large"),
            format!("The request body is larger than the limit of {limit} bytes."),
        )
    }

    pub fn at_capacity(model: &str) -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                Some("capacity_exceeded"),
                format!(
                    "Every endpoint serving `{model}` is at its concurrency limit; retry shortly."
                ),
            )
        }
    }

    /// The model's batching queues hold `max_queued` requests already.
    pub fn queue_full(model: &str, max_queued: usize) -> Self {
        Self {
            retry_after: Some(1),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                Some("batch_queue_full"),
                format!(
                    "{max_queued} requests for `{model}` already wait for a batch; retry shortly."
                ),
            )
        }
    }

    /// The model is saturated and its request could not spill (`why`).
    pub fn saturated(model: &str, why: &str, retry_after: u32) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                Some("model_saturated"),
                format!(
                    "`{model}` is saturated and this request could not spill over ({why}); retry shortly."
                ),
            )
        }
    }

    pub fn no_healthy_endpoint(model: &str) -> Self {
        Self {
            retry_after: Some(5),
            ..Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "service_unavailable_error",
                Some("no_healthy_endpoint"),
                format!("No healthy endpoint is serving `{model}` right now."),
            )
        }
    }

    pub fn not_implemented(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "invalid_request_error",
            Some("not_implemented"),
            message,
        )
    }

    pub fn bad_gateway(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            Some("bad_gateway"),
            message,
        )
    }

    pub fn gateway_timeout(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::GATEWAY_TIMEOUT,
            "upstream_error",
            Some("upstream_timeout"),
            message,
        )
    }

    pub fn body_json(&self) -> serde_json::Value {
        serde_json::json!({
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        })
    }

    pub fn into_response(self) -> Response<ResponseBody> {
        let body = self.body_json().to_string();
        self.respond_with(body)
    }

    /// KServe v2 over HTTP: `{"error": "<message>"}`, as Triton answers.
    pub fn into_kserve_response(self) -> Response<ResponseBody> {
        let body = serde_json::json!({ "error": self.message }).to_string();
        self.respond_with(body)
    }

    /// TorchServe over HTTP: `{"code", "type", "message"}`, as TorchServe answers.
    pub fn into_torchserve_response(self) -> Response<ResponseBody> {
        let kind = match self.status {
            StatusCode::NOT_FOUND if self.code == Some("model_not_found") => {
                "ModelNotFoundException"
            }
            StatusCode::NOT_FOUND => "ResourceNotFoundException",
            StatusCode::METHOD_NOT_ALLOWED => "MethodNotAllowedException",
            StatusCode::PAYLOAD_TOO_LARGE => "RequestTooLargeException",
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                "ServiceUnavailableException"
            }
            StatusCode::BAD_REQUEST => "BadRequestException",
            _ => "InternalServerException",
        };
        let body = serde_json::json!({
            "code": self.status.as_u16(),
            "type": kind,
            "message": self.message,
        })
        .to_string();
        self.respond_with(body)
    }

    fn respond_with(self, body: String) -> Response<ResponseBody> {
        let mut response = Response::new(ResponseBody::full(body));
        *response.status_mut() = self.status;
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// The SSE event that ends a stream the upstream broke mid-way. The OpenAI
/// SDKs raise an `APIError` when a `data:` event carries an `error` object.
pub fn sse_error_event(message: &str) -> Bytes {
    let error = ApiError::bad_gateway(message);
    Bytes::from(format!("data: {}\n\n", error.body_json()))
}

/// The SSE event that ends a Triton generate_stream the upstream broke
/// mid-way, in Triton's own shape.
pub fn kserve_sse_error(message: &str) -> Bytes {
    Bytes::from(format!(
        "data: {}\n\n",
        serde_json::json!({ "error": message })
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_matches_openai() {
        let v = ApiError::model_not_found("gpt-x").body_json();
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["code"], "model_not_found");
        assert_eq!(v["error"]["param"], "model");
        assert!(v["error"]["message"].as_str().unwrap().contains("gpt-x"));
    }

    #[test]
    fn capacity_errors_carry_retry_after() {
        let r = ApiError::at_capacity("m").into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[RETRY_AFTER], "1");
        let r = ApiError::no_healthy_endpoint("m").into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.headers().contains_key(RETRY_AFTER));
    }

    #[test]
    fn sse_error_is_one_data_event() {
        let event = sse_error_event("upstream died");
        let text = std::str::from_utf8(&event).unwrap();
        assert!(text.starts_with("data: {") && text.ends_with("}\n\n"));
        let json: serde_json::Value = serde_json::from_str(&text[6..text.len() - 2]).unwrap();
        assert_eq!(json["error"]["message"], "upstream died");
    }
}
