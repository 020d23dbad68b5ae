//! `org.pytorch.serve.grpc.inference.InferenceAPIsService` through the
//! router: predictions are routed by model name, `Ping` describes the fleet.

use http::{Request, Response};
use hyper::body::Incoming;
use switchyard_proto::torchserve::inference::TorchServeHealthResponse;

use super::status::{self, GrpcCode};
use super::{forward_call, not_found, reply, streaming};
use crate::app::App;
use crate::front::ResponseBody;
use crate::front::torchserve_http::ping_body;

pub async fn handle(
    app: &std::sync::Arc<App>,
    method: &str,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    match method {
        "Ping" => reply(&TorchServeHealthResponse {
            health: ping_body(app).0,
        }),
        "Predictions" => not_found_as_such(
            forward_call(app, request, "torchserve-grpc", false, false, not_found).await,
        ),
        // One request message, a stream of responses: forwarded like a unary call.
        "StreamPredictions" => not_found_as_such(
            forward_call(app, request, "torchserve-grpc", true, false, not_found).await,
        ),
        "StreamPredictions2" => streaming::forward(app, request, "torchserve-grpc").await,
        _ => status::error(
            GrpcCode::Unimplemented,
            &format!("unknown method {}/{method}", super::TORCHSERVE_SERVICE),
        ),
    }
}

/// TorchServe answers an unknown model or version with INTERNAL (its Java
/// exception's name in the message); clients expect NOT_FOUND, as the
/// router answers for models it does not know.
fn not_found_as_such(mut response: Response<ResponseBody>) -> Response<ResponseBody> {
    let headers = response.headers_mut();
    let internal = headers
        .get("grpc-status")
        .is_some_and(|v| v.as_bytes() == b"13");
    // ModelNotFoundException or ModelVersionNotFoundException.
    let not_found = headers
        .get("grpc-message")
        .is_some_and(|v| String::from_utf8_lossy(v.as_bytes()).contains("NotFoundException"));
    if internal && not_found {
        headers.insert(
            "grpc-status",
            http::HeaderValue::from(GrpcCode::NotFound as i32),
        );
    }
    response
}
