//! The quantity scanner and exact conversion to nano-units.

use super::{Format, NANO_PER_UNIT, QuantityError};

/// Longest string accepted; real quantities are a handful of characters, and the
/// bound keeps exact parsing of hostile input cheap.
pub const MAX_INPUT_LEN: usize = 256;

/// Binary-suffixed values are capped at 2^63−1 units, as Kubernetes does.
const MAX_BINARY_NANO: i128 = i64::MAX as i128 * NANO_PER_UNIT;

/// Characters Kubernetes' scanner accepts at the start of a suffix.
const SUFFIX_LETTERS: &[u8] = b"eEinumkKMGTP";

/// How a suffix scales the number in front of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scale {
    /// Multiply by 10^n.
    Decimal(i64),
    /// Multiply by 2^n.
    Binary(u32),
}

/// The pieces of `[+-]digits[.digits]suffix`.
struct Scanned<'a> {
    negative: bool,
    int_digits: &'a str,
    frac_digits: &'a str,
    suffix: &'a str,
}

/// Parses `s` into (nano-units, format).
pub(super) fn parse(s: &str) -> Result<(i128, Format), QuantityError> {
    if s.is_empty() {
        return Err(QuantityError::Empty);
    }
    if s.len() > MAX_INPUT_LEN {
        let input = s.chars().take(32).collect();
        return Err(QuantityError::TooLong { input });
    }
    let malformed = || QuantityError::Malformed {
        input: s.to_owned(),
    };
    let scanned = scan(s).ok_or_else(malformed)?;
    let (scale, format) =
        interpret_suffix(scanned.suffix).ok_or_else(|| QuantityError::UnknownSuffix {
            input: s.to_owned(),
            suffix: scanned.suffix.to_owned(),
        })?;
    let magnitude = match magnitude_nano(&scanned, scale) {
        Some(m) => m,
        None if matches!(scale, Scale::Binary(_)) => MAX_BINARY_NANO,
        None => {
            return Err(QuantityError::OutOfRange {
                input: s.to_owned(),
            });
        }
    };
    let magnitude = match scale {
        Scale::Binary(_) => magnitude.min(MAX_BINARY_NANO),
        Scale::Decimal(_) => magnitude,
    };
    // A binary value below one unit has no binary spelling; Kubernetes switches it to
    // decimal SI at parse time.
    let format = if format == Format::BinarySI && magnitude > 0 && magnitude < NANO_PER_UNIT {
        Format::DecimalSI
    } else {
        format
    };
    let nano = if scanned.negative {
        -magnitude
    } else {
        magnitude
    };
    Ok((nano, format))
}

/// Splits the input like Kubernetes' `parseQuantityString`, but requires at least one digit.
fn scan(s: &str) -> Option<Scanned<'_>> {
    let bytes = s.as_bytes();
    let mut pos = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            pos = 1;
            true
        }
        Some(b'+') => {
            pos = 1;
            false
        }
        _ => false,
    };
    let int_start = pos;
    while pos < bytes.len() && bytes[pos].is_ascii_digit() {
        pos += 1;
    }
    let int_digits = &s[int_start..pos];
    let mut frac_digits = "";
    if pos < bytes.len() && bytes[pos] == b'.' {
        pos += 1;
        let frac_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        frac_digits = &s[frac_start..pos];
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return None;
    }
    let suffix = &s[pos..];
    suffix_is_well_formed(suffix.as_bytes()).then_some(Scanned {
        negative,
        int_digits,
        frac_digits,
        suffix,
    })
}

/// `[eEinumkKMGTP]*[+-]?[0-9]*`, the shape Kubernetes' scanner accepts before looking
/// the suffix up.
fn suffix_is_well_formed(suffix: &[u8]) -> bool {
    let mut pos = 0;
    while pos < suffix.len() && SUFFIX_LETTERS.contains(&suffix[pos]) {
        pos += 1;
    }
    if pos < suffix.len() && (suffix[pos] == b'+' || suffix[pos] == b'-') {
        pos += 1;
    }
    suffix[pos..].iter().all(u8::is_ascii_digit)
}

