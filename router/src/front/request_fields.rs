//! Reads only what routing needs from an OpenAI request body: the model
//! name (and where it sits, so it can be rewritten in place), whether the
//! response streams, and that the endpoint's required field is present.
//! Everything else passes through as the client sent it.

use std::borrow::Cow;
use std::ops::Range;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::errors::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenAiOperation {
    ChatCompletions,
    Completions,
    Embeddings,
}

impl OpenAiOperation {
    fn required_field(self) -> &'static str {
        match self {
            Self::ChatCompletions => "messages",
            Self::Completions => "prompt",
            Self::Embeddings => "input",
        }
    }
}

#[derive(Debug)]
pub struct RoutingFields {
    pub model: String,
    /// Byte range of the model's JSON string (quotes included) in the body.
    pub model_span: Range<usize>,
    pub stream: bool,
}

#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    model: Option<&'a RawValue>,
    #[serde(default)]
    stream: Option<bool>,
    #[serde(borrow)]
    messages: Option<&'a RawValue>,
    #[serde(borrow)]
    prompt: Option<&'a RawValue>,
    #[serde(borrow)]
    input: Option<&'a RawValue>,
}

pub fn parse(body: &[u8], operation: OpenAiOperation) -> Result<RoutingFields, ApiError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(ApiError::bad_request(
            "The request body must be a JSON object. Send `Content-Type: application/json` with a JSON body.",
        ));
    }
    let fields: Fields<'_> = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "We could not parse the JSON body of your request: {e}"
        ))
    })?;
    let raw_model = fields
        .model
        .ok_or_else(|| ApiError::missing_field("model", "You must provide a model parameter."))?;
    let model: Cow<'_, str> = serde_json::from_str(raw_model.get())
        .map_err(|_| ApiError::missing_field("model", "`model` must be a string."))?;
    if model.is_empty() {
        return Err(ApiError::missing_field(
            "model",
            "You must provide a model parameter.",
        ));
    }
    let required = match operation {
        OpenAiOperation::ChatCompletions => fields.messages,
        OpenAiOperation::Completions => fields.prompt,
        OpenAiOperation::Embeddings => fields.input,
    };
    let field = operation.required_field();
    match required.map(RawValue::get) {
        None | Some("null") => {
            return Err(ApiError::missing_field(
                field,
                format!("Missing required parameter: `{field}`."),
            ));
        }
        Some(raw) if operation == OpenAiOperation::ChatCompletions && !raw.starts_with('[') => {
            return Err(ApiError::missing_field(
                field,
                "`messages` must be an array of message objects.",
            ));
        }
        Some(_) => {}
    }
    // The RawValue borrows from `body`, so its offset is plain pointer
    // arithmetic on the same buffer.
    let start = raw_model.get().as_ptr() as usize - body.as_ptr() as usize;
    Ok(RoutingFields {
        model: model.into_owned(),
        model_span: start..start + raw_model.get().len(),
        stream: fields.stream.unwrap_or(false),
    })
}

/// `body` with the model string at `span` replaced by `served` (JSON-encoded).
pub fn with_model(body: &Bytes, span: &Range<usize>, served: &str) -> Bytes {
    let mut out = Vec::with_capacity(body.len() + served.len() + 2);
    out.extend_from_slice(&body[..span.start]);
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, served);
    out.extend_from_slice(&body[span.end..]);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use OpenAiOperation::*;

    #[test]
    fn reads_model_stream_and_span() {
        let body =
            br#"{"messages":[{"role":"user","content":"hi"}], "model" : "llama", "stream": true}"#;
        let f = parse(body, ChatCompletions).unwrap();
        assert_eq!(f.model, "llama");
        assert!(f.stream);
        assert_eq!(&body[f.model_span.clone()], br#""llama""#);
    }

    #[test]
    fn rewrites_only_the_model() {
        let body =
            Bytes::from_static(br#"{"model":"public","prompt":"model \"public\"","max_tokens":3}"#);
        let f = parse(&body, Completions).unwrap();
        let out = with_model(&body, &f.model_span, "org/served\"name");
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["model"], "org/served\"name");
        assert_eq!(v["prompt"], "model \"public\"");
        assert_eq!(v["max_tokens"], 3);
    }

    #[test]
    fn escaped_model_names_are_decoded() {
        let f = parse(br#"{"model":"a\u002fb","input":"x"}"#, Embeddings).unwrap();
        assert_eq!(f.model, "a/b");
    }

    fn error(body: &[u8], op: OpenAiOperation) -> ApiError {
        parse(body, op).unwrap_err()
    }

    #[test]
    fn bad_requests_are_400_with_the_param() {
        assert_eq!(error(b"", Completions).status, 400);
        assert_eq!(error(b"[1,2]", Completions).status, 400);
        assert_eq!(
            error(br#"{"model": "m", "prompt": "x""#, Completions).status,
            400
        );
        assert_eq!(
            error(br#"{"prompt":"x"}"#, Completions).param,
            Some("model")
        );
        assert_eq!(
            error(br#"{"model":7,"prompt":"x"}"#, Completions).param,
            Some("model")
        );
        assert_eq!(
            error(br#"{"model":"","prompt":"x"}"#, Completions).param,
            Some("model")
        );
        assert_eq!(
            error(br#"{"model":"m"}"#, ChatCompletions).param,
            Some("messages")
        );
        assert_eq!(
            error(br#"{"model":"m","messages":"hi"}"#, ChatCompletions).param,
            Some("messages")
        );
        assert_eq!(
            error(br#"{"model":"m","prompt":null}"#, Completions).param,
            Some("prompt")
        );
        assert_eq!(error(br#"{"model":"m"}"#, Embeddings).param, Some("input"));
        assert_eq!(
            error(br#"{"model":"m","input":"x","stream":"yes"}"#, Embeddings).status,
            400
        );
    }
}
