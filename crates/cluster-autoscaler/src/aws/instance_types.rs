//! EC2 DescribeInstanceTypes → [`InstanceType`]: the capacity template nodes are built from, so a
//! pool can be scaled up from zero nodes.

use aws_sdk_ec2::types::{ArchitectureType, InstanceTypeInfo};
use tidal_core::instance::{Architecture, InstanceType};

use super::error::AwsError;

/// Extended resource name of AMD GPUs (the AMD device plugin's).
const AMD_GPU: &str = "amd.com/gpu";

fn count(value: Option<i32>) -> u32 {
    value.and_then(|v| u32::try_from(v).ok()).unwrap_or(0)
}

fn architecture(name: &str, supported: &[ArchitectureType]) -> Result<Architecture, AwsError> {
    // A type may list several (e.g. i386 and x86_64); Kubernetes nodes run the 64-bit one.
    if supported.contains(&ArchitectureType::X8664) {
        Ok(Architecture::Amd64)
    } else if supported.contains(&ArchitectureType::Arm64) {
        Ok(Architecture::Arm64)
    } else {
        Err(AwsError::InvalidInstanceType {
            name: name.to_owned(),
            reason: format!(
                "no supported Kubernetes architecture among {:?}",
                supported
                    .iter()
                    .map(ArchitectureType::as_str)
                    .collect::<Vec<_>>()
            ),
        })
    }
}

/// GPU count and the extended resource they appear as (`None` = the NVIDIA default).
fn gpus(info: &InstanceTypeInfo) -> (u32, Option<String>) {
    let Some(gpu_info) = info.gpu_info() else {
        return (0, None);
    };
    let total = gpu_info
        .gpus()
        .iter()
        .map(|g| count(g.count()))
        .fold(0u32, u32::saturating_add);
    let amd = gpu_info.gpus().iter().any(|g| {
        g.manufacturer()
            .is_some_and(|m| m.eq_ignore_ascii_case("AMD"))
    });
    (total, amd.then(|| AMD_GPU.to_owned()))
}

