//! Prompt prefixes for cache-aware routing: rendering a request into the text the engine will
//! see, hashing it in blocks, and the bounded index of which endpoint holds which blocks.

pub mod blocks;
pub mod index;

pub use blocks::{block_hashes, render_chat, render_completion};
pub use index::{MAX_ENDPOINTS, PrefixIndex};
