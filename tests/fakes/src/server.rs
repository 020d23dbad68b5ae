//! The fakes' HTTP server: accepts connections (HTTP/1.1 or HTTP/2,
//! `TCP_NODELAY`), reads each request whole, hands it to the fake API its
//! path belongs to, and records it with the answer's status.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::http::{Answer, Body, Req, json};
use crate::record::{Api, Received, relevant_headers};
use crate::state::Shared;
use crate::{anthropic, azure, openai};

/// Largest request body read (Anthropic's limit for the Messages API).
const MAX_BODY: usize = 32 << 20;

/// Serves `listener` until `shutdown` fires or its sender is dropped, then
/// frees the port and cuts every open connection.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Without it Nagle's algorithm holds back small SSE chunks.
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve_connection(stream, Arc::clone(&shared)));
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}

async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let service = service_fn(move |req| {
        let shared = Arc::clone(&shared);
        async move { Ok::<_, Infallible>(handle(&shared, req).await) }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    // A client going away mid-stream ends the connection; nothing to report.
    let _ = builder
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

/// Which fake a request is for (see [`Api`]).
fn classify(path: &str, headers: &http::HeaderMap) -> Api {
    if path.starts_with("/openai/") {
        Api::Azure
    } else if path.starts_with("/v1/messages")
        || (path == "/v1/models"
            && (headers.contains_key("x-api-key") || headers.contains_key("anthropic-version")))
    {
        Api::Anthropic
    } else {
        Api::OpenAi
    }
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let api = classify(parts.uri.path(), &parts.headers);
    let req = Req {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body: Default::default(),
    };
    let (req, answer) = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => {
            let req = Req {
                body: collected.to_bytes(),
                ..req
            };
            let answer = dispatch(shared, api, &req).await;
            (req, answer)
        }
        Err(e) => {
            let answer = unreadable(api, &e.to_string());
            (req, answer)
        }
    };
    record(shared, api, &req, &answer);
    answer.response
}

async fn dispatch(shared: &Shared, api: Api, req: &Req) -> Answer {
    match api {
        Api::OpenAi => openai::handle(shared, req).await,
        Api::Azure => azure::handle(shared, req).await,
        Api::Anthropic => anthropic::handle(shared, req).await,
    }
}

/// `413` (too large) or `400` for a body that could not be read, in the
/// provider's error shape.
fn unreadable(api: Api, why: &str) -> Answer {
    let too_large = why.contains("length limit");
    let status = if too_large {
        StatusCode::PAYLOAD_TOO_LARGE
    } else {
        StatusCode::BAD_REQUEST
    };
    let message = if too_large {
        "Request exceeds the maximum allowed number of bytes."
    } else {
        "The request body could not be read."
    };
    let body = match api {
        Api::Anthropic => serde_json::json!({
            "type": "error",
            "error": {"type": if too_large { "request_too_large" } else { "invalid_request_error" }, "message": message},
        }),
        Api::Azure => {
            serde_json::json!({"error": {"code": status.as_u16().to_string(), "message": message}})
        }
        Api::OpenAi => serde_json::json!({"error": {
            "message": message, "type": "invalid_request_error", "param": null, "code": null
        }}),
    };
    Answer::rejected(
        json(status, &[], &body),
        format!("{}: {why}", status.as_u16()),
    )
}

fn record(shared: &Shared, api: Api, req: &Req, answer: &Answer) {
    shared.record(Received {
        api,
        method: req.method.to_string(),
        path: req.path.clone(),
        query: req.query.clone(),
        headers: relevant_headers(&req.headers),
        body: serde_json::from_slice(&req.body).ok(),
        status: answer.response.status().as_u16(),
        rejection: answer.rejection.clone(),
    });
}
