//! HTTP plumbing shared by the fakes: the request as read, the answer,
//! JSON and server-sent-event bodies, ids and timestamps.

use std::convert::Infallible;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use serde_json::Value;

/// Body of every response: a whole buffer or a timed stream.
pub(crate) type Body = UnsyncBoxBody<Bytes, Infallible>;

/// Content type of the SSE streams.
pub(crate) const EVENT_STREAM: &str = "text/event-stream; charset=utf-8";

/// A request, read whole.
pub(crate) struct Req {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Req {
    /// Header `name` as text, if present and valid UTF-8.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The first value of query parameter `name`, percent-decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        let query = self.query.as_deref()?;
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k) == name).then(|| percent_decode(v))
        })
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| {
            let h = std::str::from_utf8(h).ok()?;
            u8::from_str_radix(h, 16).ok()
        });
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A response plus, when the fake refused the request, why.
pub(crate) struct Answer {
    pub response: Response<Body>,
    pub rejection: Option<String>,
}

impl Answer {
    pub fn ok(response: Response<Body>) -> Self {
        Answer {
            response,
            rejection: None,
        }
    }

    pub fn rejected(response: Response<Body>, why: impl Into<String>) -> Self {
        Answer {
            response,
            rejection: Some(why.into()),
        }
    }
}

/// A whole body.
pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// A response with `status`, `headers` and a JSON body.
pub(crate) fn json(
    status: StatusCode,
    headers: &[(&str, String)],
    value: &Value,
) -> Response<Body> {
    let body = serde_json::to_vec(value).unwrap_or_default();
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    set_header(&mut resp, "content-type", "application/json");
    for (name, value) in headers {
        set_header(&mut resp, name, value);
    }
    resp
}

/// A `200` SSE response whose events are sent after their delays.
pub(crate) fn event_stream(headers: &[(&str, String)], events: Vec<Timed>) -> Response<Body> {
    let stream = futures_util::stream::unfold(events.into_iter(), |mut it| async move {
        let Timed { delay, bytes } = it.next()?;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Some((Ok::<_, Infallible>(Frame::data(bytes)), it))
    });
    let mut resp = Response::new(StreamBody::new(stream).boxed_unsync());
    set_header(&mut resp, "content-type", EVENT_STREAM);
    set_header(&mut resp, "cache-control", "no-cache");
    for (name, value) in headers {
        set_header(&mut resp, name, value);
    }
    resp
}

/// Sets a header, skipping values that are not valid header text.
pub(crate) fn set_header(resp: &mut Response<Body>, name: &str, value: &str) {
    if let (Ok(n), Ok(v)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        resp.headers_mut().insert(n, v);
    }
}

/// One piece of a stream and the wait before it.
pub(crate) struct Timed {
    pub delay: Duration,
    pub bytes: Bytes,
}

/// `data: <json>\n\n` (OpenAI framing).
pub(crate) fn data_event(delay: Duration, value: &Value) -> Timed {
    Timed {
        delay,
        bytes: Bytes::from(format!("data: {value}\n\n")),
    }
}

/// `data: [DONE]\n\n`, OpenAI's terminator.
pub(crate) fn done_event() -> Timed {
    Timed {
        delay: Duration::ZERO,
        bytes: Bytes::from_static(b"data: [DONE]\n\n"),
    }
}

/// `event: <name>\ndata: <json>\n\n` (Anthropic framing).
pub(crate) fn named_event(delay: Duration, name: &str, value: &Value) -> Timed {
    Timed {
        delay,
        bytes: Bytes::from(format!("event: {name}\ndata: {value}\n\n")),
    }
}

/// A fresh random id: `prefix` then `len` lower-case hex digits (at most 32).
pub(crate) fn new_id(prefix: &str, len: usize) -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}{}", &hex[..len.min(hex.len())])
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_query_values() {
        let req = Req {
            method: Method::GET,
            path: "/".into(),
            query: Some("a=1&api-version=2024-10-21&b=x%20y+z".into()),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        };
        assert_eq!(
            req.query_param("api-version").as_deref(),
            Some("2024-10-21")
        );
        assert_eq!(req.query_param("b").as_deref(), Some("x y z"));
        assert_eq!(req.query_param("c"), None);
    }
}
