//! Tests for `openai_error`.

use serde_json::{Value, json};

use super::openai_error;

fn anthropic(kind: &str, message: &str) -> Vec<u8> {
    json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_1"})
        .to_string()
        .into_bytes()
}

fn openai(message: &str, kind: &str, code: Value) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

#[test]
fn known_statuses() {
    let cases = [
        (400, "invalid_request_error", 400, "invalid_request_error"),
        (401, "authentication_error", 401, "authentication_error"),
        (403, "permission_error", 403, "permission_error"),
        (404, "not_found_error", 404, "invalid_request_error"),
        (413, "request_too_large", 413, "invalid_request_error"),
        (429, "rate_limit_error", 429, "rate_limit_error"),
        (500, "api_error", 500, "server_error"),
        (504, "timeout_error", 504, "server_error"),
        (529, "overloaded_error", 503, "server_error"),
    ];
    for (status, anthropic_type, want_status, want_type) in cases {
        let (got_status, body) = openai_error(status, &anthropic(anthropic_type, "why"));
        assert_eq!(got_status, want_status, "{anthropic_type}");
        assert_eq!(
            body,
            openai("why", want_type, json!(anthropic_type)),
            "{anthropic_type}"
        );
    }
}

#[test]
fn non_json_body() {
    let (status, body) = openai_error(502, b"<html>Bad Gateway</html>\n");
    assert_eq!(status, 502);
    assert_eq!(
        body,
        openai(
            "Anthropic returned HTTP 502: <html>Bad Gateway</html>",
            "server_error",
            Value::Null
        )
    );
}

#[test]
fn empty_body_and_odd_status() {
    let (status, body) = openai_error(529, b"");
    assert_eq!(status, 503);
    assert_eq!(
        body,
        openai("Anthropic returned HTTP 529", "server_error", Value::Null)
    );
    // A non-error status with an error body is the upstream misbehaving.
    let (status, body) = openai_error(200, b"{}");
    assert_eq!(status, 502);
    assert_eq!(body["error"]["type"], json!("server_error"));
}

#[test]
fn long_body_is_shortened() {
    let long = "é".repeat(400);
    let (_, body) = openai_error(500, long.as_bytes());
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.ends_with("..."));
    assert!(message.len() < 600, "{}", message.len());
}
