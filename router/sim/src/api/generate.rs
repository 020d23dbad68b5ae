//! Runs generation requests (chat and text completions) through the engine
//! and writes the response, whole or streamed.
//!
//! Non-streaming requests run inside the connection's service future: if
//! the client goes away hyper drops that future, the request guard and the
//! engine tickets drop with it, and the request counts as cancelled.
//! Streaming requests run in their own task that feeds the body channel and
//! watches it: when hyper drops the body, `tx.closed()` fires and the task
//! ends the same way.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use bytes::Bytes;
use futures_util::future::{join_all, try_join_all};
use http::{HeaderValue, Response, header};
use tokio::sync::{mpsc, oneshot};

use super::errors::ApiError;
use super::request::OutputPlan;
use super::sse;
use super::wire::Usage;
use crate::body::{SimBody, StreamItem};
use crate::engine::{Engine, FinishReason, Ticket};
use crate::error::StreamAborted;
use crate::stats::RequestGuard;
use crate::tokenizer::OutputText;

/// Events buffered between the generating task and hyper. Small, so a slow
/// reader slows the generator (as a socket buffer would) without stalling it
/// on every token.
const CHANNEL_CAPACITY: usize = 32;

/// How an endpoint writes its output (chat or text completion).
pub(crate) trait Format: Send + Sync + 'static {
    /// Event that opens choice `index` when its first token exists (the chat
    /// role chunk), if the format has one.
    fn opening(&self, index: u32) -> Option<Bytes>;
    /// Event carrying one token; `finish` is set on the last one.
    fn token(&self, index: u32, text: &str, finish: Option<FinishReason>) -> Bytes;
    /// The final `choices: []` event with the usage.
    fn usage(&self, usage: Usage) -> Bytes;
    /// The whole non-streaming response body.
    fn full(&self, outputs: &[SeqOutput], usage: Usage) -> Bytes;
}

/// One choice's generated text.
pub(crate) struct SeqOutput {
    pub text: String,
    pub finish: FinishReason,
}

/// A validated generation request, ready for the engine.
pub(crate) struct Prepared {
    pub format: Arc<dyn Format>,
    /// One (prompt tokens, output plan) per choice.
    pub prompts: Vec<(Vec<u32>, OutputPlan)>,
    pub stream: bool,
    pub include_usage: bool,
}

struct Job {
    ticket: Ticket,
    plan: OutputPlan,
}

/// Submits the prompts and answers: JSON when whole, SSE when streaming.
pub(crate) async fn respond(
    engine: &Arc<Engine>,
    guard: RequestGuard,
    req: Prepared,
) -> Response<SimBody> {
    let mut jobs = Vec::with_capacity(req.prompts.len());
    for (prompt, plan) in &req.prompts {
        match engine.submit(prompt, plan.output_len, true) {
            Ok(ticket) => jobs.push(Job {
                ticket,
                plan: *plan,
            }),
            Err(e) => {
                guard.reject();
                return ApiError::bad_request(e.to_string()).into_response();
            }
        }
    }
    if req.stream {
        let abort_after = engine.faults().abort_after();
        stream(guard, req.format, jobs, req.include_usage, abort_after)
    } else {
        whole(guard, req.format.as_ref(), jobs).await
    }
}

async fn whole(guard: RequestGuard, format: &dyn Format, jobs: Vec<Job>) -> Response<SimBody> {
    let results = join_all(jobs.into_iter().map(collect)).await;
    let mut outputs = Vec::with_capacity(results.len());
    let mut usage = Usage::generation(0, 0, 0);
    for r in results {
        let Some((out, u)) = r else {
            drop(guard);
            return ApiError::new(http::StatusCode::INTERNAL_SERVER_ERROR, "engine stopped")
                .into_response();
        };
        usage.add(&u);
        outputs.push(out);
    }
    let body = format.full(&outputs, usage);
    guard.complete();
    json_response(body)
}

async fn collect(job: Job) -> Option<(SeqOutput, Usage)> {
    let Job { mut ticket, plan } = job;
    let cached = ticket.start().await?;
    let mut words = OutputText::new(plan.text_seed);
    let mut text = String::with_capacity(plan.output_len as usize * 4);
    while ticket.next_token().await {
        text.push_str(words.next_token());
    }
    let usage = usage_of(&ticket, cached);
    ticket.finish(plan.finish);
    Some((
        SeqOutput {
            text,
            finish: plan.finish,
        },
        usage,
    ))
}

