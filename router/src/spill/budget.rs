//! A provider's spend budget: reserve an estimate before a request is sent,
//! settle it with the cost of the usage the provider reports (reserve, then
//! reconcile), so concurrent requests cannot overspend between them.

use std::sync::{Arc, Mutex};

use switchyard_backends::providers::Usage;

use crate::config::{BudgetConfig, Price};

/// Spend metrics, by `provider`: US dollars spent in the current period,
/// and what is left of its budget.
pub const SPEND: &str = "switchyard_provider_spend_usd";
pub const REMAINING: &str = "switchyard_provider_budget_remaining_usd";

#[derive(Debug)]
pub struct Budget {
    provider: String,
    limit_usd: f64,
    period_ms: u64,
    ledger: Mutex<Ledger>,
}

#[derive(Debug, Default)]
struct Ledger {
    period: u64,
    spent: f64,
    reserved: f64,
}

impl Ledger {
    fn roll(&mut self, period: u64) {
        if period != self.period {
            self.period = period;
            self.spent = 0.0;
        }
    }
}

/// What `usage` costs at `price`, in US dollars.
pub fn cost(usage: &Usage, price: &Price) -> f64 {
    let cached = usage.cached_tokens.min(usage.prompt_tokens);
    let uncached = usage.prompt_tokens - cached;
    let cached_price = price.cached_input_per_mtok.unwrap_or(price.input_per_mtok);
    (uncached as f64 * price.input_per_mtok
        + cached as f64 * cached_price
        + usage.completion_tokens as f64 * price.output_per_mtok)
        / 1e6
}

impl Budget {
    pub fn new(provider: &str, config: &BudgetConfig) -> Self {
        let budget = Self {
            provider: provider.to_owned(),
            limit_usd: config.usd,
            period_ms: (config.period.as_millis() as u64).max(1),
            ledger: Mutex::new(Ledger::default()),
        };
        budget.publish(0.0);
        budget
    }

    /// Holds `estimate_usd` of the budget for one request, or `None` when
    /// the period's spend plus what is held would exceed it.
    pub fn reserve(self: &Arc<Self>, estimate_usd: f64, now_ms: u64) -> Option<Reservation> {
        let mut ledger = self.ledger.lock().ok()?;
        ledger.roll(now_ms / self.period_ms);
        if ledger.spent + ledger.reserved + estimate_usd > self.limit_usd {
            return None;
        }
        ledger.reserved += estimate_usd;
        Some(Reservation {
            budget: Arc::clone(self),
            held: estimate_usd,
            settled: false,
        })
    }

    /// Counts `cost` in the period the ledger is in (the one the request
    /// reserved in, unless a later reservation rolled it over).
    fn settle(&self, held: f64, cost: f64) {
        let Ok(mut ledger) = self.ledger.lock() else {
            return;
        };
        ledger.reserved = (ledger.reserved - held).max(0.0);
        ledger.spent += cost;
        let spent = ledger.spent;
        drop(ledger);
        self.publish(spent);
    }

    fn publish(&self, spent: f64) {
        metrics::gauge!(SPEND, "provider" => self.provider.clone()).set(spent);
        metrics::gauge!(REMAINING, "provider" => self.provider.clone())
            .set((self.limit_usd - spent).max(0.0));
    }

    /// (spent, reserved) in the current period.
    #[cfg(test)]
    fn state(&self) -> (f64, f64) {
        self.ledger
            .lock()
            .map(|l| (l.spent, l.reserved))
            .unwrap_or((0.0, 0.0))
    }
}

/// Budget held for one request; released unspent if dropped unsettled.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<Budget>,
    held: f64,
    settled: bool,
}

impl Reservation {
    pub fn settle(mut self, cost_usd: f64) {
        self.settled = true;
        self.budget.settle(self.held, cost_usd);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.settled {
            self.budget.settle(self.held, 0.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(usd: f64) -> Arc<Budget> {
        Arc::new(Budget::new(
            "p",
            &BudgetConfig {
                usd,
                period: std::time::Duration::from_secs(60),
            },
        ))
    }

    #[test]
    fn reservations_cannot_overspend() {
        let b = budget(1.0);
        let first = b.reserve(0.6, 1_000).expect("fits");
        assert!(b.reserve(0.6, 1_000).is_none(), "0.6 is held");
        first.settle(0.3);
        assert_eq!(b.state(), (0.3, 0.0));
        let second = b.reserve(0.6, 1_000).expect("0.3 + 0.6 fits");
        drop(second);
        assert_eq!(
            b.state(),
            (0.3, 0.0),
            "an unsettled reservation is released"
        );
        assert!(b.reserve(0.71, 1_000).is_none());
        // The next period starts from zero.
        assert!(b.reserve(0.9, 61_000).is_some());
    }

    #[test]
    fn cost_from_usage() {
        let price = Price {
            input_per_mtok: 1.0,
            output_per_mtok: 4.0,
            cached_input_per_mtok: Some(0.5),
        };
        let usage = Usage {
            prompt_tokens: 1_000_000,
            completion_tokens: 500_000,
            cached_tokens: 200_000,
        };
        assert!((cost(&usage, &price) - (0.8 + 0.1 + 2.0)).abs() < 1e-9);
    }
}
