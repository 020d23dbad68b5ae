//! Client side of one upstream HTTP address: an OpenAI-compatible engine or
//! API, a Triton or TorchServe server, or their metrics port. It sends an
//! already-encoded request body and hands back the response with its body
//! still streaming: bytes pass through untouched.

use std::time::Duration;

use bytes::Bytes;
use http::header::{AUTHORIZATION, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;

use crate::http_client::HttpClient;

#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("no response within the first-byte timeout of {0:?}")]
    FirstByteTimeout(Duration),
    #[error("upstream request failed: {0}")]
    Request(String),
    #[error("invalid upstream URL: {0}")]
    InvalidUri(String),
}

impl UpstreamError {
    /// Connection-level failures say nothing about the request itself, so
    /// they are always safe to retry elsewhere and count against the endpoint.
    pub fn is_connect(&self) -> bool {
        matches!(self, Self::Connect(_))
    }
}

/// Where one endpoint lives and how to authenticate to it.
#[derive(Clone)]
pub struct HttpUpstream {
    /// Scheme and authority, plus any path prefix, without a trailing slash
    /// (e.g. `http://10.0.0.5:8000` or `https://api.example.com/openai`).
    base: String,
    /// `Bearer <key>`, marked sensitive so it never shows in debug output.
    authorization: Option<HeaderValue>,
}

impl std::fmt::Debug for HttpUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpUpstream")
            .field("base", &self.base)
            .field(
                "authorization",
                &self.authorization.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl HttpUpstream {
    pub fn new(base_url: &str, api_key: Option<&str>) -> Result<Self, UpstreamError> {
        let base = base_url.trim_end_matches('/').to_owned();
        let uri: Uri = base
            .parse()
            .map_err(|e| UpstreamError::InvalidUri(format!("{base}: {e}")))?;
        if uri.scheme().is_none() || uri.authority().is_none() {
            return Err(UpstreamError::InvalidUri(format!(
                "{base}: needs a scheme and host, like http://host:port"
            )));
        }
        let authorization = match api_key {
            Some(key) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                    UpstreamError::InvalidUri("API key contains invalid characters".into())
                })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        Ok(Self {
            base,
            authorization,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn has_api_key(&self) -> bool {
        self.authorization.is_some()
    }

    pub fn uri(&self, path_and_query: &str) -> Result<Uri, UpstreamError> {
        let mut s = String::with_capacity(self.base.len() + path_and_query.len());
        s.push_str(&self.base);
        s.push_str(path_and_query);
        s.parse()
            .map_err(|e| UpstreamError::InvalidUri(format!("{s}: {e}")))
    }

    /// Sends `body` to `path_and_query` and waits for the response head at
    /// most `first_byte_timeout`. `headers` are forwarded as given; the
    /// endpoint's own API key, when configured, replaces any client
    /// `Authorization`.
    pub async fn send(
        &self,
        client: &HttpClient,
        method: Method,
        path_and_query: &str,
        headers: HeaderMap,
        body: Bytes,
        first_byte_timeout: Duration,
    ) -> Result<Response<Incoming>, UpstreamError> {
        self.send_body(
            client,
            method,
            path_and_query,
            headers,
            Full::new(body),
            first_byte_timeout,
        )
        .await
    }

    /// `send` with any body type the client takes, such as a gRPC stream
    /// still arriving from the client.
    pub async fn send_body<B>(
        &self,
        client: &Client<HttpsConnector<HttpConnector>, B>,
        method: Method,
        path_and_query: &str,
        headers: HeaderMap,
        body: B,
        first_byte_timeout: Duration,
    ) -> Result<Response<Incoming>, UpstreamError>
    where
        B: http_body::Body + Send + Unpin + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let uri = self.uri(path_and_query)?;
        let mut request = Request::new(body);
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.headers_mut() = headers;
        if let Some(auth) = &self.authorization {
            request.headers_mut().insert(AUTHORIZATION, auth.clone());
        }
        match tokio::time::timeout(first_byte_timeout, client.request(request)).await {
            Err(_) => Err(UpstreamError::FirstByteTimeout(first_byte_timeout)),
            Ok(Err(e)) if e.is_connect() => Err(UpstreamError::Connect(error_chain(&e))),
            Ok(Err(e)) => Err(UpstreamError::Request(error_chain(&e))),
            Ok(Ok(response)) => Ok(response),
        }
    }

    /// A GET with no body, for probes and scrapes.
    pub async fn get(
        &self,
        client: &HttpClient,
        path: &str,
        timeout: Duration,
    ) -> Result<Response<Incoming>, UpstreamError> {
        self.send(
            client,
            Method::GET,
            path,
            HeaderMap::new(),
            Bytes::new(),
            timeout,
        )
        .await
    }
}

/// Header names that describe one hop's connection and must not be forwarded
/// (RFC 9110 section 7.6.1).
pub fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// An error and its sources, `outer: inner: ...` (hyper's own message is only the outer).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
