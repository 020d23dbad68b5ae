//! Tests for `chat_completion`.

use serde_json::{Value, json};

use super::{TranslateError, Usage, chat_completion};

fn message(content: Value, stop_reason: &str) -> Value {
    json!({
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-5-20250929",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": null,
        "usage": {
            "input_tokens": 10,
            "cache_creation_input_tokens": 5,
            "cache_read_input_tokens": 100,
            "output_tokens": 20,
        },
    })
}

fn completion(msg: Value, finish_reason: &str) -> Value {
    json!({
        "id": "chatcmpl-msg_01",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4o",
        "choices": [{
            "index": 0,
            "message": msg,
            "logprobs": null,
            "finish_reason": finish_reason,
        }],
        "usage": {
            "prompt_tokens": 115,
            "completion_tokens": 20,
            "total_tokens": 135,
            "prompt_tokens_details": {"cached_tokens": 100},
        },
    })
}

fn translate(msg: &Value) -> Value {
    chat_completion(msg, "gpt-4o", 1_700_000_000).unwrap().0
}

#[test]
fn text_only() {
    let msg = message(
        json!([
            {"type": "thinking", "thinking": "hmm", "signature": "sig"},
            {"type": "text", "text": "Hello, "},
            {"type": "text", "text": "world."},
        ]),
        "end_turn",
    );
    let (out, usage) = chat_completion(&msg, "gpt-4o", 1_700_000_000).unwrap();
    assert_eq!(
        out,
        completion(
            json!({"role": "assistant", "content": "Hello, world.", "refusal": null}),
            "stop"
        )
    );
    assert_eq!(
        usage,
        Usage {
            prompt_tokens: 115,
            completion_tokens: 20,
            cached_tokens: 100
        }
    );
}

#[test]
fn tool_use_only() {
    let msg = message(
        json!([
            {"type": "redacted_thinking", "data": "xyz"},
            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Paris"}},
        ]),
        "tool_use",
    );
    assert_eq!(
        translate(&msg),
        completion(
            json!({
                "role": "assistant",
                "content": null,
                "refusal": null,
                "tool_calls": [{
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"},
                }],
            }),
            "tool_calls"
        )
    );
}

#[test]
fn text_and_tool_use() {
    let msg = message(
        json!([
            {"type": "text", "text": "Let me check."},
            {"type": "tool_use", "id": "toolu_1", "name": "now", "input": {}},
            {"type": "tool_use", "id": "toolu_2", "name": "weather", "input": {"city": "Rome"}},
        ]),
        "tool_use",
    );
    assert_eq!(
        translate(&msg),
        completion(
            json!({
                "role": "assistant",
                "content": "Let me check.",
                "refusal": null,
                "tool_calls": [
                    {"id": "toolu_1", "type": "function",
                     "function": {"name": "now", "arguments": "{}"}},
                    {"id": "toolu_2", "type": "function",
                     "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}},
                ],
            }),
            "tool_calls"
        )
    );
}

#[test]
fn stop_reasons() {
    let cases = [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
    ];
    for (stop, finish) in cases {
        let msg = message(json!([{"type": "text", "text": "cut"}]), stop);
        assert_eq!(
            translate(&msg)["choices"][0]["finish_reason"],
            json!(finish),
            "{stop}"
        );
    }
}

#[test]
fn max_tokens_stop() {
    let msg = message(
        json!([{"type": "text", "text": "The answer is"}]),
        "max_tokens",
    );
    assert_eq!(
        translate(&msg),
        completion(
            json!({"role": "assistant", "content": "The answer is", "refusal": null}),
            "length"
        )
    );
}

#[test]
fn empty_content_and_plain_usage() {
    let msg = json!({
        "id": "msg_02",
        "content": [],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 0},
    });
    let (out, usage) = chat_completion(&msg, "m", 1).unwrap();
    assert_eq!(out["choices"][0]["message"]["content"], json!(""));
    assert_eq!(
        out["usage"],
        json!({"prompt_tokens": 3, "completion_tokens": 0, "total_tokens": 3,
               "prompt_tokens_details": {"cached_tokens": 0}})
    );
    assert_eq!(
        usage,
        Usage {
            prompt_tokens: 3,
            completion_tokens: 0,
            cached_tokens: 0
        }
    );
}

#[test]
fn malformed_messages() {
    for bad in [
        json!({"content": []}),
        json!({"id": "msg", "content": "text"}),
        json!({"id": "msg", "content": [{"text": "no type"}]}),
        json!({"id": "msg", "content": [{"type": "tool_use", "name": "f"}]}),
    ] {
        assert!(
            matches!(
                chat_completion(&bad, "m", 1),
                Err(TranslateError::Invalid(_))
            ),
            "{bad}"
        );
    }
}
