//! Answers of SubjectAccessReviews kept for a while, like kube-apiserver's webhook authorizer
//! keeps them: an allow for longer than a deny (a new RoleBinding takes effect sooner than a
//! removed one stops), errors never. Bounded: when full, expired answers go first, then the one
//! closest to expiring.

use std::collections::HashMap;
use std::time::Duration;

use tidal_core::Timestamp;

use super::Decision;
use super::attributes::AccessRequest;

/// How long answers are kept, and how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheSettings {
    /// How long an allow is reused.
    pub allowed_ttl: Duration,
    /// How long a deny is reused.
    pub denied_ttl: Duration,
    /// Most answers kept.
    pub capacity: usize,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            allowed_ttl: Duration::from_secs(300),
            denied_ttl: Duration::from_secs(30),
            capacity: 8192,
        }
    }
}

struct Cached {
    decision: Decision,
    expires: Timestamp,
}

/// The kept answers.
pub(super) struct DecisionCache {
    settings: CacheSettings,
    entries: HashMap<AccessRequest, Cached>,
}

impl DecisionCache {
    pub fn new(settings: CacheSettings) -> Self {
        Self {
            settings,
            entries: HashMap::new(),
        }
    }

    /// The kept answer to `request` at `now`, if it has not expired.
    pub fn get(&mut self, request: &AccessRequest, now: Timestamp) -> Option<Decision> {
        match self.entries.get(request) {
            Some(cached) if now < cached.expires => Some(cached.decision.clone()),
            Some(_) => {
                self.entries.remove(request);
                None
            }
            None => None,
        }
    }

    /// Keeps `decision` for its TTL from `now`.
    pub fn put(&mut self, request: AccessRequest, decision: Decision, now: Timestamp) {
        let ttl = match decision {
            Decision::Allowed => self.settings.allowed_ttl,
            Decision::Denied { .. } => self.settings.denied_ttl,
        };
        if ttl.is_zero() || self.settings.capacity == 0 {
            return;
        }
        if !self.entries.contains_key(&request) && self.entries.len() >= self.settings.capacity {
            self.make_room(now);
        }
        self.entries.insert(
            request,
            Cached {
                decision,
                expires: now + ttl,
            },
        );
    }

    fn make_room(&mut self, now: Timestamp) {
        self.entries.retain(|_, cached| now < cached.expires);
        if self.entries.len() < self.settings.capacity {
            return;
        }
        let soonest = self
            .entries
            .iter()
            .min_by_key(|(_, cached)| cached.expires)
            .map(|(request, _)| request.clone());
        if let Some(request) = soonest {
            self.entries.remove(&request);
        }
    }

    /// How many answers are kept.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}
