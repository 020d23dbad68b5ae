//! KV-cache events published the way vLLM publishes them, so routers can follow a simulated
//! engine's cache as they follow a real one: a PUB socket sends `[topic, seq as 8-byte
//! big-endian, payload]`, the payload a msgpack `[timestamp, [event, ...], dp_rank]` with
//! each event a map tagged by `"type"` (`BlockStored`, `BlockRemoved`); a ROUTER socket
//! answers `[b"", start_seq]` with `[b"", topic, seq, payload]` for every kept batch from
//! `start_seq` on, then one with seq -1.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use rmpv::Value;
use tokio::sync::mpsc;
use zeromq::{PubSocket, RouterSocket, Socket, SocketRecv, SocketSend, ZmqMessage};

use crate::config::SimKvEventsConfig;
use crate::error::SimError;
use crate::prefix_cache::CacheEvent;

/// The bound addresses, for routers to connect to.
#[derive(Debug, Clone)]
pub struct KvEventAddresses {
    pub endpoint: String,
    pub replay_endpoint: Option<String>,
}

/// Binds the sockets and spawns the publisher; batches sent on the returned channel are
/// published in order. It stops when the channel closes.
pub(crate) async fn start(
    config: &SimKvEventsConfig,
    block_size: u32,
) -> Result<(KvEventAddresses, mpsc::UnboundedSender<Vec<CacheEvent>>), SimError> {
    let zmq = |e: zeromq::ZmqError| SimError::KvEvents(e.to_string());
    let mut publisher = PubSocket::new();
    let endpoint = publisher.bind(&config.endpoint).await.map_err(zmq)?;
    let mut replay = None;
    let mut replay_endpoint = None;
    if let Some(address) = &config.replay_endpoint {
        let mut socket = RouterSocket::new();
        replay_endpoint = Some(socket.bind(address).await.map_err(zmq)?.to_string());
        replay = Some(socket);
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let publisher = Publisher {
        socket: publisher,
        topic: Bytes::from(config.topic.clone().into_bytes()),
        block_size,
        kept: VecDeque::new(),
        keep: config.buffer_steps.max(1),
        next_seq: 0,
    };
    tokio::spawn(publisher.run(rx, replay));
    Ok((
        KvEventAddresses {
            endpoint: endpoint.to_string(),
            replay_endpoint,
        },
        tx,
    ))
}

struct Publisher {
    socket: PubSocket,
    topic: Bytes,
    block_size: u32,
    kept: VecDeque<(i64, Bytes)>,
    keep: usize,
    next_seq: i64,
}

impl Publisher {
    async fn run(
        mut self,
        mut batches: mpsc::UnboundedReceiver<Vec<CacheEvent>>,
        mut replay: Option<RouterSocket>,
    ) {
        loop {
            let request = async {
                match replay.as_mut() {
                    Some(socket) => socket.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                batch = batches.recv() => match batch {
                    Some(events) => self.publish(&events).await,
                    None => return,
                },
                request = request => match (request, replay.as_mut()) {
                    (Ok(request), Some(socket)) => self.replay(socket, request).await,
                    // A peer that went away: nothing to answer.
                    _ => tokio::task::yield_now().await,
                },
            }
        }
    }

    async fn publish(&mut self, events: &[CacheEvent]) {
        let payload = encode(events, self.block_size);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.kept.push_back((seq, payload.clone()));
        if self.kept.len() > self.keep {
            self.kept.pop_front();
        }
        let mut message = ZmqMessage::from(self.topic.clone());
        message.push_back(Bytes::copy_from_slice(&seq.to_be_bytes()));
        message.push_back(payload);
        // No subscriber is not an error: PUB drops, as vLLM's does.
        let _ = self.socket.send(message).await;
    }

    async fn replay(&self, socket: &mut RouterSocket, request: ZmqMessage) {
        let frames = request.into_vec();
        let [identity, _empty, start] = frames.as_slice() else {
            return;
        };
        let Ok(start) = <[u8; 8]>::try_from(start.as_ref()).map(i64::from_be_bytes) else {
            return;
        };
        let reply = |seq: i64, payload: Bytes| {
            let mut message = ZmqMessage::from(identity.clone());
            message.push_back(Bytes::new());
            message.push_back(self.topic.clone());
            message.push_back(Bytes::copy_from_slice(&seq.to_be_bytes()));
            message.push_back(payload);
            message
        };
        for (seq, payload) in self.kept.iter().filter(|(seq, _)| *seq >= start) {
            if socket.send(reply(*seq, payload.clone())).await.is_err() {
                return;
            }
        }
        let _ = socket.send(reply(-1, Bytes::new())).await;
    }
}

/// One batch in vLLM's map-tagged encoding; consecutive stores of one chain become one
/// `BlockStored`, as vLLM sends them.
fn encode(events: &[CacheEvent], block_size: u32) -> Bytes {
    let mut encoded = Vec::new();
    let mut i = 0;
    while i < events.len() {
        match &events[i] {
            CacheEvent::Stored {
                hash,
                parent,
                tokens,
            } => {
                let mut hashes = vec![Value::from(*hash)];
                let mut token_ids: Vec<Value> = tokens.iter().map(|&t| Value::from(t)).collect();
                let mut last = *hash;
                while let Some(CacheEvent::Stored {
                    hash,
                    parent: Some(p),
                    tokens,
                }) = events.get(i + 1)
                {
                    if *p != last {
                        break;
                    }
                    hashes.push(Value::from(*hash));
                    token_ids.extend(tokens.iter().map(|&t| Value::from(t)));
                    last = *hash;
                    i += 1;
                }
                encoded.push(Value::Map(vec![
                    (Value::from("type"), Value::from("BlockStored")),
                    (Value::from("block_hashes"), Value::Array(hashes)),
                    (
                        Value::from("parent_block_hash"),
                        parent.map_or(Value::Nil, Value::from),
                    ),
                    (Value::from("token_ids"), Value::Array(token_ids)),
                    (Value::from("block_size"), Value::from(block_size)),
                    (Value::from("lora_id"), Value::Nil),
                    (Value::from("medium"), Value::from("GPU")),
                ]));
            }
            CacheEvent::Removed { hash } => encoded.push(Value::Map(vec![
                (Value::from("type"), Value::from("BlockRemoved")),
                (
                    Value::from("block_hashes"),
                    Value::Array(vec![Value::from(*hash)]),
                ),
                (Value::from("medium"), Value::from("GPU")),
            ])),
        }
        i += 1;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let batch = Value::Array(vec![
        Value::from(now),
        Value::Array(encoded),
        Value::from(0u32),
    ]);
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = rmpv::encode::write_value(&mut out, &batch);
    Bytes::from(out)
}
