//! Anthropic streamed events -> OpenAI `chat.completion.chunk` payloads.
//!
//! Anthropic streams `message_start`, then per content block
//! `content_block_start`, `content_block_delta`s and `content_block_stop`,
//! then `message_delta` (stop reason, cumulative usage) and `message_stop`,
//! with `ping`s anywhere. OpenAI streams chunks whose first delta carries the
//! role, then content or tool-call fragments, then one chunk with the
//! `finish_reason` and, if asked, one with `usage` and no choices.

use serde_json::{Value, json};

use super::error::stream_error;
use super::messages::invalid;
use super::{AnthropicUsage, TranslateError, Usage, completion_id, finish_reason};

/// Anthropic streamed events -> OpenAI `chat.completion.chunk` payloads.
#[derive(Debug)]
pub struct StreamTranslator {
    model: String,
    created: u64,
    include_usage: bool,
    /// The OpenAI id, known from `message_start`.
    id: String,
    /// The role chunk has been sent.
    started: bool,
    /// OpenAI tool-call index for each Anthropic block index that is a tool_use.
    tool_blocks: Vec<(u64, usize)>,
    /// The chunk with `finish_reason` has been sent.
    finish_sent: bool,
    /// `message_stop` was seen.
    finished: bool,
    usage: AnthropicUsage,
}

impl StreamTranslator {
    /// `include_usage`: the client asked for `stream_options.include_usage`; then a final
    /// chunk with empty `choices` and `usage` is emitted before the end, as OpenAI does.
    pub fn new(model: &str, created: u64, include_usage: bool) -> Self {
        Self {
            model: model.to_owned(),
            created,
            include_usage,
            id: String::new(),
            started: false,
            tool_blocks: Vec::new(),
            finish_sent: false,
            finished: false,
            usage: AnthropicUsage::default(),
        }
    }

    /// One Anthropic SSE event: its `event:` name and its `data:` JSON text. Returns the
    /// OpenAI chunks to send, each a JSON text to be framed as `data: <json>\n\n` by the
    /// caller (who also sends `data: [DONE]` at the end).
    ///
    /// An empty `event` name falls back to the data's `type`. `ping` and unknown events
    /// give no chunks.
    ///
    /// # Errors
    /// [`TranslateError::Upstream`] for an Anthropic `error` event (carrying the OpenAI
    /// error object to send), [`TranslateError::Invalid`] for data that is not the JSON
    /// its event requires.
    pub fn event(&mut self, event: &str, data: &str) -> Result<Vec<String>, TranslateError> {
        let known = [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop",
            "error",
        ];
        if !event.is_empty() && !known.contains(&event) {
            // ping, and event types Anthropic may add later.
            return Ok(Vec::new());
        }
        let data: Value = match serde_json::from_str(data) {
            Ok(data) => data,
            // An error is an error even when its details are unreadable.
            Err(_) if event == "error" => Value::Null,
            Err(e) => {
                return Err(invalid(format!(
                    "Anthropic `{event}` event data is not JSON: {e}"
                )));
            }
        };
        let event = if event.is_empty() {
            data.get("type").and_then(Value::as_str).unwrap_or_default()
        } else {
            event
        };
        let mut out = Vec::new();
        match event {
            "message_start" => self.message_start(&data, &mut out),
            "content_block_start" => self.block_start(&data, &mut out)?,
            "content_block_delta" => self.block_delta(&data, &mut out)?,
            "message_delta" => self.message_delta(&data, &mut out),
            "message_stop" => self.message_stop(&mut out),
            "error" => {
                let (status, body) = stream_error(&data);
                return Err(TranslateError::Upstream { status, body });
            }
            // content_block_stop: OpenAI has no block boundaries; the rest
            // arrive here only through an unknown data `type`.
            _ => {}
        }
        Ok(out)
    }

    /// Whether `message_stop` was seen (the stream ended properly).
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// Usage so far (input from message_start, output from message_delta).
    pub fn usage(&self) -> Usage {
        self.usage.to_usage()
    }

    fn message_start(&mut self, data: &Value, out: &mut Vec<String>) {
        let message = data.get("message");
        if let Some(id) = message.and_then(|m| m.get("id")).and_then(Value::as_str) {
            self.id = completion_id(id);
        }
        self.usage
            .update(AnthropicUsage::parse(message.and_then(|m| m.get("usage"))));
        self.ensure_started(out);
    }

