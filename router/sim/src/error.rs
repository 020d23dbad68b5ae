//! Typed errors of the simulator's public API.

use std::net::SocketAddr;

/// Why the simulator could not start or serve.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The configuration is inconsistent (zero block size, negative speed, ...).
    #[error("invalid simulator config: {0}")]
    InvalidConfig(String),
    /// The listening socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The KV-event sockets could not be bound.
    #[error("cannot publish KV events: {0}")]
    KvEvents(String),
    /// Other socket errors (reading the bound address, ...).
    #[error("simulator I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// Error placed in a streaming response body to cut the connection mid-stream
/// (the `AbortStreamAfter` fault): hyper closes the connection without the
/// terminating chunk, which is what a crashing engine looks like to a client.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("stream aborted by fault injection")]
pub struct StreamAborted;
