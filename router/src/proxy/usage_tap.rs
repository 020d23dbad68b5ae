//! Watches a response go by for the engine's `usage`, to audit the prefix prediction the
//! policy made for it. It keeps only the last few KiB (usage comes last, in a JSON body and
//! in a stream's final event), so it costs a copy of the tail, never a buffered body.

use std::sync::Arc;

use crate::prefix::PrefixAudit;
use crate::prefix::audit::{PredictedPrompt, parse_usage};

const TAIL_BYTES: usize = 4096;

pub struct UsageTap {
    tail: Vec<u8>,
    audit: Arc<PrefixAudit>,
    /// The endpoint's index in its pool.
    endpoint: usize,
    predicted: PredictedPrompt,
}

impl UsageTap {
    pub fn new(audit: Arc<PrefixAudit>, endpoint: usize, predicted: PredictedPrompt) -> Self {
        Self {
            tail: Vec::new(),
            audit,
            endpoint,
            predicted,
        }
    }

    pub fn observe(&mut self, data: &[u8]) {
        if data.len() >= TAIL_BYTES {
            self.tail.clear();
            self.tail
                .extend_from_slice(&data[data.len() - TAIL_BYTES..]);
            return;
        }
        self.tail.extend_from_slice(data);
        if self.tail.len() > 2 * TAIL_BYTES {
            self.tail.drain(..self.tail.len() - TAIL_BYTES);
        }
    }

    /// The response ended cleanly: audit it if the engine reported cached tokens.
    pub fn finish(self) {
        if let Some((prompt_tokens, cached_tokens)) = parse_usage(&self.tail) {
            self.audit
                .record(self.endpoint, self.predicted, prompt_tokens, cached_tokens);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_tail_across_frames() {
        let audit = Arc::new(PrefixAudit::new("pool".into(), 0.5, &["e".into()]));
        let predicted = PredictedPrompt {
            cached: 10,
            len: 20,
            in_tokens: true,
        };
        let mut tap = UsageTap::new(Arc::clone(&audit), 0, predicted);
        tap.observe(&vec![b'x'; 10_000]);
        tap.observe(br#"data: {"usage":{"prompt_tokens":20,"prompt_tok"#);
        tap.observe(br#"ens_details":{"cached_tokens":0}}}"#);
        assert!(tap.tail.len() <= 2 * TAIL_BYTES);
        tap.finish();
        assert_eq!(
            audit.drift(),
            0.5,
            "predicted half cached, the engine said none"
        );
    }
}
