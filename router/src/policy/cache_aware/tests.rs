//! Unit tests of the `cache_aware` policy.

use super::super::test_support::{features, up};
use super::*;
use crate::policy::CachePrediction;

fn policy() -> CacheAware {
    CacheAware::new(
        CacheAwareConfig {
            block_bytes: 4,
            ..CacheAwareConfig::default()
        },
        None,
        None,
    )
}

fn request<'a>(blocks: &'a [u64]) -> RequestFeatures<'a> {
    RequestFeatures {
        prefix_blocks: blocks,
        prompt_len: blocks.len() * 4 * 100,
        ..features()
    }
}

#[test]
fn each_prefix_group_goes_back_where_it_went() {
    let p = policy();
    let eps = [up(0), up(0), up(0)];
    let groups: [&[u64]; 3] = [&[1, 2, 3], &[4, 5, 6], &[7, 8, 9]];
    let homes: Vec<usize> = groups
        .iter()
        .map(|g| p.pick(&request(g), &eps).unwrap())
        .collect();
    let mut distinct = homes.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        3,
        "three new groups, three idle endpoints: {homes:?}"
    );
    for _ in 0..5 {
        for (group, home) in groups.iter().zip(&homes) {
            assert_eq!(p.pick(&request(group), &eps), Some(*home));
        }
    }
    assert!(p.indexed_blocks() >= 9);
}

#[test]
fn one_group_carrying_all_traffic_spreads_over_its_fair_share() {
    let p = policy();
    let eps = [up(0), up(0)];
    let mut counts = [0u32; 2];
    for _ in 0..100 {
        counts[p.pick(&request(&[1, 2, 3]), &eps).unwrap()] += 1;
    }
    // Fair share 50 each; the guard caps an endpoint at 1.1x the mean share (plus one).
    assert!(counts.iter().all(|&c| c >= 30), "{counts:?}");
}

#[test]
fn a_spilled_request_goes_where_the_recent_share_is_smallest() {
    use super::super::test_support::down;
    let p = policy();
    // The group's home is endpoint 0; endpoint 1 then takes five other new groups.
    assert_eq!(
        p.pick(&request(&[1, 2, 3]), &[up(0), down(), down()]),
        Some(0)
    );
    for g in 0..5u64 {
        let blocks = [100 + g, 200 + g];
        assert_eq!(p.pick(&request(&blocks), &[down(), up(0), down()]), Some(1));
    }
    // The home is too busy: neither other endpoint holds the prefix, and endpoint 2,
    // with no recent decisions, takes it rather than endpoint 1.
    for _ in 0..3 {
        assert_eq!(
            p.pick(&request(&[1, 2, 3]), &[up(20), up(0), up(0)]),
            Some(2)
        );
    }
}

#[test]
fn prefill_queued_on_the_home_can_outweigh_its_cache() {
    // `balance_holders` off, so that only the pending prefill can move the request.
    let with_weight = |weight| {
        CacheAware::new(
            CacheAwareConfig {
                block_bytes: 4,
                pending_prefill_weight: weight,
                balance_holders: false,
                ..CacheAwareConfig::default()
            },
            None,
            None,
        )
    };
    for p in [with_weight(0.0), with_weight(1.0)] {
        let blocks = [1, 2, 3];
        // A prompt of 3 x 4 bytes, all of it cached on its home once sent there.
        let req = RequestFeatures {
            prefix_blocks: &blocks,
            prompt_len: 12,
            ..features()
        };
        let home = p.pick(&req, &[up(0), up(0)]).unwrap();
        let mut eps = [up(0), up(0)];
        // Ahead of it on the home: other requests' prefill, far more than the prompt.
        eps[home].pending_prefill = 1000;
        let chosen = p.pick(&req, &eps).unwrap();
        if p.config.pending_prefill_weight > 0.0 {
            assert_eq!(
                chosen,
                1 - home,
                "computing 12 bytes beats waiting for 1000"
            );
        } else {
            assert_eq!(chosen, home, "weight 0: pending prefill is left out");
        }
    }
}

#[test]
fn balancing_holders_sends_a_shared_group_to_the_quieter_holder() {
    use super::super::test_support::down;
    let p = CacheAware::new(
        CacheAwareConfig {
            block_bytes: 4,
            balance_holders: true,
            ..CacheAwareConfig::default()
        },
        None,
        None,
    );
    let shared: &[u64] = &[1, 2, 3];
    // Both endpoints come to hold the group; endpoint 0 then takes five other groups.
    assert_eq!(p.pick(&request(shared), &[up(0), down()]), Some(0));
    assert_eq!(p.pick(&request(shared), &[down(), up(0)]), Some(1));
    for g in 0..5u64 {
        assert_eq!(p.pick(&request(&[100 + g]), &[up(0), down()]), Some(0));
    }
    for _ in 0..3 {
        assert_eq!(p.pick(&request(shared), &[up(0), up(0)]), Some(1));
    }
}

