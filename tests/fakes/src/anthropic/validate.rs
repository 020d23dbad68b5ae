//! Validation of a Messages API body's top-level fields, `system`, `tools`,
//! `tool_choice` and `thinking`. Unknown fields are refused, as the real API
//! refuses extra inputs.

use serde_json::{Map, Value};

use super::blocks::{allow, cache_control, string};
use super::errors::{AntError, extra, required, should_be};
use super::messages;

type Obj = Map<String, Value>;

const FIELDS: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "system",
    "metadata",
    "stop_sequences",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "thinking",
    "service_tier",
];

/// A custom tool the reply will call.
#[derive(Debug, Clone)]
pub(crate) struct ToolToCall {
    pub name: String,
    pub schema: Option<Value>,
}

/// A valid Messages request, reduced to what the reply needs.
#[derive(Debug, Clone)]
pub(crate) struct MessagesRequest {
    pub model: String,
    pub max_tokens: u64,
    pub stream: bool,
    pub stop_sequences: Vec<String>,
    pub prompt_chars: usize,
    pub tool: Option<ToolToCall>,
    pub thinking: bool,
}

pub(crate) fn parse(body: &Value) -> Result<MessagesRequest, AntError> {
    let obj = body
        .as_object()
        .ok_or_else(|| AntError::invalid("Input should be a valid dictionary"))?;
    let model = match obj.get("model") {
        None => return Err(required("model")),
        Some(Value::String(m)) => m.clone(),
        Some(_) => return Err(should_be("model", "a valid string")),
    };
    let max_tokens = integer(obj, "max_tokens", 1)?.ok_or_else(|| required("max_tokens"))?;
    let info = messages::validate(obj.get("messages"))?;
    if let Some(k) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(extra(k));
    }
    let system_chars = system(obj.get("system"))?;
    metadata(obj)?;
    let stop_sequences = stop_sequences(obj)?;
    let stream = match obj.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(should_be("stream", "a valid boolean")),
    };
    let temperature = number(obj, "temperature", 0.0, 1.0)?;
    number(obj, "top_p", 0.0, 1.0)?;
    integer(obj, "top_k", 0)?;
    let tier = obj.get("service_tier").filter(|v| !v.is_null());
    if tier.is_some_and(|v| !matches!(v.as_str(), Some("auto" | "standard_only"))) {
        return Err(should_be("service_tier", "'auto' or 'standard_only'"));
    }
    let thinking = thinking(obj, max_tokens, temperature)?;
    let tools = tools(obj)?;
    let tool = tool_choice(obj, &tools)?
        .filter(|_| info.last_role == "user" && !info.last_has_tool_result);
    Ok(MessagesRequest {
        model,
        max_tokens,
        stream,
        stop_sequences,
        prompt_chars: info.chars + system_chars,
        tool,
        thinking,
    })
}

/// An integer field `>= min` (a float without fraction counts).
fn integer(obj: &Obj, key: &str, min: u64) -> Result<Option<u64>, AntError> {
    let n = match obj.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n,
        Some(_) => return Err(should_be(key, "a valid integer")),
    };
    let value = match (n.as_i64(), n.as_f64()) {
        (Some(i), _) => i,
        (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9e15 => f as i64,
        _ => return Err(should_be(key, "a valid integer")),
    };
    match u64::try_from(value) {
        Ok(v) if v >= min => Ok(Some(v)),
        _ => Err(should_be(key, &format!("greater than or equal to {min}"))),
    }
}

/// A number field within `min..=max`.
fn number(obj: &Obj, key: &str, min: f64, max: f64) -> Result<Option<f64>, AntError> {
    let x = match obj.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(_) => return Err(should_be(key, "a valid number")),
    };
    if x < min {
        return Err(should_be(key, &format!("greater than or equal to {min}")));
    }
    if x > max {
        return Err(should_be(key, &format!("less than or equal to {max}")));
    }
    Ok(Some(x))
}

