//! Address limits from CIDR sizes (IPv4): pods per node from the node's block, nodes per
//! cluster from how many node blocks the cluster CIDR holds.

use thiserror::Error;

/// The kubelet's default max pods, the cap on the CIDR-derived figure.
pub const MAX_PODS_CAP: u32 = 110;

/// Invalid CIDR prefix lengths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CidrError {
    /// An IPv4 prefix length is at most 32.
    #[error("{which} prefix /{prefix} is longer than 32")]
    PrefixTooLong {
        /// `node` or `cluster`.
        which: &'static str,
        /// The prefix length given.
        prefix: u8,
    },
    /// Node blocks are carved out of the cluster CIDR, so their prefix must be longer.
    #[error("node prefix /{node} must be longer than cluster prefix /{cluster}")]
    NodePrefixNotLonger {
        /// Cluster CIDR prefix length.
        cluster: u8,
        /// Node CIDR prefix length.
        node: u8,
    },
}

fn check(which: &'static str, prefix: u8) -> Result<(), CidrError> {
    if prefix > 32 {
        return Err(CidrError::PrefixTooLong { which, prefix });
    }
    Ok(())
}

/// Max pods for a node with a `/prefix_len` pod CIDR: half its addresses (so a new pod never
/// reuses a just-freed IP), capped at 110. /24 → 110, /25 → 64, /26 → 32.
pub fn max_pods_for_node_cidr(prefix_len: u8) -> Result<u32, CidrError> {
    check("node", prefix_len)?;
    let addresses = 1u64 << (32 - u32::from(prefix_len));
    Ok(u32::try_from((addresses / 2).min(u64::from(MAX_PODS_CAP))).unwrap_or(MAX_PODS_CAP))
}

/// How many nodes a `/cluster_prefix` cluster CIDR split into `/node_prefix` blocks holds:
/// /16 with /24 → 256, /25 → 512, /26 → 1024 (saturating at `u32::MAX`).
pub fn node_limit_for_cluster_cidr(cluster_prefix: u8, node_prefix: u8) -> Result<u32, CidrError> {
    check("cluster", cluster_prefix)?;
    check("node", node_prefix)?;
    if node_prefix <= cluster_prefix {
        return Err(CidrError::NodePrefixNotLonger {
            cluster: cluster_prefix,
            node: node_prefix,
        });
    }
    let blocks = 1u64 << u32::from(node_prefix - cluster_prefix);
    Ok(u32::try_from(blocks).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn max_pods_figures_from_spec() {
        for (prefix, want) in [
            (24, 110),
            (25, 64),
            (26, 32),
            (27, 16),
            (28, 8),
            (16, 110),
            (0, 110),
            (31, 1),
            (32, 0),
        ] {
            assert_eq!(max_pods_for_node_cidr(prefix).unwrap(), want, "/{prefix}");
        }
    }

    #[test]
    fn node_limits_figures_from_spec() {
        assert_eq!(node_limit_for_cluster_cidr(16, 24).unwrap(), 256);
        assert_eq!(node_limit_for_cluster_cidr(16, 25).unwrap(), 512);
        assert_eq!(node_limit_for_cluster_cidr(16, 26).unwrap(), 1024);
        assert_eq!(node_limit_for_cluster_cidr(8, 24).unwrap(), 65_536);
        assert_eq!(node_limit_for_cluster_cidr(0, 32).unwrap(), u32::MAX);
    }

    #[test]
    fn invalid_prefixes_are_typed_errors() {
        assert_eq!(
            max_pods_for_node_cidr(33),
            Err(CidrError::PrefixTooLong {
                which: "node",
                prefix: 33
            })
        );
        assert_eq!(
            node_limit_for_cluster_cidr(33, 34),
            Err(CidrError::PrefixTooLong {
                which: "cluster",
                prefix: 33
            })
        );
        assert_eq!(
            node_limit_for_cluster_cidr(16, 40),
            Err(CidrError::PrefixTooLong {
                which: "node",
                prefix: 40
            })
        );
        assert_eq!(
            node_limit_for_cluster_cidr(24, 24),
            Err(CidrError::NodePrefixNotLonger {
                cluster: 24,
                node: 24
            })
        );
        assert_eq!(
            node_limit_for_cluster_cidr(24, 16),
            Err(CidrError::NodePrefixNotLonger {
                cluster: 24,
                node: 16
            })
        );
        assert!(
            node_limit_for_cluster_cidr(24, 16)
                .unwrap_err()
                .to_string()
                .contains("/16 must be longer than cluster prefix /24")
        );
    }
}
