#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::BoxFuture;

use super::*;
use crate::annotations::{MetricKey, MetricType};
use crate::config::{Output, OutputTarget, PrometheusQuery};
use crate::events::Warning;

/// What a fake backend answers.
#[derive(Clone, Copy, Debug)]
enum Behaviour {
    Value(f64),
    Fail,
    Slow(Duration, f64),
}

struct FakeBackend {
    behaviour: Mutex<Behaviour>,
    calls: AtomicUsize,
}

impl FakeBackend {
    fn new(behaviour: Behaviour) -> Arc<Self> {
        Arc::new(Self {
            behaviour: Mutex::new(behaviour),
            calls: AtomicUsize::new(0),
        })
    }
}

struct FakeCollector {
    backend: Arc<FakeBackend>,
    max_in_flight: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
}

impl Collector for FakeCollector {
    fn collect(&self, _now: Timestamp) -> BoxFuture<'_, Result<Collected, CollectError>> {
        Box::pin(async move {
            let b = &self.backend;
            b.calls.fetch_add(1, Ordering::SeqCst);
            let running = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(running, Ordering::SeqCst);
            let behaviour = *b.behaviour.lock().unwrap();
            let result = match behaviour {
                Behaviour::Value(v) => Ok(Collected::Value(v)),
                // Credentials in the server URL must never reach a status, log or Event.
                Behaviour::Fail => Err(CollectError::EmptyResult {
                    server: "http://user:secret@prom".into(),
                    query: "q".into(),
                }),
                Behaviour::Slow(delay, v) => {
                    tokio::time::sleep(delay).await;
                    Ok(Collected::Value(v))
                }
            };
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            result
        })
    }
}

#[derive(Default)]
struct FakeFactory {
    backends: Mutex<HashMap<String, Arc<FakeBackend>>>,
    default: Mutex<Option<Behaviour>>,
    max_in_flight: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
}

impl FakeFactory {
    fn backend(&self, query: &str) -> Arc<FakeBackend> {
        let default = self
            .default
            .lock()
            .unwrap()
            .unwrap_or(Behaviour::Value(1.0));
        self.backends
            .lock()
            .unwrap()
            .entry(query.to_string())
            .or_insert_with(|| FakeBackend::new(default))
            .clone()
    }

    fn calls(&self, query: &str) -> usize {
        self.backend(query).calls.load(Ordering::SeqCst)
    }

    fn total_calls(&self) -> usize {
        let backends = self.backends.lock().unwrap();
        backends
            .values()
            .map(|b| b.calls.load(Ordering::SeqCst))
            .sum()
    }
}

impl CollectorFactory for FakeFactory {
    fn collector_for(&self, source: &Source) -> Result<Arc<dyn Collector>, CollectError> {
        let Source::Prometheus(q) = source else {
            panic!("tests only use prometheus sources")
        };
        Ok(Arc::new(FakeCollector {
            backend: self.backend(&q.query),
            max_in_flight: self.max_in_flight.clone(),
            in_flight: self.in_flight.clone(),
        }))
    }
}

#[derive(Default)]
struct RecordedEvents(Mutex<Vec<Warning>>);

impl EventSink for RecordedEvents {
    fn warn(&self, warning: Warning) {
        self.0.lock().unwrap().push(warning);
    }
}

struct Harness {
    poller: Poller,
    factory: Arc<FakeFactory>,
    store: MetricStore,
    metrics: Metrics,
    events: Arc<RecordedEvents>,
}

fn harness(max_concurrent: usize) -> Harness {
    let factory = Arc::new(FakeFactory::default());
    let store = MetricStore::new();
    let metrics = Metrics::default();
    let events = Arc::new(RecordedEvents::default());
    // Follows tokio's (paused) time.
    let clock = tidal_runtime::Clock::system();
    let poller = Poller::new(PollerDeps {
        store: store.clone(),
        metrics: metrics.clone(),
        factory: factory.clone(),
        events: events.clone(),
        clock,
        max_concurrent,
        max_concurrent_per_namespace: max_concurrent,
    });
    tokio::spawn(poller.clone().run(std::future::pending()));
    Harness {
        poller,
        factory,
        store,
        metrics,
        events,
    }
}

