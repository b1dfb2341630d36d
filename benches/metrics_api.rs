//! Metrics adapter serving benchmark: 10,000 HPAs × 2 metrics (a Pods metric over 10 pods and
//! an External SQS-style metric) in the store.
//!
//! - `store/*`: the store query behind one request (label-selector match included).
//! - `router/*`: the whole axum handler path (auth middleware, routing, selector parsing, store
//!   query, JSON encoding) without TLS or sockets.
//! - `https/*`: one request over TLS on loopback as kube-apiserver sends it (front-proxy client
//!   certificate, `X-Remote-User`), on a kept-alive connection, end to end.
//!
//! The load test from a second process (latency percentiles at a fixed rate, RSS) is
//! `crates/metrics-adapter/examples/loadtest_server.rs` + `loadgen.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tidal_core::Timestamp;
use tidal_metrics_adapter::api::{self, ApiState};
use tidal_metrics_adapter::auth::{PeerCertificate, RequestHeaderAuth};
use tidal_metrics_adapter::authorization::Authorizer;
use tidal_metrics_adapter::metrics::Metrics;
use tidal_metrics_adapter::selector;
use tidal_metrics_adapter::store::{CustomQuery, ExternalQuery, MetricStore, ObjectSelector};
use tidal_metrics_adapter::testing::{
    EXTERNAL_METRIC, PODS_METRIC, Pki, TestServer, fill_synthetic, synthetic_hpa, synthetic_paths,
};
use tidal_runtime::Clock;
use tower::ServiceExt;

const HPAS: usize = 10_000;
const PODS_PER_HPA: usize = 10;
const TTL: Duration = Duration::from_secs(180);

fn now() -> Timestamp {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    Timestamp::from_millis(since_epoch.as_millis() as i64)
}

fn store() -> MetricStore {
    let store = MetricStore::new();
    fill_synthetic(&store, HPAS, PODS_PER_HPA, now(), TTL);
    store
}

fn bench_store(c: &mut Criterion, store: &MetricStore) {
    let mut group = c.benchmark_group("metrics_api/store");
    let t = now();
    let mut i = 0usize;
    group.bench_function("pods_label_selector_10_pods", |b| {
        b.iter(|| {
            i = (i + 7919) % HPAS;
            let (ns, name) = synthetic_hpa(i);
            let q = CustomQuery {
                namespace: Some(ns),
                resource: "pods".into(),
                objects: ObjectSelector::Labels(selector::parse(&format!("app={name}")).unwrap()),
                metric: PODS_METRIC.into(),
                metric_selector: Default::default(),
            };
            let got = store.custom(black_box(&q), t);
            assert_eq!(got.len(), PODS_PER_HPA);
            got
        })
    });
    group.bench_function("external_label_selector", |b| {
        b.iter(|| {
            i = (i + 7919) % HPAS;
            let (ns, name) = synthetic_hpa(i);
            let q = ExternalQuery {
                namespace: ns,
                metric: EXTERNAL_METRIC.into(),
                selector: selector::parse(&format!("type=sqs-queue-length,queue-name={name}-jobs"))
                    .unwrap(),
            };
            let got = store.external(black_box(&q), t);
            assert_eq!(got.len(), 1);
            got
        })
    });
    group.finish();
}

fn bench_router(c: &mut Criterion, rt: &tokio::runtime::Runtime, state: ApiState) {
    let auth = Arc::new(RequestHeaderAuth::new(["front-proxy-client".to_string()]));
    let router = api::router(state, auth, Authorizer::disabled());
    let peer = PeerCertificate {
        common_name: Some("front-proxy-client".into()),
    };
    let mut group = c.benchmark_group("metrics_api/router");
    for (name, which) in [("pods", 0), ("external", 1)] {
        let mut i = 0usize;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 7919) % HPAS;
                let mut request = axum::http::Request::get(&synthetic_paths(i)[which])
                    .header(
                        "X-Remote-User",
                        "system:serviceaccount:kube-system:horizontal-pod-autoscaler",
                    )
                    .header("X-Remote-Group", "system:authenticated")
                    .body(axum::body::Body::empty())
                    .unwrap();
                request.extensions_mut().insert(peer.clone());
                let response = rt.block_on(router.clone().oneshot(request)).unwrap();
                assert_eq!(response.status(), 200);
                response
            })
        });
    }
    group.finish();
}

fn bench_https(c: &mut Criterion, rt: &tokio::runtime::Runtime, store: MetricStore, clock: Clock) {
    let pki = Pki::generate().unwrap();
    let server = rt
        .block_on(TestServer::start(
            store,
            &pki,
            &["front-proxy-client"],
            Metrics::default(),
            clock,
        ))
        .unwrap();
    let identity = pki.front_proxy_client("front-proxy-client").unwrap();
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(pki.client_config(Some(&identity)).unwrap())
        .resolve("localhost", server.addr)
        .build()
        .unwrap();
    let base = server.base_url();
    let mut group = c.benchmark_group("metrics_api/https");
    for (name, which) in [("pods", 0), ("external", 1)] {
        let mut i = 0usize;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 7919) % HPAS;
                let url = format!("{base}{}", synthetic_paths(i)[which]);
                rt.block_on(async {
                    let response = client
                        .get(url)
                        .header("Accept", "application/json")
                        .header(
                            "X-Remote-User",
                            "system:serviceaccount:kube-system:horizontal-pod-autoscaler",
                        )
                        .header("X-Remote-Group", "system:authenticated")
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(response.status(), 200);
                    response.bytes().await.unwrap()
                })
            })
        });
    }
    group.finish();
    rt.block_on(server.stop());
}

fn metrics_api(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let store = store();
    let clock = Clock::wall();
    bench_store(c, &store);
    let state = ApiState {
        store: store.clone(),
        metrics: Metrics::default(),
        clock: clock.clone(),
    };
    bench_router(c, &rt, state);
    bench_https(c, &rt, store, clock);
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(50).measurement_time(Duration::from_secs(5));
    targets = metrics_api
}
criterion_main!(benches);
