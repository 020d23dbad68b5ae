//! Serving one spilled request: the model's providers in order, each within
//! the spill cap and its budget; the first that answers serves it.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{HeaderName, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{Map, Value};
use switchyard_backends::providers::anthropic::{self, StreamTranslator};
use switchyard_backends::providers::{Operation, ProviderError, Usage};

use super::request::{self, ProviderRequest};
use super::stream::{self, Format, Settlement};
use super::{Blocked, ModelSpill, Target};
use crate::app::App;
use crate::clock::{now_ms, unix_ms};
use crate::config::ProviderKind;
use crate::front::ResponseBody;
use crate::front::request_fields::OpenAiOperation;
use crate::models::ModelRoute;
use crate::observability::metrics as m;

/// Failed provider calls, by `provider` and `status` (`connect`, `timeout`
/// or the HTTP status).
pub const PROVIDER_ERRORS: &str = "switchyard_provider_errors_total";
const PROVIDER_REQUEST_ID: HeaderName = HeaderName::from_static("x-switchyard-provider-request-id");
const MAX_ANSWER_BYTES: usize = 64 << 20;

pub enum Spilled {
    /// A provider's answer, and the provider's label.
    Served(Box<Response<ResponseBody>>, String),
    Blocked(Blocked),
}

pub struct SpillRequest<'a> {
    pub operation: OpenAiOperation,
    pub body: &'a Bytes,
    pub stream: bool,
    pub request_id: &'a HeaderValue,
    pub received_at: Instant,
}

pub async fn serve(
    app: &App,
    route: &Arc<ModelRoute>,
    spill: &ModelSpill,
    call: SpillRequest<'_>,
) -> Spilled {
    let now = now_ms();
    if !spill.cap.try_spill(now) {
        return Spilled::Blocked(Blocked::Cap);
    }
    let operation = match call.operation {
        OpenAiOperation::ChatCompletions => Operation::ChatCompletions,
        OpenAiOperation::Completions => Operation::Completions,
        OpenAiOperation::Embeddings => Operation::Embeddings,
    };
    let mut blocked = Blocked::NotSpillable;
    if let Ok(request) = serde_json::from_slice::<Map<String, Value>>(call.body) {
        for target in &spill.targets {
            match try_target(app, route, target, operation, &request, &call).await {
                Ok(response) => {
                    return Spilled::Served(Box::new(response), target.provider.label.clone());
                }
                Err(why) => {
                    // Report the most telling reason: a failure, then budgets.
                    if why == Blocked::ProviderFailed
                        || (why == Blocked::Budget && blocked == Blocked::NotSpillable)
                    {
                        blocked = why;
                    }
                }
            }
        }
    }
    spill.cap.undo_spill(now);
    Spilled::Blocked(blocked)
}

