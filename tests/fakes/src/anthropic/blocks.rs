//! Validation of one content block of a Messages API message (text, image,
//! document, tool_use, tool_result, thinking, redacted_thinking), strict
//! about extra fields as the real API is.

use serde_json::{Map, Value};

use super::errors::{AntError, extra, required, should_be};

type Obj = Map<String, Value>;

const TAGS: &str =
    "'text', 'image', 'document', 'tool_use', 'tool_result', 'thinking', 'redacted_thinking'";

/// What a block contributes to the checks and the reply.
#[derive(Debug, Default)]
pub(crate) struct BlockInfo {
    /// Characters of text (for the prompt-token estimate).
    pub chars: usize,
    /// The text of a `text` block.
    pub text: Option<String>,
    /// The id of a `tool_use` block.
    pub tool_use_id: Option<String>,
    /// The `tool_use_id` of a `tool_result` block.
    pub tool_result_id: Option<String>,
}

/// Checks the block at `loc` (e.g. `messages.0.content.1`).
pub(crate) fn block(v: &Value, loc: &str) -> Result<BlockInfo, AntError> {
    let obj = v
        .as_object()
        .ok_or_else(|| should_be(loc, "a valid dictionary"))?;
    let kind = match obj.get("type") {
        Some(Value::String(t)) => t.as_str(),
        _ => {
            return Err(AntError::invalid(format!(
                "{loc}: Unable to extract tag using discriminator 'type'"
            )));
        }
    };
    let tl = format!("{loc}.{kind}");
    let mut info = BlockInfo::default();
    match kind {
        "text" => {
            allow(obj, &tl, &["type", "text", "cache_control", "citations"])?;
            let text = string(obj, "text", &tl)?;
            info.chars = text.chars().count();
            info.text = Some(text.to_owned());
        }
        "image" => {
            allow(obj, &tl, &["type", "source", "cache_control"])?;
            image_source(obj, &tl)?;
        }
        "document" => {
            allow(
                obj,
                &tl,
                &[
                    "type",
                    "source",
                    "cache_control",
                    "citations",
                    "context",
                    "title",
                ],
            )?;
            info.chars = document_source(obj, &tl)?;
        }
        "tool_use" => {
            allow(obj, &tl, &["type", "id", "name", "input", "cache_control"])?;
            info.tool_use_id = Some(string(obj, "id", &tl)?.to_owned());
            string(obj, "name", &tl)?;
            match obj.get("input") {
                Some(Value::Object(_)) => {}
                Some(_) => return Err(should_be(&format!("{tl}.input"), "a valid dictionary")),
                None => return Err(required(&format!("{tl}.input"))),
            }
        }
        "tool_result" => {
            allow(
                obj,
                &tl,
                &[
                    "type",
                    "tool_use_id",
                    "content",
                    "is_error",
                    "cache_control",
                ],
            )?;
            info.tool_result_id = Some(string(obj, "tool_use_id", &tl)?.to_owned());
            info.chars = tool_result_content(obj.get("content"), &format!("{tl}.content"))?;
            if obj.get("is_error").is_some_and(|e| !e.is_boolean()) {
                return Err(should_be(&format!("{tl}.is_error"), "a valid boolean"));
            }
        }
        "thinking" => {
            allow(obj, &tl, &["type", "thinking", "signature"])?;
            string(obj, "thinking", &tl)?;
            string(obj, "signature", &tl)?;
        }
        "redacted_thinking" => {
            allow(obj, &tl, &["type", "data"])?;
            string(obj, "data", &tl)?;
        }
        other => {
            return Err(AntError::invalid(format!(
                "{loc}: Input tag '{other}' found using 'type' does not match any of the expected tags: {TAGS}"
            )));
        }
    }
    cache_control(obj, &tl)?;
    Ok(info)
}

/// Refuses fields not in `allowed`.
pub(crate) fn allow(obj: &Obj, loc: &str, allowed: &[&str]) -> Result<(), AntError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(extra(&format!("{loc}.{k}"))),
        None => Ok(()),
    }
}

/// A required string field `key` of the object at `loc`.
pub(crate) fn string<'a>(obj: &'a Obj, key: &str, loc: &str) -> Result<&'a str, AntError> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(should_be(&format!("{loc}.{key}"), "a valid string")),
        None => Err(required(&format!("{loc}.{key}"))),
    }
}

