//! OpenAI completions and chat completions served by a Triton model through
//! its generate extension (`/v2/models/M/generate_stream`), as TensorRT-LLM
//! and vLLM models on Triton are. The router always calls generate_stream
//! (it works for decoupled and plain models alike), translates each of its
//! SSE events into an OpenAI chunk as it arrives, or gathers them into one
//! OpenAI response when the client did not ask to stream.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{HeaderMap, Method, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use serde_json::{Map, Value, json};

use super::errors::{ApiError, sse_error_event};
use super::request_fields::OpenAiOperation;
use super::{ResponseBody, forward_logged};
use crate::app::App;
use crate::config::GenerateConfig;
use crate::models::ModelRoute;
use crate::proxy::{BoxError, BreakStyle, ForwardRequest, ModelName, ProxyBody, Wire};
use crate::tokenizer::ChatRequest;
use crate::tokenizer::chat_template::ChatTemplate;

/// A model's generate mapping, with its chat template compiled once.
pub struct GenerateRoute {
    pub config: GenerateConfig,
    pub template: Option<ChatTemplate>,
}

impl GenerateRoute {
    pub fn new(config: GenerateConfig) -> Result<Self, String> {
        let template = match &config.chat_template {
            Some(path) => {
                let source = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                Some(ChatTemplate::new(source, None, None).map_err(|e| e.to_string())?)
            }
            None => None,
        };
        Ok(Self { config, template })
    }

    /// The generate request body for an OpenAI request body.
    fn request_body(
        &self,
        operation: OpenAiOperation,
        body: &[u8],
        stream: bool,
    ) -> Result<(Bytes, Option<u64>), ApiError> {
        let request: Map<String, Value> = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("The body is not a JSON object: {e}")))?;
        let prompt = match operation {
            OpenAiOperation::Completions => completion_prompt(&request)?,
            OpenAiOperation::ChatCompletions => self.chat_prompt(body)?,
            OpenAiOperation::Embeddings => {
                return Err(ApiError::bad_request(
                    "This model serves text generation (Triton generate); it has no embeddings.",
                ));
            }
        };
        let c = &self.config;
        let mut out = c.parameters.clone();
        out.insert(c.text_input.clone(), Value::String(prompt));
        for (openai, field) in &c.fields {
            if let Some(value) = request.get(openai).filter(|v| !v.is_null()) {
                out.insert(field.clone(), value.clone());
            }
        }
        if !c.stream_input.is_empty() {
            out.insert(c.stream_input.clone(), Value::Bool(stream));
        }
        let max_tokens = request
            .get("max_tokens")
            .or_else(|| request.get("max_completion_tokens"))
            .and_then(Value::as_u64);
        let bytes = serde_json::to_vec(&Value::Object(out))
            .map_err(|e| ApiError::bad_request(e.to_string()))?;
        Ok((Bytes::from(bytes), max_tokens))
    }

    fn chat_prompt(&self, body: &[u8]) -> Result<String, ApiError> {
        let chat: ChatRequest<'_> = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("Invalid chat request: {e}")))?;
        if let Some(template) = &self.template {
            return template.render(&chat).ok_or_else(|| {
                ApiError::bad_request("The model's chat template rejected these messages.")
            });
        }
        let messages: Vec<Value> = serde_json::from_str(chat.messages.get())
            .map_err(|e| ApiError::bad_request(format!("`messages` must be an array: {e}")))?;
        let mut prompt = String::new();
        for message in &messages {
            let role = message
                .get("role")
                .and_then(Value::as_str)
                .unwrap_or("user");
            prompt.push_str(role);
            prompt.push_str(": ");
            prompt.push_str(&content_text(message.get("content")));
            prompt.push('\n');
        }
        prompt.push_str("assistant:");
        Ok(prompt)
    }
}

