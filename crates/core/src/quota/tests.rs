#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)]
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::*;
use crate::Timestamp;

const DAY: Duration = Duration::from_secs(24 * 3600);

fn vcpus(instance_type: &str) -> Option<u32> {
    let table: BTreeMap<&str, u32> = [
        ("m6i.2xlarge", 8),
        ("m5.2xlarge", 8),
        ("m5.4xlarge", 16),
        ("c6i.2xlarge", 8),
        ("c5.4xlarge", 16),
        ("i3.2xlarge", 8),
        ("g5.xlarge", 4),
        ("g5.12xlarge", 48),
        ("vt1.3xlarge", 12),
        ("p4d.24xlarge", 96),
        ("x2idn.16xlarge", 64),
        ("f1.2xlarge", 8),
        ("inf2.xlarge", 4),
        ("u-6tb1.112xlarge", 448),
        ("trn1.2xlarge", 8),
    ]
    .into_iter()
    .collect();
    table.get(instance_type).copied()
}

fn pool(source: &str, name: &str, types: &[&str], spot: bool, max_size: u32) -> PoolDemand {
    PoolDemand {
        source: source.into(),
        pool: name.into(),
        regions: BTreeSet::new(),
        spot,
        max_size,
        instance_types: types.iter().map(|t| (*t).to_owned()).collect(),
    }
}

fn no_headroom() -> QuotaPolicy {
    QuotaPolicy::try_new(0, 1, 7 * DAY).unwrap()
}

fn need_of(needs: &Needs, region: &str, quota: Ec2Quota) -> u64 {
    needs.by_quota[&(region.to_owned(), quota)].need
}

#[test]
fn instance_types_map_to_their_family_quota() {
    let cases = [
        ("m6i.2xlarge", false, "L-1216C47A"),
        ("c7gn.large", false, "L-1216C47A"),
        ("im4gn.large", false, "L-1216C47A"),
        ("t3.micro", true, "L-34B43A08"),
        ("r7iz.large", true, "L-34B43A08"),
        ("g5.xlarge", false, "L-DB2E81BA"),
        ("vt1.3xlarge", false, "L-DB2E81BA"),
        ("g4dn.xlarge", true, "L-3819A6DF"),
        ("p4d.24xlarge", false, "L-417A185B"),
        ("p5.48xlarge", true, "L-7212CCBC"),
        ("x2idn.16xlarge", false, "L-7295265B"),
        ("x1e.xlarge", true, "L-E3A00192"),
        ("f1.2xlarge", false, "L-74FC7D96"),
        ("f1.2xlarge", true, "L-88CF9481"),
        ("inf2.xlarge", false, "L-1945791B"),
        ("inf1.xlarge", true, "L-B5D1601B"),
        ("u-6tb1.112xlarge", false, "L-43DA4232"),
        ("u7i-12tb.224xlarge", false, "L-43DA4232"),
    ];
    for (instance_type, spot, code) in cases {
        let quota = Ec2Quota::of(instance_type, spot).unwrap();
        assert_eq!(quota.code(), Some(code), "{instance_type} spot={spot}");
    }
}

#[test]
fn families_without_a_known_quota_are_uncovered() {
    for (instance_type, spot) in [
        ("trn1.2xlarge", false),
        ("dl1.24xlarge", false),
        ("hpc7g.16xlarge", false),
        ("mac2.metal", false),
        ("u-6tb1.112xlarge", true),
    ] {
        let err = Ec2Quota::of(instance_type, spot).unwrap_err();
        assert_eq!(err.instance_type, instance_type);
        assert_eq!(err.spot, spot);
    }
}

#[test]
fn every_quota_has_a_distinct_code_and_only_high_memory_lacks_spot() {
    let all: Vec<Ec2Quota> = Ec2Quota::all().collect();
    assert_eq!(all.len(), 13);
    let codes: BTreeSet<_> = all.iter().map(|q| q.code().unwrap()).collect();
    assert_eq!(codes.len(), 13);
    assert!(all.contains(&Ec2Quota::ON_DEMAND_STANDARD));
    assert!(all.contains(&Ec2Quota::SPOT_STANDARD));
    assert!(
        !all.iter()
            .any(|q| q.group == FamilyGroup::HighMemory && q.spot)
    );
}