fn hpa(name: &str) -> HpaKey {
    HpaKey {
        namespace: "shop".into(),
        name: name.into(),
    }
}

fn source(query: &str) -> Source {
    Source::Prometheus(PrometheusQuery {
        server: "http://prom".into(),
        query: query.into(),
    })
}

fn config(hpa_name: &str, metric: &str, query: &str, interval: Duration) -> CollectorConfig {
    let key = MetricKey {
        metric_type: MetricType::External,
        name: metric.into(),
    };
    let hpa = hpa(hpa_name);
    CollectorConfig {
        id: crate::config::collector_id(&hpa, &key, 1),
        output: Output {
            target: OutputTarget::External {
                namespace: hpa.namespace.clone(),
                metric: metric.into(),
                labels: BTreeMap::new(),
            },
            per_replica: false,
            weight_percent: None,
        },
        hpa,
        metric: key,
        interval,
        source: source(query),
    }
}

fn built(hpa_name: &str, configs: Vec<CollectorConfig>) -> HpaCollectors {
    HpaCollectors {
        hpa: hpa(hpa_name),
        configs,
        errors: Vec::new(),
        adjusted: Vec::new(),
    }
}

const MINUTE: Duration = Duration::from_secs(60);

fn samples_of(store: &MetricStore, id: &str) -> Option<usize> {
    store
        .snapshot()
        .into_iter()
        .find(|s| s.id.0 == id)
        .map(|s| s.samples)
}

#[tokio::test(start_paused = true)]
async fn shared_query_runs_once_per_interval_for_both_hpas() {
    let h = harness(8);
    h.poller.sync_hpa(
        built("a", vec![config("a", "events", "sum(x)", MINUTE)]),
        None,
        None,
    );
    h.poller.sync_hpa(
        built("b", vec![config("b", "load", "sum(x)", MINUTE)]),
        None,
        None,
    );
    assert_eq!(h.poller.query_count(), 1);
    let offset = start_offset(&source("sum(x)"), MINUTE);
    tokio::time::sleep(offset + 2 * MINUTE + Duration::from_secs(1)).await;
    assert_eq!(
        h.factory.calls("sum(x)"),
        3,
        "one backend call per interval"
    );
    assert_eq!(samples_of(&h.store, "shop/a/external/events"), Some(1));
    assert_eq!(samples_of(&h.store, "shop/b/external/load"), Some(1));
    assert_eq!(h.metrics.collections_count("prometheus", "shop", "a"), 3);
    assert_eq!(h.metrics.collections_count("prometheus", "shop", "b"), 3);
    let snapshot = h.store.snapshot();
    assert!(snapshot.iter().all(|s| s.ttl == 3 * MINUTE));
}

#[tokio::test(start_paused = true)]
async fn shared_query_runs_at_the_shortest_interval() {
    let h = harness(8);
    h.poller
        .sync_hpa(built("a", vec![config("a", "m", "q", MINUTE)]), None, None);
    h.poller.sync_hpa(
        built("b", vec![config("b", "m", "q", Duration::from_secs(20))]),
        None,
        None,
    );
    let offset = start_offset(&source("q"), Duration::from_secs(20));
    tokio::time::sleep(offset + Duration::from_secs(59)).await;
    assert_eq!(h.factory.calls("q"), 3);
    let ttls: Vec<Duration> = h.store.snapshot().iter().map(|s| s.ttl).collect();
    assert_eq!(
        ttls,
        [3 * MINUTE, Duration::from_secs(60)],
        "TTL follows each HPA's interval"
    );
}

#[test]
fn start_offsets_are_deterministic_and_spread() {
    let mut buckets = [0usize; 60];
    for i in 0..10_000 {
        let offset = start_offset(&source(&format!("sum(q{i})")), MINUTE);
        assert!(offset < MINUTE);
        assert_eq!(offset, start_offset(&source(&format!("sum(q{i})")), MINUTE));
        buckets[offset.as_secs() as usize] += 1;
    }
    // 10,000 collectors over 60 one-second slots: ~167 each, none anywhere near all of them.
    let max = *buckets.iter().max().unwrap();
    let min = *buckets.iter().min().unwrap();
    assert!(
        max < 250 && min > 100,
        "uneven spread: min {min}, max {max}"
    );
}

