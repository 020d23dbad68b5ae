//! Chat completion replies: a `chat.completion` object, or a stream of
//! `chat.completion.chunk` events ending in `data: [DONE]`.

use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};

use super::Flavor;
use super::chat_request::ChatRequest;
use crate::azure::{content_filter_results, prompt_filter_chunk, prompt_filter_results};
use crate::http::{
    Answer, Timed, data_event, done_event, event_stream, json as json_response, new_id, unix_now,
};
use crate::reply::{self, Finish, TextPlan};
use crate::state::Shared;

/// What one choice says.
enum Output {
    Text(TextPlan),
    Tool {
        id: String,
        name: String,
        arguments: String,
        forced: bool,
    },
}

impl Output {
    fn tokens(&self) -> u64 {
        match self {
            Output::Text(t) => t.tokens(),
            Output::Tool { arguments, .. } => reply::argument_tokens(arguments),
        }
    }

    fn finish_reason(&self) -> &'static str {
        match self {
            Output::Text(TextPlan {
                finish: Finish::Length,
                ..
            }) => "length",
            Output::Text(_) => "stop",
            // OpenAI reports "stop" when tool_choice forced a named function.
            Output::Tool { forced: true, .. } => "stop",
            Output::Tool { .. } => "tool_calls",
        }
    }
}

/// The usage object of chat responses.
pub(crate) fn usage(prompt: u64, completion: u64) -> Value {
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0
        }
    })
}

pub(crate) async fn respond(
    shared: &Shared,
    req: ChatRequest,
    flavor: &Flavor,
    headers: &[(&str, String)],
) -> Answer {
    let output = match &req.tool {
        Some(tool) => Output::Tool {
            id: new_id("call_", 24),
            name: tool.name.clone(),
            arguments: reply::tool_arguments(tool.parameters.as_ref()).to_string(),
            forced: tool.forced,
        },
        None => Output::Text(reply::text(
            shared.config.default_max_words,
            req.max_tokens,
            &req.stop,
        )),
    };
    let prompt = reply::prompt_tokens(req.prompt_chars);
    let usage = usage(prompt, output.tokens() * u64::from(req.n));
    let ids = Ids {
        id: new_id("chatcmpl-", 29),
        created: unix_now(),
        model: flavor.model(req.model.as_deref()),
        azure: flavor.is_azure(),
    };
    let timing = shared.timing();
    if req.stream {
        let events = stream_events(&ids, &output, &req, usage, timing.ttft, timing.interval);
        return Answer::ok(event_stream(headers, events));
    }
    tokio::time::sleep(timing.total(output.tokens())).await;
    let choices: Vec<Value> = (0..req.n)
        .map(|i| {
            let mut c = json!({
                "index": i,
                "message": message(&output),
                "logprobs": null,
                "finish_reason": output.finish_reason(),
            });
            if ids.azure {
                c["content_filter_results"] = content_filter_results();
            }
            c
        })
        .collect();
    let mut body = json!({
        "id": ids.id,
        "object": "chat.completion",
        "created": ids.created,
        "model": ids.model,
        "choices": choices,
        "usage": usage,
        "service_tier": "default",
        "system_fingerprint": "fp_fake",
    });
    if ids.azure {
        body["prompt_filter_results"] = prompt_filter_results();
    }
    Answer::ok(json_response(StatusCode::OK, headers, &body))
}

struct Ids {
    id: String,
    created: u64,
    model: String,
    azure: bool,
}

fn message(output: &Output) -> Value {
    match output {
        Output::Text(t) => json!({
            "role": "assistant", "content": t.text(), "refusal": null, "annotations": []
        }),
        Output::Tool {
            id,
            name,
            arguments,
            ..
        } => json!({
            "role": "assistant",
            "content": null,
            "tool_calls": [{"id": id, "type": "function", "function": {"name": name, "arguments": arguments}}],
            "refusal": null,
            "annotations": []
        }),
    }
}

/// The deltas of one choice, each with the wait before it.
fn deltas(output: &Output, ttft: Duration, interval: Duration) -> Vec<(Duration, Value)> {
    let mut out = Vec::new();
    match output {
        Output::Text(t) => {
            out.push((
                ttft,
                json!({"role": "assistant", "content": "", "refusal": null}),
            ));
            for (k, chunk) in t.chunks.iter().enumerate() {
                let wait = if k == 0 { Duration::ZERO } else { interval };
                out.push((wait, json!({"content": chunk})));
            }
        }
        Output::Tool {
            id,
            name,
            arguments,
            ..
        } => {
            out.push((
                ttft,
                json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": [{
                    "index": 0, "id": id, "type": "function",
                    "function": {"name": name, "arguments": ""}
                }]}),
            ));
            for piece in reply::pieces(arguments) {
                out.push((
                    interval,
                    json!({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}),
                ));
            }
        }
    }
    out
}

fn stream_events(
    ids: &Ids,
    output: &Output,
    req: &ChatRequest,
    usage: Value,
    ttft: Duration,
    interval: Duration,
) -> Vec<Timed> {
    let chunk = |choices: Vec<Value>| {
        let mut c = json!({
            "id": ids.id,
            "object": "chat.completion.chunk",
            "created": ids.created,
            "model": ids.model,
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
            "choices": choices,
        });
        if req.include_usage {
            c["usage"] = Value::Null;
        }
        c
    };
    let choice = |index: u32, delta: &Value, finish: Option<&str>| {
        let mut c =
            json!({"index": index, "delta": delta, "logprobs": null, "finish_reason": finish});
        if ids.azure {
            c["content_filter_results"] = content_filter_results();
        }
        c
    };
    let mut events = Vec::new();
    if ids.azure {
        events.push(data_event(Duration::ZERO, &prompt_filter_chunk()));
    }
    let mut steps: Vec<(Duration, Value, Option<&str>)> = deltas(output, ttft, interval)
        .into_iter()
        .map(|(wait, delta)| (wait, delta, None))
        .collect();
    steps.push((Duration::ZERO, json!({}), Some(output.finish_reason())));
    for (wait, delta, finish) in steps {
        for i in 0..req.n {
            let delay = if i == 0 { wait } else { Duration::ZERO };
            events.push(data_event(delay, &chunk(vec![choice(i, &delta, finish)])));
        }
    }
    if req.include_usage {
        let mut last = chunk(Vec::new());
        last["usage"] = usage;
        events.push(data_event(Duration::ZERO, &last));
    }
    events.push(done_event());
    events
}
