//! The tool's few GET requests outside the load itself (model discovery, metrics scrapes).

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use switchyard_backends::{HttpClient, error_chain};

/// Answers larger than this are refused.
const MAX_BODY: usize = 32 << 20;

/// GET `url` within `timeout`; anything but a whole 200 answer is an error.
pub async fn get(client: &HttpClient, url: &str, timeout: Duration) -> Result<Bytes, String> {
    let request = Request::get(url)
        .body(Full::new(Bytes::new()))
        .map_err(|e| format!("bad URL `{url}`: {e}"))?;
    let response = tokio::time::timeout(timeout, client.request(request))
        .await
        .map_err(|_| format!("no answer in {timeout:?}"))?
        .map_err(|e| error_chain(&e))?;
    if response.status() != StatusCode::OK {
        return Err(format!("status {}", response.status()));
    }
    Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map(|body| body.to_bytes())
        .map_err(|e| e.to_string())
}
