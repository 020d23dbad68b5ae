//! `fake-provider`: runs the FAKE OpenAI, Azure OpenAI and Anthropic APIs
//! of `switchyard-fakes` as a process, for tests and local experiments.

use std::error::Error;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use switchyard_fakes::{FakeConfig, FakeProvider};

/// FAKE OpenAI, Azure OpenAI and Anthropic APIs for tests (not the real
/// services). Serves /v1/chat/completions, /v1/completions, /v1/embeddings,
/// /v1/models, /openai/deployments/{deployment}/... and /v1/messages with
/// deterministic replies, validating requests as the real APIs do. Prints
/// FAKE_PROVIDER_URL=http://ADDR once listening; runs until SIGINT/SIGTERM.
#[derive(Debug, Parser)]
#[command(name = "fake-provider", version)]
struct Args {
    /// Address to listen on (port 0: a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The only API key the fakes accept (Bearer, api-key or x-api-key).
    #[arg(long, default_value = "fake-api-key")]
    api_key: String,
    /// Time to first token, in milliseconds.
    #[arg(long, default_value_t = 0)]
    ttft_ms: u64,
    /// Time between tokens, in milliseconds.
    #[arg(long, default_value_t = 0)]
    token_ms: u64,
    /// Words in a reply that max_tokens does not cut short.
    #[arg(long, default_value_t = 16)]
    max_words: u32,
    /// An Azure deployment name (repeatable; none: any name is accepted).
    #[arg(long = "azure-deployment")]
    azure_deployments: Vec<String>,
    /// A model name the fake OpenAI and Anthropic accept (repeatable;
    /// none: any model is accepted).
    #[arg(long = "model")]
    models: Vec<String>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args = Args::parse();
    let config = FakeConfig {
        api_key: args.api_key,
        ttft: Duration::from_millis(args.ttft_ms),
        token_interval: Duration::from_millis(args.token_ms),
        default_max_words: args.max_words,
        azure_deployments: args.azure_deployments,
        models: args.models,
    };
    let provider = FakeProvider::start_on(config, args.listen).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "FAKE_PROVIDER_URL={}", provider.url())?;
    out.flush()?;
    drop(out);
    wait_for_signal().await?;
    provider.stop().await;
    Ok(())
}

/// Waits for SIGINT or SIGTERM.
async fn wait_for_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
