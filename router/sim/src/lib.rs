//! Switchyard's engine simulator: a fake vLLM 0.32 server.
//!
//! It speaks vLLM's OpenAI-compatible HTTP API on the wire (chat and text
//! completions, streamed or not, embeddings, models, health, Prometheus
//! metrics with vLLM's names) and models what matters to a router: a
//! block-based prefix cache with LRU eviction, a FIFO scheduler limited by
//! `max_num_seqs` and free KV blocks, and prefill/decode timing that slows
//! with the batch. Token counts and cache hits are deterministic for a given
//! request sequence and seed; latencies are real time.
//!
//! It serves two purposes: `switchyard sim` (evaluating routing policies
//! without GPUs) and the fixture of the router's fast integration tests,
//! which drive it in-process through [`Simulator`] (stats, fault injection).
//!
//! Tokenization is one token per 4 bytes of text (see [`tokenizer`]).

mod api;
mod body;
pub mod config;
mod engine;
pub mod error;
pub mod fault;
mod hashing;
pub mod kv_events;
mod metrics;
pub mod prefix_cache;
pub mod scheduler;
mod server;
pub mod stats;
pub mod timing;
pub mod tokenizer;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use config::{OutputLen, SimConfig, SimKvEventsConfig};
pub use error::SimError;
pub use fault::Fault;
pub use kv_events::KvEventAddresses;
pub use stats::SimStats;

use engine::Engine;

/// A running simulated engine. Dropping it stops the server too (without
/// waiting); [`Simulator::shutdown`] stops it and waits.
pub struct Simulator {
    engine: Arc<Engine>,
    local_addr: SocketAddr,
    kv_events: Option<KvEventAddresses>,
    shutdown_tx: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("local_addr", &self.local_addr)
            .field("model", &self.engine.cfg.served_model_name)
            .finish()
    }
}

impl Simulator {
    /// Binds `addr` (port 0 picks a free port), spawns the server on the
    /// current tokio runtime and returns at once.
    pub async fn start(config: SimConfig, addr: SocketAddr) -> Result<Simulator, SimError> {
        config.validate()?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| SimError::Bind { addr, source })?;
        let local_addr = listener.local_addr()?;
        let (kv_events, kv_tx) = match &config.kv_events {
            Some(kv) => {
                let (addresses, tx) = kv_events::start(kv, config.block_size).await?;
                (Some(addresses), Some(tx))
            }
            None => (None, None),
        };
        let engine = Engine::new(config, kv_tx);
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let task = tokio::spawn(server::accept_loop(
            listener,
            Arc::clone(&engine),
            shutdown_rx,
        ));
        tracing::info!(
            "simulated engine `{}` listening on {local_addr}",
            engine.cfg.served_model_name
        );
        if let Some(kv) = &kv_events {
            tracing::info!(
                "publishing KV events on {} (replay: {})",
                kv.endpoint,
                kv.replay_endpoint.as_deref().unwrap_or("none")
            );
        }
        Ok(Simulator {
            engine,
            local_addr,
            kv_events,
            shutdown_tx: Some(shutdown_tx),
            task: Some(task),
        })
    }

    /// Where its KV-cache events are published, when configured.
    pub fn kv_events(&self) -> Option<&KvEventAddresses> {
        self.kv_events.as_ref()
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://IP:PORT`; a wildcard bind address is reported as loopback.
    pub fn base_url(&self) -> String {
        let ip = match self.local_addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!("http://{}", SocketAddr::new(ip, self.local_addr.port()))
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &SimConfig {
        &self.engine.cfg
    }

    /// A snapshot of counters and engine state.
    pub fn stats(&self) -> SimStats {
        self.engine.stats()
    }

    /// Activates `fault`, replacing an active fault of the same kind (see
    /// [`Fault`]).
    pub fn set_fault(&self, fault: Fault) {
        self.engine.faults().set(fault);
    }

    /// Removes every fault.
    pub fn clear_fault(&self) {
        self.engine.faults().clear();
    }

    /// Forgets every cached block not held by a running request.
    pub fn reset_prefix_cache(&self) {
        self.engine.reset_prefix_cache();
    }

    /// Stops accepting, closes every connection (in-flight requests are cut,
    /// as when an engine dies) and waits until the port is free.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown_tx.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown_tx.take() {
            let _ = tx.send(());
        }
    }
}

/// Runs a simulator on `addr` until `shutdown` completes (the CLI passes a
/// Ctrl-C future), then shuts it down.
pub async fn serve_until(
    config: SimConfig,
    addr: SocketAddr,
    shutdown: impl Future<Output = ()>,
) -> Result<(), SimError> {
    let sim = Simulator::start(config, addr).await?;
    shutdown.await;
    sim.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_thread_safe() {
        fn check<T: Send + Sync>() {}
        check::<Simulator>();
        check::<SimConfig>();
        check::<SimStats>();
        check::<Fault>();
        check::<SimError>();
    }

    #[tokio::test]
    async fn wildcard_bind_reports_loopback_url() {
        let sim = Simulator::start(SimConfig::zero_delay(), SocketAddr::from(([0, 0, 0, 0], 0)))
            .await
            .unwrap_or_else(|e| panic!("start failed: {e}"));
        let port = sim.local_addr().port();
        assert_eq!(sim.base_url(), format!("http://127.0.0.1:{port}"));
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn invalid_config_is_refused() {
        let cfg = SimConfig {
            max_num_seqs: 0,
            ..SimConfig::default()
        };
        let err = Simulator::start(cfg, SocketAddr::from(([127, 0, 0, 1], 0))).await;
        assert!(matches!(err, Err(SimError::InvalidConfig(_))));
    }
}
