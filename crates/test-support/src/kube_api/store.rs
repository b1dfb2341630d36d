//! The object store: objects as JSON by (URL prefix, resource, namespace, name), one global
//! resourceVersion counter, and a bounded history of changes that watches replay.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Map, Value, json};
use tokio::sync::watch;

use super::KubeApiError;
use super::kinds;
use super::selector::Selector;

/// Changes kept for watches; a watch from an older resourceVersion gets 410 Gone.
pub(crate) const HISTORY_LIMIT: usize = 10_000;

/// Where an object lives: `api/v1` + `pods` + namespace (empty when cluster-scoped) + name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ObjectKey {
    pub prefix: String,
    pub resource: String,
    pub namespace: String,
    pub name: String,
}

/// A collection, optionally narrowed to a namespace and by selectors (list and watch).
#[derive(Clone, Debug)]
pub(crate) struct Scope {
    pub prefix: String,
    pub resource: String,
    /// `None` = every namespace.
    pub namespace: Option<String>,
    pub selector: Selector,
}

impl Scope {
    fn contains(&self, prefix: &str, resource: &str, namespace: &str) -> bool {
        self.prefix == prefix
            && self.resource == resource
            && self.namespace.as_deref().is_none_or(|ns| ns == namespace)
    }
}

/// The kind of a change, as watch events name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChangeType {
    Added,
    Modified,
    Deleted,
}

impl ChangeType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
        }
    }
}

struct Change {
    rv: u64,
    kind: ChangeType,
    key: ObjectKey,
    /// The object before the change (to tell when it left or entered a selector).
    old: Option<Value>,
    /// The object after the change (for a deletion: its last state with the deletion's rv).
    object: Value,
}

/// All objects and their history. Callers hold it behind a mutex.
pub(crate) struct Store {
    objects: BTreeMap<ObjectKey, Value>,
    rv: u64,
    uids: u64,
    history: VecDeque<Change>,
    /// Changes up to this resourceVersion are no longer in `history`.
    compacted_through: u64,
    changed: watch::Sender<u64>,
}

fn meta(object: &mut Value) -> Result<&mut Map<String, Value>, KubeApiError> {
    let Value::Object(map) = object else {
        return Err(KubeApiError::BadRequest(
            "the body is not a JSON object".into(),
        ));
    };
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    meta.as_object_mut()
        .ok_or_else(|| KubeApiError::BadRequest("metadata is not an object".into()))
}

fn meta_str<'a>(object: &'a Value, field: &str) -> Option<&'a str> {
    object
        .get("metadata")?
        .get(field)?
        .as_str()
        .filter(|s| !s.is_empty())
}

/// `name` of the key's resource for messages: `pods "web-1"`.
fn describe(key: &ObjectKey) -> String {
    format!("{} {:?}", key.resource, key.name)
}

impl Store {
    pub(crate) fn new() -> Self {
        Self {
            objects: BTreeMap::new(),
            rv: 0,
            uids: 0,
            history: VecDeque::new(),
            compacted_through: 0,
            changed: watch::channel(0).0,
        }
    }

    /// The latest resourceVersion.
    pub(crate) fn rv(&self) -> u64 {
        self.rv
    }

