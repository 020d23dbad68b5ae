//! Response JSON, field for field as vLLM's OpenAI server writes it (nulls
//! included where vLLM writes them, so strict clients see the same shape).

use serde::Serialize;

/// `usage`; `prompt_tokens_details` is always present for generation (vLLM
/// with `--enable-prompt-tokens-details`) and null for embeddings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Usage {
    pub prompt_tokens: u64,
    pub total_tokens: u64,
    pub completion_tokens: u64,
    pub prompt_tokens_details: Option<PromptTokensDetails>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub(crate) struct PromptTokensDetails {
    pub cached_tokens: u64,
}

impl Usage {
    pub(crate) fn generation(prompt: u64, completion: u64, cached: u64) -> Self {
        Self {
            prompt_tokens: prompt,
            total_tokens: prompt + completion,
            completion_tokens: completion,
            prompt_tokens_details: Some(PromptTokensDetails {
                cached_tokens: cached,
            }),
        }
    }

    pub(crate) fn add(&mut self, other: &Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.total_tokens += other.total_tokens;
        self.completion_tokens += other.completion_tokens;
        if let (Some(a), Some(b)) = (&mut self.prompt_tokens_details, other.prompt_tokens_details) {
            a.cached_tokens += b.cached_tokens;
        }
    }
}

/// Fields every response and chunk starts with.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Head<'a> {
    pub id: &'a str,
    pub object: &'static str,
    pub created: u64,
    pub model: &'a str,
}

/// `chat.completion`.
#[derive(Serialize)]
pub(crate) struct ChatCompletion<'a> {
    #[serde(flatten)]
    pub head: Head<'a>,
    pub choices: Vec<ChatChoice<'a>>,
    pub service_tier: (),
    pub system_fingerprint: (),
    pub usage: Usage,
    pub prompt_logprobs: (),
    pub kv_transfer_params: (),
}

#[derive(Serialize)]
pub(crate) struct ChatChoice<'a> {
    pub index: u32,
    pub message: AssistantMessage<'a>,
    pub logprobs: (),
    pub finish_reason: &'a str,
    pub stop_reason: (),
}

#[derive(Serialize)]
pub(crate) struct AssistantMessage<'a> {
    pub role: &'static str,
    pub content: &'a str,
    pub refusal: (),
    pub annotations: (),
    pub audio: (),
    pub function_call: (),
    pub tool_calls: &'static [u8],
    pub reasoning_content: (),
}

impl<'a> AssistantMessage<'a> {
    pub(crate) fn new(content: &'a str) -> Self {
        Self {
            role: "assistant",
            content,
            refusal: (),
            annotations: (),
            audio: (),
            function_call: (),
            tool_calls: &[],
            reasoning_content: (),
        }
    }
}

/// `chat.completion.chunk`.
#[derive(Serialize)]
pub(crate) struct ChatChunk<'a> {
    #[serde(flatten)]
    pub head: Head<'a>,
    pub choices: &'a [ChatChunkChoice<'a>],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
}

#[derive(Serialize)]
pub(crate) struct ChatChunkChoice<'a> {
    pub index: u32,
    pub delta: Delta<'a>,
    pub logprobs: (),
    pub finish_reason: Option<&'a str>,
    /// Written only on the last chunk, as vLLM does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<()>,
}

#[derive(Serialize)]
pub(crate) struct Delta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    pub content: &'a str,
}

/// `text_completion`, whole or chunk.
#[derive(Serialize)]
pub(crate) struct Completion<'a> {
    #[serde(flatten)]
    pub head: Head<'a>,
    pub choices: &'a [CompletionChoice<'a>],
    pub usage: Option<Usage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kv_transfer_params: Option<()>,
}

#[derive(Serialize)]
pub(crate) struct CompletionChoice<'a> {
    pub index: u32,
    pub text: &'a str,
    pub logprobs: (),
    pub finish_reason: Option<&'a str>,
    pub stop_reason: (),
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_logprobs: Option<()>,
}

