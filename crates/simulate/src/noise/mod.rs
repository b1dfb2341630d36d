//! Seeded variability, so that one scenario gives a spread of outcomes over seeds (`--runs`):
//! noise on each workload's load, a distribution of boot times, and spot interruptions as a
//! random process. The scenario's optional `noise:` section turns each on; without it a run
//! is exactly as before.
//!
//! - Load: each workload's load is multiplied by `max(0, 1 + load × x(t))`, where `x` is a
//!   standard normal AR(1) process on a one-minute grid with correlation time
//!   `load_correlation` (a deviation fades by 1/e over it), linearly interpolated. `load` is
//!   thus the relative standard deviation.
//! - Boot time: log-normal with median `cloud.boot_time` and 95th percentile `boot_time_p95`.
//! - Spot interruptions: per pool, each running spot instance is reclaimed at a constant rate
//!   (`per_instance_hour`), i.e. a Poisson process drawn once per tick.
//!
//! Every draw comes from a ChaCha stream seeded by the scenario's seed.

use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;

use crate::scenario::fields::HumanDuration;

/// Grid of the load noise.
const STEP_SECS: f64 = 60.0;
/// z of the 95th percentile of a standard normal.
const Z95: f64 = 1.644_853_626_951_472_2;

/// The `noise:` section as written.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNoise {
    /// Relative standard deviation of each workload's load (0: none).
    #[serde(default)]
    pub load: f64,
    /// How long a deviation of the load lasts (default 10m).
    #[serde(default)]
    pub load_correlation: Option<HumanDuration>,
    /// 95th percentile of boot times (default: every boot takes `cloud.boot_time`).
    #[serde(default)]
    pub boot_time_p95: Option<HumanDuration>,
    /// Random spot interruptions per pool.
    #[serde(default)]
    pub spot_interruptions: Vec<RawSpotRate>,
}

/// A spot pool's interruption rate.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpotRate {
    /// The pool (must be a spot pool).
    pub pool: String,
    /// Expected reclaims per running instance and hour, e.g. 0.01.
    pub per_instance_hour: f64,
}

/// Validated noise settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Noise {
    /// Relative standard deviation of load.
    pub load: f64,
    /// Correlation time of the load noise.
    pub load_correlation: Duration,
    /// 95th percentile of boot times, if they vary.
    pub boot_time_p95: Option<Duration>,
    /// (pool, reclaims per instance-hour).
    pub spot_interruptions: Vec<(String, f64)>,
}

impl RawNoise {
    /// Checks the values; `spot_pools` are the scenario's spot pools, `boot_time` its median
    /// boot time. Errors are (field path, message).
    pub fn validate(
        &self,
        spot_pools: &[&str],
        boot_time: Duration,
    ) -> Result<Noise, (String, String)> {
        let err = |f: &str, m: String| Err((format!("noise.{f}"), m));
        if !(self.load.is_finite() && (0.0..=2.0).contains(&self.load)) {
            return err("load", format!("{} is not a number from 0 to 2", self.load));
        }
        let correlation = self
            .load_correlation
            .map_or(Duration::from_secs(600), |d| d.0);
        if correlation.is_zero() {
            return err("load_correlation", "must be greater than zero".into());
        }
        let p95 = self.boot_time_p95.map(|d| d.0);
        if let Some(p) = p95.filter(|p| *p < boot_time) {
            return err(
                "boot_time_p95",
                format!(
                    "{} is below the median boot time cloud.boot_time ({})",
                    humantime::format_duration(p),
                    humantime::format_duration(boot_time)
                ),
            );
        }
        let mut rates = Vec::new();
        for (i, r) in self.spot_interruptions.iter().enumerate() {
            if !spot_pools.contains(&r.pool.as_str()) {
                return err(
                    &format!("spot_interruptions[{i}].pool"),
                    format!(
                        "{:?} is not a spot pool of this scenario (spot pools: {})",
                        r.pool,
                        spot_pools.join(", ")
                    ),
                );
            }
            if !(r.per_instance_hour.is_finite() && r.per_instance_hour >= 0.0) {
                return err(
                    &format!("spot_interruptions[{i}].per_instance_hour"),
                    format!("{} is not a number >= 0", r.per_instance_hour),
                );
            }
            rates.push((r.pool.clone(), r.per_instance_hour));
        }
        Ok(Noise {
            load: self.load,
            load_correlation: correlation,
            boot_time_p95: p95,
            spot_interruptions: rates,
        })
    }
}

/// Load factors of one workload: `max(0, 1 + sigma × x)` on a one-minute grid.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadNoise {
    factors: Arc<[f64]>,
}

impl LoadNoise {
    /// The factors of workload `index` over `span`, from the scenario's `seed`.
    pub fn new(noise: &Noise, seed: u64, index: usize, span: Duration) -> LoadNoise {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // Stream 0 is left to the engine; each workload draws from its own.
        rng.set_stream(index as u64 + 1);
        let n = (span.as_secs_f64() / STEP_SECS).ceil() as usize + 2;
        let rho = (-STEP_SECS / noise.load_correlation.as_secs_f64()).exp();
        let keep = (1.0 - rho * rho).sqrt();
        let mut x = normal(&mut rng);
        let factors = (0..n)
            .map(|_| {
                let f = (1.0 + noise.load * x).max(0.0);
                x = rho * x + keep * normal(&mut rng);
                f
            })
            .collect();
        LoadNoise { factors }
    }

    /// The factor at `t` seconds from 00:00 (interpolated; held at the ends).
    pub fn at(&self, t: f64) -> f64 {
        let pos = (t / STEP_SECS).max(0.0);
        let i = pos.floor() as usize;
        match (self.factors.get(i), self.factors.get(i + 1)) {
            (Some(a), Some(b)) => a + (b - a) * (pos - i as f64),
            (Some(a), None) => *a,
            _ => self.factors.last().copied().unwrap_or(1.0),
        }
    }
}

/// Boot times: log-normal around a median, or always the median.
#[derive(Debug)]
pub struct BootTimes {
    median: Duration,
    sigma: f64,
    rng: ChaCha8Rng,
}

impl BootTimes {
    /// Boot times with `median` and, if given, 95th percentile `p95`, drawn from `seed`.
    pub fn new(median: Duration, p95: Option<Duration>, seed: u64) -> BootTimes {
        let sigma = match p95 {
            Some(p) if !median.is_zero() && p > median => {
                (p.as_secs_f64() / median.as_secs_f64()).ln() / Z95
            }
            _ => 0.0,
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(u64::MAX);
        BootTimes { median, sigma, rng }
    }

    /// The next boot time.
    pub fn sample(&mut self) -> Duration {
        if self.sigma == 0.0 {
            return self.median;
        }
        let z = normal(&mut self.rng);
        Duration::from_secs_f64(self.median.as_secs_f64() * (self.sigma * z).exp())
    }
}

/// A standard normal draw (Box–Muller).
pub fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A Poisson draw with mean `mean` (Knuth's method; means here are far below 1 per tick).
pub fn poisson(rng: &mut impl Rng, mean: f64) -> u32 {
    if !(mean.is_finite() && mean > 0.0) {
        return 0;
    }
    let limit = (-mean.min(500.0)).exp();
    let mut k = 0u32;
    let mut p: f64 = rng.random();
    while p > limit {
        k += 1;
        p *= rng.random::<f64>();
    }
    k
}

#[cfg(test)]
mod tests;
