//! OpenAI chat-completions request -> Anthropic Messages request.

use serde_json::{Map, Value, json};

use super::TranslateError;
use super::messages::{self, invalid, unsupported};

/// OpenAI chat-completions request body -> Anthropic Messages request body, for `model`
/// (the Anthropic model name). `default_max_tokens` is used when the request sets neither
/// `max_completion_tokens` nor `max_tokens` (Anthropic requires max_tokens).
///
/// # Errors
/// [`TranslateError::Unsupported`] when the request asks for something Anthropic cannot
/// do (see the module docs for the list), [`TranslateError::Invalid`] when it is not a
/// well-formed chat-completions request.
pub fn messages_request(
    chat: &Value,
    model: &str,
    default_max_tokens: u32,
) -> Result<Value, TranslateError> {
    let chat = chat
        .as_object()
        .ok_or_else(|| invalid("request body must be a JSON object"))?;
    check_unsupported(chat)?;
    let conversation = messages::convert(
        chat.get("messages")
            .ok_or_else(|| invalid("`messages` is required"))?,
    )?;

    let mut out = Map::new();
    out.insert("model".into(), model.into());
    out.insert(
        "max_tokens".into(),
        max_tokens(chat, default_max_tokens)?.into(),
    );
    if let Some(system) = conversation.system {
        out.insert("system".into(), system.into());
    }
    out.insert("messages".into(), conversation.messages.into());
    if let Some(t) = number(chat, "temperature")? {
        // OpenAI allows 0..=2, Anthropic 0..=1: clamp, as both ends mean the same.
        out.insert("temperature".into(), t.clamp(0.0, 1.0).into());
    }
    // top_p = 1 is the identity; sending it with temperature is rejected by
    // newer Claude models, and many clients send it by default.
    if let Some(p) = number(chat, "top_p")?.filter(|p| *p != 1.0) {
        out.insert("top_p".into(), p.into());
    }
    if let Some(stop) = stop_sequences(chat.get("stop"))? {
        out.insert("stop_sequences".into(), stop);
    }
    match chat.get("stream") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => {
            out.insert("stream".into(), (*b).into());
        }
        Some(_) => return Err(invalid("`stream` must be a boolean")),
    }
    insert_tools(chat, &mut out)?;
    if let Some(user) = non_null(chat, "user").or_else(|| non_null(chat, "safety_identifier")) {
        let user = user
            .as_str()
            .ok_or_else(|| invalid("`user` must be a string"))?;
        out.insert("metadata".into(), json!({"user_id": user}));
    }
    Ok(Value::Object(out))
}

/// Fields whose effect Anthropic cannot reproduce: the answer would differ.
fn check_unsupported(chat: &Map<String, Value>) -> Result<(), TranslateError> {
    if let Some(n) = non_null(chat, "n") {
        match n.as_u64() {
            Some(0 | 1) => {}
            Some(_) => return Err(unsupported("n > 1")),
            None => return Err(invalid("`n` must be a positive integer")),
        }
    }
    if non_null(chat, "logprobs").is_some_and(|v| v != &Value::Bool(false)) {
        return Err(unsupported("logprobs"));
    }
    if non_null(chat, "top_logprobs").is_some_and(|v| v.as_u64() != Some(0)) {
        return Err(unsupported("top_logprobs"));
    }
    if non_null(chat, "audio").is_some() {
        return Err(unsupported("audio output"));
    }
    if let Some(modalities) = non_null(chat, "modalities") {
        let list = modalities
            .as_array()
            .ok_or_else(|| invalid("`modalities` must be an array"))?;
        if list.iter().any(|m| m.as_str() == Some("audio")) {
            return Err(unsupported("audio modality"));
        }
    }
    if let Some(format) = non_null(chat, "response_format") {
        match format.get("type").and_then(Value::as_str) {
            Some("text") => {}
            Some(kind @ ("json_object" | "json_schema")) => {
                return Err(unsupported(format!("response_format {kind}")));
            }
            _ => return Err(invalid("`response_format` needs a known `type`")),
        }
    }
    if non_null(chat, "logit_bias").is_some_and(|v| v.as_object().is_none_or(|m| !m.is_empty())) {
        return Err(unsupported("logit_bias"));
    }
    for field in ["web_search_options", "functions", "function_call"] {
        if non_null(chat, field).is_some() {
            return Err(unsupported(field));
        }
    }
    Ok(())
}

