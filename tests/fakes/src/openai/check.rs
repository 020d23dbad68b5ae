//! Field checks shared by the OpenAI endpoints, each failing with the error
//! OpenAI gives for it. A field that is `null` counts as absent.

use serde_json::{Map, Value};

use super::errors::{OaiError, empty_array, invalid_type, unrecognized};

pub(crate) type Obj = Map<String, Value>;

/// The field, unless absent or `null`.
pub(crate) fn get<'a>(obj: &'a Obj, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

/// Refuses the first key not in `allowed`.
pub(crate) fn known_keys(obj: &Obj, allowed: &[&str]) -> Result<(), OaiError> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(unrecognized(k)),
        None => Ok(()),
    }
}

/// The body as a JSON object.
pub(crate) fn body_object(body: &Value) -> Result<&Obj, OaiError> {
    body.as_object()
        .ok_or_else(|| invalid_type("body", "an object", body))
}

/// The body as an object of known keys, and its `model`; OpenAI requires `model`, Azure
/// takes it from the deployment in the path.
pub(crate) fn request_object<'a>(
    body: &'a Value,
    allowed: &[&str],
    model_required: bool,
) -> Result<(&'a Obj, Option<&'a str>), OaiError> {
    let obj = body_object(body)?;
    known_keys(obj, allowed)?;
    let model = opt_str(obj, "model", "model")?;
    if model_required && model.is_none() {
        return Err(OaiError::invalid(
            "you must provide a model parameter",
            None,
            None,
        ));
    }
    Ok((obj, model))
}

pub(crate) fn opt_bool(obj: &Obj, key: &str) -> Result<Option<bool>, OaiError> {
    match get(obj, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(invalid_type(key, "a boolean", v)),
    }
}

pub(crate) fn opt_str<'a>(
    obj: &'a Obj,
    key: &str,
    param: &str,
) -> Result<Option<&'a str>, OaiError> {
    match get(obj, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(invalid_type(param, "a string", v)),
    }
}

pub(crate) fn opt_object<'a>(
    obj: &'a Obj,
    key: &str,
    param: &str,
) -> Result<Option<&'a Obj>, OaiError> {
    match get(obj, key) {
        None => Ok(None),
        Some(Value::Object(o)) => Ok(Some(o)),
        Some(v) => Err(invalid_type(param, "an object", v)),
    }
}

/// An integer within `min..=max`.
pub(crate) fn opt_int(
    obj: &Obj,
    key: &str,
    min: i64,
    max: Option<i64>,
) -> Result<Option<i64>, OaiError> {
    let Some(v) = get(obj, key) else {
        return Ok(None);
    };
    let Some(n) = v.as_i64() else {
        return Err(invalid_type(key, "an integer", v));
    };
    if n < min {
        return Err(OaiError::invalid(
            format!(
                "Invalid '{key}': integer below minimum value. Expected a value >= {min}, but got {n} instead."
            ),
            Some(key),
            Some("integer_below_min_value"),
        ));
    }
    if let Some(max) = max.filter(|max| n > *max) {
        return Err(OaiError::invalid(
            format!(
                "Invalid '{key}': integer above maximum value. Expected a value <= {max}, but got {n} instead."
            ),
            Some(key),
            Some("integer_above_max_value"),
        ));
    }
    Ok(Some(n))
}

/// A number within `min..=max`.
pub(crate) fn opt_number(
    obj: &Obj,
    key: &str,
    min: f64,
    max: f64,
) -> Result<Option<f64>, OaiError> {
    let Some(v) = get(obj, key) else {
        return Ok(None);
    };
    let Some(x) = v.as_f64() else {
        return Err(invalid_type(key, "a number", v));
    };
    if x < min {
        return Err(OaiError::invalid(
            format!(
                "Invalid '{key}': decimal below minimum value. Expected a value >= {min}, but got {v} instead."
            ),
            Some(key),
            Some("decimal_below_min_value"),
        ));
    }
    if x > max {
        return Err(OaiError::invalid(
            format!(
                "Invalid '{key}': decimal above maximum value. Expected a value <= {max}, but got {v} instead."
            ),
            Some(key),
            Some("decimal_above_max_value"),
        ));
    }
    Ok(Some(x))
}

/// `stop`: a string or an array of at most four strings.
pub(crate) fn stop(obj: &Obj) -> Result<Vec<String>, OaiError> {
    match get(obj, "stop") {
        None => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => {
            if items.len() > 4 {
                return Err(OaiError::invalid(
                    format!(
                        "Invalid 'stop': array too long. Expected an array with maximum length 4, but got an array with length {} instead.",
                        items.len()
                    ),
                    Some("stop"),
                    Some("array_above_max_length"),
                ));
            }
            items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s.clone()),
                    v => Err(invalid_type(&format!("stop[{i}]"), "a string", v)),
                })
                .collect()
        }
        Some(v) => Err(invalid_type("stop", "a string or array of strings", v)),
    }
}

/// `stream` and `stream_options.include_usage`; `stream_options` is only
/// allowed with `stream: true`.
pub(crate) fn stream_flags(obj: &Obj) -> Result<(bool, bool), OaiError> {
    let stream = opt_bool(obj, "stream")?.unwrap_or(false);
    let Some(options) = opt_object(obj, "stream_options", "stream_options")? else {
        return Ok((stream, false));
    };
    if !stream {
        return Err(OaiError::invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            Some("stream_options"),
            None,
        ));
    }
    if let Some(k) = options
        .keys()
        .find(|k| !["include_usage", "include_obfuscation"].contains(&k.as_str()))
    {
        let param = format!("stream_options.{k}");
        return Err(OaiError::invalid(
            format!("Unknown parameter: '{param}'."),
            Some(&param),
            Some("unknown_parameter"),
        ));
    }
    let include_usage = match get(options, "include_usage") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(v) => return Err(invalid_type("stream_options.include_usage", "a boolean", v)),
    };
    if let Some(v) = get(options, "include_obfuscation").filter(|v| !v.is_boolean()) {
        return Err(invalid_type(
            "stream_options.include_obfuscation",
            "a boolean",
            v,
        ));
    }
    Ok((stream, include_usage))
}

/// A required array that may not be empty.
pub(crate) fn non_empty_array<'a>(
    v: Option<&'a Value>,
    param: &str,
) -> Result<&'a Vec<Value>, OaiError> {
    let Some(v) = v else {
        return Err(super::errors::missing(param));
    };
    let Some(items) = v.as_array() else {
        return Err(invalid_type(param, "an array", v));
    };
    if items.is_empty() {
        return Err(empty_array(param));
    }
    Ok(items)
}
