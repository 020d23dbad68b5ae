//! OpenAI's error JSON, `{"error":{"message","type","param","code"}}`, and
//! the fake's uses of it: validation failures, bad keys, injected faults.

use http::StatusCode;
use serde_json::{Value, json};

use crate::faults::Fault;
use crate::http::{Answer, json as json_response};

/// An OpenAI-style error (also what Azure answers for invalid bodies).
#[derive(Debug, Clone)]
pub(crate) struct OaiError {
    pub status: StatusCode,
    pub message: String,
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<&'static str>,
}

impl OaiError {
    /// `400 invalid_request_error`.
    pub fn invalid(
        message: impl Into<String>,
        param: Option<&str>,
        code: Option<&'static str>,
    ) -> Self {
        OaiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "invalid_request_error",
            param: param.map(str::to_owned),
            code,
        }
    }

    pub fn to_value(&self) -> Value {
        json!({"error": {
            "message": self.message,
            "type": self.kind,
            "param": self.param,
            "code": self.code,
        }})
    }

    /// The error as a refused request, with `headers`.
    pub fn answer(&self, headers: &[(&str, String)]) -> Answer {
        let resp = json_response(self.status, headers, &self.to_value());
        Answer::rejected(resp, format!("{}: {}", self.status.as_u16(), self.message))
    }
}

/// The JSON type name OpenAI's messages use ("a string", "an integer"…).
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a decimal",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(crate) fn missing(param: &str) -> OaiError {
    OaiError::invalid(
        format!("Missing required parameter: '{param}'."),
        Some(param),
        Some("missing_required_parameter"),
    )
}

pub(crate) fn invalid_type(param: &str, expected: &str, got: &Value) -> OaiError {
    OaiError::invalid(
        format!(
            "Invalid type for '{param}': expected {expected}, but got {} instead.",
            type_name(got)
        ),
        Some(param),
        Some("invalid_type"),
    )
}

/// `Invalid value: 'v'. Supported values are: 'a', 'b', and 'c'.`
pub(crate) fn invalid_value(param: &str, value: &str, supported: &[&str]) -> OaiError {
    let quoted: Vec<String> = supported.iter().map(|s| format!("'{s}'")).collect();
    let list = match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} and {b}"),
        [rest @ .., last] => format!("{}, and {last}", rest.join(", ")),
    };
    OaiError::invalid(
        format!("Invalid value: '{value}'. Supported values are: {list}."),
        Some(param),
        Some("invalid_value"),
    )
}

pub(crate) fn empty_array(param: &str) -> OaiError {
    OaiError::invalid(
        format!(
            "Invalid '{param}': empty array. Expected an array with minimum length 1, but got an empty array instead."
        ),
        Some(param),
        Some("empty_array"),
    )
}

pub(crate) fn unrecognized(key: &str) -> OaiError {
    OaiError::invalid(
        format!("Unrecognized request argument supplied: {key}"),
        None,
        None,
    )
}

pub(crate) fn bad_json() -> OaiError {
    OaiError::invalid(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)",
        None,
        None,
    )
}

/// `401` for a request without a key.
pub(crate) fn no_key() -> OaiError {
    OaiError {
        status: StatusCode::UNAUTHORIZED,
        message: "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API from your browser and are prompted for a username and password. You can obtain an API key from https://platform.openai.com/account/api-keys.".to_owned(),
        kind: "invalid_request_error",
        param: None,
        code: None,
    }
}

/// `401` for a wrong key (shown masked, as OpenAI does).
pub(crate) fn wrong_key(key: &str) -> OaiError {
    let chars: Vec<char> = key.chars().collect();
    let masked = if chars.len() > 8 {
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{head}{}{tail}", "*".repeat(chars.len() - 7))
    } else {
        "*".repeat(chars.len())
    };
    OaiError {
        status: StatusCode::UNAUTHORIZED,
        message: format!(
            "Incorrect API key provided: {masked}. You can find your API key at https://platform.openai.com/account/api-keys."
        ),
        kind: "invalid_request_error",
        param: None,
        code: Some("invalid_api_key"),
    }
}

/// `404` for a model the fake is not configured with.
pub(crate) fn model_not_found(model: &str) -> OaiError {
    OaiError {
        status: StatusCode::NOT_FOUND,
        message: format!("The model `{model}` does not exist or you do not have access to it."),
        kind: "invalid_request_error",
        param: None,
        code: Some("model_not_found"),
    }
}

/// OpenAI's answer to an injected fault.
pub(crate) fn fault(fault: Fault, headers: &[(&str, String)]) -> Answer {
    let mut headers = headers.to_vec();
    let err = match fault {
        Fault::RateLimited { retry_after_secs } => {
            headers.push(("retry-after", retry_after_secs.to_string()));
            OaiError {
                status: StatusCode::TOO_MANY_REQUESTS,
                message: format!(
                    "Rate limit reached for requests (fake provider). Please try again in {retry_after_secs}s. Visit https://platform.openai.com/account/rate-limits to learn more."
                ),
                kind: "requests",
                param: None,
                code: Some("rate_limit_exceeded"),
            }
        }
        Fault::Overloaded => status_error(503),
        Fault::Status(s) => status_error(s),
    };
    let mut answer = err.answer(&headers);
    answer.rejection = Some(format!("injected fault {fault:?}"));
    answer
}

/// The body OpenAI sends with `status` when it fails on its side.
fn status_error(status: u16) -> OaiError {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let (message, kind) = match status {
        429 => (
            "Rate limit reached for requests (fake provider).",
            "requests",
        ),
        400..=499 => (
            "The request was refused (fake provider fault).",
            "invalid_request_error",
        ),
        502 => ("Bad gateway.", "server_error"),
        503 => ("The server is overloaded or not ready yet.", "server_error"),
        _ => (
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
        ),
    };
    OaiError {
        status: code,
        message: message.to_owned(),
        kind,
        param: None,
        code: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_supported_values_like_openai() {
        let e = invalid_value("messages[0].role", "bot", &["system", "assistant", "user"]);
        assert_eq!(
            e.message,
            "Invalid value: 'bot'. Supported values are: 'system', 'assistant', and 'user'."
        );
        let e = invalid_value("x", "y", &["float", "base64"]);
        assert!(e.message.ends_with("'float' and 'base64'."));
    }

    #[test]
    fn masks_wrong_keys() {
        let e = wrong_key("sk-abcdefghijkl");
        assert!(e.message.contains("sk-********ijkl"), "{}", e.message);
        assert_eq!(e.code, Some("invalid_api_key"));
    }
}
