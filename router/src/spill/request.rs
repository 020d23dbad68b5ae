//! A spilled request in the provider's format, and the spend to reserve
//! for it.

use bytes::Bytes;
use serde_json::{Map, Value};
use switchyard_backends::providers::{Operation, anthropic};

use super::Target;
use super::budget::cost;
use crate::config::ProviderKind;
use switchyard_backends::providers::Usage;

/// Request fields that vLLM and SGLang accept beyond OpenAI's API. OpenAI
/// and Azure refuse unknown fields, so a spilled request goes without them
/// (the provider's own defaults apply: `ignore_eos` and the like are
/// benchmarking and engine-tuning knobs with no OpenAI equivalent).
const ENGINE_EXTENSIONS: &[&str] = &[
    "ignore_eos",
    "top_k",
    "min_p",
    "repetition_penalty",
    "length_penalty",
    "use_beam_search",
    "min_tokens",
    "stop_token_ids",
    "include_stop_str_in_output",
    "skip_special_tokens",
    "spaces_between_special_tokens",
    "truncate_prompt_tokens",
    "prompt_logprobs",
    "allowed_token_ids",
    "bad_words",
    "add_generation_prompt",
    "continue_final_message",
    "add_special_tokens",
    "documents",
    "chat_template",
    "chat_template_kwargs",
    "mm_processor_kwargs",
    "guided_json",
    "guided_regex",
    "guided_choice",
    "guided_grammar",
    "guided_decoding_backend",
    "guided_whitespace_pattern",
    "structured_outputs",
    "priority",
    "request_id",
    "cache_salt",
    "kv_transfer_params",
    "vllm_xargs",
    "return_tokens_as_token_ids",
    "return_token_ids",
    "logits_processors",
    "regex",
    "ebnf",
    "no_stop_trim",
    "lora_path",
    "separate_reasoning",
    "stream_reasoning",
];

/// What goes to the provider.
pub struct ProviderRequest {
    pub body: Bytes,
    /// The client did not ask for the usage chunk the router asked for
    /// (to count spend), so it is removed from the stream.
    pub strip_usage_chunk: bool,
    /// The client asked for `stream_options.include_usage`.
    pub client_wants_usage: bool,
}

/// Why a target cannot take a request.
#[derive(Debug)]
pub struct NotSpillable(pub String);

pub fn build(
    target: &Target,
    operation: Operation,
    request: &Map<String, Value>,
    stream: bool,
) -> Result<ProviderRequest, NotSpillable> {
    if !target.provider.client.supports(operation) {
        return Err(NotSpillable(format!(
            "{} has no {operation:?} API",
            target.provider.label
        )));
    }
    let client_wants_usage = stream
        && request
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
    let body = match target.provider.kind {
        ProviderKind::Anthropic => {
            let value = Value::Object(request.clone());
            anthropic::messages_request(&value, &target.model, target.max_tokens)
                .map_err(|e| NotSpillable(e.to_string()))?
        }
        ProviderKind::OpenAi | ProviderKind::Azure => {
            let mut out = request.clone();
            out.retain(|field, _| !ENGINE_EXTENSIONS.contains(&field.as_str()));
            out.insert("model".into(), Value::String(target.model.clone()));
            if stream && !client_wants_usage {
                // Usage arrives only when asked for; the router needs it to
                // count spend, and drops that chunk again for the client.
                let options = out
                    .entry("stream_options")
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(options) = options {
                    options.insert("include_usage".into(), Value::Bool(true));
                }
            }
            Value::Object(out)
        }
    };
    let bytes = serde_json::to_vec(&body).map_err(|e| NotSpillable(e.to_string()))?;
    Ok(ProviderRequest {
        body: Bytes::from(bytes),
        strip_usage_chunk: stream
            && !client_wants_usage
            && target.provider.kind != ProviderKind::Anthropic,
        client_wants_usage,
    })
}

/// Spend to hold before sending: about four bytes of the body per input
/// token, and the request's own output limit (or the target's).
pub fn estimate(
    target: &Target,
    operation: Operation,
    request: &Map<String, Value>,
    body_len: usize,
) -> f64 {
    let output = match operation {
        Operation::Embeddings => 0,
        _ => ["max_completion_tokens", "max_tokens"]
            .iter()
            .find_map(|f| request.get(*f).and_then(Value::as_u64))
            .unwrap_or(u64::from(target.max_tokens)),
    };
    let usage = Usage {
        prompt_tokens: (body_len as u64).div_ceil(4),
        completion_tokens: output,
        cached_tokens: 0,
    };
    cost(&usage, &target.price)
}
