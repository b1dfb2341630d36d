//! The node-pool files, parsed and validated by the cluster autoscaler's own parser, turned
//! into what the need counts.

use std::collections::BTreeSet;
use std::path::Path;

use tidal_cluster_autoscaler::node_pool::{NodePoolError, NodePools, region_of_zone};
use tidal_core::quota::PoolDemand;

/// A node-pool file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PoolFileError {
    /// The file could not be read.
    #[error("reading node pools from {origin}")]
    Read {
        /// The path.
        origin: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file does not parse or validate: file, line, column and field, as the cluster
    /// autoscaler reports it.
    #[error(transparent)]
    Invalid(#[from] NodePoolError),
}

/// Reads and validates every file; the first bad one is the error (nothing is half-counted).
pub fn load(paths: &[impl AsRef<Path>]) -> Result<Vec<PoolDemand>, PoolFileError> {
    let mut demands = Vec::new();
    for path in paths {
        let origin = path.as_ref().display().to_string();
        let text =
            std::fs::read_to_string(path.as_ref()).map_err(|source| PoolFileError::Read {
                origin: origin.clone(),
                source,
            })?;
        demands.extend(demands_of(&NodePools::from_yaml(&text, &origin)?, &origin));
    }
    Ok(demands)
}

/// What the need counts of each pool of one file.
pub fn demands_of(pools: &NodePools, origin: &str) -> Vec<PoolDemand> {
    pools
        .pools()
        .iter()
        .map(|pool| PoolDemand {
            source: origin.to_owned(),
            pool: pool.name.clone(),
            regions: pool
                .zones
                .iter()
                .flatten()
                .map(|z| region_of_zone(z))
                .collect::<BTreeSet<_>>(),
            spot: pool.spot,
            max_size: pool.max_size,
            instance_types: pool.instance_types.clone(),
        })
        .collect()
}
