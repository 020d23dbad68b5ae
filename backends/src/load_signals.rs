//! Turns an engine's Prometheus exposition into the few numbers routing
//! reads: how much it is running, how much is queued, how full its KV cache
//! is, and its prefix-cache counters.

use crate::EngineKind;

/// One scrape's worth of engine state. `None` means the engine does not
/// export that signal (not zero: an unknown queue is not an empty queue).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EngineLoad {
    pub running: Option<u32>,
    pub waiting: Option<u32>,
    /// Fraction of KV-cache blocks in use, 0..=1.
    pub kv_cache_usage: Option<f32>,
    /// Prompt tokens looked up in the prefix cache (counter).
    pub prefix_cache_queries: Option<f64>,
    /// Prompt tokens found in the prefix cache (counter).
    pub prefix_cache_hits: Option<f64>,
    /// Microseconds requests spent queued in the server, summed (counter;
    /// Triton and TorchServe). With `queued_requests` it gives the mean
    /// queue wait between two scrapes.
    pub queue_time_us: Option<f64>,
    /// Requests the queue time above covers (counter).
    pub queued_requests: Option<f64>,
    /// How many tokens the engine's KV cache holds (vLLM's `cache_config_info`): a fixed
    /// size, not a load, read so the approximate prefix index can age what it predicts.
    pub kv_cache_tokens: Option<u64>,
}

/// How each signal is named by each engine family. Gauges are summed across
/// label sets (several engines or models behind one server), except usage
/// fractions, where the fullest engine is what limits admission.
struct MetricNames {
    running: &'static [&'static str],
    waiting: &'static [&'static str],
    kv_usage: &'static [&'static str],
    prefix_queries: &'static [&'static str],
    prefix_hits: &'static [&'static str],
    queue_time_us: &'static [&'static str],
    queued_requests: &'static [&'static str],
}

const NONE: &[&str] = &[];

fn names_for(kind: EngineKind) -> MetricNames {
    match kind {
        EngineKind::Vllm => MetricNames {
            running: &["vllm:num_requests_running"],
            waiting: &["vllm:num_requests_waiting"],
            // The second name is what vLLM releases before 0.10 exported.
            kv_usage: &["vllm:kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"],
            prefix_queries: &[
                "vllm:prefix_cache_queries_total",
                "vllm:prefix_cache_queries",
            ],
            prefix_hits: &["vllm:prefix_cache_hits_total", "vllm:prefix_cache_hits"],
            queue_time_us: NONE,
            queued_requests: NONE,
        },
        EngineKind::Sglang => MetricNames {
            running: &["sglang:num_running_reqs"],
            waiting: &["sglang:num_queue_reqs"],
            kv_usage: &["sglang:token_usage"],
            prefix_queries: NONE,
            prefix_hits: NONE,
            queue_time_us: NONE,
            queued_requests: NONE,
        },
        EngineKind::LlamaCpp => MetricNames {
            running: &["llamacpp:requests_processing"],
            waiting: &["llamacpp:requests_deferred"],
            kv_usage: &["llamacpp:kv_cache_usage_ratio"],
            prefix_queries: NONE,
            prefix_hits: NONE,
            queue_time_us: NONE,
            queued_requests: NONE,
        },
        EngineKind::OpenAi => MetricNames {
            running: NONE,
            waiting: NONE,
            kv_usage: NONE,
            prefix_queries: NONE,
            prefix_hits: NONE,
            queue_time_us: NONE,
            queued_requests: NONE,
        },
        // Triton counts requests queued or executing per model; it has no
        // separate running gauge. Queue time is a cumulative counter.
        EngineKind::Triton => MetricNames {
            running: NONE,
            waiting: &["nv_inference_pending_request_count"],
            kv_usage: NONE,
            prefix_queries: NONE,
            prefix_hits: NONE,
            queue_time_us: &["nv_inference_queue_duration_us"],
            queued_requests: &[
                "nv_inference_request_success",
                "nv_inference_request_failure",
            ],
        },
        // TorchServe exports no queue gauge, only cumulative queue latency
        // and request counters.
        EngineKind::TorchServe => MetricNames {
            running: NONE,
            waiting: NONE,
            kv_usage: NONE,
            prefix_queries: NONE,
            prefix_hits: NONE,
            queue_time_us: &["ts_queue_latency_microseconds"],
            queued_requests: &["ts_inference_requests_total"],
        },
    }
}

