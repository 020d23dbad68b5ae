//! Follows one engine's KV-cache events over ZMQ into its pool's event index.
//!
//! vLLM publishes `[topic, seq, payload]` on a PUB socket, binding it when its configured
//! address has `*` (the router connects) and connecting otherwise (the router binds). Every
//! batch carries a sequence number; a gap means batches were lost (ZMQ drops them when a
//! subscriber falls behind or reconnects), and they are fetched again from the engine's
//! replay socket (DEALER: `[b"", start_seq]`, answered with `[b"", topic, seq, payload]` up to
//! seq -1). What the replay cannot cover clears the endpoint's entries: an index that misses
//! evictions would send requests to caches that no longer hold their prefix. A sequence that
//! goes backwards is a restarted engine, whose cache starts empty.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use metrics::{Counter, Gauge};
use switchyard_backends::kv_events::{EventBatch, decode_batch, decode_frame};
use tokio_util::sync::CancellationToken;
use zeromq::{DealerSocket, Socket, SocketRecv, SocketSend, SubSocket, ZmqMessage};

use crate::config::KvEventsConfig;
use crate::endpoint::Endpoint;
use crate::observability::metrics as m;
use crate::prefix::KvEventIndex;

/// How long a replay may take before it is given up on.
const REPLAY_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause before opening the socket again after it failed.
const RETRY_PAUSE: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub struct KvEventFollower {
    endpoint: Arc<Endpoint>,
    config: KvEventsConfig,
    index: Arc<KvEventIndex>,
    /// The block size the router keys prompts with; the engine's must match.
    block_tokens: usize,
    metrics: FollowerMetrics,
}

/// Handles registered once: every batch updates them.
#[derive(Clone)]
struct FollowerMetrics {
    stored: Counter,
    removed: Counter,
    skipped: Counter,
    cleared: Counter,
    undecodable: Counter,
    index_blocks: Gauge,
}

impl FollowerMetrics {
    fn new(endpoint: &Endpoint) -> Self {
        let blocks = |kind: &'static str| metrics::counter!(m::KV_EVENT_BLOCKS, "pool" => endpoint.pool.to_string(), "endpoint" => endpoint.name.to_string(), "kind" => kind);
        Self {
            stored: blocks("stored"),
            removed: blocks("removed"),
            skipped: blocks("skipped"),
            cleared: blocks("cleared"),
            undecodable: blocks("undecodable"),
            index_blocks: metrics::gauge!(m::KV_INDEX_BLOCKS, "pool" => endpoint.pool.to_string(), "endpoint" => endpoint.name.to_string()),
        }
    }
}

/// Where the stream stands.
#[derive(Debug, Default)]
struct Position {
    /// The last sequence number applied to the index.
    applied: Option<i64>,
    /// The last sequence number received live (replays aside), to spot restarts.
    last_live: Option<i64>,
    warned_block_size: bool,
}

#[derive(Debug, thiserror::Error)]
enum FollowError {
    #[error("{0}")]
    Zmq(#[from] zeromq::ZmqError),
    #[error("replay timed out")]
    ReplayTimeout,
}

impl KvEventFollower {
    pub fn new(
        endpoint: Arc<Endpoint>,
        config: KvEventsConfig,
        index: Arc<KvEventIndex>,
        block_tokens: usize,
    ) -> Self {
        let metrics = FollowerMetrics::new(&endpoint);
        Self {
            endpoint,
            config,
            index,
            block_tokens,
            metrics,
        }
    }

