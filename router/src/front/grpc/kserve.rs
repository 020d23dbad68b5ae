//! `inference.GRPCInferenceService` through the router. Model calls are
//! routed by model name; server calls describe the router's fleet; the
//! repository, shared-memory, trace and log calls act on one server's
//! process, so they are left to each server's own address.

use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;
use switchyard_proto::inference::{
    ModelReadyResponse, ServerLiveResponse, ServerMetadataResponse, ServerReadyResponse,
};

use super::status::{self, GrpcCode};
use super::{forward_call, not_found, reply, streaming};
use crate::app::App;
use crate::front::ResponseBody;

pub async fn handle(
    app: &Arc<App>,
    method: &str,
    request: Request<Incoming>,
) -> Response<ResponseBody> {
    match method {
        "ServerLive" => reply(&ServerLiveResponse { live: true }),
        "ServerReady" => reply(&ServerReadyResponse {
            ready: app.every_model_has_a_healthy_endpoint(),
        }),
        "ServerMetadata" => reply(&ServerMetadataResponse {
            name: "switchyard".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            extensions: vec![
                "classification".into(),
                "binary_tensor_data".into(),
                "parameters".into(),
                "statistics".into(),
                "generate".into(),
            ],
        }),
        // Triton answers "not ready", not NOT_FOUND, for a model it does not have.
        "ModelReady" => {
            forward_call(app, request, "kserve-grpc", false, false, |_| {
                reply(&ModelReadyResponse { ready: false })
            })
            .await
        }
        "ModelMetadata" | "ModelConfig" | "ModelStatistics" => {
            forward_call(app, request, "kserve-grpc", false, false, not_found).await
        }
        "ModelInfer" => forward_call(app, request, "kserve-grpc", false, true, not_found).await,
        "ModelStreamInfer" => streaming::forward(app, request, "kserve-grpc").await,
        "RepositoryIndex"
        | "RepositoryModelLoad"
        | "RepositoryModelUnload"
        | "SystemSharedMemoryStatus"
        | "SystemSharedMemoryRegister"
        | "SystemSharedMemoryUnregister"
        | "CudaSharedMemoryStatus"
        | "CudaSharedMemoryRegister"
        | "CudaSharedMemoryUnregister"
        | "TraceSetting"
        | "LogSettings" => status::error(
            GrpcCode::Unimplemented,
            &format!("{method} acts on one server; call the Triton server's own address for it"),
        ),
        _ => status::error(
            GrpcCode::Unimplemented,
            &format!("unknown method inference.GRPCInferenceService/{method}"),
        ),
    }
}