#[test]
fn new_prefixes_spread_by_load() {
    let p = policy();
    let eps = [up(3), up(0), up(2)];
    assert_eq!(p.pick(&request(&[9, 8]), &eps), Some(1));
}

#[test]
fn a_hot_endpoint_loses_its_prefix_group_to_a_second() {
    let p = policy();
    let idle = [up(0), up(0)];
    let home = p.pick(&request(&[5, 6, 7]), &idle).unwrap();
    let mut busy = [up(0), up(0)];
    busy[home].in_flight = 10; // far above min + balance_abs (4)
    let other = 1 - home;
    assert_eq!(p.pick(&request(&[5, 6, 7]), &busy), Some(other));
    // Now both hold the prefix: with equal load either is fine, but never a third choice.
    let both = [up(1), up(1)];
    assert!(p.pick(&request(&[5, 6, 7]), &both).is_some());
}

#[test]
fn always_decides_when_busy_endpoints_never_drain() {
    // Loads that never change: the two idle endpoints take everything, and the fair
    // share is theirs, so the guard never leaves no candidate.
    let p = policy();
    let eps = [up(0), up(30), up(0), up(40)];
    for i in 0..500u64 {
        let chosen = p.pick(&request(&[i, i + 1]), &eps);
        assert!(matches!(chosen, Some(0 | 2)), "{i}: {chosen:?}");
    }
}

#[test]
fn kv_pressure_and_unavailability_count() {
    let p = policy();
    let eps = [up(0), up(0)];
    let home = p.pick(&request(&[1]), &eps).unwrap();
    let mut down = [up(0), up(0)];
    down[home].available = false;
    assert_eq!(p.pick(&request(&[1]), &down), Some(1 - home));
    let none = [EndpointSnapshot::default(); 2];
    assert_eq!(p.pick(&request(&[1]), &none), None, "all unavailable");
    let one = [up(7)];
    assert_eq!(p.pick(&request(&[1]), &one), Some(0), "one endpoint");
}

#[test]
fn event_mode_follows_the_engines_and_bridges_fresh_decisions() {
    use crate::prefix::token_block_keys;
    use switchyard_backends::kv_events::KvEvent;
    let events = Arc::new(KvEventIndex::new(2, 1000));
    let config = CacheAwareConfig {
        index: crate::config::PrefixIndexKind::Events,
        bridge_ttl: std::time::Duration::from_millis(50),
        ..CacheAwareConfig::default()
    };
    let keying = PromptKeying::Tokens {
        tokenizer: Arc::new(crate::tokenizer::PromptTokenizer::Simulator),
        block_tokens: 2,
    };
    let p = CacheAware::new(config, Some(keying), Some(Arc::clone(&events)));
    // 40 tokens: a prefix worth more than one decision's share (`load_cost_tokens`, 16), so
    // the cache decides whatever the share term does.
    let tokens: Vec<u32> = (1..=40).collect();
    let keys = token_block_keys(&tokens, 2);
    // Endpoint 1's engine reports the prompt's blocks: the request goes there.
    events.apply(
        1,
        &[KvEvent::BlockStored {
            block_hashes: (10..30).collect(),
            parent_block_hash: None,
            token_ids: tokens.clone(),
            block_size: 2,
            lora_id: None,
            medium: None,
        }],
    );
    let prediction = CachePrediction::new();
    let features = RequestFeatures {
        prefix_blocks: &keys,
        prompt_len: 40,
        prediction: Some(&prediction),
        ..features()
    };
    let eps = [up(0), up(0)];
    assert_eq!(p.pick(&features, &eps), Some(1));
    assert_eq!(prediction.blocks(), Some(20));
    // The engine evicts them: within the bridge the decision still counts...
    events.apply(1, &[KvEvent::AllBlocksCleared]);
    assert_eq!(p.pick(&features, &eps), Some(1));
    // ...and after two rotations only the engines' word is left.
    std::thread::sleep(std::time::Duration::from_millis(60));
    let _ = p.pick(
        &RequestFeatures {
            prefix_blocks: &[],
            ..features
        },
        &eps,
    );
    std::thread::sleep(std::time::Duration::from_millis(60));
    let fresh = CachePrediction::new();
    let again = RequestFeatures {
        prediction: Some(&fresh),
        ..features
    };
    p.pick(&again, &eps);
    assert_eq!(
        fresh.blocks(),
        Some(0),
        "no endpoint holds the prefix any more"
    );
}

