//! What the simulated cloud bills: instance-seconds and USD, in total and per node pool.
//! Billing runs from launch to the termination request, as EC2 bills it.

use std::collections::BTreeMap;
use std::time::Duration;

/// Instance-hours and cost billed so far (billing runs from launch to termination request).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Billing {
    /// Σ over instances of seconds billed.
    pub instance_seconds: f64,
    /// Σ over instances of USD billed.
    pub cost_usd: f64,
    /// Instances billed right now.
    pub instances: u32,
    /// Current spend rate in USD per hour.
    pub usd_per_hour: f64,
}

impl Billing {
    fn add(&mut self, usd_per_hour: f64) {
        self.instances += 1;
        self.usd_per_hour += usd_per_hour;
    }

    fn remove(&mut self, usd_per_hour: f64) {
        self.instances = self.instances.saturating_sub(1);
        self.usd_per_hour = (self.usd_per_hour - usd_per_hour).max(0.0);
    }

    fn integrate(&mut self, dt: Duration) {
        let secs = dt.as_secs_f64();
        self.instance_seconds += f64::from(self.instances) * secs;
        self.cost_usd += self.usd_per_hour * secs / 3600.0;
    }

    /// What was billed between `earlier` and this reading (the current rate stays as is).
    pub fn since(&self, earlier: &Billing) -> Billing {
        Billing {
            instance_seconds: self.instance_seconds - earlier.instance_seconds,
            cost_usd: self.cost_usd - earlier.cost_usd,
            ..*self
        }
    }
}

/// Billing in total and per node pool.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ledger {
    /// All pools together.
    pub total: Billing,
    /// Per pool name (pools that never launched an instance are absent).
    pub by_pool: BTreeMap<String, Billing>,
}

impl Ledger {
    pub(super) fn add(&mut self, pool: &str, usd_per_hour: f64) {
        self.total.add(usd_per_hour);
        self.pool(pool).add(usd_per_hour);
    }

    pub(super) fn remove(&mut self, pool: &str, usd_per_hour: f64) {
        self.total.remove(usd_per_hour);
        self.pool(pool).remove(usd_per_hour);
    }

    pub(super) fn integrate(&mut self, dt: Duration) {
        self.total.integrate(dt);
        for b in self.by_pool.values_mut() {
            b.integrate(dt);
        }
    }

    fn pool(&mut self, pool: &str) -> &mut Billing {
        // Launches and terminations are rare next to ticks: the key allocation is fine.
        self.by_pool.entry(pool.to_owned()).or_default()
    }

    /// One pool's billing (zero if it never launched anything).
    pub fn of(&self, pool: &str) -> Billing {
        self.by_pool.get(pool).copied().unwrap_or_default()
    }
}
