//! Many simulations at once: `--runs N` (N seeds of one scenario) and `compare` (several
//! scenarios). Runs are independent, so each takes a core: a pool of threads, each with its
//! own single-threaded runtime, takes the next scenario until none is left.

mod spread;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use tidal_core::sync::lock;

use crate::engine::{SimError, SimResult};
use crate::scenario::Scenario;

pub use spread::{Spread, SpreadRow};

/// Threads to use: the machine's cores (1 if unknown).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Runs every scenario to the end on up to `threads` threads; results in input order.
pub fn run_all(scenarios: &[Scenario], threads: usize) -> Vec<Result<SimResult, SimError>> {
    let n = scenarios.len();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<SimResult, SimError>>>> =
        Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads.clamp(1, n.max(1)) {
            s.spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread().build();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(scenario) = scenarios.get(i) else {
                        break;
                    };
                    let result = match &rt {
                        Ok(rt) => rt.block_on(crate::simulate(scenario.clone())),
                        Err(e) => Err(SimError::Runtime(e.to_string())),
                    };
                    lock(&results)[i] = Some(result);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(SimError::Runtime("a worker thread stopped".into()))))
        .collect()
}

#[cfg(test)]
mod tests;