fn completion_prompt(request: &Map<String, Value>) -> Result<String, ApiError> {
    match request.get("prompt") {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Array(items)) if items.len() == 1 && items[0].is_string() => {
            Ok(items[0].as_str().unwrap_or_default().to_owned())
        }
        _ => Err(ApiError::missing_field(
            "prompt",
            "This model takes one text `prompt` per request (Triton generate).",
        )),
    }
}

/// A message's text: a string, or the text parts of a content array.
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn proxy(
    app: &App,
    route: &Arc<ModelRoute>,
    generate: &GenerateRoute,
    operation: OpenAiOperation,
    body: &[u8],
    stream: bool,
    headers: HeaderMap,
    request_id: &HeaderValue,
    received_at: Instant,
) -> Response<ResponseBody> {
    let (upstream_body, max_tokens) = match generate.request_body(operation, body, stream) {
        Ok(b) => b,
        Err(error) => return error.into_response(),
    };
    const PREFIX: &str = "/v2/models/";
    let path = format!("{PREFIX}{}/generate_stream", route.name);
    let mut headers = headers;
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let forwarded = ForwardRequest {
        route,
        method: Method::POST,
        path_and_query: &path,
        headers,
        body: upstream_body,
        model_name: ModelName::Path(PREFIX.len()..PREFIX.len() + route.name.len()),
        stream: true,
        received_at,
        wire: Wire::Http,
        on_break: BreakStyle::Cut,
    };
    let response = forward_logged(
        app,
        forwarded,
        request_id,
        "openai-generate",
        ApiError::into_response,
    )
    .await;
    let (mut head, body) = response.into_parts();
    let ResponseBody::Proxy(upstream) = body else {
        // The router's own error, already in OpenAI's shape.
        return Response::from_parts(head, body);
    };
    if !head.status.is_success() {
        return upstream_error(head.status, upstream).await;
    }
    let translator = Translator::new(
        operation,
        &route.name,
        &generate.config.text_output,
        max_tokens,
    );
    head.headers.remove(http::header::CONTENT_LENGTH);
    if stream {
        head.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        let body = TranslatedStream {
            upstream,
            translator,
            buffer: BytesMut::new(),
            out: VecDeque::new(),
            done: false,
        };
        Response::from_parts(head, ResponseBody::Translated(body.boxed_unsync()))
    } else {
        head.headers
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        match gather(upstream, translator).await {
            Ok(json) => Response::from_parts(head, ResponseBody::full(json.to_string())),
            Err(message) => ApiError::bad_gateway(message).into_response(),
        }
    }
}

/// Triton's `{"error": "..."}` as an OpenAI error with the same status.
async fn upstream_error(status: StatusCode, upstream: ProxyBody) -> Response<ResponseBody> {
    let bytes = upstream
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let message = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
    let mut error = if status.is_client_error() {
        ApiError::bad_request(message)
    } else {
        ApiError::bad_gateway(message)
    };
    error.status = status;
    error.into_response()
}

/// Turns generate_stream events into OpenAI objects.
struct Translator {
    chat: bool,
    id: String,
    model: String,
    created: u64,
    text_output: String,
    max_tokens: Option<u64>,
    events: u64,
    finish_reason: Option<String>,
}

impl Translator {
    fn new(
        operation: OpenAiOperation,
        model: &str,
        text_output: &str,
        max_tokens: Option<u64>,
    ) -> Self {
        let chat = operation == OpenAiOperation::ChatCompletions;
        let prefix = if chat { "chatcmpl" } else { "cmpl" };
        Self {
            chat,
            id: format!("{prefix}-{}", uuid::Uuid::new_v4().simple()),
            model: model.to_owned(),
            created: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            text_output: text_output.to_owned(),
            max_tokens,
            events: 0,
            finish_reason: None,
        }
    }

