//! Validation of chat `messages`: roles, content shapes per role, assistant
//! `tool_calls`, and that `tool` messages answer the preceding tool calls.

use serde_json::Value;

use super::check::{Obj, get, non_empty_array};
use super::errors::{OaiError, empty_array, invalid_type, invalid_value, missing};

const ROLES: &[&str] = &[
    "system",
    "assistant",
    "user",
    "function",
    "tool",
    "developer",
];

/// What the reply needs from the messages.
pub(crate) struct MessagesInfo {
    /// Characters of text content (for the prompt-token estimate).
    pub chars: usize,
    /// Role of the last message.
    pub last_role: String,
}

/// Tool calls of the last assistant message still waiting for answers.
struct OpenCalls {
    assistant: usize,
    ids: Vec<String>,
    answered: Vec<bool>,
}

impl OpenCalls {
    fn unanswered(&self) -> Vec<&str> {
        self.ids
            .iter()
            .zip(&self.answered)
            .filter(|(_, a)| !**a)
            .map(|(id, _)| id.as_str())
            .collect()
    }

    /// Fails when some call got no `tool` message.
    fn close(self) -> Result<(), OaiError> {
        let missing = self.unanswered();
        if missing.is_empty() {
            return Ok(());
        }
        Err(OaiError::invalid(
            format!(
                "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
                missing.join(", ")
            ),
            Some(&format!("messages.[{}].role", self.assistant)),
            None,
        ))
    }
}

pub(crate) fn validate(messages: Option<&Value>) -> Result<MessagesInfo, OaiError> {
    let messages = non_empty_array(messages, "messages")?;
    let mut chars = 0;
    let mut open: Option<OpenCalls> = None;
    let mut last_role = String::new();
    for (i, m) in messages.iter().enumerate() {
        let p = format!("messages[{i}]");
        let obj = m
            .as_object()
            .ok_or_else(|| invalid_type(&p, "an object", m))?;
        let role = role(obj, &p)?;
        if role == "tool" {
            let Some(calls) = open.as_mut() else {
                return Err(OaiError::invalid(
                    "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                    Some(&format!("messages.[{i}].role")),
                    None,
                ));
            };
            let id = string(obj, "tool_call_id", &format!("{p}.tool_call_id"))?;
            let Some(k) = calls.ids.iter().position(|c| c == id) else {
                return Err(OaiError::invalid(
                    format!(
                        "Invalid parameter: 'tool_call_id' of '{id}' not found in 'tool_calls' of previous message."
                    ),
                    Some(&format!("messages.[{i}].tool_call_id")),
                    None,
                ));
            };
            calls.answered[k] = true;
        } else if let Some(calls) = open.take() {
            calls.close()?;
        }
        if let Some(v) = get(obj, "name").filter(|v| !v.is_string()) {
            return Err(invalid_type(&format!("{p}.name"), "a string", v));
        }
        let tool_ids = match role {
            "assistant" => tool_calls(obj, &p)?,
            _ => Vec::new(),
        };
        let needs_content =
            !(role == "assistant" && (!tool_ids.is_empty() || get(obj, "function_call").is_some()));
        chars += match get(obj, "content") {
            Some(c) => content(role, c, &format!("{p}.content"))?,
            None if needs_content => return Err(missing(&format!("{p}.content"))),
            None => 0,
        };
        if !tool_ids.is_empty() {
            open = Some(OpenCalls {
                assistant: i,
                answered: vec![false; tool_ids.len()],
                ids: tool_ids,
            });
        }
        last_role = role.to_owned();
    }
    if let Some(calls) = open {
        calls.close()?;
    }
    Ok(MessagesInfo { chars, last_role })
}

fn role<'a>(obj: &'a Obj, p: &str) -> Result<&'a str, OaiError> {
    let param = format!("{p}.role");
    let role = string(obj, "role", &param)?;
    if !ROLES.contains(&role) {
        return Err(invalid_value(&param, role, ROLES));
    }
    Ok(role)
}