#[test]
fn need_is_max_size_times_the_largest_type_per_quota() {
    // (pools, expected (quota, vCPUs))
    let od = Ec2Quota::ON_DEMAND_STANDARD;
    let spot = Ec2Quota::SPOT_STANDARD;
    let g = Ec2Quota::of("g5.xlarge", false).unwrap();
    let cases: Vec<(Vec<PoolDemand>, Vec<(Ec2Quota, u64)>)> = vec![
        (
            vec![pool("a", "default", &["m6i.2xlarge"], false, 60)],
            vec![(od, 480)],
        ),
        // Mixed pool: the largest type counts for every node.
        (
            vec![pool("a", "mixed", &["m5.2xlarge", "m5.4xlarge"], false, 10)],
            vec![(od, 160)],
        ),
        // Spot and On-Demand are separate quotas.
        (
            vec![
                pool("a", "od", &["m6i.2xlarge"], false, 10),
                pool("a", "spot", &["c6i.2xlarge", "c5.4xlarge"], true, 40),
            ],
            vec![(od, 80), (spot, 640)],
        ),
        // G and VT share one quota; a pool mixing families counts in each family's quota.
        (
            vec![
                pool("a", "gpu", &["g5.xlarge", "g5.12xlarge"], false, 2),
                pool("a", "video", &["vt1.3xlarge", "m5.2xlarge"], false, 3),
            ],
            vec![(g, 96 + 36), (od, 24)],
        ),
        // max_size 0 needs nothing.
        (
            vec![pool("a", "off", &["p4d.24xlarge"], false, 0)],
            vec![(Ec2Quota::of("p4d.24xlarge", false).unwrap(), 0)],
        ),
    ];
    for (pools, expected) in cases {
        let needs = compute_needs(&pools, "eu-west-1", vcpus, &no_headroom()).unwrap();
        let got: Vec<(Ec2Quota, u64)> = needs
            .in_region("eu-west-1")
            .map(|(q, n)| (q, n.need))
            .collect();
        let mut expected = expected;
        expected.sort();
        assert_eq!(got, expected, "{pools:?}");
    }
}

#[test]
fn every_family_gets_its_own_quota() {
    let pools = vec![
        pool("a", "p", &["p4d.24xlarge"], false, 2),
        pool("a", "x", &["x2idn.16xlarge"], true, 3),
        pool("a", "f", &["f1.2xlarge"], false, 4),
        pool("a", "inf", &["inf2.xlarge"], true, 5),
        pool("a", "u", &["u-6tb1.112xlarge"], false, 1),
    ];
    let needs = compute_needs(&pools, "us-east-1", vcpus, &no_headroom()).unwrap();
    let got: BTreeMap<&str, u64> = needs
        .in_region("us-east-1")
        .map(|(q, n)| (q.code().unwrap(), n.need))
        .collect();
    let expected: BTreeMap<&str, u64> = [
        ("L-417A185B", 192),
        ("L-E3A00192", 192),
        ("L-74FC7D96", 32),
        ("L-B5D1601B", 20),
        ("L-43DA4232", 448),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, expected);
}

#[test]
fn several_clusters_files_are_summed_per_region() {
    let mut eu = pool("cluster-a.yaml", "default", &["m6i.2xlarge"], false, 60);
    eu.regions = BTreeSet::from(["eu-central-1".to_owned()]);
    let b = pool("cluster-b.yaml", "default", &["m5.4xlarge"], false, 10);
    let c = pool("cluster-c.yaml", "batch", &["c5.4xlarge"], false, 5);
    let needs = compute_needs(&[eu, b, c], "us-east-1", vcpus, &no_headroom()).unwrap();
    let od = Ec2Quota::ON_DEMAND_STANDARD;
    assert_eq!(need_of(&needs, "eu-central-1", od), 480);
    assert_eq!(need_of(&needs, "us-east-1", od), 160 + 80);
    assert_eq!(
        needs.regions(),
        BTreeSet::from(["eu-central-1", "us-east-1"])
    );
    let us = &needs.by_quota[&("us-east-1".to_owned(), od)];
    let sources: Vec<&str> = us.contributions.iter().map(|c| c.source.as_str()).collect();
    assert_eq!(
        sources,
        ["cluster-b.yaml", "cluster-c.yaml"],
        "largest first"
    );
}