    /// The text of one event, or Triton's error message.
    fn text_of(&mut self, event: &Value) -> Result<String, String> {
        if let Some(error) = event.get("error") {
            return Err(error
                .as_str()
                .map_or_else(|| error.to_string(), str::to_owned));
        }
        self.events += 1;
        if let Some(reason) = event.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_owned());
        }
        Ok(match event.get(&self.text_output) {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => String::new(),
        })
    }

    /// Generate reports no finish reason of its own: `length` when the model
    /// produced `max_tokens` responses, else `stop`, unless an event said.
    fn finish_reason(&self) -> String {
        self.finish_reason.clone().unwrap_or_else(|| {
            if self.max_tokens.is_some_and(|m| self.events >= m) {
                "length".into()
            } else {
                "stop".into()
            }
        })
    }

    fn chunk(&self, text: Option<&str>, finish_reason: Option<String>) -> Value {
        let choice = if self.chat {
            let mut delta = Map::new();
            if self.events <= 1 && finish_reason.is_none() {
                delta.insert("role".into(), "assistant".into());
            }
            if let Some(text) = text {
                delta.insert("content".into(), text.into());
            }
            json!({ "index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": null })
        } else {
            json!({ "index": 0, "text": text.unwrap_or(""), "finish_reason": finish_reason, "logprobs": null })
        };
        json!({
            "id": self.id,
            "object": if self.chat { "chat.completion.chunk" } else { "text_completion" },
            "created": self.created,
            "model": self.model,
            "choices": [choice],
        })
    }

    fn whole(&self, text: String) -> Value {
        let finish_reason = self.finish_reason();
        let choice = if self.chat {
            json!({ "index": 0, "message": { "role": "assistant", "content": text }, "finish_reason": finish_reason, "logprobs": null })
        } else {
            json!({ "index": 0, "text": text, "finish_reason": finish_reason, "logprobs": null })
        };
        json!({
            "id": self.id,
            "object": if self.chat { "chat.completion" } else { "text_completion" },
            "created": self.created,
            "model": self.model,
            "choices": [choice],
        })
    }
}

/// The `data:` payloads of the complete SSE events at the front of `buffer`.
fn take_events(buffer: &mut BytesMut) -> Vec<Value> {
    let mut events = Vec::new();
    while let Some(end) = find_event_end(buffer) {
        let event = buffer.split_to(end.0 + end.1);
        let text = String::from_utf8_lossy(&event[..end.0]);
        let data: String = text
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim_start)
            .collect::<Vec<_>>()
            .join("\n");
        if data.is_empty() || data == "[DONE]" {
            continue;
        }
        match serde_json::from_str(&data) {
            Ok(value) => events.push(value),
            Err(e) => events.push(json!({ "error": format!("unreadable generate event: {e}") })),
        }
    }
    events
}

/// (position, separator length) of the first blank line.
fn find_event_end(buffer: &[u8]) -> Option<(usize, usize)> {
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2));
    let crlf = buffer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

async fn gather(mut upstream: ProxyBody, mut translator: Translator) -> Result<Value, String> {
    let mut buffer = BytesMut::new();
    let mut text = String::new();
    while let Some(frame) = upstream.frame().await {
        let frame = frame.map_err(|e| format!("The upstream stream broke: {e}"))?;
        if let Ok(data) = frame.into_data() {
            buffer.extend_from_slice(&data);
            for event in take_events(&mut buffer) {
                text.push_str(&translator.text_of(&event)?);
            }
        }
    }
    Ok(translator.whole(text))
}

/// The upstream's generate_stream events, re-emitted as OpenAI SSE chunks.
struct TranslatedStream {
    upstream: ProxyBody,
    translator: Translator,
    buffer: BytesMut,
    out: VecDeque<Bytes>,
    done: bool,
}

fn sse(value: &Value) -> Bytes {
    Bytes::from(format!("data: {value}\n\n"))
}

