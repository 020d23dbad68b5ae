//! The OpenAI front end on the wire: error corpus, byte-exact streaming,
//! request ids, model-name rewriting, and the router's own endpoints.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use switchyard_sim::{Fault, SimConfig};
use switchyard_tests::scripted_upstream::ScriptedUpstream;
use switchyard_tests::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_openai_errors_with_the_right_status() {
    let sims = start_sims(1).await;
    let router = start_router(&router_yaml(
        "round_robin",
        &[sims[0].base_url()],
        "",
        "server:\n  max_body_bytes: 4096\n",
    ))
    .await;
    let url = router_url(&router);
    let client = client();
    let big = format!(r#"{{"model":"{MODEL}","prompt":"{}"}}"#, "x".repeat(5000));
    // (method, path, body, status, error.param or code to expect)
    let corpus: Vec<(&str, &str, String, u16, &str)> = vec![
        ("POST", "/v1/chat/completions", "{not json".into(), 400, ""),
        ("POST", "/v1/chat/completions", "".into(), 400, ""),
        ("POST", "/v1/chat/completions", "[]".into(), 400, ""),
        (
            "POST",
            "/v1/chat/completions",
            r#"{"messages":[]}"#.into(),
            400,
            "model",
        ),
        (
            "POST",
            "/v1/chat/completions",
            format!(r#"{{"model":"{MODEL}"}}"#),
            400,
            "messages",
        ),
        (
            "POST",
            "/v1/chat/completions",
            format!(r#"{{"model":"{MODEL}","messages":"hi"}}"#),
            400,
            "messages",
        ),
        (
            "POST",
            "/v1/completions",
            format!(r#"{{"model":"{MODEL}"}}"#),
            400,
            "prompt",
        ),
        (
            "POST",
            "/v1/embeddings",
            format!(r#"{{"model":"{MODEL}"}}"#),
            400,
            "input",
        ),
        (
            "POST",
            "/v1/completions",
            r#"{"model":42,"prompt":"x"}"#.into(),
            400,
            "model",
        ),
        (
            "POST",
            "/v1/completions",
            format!(r#"{{"model":"{MODEL}","prompt":"x","stream":"yes"}}"#),
            400,
            "",
        ),
        (
            "POST",
            "/v1/completions",
            r#"{"model":"no-such-model","prompt":"x"}"#.into(),
            404,
            "model_not_found",
        ),
        ("POST", "/v1/completions", big, 413, "request_too_large"),
        (
            "GET",
            "/v1/chat/completions",
            String::new(),
            405,
            "method_not_allowed",
        ),
        (
            "POST",
            "/v1/models",
            String::new(),
            405,
            "method_not_allowed",
        ),
        ("GET", "/v1/nothing-here", String::new(), 404, "unknown_url"),
    ];
    for (method, path, body, status, expect) in corpus {
        let request = client
            .request(method.parse().unwrap(), format!("{url}{path}"))
            .header("content-type", "application/json")
            .body(body.clone());
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status().as_u16(),
            status,
            "{method} {path} {body:.80}"
        );
        assert_eq!(response.headers()["content-type"], "application/json");
        let json: serde_json::Value = response.json().await.unwrap();
        let error = &json["error"];
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{json}"
        );
        assert!(error["type"].is_string(), "{json}");
        if !expect.is_empty() {
            assert!(
                error["param"] == expect || error["code"] == expect,
                "{method} {path}: {json}"
            );
        }
    }
    assert_eq!(
        sims[0].stats().requests_received,
        0,
        "no bad request reached the engine"
    );
    router.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_pass_through_byte_exact_and_unbuffered() {
    let mut upstream = ScriptedUpstream::start("text/event-stream").await;
    let router = start_router(&router_yaml("round_robin", &[upstream.url()], "", "")).await;
    let url = router_url(&router);
    let body = chat_body(MODEL, true, 8);
    let response_task = tokio::spawn({
        let url = url.clone();
        async move {
            client()
                .post(format!("{url}/v1/chat/completions"))
                .header("x-request-id", "req-123")
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    });
    let feed = upstream
        .bodies
        .recv()
        .await
        .expect("the request reached the upstream");
    // Odd chunk boundaries, a UTF-8 character split across chunks, an SSE
    // comment and CRLFs: the router must not reframe any of it.
    let chunks: Vec<Bytes> = vec![
        Bytes::from_static(b": keep-alive comment\r\n\r\n"),
        Bytes::from_static(b"data: {\"choices\":[{\"delta\":{\"content\":\"caf\xc3"),
        Bytes::from_static(b"\xa9\"}}]}\n\ndata: {\"x\":1}\n"),
        Bytes::from_static(b"\ndata: [DONE]\n\n"),
    ];
    feed.send(chunks[0].clone()).unwrap();
    let response = response_task.await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "req-123");
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut stream = response.bytes_stream();
    let mut received = Vec::new();
    // Each chunk reaches the client before the next is even sent upstream.
    for (i, chunk) in chunks.iter().enumerate() {
        if i > 0 {
            feed.send(chunk.clone()).unwrap();
        }
        let mut got = Vec::new();
        while got.len() < chunk.len() {
            let piece = tokio::time::timeout(Duration::from_secs(2), stream.next())
                .await
                .unwrap_or_else(|_| panic!("chunk {i} was held back by the router"))
                .expect("stream open")
                .expect("no error");
            got.extend_from_slice(&piece);
        }
        assert_eq!(got, chunk.as_ref(), "chunk {i} byte-exact");
        received.extend_from_slice(&got);
    }
    drop(feed);
    assert!(
        stream.next().await.is_none(),
        "stream ends when the upstream's does"
    );
    assert_eq!(received, chunks.concat());

    let seen = upstream.received.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].headers["x-request-id"], "req-123",
        "request id propagated upstream"
    );
    let sent: serde_json::Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(sent, chat_body(MODEL, true, 8), "body forwarded unchanged");
    router.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_ids_are_generated_when_absent_and_sent_upstream() {
    let mut upstream = ScriptedUpstream::start("application/json").await;
    let router = start_router(&router_yaml("round_robin", &[upstream.url()], "", "")).await;
    let url = router_url(&router);
    let call = tokio::spawn(async move {
        client()
            .post(format!("{url}/v1/completions"))
            .json(&serde_json::json!({"model": MODEL, "prompt": "x"}))
            .send()
            .await
            .unwrap()
    });
    let feed = upstream.bodies.recv().await.unwrap();
    feed.send(Bytes::from_static(b"{\"ok\":true}")).unwrap();
    drop(feed);
    let response = call.await.unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 32, "a generated uuid: {id}");
    assert_eq!(
        upstream.received.lock().unwrap()[0].headers["x-request-id"],
        id.as_str()
    );
    router.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_broken_midway_ends_with_an_sse_error_event() {
    let sim = start_sim(SimConfig::zero_delay()).await;
    sim.set_fault(Fault::AbortStreamAfter { chunks: 3 });
    let router = start_router(&router_yaml("round_robin", &[sim.base_url()], "", "")).await;
    let response = client()
        .post(format!("{}/v1/chat/completions", router_url(&router)))
        .json(&chat_body(MODEL, true, 16))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "headers were already sent: no retry possible"
    );
    let text = response
        .text()
        .await
        .expect("the router ends the stream cleanly");
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(
        events.len(),
        4,
        "3 relayed events and the error event:\n{text}"
    );
    let last: serde_json::Value =
        serde_json::from_str(events[3].strip_prefix("data: ").unwrap()).unwrap();
    assert_eq!(last["error"]["type"], "upstream_error");
    assert!(!text.contains("[DONE]"));
    assert_eq!(
        sim.stats().requests_received,
        1,
        "no retry after bytes were streamed"
    );
    router.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_names_are_rewritten_per_endpoint() {
    let a = start_sim(SimConfig {
        served_model_name: "org/served-a".into(),
        ..SimConfig::zero_delay()
    })
    .await;
    let b = start_sim(SimConfig {
        served_model_name: "served-b".into(),
        ..SimConfig::zero_delay()
    })
    .await;
    let yaml = router_yaml(
        "round_robin",
        &[a.base_url(), b.base_url()],
        "",
        "    served_name: org/served-a\n",
    )
    .replace(
        "name: ep1\n",
        "name: ep1\n        served_names:\n          sim-model: served-b\n",
    );
    let router = start_router(&yaml).await;
    let client = client();
    for _ in 0..4 {
        let response = client
            .post(format!("{}/v1/completions", router_url(&router)))
            .json(&serde_json::json!({"model": MODEL, "prompt": "hi", "max_tokens": 2}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    assert_eq!(a.stats().requests_completed, 2);
    assert_eq!(b.stats().requests_completed, 2);
    router.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_health_and_metrics_endpoints() {
    let sims = start_sims(2).await;
    let urls: Vec<String> = sims.iter().map(|s| s.base_url()).collect();
    // A model name of its own: the metrics recorder is shared by every test
    // in this process, so counts are exact only per model.
    let yaml = router_yaml("round_robin", &urls, "", "").replace(
        &format!("models:\n  {MODEL}:\n"),
        &format!("models:\n  metrics-model:\n    served_name: {MODEL}\n"),
    );
    let router = start_router(&yaml).await;
    let url = router_url(&router);
    let client = client();
    let models: serde_json::Value = client
        .get(format!("{url}/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], "metrics-model");
    let health = router_health(&url).await;
    assert_eq!(health["pools"]["main"]["healthy_endpoints"], 2);
    assert_eq!(
        client
            .get(format!("{url}/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    for stream in [false, true] {
        let response = client
            .post(format!("{url}/v1/chat/completions"))
            .json(&chat_body("metrics-model", stream, 4))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let _ = response.bytes().await;
    }
    let metrics = get_text(&client, &format!("{url}/metrics")).await;
    assert!(
        metric_sum(
            &metrics,
            "switchyard_requests_total",
            &["model=\"metrics-model\"", "status=\"200\""]
        ) >= 2.0,
        "{metrics}"
    );
    assert_eq!(
        metric_sum(
            &metrics,
            "switchyard_request_duration_seconds_count",
            &["model=\"metrics-model\""]
        ),
        2.0,
        "both the streamed and the fixed-length response were timed to their end:\n{metrics}"
    );
    for name in [
        "switchyard_request_duration_seconds_bucket",
        "switchyard_time_to_first_byte_seconds_bucket",
        "switchyard_router_overhead_seconds_bucket",
        "switchyard_endpoint_in_flight",
        "switchyard_endpoint_healthy",
    ] {
        assert!(metrics.contains(name), "missing {name}:\n{metrics}");
    }
    router.shutdown().await;
}

/// `server.busy_poll` on a single-threaded runtime, the harshest case for a task that never
/// sleeps: the router, the simulator and the client share the one thread with the poller.
/// Requests are answered in full, streamed and not, before and after the pollers go to sleep.
#[tokio::test(flavor = "current_thread")]
async fn busy_polling_router_answers_while_polling_and_after_sleeping() {
    let sims = start_sims(1).await;
    let router = start_router(&router_yaml(
        "round_robin",
        &[sims[0].base_url()],
        "",
        "server:\n  busy_poll: 20ms\n",
    ))
    .await;
    let url = router_url(&router);
    let client = client();
    let ask = async |stream: bool| {
        let response = client
            .post(format!("{url}/v1/chat/completions"))
            .json(&chat_body(MODEL, stream, 8))
            .send()
            .await
            .expect("answer");
        assert_eq!(response.status(), 200);
        let body = response.text().await.expect("body");
        if stream {
            assert!(
                body.ends_with("data: [DONE]\n\n"),
                "complete stream: {body}"
            );
        } else {
            let value: serde_json::Value = serde_json::from_str(&body).expect("JSON");
            assert!(value["choices"][0]["message"]["content"].is_string());
        }
    };
    let work = async {
        for i in 0..20 {
            ask(i % 2 == 0).await;
        }
        // Idle past `busy_poll`: the pollers sleep, and the next request wakes them.
        tokio::time::sleep(Duration::from_millis(100)).await;
        ask(true).await;
        ask(false).await;
    };
    tokio::time::timeout(Duration::from_secs(30), work)
        .await
        .expect("every request answered while busy polling");
    router.shutdown().await;
}
