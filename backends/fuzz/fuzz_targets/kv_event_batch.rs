//! Any bytes given to the KV-event decoder: an error, never a panic or a hang.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_backends::kv_events::{decode_batch, decode_frame};

fuzz_target!(|data: &[u8]| {
    let _ = decode_batch(data);
    if data.len() > 10 {
        let (topic, rest) = data.split_at(2);
        let (seq, payload) = rest.split_at(8);
        let _ = decode_frame(&[topic, seq, payload]);
    }
});
