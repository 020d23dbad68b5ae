//! OpenAI-compatible servers (vLLM, SGLang, llama.cpp, TGI, the router itself, hosted APIs):
//! chat completions, completions and embeddings, streamed or not.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use serde::Deserialize;
use serde_json::{Value, json};
use switchyard_backends::{HttpClient, error_chain};

use super::sse::{StreamTally, read_stream};
use super::{Exchange, Failure, Outcome, Reply, SendFuture, Target};

/// Error bodies and non-streamed answers larger than this are cut off.
const MAX_BODY: usize = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    Chat,
    Completions,
    Embeddings,
}

impl Api {
    pub fn path(self) -> &'static str {
        match self {
            Self::Chat => "/v1/chat/completions",
            Self::Completions => "/v1/completions",
            Self::Embeddings => "/v1/embeddings",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Chat => "chat",
            Self::Completions => "completions",
            Self::Embeddings => "embeddings",
        }
    }
}

#[derive(Debug, Clone)]
pub struct OpenAiTargetConfig {
    /// Base URL, e.g. `http://127.0.0.1:8000` (a trailing `/v1` is accepted).
    pub url: String,
    pub model: String,
    pub api: Api,
    pub stream: bool,
    /// vLLM's `ignore_eos`: generate exactly `max_tokens`.
    pub ignore_eos: bool,
    pub api_key: Option<String>,
    /// Extra request headers.
    pub headers: Vec<(String, String)>,
    /// Whole-request limit.
    pub timeout: Duration,
}

pub struct OpenAiTarget {
    client: HttpClient,
    uri: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    config: OpenAiTargetConfig,
}

impl OpenAiTarget {
    pub fn new(client: HttpClient, config: OpenAiTargetConfig) -> Result<Self, String> {
        let base = config.url.trim_end_matches('/');
        let base = base.strip_suffix("/v1").unwrap_or(base);
        let uri: Uri = format!("{base}{}", config.api.path())
            .parse()
            .map_err(|e| format!("bad URL `{}`: {e}", config.url))?;
        if uri.scheme().is_none() || uri.authority().is_none() {
            return Err(format!(
                "bad URL `{}`: expected http://HOST:PORT or https://HOST",
                config.url
            ));
        }
        let mut headers = vec![(CONTENT_TYPE, HeaderValue::from_static("application/json"))];
        if let Some(key) = &config.api_key {
            let mut value = HeaderValue::from_str(&format!("Bearer {key}"))
                .map_err(|_| "the API key is not a valid header value".to_string())?;
            value.set_sensitive(true);
            headers.push((AUTHORIZATION, value));
        }
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("bad header name `{name}`"))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("bad value for header `{name}`"))?;
            headers.push((name, value));
        }
        Ok(Self {
            client,
            uri,
            headers,
            config,
        })
    }

    fn body(&self, exchange: &Exchange<'_>) -> Value {
        let c = &self.config;
        let mut body = match c.api {
            Api::Embeddings => {
                return json!({"model": c.model, "input": exchange.flattened()});
            }
            Api::Chat => {
                let mut messages = Vec::with_capacity(exchange.history.len() * 2 + 2);
                if let Some(system) = exchange.system {
                    messages.push(json!({"role": "system", "content": system}));
                }
                for (user, reply) in exchange.history {
                    messages.push(json!({"role": "user", "content": user}));
                    messages.push(json!({"role": "assistant", "content": reply}));
                }
                messages.push(json!({"role": "user", "content": exchange.user}));
                json!({"model": c.model, "messages": messages, "max_tokens": exchange.max_tokens})
            }
            Api::Completions => json!({
                "model": c.model,
                "prompt": exchange.flattened(),
                "max_tokens": exchange.max_tokens,
            }),
        };
        if c.stream {
            body["stream"] = json!(true);
            body["stream_options"] = json!({"include_usage": true});
        }
        if c.ignore_eos {
            body["ignore_eos"] = json!(true);
        }
        body
    }

    async fn exchange(&self, exchange: Exchange<'_>) -> Outcome {
        let body = self.body(&exchange);
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone());
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        let sent = Instant::now();
        let mut outcome = Outcome {
            sent,
            first_token: None,
            done: sent,
            chunk_gaps_us: Vec::new(),
            endpoint: None,
            result: Err(Failure::new("protocol", "not sent")),
        };
        let request = match serde_json::to_vec(&body)
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                builder
                    .body(Full::new(Bytes::from(bytes)))
                    .map_err(|e| e.to_string())
            }) {
            Ok(request) => request,
            Err(e) => {
                outcome.result = Err(Failure::new("protocol", e));
                return outcome;
            }
        };
        let deadline = tokio::time::Instant::from_std(sent + self.config.timeout);
        let result =
            tokio::time::timeout_at(deadline, self.round_trip(request, &mut outcome)).await;
        outcome.done = Instant::now();
        outcome.result = match result {
            Ok(result) => result,
            Err(_) => Err(Failure::new(
                "timeout",
                format!("no complete answer within {:?}", self.config.timeout),
            )),
        };
        outcome
    }

    async fn round_trip(
        &self,
        request: Request<Full<Bytes>>,
        outcome: &mut Outcome,
    ) -> Result<Reply, Failure> {
        let response = self.client.request(request).await.map_err(|e| {
            let kind = if e.is_connect() { "connect" } else { "io" };
            Failure::new(kind, error_chain(&e))
        })?;
        outcome.endpoint = response
            .headers()
            .get("x-switchyard-endpoint")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let status = response.status();
        if status != StatusCode::OK {
            let detail = read_body(response.into_body()).await.unwrap_or_default();
            return Err(Failure::new(
                format!("http_{}", status.as_u16()),
                String::from_utf8_lossy(&detail)
                    .chars()
                    .take(300)
                    .collect::<String>(),
            ));
        }
        if self.config.stream && self.config.api != Api::Embeddings {
            let mut tally = StreamTally::default();
            let result = read_stream(response.into_body(), &mut tally).await;
            outcome.first_token = tally.first_token;
            outcome.chunk_gaps_us = std::mem::take(&mut tally.gaps_us);
            result.map(|()| tally.reply)
        } else {
            let bytes = read_body(response.into_body())
                .await
                .map_err(|e| Failure::new("io", e))?;
            parse_whole(&bytes, self.config.api)
        }
    }
}

