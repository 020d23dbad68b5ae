//! Validation of a chat completions body (top-level parameters, `tools`,
//! `tool_choice`), giving what the fake's reply needs.

use serde_json::Value;

use super::check::{
    Obj, get, non_empty_array, opt_bool, opt_int, opt_number, opt_object, opt_str, request_object,
    stop, stream_flags,
};
use super::errors::{OaiError, invalid_type, invalid_value, missing};
use super::messages;

/// Parameters OpenAI's chat completions endpoint documents.
const CHAT_PARAMS: &[&str] = &[
    "model",
    "messages",
    "audio",
    "frequency_penalty",
    "function_call",
    "functions",
    "logit_bias",
    "logprobs",
    "max_completion_tokens",
    "max_tokens",
    "metadata",
    "modalities",
    "n",
    "parallel_tool_calls",
    "prediction",
    "presence_penalty",
    "prompt_cache_key",
    "prompt_cache_retention",
    "reasoning_effort",
    "response_format",
    "safety_identifier",
    "seed",
    "service_tier",
    "stop",
    "store",
    "stream",
    "stream_options",
    "temperature",
    "tool_choice",
    "tools",
    "top_logprobs",
    "top_p",
    "user",
    "verbosity",
    "web_search_options",
];

/// A tool the reply will call.
#[derive(Debug, Clone)]
pub(crate) struct ToolToCall {
    pub name: String,
    pub parameters: Option<Value>,
    /// Named by `tool_choice` (OpenAI then reports `finish_reason: "stop"`).
    pub forced: bool,
}

/// A valid chat request, reduced to what the reply needs.
#[derive(Debug, Clone)]
pub(crate) struct ChatRequest {
    pub model: Option<String>,
    pub stream: bool,
    pub include_usage: bool,
    pub n: u32,
    pub max_tokens: Option<u64>,
    pub stop: Vec<String>,
    pub prompt_chars: usize,
    /// Set when the reply is a tool call.
    pub tool: Option<ToolToCall>,
}

/// Validates `body`; `model_required` is false for Azure.
pub(crate) fn parse(body: &Value, model_required: bool) -> Result<ChatRequest, OaiError> {
    let (obj, model) = request_object(body, CHAT_PARAMS, model_required)?;
    let info = messages::validate(obj.get("messages"))?;
    let (stream, include_usage) = stream_flags(obj)?;
    let max_tokens = opt_int(obj, "max_tokens", 1, None)?;
    let max_completion = opt_int(obj, "max_completion_tokens", 1, None)?;
    let n = opt_int(obj, "n", 1, Some(128))?.unwrap_or(1);
    opt_number(obj, "temperature", 0.0, 2.0)?;
    opt_number(obj, "top_p", 0.0, 1.0)?;
    opt_number(obj, "presence_penalty", -2.0, 2.0)?;
    opt_number(obj, "frequency_penalty", -2.0, 2.0)?;
    opt_bool(obj, "logprobs")?;
    opt_int(obj, "top_logprobs", 0, Some(20))?;
    opt_bool(obj, "parallel_tool_calls")?;
    opt_bool(obj, "store")?;
    opt_int(obj, "seed", i64::MIN, None)?;
    opt_str(obj, "user", "user")?;
    opt_object(obj, "metadata", "metadata")?;
    response_format(obj)?;
    let stop = stop(obj)?;
    let tools = tools(obj)?;
    let tool = choose_tool(obj, &tools, &info.last_role)?;
    let max_tokens = match (max_tokens, max_completion) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(ChatRequest {
        model: model.map(str::to_owned),
        stream,
        include_usage,
        n: u32::try_from(n).unwrap_or(1),
        max_tokens: max_tokens.and_then(|m| u64::try_from(m).ok()),
        stop,
        prompt_chars: info.chars,
        tool,
    })
}

fn response_format(obj: &Obj) -> Result<(), OaiError> {
    let Some(format) = opt_object(obj, "response_format", "response_format")? else {
        return Ok(());
    };
    let kinds = ["text", "json_object", "json_schema"];
    match get(format, "type") {
        None => Err(missing("response_format.type")),
        Some(Value::String(t)) if kinds.contains(&t.as_str()) => Ok(()),
        Some(Value::String(t)) => Err(invalid_value("response_format.type", t, &kinds)),
        Some(v) => Err(invalid_type("response_format.type", "a string", v)),
    }
}