/// Reads the signals of `kind` out of a Prometheus text exposition. Lines it
/// cannot read are skipped rather than failing the scrape: one odd line from
/// an engine upgrade must not blind the router to the rest.
pub fn parse_engine_load(kind: EngineKind, text: &str) -> EngineLoad {
    let names = names_for(kind);
    let samples: Vec<(&str, f64)> = text.lines().filter_map(parse_sample_line).collect();
    let samples = &samples;
    let values = move |name: &'static str| {
        samples
            .iter()
            .filter(move |(n, _)| *n == name)
            .map(|(_, v)| *v)
    };
    // The first name present wins, so an engine exporting both an old and a
    // new name is not double counted.
    let sum = |wanted: &[&'static str]| -> Option<f64> {
        wanted
            .iter()
            .find(|name| values(name).next().is_some())
            .map(|name| values(name).sum())
    };
    // Every name present counts (success and failure are separate counters).
    let sum_all = |wanted: &[&'static str]| -> Option<f64> {
        let mut present = wanted
            .iter()
            .filter(|name| values(name).next().is_some())
            .peekable();
        present.peek()?;
        Some(present.map(|name| values(name).sum::<f64>()).sum())
    };
    let max = |wanted: &[&'static str]| -> Option<f64> {
        wanted.iter().find_map(|name| values(name).reduce(f64::max))
    };
    EngineLoad {
        running: sum(names.running).map(to_count),
        waiting: sum(names.waiting).map(to_count),
        kv_cache_usage: max(names.kv_usage).map(|v| v.clamp(0.0, 1.0) as f32),
        prefix_cache_queries: sum(names.prefix_queries),
        prefix_cache_hits: sum(names.prefix_hits),
        queue_time_us: sum(names.queue_time_us),
        queued_requests: sum_all(names.queued_requests),
        kv_cache_tokens: match kind {
            EngineKind::Vllm => vllm_cache_tokens(text),
            _ => None,
        },
    }
}

/// vLLM publishes its cache configuration as labels of an info gauge:
/// `kv_cache_size_tokens`, or (older releases) `num_gpu_blocks` x `block_size`. Data-parallel
/// engines behind one server each have their own cache; the smallest is what a prefix can
/// count on.
fn vllm_cache_tokens(text: &str) -> Option<u64> {
    text.lines()
        .filter_map(|line| {
            let (name, rest) = split_metric_name(line)?;
            if name != "vllm:cache_config_info" {
                return None;
            }
            let number = |key| label_value(rest, key)?.parse::<u64>().ok();
            number("kv_cache_size_tokens")
                .or_else(|| Some(number("num_gpu_blocks")? * number("block_size")?))
                .filter(|&tokens| tokens > 0)
        })
        .min()
}

/// The value of label `key` in text starting at `{` (`None` when absent or unquoted).
/// Escapes are left in place: the values read here are numbers.
fn label_value<'a>(labels: &'a str, key: &str) -> Option<&'a str> {
    let mut rest = labels.strip_prefix('{')?;
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        let (name, after) = rest.split_once('=')?;
        let quoted = after.strip_prefix('"')?;
        let end = closing_quote(quoted)?;
        if name.trim() == key {
            return Some(&quoted[..end]);
        }
        rest = &quoted[end + 1..];
        if rest.starts_with('}') {
            return None;
        }
    }
}

