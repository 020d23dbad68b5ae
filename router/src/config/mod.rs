//! The router's YAML configuration: what it listens on, which models it
//! serves, which pools of endpoints serve them, and how it treats failures.
//! `load` parses and validates; every error names the field path and line.

mod load;
mod locate;
mod types;
mod validate;

pub use load::{ConfigError, ConfigIssue, LoadedConfig, load_file, load_str};
pub use types::*;
