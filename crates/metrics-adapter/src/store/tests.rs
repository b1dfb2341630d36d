#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::selector;
use proptest::prelude::*;

const TTL: Duration = Duration::from_secs(180);

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn pod(ns: &str, name: &str, app: &str) -> DescribedObject {
    DescribedObject {
        api_version: "v1".into(),
        kind: "Pod".into(),
        resource: "pods".into(),
        namespace: Some(ns.into()),
        name: name.into(),
        labels: labels(&[("app", app)]),
    }
}

fn custom(object: DescribedObject, metric: &str, milli: i64, at: i64) -> Sample {
    Sample {
        target: MetricValue::Custom {
            object,
            metric: metric.into(),
            metric_labels: BTreeMap::new(),
        },
        value: Quantity::from_milli(milli),
        timestamp: Timestamp::from_secs(at),
        window: None,
    }
}

fn external(ns: &str, metric: &str, l: &[(&str, &str)], milli: i64, at: i64) -> Sample {
    Sample {
        target: MetricValue::External {
            namespace: ns.into(),
            metric: metric.into(),
            metric_labels: labels(l),
        },
        value: Quantity::from_milli(milli),
        timestamp: Timestamp::from_secs(at),
        window: Some(Duration::from_secs(60)),
    }
}

fn pods_query(ns: &str, sel: &str, metric: &str) -> CustomQuery {
    CustomQuery {
        namespace: Some(ns.into()),
        resource: "pods".into(),
        objects: ObjectSelector::Labels(selector::parse(sel).unwrap()),
        metric: metric.into(),
        metric_selector: Selector::default(),
    }
}

fn names(values: &[StoredValue]) -> Vec<String> {
    values
        .iter()
        .map(|v| match &v.target {
            StoredTarget::Custom(object) => object.name.to_string(),
            StoredTarget::External { .. } => format!("{:?}", v.metric_labels),
        })
        .collect()
}

fn id(s: &str) -> CollectorId {
    CollectorId(s.into())
}

#[test]
fn put_replaces_everything_the_collector_wrote() {
    let store = MetricStore::new();
    let c = id("ns/web/pods/rps");
    store.put(
        &c,
        vec![
            custom(pod("ns", "web-1", "web"), "rps", 1000, 100),
            custom(pod("ns", "web-2", "web"), "rps", 2000, 100),
        ],
        TTL,
    );
    let q = pods_query("ns", "app=web", "rps");
    assert_eq!(
        names(&store.custom(&q, Timestamp::from_secs(110))),
        ["web-1", "web-2"]
    );
    // web-2 is no longer selected: the next collection no longer mentions it.
    store.put(
        &c,
        vec![custom(pod("ns", "web-1", "web"), "rps", 1500, 160)],
        TTL,
    );
    let got = store.custom(&q, Timestamp::from_secs(170));
    assert_eq!(names(&got), ["web-1"]);
    assert_eq!(got[0].value, Quantity::from_milli(1500));
}

#[test]
fn values_older_than_their_ttl_are_never_served() {
    let store = MetricStore::new();
    store.put(
        &id("ns/web/pods/rps"),
        vec![custom(pod("ns", "web-1", "web"), "rps", 1, 100)],
        TTL,
    );
    store.put(
        &id("ns/q/external/len"),
        vec![external("ns", "len", &[("queue", "a")], 5, 100)],
        TTL,
    );
    let q = pods_query("ns", "", "rps");
    let eq = ExternalQuery {
        namespace: "ns".into(),
        metric: "len".into(),
        selector: Selector::default(),
    };
    let at_ttl = Timestamp::from_secs(100) + TTL;
    assert_eq!(store.custom(&q, at_ttl).len(), 1);
    assert_eq!(store.external(&eq, at_ttl).len(), 1);
    let past = at_ttl + Duration::from_millis(1);
    assert!(store.custom(&q, past).is_empty());
    assert!(store.external(&eq, past).is_empty());
}