/// `tools`: function tools, as (name, parameters).
fn tools(obj: &Obj) -> Result<Vec<(String, Option<Value>)>, OaiError> {
    if get(obj, "tools").is_none() {
        return Ok(Vec::new());
    }
    let items = non_empty_array(obj.get("tools"), "tools")?;
    let mut out = Vec::new();
    for (k, tool) in items.iter().enumerate() {
        let p = format!("tools[{k}]");
        let tool = tool
            .as_object()
            .ok_or_else(|| invalid_type(&p, "an object", tool))?;
        match get(tool, "type") {
            Some(Value::String(t)) if t == "function" => {}
            Some(Value::String(t)) => {
                return Err(invalid_value(&format!("{p}.type"), t, &["function"]));
            }
            Some(v) => return Err(invalid_type(&format!("{p}.type"), "a string", v)),
            None => return Err(missing(&format!("{p}.type"))),
        }
        let Some(function) = opt_object(tool, "function", &format!("{p}.function"))? else {
            return Err(missing(&format!("{p}.function")));
        };
        let np = format!("{p}.function.name");
        let Some(name) = opt_str(function, "name", &np)? else {
            return Err(missing(&np));
        };
        let valid = (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(OaiError::invalid(
                format!(
                    "Invalid '{np}': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."
                ),
                Some(&np),
                Some("invalid_value"),
            ));
        }
        opt_str(
            function,
            "description",
            &format!("{p}.function.description"),
        )?;
        let parameters = opt_object(function, "parameters", &format!("{p}.function.parameters"))?;
        out.push((name.to_owned(), parameters.cloned().map(Value::Object)));
    }
    Ok(out)
}

/// The tool to call: the one `tool_choice` names, else the first, unless
/// `tool_choice` is `none` or the last message is not the user's.
fn choose_tool(
    obj: &Obj,
    tools: &[(String, Option<Value>)],
    last_role: &str,
) -> Result<Option<ToolToCall>, OaiError> {
    let choice = get(obj, "tool_choice");
    if choice.is_some() && tools.is_empty() {
        return Err(OaiError::invalid(
            "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.",
            Some("tool_choice"),
            None,
        ));
    }
    let named = match choice {
        None => None,
        Some(Value::String(s)) => match s.as_str() {
            "none" => return Ok(None),
            "auto" | "required" => None,
            other => {
                return Err(invalid_value(
                    "tool_choice",
                    other,
                    &["none", "auto", "required"],
                ));
            }
        },
        Some(Value::Object(c)) => named_choice(c)?,
        Some(v) => return Err(invalid_type("tool_choice", "a string or object", v)),
    };
    let tool = match &named {
        Some(name) => tools.iter().find(|(n, _)| n == name).ok_or_else(|| {
            OaiError::invalid(
                format!("Invalid value for 'tool_choice': tool '{name}' is not in 'tools'."),
                Some("tool_choice"),
                None,
            )
        })?,
        None => match tools.first() {
            Some(t) => t,
            None => return Ok(None),
        },
    };
    if last_role != "user" {
        return Ok(None);
    }
    Ok(Some(ToolToCall {
        name: tool.0.clone(),
        parameters: tool.1.clone(),
        forced: named.is_some(),
    }))
}

/// The function an object `tool_choice` names (`allowed_tools`: none).
fn named_choice(c: &Obj) -> Result<Option<String>, OaiError> {
    match get(c, "type").and_then(Value::as_str) {
        Some("function") => {
            let Some(function) = opt_object(c, "function", "tool_choice.function")? else {
                return Err(missing("tool_choice.function"));
            };
            match opt_str(function, "name", "tool_choice.function.name")? {
                Some(name) => Ok(Some(name.to_owned())),
                None => Err(missing("tool_choice.function.name")),
            }
        }
        Some("allowed_tools") => Ok(None),
        Some(other) => Err(invalid_value(
            "tool_choice.type",
            other,
            &["function", "allowed_tools"],
        )),
        None => Err(missing("tool_choice.type")),
    }
}
