//! Instance prices for the simulated cost: USD per hour, on-demand and spot.
//!
//! Built-in on-demand figures are approximate public AWS list prices for Linux, good enough to
//! compare scenarios, not to bill anyone:
//! - a few exact eu-central-1 (Frankfurt) prices of the types the example scenarios use;
//! - per-type us-east-1 prices of GPU types (their prices are not linear in vCPUs);
//! - otherwise the family's us-east-1 price per vCPU-hour (EC2 prices the sizes of a family in
//!   proportion to their vCPUs) times the type's vCPUs;
//!
//! and outside us-east-1 times the region's factor (its price of `m5.large` over us-east-1's).
//! Spot prices move all the time; the simulator charges on-demand minus a fixed discount
//! ([`DEFAULT_SPOT_DISCOUNT`], a typical long-run average). A scenario overrides any of this
//! with `prices: {on_demand: {TYPE: USD}, spot_discount: 0.6}`.

use std::collections::BTreeMap;

/// Spot discount off on-demand when the scenario gives none (65 %).
pub const DEFAULT_SPOT_DISCOUNT: f64 = 0.65;

/// Regions with built-in prices: the factor over us-east-1 (from `m5.large`).
const REGION_FACTORS: &[(&str, f64)] = &[
    ("us-east-1", 1.0),
    ("us-east-2", 1.0),
    ("us-west-2", 1.0),
    ("us-west-1", 1.167),
    ("ca-central-1", 1.115),
    ("eu-west-1", 1.115),
    ("eu-west-2", 1.156),
    ("eu-west-3", 1.167),
    ("eu-central-1", 1.198),
    ("eu-north-1", 1.063),
    ("ap-south-1", 1.052),
    ("ap-southeast-1", 1.25),
    ("ap-southeast-2", 1.25),
    ("ap-northeast-1", 1.292),
    ("sa-east-1", 1.594),
];

/// us-east-1 on-demand USD per vCPU-hour of general-purpose, compute, memory and storage
/// families whose sizes are priced in proportion to their vCPUs.
const FAMILY_PER_VCPU_HOUR: &[(&str, f64)] = &[
    ("m5", 0.048),
    ("m5a", 0.043),
    ("m5d", 0.0565),
    ("m5n", 0.0595),
    ("m6a", 0.0432),
    ("m6g", 0.0385),
    ("m6gd", 0.0452),
    ("m6i", 0.048),
    ("m6id", 0.0593),
    ("m7a", 0.058),
    ("m7g", 0.0408),
    ("m7gd", 0.0534),
    ("m7i", 0.0504),
    ("m7i-flex", 0.0479),
    ("m8g", 0.0449),
    ("c5", 0.0425),
    ("c5a", 0.0385),
    ("c5d", 0.048),
    ("c5n", 0.054),
    ("c6a", 0.0383),
    ("c6g", 0.034),
    ("c6gd", 0.0384),
    ("c6gn", 0.0432),
    ("c6i", 0.0425),
    ("c6id", 0.0504),
    ("c7a", 0.0513),
    ("c7g", 0.0363),
    ("c7gd", 0.0454),
    ("c7i", 0.0446),
    ("c8g", 0.0399),
    ("r5", 0.063),
    ("r5a", 0.0565),
    ("r5d", 0.072),
    ("r5n", 0.0745),
    ("r6a", 0.0567),
    ("r6g", 0.0504),
    ("r6gd", 0.0576),
    ("r6i", 0.063),
    ("r6id", 0.0756),
    ("r7a", 0.0761),
    ("r7g", 0.0536),
    ("r7gd", 0.0681),
    ("r7i", 0.0662),
    ("r8g", 0.0589),
    ("i3", 0.078),
    ("i4i", 0.0858),
];

/// us-east-1 on-demand USD per hour of types not priced by their family's vCPU rate.
const TYPE_PER_HOUR: &[(&str, f64)] = &[
    ("g4dn.xlarge", 0.526),
    ("g4dn.2xlarge", 0.752),
    ("g4dn.4xlarge", 1.204),
    ("g4dn.8xlarge", 2.176),
    ("g4dn.12xlarge", 3.912),
    ("g4dn.16xlarge", 4.352),
    ("g5.xlarge", 1.006),
    ("g5.2xlarge", 1.212),
    ("g5.4xlarge", 1.624),
    ("g5.8xlarge", 2.448),
    ("g5.12xlarge", 5.672),
    ("g5.16xlarge", 4.096),
    ("g5.24xlarge", 8.144),
    ("g5.48xlarge", 16.288),
    ("g6.xlarge", 0.8048),
    ("g6.2xlarge", 0.9776),
    ("g6.4xlarge", 1.3232),
    ("g6.8xlarge", 2.0144),
];

/// Exact eu-central-1 prices of the types the example scenarios use.
const EU_CENTRAL_1_PER_HOUR: &[(&str, f64)] = &[
    ("m6i.large", 0.115),
    ("m6i.xlarge", 0.230),
    ("m6i.2xlarge", 0.460),
    ("m6i.4xlarge", 0.920),
    ("m5.large", 0.115),
    ("m5.xlarge", 0.230),
    ("m5.2xlarge", 0.460),
    ("m5.4xlarge", 0.920),
    ("m5a.xlarge", 0.208),
    ("m5a.2xlarge", 0.416),
    ("m5a.4xlarge", 0.832),
    ("c6i.large", 0.097),
    ("c6i.xlarge", 0.194),
    ("c6i.2xlarge", 0.388),
    ("c6i.4xlarge", 0.776),
    ("c5.xlarge", 0.194),
    ("c5.2xlarge", 0.388),
    ("c5.4xlarge", 0.776),
    ("c5a.xlarge", 0.174),
    ("c5a.2xlarge", 0.348),
    ("c5a.4xlarge", 0.696),
    ("r6i.xlarge", 0.304),
    ("r6i.2xlarge", 0.608),
    ("r5.2xlarge", 0.608),
    ("i3.xlarge", 0.372),
    ("i3.2xlarge", 0.744),
];