/// `system`: a string or text blocks; returns its characters.
fn system(v: Option<&Value>) -> Result<usize, AntError> {
    let blocks = match v {
        None | Some(Value::Null) => return Ok(0),
        Some(Value::String(s)) => return Ok(s.chars().count()),
        Some(Value::Array(b)) => b,
        Some(_) => return Err(should_be("system", "a valid string")),
    };
    let mut chars = 0;
    for (k, b) in blocks.iter().enumerate() {
        let loc = format!("system.{k}");
        let obj = b
            .as_object()
            .ok_or_else(|| should_be(&loc, "a valid dictionary"))?;
        if obj.get("type").and_then(Value::as_str) != Some("text") {
            return Err(should_be(&format!("{loc}.type"), "'text'"));
        }
        allow(obj, &loc, &["type", "text", "cache_control", "citations"])?;
        chars += string(obj, "text", &loc)?.chars().count();
        cache_control(obj, &loc)?;
    }
    Ok(chars)
}

fn metadata(obj: &Obj) -> Result<(), AntError> {
    let Some(v) = obj.get("metadata").filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let m = v
        .as_object()
        .ok_or_else(|| should_be("metadata", "a valid dictionary"))?;
    allow(m, "metadata", &["user_id"])?;
    match m.get("user_id") {
        None | Some(Value::Null | Value::String(_)) => Ok(()),
        Some(_) => Err(should_be("metadata.user_id", "a valid string")),
    }
}

fn stop_sequences(obj: &Obj) -> Result<Vec<String>, AntError> {
    match obj.get("stop_sequences") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(k, v)| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(should_be(&format!("stop_sequences.{k}"), "a valid string")),
            })
            .collect(),
        Some(_) => Err(should_be("stop_sequences", "a valid list")),
    }
}

/// `thinking`: `{"type":"enabled","budget_tokens":>=1024}` or disabled.
fn thinking(obj: &Obj, max_tokens: u64, temperature: Option<f64>) -> Result<bool, AntError> {
    let Some(v) = obj.get("thinking").filter(|v| !v.is_null()) else {
        return Ok(false);
    };
    let t = v
        .as_object()
        .ok_or_else(|| should_be("thinking", "a valid dictionary"))?;
    match t.get("type").and_then(Value::as_str) {
        Some("disabled") => {
            allow(t, "thinking.disabled", &["type"])?;
            Ok(false)
        }
        Some("enabled") => {
            allow(t, "thinking.enabled", &["type", "budget_tokens"])?;
            let budget = integer(t, "budget_tokens", 1024)
                .map_err(|e| AntError::invalid(format!("thinking.enabled.{}", e.message)))?
                .ok_or_else(|| required("thinking.enabled.budget_tokens"))?;
            if max_tokens <= budget {
                return Err(AntError::invalid(
                    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size",
                ));
            }
            if temperature.is_some_and(|t| t != 1.0) {
                return Err(AntError::invalid(
                    "`temperature` may only be set to 1 when thinking is enabled. Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#feature-compatibility",
                ));
            }
            Ok(true)
        }
        _ => Err(AntError::invalid(
            "thinking: Input tag found using 'type' does not match any of the expected tags: 'enabled', 'disabled'",
        )),
    }
}

