//! Response body: a whole buffer, or a channel fed by the task that
//! generates a stream (each SSE event is sent as soon as it exists; hyper
//! flushes whenever the channel is empty, so nothing is held back).

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::sync::{mpsc, oneshot};

use crate::error::StreamAborted;

/// Items of a streaming body: data, or the error that cuts the connection.
pub(crate) type StreamItem = Result<Bytes, StreamAborted>;

/// Body of every simulator response.
pub(crate) enum SimBody {
    Full(Option<Bytes>),
    Channel(ChannelBody),
}

/// The streaming variant's state.
pub(crate) struct ChannelBody {
    rx: mpsc::Receiver<StreamItem>,
    /// Fired when the stream has been handed to hyper to its end, so the
    /// producer can tell "delivered" from "client went away" (the body is
    /// then dropped and this sender with it).
    delivered: Option<oneshot::Sender<()>>,
    /// An error held back for one poll: hyper flushes what it has written
    /// when the body is pending, and would drop it if the error came first.
    held_error: Option<StreamAborted>,
}

impl SimBody {
    pub(crate) fn full(bytes: impl Into<Bytes>) -> Self {
        SimBody::Full(Some(bytes.into()))
    }

    pub(crate) fn empty() -> Self {
        SimBody::Full(None)
    }

    /// A streaming body fed by `rx`; `delivered` fires once it is all sent.
    pub(crate) fn channel(rx: mpsc::Receiver<StreamItem>, delivered: oneshot::Sender<()>) -> Self {
        SimBody::Channel(ChannelBody {
            rx,
            delivered: Some(delivered),
            held_error: None,
        })
    }
}

impl Body for SimBody {
    type Data = Bytes;
    type Error = StreamAborted;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, StreamAborted>>> {
        match self.get_mut() {
            SimBody::Full(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            SimBody::Channel(ch) => {
                if let Some(e) = ch.held_error.take() {
                    return Poll::Ready(Some(Err(e)));
                }
                match ch.rx.poll_recv(cx) {
                    Poll::Pending => Poll::Pending,
                    Poll::Ready(Some(Ok(bytes))) => Poll::Ready(Some(Ok(Frame::data(bytes)))),
                    Poll::Ready(Some(Err(e))) => {
                        ch.held_error = Some(e);
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                    Poll::Ready(None) => {
                        if let Some(tx) = ch.delivered.take() {
                            let _ = tx.send(());
                        }
                        Poll::Ready(None)
                    }
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, SimBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            SimBody::Full(Some(b)) => SizeHint::with_exact(b.len() as u64),
            SimBody::Full(None) => SizeHint::with_exact(0),
            SimBody::Channel(_) => SizeHint::default(),
        }
    }
}
