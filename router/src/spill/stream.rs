//! A provider's streamed answer on its way to the client, event by event:
//! OpenAI and Azure streams pass through as they are (less the usage chunk
//! the router asked for itself), Anthropic streams are translated into
//! OpenAI chunks. The usage seen settles the spend when the stream ends,
//! or when the client leaves.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http_body::Frame;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Incoming;
use serde_json::Value;
use switchyard_backends::providers::anthropic::{self, StreamTranslator};

use super::budget::{Reservation, cost};
use super::provider::Provider;
use crate::config::Price;
use crate::front::errors::sse_error_event;
use crate::models::ModelRoute;
use crate::proxy::BoxError;
use switchyard_backends::providers::Usage;

/// Tokens the providers reported, by `provider` and `kind` (`input`, `output`).
pub const PROVIDER_TOKENS: &str = "switchyard_provider_tokens_total";

/// Settles a spilled request's spend once: with the usage the provider
/// reported, or, when none arrived (the client left, the stream broke),
/// with the estimate held, so that a budget is never overspent.
pub struct Settlement {
    pub reservation: Option<Reservation>,
    pub price: Price,
    pub provider: Arc<Provider>,
    pub route: Arc<ModelRoute>,
    pub received_at: Instant,
    pub usage: Option<Usage>,
    pub estimate_usd: f64,
}

impl Drop for Settlement {
    fn drop(&mut self) {
        let cost = match self.usage {
            Some(usage) => {
                let provider = self.provider.name.to_string();
                metrics::counter!(PROVIDER_TOKENS, "provider" => provider.clone(), "kind" => "input")
                    .increment(usage.prompt_tokens);
                metrics::counter!(PROVIDER_TOKENS, "provider" => provider, "kind" => "output")
                    .increment(usage.completion_tokens);
                cost(&usage, &self.price)
            }
            None => self.estimate_usd,
        };
        if let Some(reservation) = self.reservation.take() {
            reservation.settle(cost);
        }
        self.route
            .request_duration
            .record(self.received_at.elapsed().as_secs_f64());
    }
}

pub enum Format {
    /// OpenAI's own chunks (OpenAI, Azure).
    OpenAi {
        strip_usage_chunk: bool,
    },
    Anthropic(Box<StreamTranslator>),
}

struct State {
    upstream: Incoming,
    buffer: BytesMut,
    format: Format,
    out: VecDeque<Bytes>,
    settlement: Settlement,
    deadline: tokio::time::Instant,
    saw_done: bool,
    first_byte: bool,
    ended: bool,
}

/// The client's body for a streamed provider answer.
pub fn body(
    upstream: Incoming,
    format: Format,
    settlement: Settlement,
    deadline: tokio::time::Instant,
) -> UnsyncBoxBody<Bytes, BoxError> {
    let state = State {
        upstream,
        buffer: BytesMut::new(),
        format,
        out: VecDeque::new(),
        settlement,
        deadline,
        saw_done: false,
        first_byte: false,
        ended: false,
    };
    let stream = futures_util::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(bytes) = state.out.pop_front() {
                if !state.first_byte {
                    state.first_byte = true;
                    state
                        .settlement
                        .route
                        .time_to_first_byte
                        .record(state.settlement.received_at.elapsed().as_secs_f64());
                }
                return Some((Ok::<_, BoxError>(Frame::data(bytes)), state));
            }
            if state.ended {
                return None;
            }
            state.pull().await;
        }
    });
    StreamBody::new(stream).boxed_unsync()
}

