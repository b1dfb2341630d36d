//! EC2 `DescribeInstanceTypes`: the vCPUs of the pools' instance types.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::InstanceType;

use super::call_error;
use crate::ports::{CallError, InstanceCatalog};

/// DescribeInstanceTypes accepts at most this many names per call.
const NAMES_PER_CALL: usize = 100;

/// The EC2 client of one region.
#[derive(Clone, Debug)]
pub struct Ec2Catalog {
    client: Client,
}

impl Ec2Catalog {
    /// A client from `config`.
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            client: Client::new(config),
        }
    }
}

impl InstanceCatalog for Ec2Catalog {
    async fn vcpus(&self, types: &[String]) -> Result<BTreeMap<String, u32>, CallError> {
        const ACTION: &str = "ec2:DescribeInstanceTypes";
        let mut vcpus = BTreeMap::new();
        for chunk in types.chunks(NAMES_PER_CALL) {
            let names: Vec<InstanceType> = chunk
                .iter()
                .map(|t| InstanceType::from(t.as_str()))
                .collect();
            let mut pages = self
                .client
                .describe_instance_types()
                .set_instance_types(Some(names))
                .into_paginator()
                .items()
                .send();
            while let Some(info) = pages
                .try_next()
                .await
                .map_err(|e| call_error(ACTION, chunk.join(", "), e))?
            {
                let name = info.instance_type().map(|t| t.as_str().to_owned());
                let count = info
                    .v_cpu_info()
                    .and_then(|v| v.default_v_cpus())
                    .and_then(|v| u32::try_from(v).ok());
                if let (Some(name), Some(count)) = (name, count) {
                    vcpus.insert(name, count);
                }
            }
        }
        Ok(vcpus)
    }
}
