//! TorchServe's inference API over HTTP: `/ping` describes the router's
//! fleet; `/predictions/{model}[/{version}]` is routed by the model name in
//! the path and passed through untouched (any content type, streamed
//! responses included).

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::errors::ApiError;
use super::openai::count_rejected;
use super::{REQUEST_ID, ResponseBody, forward_logged, read_body, request_id, upstream_headers};
use crate::app::App;
use crate::proxy::{BreakStyle, ForwardRequest, ModelName, Wire};

const PREDICTIONS: &str = "/predictions/";

pub async fn handle(app: Arc<App>, request: Request<Incoming>) -> Response<ResponseBody> {
    let request_id = request_id(request.headers());
    let path = request.uri().path();
    let mut response = match (request.method(), path) {
        (&Method::GET, "/ping") => {
            let (body, status) = ping_body(&app);
            let mut response = super::openai::text(status, "application/json", body);
            *response.status_mut() = status;
            response
        }
        (_, "/ping") => rejected(ApiError::method_not_allowed(request.method(), path)),
        (&Method::POST | &Method::PUT, p) => match model_span(p) {
            Some(span) => proxy(&app, request, span, &request_id).await,
            None => rejected(ApiError::not_found(p)),
        },
        (_, p) => rejected(ApiError::method_not_allowed(request.method(), p)),
    };
    response.headers_mut().insert(REQUEST_ID, request_id);
    response
}

/// TorchServe's ping answer for the fleet: healthy while every model has a
/// healthy endpoint (the text gRPC `Ping` returns too).
pub fn ping_body(app: &App) -> (String, StatusCode) {
    let (status, code) = if app.every_model_has_a_healthy_endpoint() {
        ("Healthy", StatusCode::OK)
    } else {
        ("Unhealthy", StatusCode::INTERNAL_SERVER_ERROR)
    };
    let body =
        serde_json::to_string_pretty(&serde_json::json!({ "status": status })).unwrap_or_default();
    (body, code)
}

/// The model name's byte range in `/predictions/{model}[/{version}]`.
fn model_span(path: &str) -> Option<Range<usize>> {
    let rest = path.strip_prefix(PREDICTIONS)?;
    let model = rest.split('/').next().unwrap_or("");
    let segments = rest.split('/').count();
    (!model.is_empty() && segments <= 2 && !rest.ends_with('/'))
        .then(|| PREDICTIONS.len()..PREDICTIONS.len() + model.len())
}

async fn proxy(
    app: &App,
    request: Request<Incoming>,
    span: Range<usize>,
    request_id: &http::HeaderValue,
) -> Response<ResponseBody> {
    let received_at = Instant::now();
    let (parts, body) = request.into_parts();
    let model = &parts.uri.path()[span.clone()];
    let Some(route) = app.models.get(model) else {
        return rejected(ApiError::model_not_found(model));
    };
    let body = match read_body(&parts.headers, body, app.server.max_body_bytes).await {
        Ok(body) => body,
        Err(error) => return rejected(error),
    };
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path(), |pq| pq.as_str());
    let forwarded = ForwardRequest {
        route,
        method: parts.method.clone(),
        path_and_query,
        headers: upstream_headers(&parts.headers, request_id),
        body,
        model_name: ModelName::Path(span),
        stream: false,
        received_at,
        wire: Wire::Http,
        on_break: BreakStyle::Cut,
    };
    forward_logged(
        app,
        forwarded,
        request_id,
        "torchserve-http",
        ApiError::into_torchserve_response,
    )
    .await
}

fn rejected(error: ApiError) -> Response<ResponseBody> {
    count_rejected(error.status);
    error.into_torchserve_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prediction_paths() {
        let name = |p: &'static str| model_span(p).map(|s| &p[s]);
        assert_eq!(name("/predictions/echo"), Some("echo"));
        assert_eq!(name("/predictions/echo/1.0"), Some("echo"));
        assert_eq!(name("/predictions/"), None);
        assert_eq!(name("/predictions/echo/1.0/x"), None);
        assert_eq!(name("/predictions/echo/"), None);
    }
}
