//! Tests for `messages_request`.

use serde_json::{Value, json};

use super::{TranslateError, messages_request};

const MODEL: &str = "claude-sonnet-4-5";

fn translate(chat: Value) -> Value {
    messages_request(&chat, MODEL, 4096).unwrap()
}

fn unsupported(chat: Value) -> String {
    match messages_request(&chat, MODEL, 4096) {
        Err(TranslateError::Unsupported(why)) => why,
        other => panic!("expected Unsupported, got {other:?}"),
    }
}

fn invalid(chat: Value) -> String {
    match messages_request(&chat, MODEL, 4096) {
        Err(TranslateError::Invalid(why)) => why,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn user(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

#[test]
fn system_and_multi_turn() {
    let out = translate(json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": "How are you?"},
        ],
        "max_tokens": 100,
        "temperature": 0.5,
    }));
    assert_eq!(
        out,
        json!({
            "model": MODEL,
            "max_tokens": 100,
            "system": "Be brief.\n\nAnswer in French.",
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                {"role": "assistant", "content": [{"type": "text", "text": "Hello!"}]},
                {"role": "user", "content": [{"type": "text", "text": "How are you?"}]},
            ],
            "temperature": 0.5,
        })
    );
}

#[test]
fn defaults_and_no_system() {
    let out = translate(json!({"messages": user("Hi")}));
    assert_eq!(
        out,
        json!({
            "model": MODEL,
            "max_tokens": 4096,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        })
    );
}

#[test]
fn max_completion_tokens_wins_over_max_tokens() {
    let out = translate(json!({
        "messages": user("Hi"),
        "max_completion_tokens": 7,
        "max_tokens": 9,
    }));
    assert_eq!(out["max_tokens"], json!(7));
    assert!(invalid(json!({"messages": user("Hi"), "max_tokens": 0})).contains("max_tokens"));
    invalid(json!({"messages": user("Hi"), "max_tokens": "many"}));
}

#[test]
fn consecutive_same_role_messages_merge() {
    let out = translate(json!({"messages": [
        {"role": "user", "content": "one"},
        {"role": "user", "content": [{"type": "text", "text": "two"}]},
    ]}));
    assert_eq!(
        out["messages"],
        json!([{"role": "user", "content": [
            {"type": "text", "text": "one"},
            {"type": "text", "text": "two"},
        ]}])
    );
}

#[test]
fn tool_call_round_trip() {
    let out = translate(json!({"messages": [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"role": "assistant", "content": null, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "call_2", "type": "function",
             "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}},
        ]},
        {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "call_2",
         "content": [{"type": "text", "text": "21C"}]},
        {"role": "user", "content": "Thanks. Which is warmer?"},
    ]}));
    assert_eq!(
        out["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Rome?"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "call_1", "name": "weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_2", "name": "weather", "input": {"city": "Rome"}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "call_2",
                 "content": [{"type": "text", "text": "21C"}]},
                {"type": "text", "text": "Thanks. Which is warmer?"},
            ]},
        ])
    );
}

#[test]
fn assistant_text_with_tool_calls_and_empty_arguments() {
    let out = translate(json!({"messages": [
        {"role": "user", "content": "Time?"},
        {"role": "assistant", "content": "Checking.", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "now", "arguments": ""}},
        ]},
        {"role": "tool", "tool_call_id": "c", "content": ""},
    ]}));
    assert_eq!(
        out["messages"][1],
        json!({"role": "assistant", "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "c", "name": "now", "input": {}},
        ]})
    );
    assert_eq!(
        out["messages"][2],
        json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c"}]})
    );
}

#[test]
fn invalid_tool_arguments() {
    let why = invalid(json!({"messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}},
        ]},
        {"role": "tool", "tool_call_id": "c", "content": "r"},
    ]}));
    assert!(why.contains("not JSON"), "{why}");
    invalid(json!({"messages": [
        {"role": "user", "content": "x"},
        {"role": "assistant", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1]"}},
        ]},
        {"role": "tool", "tool_call_id": "c", "content": "r"},
    ]}));
    invalid(json!({"messages": [{"role": "tool", "content": "no id"}]}));
}

#[test]
fn images() {
    let out = translate(json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"}},
    ]}]}));
    assert_eq!(
        out["messages"][0]["content"],
        json!([
            {"type": "text", "text": "Compare"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        ])
    );
}

#[test]
fn bad_images() {
    let image = |url: &str| {
        json!({"messages": [{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": url}},
        ]}]})
    };
    unsupported(image("data:image/tiff;base64,AAAA"));
    invalid(image("data:image/png,rawbytes"));
    invalid(image("ftp://example.com/cat.png"));
    unsupported(json!({"messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
    ]}]}));
}

#[test]
fn stop_as_string_and_array() {
    let out = translate(json!({"messages": user("Hi"), "stop": "END"}));
    assert_eq!(out["stop_sequences"], json!(["END"]));
    let out = translate(json!({"messages": user("Hi"), "stop": ["a", "", "b"]}));
    assert_eq!(out["stop_sequences"], json!(["a", "b"]));
    let out = translate(json!({"messages": user("Hi"), "stop": null}));
    assert!(out.get("stop_sequences").is_none());
    invalid(json!({"messages": user("Hi"), "stop": 3}));
}

