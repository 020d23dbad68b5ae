//! Clients for the external APIs the router spills over to: OpenAI, Azure
//! OpenAI and Anthropic, with the translation between OpenAI's chat format
//! and Anthropic's Messages API.

pub mod anthropic;
pub mod client;
pub mod usage;

pub use client::{Operation, ProviderApi, ProviderClient, ProviderError, RetryPolicy};
pub use usage::Usage;
