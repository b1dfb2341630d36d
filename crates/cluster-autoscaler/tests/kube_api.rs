//! The autoscaler's Kubernetes client and adapter against the in-memory API stand-in of
//! tidal-test-support, over loopback HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tidal_cluster_autoscaler::kube::liveness::{self, SILENCE_LIMIT};
use tidal_cluster_autoscaler::kube::{KubeCluster, StatusLocation, WatchHealth};
use tidal_cluster_autoscaler::ports::{
    ClusterActions, ClusterError, ClusterSource, WatchedCluster,
};
use tidal_core::Timestamp;
use tidal_runtime::Clock;
use tidal_test_support::KubeApi;

/// The client configuration for the stand-in `api`.
async fn config_for(api: &KubeApi, dir: &tempfile::TempDir) -> kube::Config {
    let kubeconfig =
        kube::config::Kubeconfig::read_from(api.kubeconfig(dir.path()).unwrap()).unwrap();
    let options = kube::config::KubeConfigOptions::default();
    kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .unwrap()
}

/// The autoscaler's cluster adapter on the stand-in, through the autoscaler's client.
async fn start(api: &KubeApi, dir: &tempfile::TempDir, clock: &Clock) -> KubeCluster {
    let health = Arc::new(WatchHealth::default());
    let client =
        liveness::client(config_for(api, dir).await, health.clone(), clock.clone()).unwrap();
    let status = StatusLocation {
        namespace: "kube-system".into(),
        name: "cluster-autoscaler-status".into(),
    };
    KubeCluster::start(client, health, status, None, clock.clone())
}

#[tokio::test]
async fn a_refused_eviction_comes_back_at_once_without_retries() {
    let api = KubeApi::start().await.unwrap();
    api.put(json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"namespace": "shop", "name": "web-1"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "web"}]},
    }))
    .unwrap();
    // The API server answers 429 (no Retry-After) while a disruption budget blocks eviction.
    api.refuse_evictions(true);
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(&api, &dir, &Clock::system()).await;

    let err = cluster.evict_pod("shop", "web-1").await.unwrap_err();
    assert!(matches!(err, ClusterError::EvictionBlocked { .. }), "{err}");
    let evictions = api
        .requests()
        .into_iter()
        .filter(|r| r.starts_with("POST") && r.contains("/pods/web-1/eviction"))
        .count();
    assert_eq!(
        evictions,
        1,
        "asked once, not retried: {:?}",
        api.requests()
    );

    // Allowed again: the pod is evicted.
    api.refuse_evictions(false);
    cluster.evict_pod("shop", "web-1").await.unwrap();
    assert!(api.get("v1", "Pod", Some("shop"), "web-1").is_none());
}

#[tokio::test]
async fn a_watch_that_is_accepted_and_never_sends_is_stale_and_ages_the_snapshot() {
    let api = KubeApi::start().await.unwrap();
    api.put(json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "node-1"},
        "spec": {"providerID": "aws:///eu-central-1a/i-1"},
        "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"}},
    }))
    .unwrap();
    // Pods list fine, but their watch is accepted and then never sends a byte.
    api.silence_watches("pods");
    let dir = tempfile::tempdir().unwrap();
    let t0 = Timestamp::from_secs(1_800_000_000);
    let clock = Clock::manual(t0);
    let cluster = start(&api, &dir, &clock).await;
    tokio::time::timeout(Duration::from_secs(20), cluster.wait_until_ready())
        .await
        .expect("every kind is listed")
        .unwrap();
    assert!(cluster.stale_watches().is_empty(), "just listed");
    assert_eq!(cluster.snapshot().unwrap().taken_at, t0);

    // Past the silence limit: the other watches get bookmarks (the stand-in sends one every
    // few seconds), the pods watch stays silent.
    clock.advance(SILENCE_LIMIT + Duration::from_secs(1));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let stale: Vec<&str> = cluster.stale_watches().iter().map(|s| s.kind).collect();
        if stale == ["pods"] {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected only pods to be stale, got {stale:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stale = &cluster.stale_watches()[0];
    assert!(stale.silent_for > SILENCE_LIMIT, "{stale:?}");
    // The snapshot is as old as the last word from the pods watch: the loop treats it as stale
    // (no scale-down, no termination).
    assert_eq!(cluster.snapshot().unwrap().taken_at, t0);
}
