//! Real Triton and TorchServe instances for the ignored real-server tests,
//! started and stopped by the project's own scripts (`scripts/triton/`,
//! `scripts/torchserve/`), which share one state-file shape.

use std::path::PathBuf;
use std::process::Command;

use crate::vllm_fleet::repo_root;

/// The addresses of one running server.
#[derive(Debug, Clone)]
pub struct ServerInstance {
    pub http_url: String,
    /// `http://host:port` of its gRPC port.
    pub grpc_url: String,
    pub metrics_url: String,
}

impl ServerInstance {
    /// `host:port` of the gRPC port, as Python gRPC clients take it.
    pub fn grpc_target(&self) -> &str {
        self.grpc_url.trim_start_matches("http://")
    }
}

/// Stops every instance when the test ends, pass or fail.
pub struct ServerFleet {
    family: &'static str,
    state: PathBuf,
    pub instances: Vec<ServerInstance>,
    /// The Python of the family's venv (its client packages included).
    python: PathBuf,
    _dir: tempfile::TempDir,
}

fn run(family: &str, script: &str, args: &[&str]) -> std::process::Output {
    let path = repo_root().join("scripts").join(family).join(script);
    let output = Command::new(&path)
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", path.display()));
    assert!(
        output.status.success(),
        "{} {args:?} failed: {}",
        path.display(),
        output.status
    );
    output
}

impl ServerFleet {
    /// `family` is `triton` or `torchserve`.
    pub fn start(family: &'static str, count: usize, options: &[&str]) -> ServerFleet {
        let dir = tempfile::tempdir().expect("tempdir");
        let state = dir.path().join(format!("{family}-state.json"));
        let state_arg = state.to_str().expect("utf-8 path").to_owned();
        let count = count.to_string();
        let mut args = vec!["--state", state_arg.as_str(), "--count", count.as_str()];
        args.extend_from_slice(options);
        run(family, "start.sh", &args);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&state).expect("state file"))
                .expect("state json");
        let instances = json["instances"]
            .as_array()
            .expect("instances")
            .iter()
            .map(|i| {
                let url = |key: &str| i[key].as_str().expect(key).to_owned();
                ServerInstance {
                    http_url: url("http_url"),
                    grpc_url: url("grpc_url"),
                    // Triton's script records the page's URL, TorchServe's the base.
                    metrics_url: url("metrics_url").trim_end_matches("/metrics").to_owned(),
                }
            })
            .collect();
        let venv = String::from_utf8(run(family, "install.sh", &[]).stdout).expect("utf-8");
        ServerFleet {
            family,
            state,
            instances,
            python: PathBuf::from(venv.trim()).join("bin/python"),
            _dir: dir,
        }
    }

    fn state_arg(&self) -> &str {
        self.state.to_str().expect("utf-8 path")
    }

    pub fn stop_one(&self, index: usize) {
        run(
            self.family,
            "stop.sh",
            &["--state", self.state_arg(), "--index", &index.to_string()],
        );
    }

    pub fn restart_one(&self, index: usize) {
        run(
            self.family,
            "restart-one.sh",
            &["--state", self.state_arg(), "--index", &index.to_string()],
        );
    }

    /// Router YAML: one least-connections pool `servers` of these
    /// instances (`kind` is the family), serving `models`, each with its
    /// extra YAML lines (indented under the model).
    pub fn router_yaml(&self, models: &[(&str, &str)]) -> String {
        let endpoints: String = self
            .instances
            .iter()
            .enumerate()
            .map(|(i, s)| {
                format!(
                    "      - url: {}\n        grpc_url: {}\n        metrics_url: {}\n        name: ep{i}\n        kind: {}\n",
                    s.http_url, s.grpc_url, s.metrics_url, self.family
                )
            })
            .collect();
        let models: String = models
            .iter()
            .map(|(m, extra)| format!("  {m}:\n    pool: servers\n{extra}"))
            .collect();
        format!(
            "listeners:\n  - address: 127.0.0.1:0\nlogging:\n  level: warn\nhealth:\n  active:\n    interval: 200ms\n    timeout: 2s\n    unhealthy_threshold: 2\n    healthy_threshold: 2\n  passive:\n    consecutive_failures: 2\n    base_ejection: 500ms\n    max_ejection: 2s\nretries:\n  max_attempts: 3\n  backoff_base: 5ms\n  backoff_max: 20ms\nscrape:\n  interval: 200ms\n  stale_after: 2s\npools:\n  servers:\n    policy: least_connections\n    endpoints:\n{endpoints}models:\n{models}"
        )
    }

    /// A client script from `tests/python`, run by the family's Python.
    pub fn client(&self, script: &str, args: &[&str]) -> Command {
        let mut command = Command::new(&self.python);
        command
            .arg(repo_root().join("tests/python").join(script))
            .args(args);
        command
    }
}

/// Runs a client script off the async runtime; fails the test, with the
/// script's output, unless it exits 0. Returns its stdout.
pub async fn run_client(mut command: Command) -> String {
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("client thread")
        .expect("run the client script");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "client script failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

impl Drop for ServerFleet {
    fn drop(&mut self) {
        let _ = Command::new(
            repo_root()
                .join("scripts")
                .join(self.family)
                .join("stop.sh"),
        )
        .args(["--state", self.state_arg()])
        .status();
    }
}
