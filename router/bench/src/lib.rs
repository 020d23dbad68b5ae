//! `switchyard bench`: the load generator and report for OpenAI-compatible servers and the
//! router. Targets ([`target`]) say how to send; workloads ([`workload`]) say what; load
//! shapes ([`run`]) say when; everything measured ends up in one results file ([`results`])
//! that the terminal summary, the HTML/PNG report and `bench compare` read.

pub mod ab;
pub mod app;
pub mod assemble;
pub mod cli;
pub mod compare;
pub mod http_get;
pub mod progress;
pub mod report;
pub mod results;
pub mod run;
pub mod scrape;
pub mod summarize;
pub mod target;
pub mod terminal;
pub mod workload;

pub use app::main;
pub use cli::BenchCommand;
