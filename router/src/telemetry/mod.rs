//! Background loops that read the fleet's state into endpoint snapshots and indexes.
//! The request path only ever reads what they wrote.

mod engine_scrape;
pub mod gpu;
mod kv_events;

pub use engine_scrape::run_engine_scrape;
pub use kv_events::KvEventFollower;
