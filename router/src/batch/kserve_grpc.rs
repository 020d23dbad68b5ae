//! KServe v2 `ModelInfer` over gRPC. Requests with the same inputs
//! (names, datatypes, shapes past the batch dimension, raw or typed
//! contents), outputs and parameters are concatenated along the batch
//! dimension; every output is cut back by rows. Raw tensor bytes are sliced,
//! never decoded.

use std::collections::HashMap;
use std::ops::Range;

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, Response};
use prost::Message;
use switchyard_proto::inference::{
    InferParameter, InferTensorContents, ModelInferRequest, ModelInferResponse,
};

use super::batcher::{BatchKey, Offer, push_key};
use super::send::{Codec, Merged, UpstreamReply};
use super::tensor;
use crate::front::ResponseBody;
use crate::front::grpc::{GrpcCode, frame, grpc_status_trailers, single_message};
use crate::proxy::{ModelName, Wire};

const SEQUENCE_PARAMETERS: [&str; 3] = ["sequence_id", "sequence_start", "sequence_end"];

pub struct KserveGrpc;

pub struct Member {
    path: String,
    headers: HeaderMap,
    rows: usize,
    request: ModelInferRequest,
}

/// Reads a `ModelInfer` request as far as batching needs; `None`: it goes
/// to the server unchanged.
pub fn offer(
    path: &str,
    headers: HeaderMap,
    body: &Bytes,
    received_at: std::time::Instant,
) -> Option<Offer<Member>> {
    if headers.contains_key("grpc-encoding") {
        return None;
    }
    let request = ModelInferRequest::decode(single_message(body).ok()?).ok()?;
    if SEQUENCE_PARAMETERS
        .iter()
        .any(|p| request.parameters.contains_key(*p))
    {
        return None;
    }
    let raw = !request.raw_input_contents.is_empty();
    if raw && request.raw_input_contents.len() != request.inputs.len() {
        return None;
    }
    let mut key = Vec::with_capacity(128);
    push_key(&mut key, path.as_bytes());
    push_key(&mut key, request.model_version.as_bytes());
    push_parameters(&mut key, &request.parameters);
    key.push(u8::from(raw));
    let mut rows = None;
    for (i, input) in request.inputs.iter().enumerate() {
        let (&batch, row_shape) = input.shape.split_first()?;
        let batch = usize::try_from(batch).ok()?;
        if *rows.get_or_insert(batch) != batch || !input.parameters.is_empty() {
            return None;
        }
        let elements = tensor::element_count(&input.shape)?;
        let layout = tensor::layout(&input.datatype)?;
        let holds = match (raw, &input.contents) {
            (true, None) => tensor::holds(layout, &request.raw_input_contents[i], elements),
            (false, Some(contents)) => content_len(contents) == elements,
            _ => false,
        };
        if !holds {
            return None;
        }
        push_key(&mut key, input.name.as_bytes());
        push_key(&mut key, input.datatype.as_bytes());
        for d in row_shape {
            key.extend_from_slice(&d.to_le_bytes());
        }
    }
    for output in &request.outputs {
        push_key(&mut key, output.name.as_bytes());
        push_parameters(&mut key, &output.parameters);
    }
    let rows = rows?;
    Some(Offer {
        key,
        rows,
        member: Member {
            path: path.to_owned(),
            headers,
            rows,
            request,
        },
        received_at,
    })
}

/// Parameters in name order: a map's encoding order is not fixed.
fn push_parameters(key: &mut BatchKey, parameters: &HashMap<String, InferParameter>) {
    let mut names: Vec<&String> = parameters.keys().collect();
    names.sort();
    key.extend_from_slice(&(names.len() as u32).to_le_bytes());
    for name in names {
        push_key(key, name.as_bytes());
        push_key(key, &parameters[name].encode_to_vec());
    }
}

