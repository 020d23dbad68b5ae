//! `echo-upstream`: a minimal, very fast OpenAI-compatible upstream for load benches.
//!
//! It answers fixed bodies and never parses JSON: a POST body is only scanned for the bytes of
//! `"stream": true`. Non-streamed completions get one small JSON document with usage; streamed
//! ones get a few SSE chunks and `data: [DONE]`, the first chunk sent at once and the others
//! `--stream-delay-ms` apart. Sockets use TCP_NODELAY and connections are kept alive.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::time::Sleep;

#[derive(Parser, Debug)]
#[command(
    name = "echo-upstream",
    about = "Fast fixed-answer OpenAI-compatible upstream"
)]
struct Args {
    /// Port to listen on (127.0.0.1 unless --host says otherwise).
    #[arg(long, default_value_t = 18001)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Tokio worker threads; 1 runs a current-thread runtime.
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Delay between SSE chunks after the first one, in milliseconds (0: send all at once).
    #[arg(long, default_value_t = 0)]
    stream_delay_ms: u64,
    /// Model name put into answers.
    #[arg(long, default_value = "bench-model")]
    model: String,
}

/// Every answer, built once at start-up; cloning a `Bytes` only bumps a reference count.
struct Answers {
    chat: Bytes,
    completion: Bytes,
    chat_sse: Vec<Bytes>,
    completion_sse: Vec<Bytes>,
    models: Bytes,
    metrics: Bytes,
    delay: Duration,
}