    /// Wakes when the resourceVersion moves.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub(crate) fn get(&self, key: &ObjectKey) -> Result<Value, KubeApiError> {
        self.objects
            .get(key)
            .cloned()
            .ok_or_else(|| KubeApiError::NotFound(format!("{} not found", describe(key))))
    }

    /// Every stored object.
    pub(crate) fn all(&self) -> impl Iterator<Item = &Value> {
        self.objects.values()
    }

    /// Wakes every watch without a change (when the server closes).
    pub(crate) fn wake(&self) {
        self.changed.send_modify(|_| {});
    }

    /// Objects in `scope`, ordered by namespace and name.
    pub(crate) fn list(&self, scope: &Scope) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|(k, v)| {
                scope.contains(&k.prefix, &k.resource, &k.namespace) && scope.selector.matches(v)
            })
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The `kind` of a resource: from the table, else from a stored object.
    pub(crate) fn kind_of(&self, prefix: &str, resource: &str) -> Option<String> {
        if let Some(info) = kinds::by_resource(prefix, resource) {
            return Some(info.kind.to_owned());
        }
        self.objects
            .iter()
            .find(|(k, _)| k.prefix == prefix && k.resource == resource)
            .and_then(|(_, v)| v.get("kind")?.as_str().map(str::to_owned))
    }

    /// Creates `object` at `key` (its name already chosen); 409 AlreadyExists if taken.
    pub(crate) fn create(
        &mut self,
        key: ObjectKey,
        mut object: Value,
    ) -> Result<Value, KubeApiError> {
        if self.objects.contains_key(&key) {
            return Err(KubeApiError::AlreadyExists(format!(
                "{} already exists",
                describe(&key)
            )));
        }
        self.uids += 1;
        let uid = format!("00000000-0000-4000-8000-{:012x}", self.uids);
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        fill_type(&mut object, &key)?;
        let m = meta(&mut object)?;
        m.insert("name".into(), json!(key.name));
        if !key.namespace.is_empty() {
            m.insert("namespace".into(), json!(key.namespace));
        }
        m.insert("uid".into(), json!(uid));
        m.insert("creationTimestamp".into(), json!(now));
        m.remove("resourceVersion");
        Ok(self.commit(key, object, ChangeType::Added, None))
    }

    /// Replaces the object at `key` with `object`. A non-empty `metadata.resourceVersion` in
    /// `object` must be the current one (409 Conflict otherwise); identity fields are kept.
    pub(crate) fn update(
        &mut self,
        key: &ObjectKey,
        mut object: Value,
    ) -> Result<Value, KubeApiError> {
        let old = self.get(key)?;
        let current = meta_str(&old, "resourceVersion").unwrap_or_default();
        if let Some(wanted) = meta_str(&object, "resourceVersion")
            && wanted != current
        {
            return Err(KubeApiError::Conflict(format!(
                "Operation cannot be fulfilled on {}: the object has been modified; please apply \
                 your changes to the latest version and try again (have {wanted}, current {current})",
                describe(key)
            )));
        }
        fill_type(&mut object, key)?;
        let m = meta(&mut object)?;
        for field in ["name", "namespace", "uid", "creationTimestamp"] {
            match old.get("metadata").and_then(|o| o.get(field)) {
                Some(v) => m.insert(field.into(), v.clone()),
                None => m.remove(field),
            };
        }
        Ok(self.commit(key.clone(), object, ChangeType::Modified, Some(old)))
    }

    /// Removes the object at `key`, returning its last state.
    pub(crate) fn delete(&mut self, key: &ObjectKey) -> Result<Value, KubeApiError> {
        let old = self.get(key)?;
        self.objects.remove(key);
        self.rv += 1;
        let mut gone = old.clone();
        meta(&mut gone)?.insert("resourceVersion".into(), json!(self.rv.to_string()));
        self.record(key.clone(), ChangeType::Deleted, Some(old), gone.clone());
        Ok(gone)
    }

    fn commit(
        &mut self,
        key: ObjectKey,
        mut object: Value,
        kind: ChangeType,
        old: Option<Value>,
    ) -> Value {
        self.rv += 1;
        if let Ok(m) = meta(&mut object) {
            m.insert("resourceVersion".into(), json!(self.rv.to_string()));
        }
        self.objects.insert(key.clone(), object.clone());
        self.record(key, kind, old, object.clone());
        object
    }

    fn record(&mut self, key: ObjectKey, kind: ChangeType, old: Option<Value>, object: Value) {
        self.history.push_back(Change {
            rv: self.rv,
            kind,
            key,
            old,
            object,
        });
        while self.history.len() > HISTORY_LIMIT {
            if let Some(dropped) = self.history.pop_front() {
                self.compacted_through = dropped.rv;
            }
        }
        self.changed.send_replace(self.rv);
    }

    /// Forgets the change history, like etcd compaction: watches from an earlier
    /// resourceVersion get 410 Gone.
    pub(crate) fn compact(&mut self) {
        self.history.clear();
        self.compacted_through = self.rv;
    }

    /// Watch events for changes in `scope` after resourceVersion `since`, as (type, object).
    /// An object that stops matching the selector is reported DELETED, one that starts
    /// matching ADDED, as a real API server does.
    pub(crate) fn changes_after(
        &self,
        since: u64,
        scope: &Scope,
    ) -> Result<Vec<(ChangeType, Value)>, KubeApiError> {
        if since < self.compacted_through {
            return Err(KubeApiError::Gone(format!(
                "too old resource version: {since} ({})",
                self.compacted_through
            )));
        }
        let start = self.history.partition_point(|c| c.rv <= since);
        let events = self.history.range(start..).filter_map(|c| {
            if !scope.contains(&c.key.prefix, &c.key.resource, &c.key.namespace) {
                return None;
            }
            let now = c.kind != ChangeType::Deleted && scope.selector.matches(&c.object);
            let before = c.old.as_ref().is_some_and(|o| scope.selector.matches(o));
            let kind = match (before, now) {
                (false, true) => ChangeType::Added,
                (true, true) => c.kind,
                (true, false) => ChangeType::Deleted,
                (false, false) => return None,
            };
            Some((kind, c.object.clone()))
        });
        Ok(events.collect())
    }
}

