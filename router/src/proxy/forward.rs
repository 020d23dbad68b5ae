use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, Method, Response, StatusCode};
use hyper::body::Incoming;
use switchyard_backends::UpstreamError;

use super::backoff;
use super::body::ProxyBody;
use super::usage_tap::UsageTap;
use crate::app::App;
use crate::clock::now_ms;
use crate::endpoint::Endpoint;
use crate::front::errors::ApiError;
use crate::front::request_fields::with_model;
use crate::health::FailureVerdict;
use crate::models::ModelRoute;
use crate::observability::metrics as m;
use crate::policy::{CachePrediction, RequestFeatures};
use crate::pool::PickError;
use crate::prefix::audit::PredictedPrompt;
use crate::prefix::{PromptBlocks, PromptKeying};

pub struct ForwardRequest<'a> {
    pub route: &'a Arc<ModelRoute>,
    pub path_and_query: &'a str,
    /// Headers to send upstream, already stripped of hop-by-hop ones.
    pub headers: HeaderMap,
    pub body: Bytes,
    pub model_span: std::ops::Range<usize>,
    pub stream: bool,
    pub received_at: Instant,
}

#[derive(Debug)]
pub struct ForwardError {
    pub error: ApiError,
    /// The last endpoint tried, if any.
    pub endpoint: Option<Arc<str>>,
}

/// What went wrong with one attempt, and whether another endpoint may fix it.
enum AttemptFailure {
    Upstream(UpstreamError),
    Status(Response<Incoming>),
}

/// Sends the request to an endpoint of the model's pool, retrying on another
/// endpoint when an attempt fails before any byte reached the client.
pub async fn forward(
    app: &App,
    request: ForwardRequest<'_>,
) -> Result<(Response<ProxyBody>, Arc<Endpoint>), ForwardError> {
    let route = request.route;
    let pool = &route.pool;
    let keying = pool.policy.prompt_keying();
    let prompt = keying
        .and_then(|k| k.blocks(request.path_and_query, &request.body))
        .unwrap_or_default();
    let prediction = CachePrediction::new();
    let features = RequestFeatures {
        model: &route.name,
        stream: request.stream,
        body_bytes: request.body.len(),
        prefix_blocks: &prompt.keys,
        prompt_len: prompt.len,
        prediction: keying.map(|_| &prediction),
    };
    let deadline = tokio::time::Instant::from_std(request.received_at) + pool.timeouts.total;
    let max_attempts = app.retries.max_attempts.max(1);
    let mut tried: Vec<usize> = Vec::new();
    let mut waited = Duration::ZERO;
    let mut last_failure: Option<(AttemptFailure, Arc<Endpoint>)> = None;

    for attempt in 1..=max_attempts {
        // Back off before choosing, so the choice sees the freshest state.
        if attempt > 1 {
            let reason = match &last_failure {
                Some((AttemptFailure::Status(_), _)) => "status",
                _ => "error",
            };
            metrics::counter!(m::RETRIES, "model" => route.name.to_string(), "reason" => reason)
                .increment(1);
            let pause = backoff::delay(&app.retries, attempt - 1);
            let started = Instant::now();
            tokio::time::sleep(pause).await;
            waited += started.elapsed();
        }
        let endpoint = match pool.pick(&features, &tried) {
            Ok(endpoint) => endpoint,
            // Out of endpoints mid-retry: report what the last attempt saw.
            Err(_) if last_failure.is_some() => break,
            Err(PickError::AtCapacity) => {
                return Err(no_endpoint(ApiError::at_capacity(&route.name)));
            }
            Err(PickError::NoHealthyEndpoint) => {
                return Err(no_endpoint(ApiError::no_healthy_endpoint(&route.name)));
            }
        };
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        if remaining.is_zero() {
            break;
        }
        let guard = endpoint.acquire();
        let body = match endpoint.served_name(&route.name, route.served_name.as_deref()) {
            Some(served) if served != &*route.name => {
                with_model(&request.body, &request.model_span, served)
            }
            _ => request.body.clone(),
        };
        let sent_at = Instant::now();
        let outcome = endpoint
            .upstream
            .send(
                &pool.client,
                Method::POST,
                request.path_and_query,
                request.headers.clone(),
                body,
                pool.timeouts.first_byte.min(remaining),
            )
            .await;
        waited += sent_at.elapsed();
        tried.push(endpoint.index);

        let failure = match outcome {
            Ok(response) => {
                let status = response.status();
                let retryable = status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS;
                if status.is_server_error() {
                    note_failure(&endpoint, "status_5xx");
                }
                if !retryable || attempt == max_attempts {
                    record_overhead(app, request.received_at, waited);
                    let is_sse = response
                        .headers()
                        .get(CONTENT_TYPE)
                        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
                    let tap = if status.is_success() {
                        usage_tap(pool, keying, &prompt, &prediction, &endpoint)
                    } else {
                        None
                    };
                    let response = response.map(|upstream| {
                        ProxyBody::new(
                            upstream,
                            deadline,
                            is_sse,
                            !status.is_server_error(),
                            guard,
                            Arc::clone(route),
                            request.received_at,
                        )
                        .with_usage_tap(tap)
                    });
                    return Ok((response, endpoint));
                }
                AttemptFailure::Status(response)
            }
            Err(error) => {
                let kind = match &error {
                    UpstreamError::Connect(_) => "connect",
                    UpstreamError::FirstByteTimeout(_) => "first_byte_timeout",
                    _ => "request",
                };
                note_failure(&endpoint, kind);
                tracing::debug!(endpoint = %endpoint.name, attempt, error = %error, "upstream attempt failed");
                // A timed-out request may still be running on the engine:
                // retrying would double its cost, and the budget is spent.
                if matches!(error, UpstreamError::FirstByteTimeout(_)) {
                    return Err(ForwardError {
                        error: ApiError::gateway_timeout(format!(
                            "The upstream endpoint did not answer in time: {error}"
                        )),
                        endpoint: Some(Arc::clone(&endpoint.name)),
                    });
                }
                AttemptFailure::Upstream(error)
            }
        };
        last_failure = Some((failure, endpoint));
    }

    match last_failure {
        Some((AttemptFailure::Status(response), endpoint)) => {
            // Retries are spent: hand the client the upstream's own error.
            record_overhead(app, request.received_at, waited);
            let guard = endpoint.acquire();
            let response = response.map(|upstream| {
                ProxyBody::new(
                    upstream,
                    deadline,
                    false,
                    false,
                    guard,
                    Arc::clone(route),
                    request.received_at,
                )
            });
            Ok((response, endpoint))
        }
        Some((AttemptFailure::Upstream(error), endpoint)) => Err(ForwardError {
            error: ApiError::bad_gateway(format!(
                "Every attempt to reach an upstream endpoint failed; last error: {error}"
            )),
            endpoint: Some(Arc::clone(&endpoint.name)),
        }),
        None => Err(ForwardError {
            error: ApiError::gateway_timeout(
                "The request's total timeout expired before an endpoint answered.",
            ),
            endpoint: None,
        }),
    }
}

