//! KServe v2 `infer` over HTTP: JSON tensors and the binary tensor data
//! extension. Requests with the same inputs (names, datatypes, shapes past
//! the batch dimension, encoding), outputs and parameters are concatenated
//! along the batch dimension; every output is cut back by rows. JSON values
//! are carried as their original text, binary data as bytes, so each
//! caller's part is exactly what it would have got alone.

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use http::header::{ACCEPT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderMap, HeaderName, HeaderValue, Response};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::batcher::{Offer, push_key};
use super::send::{Codec, Merged, UpstreamReply};
use super::tensor;
use crate::front::ResponseBody;
use crate::proxy::{ModelName, Wire};

pub const HEADER_LENGTH: HeaderName = HeaderName::from_static("inference-header-content-length");

/// Request parameters that tie a request to server state across calls.
const SEQUENCE_PARAMETERS: [&str; 3] = ["sequence_id", "sequence_start", "sequence_end"];

pub struct KserveHttp;

pub struct Member {
    path: String,
    model: Range<usize>,
    headers: HeaderMap,
    id: Option<String>,
    rows: usize,
    /// The request's JSON members other than the inputs and `id`, as sent.
    parameters: Option<Map<String, Value>>,
    outputs: Option<Vec<Value>>,
    inputs: Vec<Input>,
}

struct Input {
    name: String,
    datatype: String,
    /// The dimensions past the batch dimension.
    row_shape: Vec<i64>,
    data: InputData,
}

