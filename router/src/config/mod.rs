//! The router's YAML configuration: what it listens on, which models it
//! serves, which pools of endpoints serve them, and how it treats failures.
//! `load` parses and validates; every error names the field path and line.

mod gpu_types;
mod load;
mod locate;
mod model_types;
mod spill_types;
mod types;
mod validate;
mod validate_spill;

pub use gpu_types::*;
pub use load::{ConfigError, ConfigIssue, LoadedConfig, load_file, load_str};
pub use model_types::*;
pub use spill_types::*;
pub use types::*;
