//! Prompt prefixes for cache-aware routing: rendering a request into the blocks the engine
//! will cache, the bounded index learned from the router's own decisions, the exact index
//! fed by the engines' KV-cache events, and the audit of predictions against what the
//! engines report.

pub mod audit;
pub mod blocks;
pub mod bridged_match;
pub mod event_index;
pub mod index;
pub mod keying;

pub use audit::PrefixAudit;
pub use blocks::{block_hashes, render_chat, render_completion, token_block_key, token_block_keys};
pub use bridged_match::match_confirmed_or_bridged;
pub use event_index::{EventHolders, KvEventIndex};
pub use index::{MAX_ENDPOINTS, PrefixIndex};
pub use keying::{PromptBlocks, PromptKeying};