/// A required string field.
fn string<'a>(obj: &'a Obj, key: &str, param: &str) -> Result<&'a str, OaiError> {
    match get(obj, key) {
        None => Err(missing(param)),
        Some(Value::String(s)) => Ok(s),
        Some(v) => Err(invalid_type(param, "a string", v)),
    }
}

/// A required object field.
fn object<'a>(obj: &'a Obj, key: &str, param: &str) -> Result<&'a Obj, OaiError> {
    match get(obj, key) {
        None => Err(missing(param)),
        Some(Value::Object(o)) => Ok(o),
        Some(v) => Err(invalid_type(param, "an object", v)),
    }
}

/// The ids of an assistant message's `tool_calls`, checked.
fn tool_calls(obj: &Obj, p: &str) -> Result<Vec<String>, OaiError> {
    let Some(v) = get(obj, "tool_calls") else {
        return Ok(Vec::new());
    };
    let param = format!("{p}.tool_calls");
    let calls = v
        .as_array()
        .ok_or_else(|| invalid_type(&param, "an array", v))?;
    if calls.is_empty() {
        return Err(empty_array(&param));
    }
    let mut ids = Vec::new();
    for (k, call) in calls.iter().enumerate() {
        let cp = format!("{param}[{k}]");
        let call = call
            .as_object()
            .ok_or_else(|| invalid_type(&cp, "an object", call))?;
        let id = string(call, "id", &format!("{cp}.id"))?;
        let kind = string(call, "type", &format!("{cp}.type"))?;
        if kind != "function" {
            return Err(invalid_value(&format!("{cp}.type"), kind, &["function"]));
        }
        let function = object(call, "function", &format!("{cp}.function"))?;
        string(function, "name", &format!("{cp}.function.name"))?;
        string(function, "arguments", &format!("{cp}.function.arguments"))?;
        ids.push(id.to_owned());
    }
    Ok(ids)
}

/// Checks `content` for `role`; returns its characters of text.
fn content(role: &str, v: &Value, param: &str) -> Result<usize, OaiError> {
    let parts = match v {
        Value::String(s) => return Ok(s.chars().count()),
        Value::Array(parts) => parts,
        v => {
            return Err(invalid_type(
                param,
                "one of a string or array of objects",
                v,
            ));
        }
    };
    if parts.is_empty() {
        return Err(empty_array(param));
    }
    let allowed: &[&str] = match role {
        "user" => &["text", "image_url", "input_audio", "file"],
        "assistant" => &["text", "refusal"],
        _ => &["text"],
    };
    let mut chars = 0;
    for (j, part) in parts.iter().enumerate() {
        let pp = format!("{param}[{j}]");
        let part = part
            .as_object()
            .ok_or_else(|| invalid_type(&pp, "an object", part))?;
        let kind = string(part, "type", &format!("{pp}.type"))?;
        if !allowed.contains(&kind) {
            return Err(invalid_value(&format!("{pp}.type"), kind, allowed));
        }
        match kind {
            "text" => chars += string(part, "text", &format!("{pp}.text"))?.chars().count(),
            "refusal" => {
                string(part, "refusal", &format!("{pp}.refusal"))?;
            }
            "image_url" => {
                let image = object(part, "image_url", &format!("{pp}.image_url"))?;
                string(image, "url", &format!("{pp}.image_url.url"))?;
                if let Some(d) = get(image, "detail") {
                    let dp = format!("{pp}.image_url.detail");
                    let d = d.as_str().ok_or_else(|| invalid_type(&dp, "a string", d))?;
                    if !["auto", "low", "high"].contains(&d) {
                        return Err(invalid_value(&dp, d, &["auto", "low", "high"]));
                    }
                }
            }
            "input_audio" => {
                let audio = object(part, "input_audio", &format!("{pp}.input_audio"))?;
                string(audio, "data", &format!("{pp}.input_audio.data"))?;
                let fp = format!("{pp}.input_audio.format");
                let format = string(audio, "format", &fp)?;
                if !["wav", "mp3"].contains(&format) {
                    return Err(invalid_value(&fp, format, &["wav", "mp3"]));
                }
            }
            _ => {
                object(part, "file", &format!("{pp}.file"))?;
            }
        }
    }
    Ok(chars)
}
