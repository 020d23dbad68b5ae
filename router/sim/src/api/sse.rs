//! Server-sent events framing, as vLLM writes it: `data: <json>\n\n` per
//! event and a final `data: [DONE]\n\n`.

use bytes::{BufMut, Bytes, BytesMut};
use serde::Serialize;

/// Content type of streaming responses (Starlette's, as vLLM sends it).
pub(crate) const CONTENT_TYPE: &str = "text/event-stream; charset=utf-8";

/// The stream terminator.
pub(crate) const DONE: &[u8] = b"data: [DONE]\n\n";

/// One SSE event carrying `value` as JSON.
pub(crate) fn event<T: Serialize>(value: &T) -> Bytes {
    let mut buf = BytesMut::with_capacity(256).writer();
    buf.get_mut().put_slice(b"data: ");
    // Serializing our own plain structs cannot fail; an empty object keeps
    // the stream well-formed if it ever did.
    if serde_json::to_writer(&mut buf, value).is_err() {
        buf.get_mut().put_slice(b"{}");
    }
    let mut buf = buf.into_inner();
    buf.put_slice(b"\n\n");
    buf.freeze()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn frames_events() {
        let e = event(&serde_json::json!({"a": 1}));
        assert_eq!(&e[..], b"data: {\"a\":1}\n\n");
        assert_eq!(DONE, b"data: [DONE]\n\n");
    }
}
