//! A/B overhead mode: the same workload sent direct to the engine (A) and through the router
//! (B), alternating in rounds (A then B, then B then A, ...), each segment with the same seed
//! so both see the same requests. Added latency is the median over rounds of the per-round
//! difference, which keeps a noisy moment on a shared machine from landing on one side only.

use std::sync::Arc;

use crate::assemble;
use crate::progress::Progress;
use crate::results::{AbResult, RunConfig, Summary};
use crate::run::session::SessionPool;
use crate::run::{Measured, RunSpec, measure, warm_up};
use crate::target::Target;

pub struct AbRun {
    pub direct_url: String,
    pub router_url: String,
    pub rounds: usize,
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

fn added(router: &Summary, direct: &Summary, pick: fn(&Summary) -> Option<f64>) -> Option<f64> {
    Some(pick(router)? - pick(direct)?)
}

/// Runs the rounds; returns the router's segments merged (for the main report) and the A/B
/// figures.
pub async fn run(
    run: &AbRun,
    direct: Arc<dyn Target>,
    router: Arc<dyn Target>,
    // One fresh workload per segment (`2 * rounds`), all built from the same seed.
    sessions: Vec<SessionPool>,
    spec: &RunSpec,
    config: &RunConfig,
    progress: &Progress,
) -> (Measured, AbResult) {
    let mut direct_runs = Vec::new();
    let mut router_runs = Vec::new();
    let mut sessions = sessions.into_iter();
    for round in 0..run.rounds.max(1) {
        let router_first = round % 2 == 1;
        for is_router in [router_first, !router_first] {
            let (target, label) = if is_router {
                (Arc::clone(&router), format!("round {} router: ", round + 1))
            } else {
                (Arc::clone(&direct), format!("round {} direct: ", round + 1))
            };
            let Some(pool) = sessions.next() else { break };
            let pool = Arc::new(pool);
            warm_up(&target, &pool, spec, progress, &label).await;
            let measured = measure(&target, &pool, spec, progress, &label).await;
            if is_router {
                router_runs.push(measured);
            } else {
                direct_runs.push(measured);
            }
        }
    }
    let summary = |m: &Measured| assemble::stage_summaries(m, &spec.stages, config).1;
    let direct_summaries: Vec<Summary> = direct_runs.iter().map(summary).collect();
    let router_summaries: Vec<Summary> = router_runs.iter().map(summary).collect();
    let per_round = |pick: fn(&Summary) -> Option<f64>| -> Vec<f64> {
        router_summaries
            .iter()
            .zip(&direct_summaries)
            .filter_map(|(r, d)| added(r, d, pick))
            .collect()
    };
    let added_p50 = median(per_round(|s| s.e2e_ms.as_ref().map(|d| d.p50)));
    let added_p99 = median(per_round(|s| s.e2e_ms.as_ref().map(|d| d.p99)));
    let ttft = per_round(|s| s.ttft_ms.as_ref().map(|d| d.p50));
    let ratios: Vec<f64> = router_summaries
        .iter()
        .zip(&direct_summaries)
        .filter(|(_, d)| d.request_throughput > 0.0)
        .map(|(r, d)| r.request_throughput / d.request_throughput)
        .collect();
    let direct_all = merge(direct_runs);
    let router_all = merge(router_runs);
    let ab = AbResult {
        direct_url: run.direct_url.clone(),
        router_url: run.router_url.clone(),
        rounds: run.rounds.max(1),
        direct: summary(&direct_all),
        router: summary(&router_all),
        added_e2e_p50_ms: added_p50,
        added_e2e_p99_ms: added_p99,
        added_ttft_p50_ms: median(ttft),
        throughput_ratio: median(ratios),
    };
    (router_all, ab)
}

/// Several runs as one: records together, each stage's span the sum of its segments.
fn merge(runs: Vec<Measured>) -> Measured {
    let mut runs = runs.into_iter();
    let Some(mut merged) = runs.next() else {
        return Measured {
            collected: crate::run::record::Collected {
                records: Vec::new(),
                itl_us: Vec::new(),
                error_examples: Default::default(),
            },
            spans: Vec::new(),
        };
    };
    for run in runs {
        for (i, span) in run.spans.iter().enumerate() {
            if let Some(m) = merged.spans.get_mut(i) {
                m.1 += span.1.saturating_duration_since(span.0);
            }
        }
        for (i, h) in run.collected.itl_us.iter().enumerate() {
            match merged.collected.itl_us.get_mut(i) {
                Some(m) => {
                    let _ = m.add(h);
                }
                None => merged.collected.itl_us.push(h.clone()),
            }
        }
        merged.collected.records.extend(run.collected.records);
        for (k, v) in run.collected.error_examples {
            merged.collected.error_examples.entry(k).or_insert(v);
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
    }
}