#[test]
fn removed_pods_and_collectors_vanish_at_once() {
    let store = MetricStore::new();
    let c = id("ns/web/pods/rps");
    store.put(
        &c,
        vec![
            custom(pod("ns", "web-1", "web"), "rps", 1, 100),
            custom(pod("ns", "web-2", "web"), "rps", 2, 100),
        ],
        TTL,
    );
    let q = pods_query("ns", "app=web", "rps");
    store.remove_pod("ns", "web-1");
    assert_eq!(
        names(&store.custom(&q, Timestamp::from_secs(101))),
        ["web-2"]
    );
    store.remove_pod("other", "web-2");
    assert_eq!(
        names(&store.custom(&q, Timestamp::from_secs(101))),
        ["web-2"]
    );
    store.remove_collector(&c);
    assert!(store.custom(&q, Timestamp::from_secs(101)).is_empty());
    assert!(store.snapshot().is_empty());
    assert!(store.custom_metric_names().is_empty());
}

#[test]
fn queries_select_by_namespace_name_labels_and_metric_labels() {
    let store = MetricStore::new();
    let mut ingress = DescribedObject {
        api_version: "networking.k8s.io/v1".into(),
        kind: "Ingress".into(),
        resource: "ingresses.networking.k8s.io".into(),
        namespace: Some("ns".into()),
        name: "front".into(),
        labels: BTreeMap::new(),
    };
    let mut s = custom(ingress.clone(), "requests-per-second", 42_000, 100);
    if let MetricValue::Custom { metric_labels, .. } = &mut s.target {
        metric_labels.insert("backend".into(), "blue".into());
    }
    store.put(&id("ns/front/object/requests-per-second"), vec![s], TTL);
    ingress.namespace = Some("other".into());
    store.put(
        &id("other/front/object/requests-per-second"),
        vec![custom(ingress, "requests-per-second", 1, 100)],
        TTL,
    );
    store.put(
        &id("ns/web/pods/rps"),
        vec![
            custom(pod("ns", "web-1", "web"), "rps", 1, 100),
            custom(pod("ns", "api-1", "api"), "rps", 1, 100),
        ],
        TTL,
    );
    let now = Timestamp::from_secs(101);
    let mut q = CustomQuery {
        namespace: Some("ns".into()),
        resource: "Ingresses.networking.k8s.io".into(),
        objects: ObjectSelector::Named("front".into()),
        metric: "requests-per-second".into(),
        metric_selector: selector::parse("backend in (blue,green)").unwrap(),
    };
    let got = store.custom(&q, now);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].value, Quantity::from_units(42));
    q.metric_selector = selector::parse("backend=green").unwrap();
    assert!(store.custom(&q, now).is_empty());
    q.metric_selector = Selector::default();
    q.objects = ObjectSelector::Named("back".into());
    assert!(store.custom(&q, now).is_empty());
    assert_eq!(
        names(&store.custom(&pods_query("ns", "app!=web", "rps"), now)),
        ["api-1"]
    );
    assert!(
        store
            .custom(&pods_query("ns", "", "other-metric"), now)
            .is_empty()
    );
    assert!(
        store
            .custom(&pods_query("other", "", "rps"), now)
            .is_empty()
    );
}

#[test]
fn external_values_filter_by_labels_and_newest_duplicate_wins() {
    let store = MetricStore::new();
    let sqs = [("type", "sqs-queue-length"), ("queue-name", "jobs")];
    store.put(
        &id("ns/a/external/len"),
        vec![external("ns", "len", &sqs, 1000, 100)],
        TTL,
    );
    // A second HPA asking for the same series: the newer value wins, it is not listed twice.
    store.put(
        &id("ns/b/external/len"),
        vec![external("ns", "len", &sqs, 7000, 130)],
        TTL,
    );
    store.put(
        &id("ns/c/external/len"),
        vec![external(
            "ns",
            "len",
            &[("type", "sqs-queue-length"), ("queue-name", "other")],
            3,
            100,
        )],
        TTL,
    );
    let q = ExternalQuery {
        namespace: "ns".into(),
        metric: "len".into(),
        selector: selector::parse("type=sqs-queue-length,queue-name=jobs").unwrap(),
    };
    let got = store.external(&q, Timestamp::from_secs(140));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].value, Quantity::from_units(7));
    let all = ExternalQuery {
        selector: Selector::default(),
        ..q.clone()
    };
    assert_eq!(store.external(&all, Timestamp::from_secs(140)).len(), 2);
    let elsewhere = ExternalQuery {
        namespace: "other".into(),
        ..q
    };
    assert!(
        store
            .external(&elsewhere, Timestamp::from_secs(140))
            .is_empty()
    );
    assert_eq!(store.external_metric_names(), ["len"]);
}