/// Elements in typed contents (only the datatype's own list is filled).
fn content_len(c: &InferTensorContents) -> usize {
    c.bool_contents.len()
        + c.int_contents.len()
        + c.int64_contents.len()
        + c.uint_contents.len()
        + c.uint64_contents.len()
        + c.fp32_contents.len()
        + c.fp64_contents.len()
        + c.bytes_contents.len()
}

fn extend_contents(into: &mut InferTensorContents, from: &InferTensorContents) {
    into.bool_contents.extend_from_slice(&from.bool_contents);
    into.int_contents.extend_from_slice(&from.int_contents);
    into.int64_contents.extend_from_slice(&from.int64_contents);
    into.uint_contents.extend_from_slice(&from.uint_contents);
    into.uint64_contents
        .extend_from_slice(&from.uint64_contents);
    into.fp32_contents.extend_from_slice(&from.fp32_contents);
    into.fp64_contents.extend_from_slice(&from.fp64_contents);
    into.bytes_contents.extend_from_slice(&from.bytes_contents);
}

/// Elements `range` of the one filled list.
fn slice_contents(c: &InferTensorContents, range: Range<usize>) -> Option<InferTensorContents> {
    fn part<T: Clone>(v: &[T], r: &Range<usize>) -> Option<Vec<T>> {
        if v.is_empty() {
            Some(Vec::new())
        } else {
            v.get(r.clone()).map(<[T]>::to_vec)
        }
    }
    Some(InferTensorContents {
        bool_contents: part(&c.bool_contents, &range)?,
        int_contents: part(&c.int_contents, &range)?,
        int64_contents: part(&c.int64_contents, &range)?,
        uint_contents: part(&c.uint_contents, &range)?,
        uint64_contents: part(&c.uint64_contents, &range)?,
        fp32_contents: part(&c.fp32_contents, &range)?,
        fp64_contents: part(&c.fp64_contents, &range)?,
        bytes_contents: part(&c.bytes_contents, &range)?,
    })
}

/// Sets output `i` of a member's copy of the answer. Every copy has the
/// answer's outputs (and raw contents, checked to match them), so `i` is in
/// range; `fill` writes its data.
fn set_output(
    part: &mut ModelInferResponse,
    i: usize,
    shape: Vec<i64>,
    fill: impl FnOnce(&mut ModelInferResponse),
) {
    if let Some(output) = part.outputs.get_mut(i) {
        output.shape = shape;
        fill(part);
    }
}

impl Codec for KserveGrpc {
    type Member = Member;

    fn wire(&self) -> Wire {
        Wire::Grpc
    }

    fn merge(&self, members: &[&Member]) -> Result<Merged, String> {
        let first = members.first().ok_or("an empty batch")?;
        let total: usize = members.iter().map(|m| m.rows).sum();
        let mut merged = first.request.clone();
        merged.id.clear();
        let raw = !merged.raw_input_contents.is_empty();
        for (i, input) in merged.inputs.iter_mut().enumerate() {
            *input.shape.first_mut().ok_or("a scalar input")? = total as i64;
            if raw {
                let mut bytes = BytesMut::new();
                for m in members {
                    bytes.extend_from_slice(
                        m.request
                            .raw_input_contents
                            .get(i)
                            .ok_or("members differ in inputs")?,
                    );
                }
                *merged
                    .raw_input_contents
                    .get_mut(i)
                    .ok_or("members differ in inputs")? = bytes.freeze();
            } else {
                let mut contents = InferTensorContents::default();
                for m in members {
                    let part = m
                        .request
                        .inputs
                        .get(i)
                        .and_then(|x| x.contents.as_ref())
                        .ok_or("members differ in inputs")?;
                    extend_contents(&mut contents, part);
                }
                input.contents = Some(contents);
            }
        }
        let mut headers = first.headers.clone();
        headers.remove(CONTENT_LENGTH);
        // The answer is read here, so it must come uncompressed.
        headers.remove("grpc-accept-encoding");
        Ok(Merged {
            path: first.path.clone(),
            headers,
            body: frame(&Bytes::from(merged.encode_to_vec())),
            model_name: ModelName::GrpcField,
        })
    }

