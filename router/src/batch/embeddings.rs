//! OpenAI `/v1/embeddings`: the inputs of concurrent requests with the same
//! options (`encoding_format`, `dimensions`, ...) and the same kind of input
//! (text or token ids) go as one array; the answer's `data` is cut back by
//! input count and re-indexed. Vectors are carried as their original text.
//!
//! `usage` comes back as one total for the whole call. Each caller's share
//! is the total split in proportion to its inputs' token counts (exact with
//! `batching.tokenizer`, and for token-id inputs; otherwise text counts by
//! characters), rounded so the shares add up to the total.

use std::collections::BTreeMap;
use std::ops::Range;

use bytes::Bytes;
use http::header::{ACCEPT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Response};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::batcher::Offer;
use super::send::{Codec, Merged, UpstreamReply, json_response};
use crate::front::ResponseBody;
use crate::proxy::{ModelName, Wire};
use crate::tokenizer::HuggingFaceTokenizer;

pub struct Embeddings;

pub struct Member {
    path: String,
    headers: HeaderMap,
    /// Every field but `input`, as sent (including `model`).
    options: Map<String, Value>,
    inputs: Vec<Value>,
    /// Each input's size, for sharing `usage` out.
    weights: Vec<u64>,
}

/// Reads an embeddings request as far as batching needs; `None`: it goes
/// to the server unchanged (which then judges it on its own).
pub fn offer(
    path: &str,
    headers: HeaderMap,
    body: &Bytes,
    received_at: std::time::Instant,
    tokenizer: Option<&HuggingFaceTokenizer>,
) -> Option<Offer<Member>> {
    let Value::Object(mut options) = serde_json::from_slice::<Value>(body).ok()? else {
        return None;
    };
    let input = options.remove("input")?;
    let (inputs, tokens) = match input {
        Value::String(_) => (vec![input], false),
        Value::Array(items) if items.iter().all(Value::is_string) => (items, false),
        Value::Array(items) if items.iter().all(Value::is_u64) => (vec![Value::Array(items)], true),
        Value::Array(items)
            if items
                .iter()
                .all(|i| i.as_array().is_some_and(|t| t.iter().all(Value::is_u64))) =>
        {
            (items, true)
        }
        _ => return None,
    };
    if inputs.is_empty() {
        return None;
    }
    let weights = inputs
        .iter()
        .map(|i| match i {
            Value::String(s) => match tokenizer.and_then(|t| t.encode(s, true)) {
                Some(tokens) => tokens.len() as u64,
                None => s.chars().count().max(1) as u64,
            },
            Value::Array(t) => t.len().max(1) as u64,
            _ => 1,
        })
        .collect();
    // The options map is ordered by name, so equal options encode equally.
    let mut key = serde_json::to_vec(&options).ok()?;
    key.push(u8::from(tokens));
    key.extend_from_slice(path.as_bytes());
    Some(Offer {
        key,
        rows: inputs.len(),
        member: Member {
            path: path.to_owned(),
            headers,
            options,
            inputs,
            weights,
        },
        received_at,
    })
}

impl Codec for Embeddings {
    type Member = Member;

    fn wire(&self) -> Wire {
        Wire::Http
    }

    fn merge(&self, members: &[&Member]) -> Result<Merged, String> {
        let first = members.first().ok_or("an empty batch")?;
        let model = first.options.get("model").ok_or("no model")?;
        let model_json = serde_json::to_string(model).map_err(|e| e.to_string())?;
        let mut rest = first.options.clone();
        rest.remove("model");
        let inputs: Vec<&Value> = members.iter().flat_map(|m| &m.inputs).collect();
        rest.insert(
            "input".into(),
            serde_json::to_value(inputs).map_err(|e| e.to_string())?,
        );
        let rest_json = serde_json::to_string(&rest).map_err(|e| e.to_string())?;
        // `{"model":<model>,<rest>}`: the model first, so its span is known.
        let prefix = "{\"model\":";
        let span = prefix.len()..prefix.len() + model_json.len();
        let body = format!("{prefix}{model_json},{}", &rest_json[1..]);
        let mut headers = first.headers.clone();
        headers.remove(CONTENT_LENGTH);
        // The answer is read and cut here, so it must come uncompressed.
        headers.remove(ACCEPT_ENCODING);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(Merged {
            path: first.path.clone(),
            headers,
            body: Bytes::from(body),
            model_name: ModelName::JsonBody(span),
        })
    }