#[test]
fn namespace_metrics_are_root_scoped_namespace_objects() {
    let store = MetricStore::new();
    let object = DescribedObject {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        resource: "namespaces".into(),
        namespace: None,
        name: "team".into(),
        labels: BTreeMap::new(),
    };
    store.put(
        &id("team/hpa/object/budget"),
        vec![custom(object, "budget", 5, 100)],
        TTL,
    );
    let q = CustomQuery {
        namespace: None,
        resource: "namespaces".into(),
        objects: ObjectSelector::Named("team".into()),
        metric: "budget".into(),
        metric_selector: Selector::default(),
    };
    assert_eq!(store.custom(&q, Timestamp::from_secs(100)).len(), 1);
    assert_eq!(
        store.custom_metric_names(),
        [("namespaces".to_string(), "budget".to_string(), false)]
    );
}

#[test]
fn purge_drops_expired_samples_and_empty_collectors() {
    let store = MetricStore::new();
    store.put(
        &id("ns/old/pods/rps"),
        vec![custom(pod("ns", "a", "x"), "rps", 1, 0)],
        TTL,
    );
    store.put(
        &id("ns/mixed/pods/rps"),
        vec![
            custom(pod("ns", "b", "x"), "rps", 1, 0),
            custom(pod("ns", "c", "x"), "rps", 1, 500),
        ],
        TTL,
    );
    assert_eq!(store.purge_expired(Timestamp::from_secs(600)), 2);
    let snap = store.snapshot();
    assert_eq!(snap.len(), 1);
    assert_eq!(snap[0].id, id("ns/mixed/pods/rps"));
    assert_eq!(snap[0].samples, 1);
    assert_eq!(snap[0].newest, Some(Timestamp::from_secs(500)));
    // The purged pod no longer appears in the pod index either.
    store.remove_pod("ns", "b");
    assert_eq!(store.snapshot()[0].samples, 1);
}

#[test]
fn concurrent_readers_and_a_writer_see_whole_collections() {
    let store = MetricStore::new();
    let c = id("ns/web/pods/rps");
    let batch = |v: i64| {
        (0..20)
            .map(|i| custom(pod("ns", &format!("web-{i}"), "web"), "rps", v, 100))
            .collect::<Vec<_>>()
    };
    store.put(&c, batch(1), TTL);
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let store = store.clone();
            scope.spawn(move || {
                let q = pods_query("ns", "app=web", "rps");
                for _ in 0..500 {
                    let got = store.custom(&q, Timestamp::from_secs(101));
                    // Every read sees one complete collection: 20 pods, all from the same put.
                    assert_eq!(got.len(), 20);
                    assert!(got.iter().all(|s| s.value == got[0].value));
                }
            });
        }
        let store = store.clone();
        scope.spawn(move || {
            for v in 2..200 {
                store.put(&c, batch(v), TTL);
            }
        });
    });
}

#[test]
fn stored_values_share_strings_and_label_maps() {
    let store = MetricStore::new();
    store.put(
        &id("ns/web/pods/rps"),
        (0..3)
            .map(|i| custom(pod("ns", &format!("web-{i}"), "web"), "rps", 1, 100))
            .collect(),
        TTL,
    );
    store.put(
        &id("ns/api/pods/rps"),
        vec![custom(pod("ns", "api-0", "api"), "rps", 1, 100)],
        TTL,
    );
    let got = store.custom(&pods_query("ns", "", "rps"), Timestamp::from_secs(100));
    assert_eq!(names(&got), ["api-0", "web-0", "web-1", "web-2"]);
    let objects: Vec<&StoredObject> = got.iter().filter_map(StoredValue::object).collect();
    // One label map per distinct set within a collection, one string per distinct namespace.
    assert!(Arc::ptr_eq(&objects[1].labels, &objects[2].labels));
    assert!(!Arc::ptr_eq(&objects[0].labels, &objects[1].labels));
    assert!(Arc::ptr_eq(
        objects[0].namespace.as_ref().unwrap(),
        objects[3].namespace.as_ref().unwrap()
    ));
    assert!(Arc::ptr_eq(&got[0].metric, &got[3].metric));
    assert_eq!(&*objects[0].resource, "pods");
}

