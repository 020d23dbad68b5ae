//! OpenAI `messages` -> Anthropic `system` and `messages`.

use serde_json::{Map, Value, json};

use super::TranslateError;

/// The conversation in Anthropic's terms.
pub(super) struct Conversation {
    /// System and developer texts, joined with a blank line; `None` if none.
    pub system: Option<String>,
    /// Alternating `{role, content: [blocks]}` messages.
    pub messages: Vec<Value>,
}

/// Media types Anthropic accepts for base64 images.
const IMAGE_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

pub(super) fn convert(messages: &Value) -> Result<Conversation, TranslateError> {
    let list = messages
        .as_array()
        .ok_or_else(|| invalid("`messages` must be an array"))?;
    let mut system: Vec<String> = Vec::new();
    let mut turns: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for (i, message) in list.iter().enumerate() {
        let role = message
            .get("role")
            .and_then(Value::as_str)
            .ok_or_else(|| invalid(format!("messages[{i}] has no string `role`")))?;
        let content = message.get("content").unwrap_or(&Value::Null);
        let (role, blocks) = match role {
            "system" | "developer" => {
                let text = text_only(content, i)?;
                if !text.is_empty() {
                    system.push(text);
                }
                continue;
            }
            "user" => ("user", user_blocks(content, i)?),
            "assistant" => ("assistant", assistant_blocks(message, content, i)?),
            "tool" => ("user", vec![tool_result(message, content, i)?]),
            "function" => return Err(unsupported("legacy `function` role messages")),
            other => return Err(invalid(format!("messages[{i}] has unknown role {other:?}"))),
        };
        if blocks.is_empty() {
            continue;
        }
        // Anthropic wants user/assistant alternation: merge same-role runs
        // (this also puts consecutive tool results into one user message).
        match turns.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(blocks),
            _ => turns.push((role, blocks)),
        }
    }
    match turns.last() {
        None => return Err(unsupported("no user or assistant message")),
        Some(("assistant", _)) => {
            return Err(unsupported(
                "conversation ends with an assistant message (Anthropic would continue it)",
            ));
        }
        Some(_) => {}
    }
    Ok(Conversation {
        system: (!system.is_empty()).then(|| system.join("\n\n")),
        messages: turns
            .into_iter()
            .map(|(role, content)| json!({"role": role, "content": content}))
            .collect(),
    })
}

/// Content made of text only (system, developer, tool): a string or text parts.
fn text_only(content: &Value, i: usize) -> Result<String, TranslateError> {
    match content {
        Value::Null => Ok(String::new()),
        Value::String(s) => Ok(s.clone()),
        Value::Array(parts) => {
            let mut texts = Vec::with_capacity(parts.len());
            for part in parts {
                match part_type(part, i)? {
                    "text" => texts.push(part_text(part, i)?),
                    other => {
                        return Err(invalid(format!(
                            "messages[{i}] may only hold text, not {other:?} parts"
                        )));
                    }
                }
            }
            Ok(texts.concat())
        }
        _ => Err(invalid(format!(
            "messages[{i}].content must be a string or an array"
        ))),
    }
}

fn user_blocks(content: &Value, i: usize) -> Result<Vec<Value>, TranslateError> {
    match content {
        Value::String(s) => Ok(text_block(s).into_iter().collect()),
        Value::Array(parts) => {
            let mut blocks = Vec::with_capacity(parts.len());
            for part in parts {
                match part_type(part, i)? {
                    "text" => blocks.extend(text_block(part_text(part, i)?)),
                    "image_url" => blocks.push(image_block(part, i)?),
                    "input_audio" => return Err(unsupported("audio input")),
                    "file" => return Err(unsupported("file content parts")),
                    other => {
                        return Err(invalid(format!(
                            "messages[{i}] has unknown content part {other:?}"
                        )));
                    }
                }
            }
            Ok(blocks)
        }
        _ => Err(invalid(format!(
            "messages[{i}].content must be a string or an array"
        ))),
    }
}