impl Body for TranslatedStream {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if let Some(bytes) = this.out.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(bytes))));
            }
            if this.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.upstream).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    this.buffer.extend_from_slice(&data);
                    for event in take_events(&mut this.buffer) {
                        match this.translator.text_of(&event) {
                            Ok(text) => {
                                let chunk = this.translator.chunk(Some(&text), None);
                                this.out.push_back(sse(&chunk));
                            }
                            Err(message) => {
                                this.out.push_back(sse_error_event(&message));
                                this.done = true;
                                break;
                            }
                        }
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.out
                        .push_back(sse_error_event(&format!("The upstream stream broke: {e}")));
                    this.done = true;
                }
                Poll::Ready(None) => {
                    let reason = this.translator.finish_reason();
                    let last = this.translator.chunk(None, Some(reason));
                    this.out.push_back(sse(&last));
                    this.out.push_back(Bytes::from_static(b"data: [DONE]\n\n"));
                    this.done = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route() -> GenerateRoute {
        GenerateRoute::new(GenerateConfig::default()).unwrap()
    }

    #[test]
    fn completion_becomes_a_generate_request() {
        let body =
            br#"{"model":"gen","prompt":"hello","max_tokens":4,"temperature":0.5,"user":"u"}"#;
        let (out, max) = route()
            .request_body(OpenAiOperation::Completions, body, true)
            .unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            out,
            json!({"text_input": "hello", "max_tokens": 4, "temperature": 0.5, "stream": true})
        );
        assert_eq!(max, Some(4));
    }

    #[test]
    fn chat_without_a_template_uses_role_lines() {
        let body = br#"{"model":"gen","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi"}]}]}"#;
        let (out, _) = route()
            .request_body(OpenAiOperation::ChatCompletions, body, false)
            .unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(out["text_input"], "system: be brief\nuser: hi\nassistant:");
        assert_eq!(out["stream"], false);
    }

    #[test]
    fn several_prompts_and_embeddings_are_refused() {
        let r = route();
        let many = br#"{"model":"gen","prompt":["a","b"]}"#;
        assert_eq!(
            r.request_body(OpenAiOperation::Completions, many, false)
                .unwrap_err()
                .status,
            StatusCode::BAD_REQUEST
        );
        let embed = br#"{"model":"gen","input":"a"}"#;
        assert!(
            r.request_body(OpenAiOperation::Embeddings, embed, false)
                .is_err()
        );
    }

    #[test]
    fn events_split_across_reads_are_joined() {
        let mut buffer = BytesMut::from(&b"data: {\"text_output\": \" w1\"}\n\ndata: {\"text_"[..]);
        let first = take_events(&mut buffer);
        assert_eq!(first, vec![json!({"text_output": " w1"})]);
        buffer.extend_from_slice(b"output\": \" w2\"}\r\n\r\n");
        assert_eq!(
            take_events(&mut buffer),
            vec![json!({"text_output": " w2"})]
        );
        assert!(buffer.is_empty());
    }

    #[test]
    fn chunks_and_finish_reasons() {
        let mut t = Translator::new(
            OpenAiOperation::ChatCompletions,
            "gen",
            "text_output",
            Some(2),
        );
        let a = t.text_of(&json!({"text_output": " a"})).unwrap();
        let first = t.chunk(Some(&a), None);
        assert_eq!(
            first["choices"][0]["delta"],
            json!({"role": "assistant", "content": " a"})
        );
        assert_eq!(first["object"], "chat.completion.chunk");
        t.text_of(&json!({"text_output": " b"})).unwrap();
        assert_eq!(t.finish_reason(), "length", "max_tokens responses");
        assert!(t.text_of(&json!({"error": "boom"})).is_err());
        let mut c = Translator::new(OpenAiOperation::Completions, "gen", "text_output", Some(9));
        c.text_of(&json!({"text_output": "x"})).unwrap();
        assert_eq!(c.finish_reason(), "stop");
        assert_eq!(c.whole("x".into())["choices"][0]["text"], "x");
    }
}
