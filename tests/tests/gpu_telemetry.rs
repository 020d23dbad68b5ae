//! GPU telemetry, on a machine without a GPU: a FAKE `libnvidia-ml.so.1`
//! (scripts/nvml-fake, C, built here against NVIDIA's own `nvml.h`) whose
//! values the test rewrites while the agent and the router run. It stands
//! in only because no real NVML can run here; the code under test loads it
//! exactly as it loads the driver's library. The DCGM exporter is a FAKE
//! too: a page in dcgm-exporter's format served by the test.
//!
//! Checked: `switchyard agent` serves the GPUs as JSON and Prometheus text
//! and follows changes; the router reads its own host's NVML, an agent and a
//! DCGM page, binds each endpoint to its GPUs, follows changes, marks a
//! silent source stale; without a driver both say so and keep serving.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use switchyard::agent::{AgentConfig, RunningAgent};
use switchyard_tests::*;

use switchyard_tests::fake_nvml::{GIB, UUID0, UUID1, fake_nvml, set_state};

async fn json_of(url: &str) -> (u16, Value) {
    let response = client().get(url).send().await.expect("GET");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

async fn start_agent(library: &Path) -> RunningAgent {
    RunningAgent::start(AgentConfig {
        listen: localhost(),
        interval: Duration::from_millis(100),
        nvml_library: Some(library.to_owned()),
    })
    .await
    .expect("agent starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_serves_nvml_readings_and_follows_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let library = fake_nvml(dir.path());
    set_state(&library, [10, 20], [35, 0]);
    let agent = start_agent(&library).await;
    let url = format!("http://{}", agent.address());

    let read = async || json_of(&format!("{url}/v1/gpus")).await;
    assert!(
        eventually(Duration::from_secs(5), async || read().await.0 == 200).await,
        "the agent never served readings: {:?}",
        read().await
    );
    let (_, report) = read().await;
    assert_eq!(report["source"], "nvml");
    let gpus = report["gpus"].as_array().expect("gpus");
    assert_eq!(gpus.len(), 2);
    assert_eq!(gpus[0]["uuid"], UUID0);
    assert_eq!(gpus[0]["name"], "NVIDIA H100 80GB HBM3");
    assert_eq!(gpus[0]["memory_used_bytes"], 10 * GIB);
    assert_eq!(gpus[0]["memory_total_bytes"], 80 * GIB);
    assert_eq!(gpus[0]["utilization_gpu_percent"], 35);
    assert_eq!(gpus[0]["temperature_celsius"], 51);
    assert_eq!(gpus[0]["power_watts"], 312.5);

    // The test rewrites the fake's values; the running agent follows.
    set_state(&library, [70, 20], [99, 0]);
    assert!(
        eventually(Duration::from_secs(5), async || {
            read().await.1["gpus"][0]["memory_used_bytes"] == 70 * GIB
        })
        .await,
        "the agent did not follow the change"
    );
    let metrics = get_text(&client(), &format!("{url}/metrics")).await;
    assert!(metrics.contains("switchyard_agent_nvml_up 1"), "{metrics}");
    assert!(
        metrics.contains(&format!(
            "switchyard_gpu_utilization_ratio{{gpu=\"0\",uuid=\"{UUID0}\"}} 0.99"
        )),
        "{metrics}"
    );
    agent.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_driver_the_agent_and_router_say_so_and_keep_serving() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The fake without its state file answers nvmlInit as a host without a driver does.
    let library = fake_nvml(dir.path());
    let agent = start_agent(&library).await;
    let url = format!("http://{}", agent.address());
    assert!(
        eventually(Duration::from_secs(5), async || {
            let (status, body) = json_of(&format!("{url}/v1/gpus")).await;
            status == 503 && body["error"].as_str().is_some_and(|e| e.contains("NVML"))
        })
        .await,
        "{:?}",
        json_of(&format!("{url}/v1/gpus")).await
    );
    let metrics = get_text(&client(), &format!("{url}/metrics")).await;
    assert!(metrics.contains("switchyard_agent_nvml_up 0"), "{metrics}");

    let sims = start_sims(1).await;
    let yaml = gpu_router_yaml(&sims[0].base_url(), &library, "source: local");
    let router = start_router(&yaml).await;
    let router_url = router_url(&router);
    assert!(
        eventually(Duration::from_secs(5), async || {
            let (_, page) = json_of(&format!("{router_url}/gpus")).await;
            page["sources"][0]["error"].is_string() && page["endpoints"][0]["stale"] == true
        })
        .await,
        "{:?}",
        json_of(&format!("{router_url}/gpus")).await
    );
    // Requests are served as ever.
    assert_eq!(chat_once(&client(), &router_url).await.0, 200);
    agent.shutdown().await;
}

fn gpu_router_yaml(sim_url: &str, library: &Path, gpus: &str) -> String {
    format!(
        "listeners:\n  - address: 127.0.0.1:0\nlogging:\n  level: warn\ngpu_telemetry:\n  interval: 100ms\n  stale_after: 1s\n  nvml_library: {}\npools:\n  main:\n    endpoints:\n      - url: {sim_url}\n        name: ep0\n        kind: vllm\n        gpus: {{{gpus}}}\nmodels:\n  {MODEL}:\n    pool: main\n",
        library.display()
    )
}

/// A FAKE DCGM exporter: dcgm-exporter's page format, values set by the test.
async fn fake_dcgm(used_mib: u64) -> String {
    let page = format!(
        "# HELP DCGM_FI_DEV_FB_USED Framebuffer memory used (in MiB).\n# TYPE DCGM_FI_DEV_FB_USED gauge\n\
         DCGM_FI_DEV_FB_USED{{gpu=\"0\",UUID=\"GPU-dcgm-0\",device=\"nvidia0\",modelName=\"NVIDIA A100-SXM4-40GB\",Hostname=\"n1\"}} {used_mib}\n\
         DCGM_FI_DEV_FB_FREE{{gpu=\"0\",UUID=\"GPU-dcgm-0\",device=\"nvidia0\",modelName=\"NVIDIA A100-SXM4-40GB\",Hostname=\"n1\"}} {}\n\
         DCGM_FI_DEV_GPU_UTIL{{gpu=\"0\",UUID=\"GPU-dcgm-0\",device=\"nvidia0\",modelName=\"NVIDIA A100-SXM4-40GB\",Hostname=\"n1\"}} 64\n",
        40960 - used_mib
    );
    let listener = tokio::net::TcpListener::bind(localhost())
        .await
        .expect("bind");
    let address = listener.local_addr().expect("address");
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let page = page.clone();
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut buf = [0u8; 2048];
                let _ = stream.read(&mut buf).await;
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    format!("http://{address}/metrics")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_binds_endpoints_to_local_agent_and_dcgm_gpus() {
    let dir = tempfile::tempdir().expect("tempdir");
    let library = fake_nvml(dir.path());
    set_state(&library, [10, 20], [35, 50]);
    let agent = start_agent(&library).await;
    let dcgm_url = fake_dcgm(1024).await;
    let sims = start_sims(3).await;
    let yaml = format!(
        "listeners:\n  - address: 127.0.0.1:0\nlogging:\n  level: warn\ngpu_telemetry:\n  interval: 100ms\n  stale_after: 1s\n  nvml_library: {lib}\npools:\n  main:\n    endpoints:\n      - {{url: {s0}, name: local-ep, kind: vllm, gpus: {{source: local, devices: [\"{UUID1}\"]}}}}\n      - {{url: {s1}, name: agent-ep, kind: vllm, gpus: {{source: agent, url: \"http://{agent}\", devices: [\"0\"]}}}}\n      - {{url: {s2}, name: dcgm-ep, kind: vllm, gpus: {{source: dcgm, url: \"{dcgm_url}\"}}}}\nmodels:\n  {MODEL}:\n    pool: main\n",
        lib = library.display(),
        s0 = sims[0].base_url(),
        s1 = sims[1].base_url(),
        s2 = sims[2].base_url(),
        agent = agent.address(),
    );
    let router = start_router(&yaml).await;
    let url = router_url(&router);
    let endpoint = async |name: &str| {
        let (_, page) = json_of(&format!("{url}/gpus")).await;
        page["endpoints"]
            .as_array()
            .and_then(|all| all.iter().find(|e| e["endpoint"] == name).cloned())
            .unwrap_or(Value::Null)
    };
    assert!(
        eventually(Duration::from_secs(5), async || {
            endpoint("local-ep").await["stale"] == false
                && endpoint("agent-ep").await["stale"] == false
                && endpoint("dcgm-ep").await["stale"] == false
        })
        .await,
        "{:?}",
        json_of(&format!("{url}/gpus")).await
    );
    // Each endpoint sees only its own GPUs.
    let local = endpoint("local-ep").await;
    assert_eq!(local["gpus"].as_array().map(Vec::len), Some(1));
    assert_eq!(local["gpus"][0]["uuid"], UUID1);
    assert_eq!(local["gpus"][0]["memory_used_bytes"], 20 * GIB);
    let remote = endpoint("agent-ep").await;
    assert_eq!(remote["gpus"][0]["uuid"], UUID0);
    let dcgm = endpoint("dcgm-ep").await;
    assert_eq!(dcgm["gpus"][0]["memory_used_bytes"], 1024u64 << 20);
    assert_eq!(dcgm["gpus"][0]["utilization_gpu_percent"], 64);

    // Values follow the (fake) driver through both paths.
    set_state(&library, [77, 66], [90, 80]);
    assert!(
        eventually(Duration::from_secs(5), async || {
            endpoint("local-ep").await["gpus"][0]["memory_used_bytes"] == 66 * GIB
                && endpoint("agent-ep").await["gpus"][0]["memory_used_bytes"] == 77 * GIB
        })
        .await,
        "{:?}",
        json_of(&format!("{url}/gpus")).await
    );
    let metrics = get_text(&client(), &format!("{url}/metrics")).await;
    assert_eq!(
        metric_sum(
            &metrics,
            "switchyard_gpu_memory_used_bytes",
            &["source=\"local\"", &format!("uuid=\"{UUID1}\"")]
        ),
        (66 * GIB) as f64
    );

    // An agent that stops answering: its readings age into `stale`.
    agent.shutdown().await;
    assert!(
        eventually(Duration::from_secs(5), async || {
            endpoint("agent-ep").await["stale"] == true
        })
        .await,
        "{:?}",
        endpoint("agent-ep").await
    );
    assert_eq!(endpoint("local-ep").await["stale"], false);
}
