use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::Sleep;

use super::usage_tap::UsageTap;
use crate::clock::now_ms;
use crate::endpoint::InFlightGuard;
use crate::front::errors::{kserve_sse_error, sse_error_event};
use crate::front::grpc::{GrpcCode, grpc_status_trailers};
use crate::models::ModelRoute;
use crate::observability::metrics as m;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How a response the upstream breaks mid-way ends: bytes were already sent,
/// so there is no retry, only a clear end in the client's protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakStyle {
    /// The body is cut off; the client sees an incomplete response.
    Cut,
    /// A final SSE event with an OpenAI-style error object.
    OpenAiSse,
    /// A final SSE event `{"error": "..."}`, as Triton's generate_stream ends.
    KserveSse,
    /// Trailers with `grpc-status: 14` (UNAVAILABLE) and the message.
    Grpc,
}

/// An upstream response body on its way to the client, frame by frame as it
/// arrives: nothing is buffered or re-encoded. It holds the endpoint's
/// in-flight count until the last byte, enforces the total timeout, and
/// records latency. If the upstream breaks mid-stream an SSE response ends
/// with an OpenAI-style error event (bytes were already sent, so no retry);
/// any other body is cut off, which the client sees as an incomplete
/// response. Dropping it (the client went away) drops the upstream
/// connection, which is how the engine learns to abort the request.
pub struct ProxyBody {
    upstream: Option<Incoming>,
    deadline: Pin<Box<Sleep>>,
    on_break: BreakStyle,
    /// Whether a complete body tells the breaker the endpoint is fine: not
    /// for a 5xx passed through after retries ran out.
    success_on_end: bool,
    guard: Option<InFlightGuard>,
    route: Arc<ModelRoute>,
    received_at: Instant,
    first_byte_seen: bool,
    usage_tap: Option<UsageTap>,
}

impl ProxyBody {
    pub fn new(
        upstream: Incoming,
        deadline: tokio::time::Instant,
        on_break: BreakStyle,
        success_on_end: bool,
        guard: InFlightGuard,
        route: Arc<ModelRoute>,
        received_at: Instant,
    ) -> Self {
        Self {
            upstream: Some(upstream),
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            on_break,
            success_on_end,
            guard: Some(guard),
            route,
            received_at,
            first_byte_seen: false,
            usage_tap: None,
        }
    }

    /// Audits the policy's cache prediction against the `usage` at the body's end.
    pub fn with_usage_tap(mut self, tap: Option<UsageTap>) -> Self {
        self.usage_tap = tap;
        self
    }

    /// Finishes at once when the upstream sent no body at all (a gRPC
    /// trailers-only error, a 204): the response then goes out as headers
    /// alone, which gRPC clients require of a trailers-only response.
    pub fn finish_if_empty(&mut self) -> bool {
        let empty = self.upstream.as_ref().is_some_and(Body::is_end_stream);
        if empty {
            self.finish();
        }
        empty
    }

    fn finish(&mut self) {
        self.upstream = None;
        if let Some(tap) = self.usage_tap.take() {
            tap.finish();
        }
        if let Some(guard) = self.guard.take()
            && self.success_on_end
        {
            guard.endpoint().breaker.record_success();
        }
        self.route
            .request_duration
            .record(self.received_at.elapsed().as_secs_f64());
    }

    fn fail(
        &mut self,
        kind: &'static str,
        message: String,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.upstream = None;
        self.usage_tap = None;
        if let Some(guard) = self.guard.take() {
            let endpoint = guard.endpoint();
            endpoint.breaker.record_failure(now_ms());
            metrics::counter!(m::UPSTREAM_ERRORS, "pool" => endpoint.pool.to_string(), "endpoint" => endpoint.name.to_string(), "kind" => kind).increment(1);
            tracing::warn!(pool = %endpoint.pool, endpoint = %endpoint.name, kind, error = %message, "upstream failed mid-response");
        }
        self.route
            .request_duration
            .record(self.received_at.elapsed().as_secs_f64());
        match self.on_break {
            BreakStyle::Cut => Poll::Ready(Some(Err(message.into()))),
            BreakStyle::OpenAiSse => Poll::Ready(Some(Ok(Frame::data(sse_error_event(&message))))),
            BreakStyle::KserveSse => Poll::Ready(Some(Ok(Frame::data(kserve_sse_error(&message))))),
            BreakStyle::Grpc => Poll::Ready(Some(Ok(Frame::trailers(grpc_status_trailers(
                GrpcCode::Unavailable,
                &message,
            ))))),
        }
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let Some(upstream) = this.upstream.as_mut() else {
            return Poll::Ready(None);
        };
        if this.deadline.as_mut().poll(cx).is_ready() {
            return this.fail(
                "total_timeout",
                "The upstream response exceeded the total timeout.".into(),
            );
        }
        match Pin::new(upstream).poll_frame(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(tap), Some(data)) = (this.usage_tap.as_mut(), frame.data_ref()) {
                    tap.observe(data);
                }
                if !this.first_byte_seen && frame.is_data() {
                    this.first_byte_seen = true;
                    if let Some(guard) = this.guard.as_mut() {
                        guard.first_byte();
                    }
                    this.route
                        .time_to_first_byte
                        .record(this.received_at.elapsed().as_secs_f64());
                }
                // With a known length hyper stops polling once the last byte
                // is written, so the end must be noticed here, not on `None`.
                if this.upstream.as_ref().is_some_and(Body::is_end_stream) {
                    this.finish();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => this.fail(
                "stream_broken",
                format!("The upstream connection broke mid-response: {e}"),
            ),
            Poll::Ready(None) => {
                this.finish();
                Poll::Ready(None)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        // Only once the upstream's end has been polled, so `finish` runs.
        self.upstream.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match &self.upstream {
            // Exact only while nothing can be appended.
            Some(upstream) if self.on_break == BreakStyle::Cut => upstream.size_hint(),
            _ => SizeHint::default(),
        }
    }
}
