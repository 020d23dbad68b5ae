use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LoggingConfig};

/// Sets up the global `tracing` subscriber. `RUST_LOG`, when set, overrides
/// the configured level. Calling it twice is harmless.
pub fn init(config: &LoggingConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