impl State {
    async fn pull(&mut self) {
        let frame = tokio::time::timeout_at(self.deadline, self.upstream.frame()).await;
        match frame {
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    self.buffer.extend_from_slice(&data);
                    while let Some(event) = next_event(&mut self.buffer) {
                        self.event(event);
                        if self.ended {
                            return;
                        }
                    }
                }
            }
            Ok(Some(Err(error))) => {
                self.fail(&format!("The provider's stream broke: {error}"));
            }
            Ok(None) => {
                if !self.buffer.is_empty() {
                    let rest = self.buffer.split().freeze();
                    self.event(rest);
                }
                self.finish();
            }
            Err(_) => self.fail("The request's total timeout expired while the provider streamed."),
        }
    }

    fn event(&mut self, event: Bytes) {
        let text = String::from_utf8_lossy(&event);
        let mut name = "";
        let mut data = String::new();
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("event:") {
                name = v.trim();
            } else if let Some(v) = line.strip_prefix("data:") {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        match &mut self.format {
            Format::OpenAi { strip_usage_chunk } => {
                if data == "[DONE]" {
                    self.saw_done = true;
                } else if data.contains("\"usage\"")
                    && let Ok(chunk) = serde_json::from_str::<Value>(&data)
                {
                    let usage = chunk.get("usage").and_then(Usage::from_openai);
                    if usage.is_some() {
                        self.settlement.usage = usage;
                    }
                    // Only the usage chunk: Azure's first chunk also has no
                    // choices (its prompt filter results), and stays.
                    let usage_only = usage.is_some()
                        && chunk
                            .get("choices")
                            .and_then(Value::as_array)
                            .is_some_and(Vec::is_empty);
                    if *strip_usage_chunk && usage_only {
                        return;
                    }
                }
                let mut out = BytesMut::with_capacity(event.len() + 2);
                out.extend_from_slice(&event);
                out.extend_from_slice(b"\n\n");
                self.out.push_back(out.freeze());
            }
            Format::Anthropic(translator) => {
                if data.is_empty() {
                    return;
                }
                let result = translator.event(name, &data);
                let usage = translator.usage();
                if usage != Usage::default() {
                    self.settlement.usage = Some(usage);
                }
                match result {
                    Ok(chunks) => {
                        for chunk in chunks {
                            self.out
                                .push_back(Bytes::from(format!("data: {chunk}\n\n")));
                        }
                    }
                    Err(anthropic::TranslateError::Upstream { body, .. }) => {
                        self.out.push_back(Bytes::from(format!("data: {body}\n\n")));
                        self.ended = true;
                    }
                    Err(error) => {
                        self.fail(&format!(
                            "The provider's stream could not be translated: {error}"
                        ));
                    }
                }
            }
        }
    }

    fn finish(&mut self) {
        match &self.format {
            Format::OpenAi { .. } if !self.saw_done => {
                self.fail("The provider's stream ended before [DONE].");
                return;
            }
            Format::Anthropic(translator) if translator.finished() => {
                self.out.push_back(Bytes::from_static(b"data: [DONE]\n\n"));
            }
            Format::Anthropic(_) => {
                self.fail("The provider's stream ended before message_stop.");
                return;
            }
            Format::OpenAi { .. } => {}
        }
        self.ended = true;
    }

    fn fail(&mut self, message: &str) {
        self.out.push_back(sse_error_event(message));
        self.ended = true;
    }
}

/// Takes one complete SSE event (without its blank-line terminator) off the
/// front of `buffer`. Carriage returns are dropped first.
fn next_event(buffer: &mut BytesMut) -> Option<Bytes> {
    if buffer.contains(&b'\r') {
        let cleaned: Vec<u8> = buffer.iter().copied().filter(|b| *b != b'\r').collect();
        buffer.clear();
        buffer.extend_from_slice(&cleaned);
    }
    let end = buffer.windows(2).position(|w| w == b"\n\n")?;
    let event = buffer.split_to(end).freeze();
    let _ = buffer.split_to(2);
    Some(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_on_blank_lines() {
        let mut buffer = BytesMut::from(&b"data: a\n\ndata: b\r\n\r\ndata: c"[..]);
        assert_eq!(next_event(&mut buffer).as_deref(), Some(&b"data: a"[..]));
        assert_eq!(next_event(&mut buffer).as_deref(), Some(&b"data: b"[..]));
        assert_eq!(next_event(&mut buffer), None);
        assert_eq!(&buffer[..], b"data: c");
    }
}
