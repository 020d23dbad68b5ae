//! Following an engine's KV-cache events: sequence gaps recovered through the replay socket,
//! restarts, lost events, and both connection directions.
//!
//! The publisher here is a FAKE vLLM event publisher: a ZMQ PUB socket and a replay ROUTER
//! socket in this test, sending the batches captured from a real vLLM 0.32
//! (`backends/tests/fixtures/kv_events/live-*.msgpack`), framed exactly as vLLM frames them
//! (`[topic, seq as 8-byte big-endian, payload]`; replay answers `[b"", topic, seq, payload]`
//! up to seq -1). It can hold back a sequence number from the live stream, as a slow or
//! reconnecting subscriber loses messages. The real engine's events are followed in
//! `real_vllm_kv.rs`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use switchyard::prefix::KvEventIndex;
use switchyard_backends::kv_events::decode_batch;
use switchyard_tests::*;
use zeromq::{PubSocket, RouterSocket, Socket, SocketEvent, SocketRecv, SocketSend, ZmqMessage};

const TOPIC: &str = "kv";

fn captured_batches() -> Vec<Bytes> {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../backends/tests/fixtures/kv_events");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("live-"))
        })
        .collect();
    paths.sort();
    assert!(paths.len() >= 8, "captured batches: {}", paths.len());
    paths
        .into_iter()
        .map(|p| Bytes::from(std::fs::read(p).expect("read fixture")))
        .collect()
}

/// Blocks an index holds after applying `batches` in order (what the router should hold).
fn expected_blocks(batches: &[Bytes]) -> usize {
    let index = KvEventIndex::new(1, 1 << 20);
    for payload in batches {
        index.apply(0, &decode_batch(payload).expect("decodes").events);
    }
    index.endpoint_blocks(0)
}

/// A batch whose loss shows in the block count: with it lost and the endpoint cleared, the
/// batches after it leave a different count than the whole stream does.
fn revealing_gap(history: &[Bytes]) -> usize {
    let whole = expected_blocks(history);
    (1..history.len() - 1)
        .find(|&gap| expected_blocks(&history[gap + 1..]) != whole)
        .expect("some batch's loss changes the count")
}

fn frame(seq: i64, payload: &Bytes) -> ZmqMessage {
    let mut message = ZmqMessage::from(Bytes::from_static(TOPIC.as_bytes()));
    message.push_back(Bytes::copy_from_slice(&seq.to_be_bytes()));
    message.push_back(payload.clone());
    message
}

/// Answers replay requests from `history` (sequence numbers 0..).
fn serve_replay(mut socket: RouterSocket, history: Arc<Vec<Bytes>>) {
    tokio::spawn(async move {
        while let Ok(request) = socket.recv().await {
            let frames: Vec<Bytes> = request.into_vec();
            let [identity, _empty, start] = frames.as_slice() else {
                continue;
            };
            let start = i64::from_be_bytes(start.as_ref().try_into().expect("8-byte seq"));
            for (seq, payload) in history.iter().enumerate().skip(start.max(0) as usize) {
                let mut reply = ZmqMessage::from(identity.clone());
                reply.push_back(Bytes::new());
                for part in frame(seq as i64, payload).into_vec() {
                    reply.push_back(part);
                }
                socket.send(reply).await.expect("replay send");
            }
            let mut end = ZmqMessage::from(identity.clone());
            for part in [
                Bytes::new(),
                Bytes::new(),
                Bytes::copy_from_slice(&(-1i64).to_be_bytes()),
                Bytes::new(),
            ] {
                end.push_back(part);
            }
            socket.send(end).await.expect("replay end");
        }
    });
}

struct FakePublisher {
    socket: PubSocket,
    address: String,
    replay_address: String,
    events: std::pin::Pin<Box<dyn futures_util::Stream<Item = SocketEvent> + Send>>,
}

async fn fake_publisher(history: Arc<Vec<Bytes>>) -> FakePublisher {
    let mut socket = PubSocket::new();
    let events = Box::pin(socket.monitor());
    let address = socket
        .bind("tcp://127.0.0.1:0")
        .await
        .expect("bind pub")
        .to_string();
    let mut replay = RouterSocket::new();
    let replay_address = replay
        .bind("tcp://127.0.0.1:0")
        .await
        .expect("bind replay")
        .to_string();
    serve_replay(replay, history);
    FakePublisher {
        socket,
        address,
        replay_address,
        events,
    }
}

