//! Kubernetes resource quantities (`100m`, `1.5`, `512Mi`, `2G`, `1e3`, …), parsed exactly.
//!
//! A [`Quantity`] holds its value as an integer count of nano-units (`i128`), so parsing,
//! comparing and converting never goes through floating point. Parsing follows
//! `k8s.io/apimachinery` `ParseQuantity`: values finer than one nano-unit are rounded up
//! (away from zero), binary-suffixed values are capped at 2^63−1, and the suffix family
//! (decimal SI, binary SI, decimal exponent) is remembered so [`Quantity`]'s `Display`
//! prints the same canonical form Kubernetes prints (`1.5` → `1500m`, `1.5Gi` → `1536Mi`).
//!
//! Deliberate differences from Kubernetes, all on inputs nobody writes on purpose:
//! a string without any digit (`.`, `+`, `-.`), which Kubernetes reads as zero, is rejected;
//! inputs longer than [`MAX_INPUT_LEN`] bytes are rejected; decimal values beyond
//! about ±1.7·10^29 (the `i128` nano range) are rejected instead of being held as big decimals.

mod format;
mod parse;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use parse::MAX_INPUT_LEN;

/// Nano-units in one unit: the finest precision a quantity keeps.
const NANO_PER_UNIT: i128 = 1_000_000_000;
/// Nano-units in one milli-unit.
const NANO_PER_MILLI: i128 = 1_000_000;

/// Why a string is not a quantity. Every variant names the offending input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The string is empty.
    #[error("an empty string is not a quantity")]
    Empty,
    /// The string is longer than [`MAX_INPUT_LEN`] bytes (shown shortened).
    #[error("quantity {input:?}… is longer than {MAX_INPUT_LEN} bytes")]
    TooLong {
        /// The first characters of the input.
        input: String,
    },
    /// The string is not a signed decimal number followed by an optional suffix.
    #[error("{input:?} is not a quantity: expected a number such as 100m, 1.5, 512Mi, 2G or 1e3")]
    Malformed {
        /// The input as given.
        input: String,
    },
    /// The number is followed by a suffix Kubernetes does not know.
    #[error(
        "{input:?} is not a quantity: unknown suffix {suffix:?} (expected one of n u m k M G T P E, Ki Mi Gi Ti Pi Ei, or an exponent such as e3)"
    )]
    UnknownSuffix {
        /// The input as given.
        input: String,
        /// The part after the number.
        suffix: String,
    },
    /// The value is too large in magnitude to hold exactly.
    #[error("quantity {input:?} is out of range")]
    OutOfRange {
        /// The input as given.
        input: String,
    },
    /// A resource amount (CPU, bytes) was negative.
    #[error("quantity {input:?} is negative; a resource amount cannot be")]
    Negative {
        /// The input as given.
        input: String,
    },
}

/// The suffix family a quantity was written in; it decides how the quantity is printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Format {
    /// Powers of ten with SI suffixes: `n u m "" k M G T P E`.
    #[default]
    DecimalSI,
    /// Powers of 1024 with binary suffixes: `Ki Mi Gi Ti Pi Ei`.
    BinarySI,
    /// Scientific notation: `1e3`, `5e-3`.
    DecimalExponent,
}

/// An exact Kubernetes resource quantity.
///
/// Equality, ordering and hashing compare the value only: `1Gi == 1073741824`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Quantity {
    nano: i128,
    format: Format,
}

impl Quantity {
    /// A quantity of `milli` thousandths (e.g. millicores), printed in decimal SI.
    pub const fn from_milli(milli: i64) -> Self {
        Self {
            nano: milli as i128 * NANO_PER_MILLI,
            format: Format::DecimalSI,
        }
    }

    /// A quantity of whole `units` (cores, bytes, …), printed in decimal SI.
    pub const fn from_units(units: i64) -> Self {
        Self {
            nano: units as i128 * NANO_PER_UNIT,
            format: Format::DecimalSI,
        }
    }

    /// The same value, printed in `format` (e.g. [`Format::BinarySI`] to get `512Mi`).
    pub const fn with_format(self, format: Format) -> Self {
        Self {
            nano: self.nano,
            format,
        }
    }

    /// The suffix family used when printing.
    pub const fn format(&self) -> Format {
        self.format
    }

    /// The exact value in nano-units (10^-9).
    pub const fn nano_value(&self) -> i128 {
        self.nano
    }

    /// Whether the value is zero.
    pub const fn is_zero(&self) -> bool {
        self.nano == 0
    }

