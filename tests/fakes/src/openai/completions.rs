//! Legacy completions (`/v1/completions`): validation and `text_completion`
//! replies, whole or streamed.

use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};

use super::Flavor;
use super::check::{
    get, opt_bool, opt_int, opt_number, opt_str, request_object, stop, stream_flags,
};
use super::errors::{OaiError, empty_array, invalid_type, missing};
use crate::azure::{content_filter_results, prompt_filter_chunk, prompt_filter_results};
use crate::http::{
    Answer, data_event, done_event, event_stream, json as json_response, new_id, unix_now,
};
use crate::reply::{self, Finish};
use crate::state::Shared;

const PARAMS: &[&str] = &[
    "model",
    "prompt",
    "best_of",
    "echo",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "max_tokens",
    "n",
    "presence_penalty",
    "seed",
    "stop",
    "stream",
    "stream_options",
    "suffix",
    "temperature",
    "top_p",
    "user",
];

/// A valid completions request.
pub(crate) struct CompletionRequest {
    pub model: Option<String>,
    /// Each prompt's text (empty for token-id prompts), for `echo`.
    prompts: Vec<String>,
    prompt_chars: usize,
    stream: bool,
    include_usage: bool,
    n: u32,
    max_tokens: u64,
    stop: Vec<String>,
    echo: bool,
}

pub(crate) fn parse(body: &Value, model_required: bool) -> Result<CompletionRequest, OaiError> {
    let (obj, model) = request_object(body, PARAMS, model_required)?;
    let (prompts, prompt_chars) = prompts(get(obj, "prompt"))?;
    let (stream, include_usage) = stream_flags(obj)?;
    // The legacy endpoint's default max_tokens is 16.
    let max_tokens = opt_int(obj, "max_tokens", 0, None)?.unwrap_or(16);
    let n = opt_int(obj, "n", 1, Some(128))?.unwrap_or(1);
    opt_int(obj, "best_of", 1, Some(20))?;
    opt_int(obj, "logprobs", 0, Some(5))?;
    opt_number(obj, "temperature", 0.0, 2.0)?;
    opt_number(obj, "top_p", 0.0, 1.0)?;
    opt_str(obj, "suffix", "suffix")?;
    opt_str(obj, "user", "user")?;
    Ok(CompletionRequest {
        model: model.map(str::to_owned),
        prompts,
        prompt_chars,
        stream,
        include_usage,
        n: u32::try_from(n).unwrap_or(1),
        max_tokens: u64::try_from(max_tokens).unwrap_or(16),
        stop: stop(obj)?,
        echo: opt_bool(obj, "echo")?.unwrap_or(false),
    })
}

/// `prompt`: a string, strings, token ids or arrays of token ids; gives the
/// prompts' texts and their size in characters (a token id counts as 4).
fn prompts(v: Option<&Value>) -> Result<(Vec<String>, usize), OaiError> {
    let expected = "a string, array of strings, array of integers, or array of arrays of integers";
    let items = match v {
        None => return Err(missing("prompt")),
        Some(Value::String(s)) => return Ok((vec![s.clone()], s.chars().count())),
        Some(Value::Array(items)) if items.is_empty() => return Err(empty_array("prompt")),
        Some(Value::Array(items)) => items,
        Some(v) => return Err(invalid_type("prompt", expected, v)),
    };
    if items.iter().all(Value::is_string) {
        let texts: Vec<String> = items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        let chars = texts.iter().map(|t| t.chars().count()).sum();
        return Ok((texts, chars));
    }
    if items.iter().all(Value::is_u64) {
        return Ok((vec![String::new()], items.len() * 4));
    }
    let token_lists = items
        .iter()
        .map(|i| {
            i.as_array()
                .filter(|a| a.iter().all(Value::is_u64))
                .map(Vec::len)
        })
        .collect::<Option<Vec<usize>>>();
    match token_lists {
        Some(lens) => Ok((
            vec![String::new(); lens.len()],
            lens.iter().sum::<usize>() * 4,
        )),
        None => Err(invalid_type(
            "prompt",
            expected,
            items.first().unwrap_or(&Value::Null),
        )),
    }
}

