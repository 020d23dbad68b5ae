//! Token usage in OpenAI's terms: what every provider's answer is reduced
//! to for cost accounting.

use serde_json::{Value, json};

/// Token usage in OpenAI's terms, for cost accounting and the OpenAI `usage` object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// All input tokens: uncached, read from cache and written to cache.
    pub prompt_tokens: u64,
    /// Output tokens (Anthropic's `output_tokens`, thinking included).
    pub completion_tokens: u64,
    /// Input tokens read from Anthropic's prompt cache.
    pub cached_tokens: u64,
}

impl Usage {
    /// Prompt plus completion tokens.
    pub fn total_tokens(&self) -> u64 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }

    /// The OpenAI `usage` object.
    pub fn to_openai(&self) -> Value {
        json!({
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens(),
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
        })
    }
}

impl Usage {
    /// Reads an OpenAI `usage` object (chat, completions, embeddings).
    pub fn from_openai(usage: &Value) -> Option<Usage> {
        let count = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
        Some(Usage {
            prompt_tokens: usage.get("prompt_tokens")?.as_u64()?,
            completion_tokens: count(usage.get("completion_tokens")),
            cached_tokens: count(
                usage
                    .get("prompt_tokens_details")
                    .and_then(|d| d.get("cached_tokens")),
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_openai_usage() {
        let usage = Usage {
            prompt_tokens: 10,
            completion_tokens: 5,
            cached_tokens: 4,
        };
        assert_eq!(Usage::from_openai(&usage.to_openai()), Some(usage));
        assert_eq!(
            Usage::from_openai(&json!({"prompt_tokens": 3, "total_tokens": 3})),
            Some(Usage {
                prompt_tokens: 3,
                ..Usage::default()
            })
        );
        assert_eq!(Usage::from_openai(&Value::Null), None);
    }
}
