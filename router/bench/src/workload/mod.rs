//! What to send: each workload yields conversations, one user turn after another. A
//! single-turn request is a conversation of one turn. The runner keeps each conversation's
//! history (with the server's real replies) and sends turn `k` only after turn `k-1` answered.

pub mod dataset;
pub mod lengths;
pub mod shared_prefix;
pub mod synthetic;
pub mod text;

use std::sync::Arc;

pub use dataset::Dataset;
pub use lengths::LengthDist;
pub use shared_prefix::SharedPrefix;
pub use synthetic::Synthetic;

#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// Shared text sent first (a system message in chat; the start of the prompt otherwise).
    pub system: Option<Arc<str>>,
    pub turns: Vec<Turn>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub user: String,
    /// Output length asked for (`max_tokens`, with `ignore_eos` when set).
    pub max_tokens: u32,
}

/// A source of conversations; endless (finite sources cycle). Deterministic under its seed.
pub trait Workload: Send {
    fn next_conversation(&mut self) -> Conversation;
    /// One line for reports, e.g. `synthetic in=512 out=128`.
    fn describe(&self) -> String;
}
