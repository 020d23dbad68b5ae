//! The gRPC front ends: KServe v2 (`inference.GRPCInferenceService`) and
//! TorchServe (`org.pytorch.serve.grpc.inference.InferenceAPIsService`).
//! Calls are proxied as framed bytes: the router reads the model name (field
//! 1 of every routed request message) to choose a pool, and passes messages
//! through without re-encoding them. Server-level calls (live, ready,
//! server metadata, ping) are answered by the router about its whole fleet.

mod framing;
mod kserve;
mod status;
mod streaming;
mod torchserve;

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Method, Request, Response};
use hyper::body::Incoming;

pub use framing::{frame, single_message, with_model_name};
pub use status::{GrpcCode, grpc_status_trailers};

use super::errors::ApiError;
use super::{ResponseBody, forward_logged, request_id, upstream_headers};
use crate::app::App;
use crate::config::ListenerProtocol;
use crate::models::ModelRoute;
use crate::proxy::{BreakStyle, ForwardRequest, ModelName, Wire};
use framing::ModelRef;

pub const KSERVE_SERVICE: &str = "inference.GRPCInferenceService";
pub const TORCHSERVE_SERVICE: &str = "org.pytorch.serve.grpc.inference.InferenceAPIsService";

pub async fn handle(
    app: Arc<App>,
    protocol: ListenerProtocol,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    if request.method() != Method::POST {
        return status::error(GrpcCode::Unimplemented, "gRPC calls are POSTs");
    }
    let path = request.uri().path().to_owned();
    let Some((service, method)) = path.trim_start_matches('/').split_once('/') else {
        return status::error(GrpcCode::Unimplemented, &format!("unknown method {path}"));
    };
    match service {
        KSERVE_SERVICE if protocol.serves(ListenerProtocol::Kserve) => {
            kserve::handle(&app, method, request).await
        }
        TORCHSERVE_SERVICE if protocol.serves(ListenerProtocol::TorchServe) => {
            torchserve::handle(&app, method, request).await
        }
        _ => status::error(
            GrpcCode::Unimplemented,
            &format!("unknown service {service}"),
        ),
    }
}

/// A unary (or server-streaming) call routed by the model named in its one
/// request message: read it, choose the pool, forward the bytes.
async fn forward_call(
    app: &Arc<App>,
    request: Request<Incoming>,
    protocol: &'static str,
    stream: bool,
    batchable: bool,
    on_unknown_model: fn(&str) -> Response<ResponseBody>,
) -> Response<ResponseBody> {
    let received_at = Instant::now();
    let request_id = request_id(request.headers());
    let (parts, body) = request.into_parts();
    let body = match super::read_body(&parts.headers, body, app.server.max_body_bytes).await {
        Ok(body) => body,
        Err(error) => return status::from_api_error(&error),
    };
    let model = match framing::single_message(&body).and_then(ModelRef::decode_from) {
        Ok(model) => model,
        Err(error) => return status::error(GrpcCode::InvalidArgument, &error),
    };
    let Some(route) = app.models.get(&model.name) else {
        return on_unknown_model(&model.name);
    };
    if let Some(missing) = missing_grpc_url(route) {
        return missing;
    }
    let path = parts.uri.path();
    let headers = grpc_upstream_headers(&parts.headers, &request_id);
    if batchable
        && let Some(batching) = &route.batching
        && let Some(offer) =
            crate::batch::kserve_grpc::offer(path, headers.clone(), &body, received_at)
    {
        let outcome = batching.kserve_grpc.submit(app, route, offer).await;
        if let Some(response) =
            crate::batch::respond(app, route, outcome, &request_id, protocol, |e| {
                status::from_api_error(&e)
            })
        {
            return response;
        }
    }
    let forwarded = ForwardRequest {
        route,
        method: Method::POST,
        path_and_query: path,
        headers,
        body,
        model_name: ModelName::GrpcField,
        stream,
        received_at,
        wire: Wire::Grpc,
        on_break: BreakStyle::Grpc,
    };
    forward_logged(app, forwarded, &request_id, protocol, |e| {
        status::from_api_error(&e)
    })
    .await
}

fn unknown_model(model: &str) -> String {
    ApiError::model_not_found(model).message
}

/// NOT_FOUND, for calls about a model the router does not serve.
fn not_found(model: &str) -> Response<ResponseBody> {
    status::error(GrpcCode::NotFound, &unknown_model(model))
}

/// A pool whose endpoints lack a gRPC address cannot take gRPC calls.
fn missing_grpc_url(route: &ModelRoute) -> Option<Response<ResponseBody>> {
    route.pool.endpoints.iter().any(|e| e.grpc.is_none()).then(|| {
        status::error(
            GrpcCode::Unimplemented,
            &format!(
                "model `{}` is served over gRPC only when every endpoint of pool `{}` has a grpc_url",
                route.name, route.pool.name
            ),
        )
    })
}

/// Client headers for the upstream call. gRPC needs `te: trailers`, which
/// the generic hop-by-hop filter drops.
fn grpc_upstream_headers(client: &HeaderMap, request_id: &HeaderValue) -> HeaderMap {
    let mut headers = upstream_headers(client, request_id);
    headers.insert(http::header::TE, HeaderValue::from_static("trailers"));
    if !headers.contains_key(CONTENT_TYPE) {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    }
    headers
}

/// A successful reply the router composes itself.
fn reply(message: &impl prost::Message) -> Response<ResponseBody> {
    let body = frame(&Bytes::from(message.encode_to_vec()));
    let mut response = Response::new(ResponseBody::Grpc {
        message: Some(body),
        trailers: Some(grpc_status_trailers(GrpcCode::Ok, "")),
    });
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    response
}
