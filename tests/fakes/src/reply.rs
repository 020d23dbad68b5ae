//! The fakes' deterministic replies: text cycled from a fixed sentence,
//! cut by `max_tokens` and stop sequences; token estimates; tool calls whose
//! arguments are built from the tool's JSON schema.

use serde_json::{Map, Value};

/// The words every fake reply cycles through, in order (the first chunk is
/// `This`, the next ` is`, and so on; one word is one token).
pub const REPLY_WORDS: &[&str] = &[
    "This",
    "is",
    "a",
    "fake",
    "reply",
    "from",
    "the",
    "Switchyard",
    "test",
    "provider",
    "and",
    "it",
    "repeats",
    "these",
    "words",
    "in",
    "order",
];

/// Why a text reply ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finish {
    /// The reply's natural end (`stop` / `end_turn`).
    Natural,
    /// `max_tokens` reached (`length` / `max_tokens`).
    Length,
    /// This stop sequence matched; the text ends before it.
    Stop(String),
}

/// A text reply as stream chunks (one token each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextPlan {
    pub chunks: Vec<String>,
    pub finish: Finish,
}

impl TextPlan {
    pub fn text(&self) -> String {
        self.chunks.concat()
    }

    pub fn tokens(&self) -> u64 {
        self.chunks.len() as u64
    }
}

/// The reply: `natural_words` words, cut to `max_tokens`, then cut before
/// the earliest match of any (non-empty) stop sequence.
pub(crate) fn text(natural_words: u32, max_tokens: Option<u64>, stops: &[String]) -> TextPlan {
    let natural = u64::from(natural_words.max(1));
    let (count, limited) = match max_tokens {
        Some(m) if m < natural => (m, true),
        _ => (natural, false),
    };
    let chunks: Vec<String> = REPLY_WORDS
        .iter()
        .cycle()
        .take(usize::try_from(count).unwrap_or(usize::MAX))
        .enumerate()
        .map(|(i, w)| {
            if i == 0 {
                (*w).to_owned()
            } else {
                format!(" {w}")
            }
        })
        .collect();
    let full = chunks.concat();
    let earliest = stops
        .iter()
        .filter(|s| !s.is_empty())
        .filter_map(|s| full.find(s.as_str()).map(|pos| (pos, s)))
        .min_by_key(|(pos, _)| *pos);
    match earliest {
        Some((pos, stop)) => TextPlan {
            chunks: cut(&chunks, pos),
            finish: Finish::Stop(stop.clone()),
        },
        None => TextPlan {
            chunks,
            finish: if limited {
                Finish::Length
            } else {
                Finish::Natural
            },
        },
    }
}

/// The chunks covering the first `len` bytes of their concatenation.
fn cut(chunks: &[String], len: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut used = 0;
    for chunk in chunks {
        if used >= len {
            break;
        }
        let take = (len - used).min(chunk.len());
        out.push(chunk[..take].to_owned());
        used += take;
    }
    out
}

/// Prompt tokens for `chars` characters of text: a quarter, rounded up,
/// at least one.
pub(crate) fn prompt_tokens(chars: usize) -> u64 {
    (chars as u64).div_ceil(4).max(1)
}

/// Tokens of a tool call's arguments (a quarter of the JSON text, at least 1).
pub(crate) fn argument_tokens(arguments: &str) -> u64 {
    prompt_tokens(arguments.chars().count())
}

/// Arguments for a tool whose parameters are `schema`: each `required`
/// property gets `"x"` (string), `1` (number or integer), `true` (boolean)
/// or `null` (anything else).
pub(crate) fn tool_arguments(schema: Option<&Value>) -> Value {
    let mut args = Map::new();
    let Some(schema) = schema else {
        return Value::Object(args);
    };
    let required = schema.get("required").and_then(Value::as_array);
    for name in required.into_iter().flatten().filter_map(Value::as_str) {
        let kind = schema
            .get("properties")
            .and_then(|p| p.get(name))
            .and_then(|p| p.get("type"))
            .and_then(Value::as_str);
        let value = match kind {
            Some("string") => Value::from("x"),
            Some("number" | "integer") => Value::from(1),
            Some("boolean") => Value::Bool(true),
            _ => Value::Null,
        };
        args.insert(name.to_owned(), value);
    }
    Value::Object(args)
}

/// `s` in (up to) three pieces on character boundaries, for streaming
/// arguments as several deltas.
pub(crate) fn pieces(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return Vec::new();
    }
    let size = chars.len().div_ceil(3);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn natural_length_and_max_tokens() {
        let p = text(5, None, &[]);
        assert_eq!(p.text(), "This is a fake reply");
        assert_eq!(p.finish, Finish::Natural);
        let p = text(5, Some(2), &[]);
        assert_eq!(p.chunks, vec!["This", " is"]);
        assert_eq!(p.finish, Finish::Length);
        let p = text(5, Some(5), &[]);
        assert_eq!(p.finish, Finish::Natural);
        assert_eq!(text(20, None, &[]).tokens(), 20);
    }

    #[test]
    fn stop_sequences_cut_before_the_match() {
        let p = text(16, None, &["fake".into(), "Switchyard".into()]);
        assert_eq!(p.text(), "This is a ");
        assert_eq!(p.chunks, vec!["This", " is", " a", " "]);
        assert_eq!(p.finish, Finish::Stop("fake".into()));
        // A stop past the max_tokens cut does not count.
        let p = text(16, Some(3), &["reply".into()]);
        assert_eq!(p.finish, Finish::Length);
    }

    #[test]
    fn prompt_token_estimate() {
        assert_eq!(prompt_tokens(0), 1);
        assert_eq!(prompt_tokens(4), 1);
        assert_eq!(prompt_tokens(5), 2);
    }

    #[test]
    fn arguments_from_required_properties() {
        let schema = json!({
            "type": "object",
            "properties": {
                "city": {"type": "string"}, "days": {"type": "integer"},
                "metric": {"type": "boolean"}, "extra": {"type": "array"},
                "optional": {"type": "string"}
            },
            "required": ["city", "days", "metric", "extra"]
        });
        assert_eq!(
            tool_arguments(Some(&schema)),
            json!({"city": "x", "days": 1, "metric": true, "extra": null})
        );
        assert_eq!(tool_arguments(None), json!({}));
        let s = r#"{"city":"x","days":1}"#;
        let p = pieces(s);
        assert_eq!(p.len(), 3);
        assert_eq!(p.concat(), s);
    }
}
