//! Bidirectional streams (`ModelStreamInfer`, `StreamPredictions2`): the
//! first message names the model; the whole stream then goes to one
//! endpoint, both directions passing through as they arrive.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::{Request, Response};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::framing::{ModelRef, first_message};
use super::status::{self, GrpcCode};
use super::{grpc_upstream_headers, missing_grpc_url, unknown_model};
use crate::app::App;
use crate::front::errors::ApiError;
use crate::front::{ResponseBody, finish_forward, log_access, request_id};
use crate::proxy::{BoxError, forward_stream};

pub async fn forward(
    app: &App,
    request: Request<Incoming>,
    protocol: &'static str,
) -> Response<ResponseBody> {
    let received_at = Instant::now();
    let request_id = request_id(request.headers());
    let (parts, mut body) = request.into_parts();
    let limit = app.server.max_body_bytes;
    let mut buffered = BytesMut::new();
    let message = loop {
        match first_message(&buffered) {
            Ok(Some(message)) => break message,
            Ok(None) => {}
            Err(error) => return status::error(GrpcCode::InvalidArgument, &error),
        }
        if buffered.len() > limit {
            return status::from_api_error(&ApiError::body_too_large(limit));
        }
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    buffered.extend_from_slice(&data);
                }
            }
            Some(Err(e)) => {
                return status::error(GrpcCode::Internal, &format!("reading the stream: {e}"));
            }
            // The client closed its side without a message: nothing to answer.
            None => return status::error(GrpcCode::Ok, ""),
        }
    };
    let buffered = buffered.freeze();
    let first = buffered.slice(message);
    let model = match ModelRef::decode_from(first) {
        Ok(model) => model,
        Err(error) => return status::error(GrpcCode::InvalidArgument, &error),
    };
    let Some(route) = app.models.get(&model.name) else {
        return status::error(GrpcCode::NotFound, &unknown_model(&model.name));
    };
    if let Some(missing) = missing_grpc_url(route) {
        return missing;
    }
    let upstream_body = Prefixed {
        prefix: Some(buffered),
        rest: body,
    }
    .boxed_unsync();
    let headers = grpc_upstream_headers(&parts.headers, &request_id);
    let result = forward_stream(
        app,
        route,
        parts.uri.path(),
        headers,
        upstream_body,
        received_at,
    )
    .await;
    let routed = finish_forward(app, route, result, |e| status::from_api_error(&e));
    log_access(
        app,
        &request_id,
        &route.name,
        routed.endpoint.as_deref(),
        routed.status,
        protocol,
    );
    routed.response
}

/// The bytes already read, then the rest of the client's stream.
struct Prefixed {
    prefix: Option<Bytes>,
    rest: Incoming,
}

impl Body for Prefixed {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Some(prefix) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        Pin::new(&mut self.rest)
            .poll_frame(cx)
            .map_err(|e| Box::new(e) as BoxError)
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.rest.is_end_stream()
    }
}
