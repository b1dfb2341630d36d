//! The HPA examples of `docs/hpa-annotations.md` (`examples/hpa/*.yaml`) are accepted by the
//! metrics adapter's own parser, each of its metrics becomes a collector, together they cover
//! every collector type, and the docs page names every example: the docs cannot drift from
//! the code. The metrics the component pages list are the ones the components register.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod registered_metrics;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use tidal_metrics_adapter::config::{
    CollectionSettings, CollectorType, HpaCollectors, build_hpa_collectors,
};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn examples() -> Vec<PathBuf> {
    let dir = root().join("examples/hpa");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no examples in {}", dir.display());
    files
}

/// Settings as deployed: a default Prometheus and the region the examples' queues are in.
fn settings() -> CollectionSettings {
    CollectionSettings {
        prometheus_server: Some("http://prometheus-operated.monitoring.svc:9090".into()),
        aws_regions: vec!["eu-central-1".into()],
        ..CollectionSettings::default()
    }
}

/// The example at `path`, built; panics naming the file when it is not a valid HPA.
fn build(path: &Path, settings: &CollectionSettings) -> (HorizontalPodAutoscaler, HpaCollectors) {
    let text = std::fs::read_to_string(path).unwrap();
    let hpa: HorizontalPodAutoscaler = serde_yaml_ng::from_str(&text)
        .unwrap_or_else(|e| panic!("{}: not an autoscaling/v2 HPA: {e}", path.display()));
    let built = build_hpa_collectors(&hpa, settings);
    (hpa, built)
}

/// Metrics of `hpa` the adapter serves (all but Resource and ContainerResource).
fn adapter_metrics(hpa: &HorizontalPodAutoscaler) -> usize {
    let metrics = hpa.spec.as_ref().and_then(|s| s.metrics.as_deref());
    metrics
        .unwrap_or_default()
        .iter()
        .filter(|m| matches!(m.type_.as_str(), "Pods" | "Object" | "External"))
        .count()
}

#[test]
fn every_example_is_accepted_by_the_adapter() {
    let settings = settings();
    for path in examples() {
        let (hpa, built) = build(&path, &settings);
        let name = path.display();
        assert!(built.errors.is_empty(), "{name}: {:#?}", built.errors);
        assert!(
            built.adjusted.is_empty(),
            "{name}: clamped {:?}",
            built.adjusted
        );
        assert_eq!(
            built.configs.len(),
            adapter_metrics(&hpa),
            "{name}: every Pods, Object and External metric becomes a collector"
        );
        assert!(!built.configs.is_empty(), "{name}: shows no collector");
    }
}

#[test]
fn the_examples_cover_every_collector_type() {
    let settings = settings();
    let covered: BTreeSet<&str> = examples()
        .iter()
        .flat_map(|path| build(path, &settings).1.configs)
        .map(|c| c.collector_type().as_str())
        .collect();
    let all = [
        CollectorType::JsonPathPods,
        CollectorType::JsonPathUrl,
        CollectorType::Prometheus,
        CollectorType::RequestsPerSecond,
        CollectorType::SqsQueueLength,
    ];
    for collector in all {
        assert!(
            covered.contains(collector.as_str()),
            "no example under examples/hpa uses {collector}"
        );
    }
}

#[test]
fn the_reference_page_links_every_example() {
    let page = std::fs::read_to_string(root().join("docs/hpa-annotations.md")).unwrap();
    for path in examples() {
        let file = path.file_name().unwrap().to_string_lossy();
        assert!(
            page.contains(&format!("examples/hpa/{file}")),
            "docs/hpa-annotations.md does not show examples/hpa/{file}"
        );
    }
}

// The check is not vacuous: a typo in an annotation key, or a queue in a region the adapter
// does not serve, is refused with the annotation or label named.
#[test]
fn a_broken_example_is_refused() {
    let path = root().join("examples/hpa/sqs-queue-length.yaml");
    let (mut hpa, built) = build(&path, &settings());
    assert!(built.errors.is_empty());
    let annotations = hpa.metadata.annotations.get_or_insert_default();
    annotations.insert(
        "metric-config.external.sqs-messages.sqs-queue-length/queue".into(),
        "jobs".into(),
    );
    let built = build_hpa_collectors(&hpa, &settings());
    let errors = format!("{:?}", built.errors);
    assert!(errors.contains("sqs-queue-length/queue"), "{errors}");

    let elsewhere = CollectionSettings {
        aws_regions: vec!["us-east-1".into()],
        ..settings()
    };
    let (_, built) = build(&path, &elsewhere);
    let errors = format!("{:?}", built.errors);
    assert!(errors.contains("eu-central-1"), "{errors}");
}

/// The metric names in the first column of the `## Metrics` table of `page`, with `prefix`
/// (a cell may list several names, e.g. `` `backoff`, `backoff_remaining_seconds` ``).
fn documented_metrics(page: &str, prefix: &str) -> Vec<String> {
    let section = page
        .split("\n## ")
        .find(|s| s.starts_with("Metrics"))
        .unwrap_or_else(|| panic!("no Metrics section"));
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .flat_map(|l| {
            let cell = l.split('|').nth(1).unwrap_or_default();
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(|name| format!("{prefix}{name}"))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_metrics_the_pages_list_are_registered() {
    let registered = registered_metrics::registered_names();
    for (page, prefix, least) in [
        ("docs/metrics-adapter.md", "tidal_metrics_adapter_", 5),
        (
            "docs/cluster-autoscaler.md",
            "tidal_cluster_autoscaler_",
            20,
        ),
    ] {
        let text = std::fs::read_to_string(root().join(page)).unwrap();
        let names = documented_metrics(&text, prefix);
        assert!(names.len() >= least, "{page}: {names:?}");
        let unknown: Vec<&String> = names.iter().filter(|n| !registered.contains(*n)).collect();
        assert!(
            unknown.is_empty(),
            "{page} lists unregistered metrics {unknown:?}"
        );
    }
}
