//! The live progress bar on stderr (drawn only when stderr is a terminal).

use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::run::Bound;
use crate::run::record::Collector;

pub struct Progress {
    enabled: bool,
}

/// Keeps the bar ticking until dropped.
pub struct Ticker {
    bar: ProgressBar,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.task.abort();
        self.bar.finish();
    }
}

impl Progress {
    pub fn new(enabled: bool) -> Self {
        Self { enabled }
    }

    pub fn stage(&self, label: &str, bound: Bound, collector: &Arc<Collector>) -> Ticker {
        let by_count = bound.duration.is_none();
        let length = match (bound.duration, bound.requests) {
            (Some(d), _) => d.as_millis() as u64,
            (None, Some(n)) => n,
            (None, None) => 0,
        };
        let target = if self.enabled {
            ProgressDrawTarget::stderr_with_hz(4)
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(length), target);
        let template = if by_count {
            "{prefix} [{bar:30}] {pos}/{len} {msg}"
        } else {
            "{prefix} [{bar:30}] {elapsed} {percent}% {msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(label.to_string());
        let start = Instant::now();
        let base_done = collector.done();
        let base_tokens = collector
            .output_tokens
            .load(std::sync::atomic::Ordering::Relaxed);
        let base_failed = collector.failed.load(std::sync::atomic::Ordering::Relaxed);
        let collector = Arc::clone(collector);
        let ticking = bar.clone();
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(250));
            loop {
                every.tick().await;
                let done = collector.done() - base_done;
                let failed =
                    collector.failed.load(std::sync::atomic::Ordering::Relaxed) - base_failed;
                let tokens = collector
                    .output_tokens
                    .load(std::sync::atomic::Ordering::Relaxed)
                    - base_tokens;
                let secs = start.elapsed().as_secs_f64().max(1e-3);
                if by_count {
                    ticking.set_position(done);
                } else {
                    ticking.set_position(start.elapsed().as_millis() as u64);
                }
                ticking.set_message(format!(
                    "{done} done, {failed} failed, {:.1} req/s, {:.0} tok/s",
                    done as f64 / secs,
                    tokens as f64 / secs
                ));
            }
        });
        Ticker { bar, task }
    }
}
