//! Sending one batch: merge the members into one request, forward it with
//! the pool's policy and retries, and cut the answer back into one response
//! per member. A batch the upstream refuses (a 4xx, or gRPC's
//! INVALID_ARGUMENT and kin) is not answered for its members: each goes on
//! alone, so each caller gets its own verdict on its own data.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use http_body_util::BodyExt;

use super::batcher::{BatchMetrics, Waiting};
use crate::app::App;
use crate::endpoint::Endpoint;
use crate::front::errors::ApiError;
use crate::front::{ResponseBody, strip_hop_by_hop};
use crate::models::ModelRoute;
use crate::proxy::{BreakStyle, ForwardRequest, ModelName, Wire, forward};

/// How one protocol's requests are merged and its answers split.
pub trait Codec: Send + Sync + 'static {
    /// A request, parsed as far as merging needs.
    type Member: Send + Sync + 'static;

    fn wire(&self) -> Wire;

    /// One request carrying every member's rows, in order. An error sends
    /// each member on its own.
    fn merge(&self, members: &[&Self::Member]) -> Result<Merged, String>;

    /// The members' parts of a successful answer, in order.
    fn split(
        &self,
        reply: &UpstreamReply,
        members: &[&Self::Member],
    ) -> Result<Vec<Response<ResponseBody>>, String>;
}

/// A merged request, ready to forward.
pub struct Merged {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub model_name: ModelName,
}

/// An upstream answer, read whole.
pub struct UpstreamReply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub trailers: Option<HeaderMap>,
}

/// What a member gets.
pub enum Outcome {
    /// Its part of the batch's answer.
    Answered {
        response: Response<ResponseBody>,
        endpoint: Arc<Endpoint>,
    },
    /// An error the router renders in the member's protocol.
    Failed {
        error: ApiError,
        endpoint: Option<Arc<str>>,
    },
    /// Send the request on its own, unchanged.
    SendAlone,
}

#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Ok,
    /// The request was refused for what it carries: retry members alone.
    Refused,
    /// The server failed: every member hears so.
    Failed,
}

pub(super) async fn send_batch<C: Codec>(
    codec: &C,
    metrics: &BatchMetrics,
    app: &App,
    route: &Arc<ModelRoute>,
    batch: Vec<Waiting<C::Member>>,
) {
    let now = Instant::now();
    // Callers that gave up (deadline, disconnect) are left out.
    let live: Vec<Waiting<C::Member>> =
        batch.into_iter().filter(|w| !w.reply.is_closed()).collect();
    for w in &live {
        metrics
            .queue_delay
            .record(now.duration_since(w.enqueued_at).as_secs_f64());
    }
    if live.len() < 2 {
        metrics.alone.increment(live.len() as u64);
        for w in live {
            let _ = w.reply.send(Outcome::SendAlone);
        }
        return;
    }
    let members: Vec<&C::Member> = live.iter().map(|w| &w.member).collect();
    let merged = match codec.merge(&members) {
        Ok(merged) => merged,
        Err(reason) => {
            tracing::debug!(model = %route.name, %reason, "batch not merged; members go alone");
            metrics.alone.increment(live.len() as u64);
            for w in live {
                let _ = w.reply.send(Outcome::SendAlone);
            }
            return;
        }
    };
    metrics.requests.record(live.len() as f64);
    metrics
        .rows
        .record(live.iter().map(|w| w.rows).sum::<usize>() as f64);
    let received_at = live.iter().map(|w| w.received_at).min().unwrap_or(now);
    let wire = codec.wire();
    let request = ForwardRequest {
        route,
        method: Method::POST,
        path_and_query: &merged.path,
        headers: merged.headers,
        body: merged.body,
        model_name: merged.model_name,
        stream: false,
        received_at,
        wire,
        on_break: match wire {
            Wire::Grpc => BreakStyle::Grpc,
            Wire::Http => BreakStyle::Cut,
        },
    };
    let outcomes = match forward(app, request).await {
        Err(failure) => Err(Box::new(Outcome::Failed {
            error: failure.error,
            endpoint: failure.endpoint,
        })),
        Ok((response, endpoint)) => {
            let (head, body) = response.into_parts();
            match body.collect().await {
                Err(e) => Err(Box::new(Outcome::Failed {
                    error: ApiError::bad_gateway(format!(
                        "the upstream answer to a batch broke off: {e}"
                    )),
                    endpoint: Some(Arc::clone(&endpoint.name)),
                })),
                Ok(collected) => {
                    let trailers = collected.trailers().cloned();
                    let reply = UpstreamReply {
                        status: head.status,
                        headers: head.headers,
                        body: collected.to_bytes(),
                        trailers,
                    };
                    answer(codec, metrics, route, &reply, &members, &endpoint)
                }
            }
        }
    };
    match outcomes {
        Ok(outcomes) => {
            for (w, outcome) in live.into_iter().zip(outcomes) {
                let _ = w.reply.send(outcome);
            }
        }
        Err(shared) => {
            metrics.failed.increment(live.len() as u64);
            for w in live {
                let _ = w.reply.send(shared.duplicate());
            }
        }
    }
}

