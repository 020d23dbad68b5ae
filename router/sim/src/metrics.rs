//! Engine metrics and their Prometheus text, with vLLM's names, labels and
//! histogram buckets, so a router scrapes the simulator exactly as it scrapes
//! vLLM. Written by hand: the exposition format is small.

use std::fmt::Write as _;

/// vLLM's time-to-first-token buckets (seconds).
const TTFT_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
    20.0, 40.0, 80.0, 160.0, 640.0, 2560.0,
];
/// vLLM's inter-token latency buckets (seconds).
const ITL_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
    40.0, 80.0,
];
/// vLLM's request latency buckets (seconds), used for e2e and queue time.
const REQUEST_BUCKETS: &[f64] = &[
    0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0,
    480.0, 960.0, 1920.0, 7680.0,
];

/// A cumulative-bucket histogram.
#[derive(Debug, Clone)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Per-bucket (non-cumulative) counts; the last slot is `+Inf`.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: vec![0; bounds.len() + 1],
            sum: 0.0,
            count: 0,
        }
    }

    /// Records one observation.
    pub fn observe(&mut self, value: f64) {
        let idx = self
            .bounds
            .iter()
            .position(|&b| value <= b)
            .unwrap_or(self.bounds.len());
        if let Some(c) = self.counts.get_mut(idx) {
            *c += 1;
        }
        self.sum += value;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, help: &str, labels: &str) {
        header(out, name, help, "histogram");
        let mut cumulative = 0u64;
        for (bound, count) in self.bounds.iter().zip(&self.counts) {
            cumulative += count;
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels},le=\"{bound:?}\"}} {:?}",
                cumulative as f64
            );
        }
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels},le=\"+Inf\"}} {:?}",
            self.count as f64
        );
        let _ = writeln!(out, "{name}_sum{{{labels}}} {:?}", self.sum);
        let _ = writeln!(out, "{name}_count{{{labels}}} {:?}", self.count as f64);
    }
}

/// Cumulative engine counters and latency histograms.
#[derive(Debug, Clone)]
pub struct Metrics {
    pub prompt_tokens: u64,
    pub generation_tokens: u64,
    pub prefix_cache_queries: u64,
    pub prefix_cache_hits: u64,
    pub success_stop: u64,
    pub success_length: u64,
    pub preemptions: u64,
    pub ttft: Histogram,
    pub itl: Histogram,
    pub e2e: Histogram,
    pub queue_time: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            prompt_tokens: 0,
            generation_tokens: 0,
            prefix_cache_queries: 0,
            prefix_cache_hits: 0,
            success_stop: 0,
            success_length: 0,
            preemptions: 0,
            ttft: Histogram::new(TTFT_BUCKETS),
            itl: Histogram::new(ITL_BUCKETS),
            e2e: Histogram::new(REQUEST_BUCKETS),
            queue_time: Histogram::new(REQUEST_BUCKETS),
        }
    }
}

/// Point-in-time values rendered next to the counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    pub running: usize,
    pub waiting: usize,
    pub kv_cache_usage: f64,
    /// The cache's shape, published as vLLM's `cache_config_info` labels.
    pub num_blocks: u32,
    pub block_size: u32,
    /// Simulator-only: HTTP requests cancelled by their client.
    pub requests_cancelled: u64,
    /// Simulator-only: HTTP requests failed by fault injection.
    pub requests_failed: u64,
}

