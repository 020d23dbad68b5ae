//! Where requests go. A target turns one conversation turn into its protocol's request and
//! reports what happened and when; everything protocol-specific stays behind [`Target`], so
//! the KServe v2 and TorchServe targets plug in as one module each.

pub mod openai;
mod pinned;
mod sse;

use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

pub use openai::{Api, OpenAiTarget, OpenAiTargetConfig};
pub use pinned::PinnedTarget;

/// One turn to send, with the conversation so far.
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    pub system: Option<&'a str>,
    /// Earlier turns: (user text, the server's reply).
    pub history: &'a [(String, String)],
    pub user: &'a str,
    pub max_tokens: u32,
}

impl Exchange<'_> {
    /// The whole conversation as one prompt, for APIs that take text rather than messages.
    pub fn flattened(&self) -> String {
        let mut prompt = String::new();
        let mut push = |part: &str| {
            if !prompt.is_empty() {
                prompt.push('\n');
            }
            prompt.push_str(part);
        };
        if let Some(system) = self.system {
            push(system);
        }
        for (user, reply) in self.history {
            push(user);
            push(reply);
        }
        push(self.user);
        prompt
    }
}

/// What happened to one request. Times are taken as the bytes arrive.
#[derive(Debug)]
pub struct Outcome {
    /// Just before the request was handed to the connection.
    pub sent: Instant,
    /// First non-empty streamed token (streamed requests only).
    pub first_token: Option<Instant>,
    pub done: Instant,
    /// Gaps between consecutive token-bearing chunks after the first, microseconds.
    pub chunk_gaps_us: Vec<u32>,
    /// The router's `x-switchyard-endpoint` answer header, when there is one.
    pub endpoint: Option<String>,
    pub result: Result<Reply, Failure>,
}

#[derive(Debug, Default, Clone)]
pub struct Reply {
    /// Generated text, kept for the next turn of a multi-turn conversation.
    pub text: String,
    pub prompt_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    /// `usage.prompt_tokens_details.cached_tokens`.
    pub cached_tokens: Option<u64>,
    /// Token-bearing chunks seen (streamed).
    pub chunks: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// Short, stable kind used to group errors: `connect`, `timeout`, `http_503`,
    /// `stream_error`, `protocol`, `io`.
    pub kind: String,
    pub detail: String,
}

impl Failure {
    pub fn new(kind: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            detail: detail.into(),
        }
    }
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Outcome> + Send + 'a>>;

pub trait Target: Send + Sync {
    /// e.g. `chat http://127.0.0.1:8000 model=tiny-llama stream`.
    fn describe(&self) -> String;
    /// Sends one turn. Never fails outright: failures are in [`Outcome::result`].
    fn send<'a>(&'a self, exchange: Exchange<'a>) -> SendFuture<'a>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattening_keeps_every_turn_in_order() {
        let history = vec![("u1".to_string(), "a1".to_string())];
        let ex = Exchange {
            system: Some("sys"),
            history: &history,
            user: "u2",
            max_tokens: 3,
        };
        assert_eq!(ex.flattened(), "sys\nu1\na1\nu2");
    }
}
