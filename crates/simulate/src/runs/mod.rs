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

/// Runs every scenario to the end on up to `threads` threads and hands each result to
/// `finish` (with the scenario's index) on the thread that ran it, as soon as it is done, so
/// writing one run's outputs overlaps the runs still going. `finish`'s answers come back in
/// input order.
pub fn run_all<T, F>(scenarios: &[Scenario], threads: usize, finish: F) -> Vec<T>
where
    T: Send,
    F: Fn(usize, Result<SimResult, SimError>) -> T + Sync,
{
    let n = scenarios.len();
    let next = AtomicUsize::new(0);
    let answers: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
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
                    let answer = finish(i, result);
                    lock(&answers)[i] = Some(answer);
                }
            });
        }
    });
    // Every index was taken by a worker that ran to the end: a worker that panicked makes
    // `scope` panic before this line, so no answer is missing here.
    let answers = answers.into_inner().unwrap_or_else(|e| e.into_inner());
    answers.into_iter().flatten().collect()
}

#[cfg(test)]
mod tests;
