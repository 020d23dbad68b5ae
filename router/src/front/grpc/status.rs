//! gRPC status codes and the trailers that carry them.

use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Response, StatusCode};

use crate::front::ResponseBody;
use crate::front::errors::ApiError;

/// The status codes the router itself answers with (grpc/doc/statuscodes.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrpcCode {
    Ok = 0,
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    ResourceExhausted = 8,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
}

impl GrpcCode {
    /// The code for one of the router's HTTP-shaped errors.
    pub fn for_http_status(status: StatusCode) -> Self {
        match status {
            StatusCode::BAD_REQUEST => Self::InvalidArgument,
            StatusCode::NOT_FOUND => Self::NotFound,
            StatusCode::PAYLOAD_TOO_LARGE | StatusCode::TOO_MANY_REQUESTS => {
                Self::ResourceExhausted
            }
            StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_IMPLEMENTED => Self::Unimplemented,
            StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE => Self::Unavailable,
            StatusCode::GATEWAY_TIMEOUT => Self::DeadlineExceeded,
            _ => Self::Internal,
        }
    }
}

/// `grpc-status` and `grpc-message` (percent-encoded, as the spec asks).
pub fn grpc_status_trailers(code: GrpcCode, message: &str) -> HeaderMap {
    let mut trailers = HeaderMap::with_capacity(2);
    trailers.insert("grpc-status", HeaderValue::from(code as i32));
    if !message.is_empty()
        && let Ok(value) = HeaderValue::from_str(&percent_encode(message))
    {
        trailers.insert("grpc-message", value);
    }
    trailers
}

/// A trailers-only response: the status in the headers, no body.
pub fn error(code: GrpcCode, message: &str) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::empty());
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    headers.extend(grpc_status_trailers(code, message));
    response
}

pub fn from_api_error(error: &ApiError) -> Response<ResponseBody> {
    let mut response = self::error(GrpcCode::for_http_status(error.status), &error.message);
    if let Some(seconds) = error.retry_after {
        // Not part of gRPC, but harmless, and tells a proxy-aware client when to retry.
        response
            .headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

/// Percent-encodes what gRPC requires in `grpc-message`: `%` and any byte
/// outside printable ASCII. Hand-written: a dozen lines, no crate needed.
fn percent_encode(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for byte in message.bytes() {
        if (0x20..=0x7e).contains(&byte) && byte != b'%' {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_percent_encoded() {
        assert_eq!(percent_encode("ok 100%"), "ok 100%25");
        assert_eq!(percent_encode("café\n"), "caf%C3%A9%0A");
    }

    #[test]
    fn router_errors_map_to_grpc_codes() {
        let cases = [
            (ApiError::model_not_found("m"), GrpcCode::NotFound),
            (ApiError::bad_request("x"), GrpcCode::InvalidArgument),
            (ApiError::no_healthy_endpoint("m"), GrpcCode::Unavailable),
            (ApiError::at_capacity("m"), GrpcCode::ResourceExhausted),
            (ApiError::bad_gateway("x"), GrpcCode::Unavailable),
            (ApiError::gateway_timeout("x"), GrpcCode::DeadlineExceeded),
        ];
        for (error, code) in cases {
            let response = from_api_error(&error);
            assert_eq!(response.status(), StatusCode::OK, "gRPC errors ride on 200");
            assert_eq!(
                response.headers()["grpc-status"],
                HeaderValue::from(code as i32),
                "{error:?}"
            );
        }
    }
}
