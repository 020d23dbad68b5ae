//! [`FakeProvider`]: the running fake server and what tests do with it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::FakeConfig;
use crate::faults::Fault;
use crate::record::{Api, Received};
use crate::server;
use crate::state::Shared;

/// A running FAKE of the OpenAI, Azure OpenAI and Anthropic APIs (one
/// server for all three), for tests. Its server stops when this is dropped
/// or [`stop`](Self::stop)ped. Must be started inside a Tokio runtime.
pub struct FakeProvider {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl FakeProvider {
    /// Starts the fake server on `127.0.0.1` and a free port.
    pub async fn start(config: FakeConfig) -> std::io::Result<FakeProvider> {
        Self::start_on(config, SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Starts the fake server on `addr` (port 0: a free port).
    pub async fn start_on(config: FakeConfig, addr: SocketAddr) -> std::io::Result<FakeProvider> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(server::accept_loop(listener, Arc::clone(&shared), rx));
        Ok(FakeProvider {
            addr,
            shared,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// The address the fake server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The fake's base URL, `http://127.0.0.1:PORT` (no trailing slash):
    /// OpenAI clients use `{url}/v1`, Azure clients `{url}` as the resource
    /// endpoint, Anthropic clients `{url}` as the base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request the fake received so far, in arrival order (a request is
    /// recorded once its response has been produced; a stream's when it
    /// starts).
    pub fn requests(&self) -> Vec<Received> {
        self.shared.records()
    }

    /// The requests the fake received for `api`.
    pub fn requests_to(&self, api: Api) -> Vec<Received> {
        self.requests()
            .into_iter()
            .filter(|r| r.api == api)
            .collect()
    }

    /// Makes the fake forget the requests received so far (counters are kept).
    pub fn clear_requests(&self) {
        self.shared.clear_records();
    }

    /// Makes the fake answer the next `n` inference requests (after their key, version
    /// and deployment checks, before body validation; any of the three
    /// APIs; not `GET /v1/models`) with `fault` instead. Calls queue up.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        self.shared.push_faults(n, fault);
    }

    /// Changes the fake's time to first token and between tokens from now on.
    pub fn set_timing(&self, ttft: Duration, token_interval: Duration) {
        self.shared.set_timing(ttft, token_interval);
    }

    /// Requests to the fake `api` answered with a 2xx status so far.
    pub fn ok_count(&self, api: Api) -> u64 {
        self.shared.ok_count(api)
    }

    /// Stops the server and waits until its port is closed and every
    /// connection is cut.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl std::fmt::Debug for FakeProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeProvider")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}
