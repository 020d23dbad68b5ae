//! Monotonic milliseconds since the process started: cheap to read and
//! small enough to keep in an atomic, for ages and ejection deadlines.

use std::sync::OnceLock;
use std::time::Instant;

static START: OnceLock<Instant> = OnceLock::new();

pub fn now_ms() -> u64 {
    let start = START.get_or_init(Instant::now);
    // Starts at 1 so that 0 can mean "never".
    start.elapsed().as_millis() as u64 + 1
}

/// Milliseconds since the Unix epoch (wall clock), for timestamps others
/// read and for periods aligned to the calendar.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
