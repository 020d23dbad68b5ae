//! Busy polling, as HAProxy's `busy-polling` and Linux's `net.core.busy_poll` do it: while
//! requests keep coming, each worker checks its sockets in a loop instead of sleeping.
//!
//! Why: a sleeping worker is woken by an interrupt from the core that received its data, and
//! on a VM an idle vCPU first has to leave halt; each costs tens of microseconds, and a
//! proxied request wakes the router twice (request in, upstream answer in). A polling worker
//! finds the data on its next poll. The price is a core at 100% while traffic flows, so the
//! pollers stop after `idle` with no new request and a request wakes them again.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Whether pollers run at all; the request path does nothing otherwise.
static ENABLED: AtomicBool = AtomicBool::new(false);
/// Requests seen so far; pollers watch it change.
static ACTIVITY: AtomicU64 = AtomicU64::new(0);
/// Pollers asleep now, so the request path notifies only when one is. A count, not a flag:
/// with several workers one poller waking must not hide another that still sleeps.
static SLEEPING: AtomicUsize = AtomicUsize::new(0);
static WAKE: Notify = Notify::const_new();

/// Called once per request: keeps the pollers polling, or wakes them.
pub fn note_request() {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    ACTIVITY.fetch_add(1, Ordering::SeqCst);
    if SLEEPING.load(Ordering::SeqCst) > 0 {
        WAKE.notify_waiters();
    }
}

/// Spawns one poller per worker of the current runtime, until `stop` fires. Tokio may run
/// two on one worker for a while; the other worker then sleeps as it would without them.
pub fn start(idle: Duration, stop: &CancellationToken) {
    ENABLED.store(true, Ordering::SeqCst);
    let workers = tokio::runtime::Handle::current().metrics().num_workers();
    for _ in 0..workers.max(1) {
        tokio::spawn(poll_while_busy(idle, stop.clone()));
    }
}

/// Yields in a loop while requests arrive. Tokio defers a yielded task until its worker has
/// polled the I/O driver without blocking, so the worker never parks; real tasks still run
/// first, since the yielded one goes to the back of the queue.
async fn poll_while_busy(idle: Duration, stop: CancellationToken) {
    let mut seen = ACTIVITY.load(Ordering::SeqCst);
    let mut last_request = Instant::now();
    while !stop.is_cancelled() {
        tokio::task::yield_now().await;
        // Lets a kernel thread that is due on this core (softirq work, say) run now rather
        // than at the next scheduler tick, milliseconds away.
        std::thread::yield_now();
        let now = ACTIVITY.load(Ordering::SeqCst);
        if now != seen {
            seen = now;
            last_request = Instant::now();
            continue;
        }
        if last_request.elapsed() < idle {
            continue;
        }
        // Registered before the flag is published, so a request that sees the flag and
        // notifies is never missed; the re-check covers one that came just before.
        let wake = WAKE.notified();
        SLEEPING.fetch_add(1, Ordering::SeqCst);
        let stopped = ACTIVITY.load(Ordering::SeqCst) == seen
            && tokio::select! {
                () = wake => false,
                () = stop.cancelled() => true,
            };
        SLEEPING.fetch_sub(1, Ordering::SeqCst);
        if stopped {
            return;
        }
        seen = ACTIVITY.load(Ordering::SeqCst);
        last_request = Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn pollers_sleep_when_idle_and_wake_on_a_request() {
        let stop = CancellationToken::new();
        start(Duration::from_millis(20), &stop);
        // Idle: the poller goes to sleep after 20 ms.
        let slept = async {
            while SLEEPING.load(Ordering::SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), slept)
            .await
            .expect("the poller sleeps once idle");
        // A request wakes it; it polls again (not sleeping) until idle once more.
        note_request();
        let woke = async {
            while SLEEPING.load(Ordering::SeqCst) > 0 {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(Duration::from_secs(5), woke)
            .await
            .expect("a request wakes the poller");
        stop.cancel();
    }
}