fn assistant_blocks(
    message: &Value,
    content: &Value,
    i: usize,
) -> Result<Vec<Value>, TranslateError> {
    if message.get("function_call").is_some_and(|v| !v.is_null()) {
        return Err(unsupported("legacy `function_call` in assistant messages"));
    }
    if message.get("audio").is_some_and(|v| !v.is_null()) {
        return Err(unsupported("audio in assistant messages"));
    }
    let mut blocks = Vec::new();
    match content {
        Value::Null => {}
        Value::String(s) => blocks.extend(text_block(s)),
        Value::Array(parts) => {
            for part in parts {
                let text = match part_type(part, i)? {
                    "text" => part_text(part, i)?,
                    "refusal" => part
                        .get("refusal")
                        .and_then(Value::as_str)
                        .ok_or_else(|| invalid(format!("messages[{i}] refusal part has no text")))?
                        .to_owned(),
                    other => {
                        return Err(invalid(format!(
                            "messages[{i}] assistant content part {other:?} is not text"
                        )));
                    }
                };
                blocks.extend(text_block(text));
            }
        }
        _ => {
            return Err(invalid(format!(
                "messages[{i}].content must be a string or an array"
            )));
        }
    }
    match message.get("tool_calls") {
        None | Some(Value::Null) => {}
        Some(Value::Array(calls)) => {
            for call in calls {
                blocks.push(tool_use(call, i)?);
            }
        }
        Some(_) => {
            return Err(invalid(format!(
                "messages[{i}].tool_calls must be an array"
            )));
        }
    }
    Ok(blocks)
}

fn tool_use(call: &Value, i: usize) -> Result<Value, TranslateError> {
    match call.get("type").and_then(Value::as_str) {
        Some("function") | None => {}
        Some(other) => return Err(unsupported(format!("tool calls of type {other:?}"))),
    }
    let id = str_field(call, "id", i)?;
    let function = call
        .get("function")
        .ok_or_else(|| invalid(format!("messages[{i}] tool call has no `function`")))?;
    let name = str_field(function, "name", i)?;
    let arguments = function
        .get("arguments")
        .and_then(Value::as_str)
        .unwrap_or("");
    // Clients send "" for a call without arguments; Anthropic wants an object.
    let input = if arguments.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_str::<Value>(arguments).map_err(|e| {
            invalid(format!(
                "messages[{i}] tool call arguments are not JSON: {e}"
            ))
        })?
    };
    if !input.is_object() {
        return Err(invalid(format!(
            "messages[{i}] tool call arguments are not a JSON object"
        )));
    }
    Ok(json!({"type": "tool_use", "id": id, "name": name, "input": input}))
}

fn tool_result(message: &Value, content: &Value, i: usize) -> Result<Value, TranslateError> {
    let id = str_field(message, "tool_call_id", i)?;
    let text = text_only(content, i)?;
    let mut block = json!({"type": "tool_result", "tool_use_id": id});
    // `content` is optional for Anthropic; an empty one is left out rather
    // than risk an empty text block.
    if !text.is_empty()
        && let Some(obj) = block.as_object_mut()
    {
        let content = if content.is_array() {
            json!([{"type": "text", "text": text}])
        } else {
            Value::String(text)
        };
        obj.insert("content".into(), content);
    }
    Ok(block)
}

fn image_block(part: &Value, i: usize) -> Result<Value, TranslateError> {
    let url = part
        .get("image_url")
        .and_then(|u| u.get("url").or(Some(u)))
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("messages[{i}] image_url part has no url")))?;
    let source = if let Some(rest) = url.strip_prefix("data:") {
        let (media_type, data) = rest
            .split_once(";base64,")
            .ok_or_else(|| invalid(format!("messages[{i}] image data URL is not base64")))?;
        if !IMAGE_TYPES.contains(&media_type) {
            return Err(unsupported(format!("image type {media_type:?}")));
        }
        json!({"type": "base64", "media_type": media_type, "data": data})
    } else if url.starts_with("https://") || url.starts_with("http://") {
        json!({"type": "url", "url": url})
    } else {
        return Err(invalid(format!(
            "messages[{i}] image url must be http(s) or a data URL"
        )));
    };
    Ok(json!({"type": "image", "source": source}))
}

/// A text block, or nothing for empty text (Anthropic rejects empty blocks).
fn text_block(text: impl AsRef<str>) -> Option<Value> {
    let text = text.as_ref();
    (!text.is_empty()).then(|| json!({"type": "text", "text": text}))
}

fn part_type(part: &Value, i: usize) -> Result<&str, TranslateError> {
    part.get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("messages[{i}] has a content part without `type`")))
}

fn part_text(part: &Value, i: usize) -> Result<String, TranslateError> {
    Ok(str_field(part, "text", i)?.to_owned())
}

fn str_field<'a>(value: &'a Value, name: &str, i: usize) -> Result<&'a str, TranslateError> {
    value
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("messages[{i}] needs a string `{name}`")))
}

pub(super) fn invalid(msg: impl Into<String>) -> TranslateError {
    TranslateError::Invalid(msg.into())
}

pub(super) fn unsupported(msg: impl Into<String>) -> TranslateError {
    TranslateError::Unsupported(msg.into())
}
