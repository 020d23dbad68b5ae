//! Fixtures shared by the decision-cost benchmarks: the criterion bench
//! (`benches/policy_decision.rs`) and the per-decision latency tool (`decision-latency`).

use std::sync::Arc;
use std::time::Duration;

use switchyard::config::{CacheAwareConfig, PrefixIndexKind};
use switchyard::policy::{CacheAware, EndpointSnapshot, RequestFeatures};
use switchyard::prefix::{KvEventIndex, PromptKeying, token_block_keys};
use switchyard::tokenizer::PromptTokenizer;
use switchyard_backends::kv_events::KvEvent;

/// Request features with no prompt.
pub fn features() -> RequestFeatures<'static> {
    RequestFeatures {
        model: "m",
        stream: true,
        body_bytes: 2048,
        prefix_blocks: &[],
        prompt_len: 0,
        prediction: None,
    }
}

/// Varied but deterministic load, with one endpoint in eight unavailable.
pub fn snapshots(n: usize) -> Vec<EndpointSnapshot> {
    (0..n)
        .map(|i| EndpointSnapshot {
            available: i % 8 != 7,
            weight: 1 + (i % 3) as u32,
            in_flight: ((i * 7919) % 37) as u32,
            engine_running: Some(((i * 31) % 16) as u32),
            engine_waiting: Some(((i * 17) % 5) as u32),
            kv_cache_usage: Some(0.5),
            engine_queue_wait_us: None,
            // As vLLM reports it: the router's index ages its claims by it.
            kv_cache_tokens: Some(524_288),
            pending_prefill: ((i * 7919) % 37 * 300) as u64,
        })
        .collect()
}

/// A prepared `cache_aware` policy and the prompts (block keys, prompt length) to decide for.
pub struct CacheAwareFixture {
    pub policy: CacheAware,
    pub prompts: Vec<(Vec<u64>, usize)>,
}

/// The approximate index at 64 endpoints with 100k blocks (1,000 prompts of 100 64-byte
/// blocks, spread over the endpoints by the policy itself); requests are 32-block prompts
/// that share one of them.
pub fn approximate_fixture(snapshots: &[EndpointSnapshot]) -> CacheAwareFixture {
    let config = CacheAwareConfig {
        max_blocks: 200_000,
        ..CacheAwareConfig::default()
    };
    let policy = CacheAware::new(config, None, None);
    let prompts: Vec<Vec<u64>> = (0..1000u64)
        .map(|p| (0..100u64).map(|b| p * 1_000_003 + b).collect())
        .collect();
    for prompt in &prompts {
        let features = RequestFeatures {
            prefix_blocks: prompt,
            prompt_len: prompt.len() * 64,
            ..features()
        };
        std::hint::black_box(switchyard::policy::Policy::pick(
            &policy, &features, &snapshots,
        ));
    }
    assert!(
        policy.indexed_blocks() >= 100_000,
        "{}",
        policy.indexed_blocks()
    );
    CacheAwareFixture {
        policy,
        prompts: prompts
            .into_iter()
            .map(|p| (p[..32].to_vec(), 32 * 64))
            .collect(),
    }
}

/// The event index at 64 endpoints with 100k blocks stored through `BlockStored` events
/// (1,000 prompts of 100 16-token blocks); requests are 32-block prompts that share one.
pub fn events_fixture() -> CacheAwareFixture {
    events_fixture_bridging(CacheAwareConfig::default().bridge_ttl)
}

/// `events_fixture` whose bridge of the router's own decisions starts a new generation
/// every `bridge_ttl`.
pub fn events_fixture_bridging(bridge_ttl: Duration) -> CacheAwareFixture {
    const BLOCK: usize = 16;
    let config = CacheAwareConfig {
        index: PrefixIndexKind::Events,
        max_blocks: 200_000,
        block_tokens: BLOCK,
        bridge_ttl,
        ..CacheAwareConfig::default()
    };
    let events = Arc::new(KvEventIndex::new(64, config.max_blocks));
    let keying = PromptKeying::Tokens {
        tokenizer: Arc::new(PromptTokenizer::Simulator),
        block_tokens: BLOCK,
    };
    let policy = CacheAware::new(config, Some(keying), Some(Arc::clone(&events)));
    let prompts: Vec<Vec<u32>> = (0..1000u32)
        .map(|p| (0..(100 * BLOCK) as u32).map(|t| p * 7919 + t).collect())
        .collect();
    for (p, tokens) in prompts.iter().enumerate() {
        let stored = KvEvent::BlockStored {
            block_hashes: (0..100u64).map(|b| ((p as u64) << 32) | b).collect(),
            parent_block_hash: None,
            token_ids: tokens.clone(),
            block_size: BLOCK as u32,
            lora_id: None,
            medium: Some("GPU".into()),
        };
        events.apply(p % 64, &[stored]);
    }
    assert!(events.len() >= 100_000, "{}", events.len());
    CacheAwareFixture {
        policy,
        prompts: prompts
            .iter()
            .map(|t| (token_block_keys(&t[..32 * BLOCK], BLOCK), 32 * BLOCK))
            .collect(),
    }
}
