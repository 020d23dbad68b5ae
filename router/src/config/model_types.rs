//! Per-model settings: the pool, the served name, the OpenAI-over-generate
//! mapping and router-side batching.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The pool that serves this model.
    pub pool: String,
    /// The name the endpoints serve it under, if not the public name. The
    /// router rewrites the request's `model` field in place.
    #[serde(default)]
    pub served_name: Option<String>,
    /// Serves `/v1/completions` and `/v1/chat/completions` for this model
    /// through Triton's generate extension (`/v2/models/M/generate_stream`),
    /// as for TensorRT-LLM or vLLM models on Triton.
    #[serde(default)]
    pub generate: Option<GenerateConfig>,
    /// Router-side dynamic batching of KServe v2 infer calls (to Triton
    /// models that do not batch themselves) and of `/v1/embeddings` calls.
    #[serde(default)]
    pub batching: Option<BatchingConfig>,
    /// Where requests go when the model's pool is saturated.
    #[serde(default)]
    pub spill: Option<super::spill_types::SpillConfig>,
}

/// How the router groups concurrent requests of one model into one call.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchingConfig {
    /// Most rows (KServe: batch-dimension entries; embeddings: inputs) in
    /// one call. For Triton, capped by the model's own `max_batch_size`.
    pub max_batch_size: u32,
    /// Longest a request waits for others to join its batch.
    #[serde(with = "humantime_serde")]
    pub max_queue_delay: Duration,
    /// Sizes at which a batch is sent at once, without waiting for more.
    pub preferred_batch_sizes: Vec<u32>,
    /// Requests waiting in the model's queues; beyond it the router answers
    /// 429 / RESOURCE_EXHAUSTED.
    pub max_queued: u32,
    /// Batch a Triton model even when its config has `dynamic_batching`
    /// (by default the router leaves batching to Triton then).
    pub even_if_server_batches: bool,
    /// A request that finds no batch to join goes at once when a replica is
    /// idle and, at the model's recent arrival rate, no other request is
    /// expected within `max_queue_delay`: waiting would add latency and gain
    /// nothing.
    pub eager_when_quiet: bool,
    /// The embedding model's `tokenizer.json` (or its directory): each
    /// caller's share of a merged call's `usage` is then its inputs' exact
    /// token count; without it, the total is shared out by input length.
    pub tokenizer: Option<PathBuf>,
}

impl Default for BatchingConfig {
    fn default() -> Self {
        Self {
            max_batch_size: 32,
            max_queue_delay: Duration::from_millis(5),
            preferred_batch_sizes: Vec::new(),
            max_queued: 1024,
            even_if_server_batches: false,
            eager_when_quiet: true,
            tokenizer: None,
        }
    }
}

/// How OpenAI requests map onto a Triton generate model's fields.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenerateConfig {
    /// The input that takes the prompt text.
    pub text_input: String,
    /// The output field that carries generated text.
    pub text_output: String,
    /// The input that takes the client's `stream` flag (`""`: not sent).
    pub stream_input: String,
    /// OpenAI request field -> generate field. Fields not listed are not
    /// sent; Triton turns fields that are not model inputs into parameters.
    pub fields: BTreeMap<String, String>,
    /// Constant fields added to every generate request.
    pub parameters: serde_json::Map<String, serde_json::Value>,
    /// A Jinja chat template (Hugging Face style) that turns chat messages
    /// into the prompt; without one, each message becomes a `role: content`
    /// line, followed by `assistant:`.
    pub chat_template: Option<PathBuf>,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        let fields = ["max_tokens", "temperature", "top_p", "stop", "seed"]
            .into_iter()
            .map(|f| (f.to_owned(), f.to_owned()))
            .collect();
        Self {
            text_input: "text_input".into(),
            text_output: "text_output".into(),
            stream_input: "stream".into(),
            fields,
            parameters: serde_json::Map::new(),
            chat_template: None,
        }
    }
}
