//! Failed scale-ups, read from the ASGs' scaling activities.
//!
//! SetDesiredCapacity succeeds even when EC2 then has no capacity: the failure only shows up as a
//! scaling activity with status `Failed` (or `Cancelled`) and a message such as
//! "We currently do not have sufficient m5.large capacity… InsufficientInstanceCapacity" or
//! "Could not launch Spot Instances. UnfulfillableCapacity…". Reading them lets the autoscaler back
//! a group off within one loop instead of waiting for the node provision timeout.

use std::collections::HashMap;

use aws_sdk_autoscaling::types::{Activity, ScalingActivityStatusCode};
use tidal_core::Timestamp;

use crate::ports::{NodeGroupId, ScaleUpFailure};

/// Converts an SDK timestamp to a core one.
pub(crate) fn timestamp(t: &aws_sdk_autoscaling::primitives::DateTime) -> Option<Timestamp> {
    t.to_millis().ok().map(Timestamp::from_millis)
}

/// Whether an activity launched (or tried to launch) instances, as opposed to terminating them.
fn is_launch(activity: &Activity) -> bool {
    activity
        .description()
        .is_some_and(|d| d.trim_start().to_ascii_lowercase().starts_with("launching"))
}

/// The failed scale-up this activity reports, if it is one: a launch activity of a known group
/// with status `Failed` or `Cancelled`, started at or after `since`.
pub fn failure_from_activity(
    activity: &Activity,
    groups: &HashMap<String, NodeGroupId>,
    since: Timestamp,
) -> Option<ScaleUpFailure> {
    let failed = matches!(
        activity.status_code(),
        Some(ScalingActivityStatusCode::Failed | ScalingActivityStatusCode::Cancelled)
    );
    if !failed || !is_launch(activity) {
        return None;
    }
    let group = groups.get(activity.auto_scaling_group_name()?)?;
    let started = activity.start_time().and_then(timestamp)?;
    if started < since {
        return None;
    }
    let at = activity.end_time().and_then(timestamp).unwrap_or(started);
    let reason = activity
        .status_message()
        .or(activity.description())
        .unwrap_or("scaling activity failed")
        .trim()
        .to_owned();
    Some(ScaleUpFailure {
        group: group.clone(),
        reason,
        at,
    })
}

/// Whether an activity started before `since`: activities come newest first, so the pages
/// after such an activity only hold older ones.
pub(crate) fn older_than(activity: &Activity, since: Timestamp) -> bool {
    activity
        .start_time()
        .and_then(timestamp)
        .is_some_and(|t| t < since)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use aws_sdk_autoscaling::primitives::DateTime;

    fn groups() -> HashMap<String, NodeGroupId> {
        HashMap::from([
            (
                "asg-spot-a".to_owned(),
                NodeGroupId::new("spot-c", "eu-central-1a"),
            ),
            (
                "asg-default-b".to_owned(),
                NodeGroupId::new("default", "eu-central-1b"),
            ),
        ])
    }

    fn activity(
        asg: &str,
        status: ScalingActivityStatusCode,
        description: &str,
        start_s: i64,
    ) -> Activity {
        Activity::builder()
            .activity_id(format!("act-{start_s}"))
            .auto_scaling_group_name(asg)
            .cause("At 2026-11-21T10:00:00Z a user request update of AutoScalingGroup constraints")
            .description(description)
            .start_time(DateTime::from_secs(start_s))
            .end_time(DateTime::from_secs(start_s + 30))
            .status_code(status)
            .status_message(
                "Could not launch Spot Instances. UnfulfillableCapacity - Unable to fulfill capacity due to \
                 your request configuration. Launching EC2 instance failed.",
            )
            .progress(100)
            .build()
    }

    #[test]
    fn failed_spot_launch_is_a_scale_up_failure_of_its_group() {
        let a = activity(
            "asg-spot-a",
            ScalingActivityStatusCode::Failed,
            "Launching a new EC2 instance.  Status Reason: …",
            1_000,
        );
        let f = failure_from_activity(&a, &groups(), Timestamp::from_secs(900)).unwrap();
        assert_eq!(f.group, NodeGroupId::new("spot-c", "eu-central-1a"));
        assert!(
            f.reason.starts_with("Could not launch Spot Instances"),
            "{}",
            f.reason
        );
        assert_eq!(f.at, Timestamp::from_secs(1_030), "end time when known");
    }

    #[test]
    fn insufficient_capacity_without_end_time_uses_the_start() {
        let a = Activity::builder()
            .activity_id("a1")
            .auto_scaling_group_name("asg-default-b")
            .cause("c")
            .description("Launching a new EC2 instance: i-0123")
            .start_time(DateTime::from_secs(2_000))
            .status_code(ScalingActivityStatusCode::Cancelled)
            .status_message("We currently do not have sufficient m6i.2xlarge capacity in the Availability Zone you requested (eu-central-1b). InsufficientInstanceCapacity")
            .build();
        let f = failure_from_activity(&a, &groups(), Timestamp::from_secs(2_000)).unwrap();
        assert_eq!(f.group, NodeGroupId::new("default", "eu-central-1b"));
        assert!(f.reason.contains("InsufficientInstanceCapacity"));
        assert_eq!(f.at, Timestamp::from_secs(2_000));
    }

    #[test]
    fn successful_old_foreign_and_termination_activities_are_not_failures() {
        let g = groups();
        let since = Timestamp::from_secs(1_000);
        let ok = activity(
            "asg-spot-a",
            ScalingActivityStatusCode::Successful,
            "Launching a new EC2 instance: i-1",
            1_500,
        );
        let in_progress = activity(
            "asg-spot-a",
            ScalingActivityStatusCode::InProgress,
            "Launching a new EC2 instance",
            1_500,
        );
        let old = activity(
            "asg-spot-a",
            ScalingActivityStatusCode::Failed,
            "Launching a new EC2 instance",
            999,
        );
        let foreign = activity(
            "someone-elses-asg",
            ScalingActivityStatusCode::Failed,
            "Launching a new EC2 instance",
            1_500,
        );
        let terminate = activity(
            "asg-spot-a",
            ScalingActivityStatusCode::Failed,
            "Terminating EC2 instance: i-1",
            1_500,
        );
        for a in [&ok, &in_progress, &old, &foreign, &terminate] {
            assert_eq!(failure_from_activity(a, &g, since), None, "{a:?}");
        }
        assert!(older_than(&old, since));
        assert!(!older_than(&ok, since));
    }
}
