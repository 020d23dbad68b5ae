use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use switchyard_backends::{StreamingBody, UpstreamError};

use super::backoff;
use super::body::{BreakStyle, ProxyBody};
use super::usage_tap::UsageTap;
use crate::app::App;
use crate::clock::now_ms;
use crate::endpoint::Endpoint;
use crate::front::errors::ApiError;
use crate::front::grpc;
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
    pub method: Method,
    pub path_and_query: &'a str,
    /// Headers to send upstream, already stripped of hop-by-hop ones.
    pub headers: HeaderMap,
    pub body: Bytes,
    pub model_name: ModelName,
    pub stream: bool,
    pub received_at: Instant,
    pub wire: Wire,
    /// How a response body the upstream breaks mid-way ends for the client.
    pub on_break: BreakStyle,
}

/// Where the model's name sits in a request, so that an endpoint serving it
/// under another name gets that name.
#[derive(Debug, Clone)]
pub enum ModelName {
    /// The JSON string at this byte range of the body (OpenAI).
    JsonBody(Range<usize>),
    /// This byte range of the path (KServe v2 and TorchServe over HTTP).
    Path(Range<usize>),
    /// Field 1 (`model_name`) of the one framed gRPC message in the body
    /// (KServe v2 and TorchServe over gRPC).
    GrpcField,
    /// Nowhere: the request is the same for every endpoint.
    Absent,
}

/// Which of the endpoint's addresses, and so which client, a request takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    Http,
    /// HTTP/2 to the endpoint's `grpc_url`.
    Grpc,
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
    // Prompt keys come from OpenAI bodies only.
    let keying = pool
        .policy
        .prompt_keying()
        .filter(|_| matches!(request.model_name, ModelName::JsonBody(_)));
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
        // The policy's pick just recorded what this endpoint has to compute (0 if it keys no
        // prompts): pending there until the first byte.
        let guard = endpoint.acquire_with_prefill(prediction.uncached());
        let (path, body) = match endpoint.served_name(&route.name, route.served_name.as_deref()) {
            Some(served) if served != &*route.name => renamed(&request, served),
            _ => (Cow::Borrowed(request.path_and_query), request.body.clone()),
        };
        let sent_at = Instant::now();
        let outcome = send(
            pool,
            &endpoint,
            &request,
            &path,
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
                    let on_break = match request.on_break {
                        BreakStyle::Grpc => BreakStyle::Grpc,
                        sse if is_sse => sse,
                        _ => BreakStyle::Cut,
                    };
                    let tap = if status.is_success() {
                        usage_tap(pool, keying, &prompt, &prediction, &endpoint)
                    } else {
                        None
                    };
                    let response = response.map(|upstream| {
                        ProxyBody::new(
                            upstream,
                            deadline,
                            on_break,
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
                    BreakStyle::Cut,
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

/// Forwards a request whose body is still arriving (a bidirectional gRPC
/// stream) to the gRPC address of one endpoint. One attempt only: the body
/// cannot be replayed once sending began.
pub async fn forward_stream(
    app: &App,
    route: &Arc<ModelRoute>,
    path: &str,
    headers: HeaderMap,
    body: StreamingBody,
    received_at: Instant,
) -> Result<(Response<ProxyBody>, Arc<Endpoint>), ForwardError> {
    let pool = &route.pool;
    let features = RequestFeatures {
        model: &route.name,
        stream: true,
        body_bytes: 0,
        prefix_blocks: &[],
        prompt_len: 0,
        prediction: None,
    };
    let endpoint = match pool.pick(&features, &[]) {
        Ok(endpoint) => endpoint,
        Err(PickError::AtCapacity) => return Err(no_endpoint(ApiError::at_capacity(&route.name))),
        Err(PickError::NoHealthyEndpoint) => {
            return Err(no_endpoint(ApiError::no_healthy_endpoint(&route.name)));
        }
    };
    let failed = |error: ApiError| ForwardError {
        error,
        endpoint: Some(Arc::clone(&endpoint.name)),
    };
    let Some(upstream) = &endpoint.grpc else {
        return Err(failed(ApiError::bad_gateway(format!(
            "endpoint {} has no grpc_url",
            endpoint.name
        ))));
    };
    let deadline = tokio::time::Instant::from_std(received_at) + pool.timeouts.total;
    let guard = endpoint.acquire();
    let sent_at = Instant::now();
    let outcome = upstream
        .send_body(
            &pool.grpc_client,
            Method::POST,
            path,
            headers,
            body,
            pool.timeouts.first_byte,
        )
        .await;
    record_overhead(app, received_at, sent_at.elapsed());
    match outcome {
        Ok(response) => {
            let status = response.status();
            if status.is_server_error() {
                note_failure(&endpoint, "status_5xx");
            }
            let response = response.map(|upstream| {
                ProxyBody::new(
                    upstream,
                    deadline,
                    BreakStyle::Grpc,
                    !status.is_server_error(),
                    guard,
                    Arc::clone(route),
                    received_at,
                )
            });
            Ok((response, endpoint))
        }
        Err(error) => {
            let kind = match &error {
                UpstreamError::Connect(_) => "connect",
                UpstreamError::FirstByteTimeout(_) => "first_byte_timeout",
                _ => "request",
            };
            note_failure(&endpoint, kind);
            Err(failed(match error {
                UpstreamError::FirstByteTimeout(_) => ApiError::gateway_timeout(format!(
                    "The upstream endpoint did not answer in time: {error}"
                )),
                _ => ApiError::bad_gateway(format!("The upstream stream failed: {error}")),
            }))
        }
    }
}

/// The path and body for an endpoint that serves the model as `served`.
fn renamed<'r>(request: &'r ForwardRequest<'_>, served: &str) -> (Cow<'r, str>, Bytes) {
    match &request.model_name {
        ModelName::JsonBody(span) => (
            Cow::Borrowed(request.path_and_query),
            with_model(&request.body, span, served),
        ),
        ModelName::Path(span) => {
            let path = request.path_and_query;
            let renamed = format!("{}{served}{}", &path[..span.start], &path[span.end..]);
            (Cow::Owned(renamed), request.body.clone())
        }
        ModelName::GrpcField => (
            Cow::Borrowed(request.path_and_query),
            grpc::with_model_name(&request.body, served),
        ),
        ModelName::Absent => (Cow::Borrowed(request.path_and_query), request.body.clone()),
    }
}

/// One attempt on one endpoint, over the wire the request came in on.
async fn send(
    pool: &crate::pool::Pool,
    endpoint: &Endpoint,
    request: &ForwardRequest<'_>,
    path: &str,
    body: Bytes,
    first_byte_timeout: Duration,
) -> Result<Response<Incoming>, UpstreamError> {
    match request.wire {
        Wire::Http => {
            endpoint
                .upstream
                .send(
                    &pool.client,
                    request.method.clone(),
                    path,
                    request.headers.clone(),
                    body,
                    first_byte_timeout,
                )
                .await
        }
        Wire::Grpc => {
            let Some(upstream) = &endpoint.grpc else {
                return Err(UpstreamError::InvalidUri(format!(
                    "endpoint {} has no grpc_url",
                    endpoint.name
                )));
            };
            let body: StreamingBody = Full::new(body)
                .map_err(|never| match never {})
                .boxed_unsync();
            upstream
                .send_body(
                    &pool.grpc_client,
                    request.method.clone(),
                    path,
                    request.headers.clone(),
                    body,
                    first_byte_timeout,
                )
                .await
        }
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
