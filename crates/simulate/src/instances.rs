//! Instance type data for the simulated cloud's `instance_types` port.
//!
//! The real provider reads EC2 DescribeInstanceTypes; the simulator knows the handful of
//! types its scenarios use (public EC2 specifications: vCPUs, memory, ENIs and IPv4 addresses
//! per ENI, which bound the pods per node with the VPC CNI).

use tidal_core::instance::InstanceType;

/// `(name, vCPUs, memory MiB, max ENIs, IPv4 addresses per ENI)`; all current-generation x86_64.
const TYPES: &[(&str, u32, u64, u32, u32)] = &[
    ("m6i.large", 2, 8_192, 3, 10),
    ("m6i.xlarge", 4, 16_384, 4, 15),
    ("m6i.2xlarge", 8, 32_768, 4, 15),
    ("m6i.4xlarge", 16, 65_536, 8, 30),
    ("m5.large", 2, 8_192, 3, 10),
    ("m5.xlarge", 4, 16_384, 4, 15),
    ("m5.2xlarge", 8, 32_768, 4, 15),
    ("m5.4xlarge", 16, 65_536, 8, 30),
    ("m5a.xlarge", 4, 16_384, 4, 15),
    ("m5a.2xlarge", 8, 32_768, 4, 15),
    ("m5a.4xlarge", 16, 65_536, 8, 30),
    ("c6i.large", 2, 4_096, 3, 10),
    ("c6i.xlarge", 4, 8_192, 4, 15),
    ("c6i.2xlarge", 8, 16_384, 4, 15),
    ("c6i.4xlarge", 16, 32_768, 8, 30),
    ("c5.xlarge", 4, 8_192, 4, 15),
    ("c5.2xlarge", 8, 16_384, 4, 15),
    ("c5.4xlarge", 16, 32_768, 8, 30),
    ("c5a.xlarge", 4, 8_192, 4, 15),
    ("c5a.2xlarge", 8, 16_384, 4, 15),
    ("c5a.4xlarge", 16, 32_768, 8, 30),
    ("r6i.xlarge", 4, 32_768, 4, 15),
    ("r6i.2xlarge", 8, 65_536, 4, 15),
    ("r5.2xlarge", 8, 65_536, 4, 15),
    ("i3.xlarge", 4, 31_232, 4, 15),
    ("i3.2xlarge", 8, 62_464, 4, 15),
];

/// The data of one instance type, if the simulator knows it.
pub fn instance_type(name: &str) -> Option<InstanceType> {
    TYPES.iter().find(|(n, ..)| *n == name).map(
        |&(name, vcpus, memory_mib, max_enis, ipv4_per_eni)| {
            InstanceType::new(name, vcpus, memory_mib).with_network(max_enis, ipv4_per_eni)
        },
    )
}

/// Every instance type the simulator knows, for error messages.
pub fn known_types() -> impl Iterator<Item = &'static str> {
    TYPES.iter().map(|(name, ..)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_types_have_data_and_prices() {
        let m6i = instance_type("m6i.2xlarge");
        assert!(
            m6i.as_ref()
                .is_some_and(|t| t.vcpus == 8 && t.memory_mib == 32_768)
        );
        assert!(instance_type("x99.mega").is_none());
        assert!(known_types().all(|t| crate::prices::on_demand_usd_per_hour(t).is_some()));
    }
}
