//! Readiness: the flag `/readyz` reports, set by the component's loop. Kept apart from the
//! admin server so a component built without it (the simulator) still takes the same handle.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether the component is ready for traffic; cloned handles share one flag.
#[derive(Debug, Clone, Default)]
pub struct Readiness(Arc<AtomicBool>);

impl Readiness {
    /// A handle that starts not ready.
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks the component ready (or not ready again, e.g. after losing a dependency).
    pub fn set_ready(&self, ready: bool) {
        self.0.store(ready, Ordering::Release);
    }

    /// Whether `/readyz` answers 200.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}