/// `tools`: custom tools `{name, description?, input_schema}` (server tools,
/// with another `type`, only need a name). Returns (name, schema) of the
/// custom tools.
fn tools(obj: &Obj) -> Result<Vec<(String, Value)>, AntError> {
    let items = match obj.get("tools") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(should_be("tools", "a valid list")),
    };
    let mut names: Vec<String> = Vec::new();
    let mut custom = Vec::new();
    for (k, t) in items.iter().enumerate() {
        let loc = format!("tools.{k}");
        let tool = t
            .as_object()
            .ok_or_else(|| should_be(&loc, "a valid dictionary"))?;
        let kind = tool.get("type").and_then(Value::as_str).unwrap_or("custom");
        if kind != "custom" {
            names.push(string(tool, "name", &format!("{loc}.{kind}"))?.to_owned());
            continue;
        }
        let loc = format!("{loc}.custom");
        allow(
            tool,
            &loc,
            &[
                "type",
                "name",
                "description",
                "input_schema",
                "cache_control",
            ],
        )?;
        let name = string(tool, "name", &loc)?;
        let valid = (1..=64).contains(&name.len())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(AntError::invalid(format!(
                "{loc}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
            )));
        }
        if tool.get("description").is_some_and(|d| !d.is_string()) {
            return Err(should_be(&format!("{loc}.description"), "a valid string"));
        }
        let schema = match tool.get("input_schema") {
            None => return Err(required(&format!("{loc}.input_schema"))),
            Some(Value::Object(s)) => s,
            Some(_) => {
                return Err(should_be(
                    &format!("{loc}.input_schema"),
                    "a valid dictionary",
                ));
            }
        };
        if schema.get("type").and_then(Value::as_str) != Some("object") {
            return Err(should_be(&format!("{loc}.input_schema.type"), "'object'"));
        }
        cache_control(tool, &loc)?;
        names.push(name.to_owned());
        custom.push((name.to_owned(), Value::Object(schema.clone())));
    }
    if names
        .iter()
        .enumerate()
        .any(|(i, n)| names[..i].contains(n))
    {
        return Err(AntError::invalid("tools: Tool names must be unique."));
    }
    Ok(custom)
}

/// `tool_choice`: which tool the reply calls (none for `none`).
fn tool_choice(obj: &Obj, tools: &[(String, Value)]) -> Result<Option<ToolToCall>, AntError> {
    let choice = match obj.get("tool_choice") {
        None | Some(Value::Null) => None,
        Some(Value::Object(c)) => Some(c),
        Some(_) => return Err(should_be("tool_choice", "a valid dictionary")),
    };
    let kind = match choice {
        None => "auto",
        Some(c) => match c.get("type").and_then(Value::as_str) {
            Some(k @ ("auto" | "any" | "tool" | "none")) => k,
            Some(other) => {
                return Err(AntError::invalid(format!(
                    "tool_choice: Input tag '{other}' found using 'type' does not match any of the expected tags: 'auto', 'any', 'tool', 'none'"
                )));
            }
            None => {
                return Err(AntError::invalid(
                    "tool_choice: Unable to extract tag using discriminator 'type'",
                ));
            }
        },
    };
    let mut named = None;
    if let Some(c) = choice {
        let loc = format!("tool_choice.{kind}");
        match kind {
            "none" => allow(c, &loc, &["type"])?,
            "tool" => {
                allow(c, &loc, &["type", "name", "disable_parallel_tool_use"])?;
                named = Some(string(c, "name", &loc)?.to_owned());
            }
            _ => allow(c, &loc, &["type", "disable_parallel_tool_use"])?,
        }
        if c.get("disable_parallel_tool_use")
            .is_some_and(|d| !d.is_boolean())
        {
            return Err(should_be(
                &format!("{loc}.disable_parallel_tool_use"),
                "a valid boolean",
            ));
        }
        if matches!(kind, "any" | "tool") && tools.is_empty() {
            return Err(AntError::invalid(
                "tool_choice may only be specified while providing tools.",
            ));
        }
    }
    if kind == "none" {
        return Ok(None);
    }
    let tool = match &named {
        Some(name) => Some(tools.iter().find(|(n, _)| n == name).ok_or_else(|| {
            AntError::invalid(format!(
                "tool_choice.tool.name: Tool '{name}' not found in tools"
            ))
        })?),
        None => tools.first(),
    };
    Ok(tool.map(|(name, schema)| ToolToCall {
        name: name.clone(),
        schema: Some(schema.clone()),
    }))
}
