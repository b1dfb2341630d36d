//! Which collectors hold values under one (namespace, resource, metric) key, and by label.
//!
//! The HPA controller asks for pods by label selector (`app=web`) and for external metrics by
//! their labels (`type=sqs-queue-length,queue-name=jobs`). A namespace with hundreds of HPAs
//! has hundreds of collectors under the same key; scanning all their values and matching every
//! selector was most of the serving cost. Each key therefore also maps every label pair its
//! values carry to the collectors that have it, and a query with equality requirements only
//! visits the collectors of its rarest pair.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use kube::core::Expression;

use crate::selector::Selector;

/// Internal collector id: shared, so the indexes do not copy it.
pub(super) type Cid = Arc<str>;

/// Collectors under one key, overall and by label pair.
#[derive(Default, Debug)]
pub(super) struct KeyIndex {
    all: HashSet<Cid>,
    by_label: HashMap<String, HashMap<String, HashSet<Cid>>>,
}

/// The collectors a query has to look at.
pub(super) enum Candidates<'a> {
    /// Every collector under the key.
    All(&'a HashSet<Cid>),
    /// Only these.
    Some(&'a HashSet<Cid>),
    /// None can match (a required label pair is held by no collector).
    None,
}

impl<'a> Candidates<'a> {
    pub(super) fn iter(&self) -> impl Iterator<Item = &'a Cid> + use<'a> {
        let set = match self {
            Candidates::All(set) | Candidates::Some(set) => Some(*set),
            Candidates::None => None,
        };
        set.into_iter().flatten()
    }
}

impl KeyIndex {
    pub(super) fn is_empty(&self) -> bool {
        self.all.is_empty()
    }

    /// Records that `id` holds values with these label pairs.
    pub(super) fn add<'l>(
        &mut self,
        id: &Cid,
        labels: impl IntoIterator<Item = (&'l String, &'l String)>,
    ) {
        if !self.all.contains(id) {
            self.all.insert(id.clone());
        }
        for (key, value) in labels {
            // Look up before inserting: most pairs exist already, and keys are only cloned once.
            if !self.by_label.contains_key(key) {
                self.by_label.insert(key.clone(), HashMap::new());
            }
            let Some(values) = self.by_label.get_mut(key) else {
                continue;
            };
            if !values.contains_key(value) {
                values.insert(value.clone(), HashSet::new());
            }
            if let Some(ids) = values.get_mut(value)
                && !ids.contains(id)
            {
                ids.insert(id.clone());
            }
        }
    }

    /// Forgets `id` (with the same label pairs it was added with).
    pub(super) fn remove<'l>(
        &mut self,
        id: &str,
        labels: impl IntoIterator<Item = (&'l String, &'l String)>,
    ) {
        self.all.remove(id);
        for (key, value) in labels {
            let Some(values) = self.by_label.get_mut(key) else {
                continue;
            };
            if let Some(ids) = values.get_mut(value) {
                ids.remove(id);
                if ids.is_empty() {
                    values.remove(value);
                }
            }
            if values.is_empty() {
                self.by_label.remove(key);
            }
        }
    }

    /// The collectors that can hold values matching `selector` (`None`: no label selection).
    pub(super) fn candidates(&self, selector: Option<&Selector>) -> Candidates<'_> {
        let Some(selector) = selector else {
            return Candidates::All(&self.all);
        };
        let mut best: Option<&HashSet<Cid>> = None;
        for expression in selector.clone() {
            // `key in (v)` is the same as `key=v`; wider sets and negations do not narrow.
            let (key, value) = match expression {
                Expression::Equal(key, value) => (key, value),
                Expression::In(key, values) if values.len() == 1 => match values.into_iter().next()
                {
                    Some(value) => (key, value),
                    None => continue,
                },
                _ => continue,
            };
            let Some(ids) = self
                .by_label
                .get(key.as_str())
                .and_then(|v| v.get(value.as_str()))
            else {
                return Candidates::None;
            };
            if best.is_none_or(|b| ids.len() < b.len()) {
                best = Some(ids);
            }
        }
        match best {
            Some(ids) => Candidates::Some(ids),
            None => Candidates::All(&self.all),
        }
    }
}