fn interpret_suffix(suffix: &str) -> Option<(Scale, Format)> {
    let decimal = |e| Some((Scale::Decimal(e), Format::DecimalSI));
    let binary = |e| Some((Scale::Binary(e), Format::BinarySI));
    match suffix {
        "" => decimal(0),
        "n" => decimal(-9),
        "u" => decimal(-6),
        "m" => decimal(-3),
        "k" => decimal(3),
        "M" => decimal(6),
        "G" => decimal(9),
        "T" => decimal(12),
        "P" => decimal(15),
        "E" => decimal(18),
        "Ki" => binary(10),
        "Mi" => binary(20),
        "Gi" => binary(30),
        "Ti" => binary(40),
        "Pi" => binary(50),
        "Ei" => binary(60),
        _ => {
            let exponent = suffix.strip_prefix(['e', 'E'])?;
            let exponent: i64 = exponent.parse().ok()?;
            // Kubernetes keeps exponents in an int32 scale that it negates, so it accepts
            // exactly ±(2^31−1).
            (exponent.abs() <= i64::from(i32::MAX))
                .then_some((Scale::Decimal(exponent), Format::DecimalExponent))
        }
    }
}

/// The absolute value in nano-units, rounded up to a whole nano-unit; `None` when it
/// does not fit in an `i128`.
fn magnitude_nano(scanned: &Scanned<'_>, scale: Scale) -> Option<i128> {
    let digits = format!("{}{}", scanned.int_digits, scanned.frac_digits);
    let digits = digits.trim_start_matches('0');
    let significant = digits.trim_end_matches('0');
    if significant.is_empty() {
        return Some(0);
    }
    let trailing_zeros = (digits.len() - significant.len()) as i64;
    let (exp10, exp2) = match scale {
        Scale::Decimal(e) => (e, 0),
        Scale::Binary(e) => (0, e),
    };
    // value = significant × 10^shift × 2^exp2 nano-units
    let shift = exp10 - scanned.frac_digits.len() as i64 + trailing_zeros + 9;
    let len = significant.len() as i64;
    // significant ≥ 10^(len−1), so the value is at least 10^(len−1+shift) ≥ 10^39 > i128::MAX.
    if len - 1 + shift >= 39 {
        return None;
    }
    // significant < 10^len and 2^exp2 ≤ 2^60 < 10^19: the value is below one nano-unit,
    // which Kubernetes rounds up to exactly one.
    if len + shift + 19 <= 0 {
        return Some(1);
    }
    let mut n = Natural::from_decimal(significant);
    let mut remaining = exp2;
    while remaining > 0 {
        let step = remaining.min(30);
        n.mul_small(1 << step);
        remaining -= step;
    }
    let mut inexact = false;
    if shift >= 0 {
        for _ in 0..shift {
            n.mul_small(10);
        }
    } else {
        for _ in 0..-shift {
            inexact |= n.div_small(10) != 0;
        }
    }
    let magnitude = i128::try_from(n.to_u128()?).ok()?;
    if inexact {
        magnitude.checked_add(1)
    } else {
        Some(magnitude)
    }
}

/// A little-endian base-2^32 natural number: just enough arithmetic to parse exactly
/// without the value ever passing through a float or overflowing.
struct Natural(Vec<u32>);

impl Natural {
    fn from_decimal(digits: &str) -> Self {
        let mut n = Natural(Vec::with_capacity(digits.len() / 9 + 1));
        for d in digits.bytes() {
            n.mul_small(10);
            n.add_small(u32::from(d - b'0'));
        }
        n
    }

    fn mul_small(&mut self, factor: u32) {
        let mut carry = 0u64;
        for limb in &mut self.0 {
            let product = u64::from(*limb) * u64::from(factor) + carry;
            *limb = product as u32;
            carry = product >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn add_small(&mut self, addend: u32) {
        let mut carry = u64::from(addend);
        for limb in &mut self.0 {
            if carry == 0 {
                return;
            }
            let sum = u64::from(*limb) + carry;
            *limb = sum as u32;
            carry = sum >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    /// Divides in place and returns the remainder.
    fn div_small(&mut self, divisor: u32) -> u32 {
        let mut remainder = 0u64;
        for limb in self.0.iter_mut().rev() {
            let current = (remainder << 32) | u64::from(*limb);
            *limb = (current / u64::from(divisor)) as u32;
            remainder = current % u64::from(divisor);
        }
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
        remainder as u32
    }

    fn to_u128(&self) -> Option<u128> {
        if self.0.len() > 4 {
            return None;
        }
        Some(
            self.0
                .iter()
                .rev()
                .fold(0u128, |acc, &limb| (acc << 32) | u128::from(limb)),
        )
    }
}