/// Per-member outcomes for an upstream reply, or one outcome for all.
fn answer<C: Codec>(
    codec: &C,
    metrics: &BatchMetrics,
    route: &ModelRoute,
    reply: &UpstreamReply,
    members: &[&C::Member],
    endpoint: &Arc<Endpoint>,
) -> Result<Vec<Outcome>, Box<Outcome>> {
    match verdict(codec.wire(), reply) {
        Verdict::Refused => {
            tracing::debug!(model = %route.name, status = %reply.status, "batch refused; members retry alone");
            metrics.retried_alone.increment(members.len() as u64);
            Ok(members.iter().map(|_| Outcome::SendAlone).collect())
        }
        Verdict::Failed => Err(Box::new(Outcome::Answered {
            response: echo(codec.wire(), reply),
            endpoint: Arc::clone(endpoint),
        })),
        Verdict::Ok => match codec.split(reply, members) {
            Ok(responses) if responses.len() == members.len() => {
                metrics.batched.increment(members.len() as u64);
                Ok(responses
                    .into_iter()
                    .map(|response| Outcome::Answered {
                        response,
                        endpoint: Arc::clone(endpoint),
                    })
                    .collect())
            }
            Ok(_) => Err(Box::new(malformed(endpoint, "one part per request".into()))),
            Err(reason) => Err(Box::new(malformed(endpoint, reason))),
        },
    }
}

fn malformed(endpoint: &Endpoint, reason: String) -> Outcome {
    Outcome::Failed {
        error: ApiError::bad_gateway(format!(
            "the upstream answer to a batch could not be split: {reason}"
        )),
        endpoint: Some(Arc::clone(&endpoint.name)),
    }
}

impl Outcome {
    /// The same outcome for another member of the batch.
    fn duplicate(&self) -> Outcome {
        match self {
            Outcome::SendAlone => Outcome::SendAlone,
            Outcome::Failed { error, endpoint } => Outcome::Failed {
                error: error.clone(),
                endpoint: endpoint.clone(),
            },
            Outcome::Answered { response, endpoint } => Outcome::Answered {
                response: copy_response(response),
                endpoint: Arc::clone(endpoint),
            },
        }
    }
}

fn verdict(wire: Wire, reply: &UpstreamReply) -> Verdict {
    match wire {
        Wire::Http if reply.status.is_success() => Verdict::Ok,
        Wire::Http if reply.status.is_client_error() => Verdict::Refused,
        Wire::Http => Verdict::Failed,
        Wire::Grpc => {
            if !reply.status.is_success() {
                return Verdict::Failed;
            }
            let status = grpc_status(reply);
            match status.as_deref() {
                Some("0") => Verdict::Ok,
                // INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, OUT_OF_RANGE:
                // about what the request carries.
                Some("3" | "5" | "9" | "11") => Verdict::Refused,
                _ => Verdict::Failed,
            }
        }
    }
}

