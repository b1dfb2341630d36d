//! The instance catalogue and prices as a scenario sees them: current, Graviton and GPU types
//! load, prices come from the region or the scenario, and a type without a price is an error
//! that says how to give one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use tidal_simulate::Scenario;

fn load(text: &str) -> Result<Scenario, String> {
    Scenario::from_yaml(text, "cat.yaml", Path::new(".")).map_err(|e| e.to_string())
}

fn pools(region: &str, zones: &str, types: &str, extra: &str) -> String {
    format!(
        "region: {region}\nzones: [{zones}]\nnode_pools:\n\
         - {{name: main, instance_types: [{types}], max_size: 10}}\n\
         - {{name: spot, instance_types: [c7g.xlarge], spot: true, max_size: 10, \
         labels: {{kubernetes.io/arch: arm64}}}}\n{extra}\
         workloads:\n- name: web\n  replicas: 2\n  requests: {{cpu: 500m, memory: 1Gi}}\n  \
         load: {{constant: 1}}\n  cpu_per_unit: 1m\n"
    )
}

#[test]
fn current_graviton_and_gpu_types_load_with_prices_in_the_main_regions() {
    for (region, zone) in [
        ("us-east-1", "us-east-1a"),
        ("eu-west-1", "eu-west-1b"),
        ("ap-northeast-1", "ap-northeast-1a"),
    ] {
        let s = load(&pools(region, zone, "m7i.xlarge, g5.xlarge", "")).unwrap();
        for t in ["m7i.xlarge", "g5.xlarge", "c7g.xlarge"] {
            assert!(
                s.prices.on_demand(t).is_some_and(|p| p > 0.0),
                "{t} in {region}"
            );
        }
        assert!(s.prices.hourly("c7g.xlarge", true) < s.prices.hourly("c7g.xlarge", false));
    }
    let us = load(&pools("us-east-1", "us-east-1a", "m7i.xlarge", "")).unwrap();
    let eu = load(&pools("eu-central-1", "eu-central-1a", "m7i.xlarge", "")).unwrap();
    assert!(eu.prices.on_demand("m7i.xlarge") > us.prices.on_demand("m7i.xlarge"));
}

#[test]
fn a_type_without_a_price_is_an_error_saying_how_to_give_one() {
    let text = pools("us-east-1", "us-east-1a", "m6i.large, u-6tb1.56xlarge", "");
    let err = load(&text).unwrap_err();
    assert!(err.contains("node_pools[0].instance_types[1]"), "{err}");
    assert!(
        err.contains("no on-demand price for u-6tb1.56xlarge in us-east-1"),
        "{err}"
    );
    assert!(
        err.contains("prices: {on_demand: {u-6tb1.56xlarge: 0.5}}"),
        "{err}"
    );
    let priced = pools(
        "us-east-1",
        "us-east-1a",
        "m6i.large, u-6tb1.56xlarge",
        "prices: {on_demand: {u-6tb1.56xlarge: 40.04}}\n",
    );
    let s = load(&priced).unwrap();
    assert_eq!(s.prices.on_demand("u-6tb1.56xlarge"), Some(40.04));
    // A region without built-in prices needs every type priced.
    let err = load(&pools("me-central-1", "me-central-1a", "m6i.large", "")).unwrap_err();
    assert!(
        err.contains("no on-demand price for m6i.large in me-central-1"),
        "{err}"
    );
}

#[test]
fn price_overrides_are_checked_and_change_the_cost() {
    let err = load(&pools(
        "us-east-1",
        "us-east-1a",
        "m6i.large",
        "prices: {on_demand: {m6i.larg: 0.1}}\n",
    ))
    .unwrap_err();
    assert!(err.contains("prices.on_demand"), "{err}");
    assert!(err.contains("did you mean `m6i.large`"), "{err}");
    let err = load(&pools(
        "us-east-1",
        "us-east-1a",
        "m6i.large",
        "prices: {spot_discount: 1.5}\n",
    ))
    .unwrap_err();
    assert!(
        err.contains("prices.spot_discount") && err.contains("0 ≤ d < 1"),
        "{err}"
    );

    let cost = |extra: &str| {
        let text = common::SMALL.replace("autoscaler:", &format!("{extra}autoscaler:"));
        let s = common::scenario(&text).with_duration(Duration::from_secs(1800));
        common::run(s).summary.cost
    };
    let built_in = cost("");
    let doubled = cost("prices: {on_demand: {m6i.xlarge: 0.46, m5.xlarge: 0.46}}\n");
    assert!(built_in > 0.0);
    assert!(
        (doubled - 2.0 * built_in).abs() < 0.02,
        "{built_in} → {doubled}"
    );
}
