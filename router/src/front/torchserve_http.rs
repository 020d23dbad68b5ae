//! TorchServe's inference API over HTTP: `/ping` describes the router's
//! fleet; `/predictions/{model}[/{version}]` is routed by the model name in
//! the path and passed through untouched (any content type, streamed
//! responses included).

use std::ops::Range;
use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::errors::ApiError;
use super::openai::count_rejected;
use super::{PathRouted, REQUEST_ID, ResponseBody, proxy_by_path, request_id};
use crate::app::App;
use crate::proxy::BreakStyle;

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
    app: &Arc<App>,
    request: Request<Incoming>,
    span: Range<usize>,
    request_id: &http::HeaderValue,
) -> Response<ResponseBody> {
    let routed = PathRouted {
        model: span,
        stream: false,
        on_break: BreakStyle::Cut,
        protocol: "torchserve-http",
        render: ApiError::into_torchserve_response,
        unknown_model_status: StatusCode::NOT_FOUND,
        // TorchServe batches on the server (batchSize in its model config).
        batchable: false,
    };
    proxy_by_path(app, request, routed, request_id).await
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