/// Sets `apiVersion` and `kind` when the body leaves them out (kind only when known).
fn fill_type(object: &mut Value, key: &ObjectKey) -> Result<(), KubeApiError> {
    let Value::Object(map) = object else {
        return Err(KubeApiError::BadRequest(
            "the body is not a JSON object".into(),
        ));
    };
    map.entry("apiVersion")
        .or_insert_with(|| json!(kinds::api_version_of(&key.prefix)));
    if let Some(info) = kinds::by_resource(&key.prefix, &key.resource) {
        map.entry("kind").or_insert_with(|| json!(info.kind));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn key(name: &str) -> ObjectKey {
        ObjectKey {
            prefix: "api/v1".into(),
            resource: "pods".into(),
            namespace: "default".into(),
            name: name.into(),
        }
    }

    fn scope(fields: Option<&str>) -> Scope {
        Scope {
            prefix: "api/v1".into(),
            resource: "pods".into(),
            namespace: None,
            selector: Selector::parse(None, fields).unwrap(),
        }
    }

    #[test]
    fn leaving_a_selector_is_a_deletion_and_history_bounds_watches() {
        let mut s = Store::new();
        let p = s
            .create(key("a"), json!({"status": {"phase": "Running"}}))
            .unwrap();
        assert_eq!(p["kind"], "Pod");
        assert_eq!(p["metadata"]["resourceVersion"], "1");
        let mut done = p.clone();
        done["status"]["phase"] = json!("Succeeded");
        s.update(&key("a"), done).unwrap();
        let live = scope(Some("status.phase!=Succeeded"));
        let kinds: Vec<_> = s
            .changes_after(0, &live)
            .unwrap()
            .into_iter()
            .map(|c| c.0)
            .collect();
        assert_eq!(kinds, [ChangeType::Added, ChangeType::Deleted]);
        assert_eq!(
            s.changes_after(1, &scope(None)).unwrap()[0].0,
            ChangeType::Modified
        );

        s.compact();
        assert_eq!(s.changes_after(2, &live).unwrap().len(), 0);
        assert_eq!(s.changes_after(1, &live).unwrap_err().code(), 410);
    }

    #[test]
    fn stale_updates_conflict_and_identity_is_kept() {
        let mut s = Store::new();
        let p = s.create(key("a"), json!({})).unwrap();
        let mut stale = p.clone();
        stale["metadata"]["uid"] = json!("forged");
        s.update(&key("a"), stale.clone()).unwrap();
        assert_eq!(
            s.get(&key("a")).unwrap()["metadata"]["uid"],
            p["metadata"]["uid"]
        );
        assert_eq!(s.update(&key("a"), stale).unwrap_err().code(), 409);
        assert_eq!(
            s.create(key("a"), json!({})).unwrap_err().reason(),
            "AlreadyExists"
        );
    }
}
