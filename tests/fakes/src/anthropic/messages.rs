//! Validation of the Messages API `messages` list: roles (`user` and
//! `assistant` only), non-empty content, and that tool results answer the
//! `tool_use` blocks of the message right before them (and every tool use
//! is answered by the next message).

use serde_json::Value;

use super::blocks::{allow, block};
use super::errors::{AntError, required, should_be};

/// What the reply needs from the messages.
pub(crate) struct MessagesInfo {
    pub chars: usize,
    pub last_role: String,
    /// The last message carries `tool_result` blocks.
    pub last_has_tool_result: bool,
}

/// One message, checked.
struct Checked {
    role: String,
    tool_uses: Vec<String>,
    /// (block index, tool_use_id) of each tool result.
    tool_results: Vec<(usize, String)>,
}

pub(crate) fn validate(v: Option<&Value>) -> Result<MessagesInfo, AntError> {
    let list = match v {
        None => return Err(required("messages")),
        Some(Value::Array(l)) => l,
        Some(_) => return Err(should_be("messages", "a valid list")),
    };
    if list.is_empty() {
        return Err(AntError::invalid(
            "messages: at least one message is required",
        ));
    }
    let mut chars = 0;
    let mut checked = Vec::with_capacity(list.len());
    for (i, m) in list.iter().enumerate() {
        let last = i + 1 == list.len();
        let (c, n) = message(m, i, last)?;
        chars += n;
        checked.push(c);
    }
    pair_tools(&checked)?;
    let last = checked.last();
    Ok(MessagesInfo {
        chars,
        last_role: last.map(|c| c.role.clone()).unwrap_or_default(),
        last_has_tool_result: last.is_some_and(|c| !c.tool_results.is_empty()),
    })
}

fn message(m: &Value, i: usize, last: bool) -> Result<(Checked, usize), AntError> {
    let loc = format!("messages.{i}");
    let obj = m
        .as_object()
        .ok_or_else(|| should_be(&loc, "a valid dictionary"))?;
    let role = match obj.get("role") {
        None => return Err(required(&format!("{loc}.role"))),
        Some(Value::String(r)) if r == "user" || r == "assistant" => r.as_str(),
        Some(Value::String(r)) if r == "system" => {
            return Err(AntError::invalid(
                "messages: Unexpected role \"system\". The Messages API accepts a top-level `system` parameter, not \"system\" as an input message role.",
            ));
        }
        Some(_) => return Err(should_be(&format!("{loc}.role"), "'user' or 'assistant'")),
    };
    allow(obj, &loc, &["role", "content"])?;
    let final_assistant = last && role == "assistant";
    let empty = || {
        AntError::invalid(format!(
            "{loc}: all messages must have non-empty content except for the optional final assistant message"
        ))
    };
    let mut checked = Checked {
        role: role.to_owned(),
        tool_uses: Vec::new(),
        tool_results: Vec::new(),
    };
    let mut texts: Vec<String> = Vec::new();
    let mut chars = 0;
    match obj.get("content") {
        None => return Err(required(&format!("{loc}.content"))),
        Some(Value::String(s)) => {
            if s.is_empty() && !final_assistant {
                return Err(empty());
            }
            chars = s.chars().count();
            texts.push(s.clone());
        }
        Some(Value::Array(blocks)) => {
            if blocks.is_empty() && !final_assistant {
                return Err(empty());
            }
            for (j, b) in blocks.iter().enumerate() {
                let info = block(b, &format!("{loc}.content.{j}"))?;
                chars += info.chars;
                if let Some(t) = info.text {
                    if t.is_empty() {
                        return Err(AntError::invalid(
                            "messages: text content blocks must be non-empty",
                        ));
                    }
                    texts.push(t);
                }
                if let Some(id) = info.tool_use_id {
                    checked.tool_uses.push(id);
                }
                if let Some(id) = info.tool_result_id {
                    checked.tool_results.push((j, id));
                }
            }
        }
        Some(_) => return Err(should_be(&format!("{loc}.content"), "a valid string")),
    }
    if texts.iter().any(|t| !t.is_empty() && t.trim().is_empty()) && !final_assistant {
        return Err(AntError::invalid(
            "messages: text content blocks must contain non-whitespace text",
        ));
    }
    if final_assistant
        && texts
            .last()
            .is_some_and(|t| t.ends_with(char::is_whitespace))
    {
        return Err(AntError::invalid(
            "messages: final assistant content cannot end with trailing whitespace",
        ));
    }
    Ok((checked, chars))
}

/// Every tool result answers a tool use of the message right before it,
/// and every tool use is answered by the next message.
fn pair_tools(checked: &[Checked]) -> Result<(), AntError> {
    let mut seen: Vec<&str> = Vec::new();
    for (i, c) in checked.iter().enumerate() {
        for id in &c.tool_uses {
            if seen.contains(&id.as_str()) {
                return Err(AntError::invalid(format!(
                    "messages.{i}: `tool_use` ids must be unique"
                )));
            }
            seen.push(id);
        }
        let previous = i.checked_sub(1).and_then(|p| checked.get(p));
        for (j, id) in &c.tool_results {
            let answered =
                previous.is_some_and(|p| p.role == "assistant" && p.tool_uses.contains(id));
            if !answered {
                return Err(AntError::invalid(format!(
                    "messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {id}. Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
                )));
            }
        }
        if let Some(next) = checked.get(i + 1) {
            let unanswered: Vec<&str> = c
                .tool_uses
                .iter()
                .filter(|id| !next.tool_results.iter().any(|(_, r)| r == *id))
                .map(String::as_str)
                .collect();
            if !unanswered.is_empty() {
                return Err(AntError::invalid(format!(
                    "messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: {}. Each `tool_use` block must have a corresponding `tool_result` block in the next message.",
                    unanswered.join(", ")
                )));
            }
        }
    }
    Ok(())
}
