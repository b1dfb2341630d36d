//! EC2 DescribeInstanceTypes → ladder candidates, read once at start-up.

use aws_sdk_ec2::types::{ArchitectureType, InstanceTypeInfo};
use tidal_core::control_plane::LadderCandidate;
use tidal_core::instance::{Architecture, InstanceType};

use crate::aws_error::classify;
use crate::ports::ActuatorError;

fn count(v: Option<i32>) -> u32 {
    v.and_then(|v| u32::try_from(v).ok()).unwrap_or(0)
}

/// One DescribeInstanceTypes entry as a ladder candidate; `None` for an entry without a name,
/// vCPUs, memory or a 64-bit architecture (it cannot be a control-plane size).
pub fn candidate(info: &InstanceTypeInfo) -> Option<LadderCandidate> {
    let name = info.instance_type()?.as_str().to_owned();
    let vcpus = count(info.v_cpu_info().and_then(|v| v.default_v_cpus()));
    let memory_mib = info
        .memory_info()
        .and_then(|m| m.size_in_mib())
        .and_then(|m| u64::try_from(m).ok())?;
    let arches = info
        .processor_info()
        .map(|p| p.supported_architectures())
        .unwrap_or_default();
    let architecture = if arches.contains(&ArchitectureType::X8664) {
        Architecture::Amd64
    } else if arches.contains(&ArchitectureType::Arm64) {
        Architecture::Arm64
    } else {
        return None;
    };
    let gpus = info.gpu_info().map_or(0, |g| {
        g.gpus().iter().map(|d| count(d.count())).sum::<u32>()
    });
    let inference = info.inference_accelerator_info().map_or(0, |i| {
        i.accelerators()
            .iter()
            .map(|a| count(a.count()))
            .sum::<u32>()
    });
    let fpgas = info.fpga_info().map_or(0, |f| {
        f.fpgas().iter().map(|a| count(a.count())).sum::<u32>()
    });
    let neuron = info.neuron_info().map_or(0, |n| {
        n.neuron_devices()
            .iter()
            .map(|d| count(d.count()))
            .sum::<u32>()
    });
    let media = info.media_accelerator_info().map_or(0, |m| {
        m.accelerators()
            .iter()
            .map(|a| count(a.count()))
            .sum::<u32>()
    });
    let mut instance = InstanceType::new(name, vcpus, memory_mib)
        .with_gpus(gpus)
        .with_architecture(architecture);
    instance.burstable = info.burstable_performance_supported().unwrap_or(false);
    instance.bare_metal = info.bare_metal().unwrap_or(false);
    instance.current_generation = info.current_generation().unwrap_or(false);
    Some(LadderCandidate {
        instance,
        accelerators: inference + fpgas + neuron + media,
    })
}

/// Every instance type the region offers.
pub async fn describe_all(
    ec2: &aws_sdk_ec2::Client,
) -> Result<Vec<LadderCandidate>, ActuatorError> {
    let mut out = Vec::new();
    let mut pages = ec2.describe_instance_types().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify("DescribeInstanceTypes", e))?;
        out.extend(page.instance_types().iter().filter_map(candidate));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use tidal_core::control_plane::{Ladder, LadderError, LadderFilter};
    use tidal_test_support::MotoServer;

    use super::*;

    /// moto serves AWS's real instance-type data.
    #[tokio::test]
    async fn the_ladder_from_real_instance_type_data() {
        let moto = MotoServer::start()
            .await
            .unwrap_or_else(|e| panic!("cannot start moto_server: {e}"));
        let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config("us-east-1").await);
        let all = describe_all(&ec2).await.unwrap();
        assert!(all.len() > 500, "{} types", all.len());
        let filter = LadderFilter {
            families: vec!["m7i".into(), "m6a".into()],
            ..LadderFilter::default()
        };
        let ladder = Ladder::from_instance_types(all.clone(), &filter, "--families").unwrap();
        let names: Vec<&str> = ladder.rungs().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names[..3],
            ["m7i.large", "m7i.xlarge", "m7i.2xlarge"],
            "{names:?}"
        );
        assert!(!names.iter().any(|n| n.contains(".metal")), "{names:?}");
        // m6a only where m7i has no size of the same (vCPU, memory).
        assert!(
            names
                .iter()
                .all(|n| n.starts_with("m7i.") || n.starts_with("m6a.")),
            "{names:?}"
        );
        assert!(names.contains(&"m6a.32xlarge"), "{names:?}");
        // AWS's data marks m6i previous-generation now: it needs allowing.
        let old = LadderFilter {
            families: vec!["m6i".into()],
            ..LadderFilter::default()
        };
        assert!(Ladder::from_instance_types(all.clone(), &old, "--families").is_err());
        let old = LadderFilter {
            allow_previous_generation: true,
            ..old
        };
        let ladder = Ladder::from_instance_types(all.clone(), &old, "--families").unwrap();
        assert_eq!(ladder.rungs()[0].name, "m6i.large");
        let vcpus: Vec<u32> = ladder
            .rungs()
            .iter()
            .map(|r| r.capacity.vcpus.unwrap())
            .collect();
        assert!(vcpus.windows(2).all(|w| w[0] <= w[1]), "{vcpus:?}");

        // GPU and inference types stay off unless allowed.
        let accel = LadderFilter {
            families: vec!["g5".into()],
            ..LadderFilter::default()
        };
        let err = Ladder::from_instance_types(all.clone(), &accel, "--families").unwrap_err();
        assert!(matches!(err, LadderError::UnknownFamily { .. }), "{err}");
        let graviton = LadderFilter {
            families: vec!["m7g".into()],
            architecture: Architecture::Arm64,
            ..LadderFilter::default()
        };
        let ladder = Ladder::from_instance_types(all.clone(), &graviton, "--families").unwrap();
        assert_eq!(ladder.rungs()[0].name, "m7g.medium");
        // Burstable types need allowing.
        let t3 = LadderFilter {
            families: vec!["t3".into()],
            ..LadderFilter::default()
        };
        assert!(Ladder::from_instance_types(all.clone(), &t3, "--families").is_err());
        let t3 = LadderFilter {
            allow_burstable: true,
            ..t3
        };
        assert_eq!(
            Ladder::from_instance_types(all, &t3, "--families")
                .unwrap()
                .rungs()[0]
                .name,
            "t3.nano"
        );
    }
}
