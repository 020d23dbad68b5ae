//! Accepts connections and serves the front end on them, HTTP/1.1 and
//! h2c alike, until told to stop; then drains in-flight requests.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::app::{App, BuildError};
use crate::config::{Config, ListenerProtocol};
use crate::front;

/// How long shutdown waits for in-flight requests before closing anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: io::Error,
    },
}

/// A router serving in the background of the current runtime.
pub struct RunningRouter {
    pub app: Arc<App>,
    addresses: Vec<SocketAddr>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl RunningRouter {
    /// Builds the router from `config`, binds its listeners and starts
    /// serving and probing.
    pub async fn start(config: &Config) -> Result<RunningRouter, StartError> {
        let app = Arc::new(App::from_config(config)?);
        let mut listeners = Vec::new();
        for listener in &config.listeners {
            let protocol = listener.protocol;
            let bound = TcpListener::bind(listener.address)
                .await
                .map_err(|source| StartError::Bind {
                    address: listener.address,
                    source,
                })?;
            listeners.push((bound, protocol));
        }
        let addresses = listeners
            .iter()
            .filter_map(|(l, _)| l.local_addr().ok())
            .collect();
        let shutdown = CancellationToken::new();
        app.spawn_background(&shutdown);
        if let Some(idle) = config.server.busy_poll.filter(|idle| !idle.is_zero()) {
            crate::busy_poll::start(idle, &shutdown);
        }
        let task = tokio::spawn(serve(Arc::clone(&app), listeners, shutdown.clone()));
        Ok(RunningRouter {
            app,
            addresses,
            shutdown,
            task,
        })
    }

    /// The bound addresses, in listener order (port 0 resolved).
    pub fn addresses(&self) -> &[SocketAddr] {
        &self.addresses
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops accepting, drains in-flight requests, and stops background loops.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        let _ = self.task.await;
    }

    /// Runs until the shutdown token fires.
    pub async fn wait(self) {
        let _ = self.task.await;
    }
}

async fn serve(
    app: Arc<App>,
    listeners: Vec<(TcpListener, ListenerProtocol)>,
    shutdown: CancellationToken,
) {
    let graceful = Arc::new(GracefulShutdown::new());
    let mut accept_loops = Vec::new();
    for (listener, protocol) in listeners {
        accept_loops.push(tokio::spawn(accept_loop(
            listener,
            protocol,
            Arc::clone(&app),
            Arc::clone(&graceful),
            shutdown.clone(),
        )));
    }
    shutdown.cancelled().await;
    for task in accept_loops {
        let _ = task.await;
    }
    // Every accept loop has returned, so this is the last reference.
    if let Ok(graceful) = Arc::try_unwrap(graceful)
        && tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
            .await
            .is_err()
    {
        tracing::warn!(
            "in-flight requests did not finish within {DRAIN_TIMEOUT:?}; closing anyway"
        );
    }
}

async fn accept_loop(
    listener: TcpListener,
    protocol: ListenerProtocol,
    app: Arc<App>,
    graceful: Arc<GracefulShutdown>,
    shutdown: CancellationToken,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, _peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Usually out of file descriptors: back off rather than spin.
                tracing::error!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        // Small responses and SSE chunks must leave at once (no Nagle).
        let _ = stream.set_nodelay(true);
        let app = Arc::clone(&app);
        let service =
            service_fn(move |request| front::dispatch(Arc::clone(&app), protocol, request));
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "client connection ended with an error");
            }
        });
    }
}