impl Answers {
    fn new(model: &str, delay: Duration) -> Self {
        let usage = r#""usage":{"prompt_tokens":8,"completion_tokens":3,"total_tokens":11}"#;
        let chat = format!(
            r#"{{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"{model}","choices":[{{"index":0,"message":{{"role":"assistant","content":"Hello world!"}},"logprobs":null,"finish_reason":"stop"}}],{usage}}}"#
        );
        let completion = format!(
            r#"{{"id":"cmpl-bench","object":"text_completion","created":1700000000,"model":"{model}","choices":[{{"index":0,"text":"Hello world!","logprobs":null,"finish_reason":"stop"}}],{usage}}}"#
        );
        let chat_chunk = |delta: &str, finish: &str| {
            format!(
                r#"data: {{"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,"model":"{model}","choices":[{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{finish}}}]}}"#
            ) + "\n\n"
        };
        let text_chunk = |text: &str, finish: &str| {
            format!(
                r#"data: {{"id":"cmpl-bench","object":"text_completion","created":1700000000,"model":"{model}","choices":[{{"index":0,"text":"{text}","logprobs":null,"finish_reason":{finish}}}]}}"#
            ) + "\n\n"
        };
        let usage_chunk = |id: &str, object: &str| {
            format!(
                r#"data: {{"id":"{id}","object":"{object}","created":1700000000,"model":"{model}","choices":[],{usage}}}"#
            ) + "\n\n"
        };
        let done = "data: [DONE]\n\n".to_string();
        let chat_sse = [
            chat_chunk(r#"{"role":"assistant","content":""}"#, "null"),
            chat_chunk(r#"{"content":"Hello"}"#, "null"),
            chat_chunk(r#"{"content":" world"}"#, "null"),
            chat_chunk(r#"{"content":"!"}"#, r#""stop""#),
            usage_chunk("chatcmpl-bench", "chat.completion.chunk"),
            done.clone(),
        ];
        let completion_sse = [
            text_chunk("Hello", "null"),
            text_chunk(" world", "null"),
            text_chunk("!", r#""stop""#),
            usage_chunk("cmpl-bench", "text_completion"),
            done,
        ];
        let models = format!(
            r#"{{"object":"list","data":[{{"id":"{model}","object":"model","created":1700000000,"owned_by":"vllm","root":"{model}","max_model_len":4096}}]}}"#
        );
        let metrics = [
            "# HELP vllm:num_requests_running Number of requests currently running on GPU.",
            "# TYPE vllm:num_requests_running gauge",
            "vllm:num_requests_running{model_name=\"MODEL\"} 0.0",
            "# HELP vllm:num_requests_waiting Number of requests waiting to be processed.",
            "# TYPE vllm:num_requests_waiting gauge",
            "vllm:num_requests_waiting{model_name=\"MODEL\"} 0.0",
            "# HELP vllm:gpu_cache_usage_perc GPU KV-cache usage. 1 means 100 percent usage.",
            "# TYPE vllm:gpu_cache_usage_perc gauge",
            "vllm:gpu_cache_usage_perc{model_name=\"MODEL\"} 0.0",
            "# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.",
            "# TYPE vllm:kv_cache_usage_perc gauge",
            "vllm:kv_cache_usage_perc{model_name=\"MODEL\"} 0.0",
            "",
        ]
        .join("\n")
        .replace("MODEL", model);
        Self {
            chat: Bytes::from(chat),
            completion: Bytes::from(completion),
            chat_sse: chat_sse.into_iter().map(Bytes::from).collect(),
            completion_sse: completion_sse.into_iter().map(Bytes::from).collect(),
            models: Bytes::from(models),
            metrics: Bytes::from(metrics),
            delay,
        }
    }
}

/// A response body: one fixed buffer, or SSE frames with an optional delay between them.
enum EchoBody {
    Full(Option<Bytes>),
    Sse {
        frames: Vec<Bytes>,
        next: usize,
        delay: Duration,
        sleep: Option<Pin<Box<Sleep>>>,
    },
}

impl Body for EchoBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            EchoBody::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            EchoBody::Sse {
                frames,
                next,
                delay,
                sleep,
            } => {
                let Some(frame) = frames.get(*next).cloned() else {
                    return Poll::Ready(None);
                };
                if *next > 0 && !delay.is_zero() {
                    let timer = sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(*delay)));
                    if timer.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    *sleep = None;
                }
                *next += 1;
                Poll::Ready(Some(Ok(Frame::data(frame))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            EchoBody::Full(data) => data.is_none(),
            EchoBody::Sse { frames, next, .. } => *next >= frames.len(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            EchoBody::Full(data) => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            EchoBody::Sse { .. } => SizeHint::default(),
        }
    }
}

/// Whether a JSON body asks for streaming, found by scanning bytes: `"stream"`, optional
/// white space, `:`, optional white space, `true`.
fn wants_stream(body: &[u8]) -> bool {
    const KEY: &[u8] = b"\"stream\"";
    let mut rest = body;
    while let Some(pos) = rest.windows(KEY.len()).position(|w| w == KEY) {
        rest = &rest[pos + KEY.len()..];
        let after = skip_ws(rest);
        if let Some(value) = after.strip_prefix(b":")
            && skip_ws(value).starts_with(b"true")
        {
            return true;
        }
    }
    false
}

fn skip_ws(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

fn respond(status: StatusCode, content_type: &'static str, body: EchoBody) -> Response<EchoBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

async fn handle(
    answers: Arc<Answers>,
    request: Request<Incoming>,
) -> Result<Response<EchoBody>, hyper::Error> {
    const JSON: &str = "application/json";
    let full = |bytes: &Bytes| EchoBody::Full(Some(bytes.clone()));
    let is_chat = match (request.method(), request.uri().path()) {
        (&Method::POST, "/v1/chat/completions") => true,
        (&Method::POST, "/v1/completions") => false,
        (&Method::GET, "/health") => return Ok(respond(StatusCode::OK, JSON, full(&Bytes::new()))),
        (&Method::GET, "/v1/models") => {
            return Ok(respond(StatusCode::OK, JSON, full(&answers.models)));
        }
        (&Method::GET, "/metrics") => {
            let body = full(&answers.metrics);
            return Ok(respond(StatusCode::OK, "text/plain; version=0.0.4", body));
        }
        _ => {
            let body = EchoBody::Full(Some(Bytes::from_static(b"{\"error\":\"not found\"}")));
            return Ok(respond(StatusCode::NOT_FOUND, JSON, body));
        }
    };
    let body = request.into_body().collect().await?.to_bytes();
    if wants_stream(&body) {
        let frames = if is_chat {
            answers.chat_sse.clone()
        } else {
            answers.completion_sse.clone()
        };
        let sse = EchoBody::Sse {
            frames,
            next: 0,
            delay: answers.delay,
            sleep: None,
        };
        return Ok(respond(StatusCode::OK, "text/event-stream", sse));
    }
    let answer = if is_chat {
        &answers.chat
    } else {
        &answers.completion
    };
    Ok(respond(StatusCode::OK, JSON, full(answer)))
}

async fn serve(listener: TcpListener, answers: Arc<Answers>) -> std::io::Result<()> {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of descriptors and the like: report and keep serving.
                eprintln!("echo-upstream: accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        stream.set_nodelay(true)?;
        let answers = Arc::clone(&answers);
        tokio::spawn(async move {
            let service = service_fn(move |request| handle(Arc::clone(&answers), request));
            // Client resets at the end of a run are expected; ignore connection errors.
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let address: SocketAddr = format!("{}:{}", args.host, args.port).parse()?;
    let delay = Duration::from_millis(args.stream_delay_ms);
    let answers = Arc::new(Answers::new(&args.model, delay));
    let runtime = if args.workers <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.workers)
            .enable_all()
            .build()?
    };
    runtime.block_on(async move {
        let listener = TcpListener::bind(address).await?;
        eprintln!("echo-upstream: listening on http://{address}");
        serve(listener, answers).await
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::wants_stream;

    #[test]
    fn finds_the_stream_flag() {
        assert!(wants_stream(br#"{"model":"m","stream":true}"#));
        assert!(wants_stream(br#"{"stream" : true, "x":1}"#));
        assert!(wants_stream(br#"{"stream_options":{},"stream":true}"#));
        assert!(!wants_stream(br#"{"stream":false}"#));
        assert!(!wants_stream(br#"{"model":"stream"}"#));
        assert!(!wants_stream(b""));
    }
}
