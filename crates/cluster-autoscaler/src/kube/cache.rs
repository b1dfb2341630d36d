//! Conversions cached per object and resourceVersion: a snapshot of 30,000 pods converts only
//! the pods that changed since the last one.

use std::collections::HashMap;
use std::sync::Arc;

use super::convert::ConvertError;

/// A converted object, or why it could not be converted.
pub(crate) type Converted<T> = Result<Arc<T>, Arc<str>>;

struct Entry<T> {
    version: String,
    /// Inputs from other objects that the conversion used (a pod's volume zone).
    extra: Option<String>,
    value: Converted<T>,
    generation: u64,
}

/// Cache of `T` converted from Kubernetes objects, keyed by uid (or name).
pub(crate) struct ConversionCache<T> {
    entries: HashMap<String, Entry<T>>,
    generation: u64,
    conversions: u64,
}

impl<T> Default for ConversionCache<T> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
            generation: 0,
            conversions: 0,
        }
    }
}

/// The result of one lookup.
pub(crate) struct Lookup<T> {
    pub(crate) value: Converted<T>,
    /// Converted now (not from the cache); a fresh error is reported once.
    pub(crate) fresh: bool,
}

impl<T> ConversionCache<T> {
    /// Starts a pass over the current objects.
    pub(crate) fn begin(&mut self) {
        self.generation += 1;
    }

    /// The cached conversion of object `key` at `version` with `extra` inputs, converting on a
    /// miss. An empty version (objects not from an API server) is never cached.
    pub(crate) fn get_or_convert(
        &mut self,
        key: &str,
        version: &str,
        extra: Option<&str>,
        convert: impl FnOnce() -> Result<T, ConvertError>,
    ) -> Lookup<T> {
        let generation = self.generation;
        if let Some(e) = self.entries.get_mut(key)
            && !version.is_empty()
            && e.version == version
            && e.extra.as_deref() == extra
        {
            e.generation = generation;
            return Lookup {
                value: e.value.clone(),
                fresh: false,
            };
        }
        self.conversions += 1;
        let value: Converted<T> = convert()
            .map(Arc::new)
            .map_err(|e| Arc::from(e.to_string()));
        self.entries.insert(
            key.to_owned(),
            Entry {
                version: version.to_owned(),
                extra: extra.map(str::to_owned),
                value: value.clone(),
                generation,
            },
        );
        Lookup { value, fresh: true }
    }

    /// Ends the pass: forgets objects that were not seen in it (deleted ones).
    pub(crate) fn finish(&mut self) {
        let generation = self.generation;
        self.entries.retain(|_, e| e.generation == generation);
    }

    /// Conversions performed since the cache was made.
    pub(crate) fn conversions(&self) -> u64 {
        self.conversions
    }

    /// Objects currently cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn ok(v: u32) -> impl FnOnce() -> Result<u32, ConvertError> {
        move || Ok(v)
    }

    #[test]
    fn unchanged_objects_are_not_converted_again_and_deleted_ones_are_dropped() {
        let mut c = ConversionCache::<u32>::default();
        c.begin();
        assert!(c.get_or_convert("a", "1", None, ok(1)).fresh);
        assert!(
            c.get_or_convert("b", "7", Some("eu-central-1a"), ok(2))
                .fresh
        );
        c.finish();
        c.begin();
        let a = c.get_or_convert("a", "1", None, || panic!("must come from the cache"));
        assert_eq!((*a.value.unwrap(), a.fresh), (1, false));
        // New resourceVersion, or a changed input from another object: converted again.
        assert!(
            c.get_or_convert("b", "7", Some("eu-central-1b"), ok(3))
                .fresh
        );
        c.finish();
        assert_eq!(c.conversions(), 3);
        c.begin();
        c.get_or_convert("b", "8", Some("eu-central-1b"), ok(4));
        c.finish();
        assert_eq!(c.len(), 1, "a was not seen in the last pass");
    }

    #[test]
    fn objects_without_a_version_are_always_converted() {
        let mut c = ConversionCache::<u32>::default();
        c.begin();
        c.get_or_convert("a", "", None, ok(1));
        assert!(c.get_or_convert("a", "", None, ok(1)).fresh);
    }
}
