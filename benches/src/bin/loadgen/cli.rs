//! Command-line flags and target parsing.

use std::net::{SocketAddr, ToSocketAddrs};

use clap::{Parser, ValueEnum};
use http::HeaderValue;

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Constant arrival rate; latency from each request's scheduled send time.
    Open,
    /// Every connection sends its next request as soon as the previous one is answered.
    Closed,
}

/// Load generator for the router benches.
///
/// Runs `--rounds` rounds; in each round every `--target` gets one segment of `--warmup` plus
/// `--duration` seconds, one target after the other (the order reversed every other round), so
/// that slow drifts of a shared machine hit all targets alike. Prints one JSON line on stdout
/// and a summary on stderr.
#[derive(Parser, Debug)]
#[command(name = "loadgen")]
pub struct Args {
    #[arg(long, value_enum, default_value_t = Mode::Open)]
    pub mode: Mode,
    /// Requests per second (open loop).
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Keep-alive connections per target (open: pool size; closed: concurrency).
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Measured seconds per segment.
    #[arg(long, default_value_t = 3.0)]
    pub duration: f64,
    /// Unmeasured seconds before each segment.
    #[arg(long, default_value_t = 0.5)]
    pub warmup: f64,
    /// Rounds over all targets.
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
    /// Send `"stream":true` and measure time to first body chunk.
    #[arg(long)]
    pub stream: bool,
    /// Request path.
    #[arg(long, default_value = "/v1/chat/completions")]
    pub path: String,
    /// Send this file's bytes as every request body (e.g. a KServe v2 infer
    /// request for `--path /v2/models/M/infer`) instead of an OpenAI body.
    #[arg(long)]
    pub body_file: Option<std::path::PathBuf>,
    /// Model name put into the request body.
    #[arg(long, default_value = "bench-model")]
    pub model: String,
    /// Target as NAME=http://HOST:PORT; repeat for several.
    #[arg(long = "target", required = true, value_parser = parse_target)]
    pub targets: Vec<TargetArg>,
    /// Process whose CPU time and RSS to report for a target, as NAME=PID.
    #[arg(long = "pid", value_parser = parse_pid)]
    pub pids: Vec<(String, u32)>,
    /// Target that latencies are compared against (default: the first).
    #[arg(long)]
    pub baseline: Option<String>,
    /// Kernel clock ticks per second, for /proc/PID/stat (`getconf CLK_TCK`).
    #[arg(long, default_value_t = 100)]
    pub clk_tck: u64,
    /// Seconds to wait for in-flight requests after a segment before counting them as errors.
    #[arg(long, default_value_t = 10.0)]
    pub grace: f64,
}

#[derive(Clone, Debug)]
pub struct TargetArg {
    pub name: String,
    pub url: String,
    pub addr: SocketAddr,
    pub host: HeaderValue,
}

fn parse_target(text: &str) -> Result<TargetArg, String> {
    let (name, url) = text
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=URL, got {text:?}"))?;
    let uri: http::Uri = url.parse().map_err(|e| format!("bad URL {url:?}: {e}"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!("only http:// targets are supported, got {url:?}"));
    }
    let authority = uri
        .authority()
        .ok_or_else(|| format!("URL without host: {url:?}"))?;
    let port = authority.port_u16().unwrap_or(80);
    let addr = (authority.host(), port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {url:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url:?} resolves to nothing"))?;
    let host = HeaderValue::from_str(authority.as_str()).map_err(|e| e.to_string())?;
    Ok(TargetArg {
        name: name.to_string(),
        url: url.to_string(),
        addr,
        host,
    })
}

fn parse_pid(text: &str) -> Result<(String, u32), String> {
    let (name, pid) = text
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=PID, got {text:?}"))?;
    let pid = pid.parse().map_err(|e| format!("bad pid {pid:?}: {e}"))?;
    Ok((name.to_string(), pid))
}

impl Args {
    pub fn validate(&self) -> Result<(), String> {
        if self.mode == Mode::Open && !(self.rate > 0.0 && self.rate.is_finite()) {
            return Err("--rate must be a positive number".into());
        }
        if self.connections == 0 || self.rounds == 0 {
            return Err("--connections and --rounds must be at least 1".into());
        }
        if !(self.duration > 0.0 && self.warmup >= 0.0 && self.grace >= 0.0) {
            return Err("--duration must be positive, --warmup and --grace not negative".into());
        }
        if self.duration + self.warmup > 3600.0 {
            return Err("a segment is limited to one hour".into());
        }
        if let Some(baseline) = &self.baseline
            && !self.targets.iter().any(|t| &t.name == baseline)
        {
            return Err(format!("--baseline {baseline} names no --target"));
        }
        for (name, _) in &self.pids {
            if !self.targets.iter().any(|t| &t.name == name) {
                return Err(format!("--pid {name}=... names no --target"));
            }
        }
        Ok(())
    }

    pub fn pid_of(&self, target: &str) -> Option<u32> {
        self.pids
            .iter()
            .find(|(name, _)| name == target)
            .map(|(_, pid)| *pid)
    }

    pub fn request_body(&self) -> String {
        if let Some(path) = &self.body_file {
            return std::fs::read_to_string(path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        }
        let model = &self.model;
        let stream = if self.stream { r#","stream":true"# } else { "" };
        if self.path.ends_with("/chat/completions") {
            format!(
                r#"{{"model":"{model}","messages":[{{"role":"user","content":"Say hello."}}],"max_tokens":8{stream}}}"#
            )
        } else {
            format!(r#"{{"model":"{model}","prompt":"Say hello.","max_tokens":8{stream}}}"#)
        }
    }
}