#[test]
fn a_pool_spanning_regions_counts_in_full_in_each() {
    let mut p = pool("a", "wide", &["m5.2xlarge"], false, 10);
    p.regions = BTreeSet::from(["eu-west-1".to_owned(), "eu-west-2".to_owned()]);
    let needs = compute_needs(&[p], "us-east-1", vcpus, &no_headroom()).unwrap();
    let od = Ec2Quota::ON_DEMAND_STANDARD;
    assert_eq!(need_of(&needs, "eu-west-1", od), 80);
    assert_eq!(need_of(&needs, "eu-west-2", od), 80);
    assert!(needs.in_region("us-east-1").next().is_none());
}

#[test]
fn headroom_is_added_and_rounded_up() {
    let pools = vec![pool("a", "default", &["m6i.2xlarge"], false, 3)]; // 24 vCPUs
    for (headroom, expected) in [(0, 24), (10, 27), (20, 29), (100, 48)] {
        let policy = QuotaPolicy::try_new(headroom, 1, DAY).unwrap();
        let needs = compute_needs(&pools, "r", vcpus, &policy).unwrap();
        let need = &needs.by_quota[&("r".to_owned(), Ec2Quota::ON_DEMAND_STANDARD)];
        assert_eq!(need.pools_vcpus, 24);
        assert_eq!(need.need, expected, "headroom {headroom}%");
    }
}

#[test]
fn unknown_instance_types_are_an_error_and_uncovered_ones_are_listed() {
    let err = compute_needs(
        &[pool("f.yaml", "x", &["m9z.huge"], false, 1)],
        "r",
        vcpus,
        &no_headroom(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "f.yaml: pool \"x\": instance type \"m9z.huge\" is unknown to EC2 in this region"
    );
    let needs = compute_needs(
        &[pool("f.yaml", "train", &["trn1.2xlarge"], false, 4)],
        "r",
        vcpus,
        &no_headroom(),
    )
    .unwrap();
    assert!(needs.by_quota.is_empty());
    let uncovered: Vec<_> = needs.uncovered.iter().collect();
    assert_eq!(uncovered.len(), 1);
    assert_eq!(uncovered[0].0.instance_type, "trn1.2xlarge");
    assert_eq!(uncovered[0].1, &vec!["f.yaml: train".to_owned()]);
}

#[test]
fn policy_validates_and_rounds() {
    assert_eq!(QuotaPolicy::try_new(0, 0, DAY), Err(QuotaError::ZeroStep));
    let p = QuotaPolicy::try_new(0, 32, DAY).unwrap();
    assert_eq!(p.round_up(1), 32);
    assert_eq!(p.round_up(32), 32);
    assert_eq!(p.round_up(33), 64);
    assert_eq!(p.round_up(0), 0);
    assert_eq!(QuotaPolicy::default().headroom_percent(), 20);
}

// ---- decisions ----

const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);

fn request(status: &str, desired: f64, days_ago: u32) -> PastRequest {
    let at = NOW - DAY * days_ago;
    PastRequest {
        id: format!("req-{status}-{days_ago}"),
        status: RequestStatus::parse(status),
        desired,
        created: at,
        last_updated: Some(at),
    }
}

fn policy() -> QuotaPolicy {
    QuotaPolicy::try_new(0, 32, 7 * DAY).unwrap()
}

#[test]
fn enough_quota_needs_nothing_whatever_the_history() {
    assert_eq!(decide(640.0, 640, &[], &policy(), NOW), Decision::Enough);
    let history = [request("DENIED", 1000.0, 1)];
    assert_eq!(
        decide(1000.0, 10, &history, &policy(), NOW),
        Decision::Enough
    );
}

