#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn serving_pods_are_running_ready_and_old_enough() {
    let now = Timestamp::from_secs(1000);
    let pod = PodSummary {
        namespace: "shop".into(),
        name: "a".into(),
        ip: Some("10.0.0.1".parse().unwrap()),
        labels: BTreeMap::new(),
        running: true,
        ready: true,
        ready_since: Some(Timestamp::from_secs(970)),
        deleting: false,
    };
    assert!(pod.serves(now, Duration::ZERO));
    assert!(pod.serves(now, Duration::from_secs(30)));
    assert!(!pod.serves(now, Duration::from_secs(31)));
    assert!(
        !PodSummary {
            deleting: true,
            ..pod.clone()
        }
        .serves(now, Duration::ZERO)
    );
    assert!(
        !PodSummary {
            ip: None,
            ..pod.clone()
        }
        .serves(now, Duration::ZERO)
    );
    assert!(
        !PodSummary {
            running: false,
            ..pod.clone()
        }
        .serves(now, Duration::ZERO)
    );
    assert!(
        !PodSummary {
            ready_since: None,
            ..pod
        }
        .serves(now, Duration::from_secs(1))
    );
}