enum InputData {
    Binary(Bytes),
    /// Every element's JSON text, flattened.
    Json(Vec<Box<RawValue>>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestHead {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    inputs: Vec<InputHead>,
    #[serde(default)]
    outputs: Option<Vec<Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputHead {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    #[serde(default)]
    data: Option<Box<RawValue>>,
}

/// Reads an infer request as far as batching needs. `None`: the request
/// cannot share a call (it goes to the server unchanged, which then judges
/// it on its own).
pub fn offer(
    path: &str,
    model: Range<usize>,
    headers: HeaderMap,
    body: &Bytes,
    received_at: std::time::Instant,
) -> Option<Offer<Member>> {
    let json_len = match headers.get(&HEADER_LENGTH) {
        Some(v) => v.to_str().ok()?.parse::<usize>().ok()?,
        None => body.len(),
    };
    let head: RequestHead = serde_json::from_slice(body.get(..json_len)?).ok()?;
    if let Some(p) = &head.parameters
        && SEQUENCE_PARAMETERS.iter().any(|s| p.contains_key(*s))
    {
        return None;
    }
    let mut binary = body.slice(json_len..);
    let mut rows = None;
    let mut inputs = Vec::with_capacity(head.inputs.len());
    let mut key = Vec::with_capacity(128);
    key.extend_from_slice(path.as_bytes());
    push_key(&mut key, &serde_json::to_vec(&head.parameters).ok()?);
    push_key(&mut key, &serde_json::to_vec(&head.outputs).ok()?);
    for input in head.inputs {
        let (&batch, row_shape) = input.shape.split_first()?;
        let batch = usize::try_from(batch).ok()?;
        if *rows.get_or_insert(batch) != batch {
            return None;
        }
        let elements = tensor::element_count(&input.shape)?;
        let layout = tensor::layout(&input.datatype)?;
        let binary_size = match &input.parameters {
            None => None,
            Some(p) if p.is_empty() => None,
            Some(p) if p.len() == 1 => {
                Some(usize::try_from(p.get("binary_data_size")?.as_u64()?).ok()?)
            }
            // Shared-memory inputs and the like name server-side state.
            Some(_) => return None,
        };
        let data = match (binary_size, input.data) {
            (Some(size), None) => {
                if size > binary.len() {
                    return None;
                }
                let bytes = binary.split_to(size);
                if !tensor::holds(layout, &bytes, elements) {
                    return None;
                }
                InputData::Binary(bytes)
            }
            (None, Some(data)) => {
                let mut flat = Vec::with_capacity(elements);
                flatten(data, &mut flat)?;
                if flat.len() != elements {
                    return None;
                }
                InputData::Json(flat)
            }
            _ => return None,
        };
        push_key(&mut key, input.name.as_bytes());
        push_key(&mut key, input.datatype.as_bytes());
        push_key(&mut key, &serde_json::to_vec(row_shape).ok()?);
        key.push(u8::from(matches!(data, InputData::Binary(_))));
        inputs.push(Input {
            name: input.name,
            datatype: input.datatype,
            row_shape: row_shape.to_vec(),
            data,
        });
    }
    if !binary.is_empty() || inputs.is_empty() {
        return None;
    }
    Some(Offer {
        key,
        rows: rows?,
        member: Member {
            path: path.to_owned(),
            model,
            headers,
            id: head.id,
            rows: rows?,
            parameters: head.parameters,
            outputs: head.outputs,
            inputs,
        },
        received_at,
    })
}

/// Appends the leaves of a (possibly nested) JSON array, keeping their text.
fn flatten(value: Box<RawValue>, out: &mut Vec<Box<RawValue>>) -> Option<()> {
    if value.get().trim_start().starts_with('[') {
        let items: Vec<Box<RawValue>> = serde_json::from_str(value.get()).ok()?;
        for item in items {
            flatten(item, out)?;
        }
    } else {
        out.push(value);
    }
    Some(())
}

impl Codec for KserveHttp {
    type Member = Member;

    fn wire(&self) -> Wire {
        Wire::Http
    }

    fn merge(&self, members: &[&Member]) -> Result<Merged, String> {
        let first = members.first().ok_or("an empty batch")?;
        let total: usize = members.iter().map(|m| m.rows).sum();
        let mut binary = BytesMut::new();
        let mut inputs = Vec::with_capacity(first.inputs.len());
        for (i, input) in first.inputs.iter().enumerate() {
            let mut shape = vec![total as i64];
            shape.extend_from_slice(&input.row_shape);
            let (parameters, data) = match &input.data {
                InputData::Binary(_) => {
                    let start = binary.len();
                    for m in members {
                        match m.inputs.get(i).map(|x| &x.data) {
                            Some(InputData::Binary(b)) => binary.extend_from_slice(b),
                            _ => return Err("members differ in input encoding".into()),
                        }
                    }
                    let size = binary.len() - start;
                    (Some(serde_json::json!({ "binary_data_size": size })), None)
                }
                InputData::Json(_) => {
                    let mut elements: Vec<&RawValue> = Vec::new();
                    for m in members {
                        match m.inputs.get(i).map(|x| &x.data) {
                            Some(InputData::Json(d)) => {
                                elements.extend(d.iter().map(AsRef::as_ref))
                            }
                            _ => return Err("members differ in input encoding".into()),
                        }
                    }
                    (None, Some(json_array(&elements)?))
                }
            };
            inputs.push(TensorOut {
                name: &input.name,
                datatype: &input.datatype,
                shape,
                parameters,
                data,
            });
        }
        let json = request_json(first, inputs)?;
        let mut headers = first.headers.clone();
        headers.remove(CONTENT_LENGTH);
        // The answer is read and cut here, so it must come uncompressed.
        headers.remove(ACCEPT_ENCODING);
        headers.remove(&HEADER_LENGTH);
        let body = if binary.is_empty() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            Bytes::from(json)
        } else {
            headers.insert(HEADER_LENGTH, HeaderValue::from(json.len()));
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            let mut body = BytesMut::with_capacity(json.len() + binary.len());
            body.extend_from_slice(&json);
            body.extend_from_slice(&binary);
            body.freeze()
        };
        Ok(Merged {
            path: first.path.clone(),
            headers,
            body,
            model_name: ModelName::Path(first.model.clone()),
        })
    }

    fn split(
        &self,
        reply: &UpstreamReply,
        members: &[&Member],
    ) -> Result<Vec<Response<ResponseBody>>, String> {
        let json_len = match reply.headers.get(&HEADER_LENGTH) {
            Some(v) => v
                .to_str()
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .ok_or("a malformed inference-header-content-length")?,
            None => reply.body.len(),
        };
        let head_bytes = reply
            .body
            .get(..json_len)
            .ok_or("a header longer than the body")?;
        let head: ResponseHead =
            serde_json::from_slice(head_bytes).map_err(|e| format!("response JSON: {e}"))?;
        let rows: Vec<usize> = members.iter().map(|m| m.rows).collect();
        let total: usize = rows.iter().sum();
        let mut binary = reply.body.slice(json_len..);
        // parts[output][member]
        let mut parts: Vec<Vec<OutputPart>> = Vec::with_capacity(head.outputs.len());
        for output in &head.outputs {
            let (&batch, row_shape) = output.shape.split_first().ok_or("a scalar output")?;
            if usize::try_from(batch).ok() != Some(total) {
                return Err(format!(
                    "output {} has {batch} rows for {total} requested",
                    output.name
                ));
            }
            let per_row = tensor::element_count(row_shape).ok_or("a negative output dimension")?;
            let binary_size = output
                .parameters
                .as_ref()
                .and_then(|p| p.get("binary_data_size"))
                .and_then(Value::as_u64);
            let cut: Vec<OutputPart> = match (binary_size, &output.data) {
                (Some(size), _) => {
                    let size = usize::try_from(size).map_err(|e| e.to_string())?;
                    if size > binary.len() {
                        return Err("binary outputs longer than the body".into());
                    }
                    let data = binary.split_to(size);
                    let layout = tensor::layout(&output.datatype)
                        .ok_or_else(|| format!("unknown datatype {}", output.datatype))?;
                    tensor::cut_rows(layout, &data, per_row, &rows)
                        .ok_or_else(|| format!("output {} does not hold its shape", output.name))?
                        .into_iter()
                        .map(|r| OutputPart::Binary(data.slice(r)))
                        .collect()
                }
                (None, Some(data)) => {
                    let mut flat = Vec::new();
                    flatten(data.clone(), &mut flat).ok_or("output data is not JSON")?;
                    let flat: Vec<&RawValue> = flat.iter().map(AsRef::as_ref).collect();
                    tensor::cut_elements(flat.len(), per_row, &rows)
                        .ok_or_else(|| format!("output {} does not hold its shape", output.name))?
                        .into_iter()
                        .map(|r| json_array(&flat[r]).map(OutputPart::Json))
                        .collect::<Result<_, _>>()?
                }
                (None, None) => return Err(format!("output {} carries no data", output.name)),
            };
            parts.push(cut);
        }
        let content_type = reply
            .headers
            .get(CONTENT_TYPE)
            .cloned()
            .unwrap_or(HeaderValue::from_static("application/json"));
        let mut responses = Vec::with_capacity(members.len());
        for (index, member) in members.iter().enumerate() {
            responses.push(member_response(
                &head,
                &parts,
                index,
                member,
                &content_type,
            )?);
        }
        Ok(responses)
    }
}

/// The merged request's JSON: the first member's parameters and outputs
/// (every member has the same), no `id`.
fn request_json(first: &Member, inputs: Vec<TensorOut<'_>>) -> Result<Vec<u8>, String> {
    let request = RequestOut {
        parameters: first.parameters.as_ref(),
        inputs,
        outputs: first.outputs.as_ref(),
    };
    serde_json::to_vec(&request).map_err(|e| e.to_string())
}

/// A JSON array of the given values' text, as is.
fn json_array(elements: &[&RawValue]) -> Result<Box<RawValue>, String> {
    let mut text =
        String::with_capacity(elements.iter().map(|e| e.get().len() + 1).sum::<usize>() + 2);
    text.push('[');
    for (i, e) in elements.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        text.push_str(e.get());
    }
    text.push(']');
    RawValue::from_string(text).map_err(|e| e.to_string())
}

#[derive(Serialize)]
struct RequestOut<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<&'a Map<String, Value>>,
    inputs: Vec<TensorOut<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    outputs: Option<&'a Vec<Value>>,
}

