//! The KV-event decoder on real batches captured from vLLM 0.32 on CPU
//! (`scripts/vllm/capture_kv_events.py`: a shared-prefix pair of requests, then enough
//! different prompts to evict blocks from a 24-block cache), in the map-tagged encoding vLLM
//! sent, the same batches re-encoded as arrays (the older encoding), and as replayed by
//! vLLM's replay socket.

#![allow(clippy::unwrap_used)] // a test fixture that cannot be read is a failed test

use std::collections::HashSet;
use std::path::PathBuf;

use switchyard_backends::kv_events::{EventBatch, KvEvent, decode_batch, decode_frame};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kv_events")
}

fn batches(prefix: &str) -> Vec<EventBatch> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with(prefix))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no {prefix} fixtures");
    paths
        .iter()
        .map(|p| {
            decode_batch(&std::fs::read(p).unwrap())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

#[test]
fn real_batches_decode_the_same_in_both_encodings_and_on_replay() {
    let live = batches("live-");
    assert_eq!(live, batches("array-"), "map and array encodings disagree");
    assert_eq!(
        live,
        batches("replay-"),
        "replay returns what was published"
    );
    let frames: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("frames.json")).unwrap())
            .unwrap();
    let live_seqs: Vec<i64> = frames
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "live")
        .map(|f| f["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(
        live_seqs,
        (0..live.len() as i64).collect::<Vec<_>>(),
        "no gaps"
    );
}

#[test]
fn real_batches_describe_a_consistent_cache() {
    let mut held: HashSet<u64> = HashSet::new();
    let (mut stored, mut removed, mut chained) = (0, 0, 0);
    for batch in batches("live-") {
        assert_eq!(batch.dp_rank, Some(0));
        for event in batch.events {
            match event {
                KvEvent::BlockStored {
                    block_hashes,
                    parent_block_hash,
                    token_ids,
                    block_size,
                    lora_id,
                    medium,
                } => {
                    assert_eq!(block_size, 32);
                    assert_eq!(lora_id, None);
                    assert_eq!(medium.as_deref(), Some("GPU"), "vLLM 0.32 names the medium");
                    assert_eq!(
                        token_ids.len(),
                        block_hashes.len() * 32,
                        "full blocks of tokens"
                    );
                    if let Some(parent) = parent_block_hash {
                        assert!(held.contains(&parent), "a parent is a block stored before");
                        chained += 1;
                    }
                    stored += block_hashes.len();
                    held.extend(block_hashes);
                }
                KvEvent::BlockRemoved { block_hashes, .. } => {
                    for hash in block_hashes {
                        assert!(held.remove(&hash), "removed a block never stored");
                        removed += 1;
                    }
                }
                KvEvent::AllBlocksCleared => held.clear(),
            }
        }
    }
    assert!(
        stored > 24,
        "more blocks stored than the cache holds: {stored}"
    );
    assert!(removed > 0, "evictions happened");
    assert!(chained > 0, "some stores extend an existing chain");
    assert!(
        held.len() <= 24,
        "never more than the 24-block cache: {}",
        held.len()
    );
}

#[test]
fn frames_split_into_topic_sequence_and_batch() {
    let payload = std::fs::read(fixtures().join("live-000.msgpack")).unwrap();
    let (topic, seq, batch) = decode_frame(&[b"kv", &7i64.to_be_bytes(), &payload]).unwrap();
    assert_eq!((topic.as_str(), seq), ("kv", 7));
    assert!(!batch.events.is_empty());
}
