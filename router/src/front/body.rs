//! The body of every response the router sends: one it wrote itself, an
//! upstream's streamed through, a gRPC reply with trailers, or an upstream
//! stream translated on the fly (Triton generate to OpenAI).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::UnsyncBoxBody;

use crate::proxy::{BoxError, ProxyBody};

pub enum ResponseBody {
    Full(Option<Bytes>),
    Proxy(ProxyBody),
    /// A message (if any) and then trailers, as gRPC ends every call.
    Grpc {
        message: Option<Bytes>,
        trailers: Option<HeaderMap>,
    },
    Translated(UnsyncBoxBody<Bytes, BoxError>),
}

impl ResponseBody {
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        Self::Full((!bytes.is_empty()).then_some(bytes))
    }

    pub fn empty() -> Self {
        Self::Full(None)
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Self::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Self::Proxy(body) => Pin::new(body).poll_frame(cx),
            Self::Grpc { message, trailers } => {
                if let Some(message) = message.take() {
                    return Poll::Ready(Some(Ok(Frame::data(message))));
                }
                Poll::Ready(trailers.take().map(|t| Ok(Frame::trailers(t))))
            }
            Self::Translated(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Full(bytes) => bytes.is_none(),
            Self::Proxy(body) => body.is_end_stream(),
            Self::Grpc { message, trailers } => message.is_none() && trailers.is_none(),
            Self::Translated(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Full(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Self::Proxy(body) => body.size_hint(),
            Self::Grpc { .. } => SizeHint::default(),
            Self::Translated(body) => body.size_hint(),
        }
    }
}
