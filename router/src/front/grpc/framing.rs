//! gRPC message framing (a compressed flag, a 4-byte big-endian length, the
//! message) and the one field routing reads: the model name, field 1 of
//! every routed request message in both protocols.

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;
use prost::encoding::{WireType, decode_key, decode_varint, encode_key, encode_varint};

const HEADER: usize = 5;

/// Field 1 (and 2) of a request message: `model_name`/`model_version` of
/// `ModelInferRequest` and `PredictionsRequest`, `name`/`version` of
/// `ModelReadyRequest`, `ModelMetadataRequest`, `ModelConfigRequest` and
/// `ModelStatisticsRequest`. Decoding only these skips the tensors cheaply.
#[derive(Clone, PartialEq, Message)]
pub struct ModelRef {
    #[prost(string, tag = "1")]
    pub name: String,
    #[prost(string, tag = "2")]
    pub version: String,
}

impl ModelRef {
    pub fn decode_from(message: Bytes) -> Result<Self, String> {
        Self::decode(message).map_err(|e| format!("malformed request message: {e}"))
    }
}

/// The message of a body holding exactly one uncompressed frame.
pub fn single_message(body: &Bytes) -> Result<Bytes, String> {
    let (message, rest) = split_frame(body)?.ok_or("the request carries no message")?;
    if !rest.is_empty() {
        return Err("a unary call carries one message".into());
    }
    Ok(message)
}

/// The byte range of the first frame's message in `buf`; `None` while the
/// frame is not complete yet.
pub fn first_message(buf: &[u8]) -> Result<Option<std::ops::Range<usize>>, String> {
    if buf.len() < HEADER {
        return Ok(None);
    }
    if buf[0] != 0 {
        return Err(
            "compressed messages are not supported by the router; send them uncompressed".into(),
        );
    }
    let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
    Ok((buf.len() >= HEADER + len).then_some(HEADER..HEADER + len))
}

/// The first complete frame's message, and what follows it.
fn split_frame(buf: &Bytes) -> Result<Option<(Bytes, Bytes)>, String> {
    Ok(first_message(buf)?.map(|m| (buf.slice(m.clone()), buf.slice(m.end..))))
}

/// Frames one uncompressed message.
pub fn frame(message: &Bytes) -> Bytes {
    let mut out = BytesMut::with_capacity(HEADER + message.len());
    out.put_u8(0);
    out.put_u32(message.len() as u32);
    out.extend_from_slice(message);
    out.freeze()
}

/// The framed body with field 1 set to `served`: the old field-1 entries are
/// dropped and the new one written first (protobuf fields may come in any
/// order). The rest of the message is copied as it was, not re-encoded.
/// A body that is not one well-formed frame is returned unchanged; the
/// upstream will reject it as it would have anyway.
pub fn with_model_name(body: &Bytes, served: &str) -> Bytes {
    let Ok(message) = single_message(body) else {
        return body.clone();
    };
    let Some(spans) = field_spans(&message) else {
        return body.clone();
    };
    let mut out = BytesMut::with_capacity(message.len() + served.len() + 8);
    encode_key(1, WireType::LengthDelimited, &mut out);
    encode_varint(served.len() as u64, &mut out);
    out.extend_from_slice(served.as_bytes());
    for (tag, span) in spans {
        if tag != 1 {
            out.extend_from_slice(&message[span]);
        }
    }
    frame(&out.freeze())
}

/// Each top-level field's tag and byte span (key included).
fn field_spans(message: &Bytes) -> Option<Vec<(u32, std::ops::Range<usize>)>> {
    let mut spans = Vec::new();
    let mut buf = &message[..];
    while !buf.is_empty() {
        let start = message.len() - buf.len();
        let (tag, wire_type) = decode_key(&mut buf).ok()?;
        match wire_type {
            WireType::Varint => {
                decode_varint(&mut buf).ok()?;
            }
            WireType::SixtyFourBit => buf = buf.get(8..)?,
            WireType::ThirtyTwoBit => buf = buf.get(4..)?,
            WireType::LengthDelimited => {
                let len = usize::try_from(decode_varint(&mut buf).ok()?).ok()?;
                buf = buf.get(len..)?;
            }
            // Groups are not used by these protocols.
            WireType::StartGroup | WireType::EndGroup => return None,
        }
        spans.push((tag, start..message.len() - buf.len()));
    }
    Some(spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_proto::inference::{ModelInferRequest, model_infer_request::InferInputTensor};

    fn infer_request(model: &str) -> ModelInferRequest {
        ModelInferRequest {
            model_name: model.into(),
            model_version: "1".into(),
            id: "req-7".into(),
            inputs: vec![InferInputTensor {
                name: "INPUT0".into(),
                datatype: "FP32".into(),
                shape: vec![1, 4],
                ..Default::default()
            }],
            raw_input_contents: vec![Bytes::from_static(&[0, 0, 128, 63, 0, 0, 0, 64])],
            ..Default::default()
        }
    }

    #[test]
    fn reads_the_model_of_an_infer_request() {
        let body = frame(&Bytes::from(infer_request("add_sub").encode_to_vec()));
        let model = ModelRef::decode_from(single_message(&body).unwrap()).unwrap();
        assert_eq!(model.name, "add_sub");
        assert_eq!(model.version, "1");
    }

    #[test]
    fn renames_the_model_and_keeps_everything_else() {
        let original = infer_request("public-name");
        let body = frame(&Bytes::from(original.encode_to_vec()));
        let renamed = with_model_name(&body, "add_sub");
        let decoded = ModelInferRequest::decode(single_message(&renamed).unwrap()).unwrap();
        assert_eq!(
            decoded,
            ModelInferRequest {
                model_name: "add_sub".into(),
                ..original
            }
        );
    }

    #[test]
    fn rejects_compressed_truncated_and_trailing_frames() {
        let message = Bytes::from(infer_request("m").encode_to_vec());
        let mut compressed = frame(&message).to_vec();
        compressed[0] = 1;
        assert!(single_message(&Bytes::from(compressed)).is_err());
        let framed = frame(&message);
        assert!(single_message(&framed.slice(..framed.len() - 1)).is_err());
        let twice = Bytes::from([framed.clone(), framed].concat());
        assert!(single_message(&twice).is_err());
        assert!(single_message(&Bytes::new()).is_err());
    }

    #[test]
    fn garbage_is_a_decode_error_not_a_panic() {
        let body = frame(&Bytes::from_static(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
        assert!(ModelRef::decode_from(single_message(&body).unwrap()).is_err());
        assert_eq!(
            with_model_name(&body, "x"),
            body,
            "left for the upstream to reject"
        );
    }
}
