//! `switchyard serve --demo`: a working router with nothing else installed.
//! Three simulated vLLM engines run in-process (one deliberately slower, so
//! load balancing has something to do) behind one model, `demo-model`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use switchyard_sim::{SimConfig, SimError, Simulator};

use crate::config::{
    Config, EndpointConfig, ListenerConfig, ListenerProtocol, ModelConfig, PolicyKind, PoolConfig,
};
use crate::server::{RunningRouter, StartError};

pub const DEMO_MODEL: &str = "demo-model";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot start a simulated engine: {0}")]
    Sim(#[from] SimError),
    #[error(transparent)]
    Router(#[from] StartError),
}

pub struct Demo {
    pub router: RunningRouter,
    pub engines: Vec<Simulator>,
}

/// The demo's router configuration for engines at `engine_urls`.
pub fn demo_config(listen: SocketAddr, engine_urls: &[String]) -> Config {
    let endpoints = engine_urls
        .iter()
        .enumerate()
        .map(|(i, url)| EndpointConfig {
            url: url.clone(),
            grpc_url: None,
            metrics_url: None,
            name: Some(format!("sim-{i}")),
            kind: "vllm".into(),
            weight: 1,
            api_key_env: None,
            served_names: BTreeMap::new(),
            health_path: None,
            metrics_path: None,
            kv_events: None,
            gpus: None,
        })
        .collect();
    let mut pools = BTreeMap::new();
    pools.insert(
        "demo".to_owned(),
        PoolConfig {
            policy: PolicyKind::PowerOfTwo,
            endpoints,
            timeouts: None,
            max_in_flight_per_endpoint: None,
            cache_aware: Default::default(),
        },
    );
    let mut models = BTreeMap::new();
    models.insert(
        DEMO_MODEL.to_owned(),
        ModelConfig {
            pool: "demo".into(),
            served_name: None,
            generate: None,
            batching: None,
            spill: None,
        },
    );
    Config {
        server: Default::default(),
        listeners: vec![ListenerConfig {
            address: listen,
            protocol: ListenerProtocol::OpenAi,
        }],
        logging: Default::default(),
        timeouts: Default::default(),
        health: Default::default(),
        retries: Default::default(),
        scrape: Default::default(),
        gpu_telemetry: Default::default(),
        providers: Default::default(),
        pools,
        models,
    }
}

pub async fn start(listen: SocketAddr) -> Result<Demo, DemoError> {
    let mut engines = Vec::new();
    for i in 0..3u64 {
        let base = SimConfig::default();
        let config = SimConfig {
            served_model_name: DEMO_MODEL.into(),
            seed: 42 + i,
            // The third engine decodes at half speed.
            decode_per_token: if i == 2 {
                base.decode_per_token * 2
            } else {
                base.decode_per_token
            },
            ..base
        };
        engines.push(Simulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await?);
    }
    let urls: Vec<String> = engines.iter().map(Simulator::base_url).collect();
    let router = RunningRouter::start(&demo_config(listen, &urls)).await?;
    Ok(Demo { router, engines })
}

impl Demo {
    pub fn banner(&self) -> String {
        let address = self.router.addresses().first().copied();
        let url = address.map_or_else(|| "(no listener)".to_owned(), |a| format!("http://{a}"));
        format!(
            "switchyard demo: 3 simulated engines behind model `{DEMO_MODEL}` at {url}\n\n  \
             curl {url}/v1/chat/completions -H 'content-type: application/json' \\\n    \
             -d '{{\"model\":\"{DEMO_MODEL}\",\"messages\":[{{\"role\":\"user\",\"content\":\"Hello!\"}}],\"max_tokens\":16}}'\n\n  \
             add \"stream\":true to stream; metrics at {url}/metrics; Ctrl-C stops"
        )
    }

    pub async fn shutdown(self) {
        let _ = tokio::time::timeout(Duration::from_secs(5), self.router.shutdown()).await;
        for engine in self.engines {
            engine.shutdown().await;
        }
    }
}
