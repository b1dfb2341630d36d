//! Watch: a chunked response of newline-delimited JSON watch events, replayed from the store's
//! change history after the requested resourceVersion and then followed live.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use futures::Stream;
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::Instant;

use super::Shared;
use super::store::{ChangeType, Scope};

/// Where a watch starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Start {
    /// `resourceVersion` unset or `0`: synthetic ADDED events for the current objects first.
    Current,
    /// Changes after this resourceVersion.
    After(u64),
}

/// A parsed watch request.
#[derive(Clone, Debug)]
pub(crate) struct WatchRequest {
    pub scope: Scope,
    pub start: Start,
    pub timeout: Duration,
    pub bookmarks: bool,
    /// `sendInitialEvents=true`: current objects, then a bookmark marking their end.
    pub initial_events: bool,
    /// `kind` and `apiVersion` for bookmark objects.
    pub kind: String,
    pub api_version: String,
}

struct Watcher {
    shared: Arc<Shared>,
    req: WatchRequest,
    rx: watch::Receiver<u64>,
    /// Every change up to this resourceVersion has been considered.
    since: u64,
    /// The current objects when the watch starts from "now", taken when the request arrives.
    first: Option<String>,
    done: bool,
    deadline: Instant,
    next_bookmark: Instant,
}

fn line(kind: &str, object: &Value) -> String {
    let mut text = json!({ "type": kind, "object": object }).to_string();
    text.push('\n');
    text
}

impl Watcher {
    fn bookmark(&self, initial_end: bool) -> String {
        let mut metadata = json!({ "resourceVersion": self.since.to_string() });
        if initial_end {
            metadata["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
        }
        let object = json!({
            "kind": self.req.kind,
            "apiVersion": self.req.api_version,
            "metadata": metadata,
        });
        line("BOOKMARK", &object)
    }

    /// The first chunk: the current objects when asked for, or nothing.
    fn start(&mut self) -> String {
        let store = self.shared.lock_store();
        let mut out = String::new();
        match self.req.start {
            Start::After(rv) if !self.req.initial_events => self.since = rv,
            _ => {
                for object in store.list(&self.req.scope) {
                    out.push_str(&line(ChangeType::Added.as_str(), &object));
                }
                self.since = store.rv();
                if self.req.initial_events && self.req.bookmarks {
                    out.push_str(&self.bookmark(true));
                }
            }
        }
        out
    }

    /// Changes since the last call, or an ERROR event (and the end) if they were compacted.
    fn pending(&mut self) -> String {
        // Mark the current version seen before reading, so a later change wakes `changed()`.
        self.rx.borrow_and_update();
        let store = self.shared.lock_store();
        match store.changes_after(self.since, &self.req.scope) {
            Ok(changes) => {
                self.since = store.rv();
                changes
                    .iter()
                    .map(|(kind, object)| line(kind.as_str(), object))
                    .collect()
            }
            Err(gone) => {
                self.done = true;
                line("ERROR", &gone.status())
            }
        }
    }

    async fn next_chunk(&mut self) -> Option<String> {
        if let Some(first) = self.first.take().filter(|f| !f.is_empty()) {
            return Some(first);
        }
        loop {
            if self.done || self.shared.is_closed() {
                return None;
            }
            let chunk = self.pending();
            if !chunk.is_empty() {
                return Some(chunk);
            }
            tokio::select! {
                changed = self.rx.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                () = tokio::time::sleep_until(self.deadline) => {
                    // timeoutSeconds is over: a last bookmark tells the client where to resume.
                    self.done = true;
                    return self.req.bookmarks.then(|| self.bookmark(false));
                }
                () = tokio::time::sleep_until(self.next_bookmark), if self.req.bookmarks => {
                    self.next_bookmark = Instant::now() + self.shared.bookmark_interval;
                    return Some(self.bookmark(false));
                }
            }
        }
    }
}

/// The response body of a watch.
pub(crate) fn stream(
    shared: Arc<Shared>,
    req: WatchRequest,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send + 'static {
    let now = Instant::now();
    let rx = shared.lock_store().subscribe();
    let mut watcher = Watcher {
        rx,
        deadline: now + req.timeout,
        next_bookmark: now + shared.bookmark_interval,
        shared,
        req,
        since: 0,
        first: None,
        done: false,
    };
    // Taken now, not when the body is first polled: a change made right after the client sees
    // the response headers must come as an event, not be folded into the initial state.
    watcher.first = Some(watcher.start());
    futures::stream::unfold(watcher, |mut w| async move {
        let chunk = w.next_chunk().await?;
        Some((Ok(Bytes::from(chunk)), w))
    })
}
