//! KServe v2 over HTTP (`/v2/...`), as Triton serves it: model calls are
//! routed by the model name in the path and passed through untouched (JSON
//! or binary tensor data alike); server calls describe the router's fleet.

use std::ops::Range;
use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::errors::ApiError;
use super::openai::{count_rejected, json};
use super::{PathRouted, REQUEST_ID, ResponseBody, proxy_by_path, request_id};
use crate::app::App;
use crate::proxy::BreakStyle;

pub const SERVER_EXTENSIONS: [&str; 5] = [
    "classification",
    "binary_tensor_data",
    "parameters",
    "statistics",
    "generate",
];

pub async fn handle(app: Arc<App>, request: Request<Incoming>) -> Response<ResponseBody> {
    let request_id = request_id(request.headers());
    let path = request.uri().path();
    let mut response = match (request.method(), path) {
        (&Method::GET, "/v2") => json(
            StatusCode::OK,
            &serde_json::json!({
                "name": "switchyard",
                "version": env!("CARGO_PKG_VERSION"),
                "extensions": SERVER_EXTENSIONS,
            }),
        ),
        (&Method::GET, "/v2/health/live") => empty(StatusCode::OK),
        // KServe v2: 200 means ready, a 4xx means not (Triton answers 400).
        (&Method::GET, "/v2/health/ready") => empty(if app.every_model_has_a_healthy_endpoint() {
            StatusCode::OK
        } else {
            StatusCode::BAD_REQUEST
        }),
        (_, p) if p.starts_with("/v2/models/") => match model_call(p) {
            Some(call) if call.allows(request.method()) => {
                proxy(&app, request, call, &request_id).await
            }
            Some(_) => rejected(ApiError::method_not_allowed(request.method(), path)),
            None => rejected(ApiError::not_found(path)),
        },
        (_, p) if SERVER_SCOPED.iter().any(|prefix| p.starts_with(prefix)) => {
            rejected(ApiError::not_implemented(format!(
                "{p} acts on one server; call the Triton server's own address for it"
            )))
        }
        _ => rejected(ApiError::not_found(path)),
    };
    response.headers_mut().insert(REQUEST_ID, request_id);
    response
}

/// Calls that act on one server's process, not on a model the router routes.
const SERVER_SCOPED: [&str; 5] = [
    "/v2/repository",
    "/v2/systemsharedmemory",
    "/v2/cudasharedmemory",
    "/v2/trace",
    "/v2/logging",
];

/// `/v2/models/{model}[/versions/{version}][/{action}]`.
#[derive(Debug, PartialEq, Eq)]
struct ModelCall {
    /// The model name's byte range in the path.
    model: Range<usize>,
    action: Action,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Metadata,
    Ready,
    Config,
    Stats,
    Infer,
    Generate,
    GenerateStream,
}

impl ModelCall {
    fn allows(&self, method: &Method) -> bool {
        match self.action {
            Action::Metadata | Action::Ready | Action::Config | Action::Stats => {
                method == Method::GET
            }
            Action::Infer | Action::Generate | Action::GenerateStream => method == Method::POST,
        }
    }
}

fn model_call(path: &str) -> Option<ModelCall> {
    const PREFIX: &str = "/v2/models/";
    let rest = path.strip_prefix(PREFIX)?;
    let (model, mut tail) = rest.split_once('/').unwrap_or((rest, ""));
    if model.is_empty() || model == "stats" {
        // `/v2/models/stats` (every model's statistics) is server-scoped.
        return None;
    }
    if let Some(after) = tail.strip_prefix("versions/") {
        let (version, action) = after.split_once('/').unwrap_or((after, ""));
        if version.is_empty() {
            return None;
        }
        tail = action;
    }
    let action = match tail {
        "" => Action::Metadata,
        "ready" => Action::Ready,
        "config" => Action::Config,
        "stats" => Action::Stats,
        "infer" => Action::Infer,
        "generate" => Action::Generate,
        "generate_stream" => Action::GenerateStream,
        _ => return None,
    };
    Some(ModelCall {
        model: PREFIX.len()..PREFIX.len() + model.len(),
        action,
    })
}

async fn proxy(
    app: &Arc<App>,
    request: Request<Incoming>,
    call: ModelCall,
    request_id: &http::HeaderValue,
) -> Response<ResponseBody> {
    let routed = PathRouted {
        model: call.model,
        stream: call.action == Action::GenerateStream,
        on_break: BreakStyle::KserveSse,
        protocol: "kserve-http",
        render: ApiError::into_kserve_response,
        // KServe v2: not ready is a 4xx; Triton answers 400 for a model it lacks.
        unknown_model_status: if call.action == Action::Ready {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::NOT_FOUND
        },
        batchable: call.action == Action::Infer,
    };
    proxy_by_path(app, request, routed, request_id).await
}

fn rejected(error: ApiError) -> Response<ResponseBody> {
    count_rejected(error.status);
    error.into_kserve_response()
}

fn empty(status: StatusCode) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::empty());
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(path: &str) -> Option<(&str, Action)> {
        model_call(path).map(|c| (&path[c.model], c.action))
    }

    #[test]
    fn model_paths() {
        assert_eq!(
            parsed("/v2/models/add_sub"),
            Some(("add_sub", Action::Metadata))
        );
        assert_eq!(
            parsed("/v2/models/add_sub/infer"),
            Some(("add_sub", Action::Infer))
        );
        assert_eq!(
            parsed("/v2/models/add_sub/versions/3/infer"),
            Some(("add_sub", Action::Infer))
        );
        assert_eq!(
            parsed("/v2/models/gen/generate_stream"),
            Some(("gen", Action::GenerateStream))
        );
        assert_eq!(
            parsed("/v2/models/m/versions/1"),
            Some(("m", Action::Metadata))
        );
        assert_eq!(parsed("/v2/models/m/ready"), Some(("m", Action::Ready)));
    }

    #[test]
    fn other_paths_are_not_model_calls() {
        for path in [
            "/v2/models/",
            "/v2/models/stats",
            "/v2/models/m/versions//infer",
            "/v2/models/m/unknown",
            "/v2/models/m/infer/extra",
        ] {
            assert_eq!(model_call(path), None, "{path}");
        }
    }

    #[test]
    fn methods_per_action() {
        let infer = model_call("/v2/models/m/infer").unwrap();
        assert!(infer.allows(&Method::POST) && !infer.allows(&Method::GET));
        let ready = model_call("/v2/models/m/ready").unwrap();
        assert!(ready.allows(&Method::GET) && !ready.allows(&Method::POST));
    }
}