impl FakePublisher {
    /// Waits for the router's subscriber to connect, plus a moment for its subscription
    /// to arrive (a PUB socket drops what it sends before that).
    async fn wait_for_subscriber(&mut self) {
        use futures_util::StreamExt;
        let connected = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some(event) = self.events.next().await {
                if matches!(event, SocketEvent::Accepted(..)) {
                    return;
                }
            }
        })
        .await;
        assert!(connected.is_ok(), "the router never subscribed");
        tokio::time::sleep(Duration::from_millis(1000)).await;
    }

    async fn publish(&mut self, history: &[Bytes], seqs: impl IntoIterator<Item = usize>) {
        for seq in seqs {
            self.socket
                .send(frame(seq as i64, &history[seq]))
                .await
                .expect("publish");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A router whose one endpoint (a simulator, for HTTP) follows `kv_events`.
async fn follower_router(
    name: &str,
    kv_events: &str,
) -> (switchyard::RunningRouter, switchyard_sim::Simulator) {
    let sim = start_sims(1).await.remove(0);
    let yaml = format!(
        "listeners:\n  - address: 127.0.0.1:0\nlogging:\n  level: warn\npools:\n  main:\n    policy: cache_aware\n    cache_aware:\n      index: events\n      block_tokens: 32\n      tokenizer:\n        kind: simulator\n    endpoints:\n      - url: {}\n        name: {name}\n        kind: vllm\n        kv_events:\n{kv_events}models:\n  {MODEL}:\n    pool: main\n",
        sim.base_url()
    );
    (start_router(&yaml).await, sim)
}

async fn metrics(router: &switchyard::RunningRouter) -> String {
    get_text(&client(), &format!("{}/metrics", router_url(router))).await
}

async fn index_blocks_become(
    router: &switchyard::RunningRouter,
    name: &str,
    expected: usize,
) -> bool {
    let label = format!("endpoint=\"{name}\"");
    eventually(Duration::from_secs(10), async || {
        metric_sum(
            &metrics(router).await,
            "switchyard_kv_index_blocks",
            &[&label],
        ) == expected as f64
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gap_is_replayed_and_the_index_matches_the_whole_stream() {
    let history = Arc::new(captured_batches());
    let mut publisher = fake_publisher(Arc::clone(&history)).await;
    let name = "gap-replayed";
    let (router, sim) = follower_router(
        name,
        &format!(
            "          endpoint: {}\n          replay_endpoint: {}\n          topic: {TOPIC}\n",
            publisher.address, publisher.replay_address
        ),
    )
    .await;
    publisher.wait_for_subscriber().await;
    // One batch never arrives live: the follower must notice at the next and replay it.
    let gap = revealing_gap(&history);
    let live: Vec<usize> = (0..history.len()).filter(|&s| s != gap).collect();
    publisher.publish(&history, live).await;
    let expected = expected_blocks(&history);
    assert!(
        index_blocks_become(&router, name, expected).await,
        "index holds {} blocks, the whole stream leaves {expected}\n{}",
        metric_sum(
            &metrics(&router).await,
            "switchyard_kv_index_blocks",
            &[&format!("endpoint=\"{name}\"")]
        ),
        metrics(&router).await
    );
    let text = metrics(&router).await;
    let label = format!("endpoint=\"{name}\"");
    assert_eq!(
        metric_sum(
            &text,
            "switchyard_kv_event_gaps_total",
            &[&label, "outcome=\"replayed\""]
        ),
        1.0,
        "{text}"
    );
    assert_eq!(
        metric_sum(
            &text,
            "switchyard_kv_event_gaps_total",
            &[&label, "outcome=\"lost\""]
        ),
        0.0
    );

    // The engine restarts: its sequence starts again at 0 with a fresh cache.
    publisher.publish(&history, 0..2).await;
    let after_restart = expected_blocks(&history[..2]);
    assert_ne!(after_restart, expected);
    assert!(
        index_blocks_become(&router, name, after_restart).await,
        "after a restart only the new engine's blocks count ({after_restart})"
    );
    let text = metrics(&router).await;
    assert_eq!(
        metric_sum(
            &text,
            "switchyard_kv_event_gaps_total",
            &[&label, "outcome=\"restart\""]
        ),
        1.0,
        "{text}"
    );
    router.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_replay_socket_lost_events_clear_the_endpoint() {
    let history = Arc::new(captured_batches());
    let mut publisher = fake_publisher(Arc::clone(&history)).await;
    let name = "gap-lost";
    let (router, sim) = follower_router(
        name,
        &format!(
            "          endpoint: {}\n          topic: {TOPIC}\n",
            publisher.address
        ),
    )
    .await;
    publisher.wait_for_subscriber().await;
    publisher
        .publish(&history, (0..history.len()).filter(|&s| s != 2))
        .await;
    // What is left: batches 3.. applied to an emptied index (chains whose parents were
    // stored before the gap cannot be keyed and are skipped).
    let expected = expected_blocks(&history[3..]);
    assert!(
        index_blocks_become(&router, name, expected).await,
        "{}",
        metrics(&router).await
    );
    let text = metrics(&router).await;
    assert_eq!(
        metric_sum(
            &text,
            "switchyard_kv_event_gaps_total",
            &[&format!("endpoint=\"{name}\""), "outcome=\"lost\""]
        ),
        1.0,
        "{text}"
    );
    router.shutdown().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_binds_for_an_engine_that_connects() {
    let history = Arc::new(captured_batches());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let name = "bind-mode";
    let (router, sim) = follower_router(
        name,
        &format!("          endpoint: tcp://127.0.0.1:{port}\n          bind: true\n          topic: {TOPIC}\n"),
    )
    .await;
    // vLLM configured with a plain host connects its PUB socket to the router.
    let mut socket = PubSocket::new();
    let connected = eventually(Duration::from_secs(10), async || {
        socket
            .connect(&format!("tcp://127.0.0.1:{port}"))
            .await
            .is_ok()
    })
    .await;
    assert!(connected, "the router does not listen on {port}");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for (seq, payload) in history.iter().enumerate() {
        socket
            .send(frame(seq as i64, payload))
            .await
            .expect("publish");
    }
    assert!(
        index_blocks_become(&router, name, expected_blocks(&history)).await,
        "{}",
        metrics(&router).await
    );
    router.shutdown().await;
    sim.shutdown().await;
}

/// Simulated engines publishing KV events (in vLLM's format, decoded by the router's real
/// decoder): two router replicas, each fed only by the events for groups it never routed,
/// send each prefix group to the engine that holds it, and the self-audit agrees with the
/// engines' `usage`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_routers_on_simulated_engine_events_agree() {
    use switchyard_sim::{SimConfig, SimKvEventsConfig};
    let mut sims = Vec::new();
    for seed in 0..3u64 {
        sims.push(
            start_sim(SimConfig {
                seed,
                kv_events: Some(SimKvEventsConfig::default()),
                ..SimConfig::zero_delay()
            })
            .await,
        );
    }
    let endpoints: String = sims
        .iter()
        .enumerate()
        .map(|(i, sim)| {
            let kv = sim.kv_events().expect("publishing");
            format!(
                "      - url: {}\n        name: simev{i}\n        kind: vllm\n        kv_events:\n          endpoint: {}\n          replay_endpoint: {}\n          topic: kv\n",
                sim.base_url(),
                kv.endpoint,
                kv.replay_endpoint.as_deref().expect("replay")
            )
        })
        .collect();
    let yaml = format!(
        "listeners:\n  - address: 127.0.0.1:0\nlogging:\n  level: warn\npools:\n  simev:\n    policy: cache_aware\n    cache_aware:\n      index: events\n      block_tokens: 16\n      tokenizer:\n        kind: simulator\n    endpoints:\n{endpoints}models:\n  {MODEL}:\n    pool: simev\n"
    );
    let a = start_router(&yaml).await;
    let b = start_router(&yaml).await;
    tokio::time::sleep(Duration::from_millis(300)).await; // subscriptions reach the engines
    let body = |group: usize, question: &str| {
        serde_json::json!({
            "model": MODEL,
            "messages": [
                {"role": "system", "content": format!("group {group} rules: {}", "be precise and brief; ".repeat(12))},
                {"role": "user", "content": question},
            ],
            "max_tokens": 2,
        })
    };
    let send = async |router: &switchyard::RunningRouter, body: serde_json::Value| {
        let response = client()
            .post(format!("{}/v1/chat/completions", router_url(router)))
            .json(&body)
            .send()
            .await
            .expect("router answers");
        assert_eq!(response.status(), 200);
        let endpoint = response.headers()["x-switchyard-endpoint"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let _ = response.bytes().await;
        endpoint
    };
    let mut homes = Vec::new();
    for group in 0..6 {
        homes.push(send(&a, body(group, "first")).await);
    }
    let distinct: std::collections::BTreeSet<_> = homes.iter().collect();
    assert_eq!(
        distinct.len(),
        3,
        "new groups spread over idle engines: {homes:?}"
    );
    // Router B learns the groups from the engines' events alone.
    let url_b = router_url(&b);
    assert!(
        eventually(Duration::from_secs(10), async || kv_index_blocks(
            &url_b, "simev"
        )
        .await
            >= 24)
        .await,
        "router B's event index did not fill"
    );
    for (group, home) in homes.iter().enumerate() {
        assert_eq!(
            &send(&b, body(group, "second")).await,
            home,
            "router B, group {group}"
        );
        assert_eq!(
            &send(&a, body(group, "third")).await,
            home,
            "router A, group {group}"
        );
    }
    let text = metrics(&a).await;
    let predicted = metric_sum(
        &text,
        "switchyard_prefix_predicted_cached_tokens_total",
        &["pool=\"simev\""],
    );
    let reported = metric_sum(
        &text,
        "switchyard_prefix_reported_cached_tokens_total",
        &["pool=\"simev\""],
    );
    assert!(reported > 0.0, "{text}");
    assert!(
        (predicted - reported).abs() <= 0.1 * reported,
        "predicted {predicted}, reported {reported}"
    );
    a.shutdown().await;
    b.shutdown().await;
    for sim in sims {
        sim.shutdown().await;
    }
}
