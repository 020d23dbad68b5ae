//! Front ends: the protocols clients speak to the router. One listener can
//! serve them all, since their paths and gRPC services do not overlap.

pub mod body;
pub mod errors;
pub mod generate;
pub mod grpc;
pub mod kserve_http;
pub mod openai;
pub mod request_fields;
pub mod torchserve_http;

use std::convert::Infallible;
use std::sync::Arc;

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, EXPECT, HOST, HeaderName, HeaderValue};
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use switchyard_backends::upstream::is_hop_by_hop;

pub use body::ResponseBody;

use crate::app::App;
use crate::config::ListenerProtocol;
use crate::proxy::{ForwardError, ProxyBody};
use errors::ApiError;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
pub const SERVED_BY: HeaderName = HeaderName::from_static("x-switchyard-endpoint");

/// Sends each request to the front end its protocol belongs to.
pub async fn dispatch(
    app: Arc<App>,
    protocol: ListenerProtocol,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    crate::busy_poll::note_request();
    let path = request.uri().path();
    let is_grpc = request
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    if is_grpc {
        return Ok(grpc::handle(app, protocol, request).await);
    }
    if protocol.serves(ListenerProtocol::Kserve) && (path == "/v2" || path.starts_with("/v2/")) {
        return Ok(kserve_http::handle(app, request).await);
    }
    if protocol.serves(ListenerProtocol::TorchServe)
        && (path == "/ping" || path.starts_with("/predictions/"))
    {
        return Ok(torchserve_http::handle(app, request).await);
    }
    openai::handle(app, protocol, request).await
}

/// The client's `x-request-id`, or a fresh one.
pub fn request_id(headers: &HeaderMap) -> HeaderValue {
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

/// Reads a request body whole, up to the router's limit.
pub async fn read_body(
    headers: &HeaderMap,
    body: Incoming,
    limit: usize,
) -> Result<bytes::Bytes, ApiError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::body_too_large(limit));
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(ApiError::body_too_large(limit))
        }
        Err(e) => Err(ApiError::bad_request(format!(
            "Could not read the request body: {e}"
        ))),
    }
}

/// The client's headers minus those that describe its own connection or
/// that the router recomputes.
pub fn upstream_headers(client: &HeaderMap, request_id: &HeaderValue) -> HeaderMap {
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
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let hop: Vec<HeaderName> = headers
        .keys()
        .filter(|n| is_hop_by_hop(n))
        .cloned()
        .collect();
    for name in hop {
        headers.remove(name);
    }
}

/// The outcome of forwarding, as the client will see it, plus what the
/// access log and request counters need.
pub struct Routed<B> {
    pub response: Response<B>,
    pub endpoint: Option<Arc<str>>,
    pub status: http::StatusCode,
}

/// Turns `forward`'s result into a response: the upstream's passed
/// through (with the serving endpoint named), or the router's own error
/// rendered by `render` in the front end's protocol.
pub fn finish_forward(
    app: &App,
    route: &crate::models::ModelRoute,
    result: Result<(Response<ProxyBody>, Arc<crate::endpoint::Endpoint>), ForwardError>,
    render: impl FnOnce(ApiError) -> Response<ResponseBody>,
) -> Routed<ResponseBody> {
    match result {
        Ok((upstream, endpoint)) => {
            let (mut head, mut body) = upstream.into_parts();
            strip_hop_by_hop(&mut head.headers);
            if app.server.expose_endpoint_header
                && let Some(value) = &endpoint.name_header
            {
                head.headers.insert(SERVED_BY, value.clone());
            }
            route.count_request(Some((endpoint.index, &endpoint.name)), head.status);
            Routed {
                status: head.status,
                endpoint: Some(Arc::clone(&endpoint.name)),
                response: Response::from_parts(
                    head,
                    if body.finish_if_empty() {
                        ResponseBody::empty()
                    } else {
                        ResponseBody::Proxy(body)
                    },
                ),
            }
        }
        Err(failure) => {
            let status = failure.error.status;
            route.count_request(None, status);
            Routed {
                status,
                endpoint: failure.endpoint,
                response: render(failure.error),
            }
        }
    }
}

