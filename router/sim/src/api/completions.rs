//! `POST /v1/completions`.

use std::sync::Arc;

use bytes::Bytes;

use super::errors::ApiError;
use super::generate::{Format, Prepared, SeqOutput};
use super::request::{CompletionRequest, parse, plan_output, resolve_model};
use super::sse;
use super::wire::{Completion, CompletionChoice, Head, Usage, random_id, unix_now};
use crate::config::SimConfig;
use crate::engine::FinishReason;

/// Validates a completion request. A list of prompts gives one choice per
/// prompt (index = position), each its own engine sequence, with the usage
/// summed, as vLLM does.
pub(crate) fn prepare(cfg: &SimConfig, body: &[u8]) -> Result<Prepared, ApiError> {
    let req: CompletionRequest = parse(body)?;
    let model = resolve_model(cfg, req.model.as_deref())?;
    let lists = req.prompt.into_token_lists();
    if lists.is_empty() {
        return Err(ApiError::bad_request("prompt must not be empty"));
    }
    let mut prompts = Vec::with_capacity(lists.len());
    for tokens in lists {
        if tokens.is_empty() {
            return Err(ApiError::bad_request("Prompt cannot be empty"));
        }
        let plan = plan_output(cfg, &req.sampling, &tokens)?;
        prompts.push((tokens, plan));
    }
    Ok(Prepared {
        format: Arc::new(CompletionFormat {
            id: random_id("cmpl-"),
            created: unix_now(),
            model,
        }),
        prompts,
        stream: req.sampling.stream(),
        include_usage: req.sampling.include_usage(),
    })
}

struct CompletionFormat {
    id: String,
    created: u64,
    model: String,
}

impl CompletionFormat {
    fn head(&self) -> Head<'_> {
        Head {
            id: &self.id,
            object: "text_completion",
            created: self.created,
            model: &self.model,
        }
    }
}

impl Format for CompletionFormat {
    fn opening(&self, _index: u32) -> Option<Bytes> {
        None
    }

    fn token(&self, index: u32, text: &str, finish: Option<FinishReason>) -> Bytes {
        sse::event(&Completion {
            head: self.head(),
            choices: &[CompletionChoice {
                index,
                text,
                logprobs: (),
                finish_reason: finish.map(FinishReason::as_str),
                stop_reason: (),
                prompt_logprobs: None,
            }],
            usage: None,
            kv_transfer_params: None,
        })
    }

    fn usage(&self, usage: Usage) -> Bytes {
        sse::event(&Completion {
            head: self.head(),
            choices: &[],
            usage: Some(usage),
            kv_transfer_params: None,
        })
    }

    fn full(&self, outputs: &[SeqOutput], usage: Usage) -> Bytes {
        let choices: Vec<CompletionChoice<'_>> = outputs
            .iter()
            .zip(0u32..)
            .map(|(o, index)| CompletionChoice {
                index,
                text: &o.text,
                logprobs: (),
                finish_reason: Some(o.finish.as_str()),
                stop_reason: (),
                prompt_logprobs: Some(()),
            })
            .collect();
        let body = Completion {
            head: self.head(),
            choices: &choices,
            usage: Some(usage),
            kv_transfer_params: Some(()),
        };
        serde_json::to_vec(&body).unwrap_or_default().into()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn one_choice_per_prompt() {
        let cfg = SimConfig::default();
        let p = prepare(&cfg, br#"{"prompt":["abcd","efghijkl"],"max_tokens":3}"#).unwrap();
        assert_eq!(p.prompts.len(), 2);
        assert_eq!(p.prompts[1].0.len(), 2);
        assert!(prepare(&cfg, br#"{"prompt":[]}"#).is_err());
        assert!(prepare(&cfg, br#"{"prompt":""}"#).is_err());
        assert!(prepare(&cfg, br#"{"max_tokens":3}"#).is_err());
    }

    #[test]
    fn full_response_shape() {
        let f = CompletionFormat {
            id: "cmpl-1".into(),
            created: 5,
            model: "m".into(),
        };
        let outs = [SeqOutput {
            text: " the and".into(),
            finish: FinishReason::Length,
        }];
        let v: serde_json::Value =
            serde_json::from_slice(&f.full(&outs, Usage::generation(3, 2, 0))).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"id":"cmpl-1","object":"text_completion","created":5,"model":"m",
                "choices":[{"index":0,"text":" the and","logprobs":null,"finish_reason":"length",
                "stop_reason":null,"prompt_logprobs":null}],
                "usage":{"prompt_tokens":3,"total_tokens":5,"completion_tokens":2,
                "prompt_tokens_details":{"cached_tokens":0}},"kv_transfer_params":null})
        );
    }
}
