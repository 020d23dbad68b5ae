//! The one HTTP client stack used for every upstream call (proxying, probes,
//! scrapes): hyper's pooled client over rustls, with TCP_NODELAY set so small
//! writes (SSE chunks, short requests) are never held back by Nagle's
//! algorithm interacting with delayed ACKs.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use http_body_util::combinators::UnsyncBoxBody;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A request body that may still be arriving (a client's gRPC stream).
pub type StreamingBody = UnsyncBoxBody<Bytes, BoxError>;
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// HTTP/2 only (gRPC over h2c or TLS), with bodies that stream both ways.
pub type GrpcClient = Client<HttpsConnector<HttpConnector>, StreamingBody>;

#[derive(Debug, Clone)]
pub struct HttpClientConfig {
    pub connect_timeout: Duration,
    /// How long an idle keep-alive connection stays in the pool.
    pub pool_idle_timeout: Duration,
    pub max_idle_per_host: usize,
}

impl Default for HttpClientConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            pool_idle_timeout: Duration::from_secs(90),
            max_idle_per_host: 1024,
        }
    }
}

pub fn build_http_client(config: &HttpClientConfig) -> HttpClient {
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(config.pool_idle_timeout)
        .pool_max_idle_per_host(config.max_idle_per_host)
        .build(connector(config))
}

/// The gRPC client: one multiplexed HTTP/2 connection per upstream, with
/// pings so a dead peer is noticed while a stream idles.
pub fn build_grpc_client(config: &HttpClientConfig) -> GrpcClient {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .http2_keep_alive_interval(Duration::from_secs(20))
        .http2_keep_alive_timeout(Duration::from_secs(10))
        .timer(hyper_util::rt::TokioTimer::new())
        .pool_idle_timeout(config.pool_idle_timeout)
        .build(connector(config))
}

fn connector(config: &HttpClientConfig) -> HttpsConnector<HttpConnector> {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.set_connect_timeout(Some(config.connect_timeout));
    http.set_keepalive(Some(Duration::from_secs(30)));
    http.enforce_http(false);
    HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http)
}
