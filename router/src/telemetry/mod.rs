//! Background loops that read the fleet's state into endpoint snapshots.
//! The request path only ever reads what they wrote.

mod engine_scrape;

pub use engine_scrape::run_engine_scrape;