    pub async fn run(self, shutdown: CancellationToken) {
        let mut position = Position::default();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                result = self.session(&mut position) => {
                    if let Err(error) = result {
                        tracing::warn!(
                            pool = %self.endpoint.pool,
                            endpoint = %self.endpoint.name,
                            address = %self.config.endpoint,
                            %error,
                            "KV event stream failed; reopening"
                        );
                    }
                }
            }
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(RETRY_PAUSE) => {}
            }
        }
    }

    /// One socket's life: open, subscribe, apply batches until the socket fails.
    async fn session(&self, position: &mut Position) -> Result<(), FollowError> {
        let mut socket = SubSocket::new();
        if self.config.bind {
            socket.bind(&self.config.endpoint).await?;
        } else {
            socket.connect(&self.config.endpoint).await?;
        }
        socket.subscribe(&self.config.topic).await?;
        tracing::info!(
            pool = %self.endpoint.pool,
            endpoint = %self.endpoint.name,
            address = %self.config.endpoint,
            bind = self.config.bind,
            "following KV cache events"
        );
        loop {
            let message = socket.recv().await?;
            let parts: Vec<&[u8]> = message.iter().map(Bytes::as_ref).collect();
            match decode_frame(&parts) {
                Ok((_topic, seq, batch)) => self.on_live(position, seq, &batch).await,
                Err(error) => {
                    tracing::debug!(endpoint = %self.endpoint.name, %error, "undecodable KV event message");
                    self.metrics.undecodable.increment(1);
                }
            }
        }
    }

    async fn on_live(&self, position: &mut Position, seq: i64, batch: &EventBatch) {
        if position.last_live.is_some_and(|last| seq < last) {
            tracing::info!(endpoint = %self.endpoint.name, seq, "KV event sequence restarted: engine restarted; forgetting its cache");
            self.gap("restart");
            self.index.clear_endpoint(self.endpoint.index);
            position.applied = None;
        }
        position.last_live = Some(seq);
        match position.applied {
            Some(applied) if seq <= applied => return, // already had it from a replay
            Some(applied) if seq > applied + 1 => {
                let covered = self.catch_up(position, applied + 1).await;
                if covered {
                    self.gap("replayed");
                } else {
                    tracing::warn!(endpoint = %self.endpoint.name, from = applied + 1, to = seq, "KV events lost and not replayable; forgetting the endpoint's cache entries");
                    self.gap("lost");
                    self.index.clear_endpoint(self.endpoint.index);
                }
            }
            // Joining a stream already under way: fetch what the engine still remembers.
            None if seq > 0 => {
                self.catch_up(position, 0).await;
            }
            _ => {}
        }
        if position.applied.is_none_or(|applied| seq > applied) {
            self.apply(position, seq, batch);
        }
    }

    /// Replays from `from`; returns whether the replay started there (nothing was lost).
    async fn catch_up(&self, position: &mut Position, from: i64) -> bool {
        let Some(address) = &self.config.replay_endpoint else {
            return false;
        };
        let replayed = tokio::time::timeout(REPLAY_TIMEOUT, self.replay(address, position, from))
            .await
            .unwrap_or(Err(FollowError::ReplayTimeout));
        match replayed {
            Ok(first) => first.is_some_and(|first| first <= from),
            Err(error) => {
                tracing::warn!(endpoint = %self.endpoint.name, %error, "KV event replay failed");
                false
            }
        }
    }

    /// Applies replayed batches from `from` on; returns the first sequence number replayed.
    async fn replay(
        &self,
        address: &str,
        position: &mut Position,
        from: i64,
    ) -> Result<Option<i64>, FollowError> {
        let mut socket = DealerSocket::new();
        socket.connect(address).await?;
        let mut request = ZmqMessage::from(Bytes::new());
        request.push_back(Bytes::copy_from_slice(&from.to_be_bytes()));
        socket.send(request).await?;
        let mut first = None;
        loop {
            let message = socket.recv().await?;
            // [b"", topic, seq, payload]; the last one has seq -1.
            let parts: Vec<&[u8]> = message.iter().map(Bytes::as_ref).collect();
            let [_, _topic, seq, payload] = parts.as_slice() else {
                continue;
            };
            let Ok(seq) = <[u8; 8]>::try_from(*seq).map(i64::from_be_bytes) else {
                continue;
            };
            if seq < 0 {
                return Ok(first);
            }
            first.get_or_insert(seq);
            if position.applied.is_some_and(|applied| seq <= applied) {
                continue;
            }
            match decode_batch(payload) {
                Ok(batch) => self.apply(position, seq, &batch),
                Err(_) => self.metrics.undecodable.increment(1),
            }
        }
    }

    fn apply(&self, position: &mut Position, seq: i64, batch: &EventBatch) {
        let applied = self.index.apply(self.endpoint.index, &batch.events);
        position.applied = Some(seq);
        let counts = &self.metrics;
        counts.stored.increment(applied.stored as u64);
        counts.removed.increment(applied.removed as u64);
        counts.skipped.increment(applied.skipped as u64);
        counts.cleared.increment(u64::from(applied.cleared));
        if let Some(size) = applied.block_size
            && size as usize != self.block_tokens
            && !position.warned_block_size
        {
            position.warned_block_size = true;
            tracing::warn!(
                endpoint = %self.endpoint.name,
                engine_block_size = size,
                block_tokens = self.block_tokens,
                "the engine's KV block size differs from cache_aware.block_tokens: prompts will not match its blocks"
            );
        }
        self.metrics
            .index_blocks
            .set(self.index.endpoint_blocks(self.endpoint.index) as f64);
    }

    fn gap(&self, outcome: &'static str) {
        metrics::counter!(m::KV_EVENT_GAPS, "pool" => self.endpoint.pool.to_string(), "endpoint" => self.endpoint.name.to_string(), "outcome" => outcome)
            .increment(1);
    }
}