/// `list` of `embedding`s.
#[derive(Serialize)]
pub(crate) struct EmbeddingList<'a> {
    #[serde(flatten)]
    pub head: Head<'a>,
    pub data: Vec<EmbeddingData>,
    pub usage: Usage,
}

#[derive(Serialize)]
pub(crate) struct EmbeddingData {
    pub index: u32,
    pub object: &'static str,
    pub embedding: EmbeddingValue,
}

/// Floats, or base64 of little-endian f32s (`encoding_format: "base64"`,
/// the OpenAI Python client's default).
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum EmbeddingValue {
    Float(Vec<f32>),
    Base64(String),
}

/// A random 32-hex-digit request id suffix, like vLLM's `random_uuid()`.
pub(crate) fn random_id(prefix: &str) -> String {
    format!("{prefix}{:032x}", rand::random::<u128>())
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    fn head() -> Head<'static> {
        Head {
            id: "chatcmpl-1",
            object: "chat.completion.chunk",
            created: 7,
            model: "m",
        }
    }

    #[test]
    fn chat_chunks_match_vllm() {
        let first = ChatChunk {
            head: head(),
            choices: &[ChatChunkChoice {
                index: 0,
                delta: Delta {
                    role: Some("assistant"),
                    content: "",
                },
                logprobs: (),
                finish_reason: None,
                stop_reason: None,
            }],
            usage: None,
        };
        assert_eq!(
            serde_json::to_value(&first).unwrap(),
            json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"m",
                "choices":[{"index":0,"delta":{"role":"assistant","content":""},
                "logprobs":null,"finish_reason":null}]})
        );
        let last = ChatChunk {
            head: head(),
            choices: &[ChatChunkChoice {
                index: 0,
                delta: Delta {
                    role: None,
                    content: " the",
                },
                logprobs: (),
                finish_reason: Some("length"),
                stop_reason: Some(()),
            }],
            usage: None,
        };
        assert_eq!(
            serde_json::to_value(&last).unwrap()["choices"][0],
            json!({"index":0,"delta":{"content":" the"},"logprobs":null,
                "finish_reason":"length","stop_reason":null})
        );
        let usage = ChatChunk {
            head: head(),
            choices: &[],
            usage: Some(Usage::generation(10, 3, 8)),
        };
        assert_eq!(
            serde_json::to_value(&usage).unwrap(),
            json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":7,"model":"m",
                "choices":[],"usage":{"prompt_tokens":10,"total_tokens":13,
                "completion_tokens":3,"prompt_tokens_details":{"cached_tokens":8}}})
        );
    }

    #[test]
    fn chat_completion_matches_vllm() {
        let c = ChatCompletion {
            head: Head {
                object: "chat.completion",
                ..head()
            },
            choices: vec![ChatChoice {
                index: 0,
                message: AssistantMessage::new("hi"),
                logprobs: (),
                finish_reason: "stop",
                stop_reason: (),
            }],
            service_tier: (),
            system_fingerprint: (),
            usage: Usage::generation(1, 1, 0),
            prompt_logprobs: (),
            kv_transfer_params: (),
        };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["object"], "chat.completion");
        assert_eq!(v["choices"][0]["message"]["role"], "assistant");
        assert_eq!(v["choices"][0]["message"]["content"], "hi");
        assert_eq!(v["choices"][0]["message"]["tool_calls"], json!([]));
        assert_eq!(v["choices"][0]["logprobs"], json!(null));
        assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    }

    #[test]
    fn ids_and_usage_sums() {
        let id = random_id("cmpl-");
        assert_eq!(id.len(), 5 + 32);
        assert!(id[5..].chars().all(|c| c.is_ascii_hexdigit()));
        let mut u = Usage::generation(1, 2, 0);
        u.add(&Usage::generation(10, 20, 5));
        assert_eq!(u, Usage::generation(11, 22, 5));
    }
}
