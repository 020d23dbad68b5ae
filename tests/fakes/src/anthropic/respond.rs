//! Messages API replies: a `message` object, or the SSE stream
//! `message_start`, then per content block `content_block_start` (a `ping`
//! after the first), deltas and `content_block_stop`, then `message_delta`
//! and `message_stop`.

use std::time::Duration;

use http::StatusCode;
use serde_json::{Value, json};

use super::validate::MessagesRequest;
use crate::http::{Answer, Timed, event_stream, json as json_response, named_event, new_id};
use crate::reply::{self, Finish};
use crate::state::{Shared, Timing};

/// Text of the thinking block when extended thinking is enabled.
const THINKING: &str = "The fake provider thinks briefly.";
/// Text before a tool call.
const TOOL_PREFACE: &[&str] = &["Calling", " the", " tool."];

/// One content block of the reply.
enum Block {
    Thinking,
    Text(Vec<String>),
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
}

impl Block {
    fn tokens(&self) -> u64 {
        match self {
            Block::Thinking => reply::argument_tokens(THINKING),
            Block::Text(chunks) => chunks.len() as u64,
            Block::ToolUse { input, .. } => reply::argument_tokens(&input.to_string()),
        }
    }

    /// The block as it appears in a whole message.
    fn whole(&self) -> Value {
        match self {
            Block::Thinking => {
                json!({"type": "thinking", "thinking": THINKING, "signature": "fake-signature"})
            }
            Block::Text(chunks) => json!({"type": "text", "text": chunks.concat()}),
            Block::ToolUse { id, name, input } => {
                json!({"type": "tool_use", "id": id, "name": name, "input": input})
            }
        }
    }

    /// The block as `content_block_start` announces it.
    fn start(&self) -> Value {
        match self {
            Block::Thinking => json!({"type": "thinking", "thinking": ""}),
            Block::Text(_) => json!({"type": "text", "text": ""}),
            Block::ToolUse { id, name, .. } => {
                json!({"type": "tool_use", "id": id, "name": name, "input": {}})
            }
        }
    }

    /// The block's deltas.
    fn deltas(&self) -> Vec<Value> {
        match self {
            Block::Thinking => vec![
                json!({"type": "thinking_delta", "thinking": THINKING}),
                json!({"type": "signature_delta", "signature": "fake-signature"}),
            ],
            Block::Text(chunks) => chunks
                .iter()
                .map(|c| json!({"type": "text_delta", "text": c}))
                .collect(),
            Block::ToolUse { input, .. } => std::iter::once(String::new())
                .chain(reply::pieces(&input.to_string()))
                .map(|p| json!({"type": "input_json_delta", "partial_json": p}))
                .collect(),
        }
    }
}

/// The reply's blocks, stop reason and stop sequence.
fn plan(shared: &Shared, req: &MessagesRequest) -> (Vec<Block>, &'static str, Option<String>) {
    let mut blocks = Vec::new();
    if req.thinking {
        blocks.push(Block::Thinking);
    }
    if let Some(tool) = &req.tool {
        blocks.push(Block::Text(
            TOOL_PREFACE.iter().map(|s| (*s).to_owned()).collect(),
        ));
        blocks.push(Block::ToolUse {
            id: new_id("toolu_01", 22),
            name: tool.name.clone(),
            input: reply::tool_arguments(tool.schema.as_ref()),
        });
        return (blocks, "tool_use", None);
    }
    let text = reply::text(
        shared.config.default_max_words,
        Some(req.max_tokens),
        &req.stop_sequences,
    );
    if !text.chunks.is_empty() {
        blocks.push(Block::Text(text.chunks));
    }
    match text.finish {
        Finish::Natural => (blocks, "end_turn", None),
        Finish::Length => (blocks, "max_tokens", None),
        Finish::Stop(s) => (blocks, "stop_sequence", Some(s)),
    }
}

pub(crate) async fn respond(shared: &Shared, req: MessagesRequest, request_id: &str) -> Answer {
    let (blocks, stop_reason, stop_sequence) = plan(shared, &req);
    let input_tokens = reply::prompt_tokens(req.prompt_chars);
    let output_tokens: u64 = blocks.iter().map(Block::tokens).sum();
    let headers = [("request-id", request_id.to_owned())];
    let id = new_id("msg_01", 22);
    let usage = |output: u64| {
        json!({
            "input_tokens": input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output,
        })
    };
    let message =
        |content: Vec<Value>, reason: Option<&str>, sequence: Option<&str>, output: u64| {
            json!({
                "id": id, "type": "message", "role": "assistant", "model": req.model,
                "content": content, "stop_reason": reason, "stop_sequence": sequence,
                "usage": usage(output),
            })
        };
    let timing = shared.timing();
    if !req.stream {
        tokio::time::sleep(timing.total(output_tokens)).await;
        let content = blocks.iter().map(Block::whole).collect();
        let body = message(
            content,
            Some(stop_reason),
            stop_sequence.as_deref(),
            output_tokens,
        );
        return Answer::ok(json_response(StatusCode::OK, &headers, &body));
    }
    let start = json!({"type": "message_start", "message": message(Vec::new(), None, None, 1)});
    let mut events = vec![named_event(Duration::ZERO, "message_start", &start)];
    block_events(&blocks, timing, &mut events);
    let delta = json!({
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
        "usage": {"output_tokens": output_tokens},
    });
    events.push(named_event(Duration::ZERO, "message_delta", &delta));
    events.push(named_event(
        Duration::ZERO,
        "message_stop",
        &json!({"type": "message_stop"}),
    ));
    Answer::ok(event_stream(&headers, events))
}

/// The start, deltas and stop of every block (a `ping` after the first
/// start); the first delta waits the time to first token, later ones the
/// time between tokens.
fn block_events(blocks: &[Block], timing: Timing, events: &mut Vec<Timed>) {
    let ping = json!({"type": "ping"});
    let mut first_delta = true;
    if blocks.is_empty() {
        events.push(named_event(timing.ttft, "ping", &ping));
    }
    for (index, block) in blocks.iter().enumerate() {
        let start =
            json!({"type": "content_block_start", "index": index, "content_block": block.start()});
        events.push(named_event(Duration::ZERO, "content_block_start", &start));
        if index == 0 {
            events.push(named_event(Duration::ZERO, "ping", &ping));
        }
        for delta in block.deltas() {
            let wait = if first_delta {
                timing.ttft
            } else {
                timing.interval
            };
            first_delta = false;
            let event = json!({"type": "content_block_delta", "index": index, "delta": delta});
            events.push(named_event(wait, "content_block_delta", &event));
        }
        let stop = json!({"type": "content_block_stop", "index": index});
        events.push(named_event(Duration::ZERO, "content_block_stop", &stop));
    }
}
