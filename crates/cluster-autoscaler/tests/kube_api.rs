//! The autoscaler's Kubernetes client and adapter against the in-memory API stand-in of
//! tidal-test-support, over loopback HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use tidal_cluster_autoscaler::kube::{KubeCluster, StatusLocation};
use tidal_cluster_autoscaler::ports::{ClusterActions, ClusterError};
use tidal_runtime::kube_client_from;
use tidal_test_support::KubeApi;

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
    let kubeconfig =
        kube::config::Kubeconfig::read_from(api.kubeconfig(dir.path()).unwrap()).unwrap();
    let options = kube::config::KubeConfigOptions::default();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .unwrap();
    let status = StatusLocation {
        namespace: "kube-system".into(),
        name: "cluster-autoscaler-status".into(),
    };
    let cluster = KubeCluster::start(
        kube_client_from(config).unwrap(),
        status,
        None,
        tidal_runtime::Clock::system(),
    );

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