    fn block_start(&mut self, data: &Value, out: &mut Vec<String>) -> Result<(), TranslateError> {
        let index = block_index(data)?;
        let block = data
            .get("content_block")
            .ok_or_else(|| invalid("content_block_start without `content_block`"))?;
        match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                let text = block.get("text").and_then(Value::as_str).unwrap_or("");
                self.content(text, out);
            }
            Some("tool_use") => {
                let id = block.get("id").and_then(Value::as_str);
                let name = block.get("name").and_then(Value::as_str);
                let (Some(id), Some(name)) = (id, name) else {
                    return Err(invalid("tool_use block start without `id` and `name`"));
                };
                let tool_index = self.tool_blocks.len();
                self.tool_blocks.push((index, tool_index));
                self.ensure_started(out);
                let call = json!({
                    "index": tool_index,
                    "id": id,
                    "type": "function",
                    "function": {"name": name, "arguments": ""},
                });
                out.push(self.chunk(json!({"tool_calls": [call]}), None));
            }
            // thinking, redacted_thinking, server tools: no OpenAI equivalent.
            _ => {}
        }
        Ok(())
    }

    fn block_delta(&mut self, data: &Value, out: &mut Vec<String>) -> Result<(), TranslateError> {
        let index = block_index(data)?;
        let delta = data
            .get("delta")
            .ok_or_else(|| invalid("content_block_delta without `delta`"))?;
        match delta.get("type").and_then(Value::as_str) {
            Some("text_delta") => {
                let text = delta.get("text").and_then(Value::as_str).unwrap_or("");
                self.content(text, out);
            }
            Some("input_json_delta") => {
                let partial = delta
                    .get("partial_json")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let tool = self.tool_blocks.iter().find(|(block, _)| *block == index);
                if let Some(&(_, tool_index)) = tool
                    && !partial.is_empty()
                {
                    self.ensure_started(out);
                    let call = json!({"index": tool_index, "function": {"arguments": partial}});
                    out.push(self.chunk(json!({"tool_calls": [call]}), None));
                }
            }
            // thinking_delta, signature_delta, citations_delta, new kinds.
            _ => {}
        }
        Ok(())
    }

    fn message_delta(&mut self, data: &Value, out: &mut Vec<String>) {
        self.usage.update(AnthropicUsage::parse(data.get("usage")));
        let stop = data
            .get("delta")
            .and_then(|d| d.get("stop_reason"))
            .and_then(Value::as_str);
        if let Some(stop) = stop {
            self.finish(finish_reason(Some(stop)), out);
        }
    }

    fn message_stop(&mut self, out: &mut Vec<String>) {
        if self.finished {
            return;
        }
        // A stream always ends with a finish_reason for OpenAI clients.
        self.finish("stop", out);
        self.finished = true;
        if self.include_usage {
            let chunk = json!({
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": self.usage.to_usage().to_openai(),
            });
            out.push(chunk.to_string());
        }
    }

    fn finish(&mut self, reason: &str, out: &mut Vec<String>) {
        if self.finish_sent {
            return;
        }
        self.ensure_started(out);
        self.finish_sent = true;
        out.push(self.chunk(json!({}), Some(reason)));
    }

    fn content(&mut self, text: &str, out: &mut Vec<String>) {
        if text.is_empty() {
            return;
        }
        self.ensure_started(out);
        out.push(self.chunk(json!({"content": text}), None));
    }

    /// The role chunk OpenAI sends first, once, even if `message_start` was lost.
    fn ensure_started(&mut self, out: &mut Vec<String>) {
        if !self.started {
            self.started = true;
            out.push(self.chunk(json!({"role": "assistant", "content": ""}), None));
        }
    }

    fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> String {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{
                "index": 0,
                "delta": delta,
                "logprobs": null,
                "finish_reason": finish_reason,
            }],
        });
        if self.include_usage
            && let Some(obj) = chunk.as_object_mut()
        {
            // OpenAI sends `usage: null` on every chunk but the last.
            obj.insert("usage".into(), Value::Null);
        }
        chunk.to_string()
    }
}

fn block_index(data: &Value) -> Result<u64, TranslateError> {
    data.get("index")
        .and_then(Value::as_u64)
        .ok_or_else(|| invalid("content block event without `index`"))
}
