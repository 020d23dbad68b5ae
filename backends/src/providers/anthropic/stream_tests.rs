//! Tests for `StreamTranslator`.

use serde_json::{Value, json};

use super::{StreamTranslator, TranslateError, Usage};

const CREATED: u64 = 1_700_000_000;

/// Feeds `(event, data)` pairs and returns every chunk, parsed.
fn feed(translator: &mut StreamTranslator, events: &[(&str, Value)]) -> Vec<Value> {
    let mut chunks = Vec::new();
    for (event, data) in events {
        for chunk in translator.event(event, &data.to_string()).unwrap() {
            chunks.push(serde_json::from_str(&chunk).unwrap());
        }
    }
    chunks
}

/// An expected chunk; `usage` adds `"usage": null` as with include_usage.
fn chunk(delta: Value, finish_reason: Value, usage: bool) -> Value {
    let mut chunk = json!({
        "id": "chatcmpl-msg_01",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": "gpt-4o",
        "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}],
    });
    if usage {
        chunk["usage"] = Value::Null;
    }
    chunk
}

fn message_start() -> (&'static str, Value) {
    (
        "message_start",
        json!({"type": "message_start", "message": {
            "id": "msg_01", "type": "message", "role": "assistant", "content": [],
            "model": "claude-sonnet-4-5", "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 25, "cache_read_input_tokens": 10,
                      "cache_creation_input_tokens": 0, "output_tokens": 1},
        }}),
    )
}

fn text_events() -> Vec<(&'static str, Value)> {
    vec![
        message_start(),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        ),
        ("ping", json!({"type": "ping"})),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": "Hello"}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": "!"}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": null},
            "usage": {"output_tokens": 15}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ]
}

#[test]
fn text_stream_without_usage() {
    let mut t = StreamTranslator::new("gpt-4o", CREATED, false);
    let chunks = feed(&mut t, &text_events());
    assert_eq!(
        chunks,
        vec![
            chunk(
                json!({"role": "assistant", "content": ""}),
                Value::Null,
                false
            ),
            chunk(json!({"content": "Hello"}), Value::Null, false),
            chunk(json!({"content": "!"}), Value::Null, false),
            chunk(json!({}), json!("stop"), false),
        ]
    );
    assert!(t.finished());
    assert_eq!(
        t.usage(),
        Usage {
            prompt_tokens: 35,
            completion_tokens: 15,
            cached_tokens: 10
        }
    );
}

#[test]
fn text_stream_with_usage() {
    let mut t = StreamTranslator::new("gpt-4o", CREATED, true);
    let chunks = feed(&mut t, &text_events());
    assert_eq!(
        chunks,
        vec![
            chunk(
                json!({"role": "assistant", "content": ""}),
                Value::Null,
                true
            ),
            chunk(json!({"content": "Hello"}), Value::Null, true),
            chunk(json!({"content": "!"}), Value::Null, true),
            chunk(json!({}), json!("stop"), true),
            json!({
                "id": "chatcmpl-msg_01",
                "object": "chat.completion.chunk",
                "created": CREATED,
                "model": "gpt-4o",
                "choices": [],
                "usage": {"prompt_tokens": 35, "completion_tokens": 15, "total_tokens": 50,
                          "prompt_tokens_details": {"cached_tokens": 10}},
            }),
        ]
    );
}

fn tool_events() -> Vec<(&'static str, Value)> {
    let delta = |index: u64, partial: &str| {
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": index,
            "delta": {"type": "input_json_delta", "partial_json": partial}}),
        )
    };
    vec![
        message_start(),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "The user wants"}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "signature_delta", "signature": "EqQB"}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 1,
            "content_block": {"type": "text", "text": ""}}),
        ),
        (
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 1,
            "delta": {"type": "text_delta", "text": "Checking."}}),
        ),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 1}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 2,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}}),
        ),
        delta(2, ""),
        delta(2, "{\"ci"),
        ("ping", json!({"type": "ping"})),
        delta(2, "ty\": \"Par"),
        delta(2, "is\"}"),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 2}),
        ),
        (
            "content_block_start",
            json!({"type": "content_block_start", "index": 3,
            "content_block": {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}}}),
        ),
        delta(3, "{}"),
        (
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 3}),
        ),
        (
            "message_delta",
            json!({"type": "message_delta",
            "delta": {"stop_reason": "tool_use", "stop_sequence": null},
            "usage": {"output_tokens": 40}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ]
}

#[test]
fn tool_call_stream() {
    let mut t = StreamTranslator::new("gpt-4o", CREATED, false);
    let chunks = feed(&mut t, &tool_events());
    let args = |index: usize, partial: &str| {
        chunk(
            json!({"tool_calls": [{"index": index, "function": {"arguments": partial}}]}),
            Value::Null,
            false,
        )
    };
    assert_eq!(
        chunks,
        vec![
            chunk(
                json!({"role": "assistant", "content": ""}),
                Value::Null,
                false
            ),
            chunk(json!({"content": "Checking."}), Value::Null, false),
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "toolu_1", "type": "function",
                "function": {"name": "weather", "arguments": ""}}]}),
                Value::Null,
                false
            ),
            args(0, "{\"ci"),
            args(0, "ty\": \"Par"),
            args(0, "is\"}"),
            chunk(
                json!({"tool_calls": [{"index": 1, "id": "toolu_2", "type": "function",
                "function": {"name": "now", "arguments": ""}}]}),
                Value::Null,
                false
            ),
            args(1, "{}"),
            chunk(json!({}), json!("tool_calls"), false),
        ]
    );
    assert!(t.finished());
    assert_eq!(t.usage().completion_tokens, 40);
}