/// `grpc-status` from the trailers, or from the headers of a trailers-only
/// answer.
fn grpc_status(reply: &UpstreamReply) -> Option<String> {
    reply
        .trailers
        .as_ref()
        .and_then(|t| t.get("grpc-status"))
        .or_else(|| reply.headers.get("grpc-status"))
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The upstream's own answer, for every member of a batch it failed.
fn echo(wire: Wire, reply: &UpstreamReply) -> Response<ResponseBody> {
    let mut headers = reply.headers.clone();
    strip_hop_by_hop(&mut headers);
    headers.remove(CONTENT_LENGTH);
    let body = match wire {
        Wire::Http => ResponseBody::full(reply.body.clone()),
        Wire::Grpc => ResponseBody::Grpc {
            message: None,
            trailers: reply.trailers.clone(),
        },
    };
    let mut response = Response::new(body);
    *response.status_mut() = reply.status;
    *response.headers_mut() = headers;
    response
}

fn copy_response(response: &Response<ResponseBody>) -> Response<ResponseBody> {
    let body = match response.body() {
        ResponseBody::Full(bytes) => ResponseBody::Full(bytes.clone()),
        ResponseBody::Grpc { message, trailers } => ResponseBody::Grpc {
            message: message.clone(),
            trailers: trailers.clone(),
        },
        // Batches answer with whole bodies only.
        _ => ResponseBody::empty(),
    };
    let mut copy = Response::new(body);
    *copy.status_mut() = response.status();
    *copy.headers_mut() = response.headers().clone();
    copy
}

/// A JSON body, with its content type.
pub fn json_response(body: Vec<u8>, content_type: HeaderValue) -> Response<ResponseBody> {
    let mut response = Response::new(ResponseBody::full(body));
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, grpc: Option<&str>, in_trailers: bool) -> UpstreamReply {
        let mut headers = HeaderMap::new();
        let mut trailers = None;
        if let Some(code) = grpc {
            let mut map = HeaderMap::new();
            map.insert("grpc-status", HeaderValue::from_str(code).unwrap());
            if in_trailers {
                trailers = Some(map);
            } else {
                headers = map;
            }
        }
        UpstreamReply {
            status: StatusCode::from_u16(status).unwrap(),
            headers,
            body: Bytes::new(),
            trailers,
        }
    }

    #[test]
    fn http_verdicts() {
        assert_eq!(verdict(Wire::Http, &reply(200, None, false)), Verdict::Ok);
        assert_eq!(
            verdict(Wire::Http, &reply(400, None, false)),
            Verdict::Refused
        );
        assert_eq!(
            verdict(Wire::Http, &reply(503, None, false)),
            Verdict::Failed
        );
    }

    #[test]
    fn grpc_verdicts_read_trailers_or_headers() {
        assert_eq!(
            verdict(Wire::Grpc, &reply(200, Some("0"), true)),
            Verdict::Ok
        );
        assert_eq!(
            verdict(Wire::Grpc, &reply(200, Some("3"), false)),
            Verdict::Refused,
            "trailers-only INVALID_ARGUMENT"
        );
        assert_eq!(
            verdict(Wire::Grpc, &reply(200, Some("14"), true)),
            Verdict::Failed
        );
        assert_eq!(
            verdict(Wire::Grpc, &reply(200, None, false)),
            Verdict::Failed
        );
        assert_eq!(
            verdict(Wire::Grpc, &reply(502, None, false)),
            Verdict::Failed
        );
    }

    #[test]
    fn a_failed_batch_is_echoed_to_each_member() {
        let mut r = reply(503, None, false);
        r.body = Bytes::from_static(b"{\"error\":\"down\"}");
        let first = echo(Wire::Http, &r);
        let second = copy_response(&first);
        assert_eq!(second.status(), 503);
        assert!(matches!(second.body(), ResponseBody::Full(Some(b)) if b == &r.body));
    }
}
