//! Accepting connections and serving them with hyper (HTTP/1.1 keep-alive,
//! or HTTP/2 with prior knowledge). Shutdown stops accepting and drops every
//! connection at once, so clients see the engine die as a crash looks.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::api;
use crate::engine::Engine;

/// Serves `listener` until `shutdown` fires (or its sender is dropped).
pub(crate) async fn accept_loop(
    listener: TcpListener,
    engine: Arc<Engine>,
    mut shutdown: oneshot::Receiver<()>,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Nagle plus delayed ACK would hold back every small SSE chunk.
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!("set_nodelay failed: {e}");
                    }
                    conns.spawn(serve_connection(stream, Arc::clone(&engine)));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly.
                    tracing::warn!("simulator accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    // Free the port first, then cut every open connection.
    drop(listener);
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}

async fn serve_connection(stream: TcpStream, engine: Arc<Engine>) {
    let _open = engine.counters.open_connection();
    let service = service_fn(move |req| {
        let engine = Arc::clone(&engine);
        async move { Ok::<_, Infallible>(api::handle(engine, req).await) }
    });
    let builder = auto::Builder::new(TokioExecutor::new());
    if let Err(e) = builder
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        tracing::debug!("simulator connection ended: {e}");
    }
}