/// Forwards a request, renders the router's own errors with `render`, and
/// writes the access-log line.
pub async fn forward_logged(
    app: &App,
    forwarded: crate::proxy::ForwardRequest<'_>,
    request_id: &HeaderValue,
    protocol: &'static str,
    render: impl FnOnce(ApiError) -> Response<ResponseBody>,
) -> Response<ResponseBody> {
    let route = Arc::clone(forwarded.route);
    let result = crate::proxy::forward(app, forwarded).await;
    let routed = finish_forward(app, &route, result, render);
    log_access(
        app,
        request_id,
        &route.name,
        routed.endpoint.as_deref(),
        routed.status,
        protocol,
    );
    routed.response
}

/// A call whose model name sits in its path (KServe v2 and TorchServe over
/// HTTP): how to forward it and how to answer in its protocol.
pub struct PathRouted {
    /// The model name's byte range in the path.
    pub model: std::ops::Range<usize>,
    pub stream: bool,
    pub on_break: crate::proxy::BreakStyle,
    pub protocol: &'static str,
    pub render: fn(ApiError) -> Response<ResponseBody>,
    /// The status for a model the router does not serve.
    pub unknown_model_status: http::StatusCode,
    /// A KServe v2 infer call, which the model's batcher may take.
    pub batchable: bool,
}

/// Reads the body, routes by the model in the path, and forwards the call
/// with its method, path and bytes as the client sent them.
pub async fn proxy_by_path(
    app: &Arc<App>,
    request: Request<Incoming>,
    call: PathRouted,
    request_id: &HeaderValue,
) -> Response<ResponseBody> {
    let received_at = std::time::Instant::now();
    let reject = |error: ApiError| {
        openai::count_rejected(error.status);
        (call.render)(error)
    };
    let (parts, body) = request.into_parts();
    let model = &parts.uri.path()[call.model.clone()];
    let Some(route) = app.models.get(model) else {
        let mut error = ApiError::model_not_found(model);
        error.status = call.unknown_model_status;
        return reject(error);
    };
    let body = match read_body(&parts.headers, body, app.server.max_body_bytes).await {
        Ok(body) => body,
        Err(error) => return reject(error),
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path(), |pq| pq.as_str());
    let headers = upstream_headers(&parts.headers, request_id);
    if call.batchable
        && let Some(batching) = &route.batching
        && let Some(offer) = crate::batch::kserve_http::offer(
            path_and_query,
            call.model.clone(),
            headers.clone(),
            &body,
            received_at,
        )
    {
        let outcome = batching.kserve_http.submit(app, route, offer).await;
        if let Some(response) =
            crate::batch::respond(app, route, outcome, request_id, call.protocol, call.render)
        {
            return response;
        }
    }
    let forwarded = crate::proxy::ForwardRequest {
        route,
        method: parts.method.clone(),
        path_and_query,
        headers,
        body,
        model_name: crate::proxy::ModelName::Path(call.model),
        stream: call.stream,
        received_at,
        wire: crate::proxy::Wire::Http,
        on_break: call.on_break,
    };
    forward_logged(app, forwarded, request_id, call.protocol, call.render).await
}

/// One access-log line, when enabled.
pub fn log_access(
    app: &App,
    request_id: &HeaderValue,
    model: &str,
    endpoint: Option<&str>,
    status: http::StatusCode,
    protocol: &'static str,
) {
    if app.logging.access_log {
        tracing::info!(
            request_id = request_id.to_str().unwrap_or("-"),
            model,
            endpoint = endpoint.unwrap_or("none"),
            status = status.as_u16(),
            protocol,
            "request routed"
        );
    }
}
