//! Real vLLM CPU instances for the ignored real-server tests, started and
//! stopped by the project's own scripts (`scripts/vllm/`).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{MODEL, router_yaml};

/// The model name the fleet's instances serve.
pub const SERVED: &str = "tiny-llama";

/// Router YAML for the fleet: least connections, with probes and scrapes slow enough for
/// CPU vLLM on a busy 2-core machine (it can take a while to answer /health).
pub fn vllm_router_config(urls: &[String]) -> String {
    router_yaml("least_connections", urls, "", "")
        .replace(MODEL, SERVED)
        .replace(
            "    interval: 100ms\n    timeout: 500ms",
            "    interval: 500ms\n    timeout: 5s",
        )
        .replace("scrape:\n  interval: 100ms", "scrape:\n  interval: 200ms")
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

fn script(name: &str, args: &[&str]) {
    let path = repo_root().join("scripts/vllm").join(name);
    let status = Command::new(&path)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("run {}: {e}", path.display()));
    assert!(
        status.success(),
        "{} {args:?} failed: {status}",
        path.display()
    );
}

/// Stops every instance in the state file when the test ends, pass or fail.
pub struct Fleet {
    state: PathBuf,
    pub urls: Vec<String>,
    /// Per instance, the KV-event publisher and replay addresses to connect to, when
    /// started with `--kv-events`.
    pub kv_events: Vec<Option<(String, String)>>,
    /// The model directory the instances serve (with its `tokenizer.json`).
    pub model_dir: String,
    /// The name the instances serve it under.
    pub served_model_name: String,
    _dir: tempfile::TempDir,
}

impl Fleet {
    pub fn start(count: usize) -> Fleet {
        Self::start_with(count, &[])
    }

    /// Starts `count` instances with extra `start.sh` options (`--kv-events`,
    /// `--num-gpu-blocks N`).
    pub fn start_with(count: usize, options: &[&str]) -> Fleet {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join("vllm-state.json");
        let state_arg = state.to_str().expect("utf-8 path").to_owned();
        let count = count.to_string();
        let mut args = vec!["--state", state_arg.as_str(), "--count", count.as_str()];
        args.extend_from_slice(options);
        script("start.sh", &args);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&state).expect("state file"))
                .expect("state json");
        let urls = json["instances"]
            .as_array()
            .expect("instances")
            .iter()
            .map(|i| i["url"].as_str().expect("url").to_owned())
            .collect();
        // vLLM binds `tcp://*:P`; subscribers connect to the instance's host.
        let kv_events = json["instances"]
            .as_array()
            .expect("instances")
            .iter()
            .map(|i| {
                let kv = i.get("kv_events").filter(|kv| !kv.is_null())?;
                let connect = |key: &str| {
                    kv[key]
                        .as_str()
                        .expect("kv address")
                        .replace('*', i["host"].as_str().expect("host"))
                };
                Some((connect("endpoint"), connect("replay_endpoint")))
            })
            .collect();
        Fleet {
            state,
            urls,
            kv_events,
            model_dir: json["model"].as_str().expect("model").to_owned(),
            served_model_name: json["served_model_name"]
                .as_str()
                .expect("served_model_name")
                .to_owned(),
            _dir: dir,
        }
    }

    fn state_arg(&self) -> &str {
        self.state.to_str().expect("utf-8 path")
    }

    pub fn stop_one(&self, index: usize) {
        script(
            "stop.sh",
            &["--state", self.state_arg(), "--index", &index.to_string()],
        );
    }

    pub fn restart_one(&self, index: usize) {
        script(
            "restart-one.sh",
            &["--state", self.state_arg(), "--index", &index.to_string()],
        );
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let _ = Command::new(repo_root().join("scripts/vllm/stop.sh"))
            .args(["--state", self.state_arg()])
            .status();
    }
}