#[tokio::test(start_paused = true)]
async fn collectors_do_not_fire_together() {
    let h = harness(1000);
    for i in 0..600 {
        let name = format!("hpa{i}");
        h.poller.sync_hpa(
            built(&name, vec![config(&name, "m", &format!("q{i}"), MINUTE)]),
            None,
            None,
        );
    }
    // Half-millisecond instants never coincide with a (whole-millisecond) start time.
    tokio::time::sleep(Duration::from_micros(9_999_500)).await;
    let first_ten_seconds = h.factory.total_calls();
    let due: usize = (0..600)
        .filter(|i| start_offset(&source(&format!("q{i}")), MINUTE) < Duration::from_secs(10))
        .count();
    assert_eq!(first_ten_seconds, due);
    // Evenly spread, 600 per minute is 100 per 10 s.
    assert!(
        (50..=150).contains(&first_ten_seconds),
        "{first_ten_seconds} calls in 10 s"
    );
    tokio::time::sleep(Duration::from_secs(50)).await;
    assert_eq!(
        h.factory.total_calls(),
        600,
        "each once in the first minute"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failing_collector_leaves_no_value_and_warns_once() {
    let h = harness(8);
    *h.factory.default.lock().unwrap() = Some(Behaviour::Fail);
    let c = config("a", "events", "broken", MINUTE);
    let id = c.id.clone();
    h.poller
        .sync_hpa(built("a", vec![c]), Some("uid-a".into()), None);
    let offset = start_offset(&source("broken"), MINUTE);
    tokio::time::sleep(offset + 2 * MINUTE + Duration::from_secs(1)).await;
    assert_eq!(h.factory.calls("broken"), 3);
    assert_eq!(
        samples_of(&h.store, &id.0),
        None,
        "no value for a failed collection"
    );
    let status = h.poller.status(&id).unwrap();
    let last_error = status.last_error.unwrap();
    assert!(last_error.contains("returned no data"), "{last_error}");
    assert!(
        last_error.contains("http://***@prom") && !last_error.contains("secret"),
        "{last_error}"
    );
    assert_eq!(status.consecutive_failures, 3);
    assert_eq!(
        h.metrics
            .collection_errors_count("prometheus", "shop", "a", "no_data"),
        3
    );
    let events = h.events.0.lock().unwrap().clone();
    assert_eq!(
        events.len(),
        1,
        "one warning per failure streak: {events:?}"
    );
    assert_eq!(events[0].uid.as_deref(), Some("uid-a"));
    assert!(!events[0].note.contains("secret"), "{}", events[0].note);
    assert!(events[0].note.contains("returned no data"));

    // Recovery writes a value; a later failure writes nothing, so the value only ages.
    *h.factory.backend("broken").behaviour.lock().unwrap() = Behaviour::Value(5.0);
    tokio::time::sleep(MINUTE).await;
    let written = h.store.snapshot()[0].newest;
    assert!(written.is_some());
    *h.factory.backend("broken").behaviour.lock().unwrap() = Behaviour::Fail;
    tokio::time::sleep(MINUTE).await;
    assert_eq!(h.store.snapshot()[0].newest, written);
}

#[tokio::test(start_paused = true)]
async fn removed_hpa_values_vanish_and_collection_stops() {
    let h = harness(8);
    h.poller.sync_hpa(
        built("a", vec![config("a", "events", "q", MINUTE)]),
        None,
        None,
    );
    tokio::time::sleep(MINUTE).await;
    assert_eq!(samples_of(&h.store, "shop/a/external/events"), Some(1));
    h.poller.remove_hpa(&hpa("a"));
    assert!(h.store.snapshot().is_empty());
    assert_eq!(h.poller.query_count(), 0);
    assert!(h.poller.reports().is_empty());
    let calls = h.factory.calls("q");
    tokio::time::sleep(5 * MINUTE).await;
    assert_eq!(h.factory.calls("q"), calls);
}

#[tokio::test(start_paused = true)]
async fn changed_metric_is_rebuilt_and_unchanged_one_keeps_its_value() {
    let h = harness(8);
    h.poller.sync_hpa(
        built(
            "a",
            vec![
                config("a", "kept", "q1", MINUTE),
                config("a", "changed", "q2", MINUTE),
            ],
        ),
        None,
        None,
    );
    tokio::time::sleep(MINUTE).await;
    assert_eq!(h.store.snapshot().len(), 2);
    h.poller.sync_hpa(
        built(
            "a",
            vec![
                config("a", "kept", "q1", MINUTE),
                config("a", "changed", "q3", MINUTE),
            ],
        ),
        None,
        None,
    );
    assert_eq!(samples_of(&h.store, "shop/a/external/kept"), Some(1));
    assert_eq!(samples_of(&h.store, "shop/a/external/changed"), None);
    assert_eq!(h.poller.query_count(), 2);
    tokio::time::sleep(MINUTE).await;
    assert_eq!(samples_of(&h.store, "shop/a/external/changed"), Some(1));
    assert_eq!(h.factory.calls("q2"), 1, "old query stopped");
}

#[tokio::test(start_paused = true)]
async fn per_replica_divides_by_current_replicas() {
    let h = harness(8);
    *h.factory.default.lock().unwrap() = Some(Behaviour::Value(12.0));
    let mut c = config("a", "lag", "lag", MINUTE);
    c.output.per_replica = true;
    h.poller
        .sync_hpa(built("a", vec![c.clone()]), None, Some(3));
    tokio::time::sleep(MINUTE).await;
    let q = crate::store::ExternalQuery {
        namespace: "shop".into(),
        metric: "lag".into(),
        selector: Default::default(),
    };
    let now = h.poller.shared.deps.clock.now();
    assert_eq!(h.store.external(&q, now)[0].value.milli_value(), 4000);
    h.poller.set_replicas(&hpa("a"), Some(0));
    tokio::time::sleep(MINUTE).await;
    let status = h.poller.status(&c.id).unwrap();
    assert!(status.last_error.unwrap().contains("no current replicas"));
}

#[tokio::test(start_paused = true)]
async fn concurrency_is_bounded_and_slow_collections_time_out() {
    let h = harness(2);
    *h.factory.default.lock().unwrap() = Some(Behaviour::Slow(Duration::from_secs(20), 1.0));
    for i in 0..20 {
        let name = format!("hpa{i}");
        h.poller.sync_hpa(
            built(&name, vec![config(&name, "m", &format!("q{i}"), MINUTE)]),
            None,
            None,
        );
    }
    tokio::time::sleep(3 * MINUTE).await;
    assert_eq!(h.factory.max_in_flight.load(Ordering::SeqCst), 2);

    let slow = harness(8);
    *slow.factory.default.lock().unwrap() = Some(Behaviour::Slow(Duration::from_secs(90), 1.0));
    let c = config("a", "m", "slow", MINUTE);
    slow.poller
        .sync_hpa(built("a", vec![c.clone()]), None, None);
    tokio::time::sleep(3 * MINUTE).await;
    let status = slow.poller.status(&c.id).unwrap();
    assert_eq!(status.last_error_reason, Some("timeout"));
    assert_eq!(samples_of(&slow.store, &c.id.0), None);
}

#[tokio::test(start_paused = true)]
async fn reports_list_collecting_metrics_and_config_errors() {
    let h = harness(8);
    let mut with_error = built("a", vec![config("a", "ok", "q", MINUTE)]);
    with_error.errors.push(crate::config::MetricConfigError {
        id: Some(CollectorId("shop/a/external/bad".into())),
        metric: None,
        error: crate::config::ConfigError::InvalidSpec {
            what: "external metric \"bad\"".into(),
            problem: "broken".into(),
        },
    });
    h.poller.sync_hpa(with_error, None, None);
    tokio::time::sleep(MINUTE).await;
    let reports = h.poller.reports();
    assert_eq!(reports.len(), 2);
    let ok = reports.iter().find(|r| r.config_error.is_none()).unwrap();
    assert_eq!(
        ok.status.as_ref().unwrap().last_value,
        Some(Collected::Value(1.0))
    );
    let bad = reports.iter().find(|r| r.config_error.is_some()).unwrap();
    assert!(bad.config_error.as_ref().unwrap().contains("broken"));
    let json =
        crate::debug_collectors::debug_collectors_json(&h.poller, h.poller.shared.deps.clock.now());
    assert_eq!(json["collectors"].as_array().unwrap().len(), 2);
}

mod tenancy;
