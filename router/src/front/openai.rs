//! The OpenAI-compatible HTTP front end: `/v1/chat/completions`,
//! `/v1/completions`, `/v1/embeddings`, `/v1/models`, plus the router's own
//! `/health`, `/ready` and `/metrics`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, EXPECT, HOST, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use switchyard_backends::openai::is_hop_by_hop;

use super::ResponseBody;
use super::errors::ApiError;
use super::request_fields::{self, OpenAiOperation};
use crate::app::App;
use crate::observability::metrics as m;
use crate::proxy::{ForwardRequest, forward};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const SERVED_BY: HeaderName = HeaderName::from_static("x-switchyard-endpoint");

pub async fn handle(
    app: Arc<App>,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let received_at = Instant::now();
    let request_id = request_id(request.headers());
    let operation = match request.uri().path() {
        "/v1/chat/completions" => Some(OpenAiOperation::ChatCompletions),
        "/v1/completions" => Some(OpenAiOperation::Completions),
        "/v1/embeddings" => Some(OpenAiOperation::Embeddings),
        _ => None,
    };
    let mut response = match (request.method(), operation, request.uri().path()) {
        (&Method::POST, Some(op), _) => proxy(&app, request, op, &request_id, received_at).await,
        (_, Some(_), path) => ApiError::method_not_allowed(request.method(), path).into_response(),
        (&Method::GET, None, "/v1/models") => list_models(&app),
        (&Method::GET, None, "/health") => health(&app, false),
        (&Method::GET, None, "/ready") => health(&app, true),
        (&Method::GET, None, "/metrics") => text(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            app.metrics.render(),
        ),
        (_, None, path @ ("/v1/models" | "/health" | "/ready" | "/metrics")) => {
            ApiError::method_not_allowed(request.method(), path).into_response()
        }
        (_, None, path) => ApiError::not_found(path).into_response(),
    };
    response.headers_mut().insert(REQUEST_ID, request_id);
    Ok(response)
}

/// The client's `x-request-id`, or a fresh one.
fn request_id(headers: &HeaderMap) -> HeaderValue {
    headers
        .get(&REQUEST_ID)
        .filter(|v| !v.is_empty() && v.len() <= 256)
        .cloned()
        .unwrap_or_else(|| {
            let id = uuid::Uuid::new_v4().simple().to_string();
            // A hex string is always a valid header value.
            HeaderValue::from_str(&id).unwrap_or(HeaderValue::from_static("unknown"))
        })
}

async fn proxy(
    app: &App,
    request: Request<Incoming>,
    operation: OpenAiOperation,
    request_id: &HeaderValue,
    received_at: Instant,
) -> Response<ResponseBody> {
    let limit = app.server.max_body_bytes;
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return rejected(ApiError::body_too_large(limit));
    }
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return rejected(ApiError::body_too_large(limit));
        }
        Err(e) => {
            return rejected(ApiError::bad_request(format!(
                "Could not read the request body: {e}"
            )));
        }
    };
    let fields = match request_fields::parse(&body, operation) {
        Ok(fields) => fields,
        Err(error) => return rejected(error),
    };
    let Some(route) = app.models.get(&fields.model) else {
        return rejected(ApiError::model_not_found(&fields.model));
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path(), |pq| pq.as_str());
    let forwarded = ForwardRequest {
        route,
        path_and_query,
        headers: upstream_headers(&parts.headers, request_id),
        body,
        model_span: fields.model_span,
        stream: fields.stream,
        received_at,
    };
    let result = forward(app, forwarded).await;
    let (status, endpoint, response) = match result {
        Ok((upstream, endpoint)) => {
            let (mut head, body) = upstream.into_parts();
            strip_hop_by_hop(&mut head.headers);
            if app.server.expose_endpoint_header
                && let Some(value) = &endpoint.name_header
            {
                head.headers.insert(SERVED_BY, value.clone());
            }
            route.count_request(Some((endpoint.index, &endpoint.name)), head.status);
            let name = Arc::clone(&endpoint.name);
            (
                head.status,
                Some(name),
                Response::from_parts(head, Either::Right(body)),
            )
        }
        Err(failure) => {
            let status = failure.error.status;
            route.count_request(None, status);
            (status, failure.endpoint, failure.error.into_response())
        }
    };
    if app.logging.access_log {
        tracing::info!(
            request_id = request_id.to_str().unwrap_or("-"),
            model = %route.name,
            endpoint = endpoint.as_deref().unwrap_or("none"),
            status = status.as_u16(),
            stream = fields.stream,
            "request routed"
        );
    }
    response
}

/// Counts a request rejected before routing (unknown model, bad body).
fn rejected(error: ApiError) -> Response<ResponseBody> {
    metrics::counter!(
        m::REQUESTS,
        "model" => "none",
        "endpoint" => "none",
        "status" => error.status.as_str().to_owned()
    )
    .increment(1);
    error.into_response()
}

/// The client's headers minus those that describe its own connection or
/// that the router recomputes.
fn upstream_headers(client: &HeaderMap, request_id: &HeaderValue) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(client.len() + 1);
    for (name, value) in client {
        if is_hop_by_hop(name) || name == HOST || name == CONTENT_LENGTH || name == EXPECT {
            continue;
        }
        headers.append(name.clone(), value.clone());
    }
    headers.insert(REQUEST_ID, request_id.clone());
    headers
}

/// Drops connection-specific headers from an upstream response.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let hop: Vec<HeaderName> = headers
        .keys()
        .filter(|n| is_hop_by_hop(n))
        .cloned()
        .collect();
    for name in hop {
        headers.remove(name);
    }
}

fn list_models(app: &App) -> Response<ResponseBody> {
    let data: Vec<serde_json::Value> = app
        .models
        .iter()
        .map(|route| {
            serde_json::json!({
                "id": &*route.name,
                "object": "model",
                "created": 0,
                "owned_by": "switchyard",
            })
        })
        .collect();
    json(
        StatusCode::OK,
        &serde_json::json!({ "object": "list", "data": data }),
    )
}

/// `/health` answers 200 while the router runs; `/ready` answers 503 unless
/// every model has at least one healthy endpoint. Both list the pools.
fn health(app: &App, strict: bool) -> Response<ResponseBody> {
    let pools: serde_json::Map<String, serde_json::Value> = app
        .pools
        .iter()
        .map(|pool| {
            let healthy = pool.healthy_count();
            let mut state = serde_json::json!({ "healthy_endpoints": healthy, "endpoints": pool.endpoints.len() });
            // With `index: events`: whether the engines' events are arriving.
            if let Some(index) = &pool.kv_events {
                state["kv_index_blocks"] = index.len().into();
            }
            (pool.name.to_string(), state)
        })
        .collect();
    let ready = app
        .models
        .iter()
        .all(|route| route.pool.healthy_count() > 0);
    let status = if strict && !ready {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    json(
        status,
        &serde_json::json!({ "status": if ready { "ok" } else { "degraded" }, "pools": pools }),
    )
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response<ResponseBody> {
    text(status, "application/json", value.to_string())
}

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<ResponseBody> {
    let mut response = Response::new(Either::Left(Full::new(Bytes::from(body))));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