/// `cache_control`: `{"type": "ephemeral", "ttl"?: "5m" | "1h"}`.
pub(crate) fn cache_control(obj: &Obj, loc: &str) -> Result<(), AntError> {
    let Some(v) = obj.get("cache_control").filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let loc = format!("{loc}.cache_control");
    let cc = v
        .as_object()
        .ok_or_else(|| should_be(&loc, "a valid dictionary"))?;
    allow(cc, &loc, &["type", "ttl"])?;
    if string(cc, "type", &loc)? != "ephemeral" {
        return Err(should_be(&format!("{loc}.type"), "'ephemeral'"));
    }
    match cc.get("ttl") {
        None => Ok(()),
        Some(Value::String(t)) if t == "5m" || t == "1h" => Ok(()),
        Some(_) => Err(should_be(&format!("{loc}.ttl"), "'5m' or '1h'")),
    }
}

/// The `source` object of a block.
fn source<'a>(obj: &'a Obj, loc: &str) -> Result<(&'a Obj, String, &'a str), AntError> {
    let sl = format!("{loc}.source");
    let src = match obj.get("source") {
        Some(Value::Object(s)) => s,
        Some(_) => return Err(should_be(&sl, "a valid dictionary")),
        None => return Err(required(&sl)),
    };
    let kind = match src.get("type") {
        Some(Value::String(t)) => t.as_str(),
        _ => {
            return Err(AntError::invalid(format!(
                "{sl}: Unable to extract tag using discriminator 'type'"
            )));
        }
    };
    Ok((src, sl, kind))
}

fn image_source(obj: &Obj, loc: &str) -> Result<(), AntError> {
    let (src, sl, kind) = source(obj, loc)?;
    let kl = format!("{sl}.{kind}");
    match kind {
        "base64" => {
            allow(src, &kl, &["type", "media_type", "data"])?;
            let media = string(src, "media_type", &kl)?;
            if !["image/jpeg", "image/png", "image/gif", "image/webp"].contains(&media) {
                return Err(should_be(
                    &format!("{kl}.media_type"),
                    "'image/jpeg', 'image/png', 'image/gif' or 'image/webp'",
                ));
            }
            string(src, "data", &kl)?;
        }
        "url" => {
            allow(src, &kl, &["type", "url"])?;
            string(src, "url", &kl)?;
        }
        "file" => {
            allow(src, &kl, &["type", "file_id"])?;
            string(src, "file_id", &kl)?;
        }
        other => {
            return Err(AntError::invalid(format!(
                "{sl}: Input tag '{other}' found using 'type' does not match any of the expected tags: 'base64', 'url', 'file'"
            )));
        }
    }
    Ok(())
}

/// Checks a document's source; returns its characters of plain text.
fn document_source(obj: &Obj, loc: &str) -> Result<usize, AntError> {
    let (src, sl, kind) = source(obj, loc)?;
    let kl = format!("{sl}.{kind}");
    match kind {
        "base64" => {
            allow(src, &kl, &["type", "media_type", "data"])?;
            if string(src, "media_type", &kl)? != "application/pdf" {
                return Err(should_be(&format!("{kl}.media_type"), "'application/pdf'"));
            }
            string(src, "data", &kl)?;
            Ok(0)
        }
        "text" => {
            allow(src, &kl, &["type", "media_type", "data"])?;
            if string(src, "media_type", &kl)? != "text/plain" {
                return Err(should_be(&format!("{kl}.media_type"), "'text/plain'"));
            }
            Ok(string(src, "data", &kl)?.chars().count())
        }
        "content" => {
            allow(src, &kl, &["type", "content"])?;
            tool_result_content(src.get("content"), &format!("{kl}.content"))
        }
        "url" => {
            allow(src, &kl, &["type", "url"])?;
            string(src, "url", &kl)?;
            Ok(0)
        }
        "file" => {
            allow(src, &kl, &["type", "file_id"])?;
            string(src, "file_id", &kl)?;
            Ok(0)
        }
        other => Err(AntError::invalid(format!(
            "{sl}: Input tag '{other}' found using 'type' does not match any of the expected tags: 'base64', 'text', 'content', 'url', 'file'"
        ))),
    }
}

/// `content` of a tool result: absent, a string, or text/image/document
/// blocks. Returns its characters of text.
fn tool_result_content(v: Option<&Value>, loc: &str) -> Result<usize, AntError> {
    match v {
        None | Some(Value::Null) => Ok(0),
        Some(Value::String(s)) => Ok(s.chars().count()),
        Some(Value::Array(blocks)) => {
            let mut chars = 0;
            for (k, b) in blocks.iter().enumerate() {
                let bl = format!("{loc}.{k}");
                let kind = b.get("type").and_then(Value::as_str).unwrap_or_default();
                if !["text", "image", "document"].contains(&kind) {
                    return Err(AntError::invalid(format!(
                        "{bl}: Input tag '{kind}' found using 'type' does not match any of the expected tags: 'text', 'image', 'document'"
                    )));
                }
                chars += block(b, &bl)?.chars;
            }
            Ok(chars)
        }
        Some(_) => Err(should_be(loc, "a valid string")),
    }
}
