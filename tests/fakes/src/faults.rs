//! Faults a test can script into the fake providers.

/// A failure the fake providers answer instead of the next requests (see
/// [`FakeProvider::fail_next`](crate::FakeProvider::fail_next)). Each fake
/// renders it with its provider's own status, headers and error JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The fake answers `429` with a `retry-after` header (seconds) and the
    /// provider's rate-limit error: OpenAI `rate_limit_exceeded` (type `requests`),
    /// Azure code `429` (plus `retry-after-ms`), Anthropic `rate_limit_error`.
    RateLimited {
        /// Value of the fake's `retry-after` header.
        retry_after_secs: u64,
    },
    /// The fake answers this status with the provider's error body for it (for example 500,
    /// 503, or 529, Anthropic's `overloaded_error`).
    Status(u16),
    /// The fake answers as the provider does when overloaded: Anthropic `529 overloaded_error`,
    /// OpenAI and Azure `503`.
    Overloaded,
}
