//! The OpenAI-compatible HTTP front end: `/v1/chat/completions`,
//! `/v1/completions`, `/v1/embeddings`, `/v1/models`, plus the router's own
//! `/health`, `/ready` and `/metrics`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::errors::ApiError;
use super::request_fields::{self, OpenAiOperation};
use super::{
    REQUEST_ID, ResponseBody, forward_logged, generate, read_body, request_id, upstream_headers,
};
use crate::app::App;
use crate::config::{ListenerProtocol, WhenBlocked};
use crate::models::ModelRoute;
use crate::observability::metrics as m;
use crate::proxy::{BreakStyle, ForwardRequest, ModelName, Wire};
use crate::spill::{self, Decision, ModelSpill, Spilled, serve::SpillRequest};

pub async fn handle(
    app: Arc<App>,
    protocol: ListenerProtocol,
    request: Request<Incoming>,
) -> Result<Response<ResponseBody>, Infallible> {
    let received_at = Instant::now();
    let request_id = request_id(request.headers());
    let operation = match request.uri().path() {
        "/v1/chat/completions" => Some(OpenAiOperation::ChatCompletions),
        "/v1/completions" => Some(OpenAiOperation::Completions),
        "/v1/embeddings" => Some(OpenAiOperation::Embeddings),
        _ => None,
    }
    .filter(|_| protocol.serves(ListenerProtocol::OpenAi));
    let openai = protocol.serves(ListenerProtocol::OpenAi);
    let mut response = match (request.method(), operation, request.uri().path()) {
        (&Method::POST, Some(op), _) => proxy(&app, request, op, &request_id, received_at).await,
        (_, Some(_), path) => ApiError::method_not_allowed(request.method(), path).into_response(),
        (&Method::GET, None, "/v1/models") if openai => list_models(&app),
        (&Method::GET, None, "/health") => health(&app, false),
        (&Method::GET, None, "/ready") => health(&app, true),
        (&Method::GET, None, "/gpus") => json(StatusCode::OK, &app.gpu.describe()),
        (&Method::GET, None, "/metrics") => text(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            app.metrics.render(),
        ),
        (_, None, path @ ("/v1/models" | "/health" | "/ready" | "/metrics" | "/gpus")) => {
            ApiError::method_not_allowed(request.method(), path).into_response()
        }
        (_, None, path) => ApiError::not_found(path).into_response(),
    };
    response.headers_mut().insert(REQUEST_ID, request_id);
    Ok(response)
}

async fn proxy(
    app: &Arc<App>,
    request: Request<Incoming>,
    operation: OpenAiOperation,
    request_id: &HeaderValue,
    received_at: Instant,
) -> Response<ResponseBody> {
    let (parts, body) = request.into_parts();
    let body = match read_body(&parts.headers, body, app.server.max_body_bytes).await {
        Ok(body) => body,
        Err(error) => return rejected(error),
    };
    let fields = match request_fields::parse(&body, operation) {
        Ok(fields) => fields,
        Err(error) => return rejected(error),
    };
    let Some(route) = app.models.get(&fields.model) else {
        return rejected(ApiError::model_not_found(&fields.model));
    };
    let why_local = match &route.spill {
        Some(spill) => {
            let call = SpillRequest {
                operation,
                body: &body,
                stream: fields.stream,
                request_id,
                received_at,
            };
            match spill_or_stay(app, route, spill, call).await {
                Ok(why_local) => Some(why_local),
                Err(answered) => return answered,
            }
        }
        None => None,
    };
    let mut response = proxy_local(
        app,
        route,
        &parts,
        body,
        operation,
        &fields,
        request_id,
        received_at,
    )
    .await;
    if let Some(why) = why_local {
        response
            .headers_mut()
            .extend(spill::note(&route.name, "local", why));
    }
    response
}

