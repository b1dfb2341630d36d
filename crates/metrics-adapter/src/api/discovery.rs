//! Legacy (v1) discovery documents: `/apis`, the two API groups and their resource lists.
//!
//! kube-aggregator reads these to mark the APIServices available (within 5 s), and kubectl and
//! the HPA controller's REST mapper read them to find the metric resources. Like
//! kubernetes-sigs/custom-metrics-apiserver, the resource lists are built from what the store
//! holds: custom metrics as `{resource}/{metric}` (kind `MetricValueList`), external metrics by
//! name (kind `ExternalMetricValueList`), all with the single verb `get`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    APIGroup, APIGroupList, APIResource, APIResourceList, GroupVersionForDiscovery,
};

use crate::store::MetricStore;

use super::{CUSTOM_GROUP, CUSTOM_VERSIONS, EXTERNAL_GROUP, EXTERNAL_VERSIONS};

fn group(name: &str, versions: &[&str]) -> APIGroup {
    let versions: Vec<GroupVersionForDiscovery> = versions
        .iter()
        .map(|v| GroupVersionForDiscovery {
            group_version: format!("{name}/{v}"),
            version: (*v).to_string(),
        })
        .collect();
    APIGroup {
        name: name.to_string(),
        preferred_version: versions.first().cloned(),
        server_address_by_client_cidrs: None,
        versions,
    }
}

/// `APIGroup` of custom.metrics.k8s.io (v1beta2 preferred, then v1beta1).
pub fn custom_group() -> APIGroup {
    group(CUSTOM_GROUP, CUSTOM_VERSIONS)
}

/// `APIGroup` of external.metrics.k8s.io (v1beta1).
pub fn external_group() -> APIGroup {
    group(EXTERNAL_GROUP, EXTERNAL_VERSIONS)
}

/// `APIGroupList` served at `/apis`.
pub fn group_list() -> APIGroupList {
    APIGroupList {
        groups: vec![custom_group(), external_group()],
    }
}

fn resource(name: String, namespaced: bool, kind: &str) -> APIResource {
    APIResource {
        name,
        namespaced,
        kind: kind.to_string(),
        singular_name: String::new(),
        verbs: vec!["get".to_string()],
        categories: None,
        group: None,
        short_names: None,
        storage_version_hash: None,
        version: None,
    }
}

/// `APIResourceList` of custom.metrics.k8s.io/`version`: one entry per (resource, metric).
pub fn custom_resources(store: &MetricStore, version: &str) -> APIResourceList {
    let resources = store
        .custom_metric_names()
        .into_iter()
        .map(|(res, metric, namespaced)| {
            resource(format!("{res}/{metric}"), namespaced, "MetricValueList")
        })
        .collect();
    APIResourceList {
        group_version: format!("{CUSTOM_GROUP}/{version}"),
        resources,
    }
}

/// `APIResourceList` of external.metrics.k8s.io/`version`: one entry per metric name.
pub fn external_resources(store: &MetricStore, version: &str) -> APIResourceList {
    let resources = store
        .external_metric_names()
        .into_iter()
        .map(|metric| resource(metric, true, "ExternalMetricValueList"))
        .collect();
    APIResourceList {
        group_version: format!("{EXTERNAL_GROUP}/{version}"),
        resources,
    }
}
