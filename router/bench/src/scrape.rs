//! The engines' own view of a run: their Prometheus counters read before and after (requests
//! finished, prefix-cache queries and hits, TTFT histogram) and their running/waiting gauges
//! sampled during the run, per endpoint.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::Uri;
use switchyard_backends::{HttpClient, parse_sample_line};

use crate::http_get;
use crate::results::EndpointResult;

/// Each figure under the names the engines export it by; the first name present wins.
const SUCCESS: &[&str] = &["vllm:request_success_total", "vllm:request_success"];
const PREFIX_QUERIES: &[&str] = &[
    "vllm:prefix_cache_queries_total",
    "vllm:prefix_cache_queries",
    "vllm:gpu_prefix_cache_queries_total",
    "vllm:gpu_prefix_cache_queries",
];
const PREFIX_HITS: &[&str] = &[
    "vllm:prefix_cache_hits_total",
    "vllm:prefix_cache_hits",
    "vllm:gpu_prefix_cache_hits_total",
    "vllm:gpu_prefix_cache_hits",
];
const TTFT_SUM: &[&str] = &["vllm:time_to_first_token_seconds_sum"];
const TTFT_COUNT: &[&str] = &["vllm:time_to_first_token_seconds_count"];
const RUNNING: &[&str] = &[
    "vllm:num_requests_running",
    "sglang:num_running_reqs",
    "llamacpp:requests_processing",
];
const WAITING: &[&str] = &[
    "vllm:num_requests_waiting",
    "sglang:num_queue_reqs",
    "llamacpp:requests_deferred",
];

#[derive(Debug, Clone, PartialEq)]
pub struct ScrapeTarget {
    pub name: String,
    pub url: String,
}

impl std::str::FromStr for ScrapeTarget {
    type Err = String;

    /// `NAME=URL` or `URL`; a URL without a path gets `/metrics`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (name, url) = match text.split_once('=') {
            Some((name, url)) if !name.contains('/') => (Some(name.to_string()), url),
            _ => (None, text),
        };
        let uri: Uri = url.parse().map_err(|e| format!("bad URL `{url}`: {e}"))?;
        let authority = uri
            .authority()
            .filter(|_| uri.scheme().is_some())
            .ok_or_else(|| format!("`{url}` needs a host: http://HOST:PORT/metrics"))?
            .to_string();
        let url = if uri.path().is_empty() || uri.path() == "/" {
            format!("{}/metrics", url.trim_end_matches('/'))
        } else {
            url.to_string()
        };
        Ok(Self {
            name: name.unwrap_or(authority),
            url,
        })
    }
}

/// Metric name -> value summed over label sets.
#[derive(Debug, Default, Clone)]
pub struct Snapshot(HashMap<String, f64>);

impl Snapshot {
    pub fn parse(text: &str) -> Self {
        let mut sums = HashMap::new();
        for (name, value) in text.lines().filter_map(parse_sample_line) {
            *sums.entry(name.to_string()).or_insert(0.0) += value;
        }
        Self(sums)
    }

    pub fn get(&self, names: &[&str]) -> Option<f64> {
        names.iter().find_map(|n| self.0.get(*n).copied())
    }
}

fn delta(before: &Snapshot, after: &Snapshot, names: &[&str]) -> Option<f64> {
    let after = after.get(names)?;
    // A counter that went down means the engine restarted: count from zero.
    let before = before.get(names).unwrap_or(0.0);
    Some(if after >= before {
        after - before
    } else {
        after
    })
}

pub struct Scraper {
    client: HttpClient,
    targets: Vec<ScrapeTarget>,
    before: Vec<Snapshot>,
    load: Arc<Mutex<Vec<Vec<[f64; 3]>>>>,
}

impl Scraper {
    pub fn new(client: HttpClient, targets: Vec<ScrapeTarget>) -> Self {
        let load = Arc::new(Mutex::new(vec![Vec::new(); targets.len()]));
        Self {
            client,
            targets,
            before: Vec::new(),
            load,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Reads every endpoint once; fails if one cannot be read (a typo'd URL should stop the
    /// run before it starts, not leave a hole in the report).
    pub async fn before(&mut self) -> Result<(), String> {
        let mut snapshots = Vec::new();
        for target in &self.targets {
            snapshots.push(
                fetch(&self.client, &target.url)
                    .await
                    .map_err(|e| format!("cannot scrape {} ({}): {e}", target.name, target.url))?,
            );
        }
        self.before = snapshots;
        Ok(())
    }

    /// Samples running/waiting gauges every `interval` until the returned handle is aborted.
    pub fn sample_during(
        &self,
        origin: Instant,
        interval: Duration,
    ) -> tokio::task::JoinHandle<()> {
        let client = self.client.clone();
        let urls: Vec<String> = self.targets.iter().map(|t| t.url.clone()).collect();
        let load = Arc::clone(&self.load);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                ticks.tick().await;
                for (i, url) in urls.iter().enumerate() {
                    let Ok(snapshot) = fetch(&client, url).await else {
                        continue;
                    };
                    let (Some(running), waiting) = (snapshot.get(RUNNING), snapshot.get(WAITING))
                    else {
                        continue;
                    };
                    let t = origin.elapsed().as_secs_f64();
                    let mut load = load.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Some(series) = load.get_mut(i) {
                        series.push([t, running, waiting.unwrap_or(0.0)]);
                    }
                }
            }
        })
    }

