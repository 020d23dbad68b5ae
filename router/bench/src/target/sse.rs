//! Reading an OpenAI-style event stream as it arrives: token timing, the text, `usage`.

use std::time::Instant;

use eventsource_stream::Eventsource;
use futures_util::StreamExt;
use http_body_util::BodyDataStream;
use hyper::body::Incoming;
use serde::Deserialize;

use super::openai::Usage;
use super::{Failure, Reply};

#[derive(Debug, Default)]
pub(super) struct StreamTally {
    pub first_token: Option<Instant>,
    last_token: Option<Instant>,
    pub gaps_us: Vec<u32>,
    pub reply: Reply,
    finished: bool,
}

#[derive(Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: Option<Usage>,
    #[serde(default)]
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Option<Delta>,
    /// Text completions.
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
    /// Reasoning models stream their thinking here first; it is output all the same.
    #[serde(default)]
    reasoning_content: Option<String>,
}

impl StreamTally {
    /// Takes one `data:` payload received at `now`. `Ok(true)` at the end of the stream.
    pub(super) fn take(&mut self, data: &str, now: Instant) -> Result<bool, Failure> {
        if data.trim() == "[DONE]" {
            return Ok(true);
        }
        let chunk: Chunk = serde_json::from_str(data).map_err(|e| {
            Failure::new(
                "protocol",
                format!("stream chunk is not JSON ({e}): {}", clip(data)),
            )
        })?;
        if let Some(error) = chunk.error {
            return Err(Failure::new("stream_error", clip(&error.to_string())));
        }
        let mut has_token = false;
        for choice in chunk.choices {
            let delta = choice.delta.map(|d| (d.content, d.reasoning_content));
            let texts = [
                delta.as_ref().and_then(|d| d.0.as_deref()),
                delta.as_ref().and_then(|d| d.1.as_deref()),
                choice.text.as_deref(),
            ];
            for text in texts.into_iter().flatten() {
                if !text.is_empty() {
                    has_token = true;
                    self.reply.text.push_str(text);
                }
            }
            self.finished |= choice.finish_reason.is_some();
        }
        if let Some(usage) = chunk.usage {
            usage.apply(&mut self.reply);
        }
        if has_token {
            self.reply.chunks += 1;
            match self.last_token {
                None => self.first_token = Some(now),
                Some(last) => {
                    let gap = now.saturating_duration_since(last).as_micros();
                    self.gaps_us.push(u32::try_from(gap).unwrap_or(u32::MAX));
                }
            }
            self.last_token = Some(now);
        }
        Ok(false)
    }

    /// Without `[DONE]`, a stream that reported a finish reason still counts as complete
    /// (some servers omit the marker); one that just stopped was cut off.
    pub(super) fn end_without_done(&self) -> Result<(), Failure> {
        if self.finished {
            Ok(())
        } else {
            Err(Failure::new(
                "stream_error",
                "the stream ended before [DONE] or a finish reason",
            ))
        }
    }
}

pub(super) async fn read_stream(body: Incoming, tally: &mut StreamTally) -> Result<(), Failure> {
    let mut events = BodyDataStream::new(body).eventsource();
    while let Some(event) = events.next().await {
        let now = Instant::now();
        let event = event.map_err(|e| Failure::new("io", e.to_string()))?;
        if tally.take(&event.data, now)? {
            return Ok(());
        }
    }
    tally.end_without_done()
}

fn clip(text: &str) -> String {
    text.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_tokens_and_reads_usage() {
        let t0 = Instant::now();
        let mut tally = StreamTally::default();
        let ms = |n| t0 + Duration::from_millis(n);
        assert!(
            !tally
                .take(
                    r#"{"choices":[{"delta":{"role":"assistant","content":""}}]}"#,
                    ms(1)
                )
                .unwrap()
        );
        assert!(
            !tally
                .take(r#"{"choices":[{"delta":{"content":"a"}}]}"#, ms(10))
                .unwrap()
        );
        assert!(
            !tally
                .take(r#"{"choices":[{"delta":{"content":"b"}}]}"#, ms(15))
                .unwrap()
        );
        assert!(
            !tally
                .take(
                    r#"{"choices":[{"text":"c","finish_reason":"length"}]}"#,
                    ms(22)
                )
                .unwrap()
        );
        assert!(!tally.take(r#"{"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":8}}}"#, ms(23)).unwrap());
        assert!(tally.take("[DONE]", ms(24)).unwrap());
        assert_eq!(tally.first_token, Some(ms(10)));
        assert_eq!(tally.gaps_us, vec![5000, 7000]);
        assert_eq!(tally.reply.text, "abc");
        assert_eq!(tally.reply.chunks, 3);
        assert_eq!(
            (
                tally.reply.prompt_tokens,
                tally.reply.output_tokens,
                tally.reply.cached_tokens
            ),
            (Some(9), Some(3), Some(8))
        );
        assert!(tally.end_without_done().is_ok());
    }

    #[test]
    fn error_events_and_cut_streams_fail() {
        let mut tally = StreamTally::default();
        let err = tally
            .take(
                r#"{"error":{"message":"upstream died","type":"upstream_error"}}"#,
                Instant::now(),
            )
            .unwrap_err();
        assert_eq!(err.kind, "stream_error");
        assert!(err.detail.contains("upstream died"));
        let mut tally = StreamTally::default();
        tally
            .take(r#"{"choices":[{"delta":{"content":"a"}}]}"#, Instant::now())
            .unwrap();
        assert_eq!(tally.end_without_done().unwrap_err().kind, "stream_error");
        assert_eq!(
            tally.take("{oops", Instant::now()).unwrap_err().kind,
            "protocol"
        );
    }
}
