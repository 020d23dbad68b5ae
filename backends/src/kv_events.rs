//! vLLM's KV-cache events, as its ZMQ publisher sends them: frames `[topic, seq, payload]`
//! with `seq` an 8-byte big-endian integer and `payload` a msgpack `[ts, [event, ...],
//! dp_rank]`. Each event is a map tagged by `"type"` (current releases) or an array
//! `[type, field, ...]` in the same field order (older releases); both are accepted.
//! Unknown event types and unknown fields are skipped, so a newer vLLM does not blind the
//! router.

use rmpv::Value;

#[derive(Debug, Clone, PartialEq)]
pub enum KvEvent {
    BlockStored {
        block_hashes: Vec<u64>,
        /// `None` for the first block of a chain.
        parent_block_hash: Option<u64>,
        token_ids: Vec<u32>,
        block_size: u32,
        /// The LoRA adapter the blocks were computed with, if any.
        lora_id: Option<i64>,
        /// Where the blocks live (`"GPU"`, `"CPU"` for offloaded ones); `None` from releases
        /// that do not say.
        medium: Option<String>,
    },
    BlockRemoved {
        block_hashes: Vec<u64>,
        medium: Option<String>,
    },
    AllBlocksCleared,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventBatch {
    pub timestamp: f64,
    pub events: Vec<KvEvent>,
    /// Data-parallel rank of the engine that sent it, when present.
    pub dp_rank: Option<i64>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KvEventError {
    #[error("not msgpack: {0}")]
    Msgpack(String),
    #[error("unexpected shape: {0}")]
    Shape(&'static str),
    #[error("a frame has {0} parts; expected [topic, seq, payload]")]
    FrameParts(usize),
    #[error("sequence number is {0} bytes; expected 8")]
    SeqLength(usize),
}

/// Decodes one payload.
pub fn decode_batch(payload: &[u8]) -> Result<EventBatch, KvEventError> {
    let mut reader = payload;
    let value =
        rmpv::decode::read_value(&mut reader).map_err(|e| KvEventError::Msgpack(e.to_string()))?;
    let Value::Array(parts) = value else {
        return Err(KvEventError::Shape("payload is not an array"));
    };
    let mut parts = parts.into_iter();
    let timestamp = parts
        .next()
        .and_then(|v| v.as_f64().or_else(|| v.as_i64().map(|i| i as f64)))
        .ok_or(KvEventError::Shape("payload has no timestamp"))?;
    let Some(Value::Array(raw_events)) = parts.next() else {
        return Err(KvEventError::Shape("payload has no event list"));
    };
    let dp_rank = parts.next().and_then(|v| v.as_i64());
    let events = raw_events.into_iter().filter_map(decode_event).collect();
    Ok(EventBatch {
        timestamp,
        events,
        dp_rank,
    })
}

/// Splits a multipart message into topic, sequence number and decoded batch.
pub fn decode_frame(parts: &[&[u8]]) -> Result<(String, i64, EventBatch), KvEventError> {
    let [topic, seq, payload] = parts else {
        return Err(KvEventError::FrameParts(parts.len()));
    };
    let seq: [u8; 8] = (*seq)
        .try_into()
        .map_err(|_| KvEventError::SeqLength(seq.len()))?;
    Ok((
        String::from_utf8_lossy(topic).into_owned(),
        i64::from_be_bytes(seq),
        decode_batch(payload)?,
    ))
}

/// Field order of the array encoding, after the type tag.
const STORED_FIELDS: &[&str] = &[
    "block_hashes",
    "parent_block_hash",
    "token_ids",
    "block_size",
    "lora_id",
    "medium",
];
const REMOVED_FIELDS: &[&str] = &["block_hashes", "medium"];

fn decode_event(value: Value) -> Option<KvEvent> {
    let (kind, fields): (String, Vec<(String, Value)>) = match value {
        Value::Map(entries) => {
            let mut kind = None;
            let mut fields = Vec::new();
            for (key, value) in entries {
                let key = key.as_str()?.to_string();
                if key == "type" {
                    kind = value.as_str().map(str::to_owned);
                } else {
                    fields.push((key, value));
                }
            }
            (kind?, fields)
        }
        Value::Array(items) => {
            let mut items = items.into_iter();
            let kind = items.next()?.as_str()?.to_string();
            let names = match kind.as_str() {
                "BlockStored" => STORED_FIELDS,
                "BlockRemoved" => REMOVED_FIELDS,
                _ => &[],
            };
            let fields = names.iter().map(|n| n.to_string()).zip(items).collect();
            (kind, fields)
        }
        _ => return None,
    };
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v);
    match kind.as_str() {
        "BlockStored" => Some(KvEvent::BlockStored {
            block_hashes: hashes(field("block_hashes")?)?,
            parent_block_hash: field("parent_block_hash").and_then(hash),
            token_ids: field("token_ids")?
                .as_array()?
                .iter()
                .map(|t| t.as_u64().and_then(|t| u32::try_from(t).ok()))
                .collect::<Option<_>>()?,
            block_size: field("block_size")
                .and_then(Value::as_u64)
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(0),
            lora_id: field("lora_id").and_then(Value::as_i64),
            medium: medium(field("medium")),
        }),
        "BlockRemoved" => Some(KvEvent::BlockRemoved {
            block_hashes: hashes(field("block_hashes")?)?,
            medium: medium(field("medium")),
        }),
        "AllBlocksCleared" => Some(KvEvent::AllBlocksCleared),
        _ => None,
    }
}

fn medium(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(str::to_owned)
}

fn hashes(value: &Value) -> Option<Vec<u64>> {
    value.as_array()?.iter().map(hash).collect()
}

/// A block hash: a 64-bit integer (vLLM's default; negative values keep their bits), or
/// bytes (the sha256 hash algorithms), folded to their first 8 bytes.
fn hash(value: &Value) -> Option<u64> {
    match value {
        Value::Integer(i) => i.as_u64().or_else(|| i.as_i64().map(|v| v as u64)),
        Value::Binary(bytes) if bytes.len() >= 8 => {
            let mut first = [0u8; 8];
            first.copy_from_slice(&bytes[..8]);
            Some(u64::from_be_bytes(first))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(value: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        rmpv::encode::write_value(&mut out, value).unwrap();
        out
    }

    #[test]
    fn decodes_hand_made_batches_in_both_encodings() {
        let stored_map = Value::Map(vec![
            (Value::from("type"), Value::from("BlockStored")),
            (
                Value::from("block_hashes"),
                Value::Array(vec![Value::from(7u64), Value::from(-2i64)]),
            ),
            (Value::from("parent_block_hash"), Value::Nil),
            (
                Value::from("token_ids"),
                Value::Array(vec![Value::from(1u64), Value::from(2u64)]),
            ),
            (Value::from("block_size"), Value::from(1u64)),
            (Value::from("medium"), Value::from("GPU")),
        ]);
        let stored_array = Value::Array(vec![
            Value::from("BlockStored"),
            Value::Array(vec![Value::from(7u64), Value::from(-2i64)]),
            Value::Nil,
            Value::Array(vec![Value::from(1u64), Value::from(2u64)]),
            Value::from(1u64),
            Value::Nil,
            Value::from("GPU"),
        ]);
        let cleared = Value::Map(vec![(Value::from("type"), Value::from("AllBlocksCleared"))]);
        let unknown = Value::Map(vec![(Value::from("type"), Value::from("Future"))]);
        for stored in [stored_map, stored_array] {
            let payload = Value::Array(vec![
                Value::from(1.5f64),
                Value::Array(vec![stored, cleared.clone(), unknown.clone()]),
                Value::from(0u64),
            ]);
            let batch = decode_batch(&encode(&payload)).unwrap();
            assert_eq!(batch.timestamp, 1.5);
            assert_eq!(batch.dp_rank, Some(0));
            assert_eq!(
                batch.events,
                vec![
                    KvEvent::BlockStored {
                        block_hashes: vec![7, u64::MAX - 1],
                        parent_block_hash: None,
                        token_ids: vec![1, 2],
                        block_size: 1,
                        lora_id: None,
                        medium: Some("GPU".into()),
                    },
                    KvEvent::AllBlocksCleared,
                ]
            );
        }
    }

    #[test]
    fn rejects_what_is_not_a_batch() {
        assert!(matches!(decode_batch(b""), Err(KvEventError::Msgpack(_))));
        assert_eq!(
            decode_batch(&encode(&Value::from(3u64))),
            Err(KvEventError::Shape("payload is not an array"))
        );
        assert_eq!(
            decode_frame(&[b"kv", b"\x00\x01", b""]).unwrap_err(),
            KvEventError::SeqLength(2)
        );
        assert_eq!(
            decode_frame(&[b"kv"]).unwrap_err(),
            KvEventError::FrameParts(1)
        );
    }
}