/// For a model that spills: the provider's answer (or a 429) when the
/// request left, else why it stays local.
async fn spill_or_stay(
    app: &Arc<App>,
    route: &Arc<ModelRoute>,
    spill: &ModelSpill,
    call: SpillRequest<'_>,
) -> Result<&'static str, Response<ResponseBody>> {
    let Decision::Spill(reason) = spill.decide(route) else {
        return Ok("has_room");
    };
    let request_id = call.request_id;
    match spill::serve(app, route, spill, call).await {
        Spilled::Served(response, label) => {
            let mut response = *response;
            let headers = spill::note(&route.name, &label, reason.as_str());
            response.headers_mut().extend(headers);
            super::log_access(
                app,
                request_id,
                &route.name,
                Some(&label),
                StatusCode::OK,
                "openai",
            );
            Err(response)
        }
        Spilled::Blocked(blocked) => {
            if spill.config.when_blocked == WhenBlocked::Reject
                && !wait_for_room(spill, route).await
            {
                let wait = spill.config.max_wait.as_secs().max(1);
                let error = ApiError::saturated(&route.name, blocked.as_str(), wait as u32);
                route.count_request(None, error.status);
                let mut response = error.into_response();
                response
                    .headers_mut()
                    .extend(spill::note(&route.name, "none", blocked.as_str()));
                return Err(response);
            }
            Ok(blocked.as_str())
        }
    }
}

/// Waits up to the model's `max_wait` for local room.
async fn wait_for_room(spill: &ModelSpill, route: &ModelRoute) -> bool {
    let until = tokio::time::Instant::now() + spill.config.max_wait;
    loop {
        if spill.has_room(route) {
            return true;
        }
        if tokio::time::Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Serves the request from the model's own pool.
#[allow(clippy::too_many_arguments)]
async fn proxy_local(
    app: &Arc<App>,
    route: &Arc<ModelRoute>,
    parts: &http::request::Parts,
    body: bytes::Bytes,
    operation: OpenAiOperation,
    fields: &request_fields::RoutingFields,
    request_id: &HeaderValue,
    received_at: Instant,
) -> Response<ResponseBody> {
    if let Some(generate) = &route.generate {
        let headers = upstream_headers(&parts.headers, request_id);
        return generate::proxy(
            app,
            route,
            generate,
            operation,
            &body,
            fields.stream,
            headers,
            request_id,
            received_at,
        )
        .await;
    }
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or(parts.uri.path(), |pq| pq.as_str());
    let headers = upstream_headers(&parts.headers, request_id);
    if operation == OpenAiOperation::Embeddings
        && let Some(batching) = &route.batching
        && let Some(offer) = crate::batch::embeddings::offer(
            path_and_query,
            headers.clone(),
            &body,
            received_at,
            batching.tokenizer.as_deref(),
        )
    {
        let outcome = batching.embeddings.submit(app, route, offer).await;
        if let Some(response) = crate::batch::respond(
            app,
            route,
            outcome,
            request_id,
            "openai",
            ApiError::into_response,
        ) {
            return response;
        }
    }
    let forwarded = ForwardRequest {
        route,
        method: Method::POST,
        path_and_query,
        headers,
        body,
        model_name: ModelName::JsonBody(fields.model_span.clone()),
        stream: fields.stream,
        received_at,
        wire: Wire::Http,
        on_break: BreakStyle::OpenAiSse,
    };
    forward_logged(
        app,
        forwarded,
        request_id,
        "openai",
        ApiError::into_response,
    )
    .await
}

/// Counts a request rejected before routing (unknown model, bad body).
pub fn rejected(error: ApiError) -> Response<ResponseBody> {
    count_rejected(error.status);
    error.into_response()
}

/// Counts a request the router answered itself before choosing a model's pool.
pub fn count_rejected(status: StatusCode) {
    metrics::counter!(
        m::REQUESTS,
        "model" => "none",
        "endpoint" => "none",
        "status" => status.as_str().to_owned()
    )
    .increment(1);
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
    let ready = app.every_model_has_a_healthy_endpoint();
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

pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<ResponseBody> {
    text(status, "application/json", value.to_string())
}

pub fn text(
    status: StatusCode,
    content_type: &'static str,
    body: String,
) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
