//! Simulator configuration: what the engine looks like (cache size, batch
//! limit) and how fast it is. Every field has a default, so `{}` is a valid
//! config; durations are humantime strings ("100us", "5ms").

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::SimError;

/// How the number of generated tokens is chosen when the request does not set
/// `ignore_eos`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputLen {
    /// Uniform in `[max(1, min_tokens), max_tokens]`, drawn from a generator
    /// seeded by (config seed, prompt tokens, request `seed`): the same request
    /// always produces the same length, like greedy decoding hitting EOS.
    #[default]
    Random,
    /// Always `max_tokens` (as if every request set `ignore_eos`).
    Fixed,
}

/// Configuration of one simulated vLLM engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimConfig {
    /// Publish KV-cache events (BlockStored / BlockRemoved) over ZMQ, as vLLM does.
    pub kv_events: Option<SimKvEventsConfig>,
    /// Name reported by `/v1/models` and in metric labels (`model_name`).
    pub served_model_name: String,
    /// Further names accepted in the `model` field (vLLM's
    /// `--served-model-name a b`); metrics keep the first name.
    pub extra_served_names: Vec<String>,
    /// Seed of every pseudo-random choice (output lengths and text, fault fractions).
    pub seed: u64,
    /// Tokens per KV-cache block (vLLM `--block-size`).
    pub block_size: u32,
    /// KV-cache capacity in blocks (vLLM `--num-gpu-blocks-override`).
    pub num_blocks: u32,
    /// Most sequences running at once (vLLM `--max-num-seqs`).
    pub max_num_seqs: u32,
    /// Longest prompt + completion accepted (vLLM `--max-model-len`).
    pub max_model_len: u32,
    /// `max_tokens` used when a request does not set one (capped by the
    /// context left). vLLM would use all the context left; a small default
    /// keeps simulated runs short.
    pub default_max_tokens: u32,
    /// Fixed cost of every prefill.
    #[serde(with = "humantime_serde")]
    pub prefill_base: Duration,
    /// Prefill cost per uncached prompt token.
    #[serde(with = "humantime_serde")]
    pub prefill_per_token: Duration,
    /// Decode cost per output token for a batch of one.
    #[serde(with = "humantime_serde")]
    pub decode_per_token: Duration,
    /// Each further running sequence slows every decode step by this fraction.
    pub batch_slowdown: f64,
    /// Divides every duration (2.0 runs twice as fast).
    pub speed: f64,
    /// How output lengths are chosen.
    pub output_len: OutputLen,
    /// Dimension of the vectors `/v1/embeddings` returns.
    pub embedding_dim: u32,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            served_model_name: "sim-model".to_owned(),
            extra_served_names: Vec::new(),
            seed: 0,
            block_size: 16,
            num_blocks: 2048,
            max_num_seqs: 8,
            max_model_len: 4096,
            default_max_tokens: 128,
            prefill_base: Duration::ZERO,
            prefill_per_token: Duration::from_micros(100),
            decode_per_token: Duration::from_millis(5),
            batch_slowdown: 0.05,
            speed: 1.0,
            output_len: OutputLen::Random,
            embedding_dim: 384,
            kv_events: None,
        }
    }
}

/// Publishing KV-cache events as vLLM does (`--kv-events-config` with a `tcp://*:P`
/// endpoint): a PUB socket, and a ROUTER socket that replays recent batches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimKvEventsConfig {
    /// Address to bind, e.g. `tcp://127.0.0.1:5557` (port 0 picks a free one).
    pub endpoint: String,
    /// Address to bind the replay socket; none for no replay.
    pub replay_endpoint: Option<String>,
    pub topic: String,
    /// Batches kept for replay.
    pub buffer_steps: usize,
}

impl Default for SimKvEventsConfig {
    fn default() -> Self {
        Self {
            endpoint: "tcp://127.0.0.1:0".into(),
            replay_endpoint: Some("tcp://127.0.0.1:0".into()),
            topic: "kv".into(),
            buffer_steps: 10_000,
        }
    }
}

impl SimConfig {
    /// Defaults with every timing zero: requests complete as fast as the
    /// server can run, for tests and router overhead benchmarks.
    pub fn zero_delay() -> Self {
        Self {
            prefill_base: Duration::ZERO,
            prefill_per_token: Duration::ZERO,
            decode_per_token: Duration::ZERO,
            ..Self::default()
        }
    }

    /// True when no simulated work takes any time.
    pub fn is_zero_delay(&self) -> bool {
        self.prefill_base.is_zero()
            && self.prefill_per_token.is_zero()
            && self.decode_per_token.is_zero()
    }

    /// Every model name this engine answers to, the primary one first.
    pub fn served_names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.served_model_name.as_str())
            .chain(self.extra_served_names.iter().map(String::as_str))
    }

    /// Whether `name` is one of the served model names.
    pub fn serves(&self, name: &str) -> bool {
        self.served_names().any(|n| n == name)
    }

    /// Rejects values the engine model cannot work with.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |msg: &str| Err(SimError::InvalidConfig(msg.to_owned()));
        if self.served_model_name.is_empty() {
            return bad("served_model_name must not be empty");
        }
        if self.block_size == 0 {
            return bad("block_size must be at least 1");
        }
        if self.num_blocks == 0 {
            return bad("num_blocks must be at least 1");
        }
        if self.max_num_seqs == 0 {
            return bad("max_num_seqs must be at least 1");
        }
        if self.max_model_len < 2 {
            return bad("max_model_len must be at least 2");
        }
        if self.default_max_tokens == 0 {
            return bad("default_max_tokens must be at least 1");
        }
        if !(self.speed.is_finite() && self.speed > 0.0) {
            return bad("speed must be a positive number");
        }
        if !(self.batch_slowdown.is_finite() && self.batch_slowdown >= 0.0) {
            return bad("batch_slowdown must be a non-negative number");
        }
        if self.embedding_dim == 0 {
            return bad("embedding_dim must be at least 1");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn empty_json_gives_defaults() {
        let cfg: SimConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(cfg, SimConfig::default());
        cfg.validate().unwrap();
    }

    #[test]
    fn humantime_durations_round_trip() {
        let cfg: SimConfig = serde_json::from_str(
            r#"{"prefill_per_token":"250us","decode_per_token":"2ms","output_len":"fixed"}"#,
        )
        .unwrap();
        assert_eq!(cfg.prefill_per_token, Duration::from_micros(250));
        assert_eq!(cfg.decode_per_token, Duration::from_millis(2));
        assert_eq!(cfg.output_len, OutputLen::Fixed);
        let back: SimConfig = serde_json::from_value(serde_json::to_value(&cfg).unwrap()).unwrap();
        assert_eq!(back, cfg);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        assert!(serde_json::from_str::<SimConfig>(r#"{"blok_size":8}"#).is_err());
    }

    #[test]
    fn validation_catches_zeroes() {
        let cfg = SimConfig {
            block_size: 0,
            ..SimConfig::default()
        };
        assert!(cfg.validate().is_err());
        let cfg = SimConfig {
            speed: 0.0,
            ..SimConfig::default()
        };
        assert!(cfg.validate().is_err());
        assert!(SimConfig::zero_delay().is_zero_delay());
        assert!(!SimConfig::default().is_zero_delay());
    }

    #[test]
    fn extra_names_are_served() {
        let cfg = SimConfig {
            extra_served_names: vec!["alias".into()],
            ..SimConfig::default()
        };
        assert!(cfg.serves("sim-model"));
        assert!(cfg.serves("alias"));
        assert!(!cfg.serves("other"));
    }
}