/// An input of a merged request, or an output of a member's response.
#[derive(Serialize)]
struct TensorOut<'a> {
    name: &'a str,
    datatype: &'a str,
    shape: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Box<RawValue>>,
}

#[derive(Serialize)]
struct ResponseOut<'a> {
    model_name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    model_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<&'a Map<String, Value>>,
    outputs: Vec<TensorOut<'a>>,
}

#[derive(Deserialize)]
struct ResponseHead {
    model_name: String,
    #[serde(default)]
    model_version: Option<String>,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    outputs: Vec<OutputHead>,
}

#[derive(Deserialize)]
struct OutputHead {
    name: String,
    datatype: String,
    shape: Vec<i64>,
    #[serde(default)]
    parameters: Option<Map<String, Value>>,
    #[serde(default)]
    data: Option<Box<RawValue>>,
}

enum OutputPart {
    Binary(Bytes),
    Json(Box<RawValue>),
}

fn member_response(
    head: &ResponseHead,
    parts: &[Vec<OutputPart>],
    index: usize,
    member: &Member,
    content_type: &HeaderValue,
) -> Result<Response<ResponseBody>, String> {
    let mut binary = BytesMut::new();
    let mut outputs = Vec::with_capacity(head.outputs.len());
    for (output, cut) in head.outputs.iter().zip(parts) {
        let mut shape = vec![member.rows as i64];
        shape.extend_from_slice(&output.shape[1..]);
        let mut parameters = output.parameters.clone().unwrap_or_default();
        let data = match cut.get(index).ok_or("a missing part")? {
            OutputPart::Binary(bytes) => {
                parameters.insert("binary_data_size".into(), bytes.len().into());
                binary.extend_from_slice(bytes);
                None
            }
            OutputPart::Json(data) => Some(data.clone()),
        };
        outputs.push(TensorOut {
            name: &output.name,
            datatype: &output.datatype,
            shape,
            parameters: (!parameters.is_empty()).then_some(Value::Object(parameters)),
            data,
        });
    }
    let response = ResponseOut {
        model_name: &head.model_name,
        model_version: head.model_version.as_deref(),
        id: member.id.as_deref(),
        parameters: head.parameters.as_ref(),
        outputs,
    };
    let json = serde_json::to_vec(&response).map_err(|e| e.to_string())?;
    let mut http = if binary.is_empty() {
        Response::new(ResponseBody::full(json))
    } else {
        let json_len = json.len();
        let mut body = BytesMut::with_capacity(json_len + binary.len());
        body.extend_from_slice(&json);
        body.extend_from_slice(&binary);
        let mut r = Response::new(ResponseBody::full(body.freeze()));
        r.headers_mut()
            .insert(HEADER_LENGTH, HeaderValue::from(json_len));
        r
    };
    http.headers_mut()
        .insert(CONTENT_TYPE, content_type.clone());
    Ok(http)
}

#[cfg(test)]
mod tests;