    fn split(
        &self,
        reply: &UpstreamReply,
        members: &[&Member],
    ) -> Result<Vec<Response<ResponseBody>>, String> {
        let message = single_message(&reply.body)?;
        let response =
            ModelInferResponse::decode(message).map_err(|e| format!("ModelInferResponse: {e}"))?;
        let rows: Vec<usize> = members.iter().map(|m| m.rows).collect();
        let total: usize = rows.iter().sum();
        let raw = !response.raw_output_contents.is_empty();
        if raw && response.raw_output_contents.len() != response.outputs.len() {
            return Err("raw_output_contents does not match outputs".into());
        }
        let mut parts = vec![response.clone(); members.len()];
        for (i, output) in response.outputs.iter().enumerate() {
            let (&batch, row_shape) = output.shape.split_first().ok_or("a scalar output")?;
            if usize::try_from(batch).ok() != Some(total) {
                return Err(format!(
                    "output {} has {batch} rows for {total} requested",
                    output.name
                ));
            }
            let per_row = tensor::element_count(row_shape).ok_or("a negative output dimension")?;
            let shape_of = |r: usize| {
                let mut shape = output.shape.clone();
                shape[0] = r as i64;
                shape
            };
            if raw {
                let data = &response.raw_output_contents[i];
                let layout = tensor::layout(&output.datatype)
                    .ok_or_else(|| format!("unknown datatype {}", output.datatype))?;
                let ranges = tensor::cut_rows(layout, data, per_row, &rows)
                    .ok_or_else(|| format!("output {} does not hold its shape", output.name))?;
                for ((part, range), &r) in parts.iter_mut().zip(ranges).zip(&rows) {
                    set_output(part, i, shape_of(r), |p| {
                        p.raw_output_contents[i] = data.slice(range);
                    });
                }
            } else {
                let contents = output
                    .contents
                    .as_ref()
                    .ok_or("an output without contents")?;
                let ranges = tensor::cut_elements(content_len(contents), per_row, &rows)
                    .ok_or_else(|| format!("output {} does not hold its shape", output.name))?;
                for ((part, range), &r) in parts.iter_mut().zip(ranges).zip(&rows) {
                    let cut = slice_contents(contents, range).ok_or("mixed typed contents")?;
                    set_output(part, i, shape_of(r), |p| p.outputs[i].contents = Some(cut));
                }
            }
        }
        let mut head = reply.headers.clone();
        for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
            head.remove(name);
        }
        head.remove(CONTENT_LENGTH);
        head.insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        Ok(parts
            .into_iter()
            .zip(members)
            .map(|(mut part, member)| {
                part.id.clone_from(&member.request.id);
                let mut response = Response::new(ResponseBody::Grpc {
                    message: Some(frame(&Bytes::from(part.encode_to_vec()))),
                    trailers: Some(grpc_status_trailers(GrpcCode::Ok, "")),
                });
                *response.headers_mut() = head.clone();
                response
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_proto::inference::model_infer_request::InferInputTensor;
    use switchyard_proto::inference::model_infer_response::InferOutputTensor;

    const PATH: &str = "/inference.GRPCInferenceService/ModelInfer";

    fn request(id: &str, rows: &[f32]) -> Offer<Member> {
        let message = ModelInferRequest {
            model_name: "m".into(),
            id: id.into(),
            inputs: vec![InferInputTensor {
                name: "X".into(),
                datatype: "FP32".into(),
                shape: vec![rows.len() as i64, 1],
                ..Default::default()
            }],
            raw_input_contents: vec![rows.iter().flat_map(|v| v.to_le_bytes()).collect()],
            ..Default::default()
        };
        let body = frame(&Bytes::from(message.encode_to_vec()));
        offer(PATH, HeaderMap::new(), &body, std::time::Instant::now()).unwrap()
    }

    #[test]
    fn raw_tensors_merge_and_split_by_rows() {
        let a = request("a", &[1.0]);
        let b = request("b", &[2.0, 3.0]);
        assert_eq!(a.key, b.key);
        let members = [&a.member, &b.member];
        let merged = KserveGrpc.merge(&members).unwrap();
        let sent = ModelInferRequest::decode(single_message(&merged.body).unwrap()).unwrap();
        assert_eq!(sent.inputs[0].shape, vec![3, 1]);
        assert_eq!(sent.raw_input_contents[0].len(), 12);
        assert!(sent.id.is_empty());

        let answer = ModelInferResponse {
            model_name: "m".into(),
            model_version: "1".into(),
            outputs: vec![InferOutputTensor {
                name: "Y".into(),
                datatype: "FP32".into(),
                shape: vec![3, 1],
                ..Default::default()
            }],
            raw_output_contents: vec![Bytes::from_static(&[1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0])],
            ..Default::default()
        };
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        let reply = UpstreamReply {
            status: http::StatusCode::OK,
            headers: HeaderMap::new(),
            body: frame(&Bytes::from(answer.encode_to_vec())),
            trailers: Some(trailers),
        };
        let parts = KserveGrpc.split(&reply, &members).unwrap();
        let decode = |r: &Response<ResponseBody>| match r.body() {
            ResponseBody::Grpc {
                message: Some(m), ..
            } => ModelInferResponse::decode(single_message(m).unwrap()).unwrap(),
            _ => panic!("a gRPC message"),
        };
        let first = decode(&parts[0]);
        assert_eq!(first.id, "a");
        assert_eq!(first.outputs[0].shape, vec![1, 1]);
        assert_eq!(&first.raw_output_contents[0][..], &[1, 0, 0, 0]);
        let second = decode(&parts[1]);
        assert_eq!(second.id, "b");
        assert_eq!(second.outputs[0].shape, vec![2, 1]);
        assert_eq!(
            &second.raw_output_contents[0][..],
            &[2, 0, 0, 0, 3, 0, 0, 0]
        );
    }

    #[test]
    fn typed_contents_are_cut_by_elements() {
        let contents = InferTensorContents {
            fp32_contents: vec![1.0, 2.0, 3.0, 4.0],
            ..Default::default()
        };
        let part = slice_contents(&contents, 1..3).unwrap();
        assert_eq!(part.fp32_contents, vec![2.0, 3.0]);
        assert!(part.int_contents.is_empty());
        let mut merged = InferTensorContents::default();
        extend_contents(&mut merged, &contents);
        extend_contents(&mut merged, &part);
        assert_eq!(content_len(&merged), 6);
    }

    #[test]
    fn sequence_and_compressed_requests_go_alone() {
        let mut message = ModelInferRequest {
            model_name: "m".into(),
            inputs: vec![InferInputTensor {
                name: "X".into(),
                datatype: "FP32".into(),
                shape: vec![1, 1],
                ..Default::default()
            }],
            raw_input_contents: vec![Bytes::from_static(&[0, 0, 0, 0])],
            ..Default::default()
        };
        message
            .parameters
            .insert("sequence_id".into(), InferParameter::default());
        let body = frame(&Bytes::from(message.encode_to_vec()));
        assert!(offer(PATH, HeaderMap::new(), &body, std::time::Instant::now()).is_none());
        message.parameters.clear();
        let body = frame(&Bytes::from(message.encode_to_vec()));
        let mut headers = HeaderMap::new();
        headers.insert("grpc-encoding", HeaderValue::from_static("gzip"));
        assert!(offer(PATH, headers, &body, std::time::Instant::now()).is_none());
        assert!(offer(PATH, HeaderMap::new(), &body, std::time::Instant::now()).is_some());
    }
}
