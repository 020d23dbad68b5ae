//! Embeddings (`/v1/embeddings`): validation and deterministic unit vectors
//! (the same input always gets the same vector), as floats or base64.

use http::StatusCode;
use serde_json::{Value, json};

use super::Flavor;
use super::check::{get, opt_int, opt_str, request_object};
use super::errors::{OaiError, empty_array, invalid_type, invalid_value, missing};
use crate::http::{Answer, json as json_response};
use crate::reply;
use crate::state::Shared;

const PARAMS: &[&str] = &["model", "input", "dimensions", "encoding_format", "user"];

/// A valid embeddings request.
pub(crate) struct EmbeddingRequest {
    pub model: Option<String>,
    /// Each input as bytes to hash, with its size in characters.
    inputs: Vec<(Vec<u8>, usize)>,
    dimensions: usize,
    base64: bool,
}

pub(crate) fn parse(body: &Value, model_required: bool) -> Result<EmbeddingRequest, OaiError> {
    let (obj, model) = request_object(body, PARAMS, model_required)?;
    let inputs = inputs(get(obj, "input"))?;
    let base64 = match opt_str(obj, "encoding_format", "encoding_format")? {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(invalid_value(
                "encoding_format",
                other,
                &["float", "base64"],
            ));
        }
    };
    let default_dims = if model.is_some_and(|m| m.contains("large")) {
        3072
    } else {
        1536
    };
    let dimensions = opt_int(obj, "dimensions", 1, None)?.map_or(default_dims, |d| d as usize);
    Ok(EmbeddingRequest {
        model: model.map(str::to_owned),
        inputs,
        dimensions,
        base64,
    })
}

fn invalid_input() -> OaiError {
    OaiError::invalid(
        "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
        None,
        None,
    )
}

/// `input`: a string, strings, token ids or arrays of token ids (at most
/// 2048, none empty).
fn inputs(v: Option<&Value>) -> Result<Vec<(Vec<u8>, usize)>, OaiError> {
    let items = match v {
        None => return Err(missing("input")),
        Some(Value::String(s)) if s.is_empty() => return Err(invalid_input()),
        Some(Value::String(s)) => return Ok(vec![(s.as_bytes().to_vec(), s.chars().count())]),
        Some(Value::Array(items)) if items.is_empty() => return Err(empty_array("input")),
        Some(Value::Array(items)) => items,
        Some(v) => return Err(invalid_type("input", "a string or array", v)),
    };
    if items.len() > 2048 {
        return Err(OaiError::invalid(
            format!(
                "Invalid 'input': array too long. Expected an array with maximum length 2048, but got an array with length {} instead.",
                items.len()
            ),
            Some("input"),
            Some("array_above_max_length"),
        ));
    }
    if items.iter().all(Value::is_u64) {
        return Ok(vec![(tokens_bytes(items), items.len() * 4)]);
    }
    items
        .iter()
        .map(|item| match item {
            Value::String(s) if !s.is_empty() => Ok((s.as_bytes().to_vec(), s.chars().count())),
            Value::Array(t) if !t.is_empty() && t.iter().all(Value::is_u64) => {
                Ok((tokens_bytes(t), t.len() * 4))
            }
            _ => Err(invalid_input()),
        })
        .collect()
}

fn tokens_bytes(tokens: &[Value]) -> Vec<u8> {
    tokens
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(",")
        .into_bytes()
}

pub(crate) async fn respond(
    shared: &Shared,
    req: EmbeddingRequest,
    flavor: &Flavor,
    headers: &[(&str, String)],
) -> Answer {
    tokio::time::sleep(shared.timing().ttft).await;
    let data: Vec<Value> = req
        .inputs
        .iter()
        .enumerate()
        .map(|(i, (bytes, _))| {
            let v = vector(bytes, req.dimensions);
            let embedding = if req.base64 {
                Value::from(to_base64(&v))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let chars: usize = req.inputs.iter().map(|(_, c)| *c).sum();
    let tokens = reply::prompt_tokens(chars);
    let body = json!({
        "object": "list",
        "data": data,
        "model": flavor.model(req.model.as_deref()),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    });
    Answer::ok(json_response(StatusCode::OK, headers, &body))
}

/// A unit vector of `dims` seeded by the FNV-1a hash of `bytes`.
pub(crate) fn vector(bytes: &[u8], dims: usize) -> Vec<f32> {
    let mut state = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    }) | 1;
    let raw: Vec<f64> = (0..dims)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        })
        .collect();
    let norm = raw
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    raw.iter().map(|x| (x / norm) as f32).collect()
}

/// Little-endian f32s in standard base64, as OpenAI's `encoding_format: base64`.
fn to_base64(v: &[f32]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for group in bytes.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= group.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * k)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_deterministic_unit_vectors() {
        let a = vector(b"hello", 8);
        assert_eq!(a, vector(b"hello", 8));
        assert_ne!(a, vector(b"hellp", 8));
        let norm: f32 = a.iter().map(|x| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-4);
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        // 1.0f32 = 00 00 80 3f
        assert_eq!(to_base64(&[1.0]), "AACAPw==");
        assert_eq!(to_base64(&[1.0, 1.0]), "AACAPwAAgD8=");
    }
}
