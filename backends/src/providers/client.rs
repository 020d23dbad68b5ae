//! One external provider's HTTP client: where each operation goes, how the
//! key is sent, and retries that honour `Retry-After`.

use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use http::{HeaderMap, Method, Response, StatusCode};
use hyper::body::Incoming;

use crate::http_client::HttpClient;
use crate::upstream::{HttpUpstream, UpstreamError};

/// Which API a provider speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderApi {
    /// OpenAI, or any API with OpenAI's paths and a bearer key. The base URL
    /// includes the version prefix (`https://api.openai.com/v1`).
    OpenAi,
    /// Azure OpenAI: `/openai/deployments/{deployment}/...?api-version=`.
    Azure { api_version: String },
    /// Anthropic's Messages API (`/v1/messages`).
    Anthropic { version: String },
}

/// The OpenAI operations a spilled request can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    ChatCompletions,
    Completions,
    Embeddings,
}

impl Operation {
    fn openai_path(self) -> &'static str {
        match self {
            Self::ChatCompletions => "/chat/completions",
            Self::Completions => "/completions",
            Self::Embeddings => "/embeddings",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    #[error("{0}")]
    Upstream(#[from] UpstreamError),
    #[error("the provider has no {0:?} API")]
    Unsupported(Operation),
    #[error("invalid API key: it contains characters a header cannot carry")]
    InvalidKey,
    /// Retries are spent (or the provider asked to wait longer than allowed).
    #[error("answered {status} after {attempts} attempt(s)")]
    Status {
        status: StatusCode,
        attempts: u32,
        /// What the provider asked to wait, if it did.
        retry_after: Option<Duration>,
        body: Bytes,
    },
}

/// Retry settings for one call.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    /// A `Retry-After` beyond this is not waited for.
    pub max_retry_after: Duration,
    /// Back-off before the second attempt when the provider gave no
    /// `Retry-After`; doubled per attempt.
    pub backoff: Duration,
}

pub struct ProviderClient {
    api: ProviderApi,
    upstream: HttpUpstream,
    /// The key in the header this API wants (marked sensitive).
    key: (HeaderName, HeaderValue),
}

impl std::fmt::Debug for ProviderClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderClient")
            .field("api", &self.api)
            .field("upstream", &self.upstream)
            .finish_non_exhaustive()
    }
}

impl ProviderClient {
    pub fn new(api: ProviderApi, base_url: &str, api_key: &str) -> Result<Self, ProviderError> {
        let upstream = HttpUpstream::new(base_url, None)?;
        let (name, value) = match &api {
            ProviderApi::OpenAi => (
                http::header::AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {api_key}")),
            ),
            ProviderApi::Azure { .. } => (
                HeaderName::from_static("api-key"),
                HeaderValue::from_str(api_key),
            ),
            ProviderApi::Anthropic { .. } => (
                HeaderName::from_static("x-api-key"),
                HeaderValue::from_str(api_key),
            ),
        };
        let mut value = value.map_err(|_| ProviderError::InvalidKey)?;
        value.set_sensitive(true);
        Ok(Self {
            api,
            upstream,
            key: (name, value),
        })
    }

    pub fn supports(&self, operation: Operation) -> bool {
        !matches!(self.api, ProviderApi::Anthropic { .. })
            || operation == Operation::ChatCompletions
    }

    /// The path (and query) of `operation` for `model` (Azure: the deployment).
    pub fn path(&self, operation: Operation, model: &str) -> Result<String, ProviderError> {
        match &self.api {
            ProviderApi::OpenAi => Ok(operation.openai_path().to_owned()),
            ProviderApi::Azure { api_version } => Ok(format!(
                "/openai/deployments/{}{}?api-version={}",
                percent_encode_segment(model),
                operation.openai_path(),
                percent_encode_segment(api_version)
            )),
            ProviderApi::Anthropic { .. } if operation == Operation::ChatCompletions => {
                Ok("/v1/messages".to_owned())
            }
            ProviderApi::Anthropic { .. } => Err(ProviderError::Unsupported(operation)),
        }
    }

