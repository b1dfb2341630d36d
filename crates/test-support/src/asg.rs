//! Auto Scaling Groups on moto, tagged the way the cluster autoscaler discovers them: the one
//! launch-template-and-ASG fixture of the crate tests and the end-to-end tests.
//!
//! Behind the `aws-fixtures` feature, so only the tests that create ASGs compile the EC2 and
//! Auto Scaling SDKs for it (both already build for the cluster autoscaler itself).

use aws_config::SdkConfig;
use aws_sdk_autoscaling::types::{LaunchTemplateSpecification, Tag};
use aws_sdk_ec2::types::{InstanceType, RequestLaunchTemplateData};

use crate::HarnessError;

/// An ASG to create: name, zones, bounds and tags. Instances are m5.large.
#[derive(Clone, Debug)]
pub struct AsgSpec<'a> {
    /// The ASG's name.
    pub name: &'a str,
    /// Its availability zones.
    pub zones: &'a [&'a str],
    /// Minimum size.
    pub min_size: i32,
    /// Maximum size.
    pub max_size: i32,
    /// Desired capacity at creation.
    pub desired: i32,
    /// Its tags (see [`discovery_tags`]).
    pub tags: Vec<Tag>,
}

/// A tag that is not propagated to instances.
pub fn asg_tag(key: &str, value: &str) -> Tag {
    Tag::builder()
        .key(key)
        .value(value)
        .propagate_at_launch(false)
        .build()
}

/// The tags by which the cluster autoscaler finds an ASG of `pool` in `cluster`.
pub fn discovery_tags(cluster: &str, pool: &str) -> Vec<Tag> {
    vec![
        asg_tag("k8s.io/cluster-autoscaler/enabled", "true"),
        asg_tag(&format!("k8s.io/cluster-autoscaler/{cluster}"), "owned"),
        asg_tag("tidal.io/node-pool", pool),
    ]
}

/// Creates launch template `name` (m5.large) for [`create_asg`].
pub async fn create_launch_template(config: &SdkConfig, name: &str) -> Result<(), HarnessError> {
    aws_sdk_ec2::Client::new(config)
        .create_launch_template()
        .launch_template_name(name)
        .launch_template_data(
            RequestLaunchTemplateData::builder()
                .image_id("ami-12c6146b")
                .instance_type(InstanceType::M5Large)
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_error(format!("creating launch template {name}"), &e))?;
    Ok(())
}

/// Creates the ASG `spec` from launch template `template` (latest version).
pub async fn create_asg(
    config: &SdkConfig,
    template: &str,
    spec: AsgSpec<'_>,
) -> Result<(), HarnessError> {
    let mut req = aws_sdk_autoscaling::Client::new(config)
        .create_auto_scaling_group()
        .auto_scaling_group_name(spec.name)
        .launch_template(
            LaunchTemplateSpecification::builder()
                .launch_template_name(template)
                .version("$Latest")
                .build(),
        )
        .min_size(spec.min_size)
        .max_size(spec.max_size)
        .desired_capacity(spec.desired)
        .set_tags(Some(spec.tags));
    for zone in spec.zones {
        req = req.availability_zones(*zone);
    }
    req.send()
        .await
        .map_err(|e| aws_error(format!("creating ASG {}", spec.name), &e))?;
    Ok(())
}

fn aws_error(action: String, e: &dyn std::error::Error) -> HarnessError {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    HarnessError::Aws { action, message }
}
