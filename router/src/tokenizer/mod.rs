//! The prompt an engine will see, as token ids: what token-keyed prefix routing needs to name
//! the same KV-cache blocks as the engine does. Two tokenizers: the engine's own (a local
//! `tokenizer.json`, with the chat template from `tokenizer_config.json`, no network), or the
//! simulator's pseudo-tokenizer, for pools of `switchyard sim` engines.

pub(crate) mod chat_template;
mod huggingface;

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::value::RawValue;
use switchyard_sim::tokenizer as sim;

pub use huggingface::HuggingFaceTokenizer;

use crate::config::{TokenizerConfig, TokenizerKind};

#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("tokenizer `path` is required for a huggingface tokenizer")]
    MissingPath,
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot load tokenizer {path}: {message}")]
    Load { path: PathBuf, message: String },
    #[error("{path} is not a valid tokenizer_config.json: {message}")]
    Config { path: PathBuf, message: String },
    #[error("chat template does not compile: {0}")]
    Template(String),
}

pub enum PromptTokenizer {
    HuggingFace(Box<HuggingFaceTokenizer>),
    /// `switchyard sim`'s pseudo-tokenizer and ChatML template.
    Simulator,
}

impl std::fmt::Debug for PromptTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::HuggingFace(_) => f.write_str("PromptTokenizer::HuggingFace"),
            Self::Simulator => f.write_str("PromptTokenizer::Simulator"),
        }
    }
}

/// The fields of a request body that decide its prompt tokens.
#[derive(Deserialize)]
pub struct ChatRequest<'a> {
    #[serde(borrow)]
    pub messages: &'a RawValue,
    #[serde(default)]
    pub add_generation_prompt: Option<bool>,
    /// vLLM's default for chat is `false`: the template adds the special tokens itself.
    #[serde(default)]
    pub add_special_tokens: Option<bool>,
    #[serde(default, borrow)]
    pub tools: Option<&'a RawValue>,
    #[serde(default, borrow)]
    pub chat_template_kwargs: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct CompletionRequest {
    prompt: Prompt,
    #[serde(default)]
    add_special_tokens: Option<bool>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Prompt {
    Text(String),
    Tokens(Vec<u32>),
    /// A batch: its first prompt leads, as for the byte-keyed index.
    Texts(Vec<String>),
    TokenBatch(Vec<Vec<u32>>),
}

#[derive(Deserialize)]
struct SimMessage {
    #[serde(default)]
    role: String,
    #[serde(default)]
    content: Option<serde_json::Value>,
}

impl PromptTokenizer {
    pub fn load(config: &TokenizerConfig) -> Result<Self, TokenizerError> {
        match config.kind {
            TokenizerKind::Simulator => Ok(Self::Simulator),
            TokenizerKind::Huggingface => {
                let path = config.path.as_ref().ok_or(TokenizerError::MissingPath)?;
                HuggingFaceTokenizer::load(path, config.chat_template.as_deref())
                    .map(|t| Self::HuggingFace(Box::new(t)))
            }
        }
    }

    /// Token ids of the prompt the engine will build from this request, or `None` when the
    /// request is not a completion or chat request this tokenizer can render.
    pub fn prompt_tokens(&self, path: &str, body: &[u8]) -> Option<Vec<u32>> {
        match path {
            "/v1/chat/completions" => {
                let chat: ChatRequest<'_> = serde_json::from_slice(body).ok()?;
                match self {
                    Self::HuggingFace(hf) => hf.chat_tokens(&chat),
                    Self::Simulator => simulator_chat_tokens(&chat),
                }
            }
            "/v1/completions" => {
                let completion: CompletionRequest = serde_json::from_slice(body).ok()?;
                let text = match completion.prompt {
                    Prompt::Tokens(tokens) => return Some(tokens),
                    Prompt::TokenBatch(mut batch) if !batch.is_empty() => {
                        return Some(batch.swap_remove(0));
                    }
                    Prompt::Text(text) => text,
                    Prompt::Texts(mut texts) if !texts.is_empty() => texts.swap_remove(0),
                    _ => return None,
                };
                match self {
                    Self::HuggingFace(hf) => {
                        hf.encode(&text, completion.add_special_tokens.unwrap_or(true))
                    }
                    Self::Simulator => Some(sim::tokenize(&text)),
                }
            }
            _ => None,
        }
    }
}

fn simulator_chat_tokens(chat: &ChatRequest<'_>) -> Option<Vec<u32>> {
    let messages: Vec<SimMessage> = serde_json::from_str(chat.messages.get()).ok()?;
    let texts: Vec<(String, String)> = messages
        .into_iter()
        .map(|m| (m.role, content_text(m.content.as_ref())))
        .collect();
    let prompt = sim::render_chat(
        texts.iter().map(|(r, c)| (r.as_str(), c.as_str())),
        chat.add_generation_prompt.unwrap_or(true),
    );
    Some(sim::tokenize(&prompt))
}

/// Message content as the simulator reads it: a string, or its text parts joined.
fn content_text(content: Option<&serde_json::Value>) -> String {
    match content {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(|t| t.as_str()))
            .collect(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulator_tokens_match_what_the_simulator_computes() {
        let t = PromptTokenizer::Simulator;
        let body = br#"{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi"}]}]}"#;
        let expected = sim::tokenize(&sim::render_chat(
            [("system", "be brief"), ("user", "hi")],
            true,
        ));
        assert_eq!(
            t.prompt_tokens("/v1/chat/completions", body),
            Some(expected)
        );
        assert_eq!(
            t.prompt_tokens("/v1/completions", br#"{"prompt":"abcdefgh"}"#),
            Some(sim::tokenize("abcdefgh"))
        );
        assert_eq!(
            t.prompt_tokens("/v1/completions", br#"{"prompt":[5,6,7]}"#),
            Some(vec![5, 6, 7]),
            "token prompts are used as they are"
        );
        assert_eq!(t.prompt_tokens("/v1/embeddings", br#"{"input":"x"}"#), None);
        assert_eq!(t.prompt_tokens("/v1/completions", b"not json"), None);
    }
}