/// An audit of the policy's cache prediction, when it made one for this prompt.
fn usage_tap(
    pool: &crate::pool::Pool,
    keying: Option<&PromptKeying>,
    prompt: &PromptBlocks,
    prediction: &CachePrediction,
    endpoint: &Endpoint,
) -> Option<UsageTap> {
    let (audit, keying, blocks) = (pool.audit.as_ref()?, keying?, prediction.blocks()?);
    if prompt.len == 0 {
        return None;
    }
    let predicted = PredictedPrompt {
        cached: blocks as usize * keying.block_len(),
        len: prompt.len,
        in_tokens: keying.in_tokens(),
    };
    Some(UsageTap::new(Arc::clone(audit), endpoint.index, predicted))
}

fn no_endpoint(error: ApiError) -> ForwardError {
    ForwardError {
        error,
        endpoint: None,
    }
}

fn note_failure(endpoint: &Endpoint, kind: &'static str) {
    let pool = endpoint.pool.to_string();
    let name = endpoint.name.to_string();
    metrics::counter!(m::UPSTREAM_ERRORS, "pool" => pool.clone(), "endpoint" => name.clone(), "kind" => kind).increment(1);
    if let FailureVerdict::Ejected(duration) = endpoint.breaker.record_failure(now_ms()) {
        metrics::counter!(m::EJECTIONS, "pool" => pool, "endpoint" => name, "reason" => "passive")
            .increment(1);
        tracing::warn!(pool = %endpoint.pool, endpoint = %endpoint.name, ?duration, kind, "endpoint failed repeatedly; ejected");
    }
}

fn record_overhead(app: &App, received_at: Instant, upstream_and_backoff: Duration) {
    let overhead = received_at.elapsed().saturating_sub(upstream_and_backoff);
    app.router_overhead.record(overhead.as_secs_f64());
}