    fn headers(&self, stream: bool, request_id: Option<&HeaderValue>) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(5);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            ACCEPT,
            HeaderValue::from_static(if stream {
                "text/event-stream"
            } else {
                "application/json"
            }),
        );
        headers.insert(self.key.0.clone(), self.key.1.clone());
        if let ProviderApi::Anthropic { version } = &self.api
            && let Ok(value) = HeaderValue::from_str(version)
        {
            headers.insert(HeaderName::from_static("anthropic-version"), value);
        }
        if let Some(id) = request_id {
            // OpenAI and Azure echo this back; it ties their logs to ours.
            headers.insert(HeaderName::from_static("x-client-request-id"), id.clone());
        }
        headers
    }

    /// Sends `body` (already in this API's format) and returns the first
    /// successful response, its body still streaming. 429, 5xx (and
    /// Anthropic's 529) and connection failures are retried after the
    /// provider's `Retry-After` (or a doubling back-off), within `policy`
    /// and before `deadline`.
    #[allow(clippy::too_many_arguments)]
    pub async fn send(
        &self,
        client: &HttpClient,
        operation: Operation,
        model: &str,
        body: Bytes,
        stream: bool,
        request_id: Option<&HeaderValue>,
        first_byte_timeout: Duration,
        deadline: tokio::time::Instant,
        policy: RetryPolicy,
    ) -> Result<Response<Incoming>, ProviderError> {
        let path = self.path(operation, model)?;
        let attempts = policy.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let outcome = self
                .upstream
                .send(
                    client,
                    Method::POST,
                    &path,
                    self.headers(stream, request_id),
                    body.clone(),
                    first_byte_timeout.min(remaining),
                )
                .await;
            let (wait, failure) = match outcome {
                Ok(response) if response.status().is_success() => return Ok(response),
                Ok(response) => {
                    let status = response.status();
                    let retry_after = retry_after(response.headers());
                    let body = read_error_body(response).await;
                    let failure = ProviderError::Status {
                        status,
                        attempts: attempt,
                        retry_after,
                        body,
                    };
                    if !is_retryable(status) {
                        return Err(failure);
                    }
                    (retry_after, failure)
                }
                // A timed-out call may still be running (and billed) there.
                Err(error @ UpstreamError::FirstByteTimeout(_)) => return Err(error.into()),
                Err(error) => (None, error.into()),
            };
            let wait = wait.unwrap_or_else(|| policy.backoff * 2u32.saturating_pow(attempt - 1));
            let too_long =
                wait > policy.max_retry_after || tokio::time::Instant::now() + wait >= deadline;
            if attempt >= attempts || too_long {
                return Err(failure);
            }
            tokio::time::sleep(wait).await;
        }
    }
}

/// 429, 408, 409 (OpenAI's lock timeout), 5xx, and Anthropic's 529 overloaded.
pub fn is_retryable(status: StatusCode) -> bool {
    matches!(status.as_u16(), 408 | 409 | 429 | 529) || status.is_server_error()
}

/// How long the provider asked to wait: `retry-after-ms` (OpenAI, Azure),
/// else `Retry-After` in seconds or as an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.trim().parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or_default(),
    )
}

async fn read_error_body(response: Response<Incoming>) -> Bytes {
    use http_body_util::{BodyExt, Limited};
    Limited::new(response.into_body(), 64 * 1024)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default()
}

/// Percent-encodes what may not appear raw in a path segment or query value.
fn percent_encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_per_api() {
        let openai = ProviderClient::new(ProviderApi::OpenAi, "https://api.openai.com/v1", "k")
            .expect("client");
        assert_eq!(
            openai.path(Operation::ChatCompletions, "gpt-4o-mini").ok(),
            Some("/chat/completions".into())
        );
        let azure = ProviderClient::new(
            ProviderApi::Azure {
                api_version: "2024-10-21".into(),
            },
            "https://r.openai.azure.com",
            "k",
        )
        .expect("client");
        assert_eq!(
            azure.path(Operation::Embeddings, "my deploy").ok(),
            Some("/openai/deployments/my%20deploy/embeddings?api-version=2024-10-21".into())
        );
        let anthropic = ProviderClient::new(
            ProviderApi::Anthropic {
                version: "2023-06-01".into(),
            },
            "https://api.anthropic.com",
            "k",
        )
        .expect("client");
        assert!(anthropic.path(Operation::Completions, "m").is_err());
        assert!(!anthropic.supports(Operation::Embeddings));
        let headers = anthropic.headers(true, None);
        assert_eq!(headers["x-api-key"], "k");
        assert_eq!(headers["anthropic-version"], "2023-06-01");
        assert_eq!(headers[ACCEPT], "text/event-stream");
        assert!(headers["x-api-key"].is_sensitive());
    }

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(retry_after(&h), Some(Duration::from_millis(1500)));
        let mut h = HeaderMap::new();
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO), "a past date is now");
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn retryable_statuses() {
        for code in [408, 409, 429, 500, 502, 503, 504, 529] {
            assert!(is_retryable(StatusCode::from_u16(code).expect("status")));
        }
        for code in [400, 401, 403, 404, 413, 422] {
            assert!(!is_retryable(StatusCode::from_u16(code).expect("status")));
        }
    }
}