#[test]
fn tool_call_stream_with_usage() {
    let mut t = StreamTranslator::new("gpt-4o", CREATED, true);
    let chunks = feed(&mut t, &tool_events());
    assert_eq!(chunks.len(), 10);
    assert!(
        chunks[..9]
            .iter()
            .all(|c| c["usage"].is_null() && c["choices"].as_array().map(Vec::len) == Some(1))
    );
    assert_eq!(
        chunks[8]["choices"][0]["finish_reason"],
        json!("tool_calls")
    );
    assert_eq!(chunks[9]["choices"], json!([]));
    assert_eq!(chunks[9]["usage"]["completion_tokens"], json!(40));
    assert_eq!(chunks[9]["usage"]["prompt_tokens"], json!(35));
}

#[test]
fn max_tokens_stop_and_cumulative_usage() {
    let mut t = StreamTranslator::new("gpt-4o", CREATED, false);
    let chunks = feed(
        &mut t,
        &[
            message_start(),
            (
                "message_delta",
                json!({"type": "message_delta",
            "delta": {"stop_reason": "max_tokens", "stop_sequence": null},
            "usage": {"input_tokens": 30, "output_tokens": 100}}),
            ),
        ],
    );
    assert_eq!(chunks[1]["choices"][0]["finish_reason"], json!("length"));
    assert!(!t.finished());
    // input_tokens updated by message_delta, cache read kept from message_start.
    assert_eq!(
        t.usage(),
        Usage {
            prompt_tokens: 40,
            completion_tokens: 100,
            cached_tokens: 10
        }
    );
}

#[test]
fn ping_and_unknown_events_ignored() {
    let mut t = StreamTranslator::new("gpt-4o", CREATED, false);
    assert!(t.event("ping", "{\"type\": \"ping\"}").unwrap().is_empty());
    assert!(t.event("future_event", "not even json").unwrap().is_empty());
    assert!(t.event("", "{\"type\": \"ping\"}").unwrap().is_empty());
    assert!(
        t.event(
            "content_block_delta",
            "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"new_delta\"}}"
        )
        .unwrap()
        .is_empty()
    );
    assert!(!t.finished());
}

#[test]
fn event_name_from_data_type() {
    let mut t = StreamTranslator::new("gpt-4o", CREATED, false);
    let (_, start) = message_start();
    let chunks = feed(&mut t, &[("", start)]);
    assert_eq!(
        chunks,
        vec![chunk(
            json!({"role": "assistant", "content": ""}),
            Value::Null,
            false
        )]
    );
}

#[test]
fn message_stop_without_stop_reason_still_finishes() {
    let mut t = StreamTranslator::new("gpt-4o", CREATED, false);
    let chunks = feed(
        &mut t,
        &[
            message_start(),
            ("message_stop", json!({"type": "message_stop"})),
        ],
    );
    assert_eq!(chunks[1], chunk(json!({}), json!("stop"), false));
    assert!(t.finished());
}

#[test]
fn error_event() {
    let mut t = StreamTranslator::new("gpt-4o", CREATED, false);
    feed(&mut t, &[message_start()]);
    let data = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    match t.event("error", data) {
        Err(TranslateError::Upstream { status, body }) => {
            assert_eq!(status, 503);
            assert_eq!(
                body,
                json!({"error": {"message": "Overloaded", "type": "server_error",
                                 "param": null, "code": "overloaded_error"}})
            );
        }
        other => panic!("expected Upstream, got {other:?}"),
    }
    assert!(!t.finished());
    match t.event("error", "garbage") {
        Err(TranslateError::Upstream { status: 500, .. }) => {}
        other => panic!("expected Upstream 500, got {other:?}"),
    }
}

#[test]
fn malformed_data() {
    let mut t = StreamTranslator::new("gpt-4o", CREATED, false);
    assert!(matches!(
        t.event("message_start", "{oops"),
        Err(TranslateError::Invalid(_))
    ));
    assert!(matches!(
        t.event(
            "content_block_delta",
            r#"{"delta":{"type":"text_delta","text":"x"}}"#
        ),
        Err(TranslateError::Invalid(_))
    ));
}