#[test]
fn a_group_evicted_from_its_home_goes_back_there() {
    // Byte keying, 4 bytes a block and a token: engines that cache 4 tokens hold 4 blocks.
    let p = CacheAware::new(
        CacheAwareConfig {
            block_bytes: 4,
            bytes_per_token: 4.0,
            ..CacheAwareConfig::default()
        },
        None,
        None,
    );
    let sized = |in_flight: u32, available: bool| EndpointSnapshot {
        available,
        kv_cache_tokens: Some(4),
        ..up(in_flight)
    };
    let group = [1u64, 2, 3];
    let home = p
        .pick(&request(&group), &[sized(0, true), sized(0, true)])
        .unwrap();
    let other = 1 - home;
    // Another prompt fills the home's cache while the other endpoint is down.
    let mut eps = [sized(0, true), sized(0, true)];
    eps[other].available = false;
    assert_eq!(p.pick(&request(&[10, 11, 12, 13]), &eps), Some(home));
    // The group's blocks are now the least recent of more than the engine holds: nobody
    // is predicted to hold them, and the home has the larger recent share. It still goes
    // home rather than being placed anew.
    let prediction = CachePrediction::new();
    let features = RequestFeatures {
        prediction: Some(&prediction),
        ..request(&group)
    };
    assert_eq!(
        p.pick(&features, &[sized(0, true), sized(0, true)]),
        Some(home)
    );
    assert_eq!(prediction.blocks(), Some(0), "aged out of the home's cache");
    // Once sent again, it is cached there again.
    let again = CachePrediction::new();
    let features = RequestFeatures {
        prediction: Some(&again),
        ..request(&group)
    };
    assert_eq!(p.pick(&features, &eps), Some(home));
    assert_eq!(again.blocks(), Some(3));
}

#[test]
fn without_a_cache_size_predictions_do_not_age() {
    let p = policy();
    let eps = [up(0)];
    p.pick(&request(&[1, 2]), &eps);
    for b in 10..1000 {
        p.pick(&request(&[b]), &eps);
    }
    let prediction = CachePrediction::new();
    let features = RequestFeatures {
        prediction: Some(&prediction),
        ..request(&[1, 2])
    };
    p.pick(&features, &eps);
    assert_eq!(prediction.blocks(), Some(2));
}

#[test]
fn event_mode_sends_a_prefix_nobody_holds_back_home() {
    use crate::prefix::token_block_keys;
    let events = Arc::new(KvEventIndex::new(2, 1000));
    let config = CacheAwareConfig {
        index: crate::config::PrefixIndexKind::Events,
        bridge_ttl: std::time::Duration::from_millis(20),
        ..CacheAwareConfig::default()
    };
    let keying = PromptKeying::Tokens {
        tokenizer: Arc::new(crate::tokenizer::PromptTokenizer::Simulator),
        block_tokens: 2,
    };
    let p = CacheAware::new(config, Some(keying), Some(events));
    let keys = token_block_keys(&[1, 2, 3, 4], 2);
    let group = RequestFeatures {
        prefix_blocks: &keys,
        prompt_len: 4,
        ..features()
    };
    let home = p.pick(&group, &[up(0), up(0)]).unwrap();
    let other = 1 - home;
    // Two bridge rotations, with prompt-less requests that leave the home with the larger
    // recent share; no engine ever reports the group's blocks.
    let mut loads = [up(0), up(0)];
    loads[other].in_flight = 3;
    std::thread::sleep(std::time::Duration::from_millis(25));
    assert_eq!(p.pick(&features(), &loads), Some(home));
    loads.swap(0, 1);
    std::thread::sleep(std::time::Duration::from_millis(25));
    assert_eq!(p.pick(&features(), &loads), Some(other));
    let prediction = CachePrediction::new();
    let cold = RequestFeatures {
        prediction: Some(&prediction),
        ..group
    };
    assert_eq!(p.pick(&cold, &[up(0), up(0)]), Some(home));
    assert_eq!(
        prediction.blocks(),
        Some(0),
        "neither the events nor the bridge hold it"
    );
}

#[test]
fn requests_without_a_prompt_fall_back_to_least_load() {
    let p = policy();
    let eps = [up(2), up(1), up(3)];
    assert_eq!(p.pick(&features(), &eps), Some(1));
}

#[test]
fn a_sole_holder_keeps_its_group_whatever_its_recent_share() {
    use super::super::test_support::down;
    // Defaults: `balance_holders` on.
    let p = policy();
    let group: &[u64] = &[1, 2, 3];
    // Short prompt: one decision's share (64 bytes) outweighs its 12 cached bytes, so only
    // the rule itself keeps it home. Endpoint 0 holds it and takes another group (two
    // decisions to none: under the fair-share guard's cap, over the share term's price).
    let short = RequestFeatures {
        prefix_blocks: group,
        prompt_len: 12,
        ..features()
    };
    assert_eq!(p.pick(&short, &[up(0), down()]), Some(0));
    assert_eq!(p.pick(&request(&[100]), &[up(0), down()]), Some(0));
    assert_eq!(p.pick(&short, &[up(0), up(0)]), Some(0));
}
