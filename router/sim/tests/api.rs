//! Wire format of every endpoint, against a real server on a real socket.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use serde_json::{Value, json};
use switchyard_sim::SimConfig;

#[tokio::test]
async fn chat_completion_shape_usage_and_prefix_hits() {
    let sim = start(SimConfig::zero_delay()).await;
    let long = "You are a helpful assistant. ".repeat(20);
    let body = json!({
        "model": "sim-model",
        "messages": [{"role": "system", "content": long}, {"role": "user", "content": "hi"}],
        "max_tokens": 12, "ignore_eos": true,
    });
    let resp = post(&sim, "/v1/chat/completions", body.clone()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/json");
    let v: Value = resp.json().await.unwrap();
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(v["object"], "chat.completion");
    assert_eq!(v["model"], "sim-model");
    assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
    let choice = &v["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["logprobs"], Value::Null);
    assert_eq!(choice["finish_reason"], "length");
    assert_eq!(choice["message"]["content"].as_str().unwrap().len(), 12 * 4);
    let usage = &v["usage"];
    let prompt_tokens = usage["prompt_tokens"].as_u64().unwrap();
    assert!(prompt_tokens > 140);
    assert_eq!(usage["completion_tokens"], 12);
    assert_eq!(usage["total_tokens"], prompt_tokens + 12);
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 0);

    // The same conversation again: every full block but the last token's hits.
    let v: Value = post(&sim, "/v1/chat/completions", body)
        .await
        .json()
        .await
        .unwrap();
    let cached = v["usage"]["prompt_tokens_details"]["cached_tokens"]
        .as_u64()
        .unwrap();
    assert_eq!(cached, (prompt_tokens - 1) / 16 * 16);
    // Same output for the same request (deterministic).
    let s = sim.stats();
    assert_eq!(s.requests_completed, 2);
    assert_eq!(s.cached_tokens, cached);
    assert_eq!(s.prompt_tokens, 2 * prompt_tokens);
    assert_eq!(s.generation_tokens, 24);
    assert_eq!((s.running, s.waiting, s.kv_blocks_used), (0, 0, 0));
    sim.shutdown().await;
}

#[tokio::test]
async fn chat_stream_events_in_vllm_order() {
    let sim = start(SimConfig::zero_delay()).await;
    let mut body = chat("stream me", 5);
    body["stream"] = json!(true);
    body["ignore_eos"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    let resp = post(&sim, "/v1/chat/completions", body).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"],
        "text/event-stream; charset=utf-8"
    );
    let events = sse_events(resp).await;
    // role chunk, 5 tokens, usage, [DONE]
    assert_eq!(events.len(), 8, "{events:?}");
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<Value> = events[..7]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    let id = chunks[0]["id"].as_str().unwrap();
    assert!(id.starts_with("chatcmpl-"));
    assert!(
        chunks
            .iter()
            .all(|c| c["id"] == id && c["object"] == "chat.completion.chunk")
    );
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    for c in &chunks[1..5] {
        assert_eq!(c["choices"][0]["finish_reason"], Value::Null);
        assert_eq!(
            c["choices"][0]["delta"]["content"].as_str().unwrap().len(),
            4
        );
    }
    assert_eq!(chunks[5]["choices"][0]["finish_reason"], "length");
    assert_eq!(chunks[6]["choices"], json!([]));
    assert_eq!(chunks[6]["usage"]["completion_tokens"], 5);
    assert!(chunks[6]["usage"]["prompt_tokens_details"]["cached_tokens"].is_u64());
    let s = wait_for(&sim, "completion", |s| s.requests_completed == 1).await;
    assert_eq!(s.requests_cancelled, 0);
}

#[tokio::test]
async fn stream_without_usage_and_stop_before_max_tokens() {
    let sim = start(SimConfig::zero_delay()).await;
    // Without ignore_eos the length is drawn in 1..=max_tokens; find a "stop".
    for i in 0..50 {
        let mut body = chat(&format!("prompt number {i}"), 40);
        body["stream"] = json!(true);
        let events = sse_events(post(&sim, "/v1/chat/completions", body).await).await;
        assert_eq!(events.last().unwrap(), "[DONE]");
        let last: Value = serde_json::from_str(&events[events.len() - 2]).unwrap();
        assert!(last.get("usage").is_none());
        let reason = last["choices"][0]["finish_reason"].as_str().unwrap();
        let tokens = events.len() - 2; // minus role chunk and [DONE]
        assert_eq!(reason == "length", tokens == 40);
        if reason == "stop" {
            return;
        }
    }
    panic!("no request stopped before max_tokens");
}

#[tokio::test]
async fn completions_whole_and_streamed_with_prompt_lists() {
    let sim = start(SimConfig::zero_delay()).await;
    let v: Value = post(
        &sim,
        "/v1/completions",
        json!({"model": "sim-model", "prompt": ["abcdefgh", "ijkl"], "max_tokens": 3, "ignore_eos": true}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(v["id"].as_str().unwrap().starts_with("cmpl-"));
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["choices"].as_array().unwrap().len(), 2);
    assert_eq!(v["choices"][1]["index"], 1);
    assert_eq!(v["choices"][0]["text"].as_str().unwrap().len(), 12);
    assert_eq!(v["usage"]["prompt_tokens"], 3);
    assert_eq!(v["usage"]["completion_tokens"], 6);

    let events = sse_events(
        post(
            &sim,
            "/v1/completions",
            json!({"prompt": [1, 2, 3], "max_tokens": 4, "ignore_eos": true, "stream": true,
                   "stream_options": {"include_usage": true}}),
        )
        .await,
    )
    .await;
    assert_eq!(events.len(), 6); // 4 tokens, usage, [DONE]
    let first: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(first["object"], "text_completion");
    assert_eq!(first["choices"][0]["text"].as_str().unwrap().len(), 4);
    let last_tok: Value = serde_json::from_str(&events[3]).unwrap();
    assert_eq!(last_tok["choices"][0]["finish_reason"], "length");
    let usage: Value = serde_json::from_str(&events[4]).unwrap();
    assert_eq!(usage["usage"]["prompt_tokens"], 3);
}

#[tokio::test]
async fn embeddings_are_deterministic_unit_vectors() {
    let sim = start(SimConfig {
        embedding_dim: 8,
        ..SimConfig::zero_delay()
    })
    .await;
    let v: Value = post(
        &sim,
        "/v1/embeddings",
        json!({"model": "sim-model", "input": ["same", "other", "same"]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"][0]["object"], "embedding");
    let vecs: Vec<Vec<f64>> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| serde_json::from_value(d["embedding"].clone()).unwrap())
        .collect();
    assert_eq!(vecs[0].len(), 8);
    assert_eq!(vecs[0], vecs[2]);
    assert_ne!(vecs[0], vecs[1]);
    let norm: f64 = vecs[1].iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4);
    assert_eq!(v["usage"]["prompt_tokens"], 4);
    assert_eq!(v["usage"]["total_tokens"], 4);
    let b: Value = post(
        &sim,
        "/v1/embeddings",
        json!({"input": "same", "encoding_format": "base64"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(b["data"][0]["embedding"].as_str().unwrap().len(), 44); // 32 bytes
}

#[tokio::test]
async fn errors_in_vllm_shape() {
    let sim = start(SimConfig::zero_delay()).await;
    let resp = post(
        &sim,
        "/v1/chat/completions",
        json!({"model": "gpt-9", "messages": []}),
    )
    .await;
    assert_eq!(resp.status(), 404);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v,
        json!({"error": {"message": "The model `gpt-9` does not exist.", "type": "NotFoundError",
               "param": null, "code": 404}})
    );
    let resp = client()
        .post(format!("{}/v1/completions", sim.base_url()))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["type"], "BadRequestError");
    assert_eq!(v["error"]["code"], 400);
    let resp = post(&sim, "/v1/chat/completions", json!({"model": "sim-model"})).await;
    assert_eq!(resp.status(), 400);
    let resp = post(
        &sim,
        "/v1/completions",
        json!({"prompt": "x", "max_tokens": 100000}),
    )
    .await;
    assert_eq!(resp.status(), 400);
    let resp = client()
        .get(format!("{}/nope", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = client()
        .get(format!("{}/v1/completions", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(sim.stats().requests_rejected, 4);
}

#[tokio::test]
async fn health_models_version_and_metrics() {
    let sim = start(SimConfig {
        extra_served_names: vec!["alias".into()],
        ..SimConfig::zero_delay()
    })
    .await;
    let c = client();
    let resp = c
        .get(format!("{}/health", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.unwrap().is_empty());
    let v: Value = c
        .get(format!("{}/v1/models", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["object"], "list");
    assert_eq!(v["data"][0]["id"], "sim-model");
    assert_eq!(v["data"][1]["id"], "alias");
    assert_eq!(v["data"][0]["max_model_len"], 4096);
    let v: Value = c
        .get(format!("{}/version", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(v["version"].is_string());

    let resp = post(
        &sim,
        "/v1/completions",
        json!({"model": "alias", "prompt": "hello world", "max_tokens": 2, "ignore_eos": true}),
    )
    .await;
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["model"], "alias");
    let resp = c
        .get(format!("{}/metrics", sim.base_url()))
        .send()
        .await
        .unwrap();
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = resp.text().await.unwrap();
    let l = "model_name=\"sim-model\",engine=\"0\"";
    for line in [
        format!("vllm:num_requests_running{{{l}}} 0.0"),
        format!("vllm:num_requests_waiting{{{l}}} 0.0"),
        format!("vllm:kv_cache_usage_perc{{{l}}} 0.0"),
        format!("vllm:prompt_tokens_total{{{l}}} 3.0"),
        format!("vllm:generation_tokens_total{{{l}}} 2.0"),
        format!("vllm:prefix_cache_queries_total{{{l}}} 3.0"),
        format!("vllm:prefix_cache_hits_total{{{l}}} 0.0"),
        format!("vllm:num_preemptions_total{{{l}}} 0.0"),
        format!("vllm:request_success_total{{{l},finished_reason=\"length\"}} 1.0"),
        format!("vllm:time_to_first_token_seconds_count{{{l}}} 1.0"),
        format!("vllm:e2e_request_latency_seconds_count{{{l}}} 1.0"),
        format!("vllm:request_queue_time_seconds_bucket{{{l},le=\"+Inf\"}} 1.0"),
        format!("sim_requests_cancelled_total{{{l}}} 0.0"),
        "# TYPE vllm:time_to_first_token_seconds histogram".to_owned(),
    ] {
        assert!(
            text.lines().any(|x| x == line),
            "missing {line:?} in\n{text}"
        );
    }
    let stats: Value = c
        .get(format!("{}/sim/stats", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["requests_completed"], 1);
    assert_eq!(stats["generation_tokens"], 2);
}

#[tokio::test]
async fn http2_prior_knowledge_works() {
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let sim = start(SimConfig::zero_delay()).await;
    let c: Client<_, Full<bytes::Bytes>> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let mut body = chat("h2", 3);
    body["stream"] = json!(true);
    let req = http::Request::post(format!("{}/v1/chat/completions", sim.base_url()))
        .header("content-type", "application/json")
        .body(Full::new(bytes::Bytes::from(body.to_string())))
        .unwrap();
    let resp = c.request(req).await.unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_2);
    assert_eq!(resp.status(), 200);
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let events = parse_sse(std::str::from_utf8(&bytes).unwrap());
    assert_eq!(events.last().unwrap(), "[DONE]");
}
