//! Anthropic Message object -> OpenAI `chat.completion` object.

use serde_json::{Value, json};

use super::messages::invalid;
use super::{AnthropicUsage, TranslateError, Usage, completion_id, finish_reason};

/// Anthropic Message object (non-streamed response) -> OpenAI `chat.completion` object.
/// `model` is the model name the client asked for (echoed back), `created` unix seconds.
///
/// Text blocks are concatenated into `message.content`; `tool_use` blocks become
/// `message.tool_calls`; thinking and server-tool blocks are dropped (OpenAI's chat
/// format has no place for them).
///
/// # Errors
/// [`TranslateError::Invalid`] when `message` is not an Anthropic Message object.
pub fn chat_completion(
    message: &Value,
    model: &str,
    created: u64,
) -> Result<(Value, Usage), TranslateError> {
    let id = message
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("Anthropic message has no string `id`"))?;
    let blocks = message
        .get("content")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("Anthropic message has no `content` array"))?;

    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => {
                text.push_str(
                    block
                        .get("text")
                        .and_then(Value::as_str)
                        .ok_or_else(|| invalid("text block without `text`"))?,
                );
            }
            Some("tool_use") => tool_calls.push(tool_call(block)?),
            Some(other) => tracing::debug!(block = other, "dropping Anthropic content block"),
            None => return Err(invalid("content block without `type`")),
        }
    }

    let content = if text.is_empty() && !tool_calls.is_empty() {
        Value::Null
    } else {
        Value::String(text)
    };
    let mut msg = json!({"role": "assistant", "content": content, "refusal": null});
    if !tool_calls.is_empty()
        && let Some(obj) = msg.as_object_mut()
    {
        obj.insert("tool_calls".into(), tool_calls.into());
    }
    let usage = AnthropicUsage::parse(message.get("usage")).to_usage();
    let finish = finish_reason(message.get("stop_reason").and_then(Value::as_str));
    let completion = json!({
        "id": completion_id(id),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": msg,
            "logprobs": null,
            "finish_reason": finish,
        }],
        "usage": usage.to_openai(),
    });
    Ok((completion, usage))
}

/// A `tool_use` block -> an OpenAI tool call.
fn tool_call(block: &Value) -> Result<Value, TranslateError> {
    let id = block
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("tool_use block without `id`"))?;
    let name = block
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("tool_use block without `name`"))?;
    let input = block.get("input").unwrap_or(&Value::Null);
    let arguments = if input.is_null() {
        "{}".to_owned()
    } else {
        input.to_string()
    };
    Ok(json!({
        "id": id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }))
}