#[test]
fn temperature_clamp_and_top_p() {
    let out = translate(json!({"messages": user("Hi"), "temperature": 1.7, "top_p": 0.9}));
    assert_eq!(out["temperature"], json!(1.0));
    assert_eq!(out["top_p"], json!(0.9));
    let out = translate(json!({"messages": user("Hi"), "temperature": -0.5, "top_p": 1}));
    assert_eq!(out["temperature"], json!(0.0));
    assert!(out.get("top_p").is_none());
    invalid(json!({"messages": user("Hi"), "temperature": "hot"}));
}

#[test]
fn stream_user_and_ignored_fields() {
    let out = translate(json!({
        "messages": user("Hi"),
        "stream": true,
        "stream_options": {"include_usage": true},
        "user": "user-42",
        "seed": 1,
        "frequency_penalty": 0.5,
        "presence_penalty": 0.5,
        "logit_bias": {},
        "n": 1,
        "logprobs": false,
        "response_format": {"type": "text"},
    }));
    assert_eq!(
        out,
        json!({
            "model": MODEL,
            "max_tokens": 4096,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
            "stream": true,
            "metadata": {"user_id": "user-42"},
        })
    );
}

fn with_tools(extra: Value) -> Value {
    let mut chat = json!({
        "messages": user("Weather?"),
        "tools": [
            {"type": "function", "function": {
                "name": "weather",
                "description": "Current weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            }},
            {"type": "function", "function": {"name": "now"}},
        ],
    });
    if let (Some(chat), Value::Object(extra)) = (chat.as_object_mut(), extra) {
        chat.extend(extra);
    }
    translate(chat)
}

#[test]
fn tools() {
    let out = with_tools(json!({}));
    assert_eq!(
        out["tools"],
        json!([
            {"name": "weather", "description": "Current weather",
             "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}},
            {"name": "now", "input_schema": {"type": "object", "properties": {}}},
        ])
    );
    assert!(out.get("tool_choice").is_none());
}

#[test]
fn tool_choice_variants() {
    let choice = |c: Value| with_tools(json!({"tool_choice": c}))["tool_choice"].clone();
    assert_eq!(choice(json!("auto")), json!({"type": "auto"}));
    assert_eq!(choice(json!("required")), json!({"type": "any"}));
    assert_eq!(choice(json!("none")), json!({"type": "none"}));
    assert_eq!(
        choice(json!({"type": "function", "function": {"name": "weather"}})),
        json!({"type": "tool", "name": "weather"})
    );
}

#[test]
fn parallel_tool_calls_false() {
    let out = with_tools(json!({"parallel_tool_calls": false}));
    assert_eq!(
        out["tool_choice"],
        json!({"type": "auto", "disable_parallel_tool_use": true})
    );
    let out = with_tools(json!({"parallel_tool_calls": false, "tool_choice": "required"}));
    assert_eq!(
        out["tool_choice"],
        json!({"type": "any", "disable_parallel_tool_use": true})
    );
    let out = with_tools(json!({"parallel_tool_calls": false, "tool_choice": "none"}));
    assert_eq!(out["tool_choice"], json!({"type": "none"}));
    let out = with_tools(json!({"parallel_tool_calls": true}));
    assert!(out.get("tool_choice").is_none());
}

#[test]
fn unsupported_fields() {
    let cases = [
        ("n", json!(2)),
        ("logprobs", json!(true)),
        ("top_logprobs", json!(3)),
        ("audio", json!({"voice": "alloy", "format": "wav"})),
        ("modalities", json!(["text", "audio"])),
        ("response_format", json!({"type": "json_object"})),
        (
            "response_format",
            json!({"type": "json_schema", "json_schema": {"name": "x"}}),
        ),
        ("logit_bias", json!({"50256": -100})),
        ("functions", json!([{"name": "f"}])),
    ];
    for (field, value) in cases {
        let mut chat = json!({"messages": user("Hi")});
        chat[field] = value;
        unsupported(chat);
    }
    let mut chat = json!({"messages": user("Hi"), "tools": [{"type": "custom", "custom": {}}]});
    unsupported(chat.clone());
    chat["tools"] = json!([]);
    translate(chat);
}

#[test]
fn unsupported_conversations() {
    assert!(
        unsupported(json!({"messages": [{"role": "system", "content": "Only me"}]}))
            .contains("no user")
    );
    unsupported(json!({"messages": []}));
    unsupported(json!({"messages": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Partial"},
    ]}));
}

#[test]
fn invalid_requests() {
    invalid(json!([]));
    invalid(json!({}));
    invalid(json!({"messages": "Hi"}));
    invalid(json!({"messages": [{"content": "no role"}]}));
    invalid(json!({"messages": [{"role": "wizard", "content": "x"}]}));
    invalid(json!({"messages": [{"role": "user", "content": 5}]}));
    invalid(json!({"messages": [{"role": "system", "content": [
        {"type": "image_url", "image_url": {"url": "https://x/y.png"}},
    ]}, {"role": "user", "content": "x"}]}));
}