impl Metrics {
    /// Prometheus text (format 0.0.4) with vLLM's metric names; `model_name`
    /// is the primary served name and `engine` is always "0".
    pub fn render(&self, model_name: &str, g: &Gauges) -> String {
        let labels = format!("model_name=\"{}\",engine=\"0\"", escape(model_name));
        let mut out = String::with_capacity(8192);
        let gauge = |out: &mut String, name: &str, help: &str, v: f64| {
            header(out, name, help, "gauge");
            let _ = writeln!(out, "{name}{{{labels}}} {v:?}");
        };
        gauge(
            &mut out,
            "vllm:num_requests_running",
            "Number of requests in model execution batches.",
            g.running as f64,
        );
        gauge(
            &mut out,
            "vllm:num_requests_waiting",
            "Number of requests waiting to be processed.",
            g.waiting as f64,
        );
        gauge(
            &mut out,
            "vllm:kv_cache_usage_perc",
            "KV-cache usage. 1 means 100 percent usage.",
            g.kv_cache_usage,
        );
        header(
            &mut out,
            "vllm:cache_config_info",
            "Information of the LLMEngine CacheConfig",
            "gauge",
        );
        let _ = writeln!(
            out,
            "vllm:cache_config_info{{block_size=\"{}\",engine=\"0\",kv_cache_size_tokens=\"{}\",num_gpu_blocks=\"{}\"}} 1.0",
            g.block_size,
            u64::from(g.num_blocks) * u64::from(g.block_size),
            g.num_blocks
        );
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            header(out, name, help, "counter");
            let _ = writeln!(out, "{name}{{{labels}}} {:?}", v as f64);
        };
        counter(
            &mut out,
            "vllm:num_preemptions_total",
            "Cumulative number of preemption from the engine.",
            self.preemptions,
        );
        counter(
            &mut out,
            "vllm:prefix_cache_queries_total",
            "Prefix cache queries, in terms of number of queried tokens.",
            self.prefix_cache_queries,
        );
        counter(
            &mut out,
            "vllm:prefix_cache_hits_total",
            "Prefix cache hits, in terms of number of cached tokens.",
            self.prefix_cache_hits,
        );
        counter(
            &mut out,
            "vllm:prompt_tokens_total",
            "Number of prefill tokens processed.",
            self.prompt_tokens,
        );
        counter(
            &mut out,
            "vllm:generation_tokens_total",
            "Number of generation tokens processed.",
            self.generation_tokens,
        );
        header(
            &mut out,
            "vllm:request_success_total",
            "Count of successfully processed requests.",
            "counter",
        );
        for (reason, v) in [("stop", self.success_stop), ("length", self.success_length)] {
            let _ = writeln!(
                out,
                "vllm:request_success_total{{{labels},finished_reason=\"{reason}\"}} {:?}",
                v as f64
            );
        }
        self.ttft.render(
            &mut out,
            "vllm:time_to_first_token_seconds",
            "Histogram of time to first token in seconds.",
            &labels,
        );
        self.itl.render(
            &mut out,
            "vllm:inter_token_latency_seconds",
            "Histogram of inter-token latency in seconds.",
            &labels,
        );
        self.e2e.render(
            &mut out,
            "vllm:e2e_request_latency_seconds",
            "Histogram of e2e request latency in seconds.",
            &labels,
        );
        self.queue_time.render(
            &mut out,
            "vllm:request_queue_time_seconds",
            "Histogram of time spent in WAITING phase for request.",
            &labels,
        );
        counter(
            &mut out,
            "sim_requests_cancelled_total",
            "Simulator: requests aborted because the client went away.",
            g.requests_cancelled,
        );
        counter(
            &mut out,
            "sim_requests_failed_total",
            "Simulator: requests failed by fault injection.",
            g.requests_failed,
        );
        out
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Escapes a label value (backslash, quote, newline).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut h = Histogram::new(&[0.1, 1.0]);
        h.observe(0.0625);
        h.observe(0.5);
        h.observe(4.0);
        let mut out = String::new();
        h.render(&mut out, "x", "help", "a=\"b\"");
        assert!(out.contains("# TYPE x histogram\n"));
        assert!(out.contains("x_bucket{a=\"b\",le=\"0.1\"} 1.0\n"));
        assert!(out.contains("x_bucket{a=\"b\",le=\"1.0\"} 2.0\n"));
        assert!(out.contains("x_bucket{a=\"b\",le=\"+Inf\"} 3.0\n"));
        assert!(out.contains("x_sum{a=\"b\"} 4.5625\n"));
        assert!(out.contains("x_count{a=\"b\"} 3.0\n"));
    }

    #[test]
    fn render_uses_vllm_names_and_labels() {
        let mut m = Metrics {
            prompt_tokens: 12,
            success_length: 2,
            ..Metrics::default()
        };
        m.ttft.observe(0.02);
        let g = Gauges {
            running: 3,
            kv_cache_usage: 0.25,
            requests_cancelled: 1,
            num_blocks: 96,
            block_size: 16,
            ..Gauges::default()
        };
        let text = m.render("my\"model", &g);
        let l = "model_name=\"my\\\"model\",engine=\"0\"";
        assert!(text.contains(&format!("vllm:num_requests_running{{{l}}} 3.0\n")));
        assert!(text.contains(&format!("vllm:num_requests_waiting{{{l}}} 0.0\n")));
        assert!(text.contains(&format!("vllm:kv_cache_usage_perc{{{l}}} 0.25\n")));
        assert!(text.contains(&format!("vllm:prompt_tokens_total{{{l}}} 12.0\n")));
        assert!(text.contains(&format!(
            "vllm:request_success_total{{{l},finished_reason=\"length\"}} 2.0\n"
        )));
        assert!(text.contains("# TYPE vllm:prefix_cache_hits_total counter\n"));
        assert!(text.contains(
            "vllm:cache_config_info{block_size=\"16\",engine=\"0\",kv_cache_size_tokens=\"1536\",num_gpu_blocks=\"96\"} 1.0\n"
        ));
        assert!(text.contains(&format!(
            "vllm:time_to_first_token_seconds_count{{{l}}} 1.0\n"
        )));
        assert!(text.contains(&format!("sim_requests_cancelled_total{{{l}}} 1.0\n")));
        // Every sample line is "name{labels} value".
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            value.parse::<f64>().unwrap();
        }
    }
}
