//! A model's batching limits, with the batch size that can change at run
//! time (Triton's own model config may lower it, or turn batching off).

use std::sync::atomic::{AtomicUsize, Ordering};

use metrics::Gauge;

use super::queue::Limits;
use crate::config::BatchingConfig;
use crate::observability::metrics as m;

pub struct Settings {
    base: Limits,
    /// Rows per call now; 0 while the router passes the model through.
    max_rows: AtomicUsize,
    max_rows_gauge: Gauge,
}

impl Settings {
    /// `batching_now`: whether to batch from the start, or wait until the
    /// server's own model config says the model can take batches.
    pub fn new(model: &str, config: &BatchingConfig, batching_now: bool) -> Self {
        let configured = config.max_batch_size as usize;
        let max_rows = if batching_now { configured } else { 0 };
        let max_rows_gauge = metrics::gauge!(m::BATCH_MAX_ROWS, "model" => model.to_owned());
        max_rows_gauge.set(max_rows as f64);
        Self {
            base: Limits {
                max_rows: configured,
                max_queue_delay: config.max_queue_delay,
                preferred: config
                    .preferred_batch_sizes
                    .iter()
                    .map(|&s| s as usize)
                    .collect(),
                max_queued: config.max_queued as usize,
                eager_when_quiet: config.eager_when_quiet,
            },
            max_rows: AtomicUsize::new(max_rows),
            max_rows_gauge,
        }
    }

    pub fn limits(&self) -> Limits {
        Limits {
            max_rows: self.max_rows.load(Ordering::Relaxed),
            ..self.base.clone()
        }
    }

    /// The configured batch size.
    pub fn configured_rows(&self) -> usize {
        self.base.max_rows
    }

    /// Batches of up to `rows` from now on (0: pass through).
    pub fn set_max_rows(&self, rows: usize) {
        self.max_rows.store(rows, Ordering::Relaxed);
        self.max_rows_gauge.set(rows as f64);
    }
}