    /// Reads every endpoint again and reports what changed. An endpoint that cannot be read
    /// now is reported with what is known (its load samples) and a warning.
    pub async fn after(&self) -> (Vec<EndpointResult>, Vec<String>) {
        let mut out = Vec::new();
        let mut warnings = Vec::new();
        let load = self
            .load
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for (i, target) in self.targets.iter().enumerate() {
            let mut result = EndpointResult {
                name: target.name.clone(),
                metrics_url: Some(target.url.clone()),
                load: load.get(i).cloned().unwrap_or_default(),
                ..EndpointResult::default()
            };
            match (fetch(&self.client, &target.url).await, self.before.get(i)) {
                (Ok(after), Some(before)) => fill(&mut result, before, &after),
                (Err(e), _) => {
                    warnings.push(format!("cannot scrape {} after the run: {e}", target.name))
                }
                (Ok(_), None) => {}
            }
            out.push(result);
        }
        (out, warnings)
    }
}

fn fill(result: &mut EndpointResult, before: &Snapshot, after: &Snapshot) {
    result.engine_requests = delta(before, after, SUCCESS);
    result.prefix_cache_queries = delta(before, after, PREFIX_QUERIES);
    result.prefix_cache_hits = delta(before, after, PREFIX_HITS);
    result.prefix_cache_hit_rate = match (result.prefix_cache_queries, result.prefix_cache_hits) {
        (Some(q), Some(h)) if q > 0.0 => Some(h / q),
        _ => None,
    };
    result.engine_ttft_mean_ms = match (
        delta(before, after, TTFT_SUM),
        delta(before, after, TTFT_COUNT),
    ) {
        (Some(sum), Some(count)) if count > 0.0 => Some(sum / count * 1000.0),
        _ => None,
    };
}

async fn fetch(client: &HttpClient, url: &str) -> Result<Snapshot, String> {
    let body = http_get::get(client, url, Duration::from_secs(5)).await?;
    Ok(Snapshot::parse(&String::from_utf8_lossy(&body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_scrape_targets() {
        let t: ScrapeTarget = "a=http://127.0.0.1:8000".parse().unwrap();
        assert_eq!(
            (t.name.as_str(), t.url.as_str()),
            ("a", "http://127.0.0.1:8000/metrics")
        );
        let t: ScrapeTarget = "http://h:1/stats/prom".parse().unwrap();
        assert_eq!(
            (t.name.as_str(), t.url.as_str()),
            ("h:1", "http://h:1/stats/prom")
        );
        assert!("nohost".parse::<ScrapeTarget>().is_err());
    }

    #[test]
    fn deltas_cover_counters_histograms_and_restarts() {
        let before = Snapshot::parse(
            "vllm:request_success_total{finished_reason=\"length\"} 10\n\
             vllm:request_success_total{finished_reason=\"stop\"} 5\n\
             vllm:prefix_cache_queries_total 100\nvllm:prefix_cache_hits_total 40\n\
             vllm:time_to_first_token_seconds_sum 1.5\nvllm:time_to_first_token_seconds_count 10\n",
        );
        let after = Snapshot::parse(
            "# HELP x\nvllm:request_success_total{finished_reason=\"length\"} 30\n\
             vllm:request_success_total{finished_reason=\"stop\"} 5\n\
             vllm:prefix_cache_queries_total 300\nvllm:prefix_cache_hits_total 190\n\
             vllm:time_to_first_token_seconds_sum 3.5\nvllm:time_to_first_token_seconds_count 20\n",
        );
        let mut r = EndpointResult::default();
        fill(&mut r, &before, &after);
        assert_eq!(r.engine_requests, Some(20.0));
        assert_eq!(r.prefix_cache_queries, Some(200.0));
        assert_eq!(r.prefix_cache_hit_rate, Some(0.75));
        assert!((r.engine_ttft_mean_ms.unwrap() - 200.0).abs() < 1e-9);
        let restarted = Snapshot::parse("vllm:request_success_total 3\n");
        assert_eq!(delta(&before, &restarted, SUCCESS), Some(3.0));
        assert_eq!(delta(&before, &after, &["missing"]), None);
    }
}