    /// The value in thousandths, rounded away from zero (Kubernetes `MilliValue`:
    /// `1n` → 1), saturating at the `i64` range.
    pub fn milli_value(&self) -> i64 {
        saturate_i64(div_away_from_zero(self.nano, NANO_PER_MILLI))
    }

    /// The value in whole units, rounded away from zero (Kubernetes `Value`:
    /// `1500m` → 2), saturating at the `i64` range.
    pub fn value(&self) -> i64 {
        saturate_i64(div_away_from_zero(self.nano, NANO_PER_UNIT))
    }

    /// The value in thousandths (rounded like [`Quantity::milli_value`]), or `None`
    /// when it does not fit in an `i64`.
    pub fn checked_milli_value(&self) -> Option<i64> {
        i64::try_from(div_away_from_zero(self.nano, NANO_PER_MILLI)).ok()
    }

    /// The value in whole units (rounded like [`Quantity::value`]), or `None` when it
    /// does not fit in an `i64`.
    pub fn checked_value(&self) -> Option<i64> {
        i64::try_from(div_away_from_zero(self.nano, NANO_PER_UNIT)).ok()
    }

    /// The value as a float, correctly rounded; for ratios and display, never for
    /// decisions that must be exact.
    pub fn as_f64(&self) -> f64 {
        // Exact for every value below 2^53 nano-units (~9·10^6 units) and within two
        // roundings above that; Kubernetes' AsApproximateFloat64 is no more precise.
        self.nano as f64 / NANO_PER_UNIT as f64
    }
}

/// Integer division rounding away from zero, as Kubernetes scales quantities down.
fn div_away_from_zero(value: i128, divisor: i128) -> i128 {
    let quotient = value / divisor;
    if value % divisor == 0 {
        quotient
    } else if value > 0 {
        quotient + 1
    } else {
        quotient - 1
    }
}

fn saturate_i64(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

impl PartialEq for Quantity {
    fn eq(&self, other: &Self) -> bool {
        self.nano == other.nano
    }
}

impl Eq for Quantity {}

impl PartialOrd for Quantity {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Quantity {
    fn cmp(&self, other: &Self) -> Ordering {
        self.nano.cmp(&other.nano)
    }
}

impl Hash for Quantity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.nano.hash(state);
    }
}

impl FromStr for Quantity {
    type Err = QuantityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (nano, format) = parse::parse(s)?;
        Ok(Self { nano, format })
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format::canonical(self.nano, self.format))
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(QuantityVisitor)
    }
}

/// Accepts strings and, like Kubernetes (`cpu: 2` in YAML), plain numbers.
struct QuantityVisitor;

impl Visitor<'_> for QuantityVisitor {
    type Value = Quantity;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes quantity such as \"100m\", \"512Mi\" or 2")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
        v.parse().map_err(E::custom)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
        Ok(Quantity::from_units(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
        let nano = i128::from(v) * NANO_PER_UNIT;
        Ok(Quantity {
            nano,
            format: Format::DecimalSI,
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
        if !v.is_finite() {
            return Err(E::custom(format!("{v} is not a quantity")));
        }
        // Rust prints the shortest decimal that reads back as the same f64, which is
        // what the user wrote for any number a YAML author would type.
        self.visit_str(&v.to_string())
    }
}

/// Parses a CPU amount (`"250m"`, `"1.5"`, `"2"`) to millicores, rounding up like
/// Kubernetes `MilliValue`. Negative amounts and amounts beyond `i64` millicores are errors.
pub fn parse_cpu_millis(s: &str) -> Result<i64, QuantityError> {
    let q: Quantity = s.parse()?;
    if q.nano < 0 {
        return Err(QuantityError::Negative {
            input: s.to_owned(),
        });
    }
    q.checked_milli_value()
        .ok_or_else(|| QuantityError::OutOfRange {
            input: s.to_owned(),
        })
}

/// Parses a byte amount (`"512Mi"`, `"2G"`, `"1e9"`) to bytes, rounding up like
/// Kubernetes `Value`. Negative amounts and amounts beyond `i64` bytes are errors.
pub fn parse_bytes(s: &str) -> Result<i64, QuantityError> {
    let q: Quantity = s.parse()?;
    if q.nano < 0 {
        return Err(QuantityError::Negative {
            input: s.to_owned(),
        });
    }
    q.checked_value().ok_or_else(|| QuantityError::OutOfRange {
        input: s.to_owned(),
    })
}