#[test]
fn label_index_narrows_candidates_but_every_value_is_still_matched() {
    let store = MetricStore::new();
    let mut odd = pod("ns", "mixed-1", "web");
    odd.labels.insert("tier".into(), "back".into());
    // One collection whose pods carry different labels: only the matching one is served.
    store.put(
        &id("ns/mixed/pods/rps"),
        vec![
            custom(pod("ns", "mixed-0", "web"), "rps", 1, 100),
            custom(odd, "rps", 2, 100),
        ],
        TTL,
    );
    store.put(
        &id("ns/api/pods/rps"),
        vec![custom(pod("ns", "api-0", "api"), "rps", 3, 100)],
        TTL,
    );
    let now = Timestamp::from_secs(100);
    let query = |sel: &str| names(&store.custom(&pods_query("ns", sel, "rps"), now));
    assert_eq!(query("app=web,tier=back"), ["mixed-1"]);
    assert_eq!(query("tier in (back),app"), ["mixed-1"]);
    assert_eq!(query("app=web,tier!=back"), ["mixed-0"]);
    assert_eq!(query("app in (web,api)"), ["api-0", "mixed-0", "mixed-1"]);
    assert!(query("app=web,tier=front").is_empty());
    assert!(query("team=x").is_empty());
    // Removing the collector removes it from the label index too.
    store.remove_collector(&id("ns/mixed/pods/rps"));
    assert!(query("app=web").is_empty());
    assert_eq!(query("app=api"), ["api-0"]);
}

fn arbitrary_pod(collector: usize, index: usize) -> impl Strategy<Value = DescribedObject> {
    let app = prop::option::of(prop::sample::select(vec!["a", "b", "c"]));
    let tier = prop::option::of(prop::sample::select(vec!["x", "y"]));
    (app, tier).prop_map(move |(app, tier)| {
        let mut object = pod("ns", &format!("c{collector}-p{index}"), "");
        object.labels.clear();
        if let Some(app) = app {
            object.labels.insert("app".into(), app.into());
        }
        if let Some(tier) = tier {
            object.labels.insert("tier".into(), tier.into());
        }
        object
    })
}

fn arbitrary_collection(collector: usize) -> impl Strategy<Value = Vec<DescribedObject>> {
    (0usize..4).prop_flat_map(move |n| {
        (0..n)
            .map(|i| arbitrary_pod(collector, i))
            .collect::<Vec<_>>()
    })
}

proptest! {
    #[test]
    fn indexed_queries_equal_a_full_scan(
        collections in (0usize..5).prop_flat_map(|n| (0..n).map(arbitrary_collection).collect::<Vec<_>>()),
        sel in prop::sample::select(vec![
            "", "app=a", "app=b,tier=x", "app in (a)", "app in (a,c)", "app!=a", "tier",
            "!tier", "app=a,app=b", "tier notin (x),app=c", "app==c,tier in (y)",
        ]),
    ) {
        let store = MetricStore::new();
        for (i, pods) in collections.iter().enumerate() {
            let samples = pods.iter().map(|p| custom(p.clone(), "rps", 1, 100)).collect();
            store.put(&id(&format!("ns/h{i}/pods/rps")), samples, TTL);
        }
        let selector = selector::parse(sel).unwrap();
        let mut expected: Vec<String> = collections
            .iter()
            .flatten()
            .filter(|p| selector.matches(&p.labels))
            .map(|p| p.name.clone())
            .collect();
        expected.sort();
        let got = names(&store.custom(&pods_query("ns", sel, "rps"), Timestamp::from_secs(100)));
        prop_assert_eq!(got, expected);
    }
}
