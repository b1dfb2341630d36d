//! Instance prices for the simulated cost: USD per hour, on-demand and spot.
//!
//! On-demand figures are approximate public AWS list prices for Linux in eu-central-1
//! (Frankfurt) as of 2025/2026; they are good enough to compare scenarios, not to bill anyone.
//! Spot prices move all the time; the simulator charges a fixed fraction of on-demand
//! ([`SPOT_PRICE_FRACTION`], a typical long-run average for these families).

/// Spot price as a fraction of the on-demand price (a 65 % discount).
pub const SPOT_PRICE_FRACTION: f64 = 0.35;

/// `(instance type, on-demand USD/hour)`, eu-central-1, Linux, approximate.
const ON_DEMAND_USD_PER_HOUR: &[(&str, f64)] = &[
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

/// The on-demand price of an instance type in USD per hour, if the table knows it.
pub fn on_demand_usd_per_hour(instance_type: &str) -> Option<f64> {
    ON_DEMAND_USD_PER_HOUR
        .iter()
        .find(|(name, _)| *name == instance_type)
        .map(|(_, price)| *price)
}

/// The price the simulator charges per hour: on-demand, or the spot fraction of it.
pub fn usd_per_hour(instance_type: &str, spot: bool) -> Option<f64> {
    on_demand_usd_per_hour(instance_type).map(|p| if spot { p * SPOT_PRICE_FRACTION } else { p })
}

/// Every instance type with a price, for error messages.
pub fn known_types() -> impl Iterator<Item = &'static str> {
    ON_DEMAND_USD_PER_HOUR.iter().map(|(name, _)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spot_is_cheaper_and_unknown_types_have_no_price() {
        let od = usd_per_hour("m6i.2xlarge", false);
        let spot = usd_per_hour("m6i.2xlarge", true);
        assert_eq!(od, Some(0.46));
        assert!(spot.is_some_and(|s| s < 0.46 && s > 0.0));
        assert_eq!(usd_per_hour("x99.mega", false), None);
        assert!(known_types().all(|t| crate::instances::instance_type(t).is_some()));
    }
}
