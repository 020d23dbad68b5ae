//! FAKES of OpenAI, Azure OpenAI and Anthropic, served locally for tests.
//!
//! Nothing here talks to the real services. [`FakeProvider`] starts one
//! HTTP server (HTTP/1.1 and HTTP/2, loopback by default) that imitates
//! three external APIs on their real paths, so that Switchyard's provider
//! clients can be pointed at it instead of `api.openai.com`, an Azure
//! OpenAI resource or `api.anthropic.com`:
//!
//! - OpenAI: `POST /v1/chat/completions`, `POST /v1/completions`,
//!   `POST /v1/embeddings`, `GET /v1/models` (`Authorization: Bearer`).
//! - Azure OpenAI: `POST /openai/deployments/{deployment}/chat/completions`
//!   (and `/completions`, `/embeddings`) with `?api-version=` (`api-key`).
//! - Anthropic: `POST /v1/messages` (`x-api-key`, `anthropic-version`);
//!   `GET /v1/models` answers in Anthropic's shape when the request carries
//!   `x-api-key` or `anthropic-version`.
//!
//! The fakes follow the providers' wire formats (response JSON, SSE framing
//! and event order, error bodies, `429` with `retry-after`) and validate
//! what they receive, rejecting bad requests with the provider's own status
//! and error JSON, so a test fails when the router sends something the real
//! API would refuse. Replies are deterministic (see [`FakeConfig`]); faults
//! can be scripted at run time ([`FakeProvider::fail_next`]); every request
//! is recorded ([`FakeProvider::requests`]).

mod anthropic;
mod azure;
mod config;
mod faults;
mod http;
mod openai;
mod provider;
mod record;
mod reply;
mod server;
mod state;

pub use config::FakeConfig;
pub use faults::Fault;
pub use provider::FakeProvider;
pub use record::{Api, RECORDED_HEADERS, Received};
pub use reply::REPLY_WORDS;