fn max_tokens(chat: &Map<String, Value>, default: u32) -> Result<u64, TranslateError> {
    let set = non_null(chat, "max_completion_tokens").or_else(|| non_null(chat, "max_tokens"));
    match set {
        None => Ok(u64::from(default)),
        Some(v) => v
            .as_u64()
            .filter(|n| *n > 0)
            .ok_or_else(|| invalid("`max_tokens` must be a positive integer")),
    }
}

fn stop_sequences(stop: Option<&Value>) -> Result<Option<Value>, TranslateError> {
    let list: Vec<&str> = match stop {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|s| {
                s.as_str()
                    .ok_or_else(|| invalid("`stop` entries must be strings"))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(invalid("`stop` must be a string or an array")),
    };
    // Empty strings stop nothing in OpenAI; Anthropic would reject them.
    let list: Vec<&str> = list.into_iter().filter(|s| !s.is_empty()).collect();
    Ok((!list.is_empty()).then(|| json!(list)))
}

/// `tools`, `tool_choice` and `parallel_tool_calls`.
fn insert_tools(
    chat: &Map<String, Value>,
    out: &mut Map<String, Value>,
) -> Result<(), TranslateError> {
    let tools = match non_null(chat, "tools") {
        None => return Ok(()),
        Some(v) => v
            .as_array()
            .ok_or_else(|| invalid("`tools` must be an array"))?,
    };
    if tools.is_empty() {
        // tool_choice without tools means nothing to either API.
        return Ok(());
    }
    let tools = tools.iter().map(tool).collect::<Result<Vec<_>, _>>()?;
    out.insert("tools".into(), tools.into());

    let mut choice = match non_null(chat, "tool_choice") {
        None => None,
        Some(Value::String(s)) => Some(match s.as_str() {
            "auto" => json!({"type": "auto"}),
            "required" => json!({"type": "any"}),
            "none" => json!({"type": "none"}),
            other => return Err(invalid(format!("unknown tool_choice {other:?}"))),
        }),
        Some(obj @ Value::Object(_)) => match obj.get("type").and_then(Value::as_str) {
            Some("function") => {
                let name = obj
                    .get("function")
                    .and_then(|f| f.get("name"))
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid("tool_choice function needs a name"))?;
                Some(json!({"type": "tool", "name": name}))
            }
            Some(other) => return Err(unsupported(format!("tool_choice of type {other:?}"))),
            None => return Err(invalid("tool_choice object needs a `type`")),
        },
        Some(_) => return Err(invalid("`tool_choice` must be a string or an object")),
    };
    if chat.get("parallel_tool_calls") == Some(&Value::Bool(false)) {
        let choice = choice.get_or_insert_with(|| json!({"type": "auto"}));
        // `none` has no such flag: no tool calls at all, parallel or not.
        if choice.get("type").and_then(Value::as_str) != Some("none")
            && let Some(obj) = choice.as_object_mut()
        {
            obj.insert("disable_parallel_tool_use".into(), true.into());
        }
    }
    if let Some(choice) = choice {
        out.insert("tool_choice".into(), choice);
    }
    Ok(())
}

fn tool(tool: &Value) -> Result<Value, TranslateError> {
    match tool.get("type").and_then(Value::as_str) {
        Some("function") => {}
        Some(other) => return Err(unsupported(format!("tools of type {other:?}"))),
        None => return Err(invalid("a tool needs a `type`")),
    }
    let function = tool
        .get("function")
        .ok_or_else(|| invalid("a function tool needs `function`"))?;
    let name = function
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("a function tool needs a string `name`"))?;
    let schema = match function.get("parameters") {
        None | Some(Value::Null) => json!({"type": "object", "properties": {}}),
        Some(p @ Value::Object(_)) => p.clone(),
        Some(_) => return Err(invalid("tool `parameters` must be an object")),
    };
    let mut out = Map::new();
    out.insert("name".into(), name.into());
    if let Some(description) = function.get("description").and_then(Value::as_str) {
        out.insert("description".into(), description.into());
    }
    out.insert("input_schema".into(), schema);
    Ok(Value::Object(out))
}

fn non_null<'a>(chat: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    chat.get(field).filter(|v| !v.is_null())
}

fn number(chat: &Map<String, Value>, field: &str) -> Result<Option<f64>, TranslateError> {
    non_null(chat, field)
        .map(|v| {
            v.as_f64()
                .ok_or_else(|| invalid(format!("`{field}` must be a number")))
        })
        .transpose()
}