pub(crate) async fn respond(
    shared: &Shared,
    req: CompletionRequest,
    flavor: &Flavor,
    headers: &[(&str, String)],
) -> Answer {
    let plan = reply::text(
        shared.config.default_max_words,
        Some(req.max_tokens),
        &req.stop,
    );
    let finish = if plan.finish == Finish::Length {
        "length"
    } else {
        "stop"
    };
    let choices_count = req.prompts.len() as u64 * u64::from(req.n);
    let prompt = reply::prompt_tokens(req.prompt_chars);
    let completion = plan.tokens() * choices_count;
    let usage = json!({"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion});
    let azure = flavor.is_azure();
    let (id, created, model) = (
        new_id("cmpl-", 29),
        unix_now(),
        flavor.model(req.model.as_deref()),
    );
    let choice = |index: u64, text: &str, finish: Option<&str>| {
        let mut c =
            json!({"text": text, "index": index, "logprobs": null, "finish_reason": finish});
        if azure {
            c["content_filter_results"] = content_filter_results();
        }
        c
    };
    let indexed: Vec<(u64, &String)> = req
        .prompts
        .iter()
        .flat_map(|p| std::iter::repeat_n(p, req.n as usize))
        .enumerate()
        .map(|(i, p)| (i as u64, p))
        .collect();
    let timing = shared.timing();
    if !req.stream {
        tokio::time::sleep(timing.total(plan.tokens())).await;
        let text = plan.text();
        let choices: Vec<Value> = indexed
            .iter()
            .map(|(i, p)| {
                let full = if req.echo {
                    format!("{p}{text}")
                } else {
                    text.clone()
                };
                choice(*i, &full, Some(finish))
            })
            .collect();
        let mut body = json!({
            "id": id, "object": "text_completion", "created": created, "model": model,
            "system_fingerprint": "fp_fake", "choices": choices, "usage": usage,
        });
        if azure {
            body["prompt_filter_results"] = prompt_filter_results();
        }
        return Answer::ok(json_response(StatusCode::OK, headers, &body));
    }
    let chunk = |choices: Vec<Value>| {
        let mut c = json!({
            "id": id, "object": "text_completion", "created": created, "model": model,
            "system_fingerprint": "fp_fake", "choices": choices,
        });
        if req.include_usage {
            c["usage"] = Value::Null;
        }
        c
    };
    let mut steps: Vec<(Duration, Option<usize>)> = Vec::new();
    for k in 0..plan.chunks.len() {
        steps.push((if k == 0 { timing.ttft } else { timing.interval }, Some(k)));
    }
    steps.push((
        if steps.is_empty() {
            timing.ttft
        } else {
            Duration::ZERO
        },
        None,
    ));
    let mut events = Vec::new();
    if azure {
        events.push(data_event(Duration::ZERO, &prompt_filter_chunk()));
    }
    if req.echo {
        for (i, p) in &indexed {
            events.push(data_event(
                Duration::ZERO,
                &chunk(vec![choice(*i, p, None)]),
            ));
        }
    }
    for (wait, k) in steps {
        for (n, (i, _)) in indexed.iter().enumerate() {
            let delay = if n == 0 { wait } else { Duration::ZERO };
            let c = match k.and_then(|k| plan.chunks.get(k)) {
                Some(text) => choice(*i, text, None),
                None => choice(*i, "", Some(finish)),
            };
            events.push(data_event(delay, &chunk(vec![c])));
        }
    }
    if req.include_usage {
        let mut last = chunk(Vec::new());
        last["usage"] = usage;
        events.push(data_event(Duration::ZERO, &last));
    }
    events.push(done_event());
    Answer::ok(event_stream(headers, events))
}