impl Target for OpenAiTarget {
    fn describe(&self) -> String {
        let c = &self.config;
        format!(
            "{} {} model={}{}",
            c.api.name(),
            self.uri,
            c.model,
            if c.stream && c.api != Api::Embeddings {
                " stream"
            } else {
                ""
            }
        )
    }

    fn send<'a>(&'a self, exchange: Exchange<'a>) -> SendFuture<'a> {
        Box::pin(self.exchange(exchange))
    }
}

async fn read_body(body: Incoming) -> Result<Bytes, String> {
    Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| e.to_string())
}

#[derive(Deserialize)]
pub(super) struct Usage {
    #[serde(default)]
    pub prompt_tokens: Option<u64>,
    #[serde(default)]
    pub completion_tokens: Option<u64>,
    #[serde(default)]
    pub prompt_tokens_details: Option<PromptDetails>,
}

#[derive(Deserialize)]
pub(super) struct PromptDetails {
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

impl Usage {
    pub(super) fn apply(&self, reply: &mut Reply) {
        reply.prompt_tokens = self.prompt_tokens.or(reply.prompt_tokens);
        reply.output_tokens = self.completion_tokens.or(reply.output_tokens);
        if let Some(cached) = self
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
        {
            reply.cached_tokens = Some(cached);
        }
    }
}

#[derive(Deserialize)]
struct WholeAnswer {
    #[serde(default)]
    choices: Vec<WholeChoice>,
    #[serde(default)]
    data: Option<Vec<Value>>,
    #[serde(default)]
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct WholeChoice {
    #[serde(default)]
    message: Option<Message>,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
struct Message {
    #[serde(default)]
    content: Option<String>,
}

fn parse_whole(bytes: &[u8], api: Api) -> Result<Reply, Failure> {
    let answer: WholeAnswer = serde_json::from_slice(bytes)
        .map_err(|e| Failure::new("protocol", format!("answer is not OpenAI JSON: {e}")))?;
    let mut reply = Reply::default();
    match api {
        Api::Embeddings => {
            if answer.data.as_ref().is_none_or(Vec::is_empty) {
                return Err(Failure::new("protocol", "embeddings answer has no data"));
            }
        }
        Api::Chat | Api::Completions => {
            let choice = answer
                .choices
                .into_iter()
                .next()
                .ok_or_else(|| Failure::new("protocol", "answer has no choices"))?;
            reply.text = choice
                .message
                .and_then(|m| m.content)
                .or(choice.text)
                .unwrap_or_default();
        }
    }
    if let Some(usage) = &answer.usage {
        usage.apply(&mut reply);
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_backends::{HttpClientConfig, build_http_client};

    fn target(api: Api, stream: bool) -> OpenAiTarget {
        OpenAiTarget::new(
            build_http_client(&HttpClientConfig::default()),
            OpenAiTargetConfig {
                url: "http://127.0.0.1:9/v1/".into(),
                model: "m".into(),
                api,
                stream,
                ignore_eos: true,
                api_key: Some("k".into()),
                headers: vec![("x-a".into(), "b".into())],
                timeout: Duration::from_secs(1),
            },
        )
        .unwrap()
    }

    #[test]
    fn builds_each_api_body() {
        let history = vec![("u1".to_string(), "a1".to_string())];
        let ex = Exchange {
            system: Some("sys"),
            history: &history,
            user: "u2",
            max_tokens: 5,
        };
        let chat = target(Api::Chat, true).body(&ex);
        assert_eq!(chat["messages"].as_array().unwrap().len(), 4);
        assert_eq!(chat["messages"][2]["role"], "assistant");
        assert_eq!(chat["stream_options"]["include_usage"], true);
        assert_eq!(chat["ignore_eos"], true);
        assert_eq!(chat["max_tokens"], 5);
        let completion = target(Api::Completions, false).body(&ex);
        assert_eq!(completion["prompt"], "sys\nu1\na1\nu2");
        assert!(completion.get("stream").is_none());
        let embed = target(Api::Embeddings, true).body(&ex);
        assert!(embed.get("stream").is_none() && embed.get("max_tokens").is_none());
        assert_eq!(
            target(Api::Chat, false).uri.to_string(),
            "http://127.0.0.1:9/v1/chat/completions"
        );
    }

    #[test]
    fn rejects_urls_without_host() {
        let mut config = target(Api::Chat, false).config;
        config.url = "localhost".into();
        let client = build_http_client(&HttpClientConfig::default());
        assert!(OpenAiTarget::new(client, config).is_err());
    }

    #[test]
    fn reads_whole_answers() {
        let chat = br#"{"choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":7,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":4}}}"#;
        let reply = parse_whole(chat, Api::Chat).unwrap();
        assert_eq!(reply.text, "hi");
        assert_eq!(
            (
                reply.prompt_tokens,
                reply.output_tokens,
                reply.cached_tokens
            ),
            (Some(7), Some(1), Some(4))
        );
        let text = br#"{"choices":[{"text":"yo"}],"usage":{"prompt_tokens":2,"completion_tokens":1,"prompt_tokens_details":null}}"#;
        let reply = parse_whole(text, Api::Completions).unwrap();
        assert_eq!((reply.text.as_str(), reply.cached_tokens), ("yo", None));
        assert!(parse_whole(br#"{"data":[]}"#, Api::Embeddings).is_err());
        assert!(parse_whole(br#"{"data":[{"embedding":[0.1]}]}"#, Api::Embeddings).is_ok());
        assert_eq!(
            parse_whole(b"nope", Api::Chat).unwrap_err().kind,
            "protocol"
        );
    }
}
