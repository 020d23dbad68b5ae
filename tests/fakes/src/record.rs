//! What the fake providers received, kept for tests to assert on.

use http::HeaderMap;
use serde_json::Value;

/// Which fake API a request went to. Paths under `/openai/` are Azure,
/// `/v1/messages…` is Anthropic, everything else is OpenAI (`GET /v1/models`
/// is Anthropic when it carries `x-api-key` or `anthropic-version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    /// The fake of `api.openai.com`.
    OpenAi,
    /// The fake of an Azure OpenAI resource.
    Azure,
    /// The fake of `api.anthropic.com`.
    Anthropic,
}

impl Api {
    pub(crate) fn index(self) -> usize {
        match self {
            Api::OpenAi => 0,
            Api::Azure => 1,
            Api::Anthropic => 2,
        }
    }
}

/// Request headers the fakes record (names in lower case): those that carry
/// the key, the API version or the payload's kind.
pub const RECORDED_HEADERS: &[&str] = &[
    "authorization",
    "api-key",
    "x-api-key",
    "anthropic-version",
    "anthropic-beta",
    "content-type",
    "accept",
    "openai-organization",
    "openai-project",
];

/// One request a fake provider received, and how it answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// The fake API the request went to.
    pub api: Api,
    /// HTTP method the fake received, e.g. `POST`.
    pub method: String,
    /// Path the fake received, without the query, e.g. `/v1/chat/completions`.
    pub path: String,
    /// The raw query string the fake received, e.g. `api-version=2024-10-21`.
    pub query: Option<String>,
    /// The [`RECORDED_HEADERS`] the fake received, as (lower-case name, value).
    pub headers: Vec<(String, String)>,
    /// The body the fake received, when it parsed as JSON.
    pub body: Option<Value>,
    /// The status the fake answered.
    pub status: u16,
    /// Why the fake refused the request (validation failure, bad key,
    /// injected fault…); `None` when it was answered normally.
    pub rejection: Option<String>,
}

impl Received {
    /// The value of header `name` as the fake received it (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The [`RECORDED_HEADERS`] present in `headers`.
pub(crate) fn relevant_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    RECORDED_HEADERS
        .iter()
        .filter_map(|name| {
            let value = headers.get(*name)?;
            Some((
                (*name).to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            ))
        })
        .collect()
}
