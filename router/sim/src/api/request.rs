//! Request bodies as vLLM's OpenAI server accepts them (unknown fields are
//! ignored, as vLLM does), and the output-length decision.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::errors::ApiError;
use crate::config::{OutputLen, SimConfig};
use crate::engine::FinishReason;
use crate::hashing;

/// `stream_options`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct StreamOptions {
    #[serde(default)]
    pub include_usage: Option<bool>,
}

/// Fields shared by chat and text completions.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Sampling {
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub max_completion_tokens: Option<u32>,
    #[serde(default)]
    pub min_tokens: Option<u32>,
    #[serde(default)]
    pub ignore_eos: Option<bool>,
    #[serde(default)]
    pub seed: Option<i64>,
    #[serde(default)]
    pub stream: Option<bool>,
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
}

impl Sampling {
    pub(crate) fn stream(&self) -> bool {
        self.stream.unwrap_or(false)
    }

    pub(crate) fn include_usage(&self) -> bool {
        self.stream_options
            .as_ref()
            .and_then(|o| o.include_usage)
            .unwrap_or(false)
    }
}

/// One chat message; `content` may be a string, a list of parts or null.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatMessage {
    pub role: String,
    #[serde(default)]
    pub content: Option<Value>,
}

impl ChatMessage {
    /// The text of the message: text parts joined by newlines (as vLLM's
    /// chat-template preprocessing does); other parts are ignored.
    pub(crate) fn text(&self) -> String {
        match &self.content {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join("\n"),
            Some(other) => other.to_string(),
        }
    }
}

/// `POST /v1/chat/completions`.
#[derive(Debug, Deserialize)]
pub(crate) struct ChatRequest {
    #[serde(default)]
    pub model: Option<String>,
    pub messages: Vec<ChatMessage>,
    #[serde(default)]
    pub add_generation_prompt: Option<bool>,
    #[serde(flatten)]
    pub sampling: Sampling,
}

/// A prompt or embedding input: text, texts, tokens, or token lists.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum PromptInput {
    Text(String),
    Texts(Vec<String>),
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

impl PromptInput {
    /// Each prompt as token ids (text goes through the pseudo-tokenizer).
    pub(crate) fn into_token_lists(self) -> Vec<Vec<u32>> {
        use crate::tokenizer::tokenize;
        match self {
            PromptInput::Text(t) => vec![tokenize(&t)],
            PromptInput::Texts(ts) => ts.iter().map(|t| tokenize(t)).collect(),
            PromptInput::Tokens(t) => vec![t],
            PromptInput::TokenLists(ts) => ts,
        }
    }
}

/// `POST /v1/completions`.
#[derive(Debug, Deserialize)]
pub(crate) struct CompletionRequest {
    #[serde(default)]
    pub model: Option<String>,
    pub prompt: PromptInput,
    #[serde(flatten)]
    pub sampling: Sampling,
}

/// `POST /v1/embeddings`.
#[derive(Debug, Deserialize)]
pub(crate) struct EmbeddingRequest {
    #[serde(default)]
    pub model: Option<String>,
    pub input: PromptInput,
    #[serde(default)]
    pub encoding_format: Option<String>,
}

/// Parses a JSON body; any failure is a 400 with serde's message.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("Invalid request: {e}")))
}

/// The model name to report: the requested one if served (404 otherwise),
/// else the primary served name (vLLM makes `model` optional).
pub(crate) fn resolve_model(cfg: &SimConfig, model: Option<&str>) -> Result<String, ApiError> {
    match model {
        None => Ok(cfg.served_model_name.clone()),
        Some(m) if cfg.serves(m) => Ok(m.to_owned()),
        Some(m) => Err(ApiError::model_not_found(m)),
    }
}

/// How much one sequence will generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OutputPlan {
    pub output_len: u32,
    pub finish: FinishReason,
    /// Seed of the generated text.
    pub text_seed: u64,
}