fn lookup(table: &[(&str, f64)], key: &str) -> Option<f64> {
    table.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// Regions with built-in prices.
pub fn known_regions() -> impl Iterator<Item = &'static str> {
    REGION_FACTORS.iter().map(|(r, _)| *r)
}

/// The built-in on-demand price of `instance_type` in `region`, USD per hour, if there is one.
pub fn built_in_on_demand(region: &str, instance_type: &str) -> Option<f64> {
    if region == "eu-central-1"
        && let Some(p) = lookup(EU_CENTRAL_1_PER_HOUR, instance_type)
    {
        return Some(p);
    }
    let factor = lookup(REGION_FACTORS, region)?;
    if let Some(p) = lookup(TYPE_PER_HOUR, instance_type) {
        return Some(round4(p * factor));
    }
    let (family, _) = instance_type.split_once('.')?;
    let per_vcpu = lookup(FAMILY_PER_VCPU_HOUR, family)?;
    let vcpus = crate::instances::instance_type(instance_type)?.vcpus;
    Some(round4(per_vcpu * f64::from(vcpus) * factor))
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// A type has no price: neither built in for the region nor given by the scenario.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error(
    "the simulator has no on-demand price for {instance_type} in {region}; give one in the \
     scenario, in USD per hour: `prices: {{on_demand: {{{instance_type}: 0.5}}}}`"
)]
pub struct MissingPrice {
    /// The instance type.
    pub instance_type: String,
    /// The scenario's region.
    pub region: String,
}

/// The prices of one scenario: on-demand per type (built in or given) and the spot discount.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceBook {
    on_demand: BTreeMap<String, f64>,
    spot_discount: f64,
}

impl Default for PriceBook {
    fn default() -> Self {
        Self {
            on_demand: BTreeMap::new(),
            spot_discount: DEFAULT_SPOT_DISCOUNT,
        }
    }
}

impl PriceBook {
    /// Prices for `types` in `region`: `overrides` first, then the built-in table.
    pub fn resolve<'a>(
        region: &str,
        types: impl IntoIterator<Item = &'a str>,
        overrides: &BTreeMap<String, f64>,
        spot_discount: f64,
    ) -> Result<Self, MissingPrice> {
        let mut on_demand = BTreeMap::new();
        for t in types {
            let price = overrides
                .get(t)
                .copied()
                .or_else(|| built_in_on_demand(region, t))
                .ok_or_else(|| MissingPrice {
                    instance_type: t.to_owned(),
                    region: region.to_owned(),
                })?;
            on_demand.insert(t.to_owned(), price);
        }
        Ok(Self {
            on_demand,
            spot_discount,
        })
    }

    /// The spot discount (fraction off on-demand).
    pub fn spot_discount(&self) -> f64 {
        self.spot_discount
    }

    /// On-demand USD per hour of a resolved type.
    pub fn on_demand(&self, instance_type: &str) -> Option<f64> {
        self.on_demand.get(instance_type).copied()
    }

    /// What the simulator charges per hour: on-demand, or on-demand minus the spot discount.
    pub fn hourly(&self, instance_type: &str, spot: bool) -> Option<f64> {
        let p = self.on_demand(instance_type)?;
        Some(if spot {
            p * (1.0 - self.spot_discount)
        } else {
            p
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn built_in_prices_cover_the_main_families_and_regions() {
        assert_eq!(
            built_in_on_demand("eu-central-1", "m6i.2xlarge"),
            Some(0.46)
        );
        assert_eq!(built_in_on_demand("us-east-1", "m6i.2xlarge"), Some(0.384));
        // Graviton and current generations are priced by their family's vCPU rate.
        assert_eq!(built_in_on_demand("us-east-1", "c7g.xlarge"), Some(0.1452));
        assert!(built_in_on_demand("eu-west-1", "m7i.4xlarge").is_some_and(|p| p > 0.8));
        assert_eq!(built_in_on_demand("us-east-1", "g5.xlarge"), Some(1.006));
        assert_eq!(built_in_on_demand("mars-north-1", "m6i.large"), None);
        assert_eq!(built_in_on_demand("us-east-1", "u-12tb1.112xlarge"), None);
        for (t, _) in TYPE_PER_HOUR.iter().chain(EU_CENTRAL_1_PER_HOUR) {
            assert!(
                crate::instances::instance_type(t).is_some(),
                "{t} not in the catalogue"
            );
        }
    }

    #[test]
    fn a_price_book_takes_overrides_first_and_names_a_missing_price() {
        let overrides = BTreeMap::from([("m6i.large".to_owned(), 0.2)]);
        let book = PriceBook::resolve("eu-central-1", ["m6i.large", "c6i.large"], &overrides, 0.6)
            .unwrap();
        assert_eq!(book.hourly("m6i.large", false), Some(0.2));
        assert_eq!(book.hourly("c6i.large", false), Some(0.097));
        assert!((book.hourly("m6i.large", true).unwrap() - 0.08).abs() < 1e-12);
        let err =
            PriceBook::resolve("eu-central-1", ["u-12tb1.112xlarge"], &overrides, 0.6).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("no on-demand price for u-12tb1.112xlarge in eu-central-1"));
        assert!(
            text.contains("prices: {on_demand: {u-12tb1.112xlarge: 0.5}}"),
            "{text}"
        );
    }
}
