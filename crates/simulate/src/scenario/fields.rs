//! Scalar field types of a scenario file that validate while they are read, so that a bad
//! value is reported by the YAML parser with its line and field.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer};
use tidal_core::quantity::QuantityError;

/// A duration written the human way: `90s`, `10m`, `1h 30m`, `24h`; at most
/// [`MAX_DURATION`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct HumanDuration(pub Duration);

/// The longest duration a scenario may write (365 days): durations are added to each other
/// and to the simulated clock, and a bound keeps that arithmetic far from overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let duration = humantime::parse_duration(&text).map_err(|e| {
            de::Error::custom(format!(
                "invalid duration `{text}`: {e} (e.g. 90s, 10m, 1h30m)"
            ))
        })?;
        if duration > MAX_DURATION {
            return Err(de::Error::custom(format!(
                "duration `{text}` is longer than the maximum of {}",
                humantime::format_duration(MAX_DURATION)
            )));
        }
        Ok(HumanDuration(duration))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", humantime::format_duration(self.0))
    }
}

/// A time of day, `HH:MM` (24-hour clock), as an offset from midnight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeOfDay(pub Duration);

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_time_of_day(&text).map(TimeOfDay).ok_or_else(|| {
            de::Error::custom(format!(
                "invalid time of day `{text}` (expected HH:MM, e.g. 19:00)"
            ))
        })
    }
}

fn parse_time_of_day(text: &str) -> Option<Duration> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (u64, u64) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then(|| Duration::from_secs(h * 3600 + m * 60))
}

/// A CPU amount as a Kubernetes quantity string (`500m`, `2`), kept in milli-cores.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuQuantity(pub i64);

impl<'de> Deserialize<'de> for CpuQuantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = quantity_text(d)?;
        if has_memory_unit(&text) {
            return Err(de::Error::custom(format!(
                "`{text}` has a memory unit; expected {CPU_FORMAT}"
            )));
        }
        match tidal_core::quantity::parse_cpu_millis(&text) {
            Ok(m) => Ok(CpuQuantity(m)),
            Err(QuantityError::Negative { .. }) => Err(de::Error::custom(format!(
                "`{text}` is negative; expected {CPU_FORMAT}"
            ))),
            Err(_) => Err(de::Error::custom(format!("`{text}` is not {CPU_FORMAT}"))),
        }
    }
}

/// How to write a CPU amount.
const CPU_FORMAT: &str = "CPU as cores or millicores, e.g. 2 or 500m";
/// How to write a memory amount.
const MEMORY_FORMAT: &str = "memory as bytes with a unit, e.g. 512Mi or 2Gi";

/// A memory amount as a Kubernetes quantity string (`512Mi`, `2Gi`), kept in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemoryQuantity(pub i64);

impl<'de> Deserialize<'de> for MemoryQuantity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = quantity_text(d)?;
        match tidal_core::quantity::parse_bytes(&text) {
            Ok(b) => Ok(MemoryQuantity(b)),
            Err(QuantityError::Negative { .. }) => Err(de::Error::custom(format!(
                "`{text}` is negative; expected {MEMORY_FORMAT}"
            ))),
            Err(_) => Err(de::Error::custom(format!(
                "`{text}` is not {MEMORY_FORMAT}"
            ))),
        }
    }
}

/// A CPU amount that may be fractional below a millicore (`0.5m`, `250u`), kept in cores.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpuAmount(pub f64);

impl<'de> Deserialize<'de> for CpuAmount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = quantity_text(d)?;
        match text.parse::<tidal_core::quantity::Quantity>() {
            Ok(q) if !has_memory_unit(&text) && q.as_f64().is_finite() && q.as_f64() >= 0.0 => {
                Ok(CpuAmount(q.as_f64()))
            }
            _ => Err(de::Error::custom(format!(
                "`{text}` is not CPU as cores, millicores or microcores (not negative), e.g. 2, 10m \
                 or 500u"
            ))),
        }
    }
}

/// Whether a quantity ends in a binary (memory) suffix such as `Mi` or `Gi`: valid Kubernetes
/// syntax, but never meant for CPU.
fn has_memory_unit(text: &str) -> bool {
    let t = text.trim();
    t.strip_suffix('i')
        .and_then(|rest| rest.chars().last())
        .is_some_and(|c| "KMGTPE".contains(c))
}

/// Quantities may be written as YAML numbers (`cpu: 2`) or strings (`cpu: 500m`).
fn quantity_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Int(i64),
        Float(f64),
    }
    Ok(match Raw::deserialize(d)? {
        Raw::Text(t) => t,
        Raw::Int(i) => i.to_string(),
        Raw::Float(f) => f.to_string(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn times_of_day_parse_and_reject_out_of_range() {
        assert_eq!(
            parse_time_of_day("19:30"),
            Some(Duration::from_secs(19 * 3600 + 1800))
        );
        assert_eq!(parse_time_of_day("24:00"), None);
        assert_eq!(parse_time_of_day("7"), None);
    }

    #[test]
    fn fields_read_from_yaml() {
        let d: HumanDuration = serde_yaml_ng::from_str("1h 30m").unwrap();
        assert_eq!(d.0, Duration::from_secs(5400));
        let c: CpuQuantity = serde_yaml_ng::from_str("250m").unwrap();
        assert_eq!(c.0, 250);
        let c: CpuQuantity = serde_yaml_ng::from_str("2").unwrap();
        assert_eq!(c.0, 2000);
        let m: MemoryQuantity = serde_yaml_ng::from_str("1Gi").unwrap();
        assert_eq!(m.0, 1 << 30);
        let err = serde_yaml_ng::from_str::<CpuQuantity>("lots").unwrap_err();
        assert!(
            err.to_string()
                .contains("cores or millicores, e.g. 2 or 500m"),
            "{err}"
        );
        let err = serde_yaml_ng::from_str::<CpuQuantity>("-1").unwrap_err();
        assert!(err.to_string().contains("is negative"), "{err}");
        assert!(
            !err.to_string().contains("Mi"),
            "no memory units for CPU: {err}"
        );
        let err = serde_yaml_ng::from_str::<CpuQuantity>("2Gi").unwrap_err();
        assert!(err.to_string().contains("has a memory unit"), "{err}");
        assert!(serde_yaml_ng::from_str::<CpuAmount>("1Mi").is_err());
        let err = serde_yaml_ng::from_str::<MemoryQuantity>("1 GB").unwrap_err();
        assert!(err.to_string().contains("e.g. 512Mi or 2Gi"), "{err}");
        let a: CpuAmount = serde_yaml_ng::from_str("500u").unwrap();
        assert!((a.0 - 0.0005).abs() < 1e-12);
        assert!(serde_yaml_ng::from_str::<HumanDuration>("soon").is_err());
        let d: HumanDuration = serde_yaml_ng::from_str("365d").unwrap();
        assert_eq!(d.0, MAX_DURATION);
        let err = serde_yaml_ng::from_str::<HumanDuration>("500000000000y").unwrap_err();
        assert!(err.to_string().contains("longer than the maximum"), "{err}");
    }
}
