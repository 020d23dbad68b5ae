//! Switchyard: an inference router for GPU model servers.
//!
//! The request path, one way: front end (`front`) -> model table (`models`)
//! -> pool and policy (`pool`, `policy`) -> backend client and streaming
//! (`proxy`) -> response. Background loops (`health`, `telemetry`) keep the
//! endpoint snapshots (`endpoint`) that the policies read.

pub mod agent;
pub mod app;
pub mod batch;
pub mod busy_poll;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod endpoint;
pub mod front;
pub mod health;
pub mod models;
pub mod observability;
pub mod policy;
pub mod pool;
pub mod prefix;
pub mod proxy;
pub mod saturation;
pub mod server;
pub mod spill;
pub mod telemetry;
pub mod tokenizer;

pub use app::App;
pub use server::{RunningRouter, StartError};
