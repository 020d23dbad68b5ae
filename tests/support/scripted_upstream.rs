//! An upstream whose every byte and its timing the test controls, for
//! checks a real engine cannot make deterministic: byte-exact pass-through,
//! no buffering, header propagation. Not a stand-in for any real server;
//! the simulator and real vLLM cover behaviour.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::StreamBody;
use hyper::body::Frame;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// What the test sees of each request the upstream received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

pub struct ScriptedUpstream {
    pub address: SocketAddr,
    pub received: Arc<Mutex<Vec<Received>>>,
    /// One sender per incoming request, in order: the test pushes the
    /// response body's chunks through it, and drops it to end the body.
    pub bodies: mpsc::UnboundedReceiver<mpsc::UnboundedSender<Bytes>>,
}

impl ScriptedUpstream {
    /// Answers every POST with 200 and `content_type`, its body fed by the
    /// test; GETs (probes, scrapes) get an empty 200.
    pub async fn start(content_type: &'static str) -> ScriptedUpstream {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
        let address = listener.local_addr().expect("addr");
        let received = Arc::new(Mutex::new(Vec::new()));
        let (bodies_tx, bodies) = mpsc::unbounded_channel();
        let seen = Arc::clone(&received);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let _ = stream.set_nodelay(true);
                let seen = Arc::clone(&seen);
                let bodies_tx = bodies_tx.clone();
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let seen = Arc::clone(&seen);
                    let bodies_tx = bodies_tx.clone();
                    async move {
                        use http_body_util::BodyExt;
                        let is_post = request.method() == http::Method::POST;
                        let headers = request.headers().clone();
                        let body = request
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
                        if is_post {
                            seen.lock().expect("lock").push(Received { headers, body });
                            let _ = bodies_tx.send(tx);
                        }
                        let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                            let chunk = rx.recv().await?;
                            Some((Ok::<_, Infallible>(Frame::data(chunk)), rx))
                        });
                        let mut response = Response::new(StreamBody::new(stream));
                        response.headers_mut().insert(
                            http::header::CONTENT_TYPE,
                            http::HeaderValue::from_static(content_type),
                        );
                        Ok::<_, Infallible>(response)
                    }
                });
                tokio::spawn(async move {
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        ScriptedUpstream {
            address,
            received,
            bodies,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }
}