async fn try_target(
    app: &App,
    route: &Arc<ModelRoute>,
    target: &Target,
    operation: Operation,
    request: &Map<String, Value>,
    call: &SpillRequest<'_>,
) -> Result<Response<ResponseBody>, Blocked> {
    let provider = &target.provider;
    let built = request::build(target, operation, request, call.stream).map_err(|why| {
        tracing::debug!(provider = %provider.name, reason = %why.0, "request cannot spill to this provider");
        Blocked::NotSpillable
    })?;
    let estimate_usd = request::estimate(target, operation, request, call.body.len());
    let reservation = match &provider.budget {
        Some(budget) => Some(budget.reserve(estimate_usd, unix_ms()).ok_or_else(|| {
            tracing::debug!(provider = %provider.name, "over budget for this period");
            Blocked::Budget
        })?),
        None => None,
    };
    let deadline = tokio::time::Instant::from_std(call.received_at) + provider.timeouts.total;
    let sent = provider
        .client
        .send(
            &provider.http,
            operation,
            &target.model,
            built.body.clone(),
            call.stream,
            Some(call.request_id),
            provider.timeouts.first_byte,
            deadline,
            provider.retry,
        )
        .await;
    let response = sent.map_err(|error| {
        let status = match &error {
            ProviderError::Status { status, .. } => status.as_str().to_owned(),
            ProviderError::Upstream(e) if e.is_connect() => "connect".into(),
            ProviderError::Upstream(switchyard_backends::UpstreamError::FirstByteTimeout(_)) => {
                "timeout".into()
            }
            _ => "error".into(),
        };
        metrics::counter!(PROVIDER_ERRORS, "provider" => provider.name.to_string(), "status" => status)
            .increment(1);
        let detail = match &error {
            ProviderError::Status { body, .. } => String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned(),
            _ => String::new(),
        };
        tracing::warn!(provider = %provider.name, model = %route.name, %error, %detail, "spill-over provider failed");
        Blocked::ProviderFailed
    })?;
    let settlement = Settlement {
        reservation,
        price: target.price,
        provider: Arc::clone(provider),
        route: Arc::clone(route),
        received_at: call.received_at,
        usage: None,
        estimate_usd,
    };
    let answer = answer(
        app,
        &route.name,
        target,
        response,
        built,
        settlement,
        call.stream,
        deadline,
    )
    .await;
    answer.map_err(|error| {
        metrics::counter!(PROVIDER_ERRORS, "provider" => provider.name.to_string(), "status" => "bad_answer")
            .increment(1);
        tracing::warn!(provider = %provider.name, %error, "spill-over provider's answer was unusable");
        Blocked::ProviderFailed
    })
}

/// The client's response from the provider's: streamed through (or
/// translated), or read whole and passed on (or translated).
#[allow(clippy::too_many_arguments)]
async fn answer(
    app: &App,
    model: &str,
    target: &Target,
    response: Response<Incoming>,
    built: ProviderRequest,
    mut settlement: Settlement,
    streamed: bool,
    deadline: tokio::time::Instant,
) -> Result<Response<ResponseBody>, String> {
    let (head, upstream) = response.into_parts();
    let created = unix_ms() / 1000;
    let anthropic_api = target.provider.kind == ProviderKind::Anthropic;
    let (content_type, body) = if streamed {
        let format = if anthropic_api {
            Format::Anthropic(Box::new(StreamTranslator::new(
                &target.model,
                created,
                built.client_wants_usage,
            )))
        } else {
            Format::OpenAi {
                strip_usage_chunk: built.strip_usage_chunk,
            }
        };
        let body = stream::body(upstream, format, settlement, deadline);
        ("text/event-stream", ResponseBody::Translated(body))
    } else {
        let collected =
            tokio::time::timeout_at(deadline, Limited::new(upstream, MAX_ANSWER_BYTES).collect())
                .await
                .map_err(|_| "the total timeout expired while reading the answer".to_owned())?
                .map_err(|e| format!("reading the answer: {e}"))?
                .to_bytes();
        let value: Value = serde_json::from_slice(&collected)
            .map_err(|e| format!("the answer is not JSON: {e}"))?;
        let bytes = if anthropic_api {
            let (completion, usage) = anthropic::chat_completion(&value, &target.model, created)
                .map_err(|e| e.to_string())?;
            settlement.usage = Some(usage);
            Bytes::from(completion.to_string())
        } else {
            settlement.usage = value.get("usage").and_then(Usage::from_openai);
            collected
        };
        drop(settlement);
        ("application/json", ResponseBody::full(bytes))
    };
    let mut out = Response::new(body);
    *out.status_mut() = StatusCode::OK;
    let headers = out.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if streamed {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    if let Some(id) = head
        .headers
        .get("x-request-id")
        .or_else(|| head.headers.get("request-id"))
    {
        headers.insert(PROVIDER_REQUEST_ID, id.clone());
    }
    if app.server.expose_endpoint_header
        && let Ok(label) = HeaderValue::from_str(&target.provider.label)
    {
        headers.insert(crate::front::SERVED_BY, label);
    }
    metrics::counter!(
        m::REQUESTS,
        "model" => model.to_owned(),
        "endpoint" => target.provider.label.clone(),
        "status" => "200"
    )
    .increment(1);
    Ok(out)
}