/// Byte offset of the first unescaped `"`.
fn closing_quote(text: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

/// `name{labels} value [timestamp]` -> (name, value). Labels are skipped
/// (quoted values may contain `}` or spaces); comments and non-finite values
/// yield nothing. Written here because the parser crates available either
/// reject `:` in metric names or fail the whole page on one bad line.
pub fn parse_sample_line(line: &str) -> Option<(&str, f64)> {
    let (name, mut rest) = split_metric_name(line)?;
    if rest.starts_with('{') {
        rest = skip_labels(rest)?;
    }
    let value: f64 = rest.split_whitespace().next()?.parse().ok()?;
    value.is_finite().then_some((name, value))
}

/// A sample line's metric name and what follows it (labels, value); `None`
/// for blank lines and comments.
pub fn split_metric_name(line: &str) -> Option<(&str, &str)> {
    let line = line.trim_start();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let (name, rest) = line.split_at(name_end);
    (!name.is_empty()).then_some((name, rest))
}

/// Given text starting at `{`, returns what follows the matching `}`.
fn skip_labels(text: &str) -> Option<&str> {
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' => in_quotes = !in_quotes,
            '}' if !in_quotes => return Some(&text[i + 1..]),
            _ => {}
        }
    }
    None
}

fn to_count(v: f64) -> u32 {
    v.max(0.0).min(u32::MAX as f64).round() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const VLLM: &str = r#"# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="tiny-llama"} 3.0
# HELP vllm:num_requests_waiting Number of requests waiting to be processed.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{engine="0",model_name="tiny-llama"} 5.0
# TYPE vllm:kv_cache_usage_perc gauge
vllm:kv_cache_usage_perc{engine="0",model_name="tiny-llama"} 0.25
# TYPE vllm:prefix_cache_queries counter
vllm:prefix_cache_queries_total{engine="0",model_name="tiny-llama"} 1024.0
# TYPE vllm:prefix_cache_hits counter
vllm:prefix_cache_hits_total{engine="0",model_name="tiny-llama"} 512.0
# TYPE vllm:time_to_first_token_seconds histogram
vllm:time_to_first_token_seconds_bucket{engine="0",le="0.001",model_name="tiny-llama"} 0.0
vllm:time_to_first_token_seconds_bucket{engine="0",le="+Inf",model_name="tiny-llama"} 4.0
vllm:time_to_first_token_seconds_count{engine="0",model_name="tiny-llama"} 4.0
vllm:time_to_first_token_seconds_sum{engine="0",model_name="tiny-llama"} 0.5
"#;

    #[test]
    fn reads_vllm_gauges_and_counters() {
        let load = parse_engine_load(EngineKind::Vllm, VLLM);
        assert_eq!(load.running, Some(3));
        assert_eq!(load.waiting, Some(5));
        assert_eq!(load.kv_cache_usage, Some(0.25));
        assert_eq!(load.prefix_cache_queries, Some(1024.0));
        assert_eq!(load.prefix_cache_hits, Some(512.0));
    }

    #[test]
    fn sums_engines_and_takes_the_fullest_cache() {
        let text = "vllm:num_requests_waiting{engine=\"0\"} 2\nvllm:num_requests_waiting{engine=\"1\"} 3\nvllm:kv_cache_usage_perc{engine=\"0\"} 0.1\nvllm:kv_cache_usage_perc{engine=\"1\"} 0.7\n";
        let load = parse_engine_load(EngineKind::Vllm, text);
        assert_eq!(load.waiting, Some(5));
        assert_eq!(load.kv_cache_usage, Some(0.7));
        assert_eq!(load.running, None, "absent metric is unknown, not zero");
    }

    #[test]
    fn reads_vllm_cache_size_from_its_config_labels() {
        let page = r#"# TYPE vllm:cache_config_info gauge
vllm:cache_config_info{block_size="32",cache_dtype="auto",engine="0",kv_cache_size_tokens="3072",note="a \"quoted\", value",num_gpu_blocks="96"} 1.0
"#;
        assert_eq!(
            parse_engine_load(EngineKind::Vllm, page).kv_cache_tokens,
            Some(3072)
        );
        let older = r#"vllm:cache_config_info{block_size="16",engine="0",num_gpu_blocks="1000",num_gpu_blocks_override="None"} 1.0
vllm:cache_config_info{block_size="16",engine="1",num_gpu_blocks="900"} 1.0
"#;
        assert_eq!(
            parse_engine_load(EngineKind::Vllm, older).kv_cache_tokens,
            Some(14_400),
            "the smaller of two engines"
        );
        let unknown = r#"vllm:cache_config_info{block_size="16",num_gpu_blocks="None"} 1.0"#;
        assert_eq!(
            parse_engine_load(EngineKind::Vllm, unknown).kv_cache_tokens,
            None
        );
        assert_eq!(
            parse_engine_load(EngineKind::Vllm, VLLM).kv_cache_tokens,
            None
        );
        assert_eq!(
            parse_engine_load(EngineKind::Sglang, page).kv_cache_tokens,
            None
        );
    }

    #[test]
    fn old_vllm_cache_name_is_accepted() {
        let load = parse_engine_load(EngineKind::Vllm, "vllm:gpu_cache_usage_perc 0.5\n");
        assert_eq!(load.kv_cache_usage, Some(0.5));
    }

    #[test]
    fn reads_llamacpp() {
        let text = "# TYPE llamacpp:requests_processing gauge\nllamacpp:requests_processing 1\n# TYPE llamacpp:requests_deferred gauge\nllamacpp:requests_deferred 4\n";
        let load = parse_engine_load(EngineKind::LlamaCpp, text);
        assert_eq!(load.running, Some(1));
        assert_eq!(load.waiting, Some(4));
    }

    #[test]
    fn external_api_has_no_signals() {
        let load = parse_engine_load(EngineKind::OpenAi, VLLM);
        assert_eq!(load, EngineLoad::default());
    }

    const TRITON: &str = r#"# HELP nv_inference_request_success Number of successful inference requests, all batch sizes
# TYPE nv_inference_request_success counter
nv_inference_request_success{model="add_sub",version="1"} 40
nv_inference_request_success{model="stream_counter",version="1"} 2
# TYPE nv_inference_request_failure counter
nv_inference_request_failure{model="add_sub",reason="BACKEND",version="1"} 3
# TYPE nv_inference_queue_duration_us counter
nv_inference_queue_duration_us{model="add_sub",version="1"} 4400
nv_inference_queue_duration_us{model="stream_counter",version="1"} 100
# TYPE nv_inference_pending_request_count gauge
nv_inference_pending_request_count{model="add_sub",version="1"} 3
nv_inference_pending_request_count{model="stream_counter",version="1"} 1
"#;

    #[test]
    fn reads_triton_pending_and_queue_counters() {
        let load = parse_engine_load(EngineKind::Triton, TRITON);
        assert_eq!(load.waiting, Some(4), "pending summed over models");
        assert_eq!(load.running, None);
        assert_eq!(load.queue_time_us, Some(4500.0));
        assert_eq!(load.queued_requests, Some(45.0), "successes and failures");
    }

    #[test]
    fn reads_torchserve_counters() {
        let text = "# TYPE ts_inference_requests_total counter\nts_inference_requests_total{model_name=\"echo\",model_version=\"default\",hostname=\"h\"} 12.0\n# TYPE ts_queue_latency_microseconds counter\nts_queue_latency_microseconds{model_name=\"echo\",model_version=\"default\",hostname=\"h\"} 3600.5\n";
        let load = parse_engine_load(EngineKind::TorchServe, text);
        assert_eq!(load.queued_requests, Some(12.0));
        assert_eq!(load.queue_time_us, Some(3600.5));
        assert_eq!(load.waiting, None, "TorchServe has no queue gauge");
    }

    #[test]
    fn tolerates_odd_lines_and_quoted_braces() {
        let text = "garbage line here\nvllm:num_requests_waiting{model_name=\"a}b c\\\"\"} 7 1700000000\nvllm:num_requests_running NaN\n";
        let load = parse_engine_load(EngineKind::Vllm, text);
        assert_eq!(load.waiting, Some(7));
        assert_eq!(load.running, None, "NaN is not a reading");
    }
}