#[test]
fn without_history_it_asks_for_the_need_rounded_to_the_step() {
    for (value, need, desired) in [
        (5.0, 100, 128),
        (5.0, 128, 128),
        (127.5, 128, 128),
        (0.0, 1, 32),
    ] {
        assert_eq!(
            decide(value, need, &[], &policy(), NOW),
            Decision::Request { desired },
            "value {value} need {need}"
        );
    }
}

#[test]
fn it_never_asks_for_less_than_the_current_value() {
    // Whatever the rounding, the request is above the value.
    let p = QuotaPolicy::try_new(0, 1, DAY).unwrap();
    for (value, need) in [(99.5, 100), (0.0, 1), (4999.9, 5000)] {
        let Decision::Request { desired } = decide(value, need, &[], &p, NOW) else {
            panic!("expected a request for value {value} need {need}");
        };
        assert!(
            desired as f64 > value && desired >= need,
            "{desired} vs {value}"
        );
    }
}

#[test]
fn every_status_is_handled() {
    // (status, days since it changed, asked, expected decision kind)
    let cases = [
        ("PENDING", 30, 10.0, "open"),
        ("CASE_OPENED", 30, 10.0, "open"),
        ("SOMETHING_NEW", 1, 10.0, "open"),
        ("APPROVED", 1, 640.0, "approved"),
        ("APPROVED", 1, 100.0, "request"), // asked less than the need
        ("APPROVED", 8, 640.0, "request"), // quiet period over, value still short
        ("DENIED", 1, 640.0, "quiet"),
        ("NOT_APPROVED", 6, 640.0, "quiet"),
        ("CASE_CLOSED", 2, 640.0, "quiet"),
        ("INVALID_REQUEST", 3, 640.0, "quiet"),
        ("DENIED", 7, 640.0, "request"), // exactly the quiet period: over
        ("CASE_CLOSED", 30, 640.0, "request"),
    ];
    for (status, days, asked, expected) in cases {
        let history = [request(status, asked, days)];
        let decision = decide(64.0, 600, &history, &policy(), NOW);
        let kind = match &decision {
            Decision::Enough => "enough",
            Decision::Open { .. } => "open",
            Decision::Approved { .. } => "approved",
            Decision::Quiet { .. } => "quiet",
            Decision::Request { .. } => "request",
        };
        assert_eq!(
            kind, expected,
            "{status} {days}d ago asking {asked}: {decision:?}"
        );
        if let Decision::Quiet { until, request } = &decision {
            assert_eq!(*until, NOW - DAY * days + 7 * DAY);
            assert_eq!(request.status.as_str(), status);
        }
        if let Decision::Request { desired } = decision {
            assert_eq!(desired, 608);
        }
    }
}

#[test]
fn an_open_request_wins_over_older_refusals_and_the_latest_refusal_counts() {
    let history = [
        request("DENIED", 640.0, 2),
        request("PENDING", 100.0, 20),
        request("APPROVED", 64.0, 40),
    ];
    let Decision::Open { request: open } = decide(64.0, 600, &history, &policy(), NOW) else {
        panic!("expected open");
    };
    assert_eq!(open.id, "req-PENDING-20");

    let history = [
        request("DENIED", 640.0, 10),
        request("CASE_CLOSED", 640.0, 3),
    ];
    let Decision::Quiet {
        request: refused, ..
    } = decide(64.0, 600, &history, &policy(), NOW)
    else {
        panic!("expected quiet");
    };
    assert_eq!(refused.id, "req-CASE_CLOSED-3");
}

#[test]
fn status_strings_round_trip() {
    for s in [
        "PENDING",
        "CASE_OPENED",
        "APPROVED",
        "DENIED",
        "NOT_APPROVED",
        "CASE_CLOSED",
        "INVALID_REQUEST",
        "LATER",
    ] {
        assert_eq!(RequestStatus::parse(s).as_str(), s);
    }
}