/// Converts one DescribeInstanceTypes entry.
pub fn instance_type_from_info(info: &InstanceTypeInfo) -> Result<InstanceType, AwsError> {
    let name = info
        .instance_type()
        .map(|t| t.as_str().to_owned())
        .ok_or_else(|| AwsError::InvalidInstanceType {
            name: String::new(),
            reason: "entry without a name".to_owned(),
        })?;
    let invalid = |reason: &str| AwsError::InvalidInstanceType {
        name: name.clone(),
        reason: reason.to_owned(),
    };
    let vcpus = count(info.v_cpu_info().and_then(|v| v.default_v_cpus()));
    if vcpus == 0 {
        return Err(invalid("no vCPU count"));
    }
    let memory_mib = info
        .memory_info()
        .and_then(|m| m.size_in_mib())
        .and_then(|m| u64::try_from(m).ok())
        .filter(|m| *m > 0)
        .ok_or_else(|| invalid("no memory size"))?;
    let architecture = architecture(
        &name,
        info.processor_info()
            .map(|p| p.supported_architectures())
            .unwrap_or_default(),
    )?;
    let (gpus, gpu_resource) = gpus(info);
    let network = info.network_info();
    let it = InstanceType {
        vcpus,
        memory_mib,
        gpus,
        gpu_resource,
        architecture,
        max_enis: count(network.and_then(|n| n.maximum_network_interfaces())),
        ipv4_per_eni: count(network.and_then(|n| n.ipv4_addresses_per_interface())),
        burstable: info.burstable_performance_supported().unwrap_or(false),
        bare_metal: info.bare_metal().unwrap_or(false),
        current_generation: info.current_generation().unwrap_or(false),
        name,
    };
    Ok(it)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use aws_sdk_ec2::types::{
        GpuDeviceInfo, GpuInfo, InstanceType as Ec2Type, MemoryInfo, NetworkInfo, ProcessorInfo,
        VCpuInfo,
    };

    fn info(
        name: &str,
        vcpus: i32,
        mib: i64,
        arch: ArchitectureType,
    ) -> aws_sdk_ec2::types::builders::InstanceTypeInfoBuilder {
        InstanceTypeInfo::builder()
            .instance_type(Ec2Type::from(name))
            .current_generation(true)
            .bare_metal(false)
            .burstable_performance_supported(false)
            .v_cpu_info(VCpuInfo::builder().default_v_cpus(vcpus).build())
            .memory_info(MemoryInfo::builder().size_in_mib(mib).build())
            .processor_info(
                ProcessorInfo::builder()
                    .supported_architectures(arch)
                    .build(),
            )
            .network_info(
                NetworkInfo::builder()
                    .maximum_network_interfaces(3)
                    .ipv4_addresses_per_interface(10)
                    .build(),
            )
    }

    #[test]
    fn a_general_purpose_type_maps_every_field() {
        let t =
            instance_type_from_info(&info("m5.large", 2, 8192, ArchitectureType::X8664).build())
                .unwrap();
        assert_eq!(t.name, "m5.large");
        assert_eq!((t.vcpus, t.memory_mib, t.gpus), (2, 8192, 0));
        assert_eq!(t.architecture, Architecture::Amd64);
        assert_eq!((t.max_enis, t.ipv4_per_eni), (3, 10));
        assert!(t.current_generation && !t.burstable && !t.bare_metal);
        assert_eq!(t.gpu_resource, None);
    }

    #[test]
    fn gpus_are_summed_and_amd_gpus_get_their_resource_name() {
        let nvidia = GpuInfo::builder()
            .gpus(
                GpuDeviceInfo::builder()
                    .name("V100")
                    .manufacturer("NVIDIA")
                    .count(8)
                    .build(),
            )
            .build();
        let t = instance_type_from_info(
            &info("p3.16xlarge", 64, 499_712, ArchitectureType::X8664)
                .gpu_info(nvidia)
                .build(),
        )
        .unwrap();
        assert_eq!(t.gpus, 8);
        assert_eq!(t.gpu_resource_name(), "nvidia.com/gpu");
        let amd = GpuInfo::builder()
            .gpus(
                GpuDeviceInfo::builder()
                    .name("Radeon Pro V520")
                    .manufacturer("AMD")
                    .count(1)
                    .build(),
            )
            .build();
        let t = instance_type_from_info(
            &info("g4ad.xlarge", 4, 16_384, ArchitectureType::X8664)
                .gpu_info(amd)
                .build(),
        )
        .unwrap();
        assert_eq!((t.gpus, t.gpu_resource_name()), (1, "amd.com/gpu"));
    }

    #[test]
    fn arm_burstable_and_metal_flags() {
        let t = instance_type_from_info(
            &info("t4g.micro", 2, 1024, ArchitectureType::Arm64)
                .burstable_performance_supported(true)
                .build(),
        )
        .unwrap();
        assert_eq!(t.architecture, Architecture::Arm64);
        assert!(t.burstable);
        let t = instance_type_from_info(
            &info("m5.metal", 96, 393_216, ArchitectureType::X8664)
                .bare_metal(true)
                .build(),
        )
        .unwrap();
        assert!(t.bare_metal);
    }

    #[test]
    fn entries_without_cpu_memory_or_a_usable_architecture_are_errors() {
        let no_mem = InstanceTypeInfo::builder()
            .instance_type(Ec2Type::from("x.large"))
            .v_cpu_info(VCpuInfo::builder().default_v_cpus(2).build())
            .build();
        let err = instance_type_from_info(&no_mem).unwrap_err();
        assert!(
            err.to_string().contains("x.large") && err.to_string().contains("memory"),
            "{err}"
        );
        let mac = instance_type_from_info(
            &info("mac1.metal", 12, 32_768, ArchitectureType::X8664Mac).build(),
        )
        .unwrap_err();
        assert!(mac.to_string().contains("x86_64_mac"), "{mac}");
    }
}