/// Checks lengths against `max_model_len` (vLLM's messages) and draws the
/// output length: `max_tokens` with `ignore_eos` or `output_len: fixed`,
/// else uniform in `[max(1, min_tokens), max_tokens]` from a generator seeded
/// by (config seed, prompt tokens, request seed).
pub(crate) fn plan_output(
    cfg: &SimConfig,
    s: &Sampling,
    prompt: &[u32],
) -> Result<OutputPlan, ApiError> {
    let limit = cfg.max_model_len as usize;
    let prompt_len = prompt.len();
    if prompt_len >= limit {
        return Err(ApiError::bad_request(format!(
            "This model's maximum context length is {limit} tokens. However, your request has \
             {prompt_len} input tokens. Please reduce the length of the input messages."
        )));
    }
    let room = u32::try_from(limit - prompt_len).unwrap_or(u32::MAX);
    let max_tokens = match s.max_completion_tokens.or(s.max_tokens) {
        Some(0) => {
            return Err(ApiError::bad_request(
                "max_tokens must be at least 1, got 0.",
            ));
        }
        Some(m) if m > room => {
            return Err(ApiError::bad_request(format!(
                "This model's maximum context length is {limit} tokens. However, you requested \
                 {} tokens ({prompt_len} in the messages, {m} in the completion). Please reduce \
                 the length of the messages or completion.",
                prompt_len as u64 + u64::from(m)
            )));
        }
        Some(m) => m,
        None => cfg.default_max_tokens.min(room),
    };
    let min_tokens = s.min_tokens.unwrap_or(0);
    if min_tokens > max_tokens {
        return Err(ApiError::bad_request(format!(
            "min_tokens must be less than or equal to max_tokens={max_tokens}, got {min_tokens}."
        )));
    }
    let request_seed = s.seed.map_or(0x5eed, |v| v as u64);
    let seed = hashing::combine(hashing::hash_tokens(cfg.seed, prompt), request_seed);
    let mut rng = SmallRng::seed_from_u64(seed);
    let fixed = s.ignore_eos.unwrap_or(false) || cfg.output_len == OutputLen::Fixed;
    let output_len = if fixed {
        max_tokens
    } else {
        rng.random_range(min_tokens.max(1)..=max_tokens)
    };
    Ok(OutputPlan {
        output_len,
        finish: if output_len == max_tokens {
            FinishReason::Length
        } else {
            FinishReason::Stop
        },
        text_seed: rng.random(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn sampling(json: &str) -> Sampling {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn chat_request_parses_openai_shapes() {
        let r: ChatRequest = parse(
            br#"{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"a"},
            {"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"b"}]},
            {"role":"assistant","content":null}],"max_completion_tokens":5,"stream":true,
            "stream_options":{"include_usage":true},"temperature":0.7}"#,
        )
        .unwrap();
        assert_eq!(r.messages[0].text(), "a\nb");
        assert_eq!(r.messages[1].text(), "");
        assert!(r.sampling.stream() && r.sampling.include_usage());
        assert_eq!(r.sampling.max_completion_tokens, Some(5));
        assert!(parse::<ChatRequest>(br#"{"model":"m"}"#).is_err());
        assert!(parse::<ChatRequest>(b"{not json").is_err());
    }

    #[test]
    fn prompt_inputs() {
        let p = |j: &str| {
            parse::<CompletionRequest>(j.as_bytes())
                .unwrap()
                .prompt
                .into_token_lists()
        };
        assert_eq!(p(r#"{"prompt":"abcdefgh"}"#).len(), 1);
        assert_eq!(p(r#"{"prompt":["abcd","efgh","ij"]}"#).len(), 3);
        assert_eq!(p(r#"{"prompt":[1,2,3]}"#), vec![vec![1, 2, 3]]);
        assert_eq!(p(r#"{"prompt":[[1],[2,3]]}"#), vec![vec![1], vec![2, 3]]);
    }

    #[test]
    fn output_length_is_deterministic_and_bounded() {
        let cfg = SimConfig::default();
        let prompt: Vec<u32> = (0..30).collect();
        let s = sampling(r#"{"max_tokens":50}"#);
        let a = plan_output(&cfg, &s, &prompt).unwrap();
        assert_eq!(a, plan_output(&cfg, &s, &prompt).unwrap());
        let mut lens = std::collections::HashSet::new();
        for i in 0..200u32 {
            let p = plan_output(&cfg, &s, &[i]).unwrap();
            assert!((1..=50).contains(&p.output_len));
            assert_eq!(p.finish == FinishReason::Length, p.output_len == 50);
            lens.insert(p.output_len);
        }
        assert!(lens.len() > 20);
        let other_seed = SimConfig {
            seed: 9,
            ..SimConfig::default()
        };
        let differs = (0..20u32).any(|i| {
            plan_output(&cfg, &s, &[i]).unwrap() != plan_output(&other_seed, &s, &[i]).unwrap()
        });
        assert!(differs);
    }

    #[test]
    fn ignore_eos_and_fixed_give_max_tokens() {
        let cfg = SimConfig::default();
        let p = plan_output(
            &cfg,
            &sampling(r#"{"max_tokens":7,"ignore_eos":true}"#),
            &[1],
        );
        assert_eq!(p.unwrap().output_len, 7);
        let fixed = SimConfig {
            output_len: OutputLen::Fixed,
            ..SimConfig::default()
        };
        let p = plan_output(&fixed, &sampling(r#"{"max_tokens":9}"#), &[1]).unwrap();
        assert_eq!((p.output_len, p.finish), (9, FinishReason::Length));
        let p = plan_output(&fixed, &sampling("{}"), &[1]).unwrap();
        assert_eq!(p.output_len, cfg.default_max_tokens);
        let p = plan_output(&cfg, &sampling(r#"{"max_tokens":9,"min_tokens":9}"#), &[1]);
        assert_eq!(p.unwrap().output_len, 9);
    }

    #[test]
    fn length_limits_follow_vllm() {
        let cfg = SimConfig {
            max_model_len: 100,
            ..SimConfig::default()
        };
        let prompt = vec![0u32; 90];
        assert!(plan_output(&cfg, &sampling(r#"{"max_tokens":10}"#), &prompt).is_ok());
        let e = plan_output(&cfg, &sampling(r#"{"max_tokens":11}"#), &prompt).unwrap_err();
        assert!(e.message.contains("maximum context length is 100"));
        assert!(plan_output(&cfg, &sampling(r#"{"max_tokens":0}"#), &prompt).is_err());
        assert!(plan_output(&cfg, &sampling("{}"), &[0; 100]).is_err());
        // Without max_tokens the default is capped by the room left.
        let p = plan_output(&cfg, &sampling(r#"{"ignore_eos":true}"#), &prompt).unwrap();
        assert_eq!(p.output_len, 10);
        assert!(plan_output(&cfg, &sampling(r#"{"max_tokens":3,"min_tokens":4}"#), &[1]).is_err());
    }

    #[test]
    fn model_resolution() {
        let cfg = SimConfig::default();
        assert_eq!(resolve_model(&cfg, None).unwrap(), "sim-model");
        assert_eq!(resolve_model(&cfg, Some("sim-model")).unwrap(), "sim-model");
        assert_eq!(resolve_model(&cfg, Some("x")).unwrap_err().status, 404);
    }
}
