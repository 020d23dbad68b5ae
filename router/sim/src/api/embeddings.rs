//! `POST /v1/embeddings`: deterministic pseudo-random unit vectors.
//!
//! Each input is one engine sequence with no output tokens and no prefix
//! caching (vLLM's pooling runner), so embeddings load the scheduler and
//! pay prefill time like real ones.

use std::sync::Arc;

use futures_util::future::join_all;
use http::{Response, StatusCode};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::errors::ApiError;
use super::generate::json_response;
use super::request::{EmbeddingRequest, parse, resolve_model};
use super::wire::{EmbeddingData, EmbeddingList, EmbeddingValue, Head, Usage, random_id, unix_now};
use crate::body::SimBody;
use crate::config::SimConfig;
use crate::engine::{Engine, FinishReason};
use crate::hashing;
use crate::stats::RequestGuard;

struct Prepared {
    model: String,
    inputs: Vec<Vec<u32>>,
    base64: bool,
}

fn prepare(cfg: &SimConfig, body: &[u8]) -> Result<Prepared, ApiError> {
    let req: EmbeddingRequest = parse(body)?;
    let model = resolve_model(cfg, req.model.as_deref())?;
    let base64 = match req.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "encoding_format must be 'float' or 'base64', got '{other}'"
            )));
        }
    };
    let inputs = req.input.into_token_lists();
    if inputs.is_empty() || inputs.iter().any(Vec::is_empty) {
        return Err(ApiError::bad_request("input must not be empty"));
    }
    let limit = cfg.max_model_len as usize;
    if let Some(long) = inputs.iter().find(|t| t.len() > limit) {
        return Err(ApiError::bad_request(format!(
            "This model's maximum context length is {limit} tokens. However, you requested {} \
             tokens in the input for embedding generation. Please reduce the length of the input.",
            long.len()
        )));
    }
    Ok(Prepared {
        model,
        inputs,
        base64,
    })
}

/// Validates, runs every input through the engine, answers the vectors.
pub(crate) async fn respond(
    engine: &Arc<Engine>,
    guard: RequestGuard,
    body: &[u8],
) -> Response<SimBody> {
    let req = match prepare(&engine.cfg, body) {
        Ok(r) => r,
        Err(e) => {
            guard.reject();
            return e.into_response();
        }
    };
    let mut tickets = Vec::with_capacity(req.inputs.len());
    for tokens in &req.inputs {
        match engine.submit(tokens, 0, false) {
            Ok(t) => tickets.push(t),
            Err(e) => {
                guard.reject();
                return ApiError::bad_request(e.to_string()).into_response();
            }
        }
    }
    let runs = tickets.into_iter().map(|mut t| async move {
        let started = t.start().await.is_some();
        t.finish(FinishReason::Stop);
        started
    });
    if !join_all(runs).await.into_iter().all(|ok| ok) {
        drop(guard);
        return ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "engine stopped").into_response();
    }
    // Vectors depend on the model name and the tokens only, so replicas of
    // one model agree whatever their seeds.
    let model_seed = hashing::hash_bytes(0, engine.cfg.served_model_name.as_bytes());
    let dim = engine.cfg.embedding_dim as usize;
    let data = req
        .inputs
        .iter()
        .zip(0u32..)
        .map(|(tokens, index)| {
            let v = unit_vector(hashing::hash_tokens(model_seed, tokens), dim);
            EmbeddingData {
                index,
                object: "embedding",
                embedding: if req.base64 {
                    EmbeddingValue::Base64(base64_f32(&v))
                } else {
                    EmbeddingValue::Float(v)
                },
            }
        })
        .collect();
    let prompt_tokens: u64 = req.inputs.iter().map(|t| t.len() as u64).sum();
    let id = random_id("embd-");
    let body = EmbeddingList {
        head: Head {
            id: &id,
            object: "list",
            created: unix_now(),
            model: &req.model,
        },
        data,
        usage: Usage {
            prompt_tokens,
            total_tokens: prompt_tokens,
            completion_tokens: 0,
            prompt_tokens_details: None,
        },
    };
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    guard.complete();
    json_response(bytes)
}

/// A pseudo-random vector of unit length, fixed by `seed`.
fn unit_vector(seed: u64, dim: usize) -> Vec<f32> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut v: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0f32..1.0)).collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    } else if let Some(first) = v.first_mut() {
        *first = 1.0;
    }
    v
}

/// Standard base64 (with padding) of the little-endian bytes of `v`.
fn base64_f32(v: &[f32]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn vectors_are_unit_and_deterministic() {
        let a = unit_vector(1, 64);
        assert_eq!(a, unit_vector(1, 64));
        assert_ne!(a, unit_vector(2, 64));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
    }

    #[test]
    fn base64_matches_rfc4648() {
        // 1.0f32 = 00 00 80 3f
        assert_eq!(base64_f32(&[1.0]), "AACAPw==");
        assert_eq!(base64_f32(&[]), "");
        assert_eq!(base64_f32(&[1.0, 1.0, 1.0]), "AACAPwAAgD8AAIA/");
    }

    #[test]
    fn prepare_validates() {
        let cfg = SimConfig::default();
        let p = prepare(&cfg, br#"{"input":["a","b"],"encoding_format":"base64"}"#).unwrap();
        assert_eq!((p.inputs.len(), p.base64), (2, true));
        assert!(prepare(&cfg, br#"{"input":""}"#).is_err());
        assert!(prepare(&cfg, br#"{"input":"x","encoding_format":"hex"}"#).is_err());
        assert!(prepare(&cfg, br#"{"input":"x","model":"other"}"#).is_err());
    }
}
