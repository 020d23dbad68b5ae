//! Anthropic error responses -> OpenAI error objects.
//!
//! Anthropic answers errors with `{"type":"error","error":{"type","message"}}`;
//! OpenAI clients expect `{"error":{"message","type","param","code"}}` and
//! branch on the HTTP status. The status is kept, except that Anthropic's
//! non-standard 529 (overloaded) becomes 503, and anything that is not an
//! error status becomes 502. `type` is the OpenAI-style class of the status;
//! `code` is Anthropic's own error type, verbatim, for whoever wants detail.

use serde_json::{Value, json};

/// Longest stretch of a non-JSON error body quoted in the message.
const MAX_QUOTED_BODY: usize = 512;

/// An Anthropic error response (status and body) -> the OpenAI error object
/// `{"error":{"message","type","param","code"}}` a client of the OpenAI API expects,
/// with the status to answer (Anthropic 529 overloaded_error -> 503; 413 stays 413, etc.).
///
/// A body that is not Anthropic's error JSON (a proxy's HTML page, say) is quoted,
/// shortened, in the message, with `code` null.
pub fn openai_error(status: u16, body: &[u8]) -> (u16, Value) {
    let parsed = serde_json::from_slice::<Value>(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let kind = error.and_then(|e| e.get("type")).and_then(Value::as_str);
    let message = error.and_then(|e| e.get("message")).and_then(Value::as_str);
    match message {
        Some(message) => build(status, message, kind),
        None => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            let message = if text.is_empty() {
                format!("Anthropic returned HTTP {status}")
            } else {
                format!(
                    "Anthropic returned HTTP {status}: {}",
                    shorten(text, MAX_QUOTED_BODY)
                )
            };
            build(status, &message, kind)
        }
    }
}

/// The OpenAI error for an Anthropic stream `error` event's data, whose
/// status is implied by its error type (headers were sent long before).
pub(super) fn stream_error(data: &Value) -> (u16, Value) {
    let error = data.get("error");
    let kind = error.and_then(|e| e.get("type")).and_then(Value::as_str);
    let message = error
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("Anthropic stream error");
    build(status_of(kind), message, kind)
}

fn build(status: u16, message: &str, anthropic_type: Option<&str>) -> (u16, Value) {
    let status = match status {
        529 => 503,
        400..=599 => status,
        _ => 502,
    };
    let kind = match status {
        401 => "authentication_error",
        403 => "permission_error",
        429 => "rate_limit_error",
        500.. => "server_error",
        _ => "invalid_request_error",
    };
    let body = json!({
        "error": {
            "message": message,
            "type": kind,
            "param": null,
            "code": anthropic_type,
        }
    });
    (status, body)
}

/// The HTTP status Anthropic documents for each error type.
fn status_of(anthropic_type: Option<&str>) -> u16 {
    match anthropic_type {
        Some("invalid_request_error") => 400,
        Some("authentication_error") => 401,
        Some("billing_error") => 402,
        Some("permission_error") => 403,
        Some("not_found_error") => 404,
        Some("request_too_large") => 413,
        Some("rate_limit_error") => 429,
        Some("timeout_error") => 504,
        Some("overloaded_error") => 529,
        // api_error and anything new: Anthropic's side failed.
        _ => 500,
    }
}

/// At most `max` bytes of `text`, cut on a character boundary, marked if cut.
fn shorten(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}
