//! Putting a measured run into the results file's shape.

use std::collections::BTreeMap;

use crate::results::{
    BenchResults, EndpointResult, RunConfig, SCHEMA, StageResult, Summary, ToolInfo,
};
use crate::run::record::{Record, new_histogram};
use crate::run::{Measured, StageLoad, StagePlan};
use crate::summarize;

pub fn stage_summaries(
    measured: &Measured,
    plans: &[StagePlan],
    config: &RunConfig,
) -> (Vec<StageResult>, Summary) {
    let mut stages = Vec::new();
    let mut all_itl = new_histogram();
    let mut total = std::time::Duration::ZERO;
    let mut open_loop = false;
    // A run stopped early (Ctrl-C) has fewer spans than planned stages.
    for (index, plan) in plans.iter().take(measured.spans.len()).enumerate() {
        let records: Vec<&Record> = measured
            .collected
            .records
            .iter()
            .filter(|r| r.stage == index)
            .collect();
        let itl = measured
            .collected
            .itl_us
            .get(index)
            .cloned()
            .unwrap_or_else(new_histogram);
        let _ = all_itl.add(&itl);
        let (start, end) = measured.spans.get(index).copied().unwrap_or_else(|| {
            let now = std::time::Instant::now();
            (now, now)
        });
        let duration = end.saturating_duration_since(start);
        total += duration;
        let (offered_rate, concurrency, open) = match plan.load {
            StageLoad::Open { rate, .. } => (Some(rate), None, true),
            StageLoad::Closed { users } => (None, Some(users), false),
        };
        open_loop |= open;
        stages.push(StageResult {
            name: plan.load.to_string(),
            offered_rate,
            concurrency,
            summary: summarize::summarize(&records, &itl, duration, &config.slo, open),
        });
    }
    let all: Vec<&Record> = measured.collected.records.iter().collect();
    let overall = summarize::summarize(&all, &all_itl, total, &config.slo, open_loop);
    (stages, overall)
}

/// Merges the router's per-endpoint counts with the scraped engine figures (matched by name).
pub fn endpoints(records: &[Record], scraped: Vec<EndpointResult>) -> Vec<EndpointResult> {
    let mut routed: BTreeMap<String, u64> = summarize::routed(records);
    let mut out: Vec<EndpointResult> = scraped
        .into_iter()
        .map(|mut e| {
            e.routed_requests = routed.remove(&e.name).unwrap_or(0);
            e
        })
        .collect();
    out.extend(routed.into_iter().map(|(name, count)| EndpointResult {
        name,
        routed_requests: count,
        ..EndpointResult::default()
    }));
    out
}

pub fn results(
    config: RunConfig,
    plans: &[StagePlan],
    measured: &Measured,
    scraped: Vec<EndpointResult>,
    started_at: String,
) -> BenchResults {
    let (stages, overall) = stage_summaries(measured, plans, &config);
    let origin = measured.origin();
    let records = &measured.collected.records;
    BenchResults {
        schema: SCHEMA.to_string(),
        tool: ToolInfo {
            name: "switchyard bench".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        started_at,
        config,
        stages,
        overall,
        timeline: summarize::timeline(records, origin),
        samples: summarize::samples(records, origin),
        endpoints: endpoints(records, scraped),
        ab: None,
    }
}
