//! Anthropic Messages API <-> OpenAI chat completions translation.
//!
//! The router speaks OpenAI's chat-completions format to its clients; when it
//! spills a request to Anthropic it translates the request with
//! [`messages_request`], the answer with [`chat_completion`] (or, streamed,
//! with [`StreamTranslator`]), and Anthropic's error responses with
//! [`openai_error`]. Everything here is pure JSON in, JSON out: no I/O.
//!
//! A request that uses something Anthropic cannot do faithfully is refused
//! with [`TranslateError::Unsupported`], so that the router keeps it local
//! rather than answering it differently from what the client asked for.
//!
//! Choices this module makes where the two APIs differ:
//! - `system`/`developer` messages, wherever they appear, are joined with a
//!   blank line into Anthropic's top-level `system` string (their position in
//!   the conversation is lost: Anthropic has no mid-conversation system turn).
//! - Message `content` is always sent as an array of blocks, so that
//!   consecutive same-role messages (and consecutive `tool` messages, which
//!   become `tool_result` blocks in one `user` message) can be merged.
//! - A conversation that ends with an assistant message is `Unsupported`:
//!   OpenAI writes a new reply after it, Anthropic would continue it as a
//!   prefill.
//! - `temperature` is clamped to 0..=1, not scaled; `top_p` equal to 1 (the
//!   identity, which many clients send by default) is dropped because newer
//!   Claude models reject `temperature` and `top_p` together.
//! - Ignored, as they do not change what the answer is: `stream_options`
//!   (the caller reads `include_usage`), `seed`, `frequency_penalty`,
//!   `presence_penalty`, `store`, `metadata`, `service_tier`, `prediction`,
//!   `reasoning_effort`, `verbosity`, an empty `logit_bias`, message `name`,
//!   image `detail`, tool `strict`; `tool_choice` and `parallel_tool_calls`
//!   without tools. `user` (or else `safety_identifier`) becomes
//!   `metadata.user_id`.
//! - `Unsupported`: `n` > 1, `logprobs`, `top_logprobs`, `audio`, audio
//!   `modalities`, a non-empty `logit_bias` (token ids of another tokenizer,
//!   often used to force or ban answers), `response_format` `json_object` or
//!   `json_schema` (Anthropic's structured output is a different, opt-in
//!   contract, so the answer would not be guaranteed to follow the schema),
//!   `web_search_options`, legacy `functions`/`function_call` and `function`
//!   messages, audio and file content parts, non-function tools, and images
//!   that are not JPEG, PNG, GIF or WebP.
//! - Response ids are Anthropic's message id prefixed with `chatcmpl-`, so a
//!   client sees OpenAI's id shape and the router's logs can still find it.

mod error;
mod messages;
mod request;
mod response;
mod stream;

#[cfg(test)]
mod error_tests;
#[cfg(test)]
mod request_tests;
#[cfg(test)]
mod response_tests;
#[cfg(test)]
mod stream_tests;

pub use error::openai_error;
pub use request::messages_request;
pub use response::chat_completion;
pub use stream::StreamTranslator;

use serde_json::Value;

/// The `anthropic-version` header value the translation is written against.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// Why a translation could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    /// The OpenAI request uses something Anthropic cannot do (n > 1, logprobs, audio, ...):
    /// the router then keeps the request local instead of spilling it.
    #[error("not translatable to Anthropic: {0}")]
    Unsupported(String),
    /// The input is malformed (not the shape the format requires).
    #[error("invalid: {0}")]
    Invalid(String),
    /// Anthropic sent an `error` event mid-stream. `status` and `body` are the
    /// HTTP status and OpenAI error object [`openai_error`] gives for it: the
    /// caller sends `body` as the last `data:` payload (headers are gone).
    #[error("Anthropic stream error (HTTP {status} equivalent): {body}")]
    Upstream {
        /// The status an unstreamed answer with this error would have had.
        status: u16,
        /// `{"error":{"message","type","param","code"}}`.
        body: Value,
    },
}

pub use super::usage::Usage;

/// Anthropic usage counters, as both the Message object and the stream's
/// `message_start`/`message_delta` events carry them. Absent fields stay
/// `None` so that a partial `message_delta` does not zero earlier counts.
#[derive(Debug, Clone, Copy, Default)]
struct AnthropicUsage {
    input: Option<u64>,
    cache_read: Option<u64>,
    cache_creation: Option<u64>,
    output: Option<u64>,
}

impl AnthropicUsage {
    fn parse(usage: Option<&Value>) -> Self {
        let field = |name: &str| usage.and_then(|u| u.get(name)).and_then(Value::as_u64);
        Self {
            input: field("input_tokens"),
            cache_read: field("cache_read_input_tokens"),
            cache_creation: field("cache_creation_input_tokens"),
            output: field("output_tokens"),
        }
    }

    /// Later counts win: Anthropic's stream usage is cumulative.
    fn update(&mut self, later: Self) {
        self.input = later.input.or(self.input);
        self.cache_read = later.cache_read.or(self.cache_read);
        self.cache_creation = later.cache_creation.or(self.cache_creation);
        self.output = later.output.or(self.output);
    }

    fn to_usage(self) -> Usage {
        let cache_read = self.cache_read.unwrap_or(0);
        Usage {
            prompt_tokens: self
                .input
                .unwrap_or(0)
                .saturating_add(cache_read)
                .saturating_add(self.cache_creation.unwrap_or(0)),
            completion_tokens: self.output.unwrap_or(0),
            cached_tokens: cache_read,
        }
    }
}

/// Anthropic `stop_reason` -> OpenAI `finish_reason`.
fn finish_reason(stop_reason: Option<&str>) -> &'static str {
    match stop_reason {
        Some("max_tokens" | "model_context_window_exceeded") => "length",
        Some("tool_use") => "tool_calls",
        Some("refusal") => "content_filter",
        // end_turn, stop_sequence, pause_turn; unknown reasons are new kinds
        // of normal ending more likely than errors.
        _ => "stop",
    }
}

/// The OpenAI id for an Anthropic message id.
fn completion_id(message_id: &str) -> String {
    format!("chatcmpl-{message_id}")
}