    fn split(
        &self,
        reply: &UpstreamReply,
        members: &[&Member],
    ) -> Result<Vec<Response<ResponseBody>>, String> {
        let mut top: BTreeMap<String, Box<RawValue>> =
            serde_json::from_slice(&reply.body).map_err(|e| format!("response JSON: {e}"))?;
        let data = top.remove("data").ok_or("no data")?;
        let usage = top.remove("usage");
        let items: Vec<BTreeMap<String, Box<RawValue>>> =
            serde_json::from_str(data.get()).map_err(|e| format!("data: {e}"))?;
        let total: usize = members.iter().map(|m| m.inputs.len()).sum();
        // Items in input order, by their `index`.
        let mut ordered: Vec<Option<BTreeMap<String, Box<RawValue>>>> = vec![None; total];
        for item in items {
            let index: usize = item
                .get("index")
                .and_then(|i| serde_json::from_str(i.get()).ok())
                .ok_or("an item without an index")?;
            let slot = ordered.get_mut(index).ok_or("an index past the inputs")?;
            *slot = Some(item);
        }
        let usage: Option<Map<String, Value>> = usage
            .map(|u| serde_json::from_str(u.get()))
            .transpose()
            .map_err(|e| format!("usage: {e}"))?;
        let weights: Vec<u64> = members.iter().map(|m| m.weights.iter().sum()).collect();
        let shares = usage.as_ref().map(|u| share_usage(u, &weights));
        let content_type = reply
            .headers
            .get(CONTENT_TYPE)
            .cloned()
            .unwrap_or(HeaderValue::from_static("application/json"));
        let mut start = 0;
        let mut responses = Vec::with_capacity(members.len());
        for (m, member) in members.iter().enumerate() {
            let range: Range<usize> = start..start + member.inputs.len();
            start = range.end;
            let mut text = String::from("{");
            for (name, value) in &top {
                push_field(&mut text, name, value.get())?;
            }
            let mut data = String::from("[");
            for (k, slot) in ordered[range].iter().enumerate() {
                let item = slot.as_ref().ok_or("an input without its embedding")?;
                if k > 0 {
                    data.push(',');
                }
                data.push('{');
                let mut first = true;
                for (name, value) in item {
                    if !first {
                        data.push(',');
                    }
                    first = false;
                    let value = if name == "index" {
                        k.to_string()
                    } else {
                        value.get().to_owned()
                    };
                    data.push_str(&serde_json::to_string(name).map_err(|e| e.to_string())?);
                    data.push(':');
                    data.push_str(&value);
                }
                data.push('}');
            }
            data.push(']');
            push_field(&mut text, "data", &data)?;
            if let Some(shares) = &shares {
                let usage = serde_json::to_string(&shares[m]).map_err(|e| e.to_string())?;
                push_field(&mut text, "usage", &usage)?;
            }
            text.push('}');
            responses.push(json_response(text.into_bytes(), content_type.clone()));
        }
        Ok(responses)
    }
}

fn push_field(text: &mut String, name: &str, value: &str) -> Result<(), String> {
    if text.len() > 1 {
        text.push(',');
    }
    text.push_str(&serde_json::to_string(name).map_err(|e| e.to_string())?);
    text.push(':');
    text.push_str(value);
    Ok(())
}

/// Each member's `usage`: every integer field split by weight (largest
/// remainders get the leftover units, so the parts add up to the total);
/// other fields copied.
fn share_usage(usage: &Map<String, Value>, weights: &[u64]) -> Vec<Map<String, Value>> {
    let mut shares = vec![usage.clone(); weights.len()];
    for (name, value) in usage {
        if let Some(total) = value.as_u64() {
            for (share, part) in shares.iter_mut().zip(apportion(total, weights)) {
                share.insert(name.clone(), part.into());
            }
        }
    }
    shares
}