fn usage_of(ticket: &Ticket, cached: usize) -> Usage {
    Usage::generation(
        ticket.prompt_len() as u64,
        u64::from(ticket.produced()),
        cached as u64,
    )
}

/// Why a stream ended early.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StreamEnd {
    /// The client went away (body dropped).
    Closed,
    /// The `AbortStreamAfter` fault fired.
    Aborted,
}

/// The sending side of a stream, shared by the choices' futures.
struct Out {
    tx: mpsc::Sender<StreamItem>,
    sent: AtomicU32,
    abort_after: Option<u32>,
}

impl Out {
    /// Sends one event, unless the fault says the stream ends here.
    async fn send(&self, event: Bytes) -> Result<(), StreamEnd> {
        if let Some(limit) = self.abort_after
            && self.sent.load(Ordering::Relaxed) >= limit
        {
            return Err(StreamEnd::Aborted);
        }
        self.tx
            .send(Ok(event))
            .await
            .map_err(|_| StreamEnd::Closed)?;
        self.sent.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Runs `fut` unless the client goes away first.
    async fn unless_closed<F: Future>(&self, fut: F) -> Result<F::Output, StreamEnd> {
        tokio::select! {
            biased;
            () = self.tx.closed() => Err(StreamEnd::Closed),
            v = fut => Ok(v),
        }
    }
}

fn stream(
    guard: RequestGuard,
    format: Arc<dyn Format>,
    jobs: Vec<Job>,
    include_usage: bool,
    abort_after: Option<u32>,
) -> Response<SimBody> {
    let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
    let (delivered_tx, delivered_rx) = oneshot::channel();
    let out = Out {
        tx,
        sent: AtomicU32::new(0),
        abort_after,
    };
    tokio::spawn(async move {
        let ended = run_stream(&out, format.as_ref(), jobs, include_usage).await;
        match ended {
            // The client left: dropping the guard counts the cancellation.
            Err(StreamEnd::Closed) => drop(guard),
            Err(StreamEnd::Aborted) => {
                let _ = out.tx.send(Err(StreamAborted)).await;
                guard.fail();
            }
            Ok(()) => {
                drop(out);
                // Complete only once hyper has taken the whole body.
                if delivered_rx.await.is_ok() {
                    guard.complete();
                }
            }
        }
    });
    let mut resp = Response::new(SimBody::channel(rx, delivered_tx));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(sse::CONTENT_TYPE),
    );
    resp
}

async fn run_stream(
    out: &Out,
    format: &dyn Format,
    jobs: Vec<Job>,
    include_usage: bool,
) -> Result<(), StreamEnd> {
    let choices = jobs
        .into_iter()
        .zip(0u32..)
        .map(|(job, index)| stream_choice(out, format, index, job));
    let usages = try_join_all(choices).await?;
    if include_usage {
        let mut total = Usage::generation(0, 0, 0);
        usages.iter().for_each(|u| total.add(u));
        out.send(format.usage(total)).await?;
    }
    out.send(Bytes::from_static(sse::DONE)).await
}

async fn stream_choice(
    out: &Out,
    format: &dyn Format,
    index: u32,
    job: Job,
) -> Result<Usage, StreamEnd> {
    let Job { mut ticket, plan } = job;
    let cached = out
        .unless_closed(ticket.start())
        .await?
        .ok_or(StreamEnd::Closed)?;
    let mut words = OutputText::new(plan.text_seed);
    while out.unless_closed(ticket.next_token()).await? {
        if ticket.produced() == 1
            && let Some(event) = format.opening(index)
        {
            out.send(event).await?;
        }
        let finish = (ticket.produced() == plan.output_len).then_some(plan.finish);
        out.send(format.token(index, words.next_token(), finish))
            .await?;
    }
    let usage = usage_of(&ticket, cached);
    ticket.finish(plan.finish);
    Ok(usage)
}

/// A 200 JSON response.
pub(crate) fn json_response(body: impl Into<Bytes>) -> Response<SimBody> {
    let mut resp = Response::new(SimBody::full(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}
