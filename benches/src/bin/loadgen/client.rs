//! One keep-alive HTTP/1.1 connection (TCP_NODELAY) and one request on it.

use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST};
use http::{HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// What every request to one target looks like; cheap to turn into a `Request`.
pub struct Template {
    uri: Uri,
    host: HeaderValue,
    body: Bytes,
}

impl Template {
    pub fn new(path: &str, host: HeaderValue, body: String) -> Result<Self, http::Error> {
        Ok(Self {
            uri: Uri::try_from(path)?,
            host,
            body: Bytes::from(body),
        })
    }

    fn request(&self) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        let headers = request.headers_mut();
        headers.insert(HOST, self.host.clone());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        request
    }
}

#[derive(Debug)]
pub enum LoadError {
    Connect(std::io::Error),
    Http(hyper::Error),
    Status(u16),
    /// Not answered before the segment's grace period ended.
    Timeout,
}

impl LoadError {
    /// A short, stable label for counting errors by kind.
    pub fn kind(&self) -> String {
        match self {
            LoadError::Connect(e) => format!("connect: {}", e.kind()),
            LoadError::Http(e) if e.is_incomplete_message() => "http: incomplete message".into(),
            LoadError::Http(e) if e.is_closed() => "http: connection closed".into(),
            LoadError::Http(_) => "http: other".into(),
            LoadError::Status(code) => format!("status {code}"),
            LoadError::Timeout => "timeout".into(),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Connect(e) => write!(f, "connect failed: {e}"),
            LoadError::Http(e) => write!(f, "HTTP error: {e}"),
            LoadError::Status(code) => write!(f, "status {code}"),
            LoadError::Timeout => write!(f, "no answer before the grace period ended"),
        }
    }
}

impl From<hyper::Error> for LoadError {
    fn from(e: hyper::Error) -> Self {
        LoadError::Http(e)
    }
}

/// A connection that (re)connects lazily: a failed request drops it, the next one reconnects.
pub struct Conn {
    addr: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Conn {
    pub fn new(addr: SocketAddr) -> Self {
        Self { addr, sender: None }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, LoadError> {
        let stream = TcpStream::connect(self.addr)
            .await
            .map_err(LoadError::Connect)?;
        stream.set_nodelay(true).map_err(LoadError::Connect)?;
        let (sender, connection) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await?;
        tokio::spawn(async move {
            // Ends when the sender is dropped or the peer closes; errors surface on requests.
            let _ = connection.await;
        });
        Ok(sender)
    }

    /// Sends one request and reads the whole answer. Returns when the first non-empty body
    /// chunk arrived. A non-2xx status is an error (after the body was read, so the
    /// connection stays usable).
    pub async fn send(&mut self, template: &Template) -> Result<Option<Instant>, LoadError> {
        let mut sender = match self.sender.take() {
            Some(sender) if !sender.is_closed() => sender,
            _ => self.connect().await?,
        };
        sender.ready().await?;
        let response = sender.send_request(template.request()).await?;
        let status = response.status();
        let mut body = response.into_body();
        let mut first_chunk = None;
        while let Some(frame) = body.frame().await {
            let frame = frame?;
            if first_chunk.is_none() && frame.data_ref().is_some_and(|d| !d.is_empty()) {
                first_chunk = Some(Instant::now());
            }
        }
        self.sender = Some(sender);
        if !status.is_success() {
            return Err(LoadError::Status(status.as_u16()));
        }
        Ok(first_chunk)
    }
}
