//! Only loopback addresses appear here (the project's rule for tests): the defaults are shown
//! on loopback, which they refuse like the other denied ranges.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn allow_loopback_v4() -> OutboundPolicy {
    OutboundPolicy {
        allow: vec!["127.0.0.0/8".parse().unwrap()],
        ..OutboundPolicy::default()
    }
}

#[test]
fn loopback_is_refused_by_default_in_every_spelling() {
    let policy = OutboundPolicy::default();
    assert_eq!(policy.check(v4(127, 0, 0, 1)), Err(Refusal::Loopback));
    assert_eq!(policy.check(v4(127, 9, 8, 7)), Err(Refusal::Loopback));
    assert_eq!(
        policy.check(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        Err(Refusal::Loopback)
    );
    // ::ffff:127.0.0.1 reaches the same socket as 127.0.0.1.
    let mapped = IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped());
    assert_eq!(policy.check(mapped), Err(Refusal::Loopback));
}

#[test]
fn the_allow_flag_lifts_a_default_only_for_its_range() {
    let policy = allow_loopback_v4();
    assert_eq!(policy.check(v4(127, 0, 0, 1)), Ok(()));
    assert_eq!(
        policy.check(IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped())),
        Ok(())
    );
    assert_eq!(
        policy.check(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        Err(Refusal::Loopback),
        "::1 is outside 127.0.0.0/8"
    );
}

#[test]
fn own_pod_ip_and_denied_ranges_win_over_allowed_ranges() {
    let mut policy = allow_loopback_v4();
    policy.own_ips = vec![v4(127, 0, 0, 2)];
    policy.deny = vec!["127.0.0.5/32".parse().unwrap()];
    assert_eq!(policy.check(v4(127, 0, 0, 2)), Err(Refusal::OwnPod));
    assert_eq!(
        policy.check(v4(127, 0, 0, 5)),
        Err(Refusal::DeniedRange("127.0.0.5/32".parse().unwrap()))
    );
    assert_eq!(policy.check(v4(127, 0, 0, 3)), Ok(()));
}

#[test]
fn literal_addresses_in_urls_are_checked_names_are_left_to_the_resolver() {
    let policy = OutboundPolicy::default();
    let url = |s: &str| reqwest::Url::parse(s).unwrap();
    let refused = policy.check_url(&url("http://127.0.0.1:9/x")).unwrap_err();
    assert_eq!(refused.addr, v4(127, 0, 0, 1));
    assert_eq!(refused.why, Refusal::Loopback);
    assert!(
        refused
            .to_string()
            .contains("loopback addresses are not allowed"),
        "{refused}"
    );
    assert!(policy.check_url(&url("http://[::1]:9/x")).is_err());
    assert!(policy.check_url(&url("http://metrics.example:9/x")).is_ok());
    assert!(
        allow_loopback_v4()
            .check_url(&url("http://127.0.0.1:9/"))
            .is_ok()
    );
}

#[tokio::test]
async fn the_resolver_refuses_names_that_resolve_to_denied_addresses() {
    let name = |s: &str| s.parse::<Name>().unwrap();
    let refusing = PolicyResolver::new(Arc::new(OutboundPolicy::default()));
    let err = refusing.resolve(name("localhost")).await.err().unwrap();
    let refused = refusal_of(err.as_ref()).expect("the policy's refusal");
    assert_eq!(refused.host, "localhost");
    assert_eq!(refused.why, Refusal::Loopback);

    let allowing = PolicyResolver::new(Arc::new(OutboundPolicy {
        allow: vec!["127.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
        ..OutboundPolicy::default()
    }));
    let addrs: Vec<_> = allowing.resolve(name("localhost")).await.unwrap().collect();
    assert!(!addrs.is_empty());
    assert!(addrs.iter().all(|a| a.ip().is_loopback()), "{addrs:?}");
}