/// `total` split in proportion to `weights`, by largest remainder.
fn apportion(total: u64, weights: &[u64]) -> Vec<u64> {
    let sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let exact: Vec<(u64, u128)> = weights
        .iter()
        .map(|&w| {
            let scaled = u128::from(total) * u128::from(w);
            ((scaled / sum) as u64, scaled % sum)
        })
        .collect();
    let mut parts: Vec<u64> = exact.iter().map(|(q, _)| *q).collect();
    let mut left = total - parts.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| exact[b].1.cmp(&exact[a].1).then(a.cmp(&b)));
    for i in order {
        if left == 0 {
            break;
        }
        parts[i] += 1;
        left -= 1;
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(body: &str) -> Offer<Member> {
        offer(
            "/v1/embeddings",
            HeaderMap::new(),
            &Bytes::from(body.to_owned()),
            std::time::Instant::now(),
            None,
        )
        .unwrap()
    }

    #[test]
    fn inputs_of_every_shape() {
        assert_eq!(member(r#"{"model":"e","input":"a"}"#).rows, 1);
        assert_eq!(member(r#"{"model":"e","input":["a","b"]}"#).rows, 2);
        assert_eq!(member(r#"{"model":"e","input":[1,2,3]}"#).rows, 1);
        assert_eq!(member(r#"{"model":"e","input":[[1],[2,3]]}"#).rows, 2);
        for bad in [
            r#"{"model":"e"}"#,
            r#"{"model":"e","input":[]}"#,
            r#"{"model":"e","input":["a",1]}"#,
            r#"[1]"#,
        ] {
            assert!(
                offer(
                    "/v1/embeddings",
                    HeaderMap::new(),
                    &Bytes::from(bad),
                    std::time::Instant::now(),
                    None
                )
                .is_none(),
                "{bad}"
            );
        }
    }

    #[test]
    fn options_and_input_kind_decide_the_key() {
        let a = member(r#"{"model":"e","input":"x","encoding_format":"float"}"#);
        let b = member(r#"{"encoding_format":"float","input":["y","z"],"model":"e"}"#);
        let c = member(r#"{"model":"e","input":"x","encoding_format":"base64"}"#);
        let d = member(r#"{"model":"e","input":[5,6],"encoding_format":"float"}"#);
        assert_eq!(a.key, b.key);
        assert_ne!(a.key, c.key);
        assert_ne!(a.key, d.key);
    }

    #[test]
    fn merge_and_split_round_trip() {
        let a = member(r#"{"model":"e","input":"hello"}"#);
        let b = member(r#"{"model":"e","input":["x","yy"]}"#);
        let members = [&a.member, &b.member];
        let merged = Embeddings.merge(&members).unwrap();
        let body: Value = serde_json::from_slice(&merged.body).unwrap();
        assert_eq!(body["input"], serde_json::json!(["hello", "x", "yy"]));
        let ModelName::JsonBody(span) = merged.model_name else {
            panic!("model span")
        };
        assert_eq!(&merged.body[span], br#""e""#);
        // Answered out of order, with floats whose text must survive.
        let reply = UpstreamReply {
            status: http::StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from_static(
                br#"{"object":"list","model":"e","data":[{"object":"embedding","index":2,"embedding":[3.0E-1]},{"object":"embedding","index":0,"embedding":[0.10000000149011612]},{"object":"embedding","index":1,"embedding":[2e-5]}],"usage":{"prompt_tokens":8,"total_tokens":8}}"#,
            ),
            trailers: None,
        };
        let parts = Embeddings.split(&reply, &members).unwrap();
        let text = |r: &Response<ResponseBody>| match r.body() {
            ResponseBody::Full(Some(b)) => String::from_utf8(b.to_vec()).unwrap(),
            _ => panic!("a full body"),
        };
        let first = text(&parts[0]);
        assert!(
            first.contains(r#""embedding":[0.10000000149011612]"#),
            "{first}"
        );
        let second: Value = serde_json::from_str(&text(&parts[1])).unwrap();
        assert_eq!(second["data"][0]["index"], 0);
        assert_eq!(second["data"][1]["index"], 1);
        assert!(text(&parts[1]).contains("[2e-5]") && text(&parts[1]).contains("[3.0E-1]"));
        let first: Value = serde_json::from_str(&first).unwrap();
        // 5 characters against 1 + 2: 8 tokens split 5 / 3.
        assert_eq!(first["usage"]["prompt_tokens"], 5);
        assert_eq!(second["usage"]["prompt_tokens"], 3);
        assert_eq!(first["model"], "e");
    }

    #[test]
    fn apportioned_parts_add_up() {
        assert_eq!(apportion(10, &[1, 1, 1]), vec![4, 3, 3]);
        assert_eq!(apportion(7, &[0, 5]), vec![0, 7]);
        assert_eq!(apportion(0, &[2, 3]), vec![0, 0]);
        let parts = apportion(1001, &[3, 7, 11, 13]);
        assert_eq!(parts.iter().sum::<u64>(), 1001);
    }
}
