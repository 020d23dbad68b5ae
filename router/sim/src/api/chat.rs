//! `POST /v1/chat/completions`.

use std::sync::Arc;

use bytes::Bytes;

use super::errors::ApiError;
use super::generate::{Format, Prepared, SeqOutput};
use super::request::{ChatRequest, parse, plan_output, resolve_model};
use super::sse;
use super::wire::{
    AssistantMessage, ChatChoice, ChatChunk, ChatChunkChoice, ChatCompletion, Delta, Head, Usage,
    random_id, unix_now,
};
use crate::config::SimConfig;
use crate::engine::FinishReason;
use crate::tokenizer::{render_chat, tokenize};

/// Validates a chat request: messages rendered through the chat template
/// into one prompt, one choice (`n` is ignored).
pub(crate) fn prepare(cfg: &SimConfig, body: &[u8]) -> Result<Prepared, ApiError> {
    let req: ChatRequest = parse(body)?;
    let model = resolve_model(cfg, req.model.as_deref())?;
    if req.messages.is_empty() {
        return Err(ApiError::bad_request("messages must not be empty"));
    }
    let texts: Vec<(&str, String)> = req
        .messages
        .iter()
        .map(|m| (m.role.as_str(), m.text()))
        .collect();
    let prompt = render_chat(
        texts.iter().map(|(r, c)| (*r, c.as_str())),
        req.add_generation_prompt.unwrap_or(true),
    );
    let tokens = tokenize(&prompt);
    let plan = plan_output(cfg, &req.sampling, &tokens)?;
    Ok(Prepared {
        format: Arc::new(ChatFormat {
            id: random_id("chatcmpl-"),
            created: unix_now(),
            model,
        }),
        prompts: vec![(tokens, plan)],
        stream: req.sampling.stream(),
        include_usage: req.sampling.include_usage(),
    })
}

struct ChatFormat {
    id: String,
    created: u64,
    model: String,
}

impl ChatFormat {
    fn head(&self, object: &'static str) -> Head<'_> {
        Head {
            id: &self.id,
            object,
            created: self.created,
            model: &self.model,
        }
    }

    fn chunk(&self, choice: ChatChunkChoice<'_>) -> Bytes {
        sse::event(&ChatChunk {
            head: self.head("chat.completion.chunk"),
            choices: &[choice],
            usage: None,
        })
    }
}

impl Format for ChatFormat {
    fn opening(&self, index: u32) -> Option<Bytes> {
        Some(self.chunk(ChatChunkChoice {
            index,
            delta: Delta {
                role: Some("assistant"),
                content: "",
            },
            logprobs: (),
            finish_reason: None,
            stop_reason: None,
        }))
    }

    fn token(&self, index: u32, text: &str, finish: Option<FinishReason>) -> Bytes {
        self.chunk(ChatChunkChoice {
            index,
            delta: Delta {
                role: None,
                content: text,
            },
            logprobs: (),
            finish_reason: finish.map(FinishReason::as_str),
            stop_reason: finish.map(|_| ()),
        })
    }

    fn usage(&self, usage: Usage) -> Bytes {
        sse::event(&ChatChunk {
            head: self.head("chat.completion.chunk"),
            choices: &[],
            usage: Some(usage),
        })
    }

    fn full(&self, outputs: &[SeqOutput], usage: Usage) -> Bytes {
        let choices = outputs
            .iter()
            .zip(0u32..)
            .map(|(o, index)| ChatChoice {
                index,
                message: AssistantMessage::new(&o.text),
                logprobs: (),
                finish_reason: o.finish.as_str(),
                stop_reason: (),
            })
            .collect();
        let body = ChatCompletion {
            head: self.head("chat.completion"),
            choices,
            service_tier: (),
            system_fingerprint: (),
            usage,
            prompt_logprobs: (),
            kv_transfer_params: (),
        };
        serde_json::to_vec(&body).unwrap_or_default().into()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn prepare_renders_messages_into_one_prompt() {
        let cfg = SimConfig::default();
        let p = prepare(
            &cfg,
            br#"{"model":"sim-model","messages":[{"role":"user","content":"hello"}],"max_tokens":4}"#,
        )
        .unwrap();
        assert_eq!(p.prompts.len(), 1);
        let expected = "<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n";
        assert_eq!(p.prompts[0].0, tokenize(expected));
        assert!(!p.stream);
        assert!(
            prepare(
                &cfg,
                br#"{"model":"nope","messages":[{"role":"user","content":"x"}]}"#
            )
            .is_err()
        );
        assert!(prepare(&cfg, br#"{"messages":[]}"#).is_err());
    }

    #[test]
    fn chunks_carry_the_request_id() {
        let f = ChatFormat {
            id: "chatcmpl-abc".into(),
            created: 1,
            model: "m".into(),
        };
        let ev = f.token(0, " the", Some(FinishReason::Stop));
        let text = std::str::from_utf8(&ev).unwrap();
        assert!(text.starts_with("data: {\"id\":\"chatcmpl-abc\""));
        assert!(text.ends_with("}\n\n"));
        let v: serde_json::Value =
            serde_json::from_str(text.trim_start_matches("data: ").trim()).unwrap();
        assert_eq!(v["choices"][0]["finish_reason"], "stop");
        assert_eq!(v["choices"][0]["delta"]["content"], " the");
    }
}
