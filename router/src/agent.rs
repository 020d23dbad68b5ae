//! `switchyard agent`: runs on a GPU node and serves its GPUs' state, read
//! from NVML in the background, as JSON (`GET /v1/gpus`, what the router
//! polls) and as Prometheus text (`GET /metrics`). Without an NVIDIA driver
//! it still serves: `/v1/gpus` answers 503 with the reason, and it tries to
//! load NVML again every 30 s (`LocalNvml`).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use switchyard_backends::gpu::{GpuReport, prometheus_text};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::telemetry::gpu::LocalNvml;

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub listen: SocketAddr,
    pub interval: Duration,
    /// `libnvidia-ml.so.1` to load (default: the system loader's search).
    pub nvml_library: Option<PathBuf>,
}

/// The latest reading, or why there is none.
struct AgentState {
    report: ArcSwapOption<GpuReport>,
    error: ArcSwapOption<String>,
    /// A reading older than this is not served: the NVML poll is stuck.
    max_age: Duration,
}

pub struct RunningAgent {
    address: SocketAddr,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningAgent {
    pub async fn start(config: AgentConfig) -> std::io::Result<RunningAgent> {
        let listener = TcpListener::bind(config.listen).await?;
        let address = listener.local_addr()?;
        let state = Arc::new(AgentState {
            report: ArcSwapOption::empty(),
            error: ArcSwapOption::from_pointee("not read yet".to_owned()),
            max_age: config.interval * 3 + Duration::from_secs(1),
        });
        let shutdown = CancellationToken::new();
        let tasks = vec![
            tokio::spawn(poll(Arc::clone(&state), config.clone(), shutdown.clone())),
            tokio::spawn(serve(listener, state, shutdown.clone())),
        ];
        Ok(RunningAgent {
            address,
            shutdown,
            tasks,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub async fn shutdown(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

async fn poll(state: Arc<AgentState>, config: AgentConfig, shutdown: CancellationToken) {
    let mut nvml = LocalNvml::new(config.nvml_library.clone());
    loop {
        match nvml.read().await {
            Ok(report) => {
                state.report.store(Some(Arc::new(report)));
                state.error.store(None);
            }
            Err(error) => state.error.store(Some(Arc::new(error))),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(config.interval) => {}
        }
    }
}

async fn serve(listener: TcpListener, state: Arc<AgentState>, shutdown: CancellationToken) {
    loop {
        let (stream, _) = tokio::select! {
            _ = shutdown.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let state = Arc::clone(&state);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let state = Arc::clone(&state);
                async move { Ok::<_, Infallible>(answer(&state, &request)) }
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            // A stopped agent closes its keep-alive connections too.
            tokio::select! {
                _ = connection => {}
                _ = shutdown.cancelled() => {}
            }
        });
    }
}

fn answer(state: &AgentState, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let report = state.report.load_full();
    let mut error = state.error.load_full();
    if error.is_none()
        && let Some(r) = &report
        && crate::clock::unix_ms().saturating_sub(r.read_at_unix_ms)
            > state.max_age.as_millis() as u64
    {
        error = Some(Arc::new(format!(
            "the last NVML reading is older than {:?}",
            state.max_age
        )));
    }
    match (request.method(), request.uri().path()) {
        (&Method::GET, "/v1/gpus") => match (&report, &error) {
            (Some(report), None) => json(StatusCode::OK, &serde_json::to_value(&**report)),
            (_, Some(error)) => json(
                StatusCode::SERVICE_UNAVAILABLE,
                &Ok(serde_json::json!({"error": error.as_str()})),
            ),
            (None, None) => json(
                StatusCode::SERVICE_UNAVAILABLE,
                &Ok(serde_json::json!({"error": "not read yet"})),
            ),
        },
        (&Method::GET, "/metrics") => {
            let mut text = format!(
                "# TYPE switchyard_agent_nvml_up gauge\nswitchyard_agent_nvml_up {}\n",
                u8::from(error.is_none())
            );
            if let Some(report) = &report {
                text.push_str(&prometheus_text(report));
            }
            reply(StatusCode::OK, "text/plain; version=0.0.4", text.into())
        }
        (&Method::GET, "/health") => reply(StatusCode::OK, "text/plain", "ok".into()),
        _ => json(
            StatusCode::NOT_FOUND,
            &Ok(
                serde_json::json!({"error": "not found: the agent serves /v1/gpus, /metrics and /health"}),
            ),
        ),
    }
}

fn json(
    status: StatusCode,
    value: &serde_json::Result<serde_json::Value>,
) -> Response<Full<Bytes>> {
    match value {
        Ok(value) => reply(status, "application/json", value.to_string().into()),
        Err(error) => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            "application/json",
            serde_json::json!({"error": error.to_string()})
                .to_string()
                .into(),
        ),
    }
}

fn reply(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    response
}
