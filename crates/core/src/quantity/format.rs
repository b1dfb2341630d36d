//! Canonical printing, as Kubernetes `Quantity.String()` does it: no fractional digits,
//! the largest suffix that loses nothing.

use super::{Format, NANO_PER_UNIT};

/// Binary suffixes by power of 1024.
const BINARY_SUFFIXES: [&str; 7] = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];

/// The canonical string for `nano` nano-units written in `format`.
pub(super) fn canonical(nano: i128, format: Format) -> String {
    if nano == 0 {
        return "0".to_owned();
    }
    match format {
        Format::BinarySI => {
            // Small or fractional binary values print in decimal SI so that nothing is
            // rounded (Kubernetes: `5` stays `5`, `1.5Ki` becomes `1536`).
            let small = nano.abs() < 1024 * NANO_PER_UNIT;
            if small || nano % NANO_PER_UNIT != 0 {
                decimal(nano, Format::DecimalSI)
            } else {
                binary(nano / NANO_PER_UNIT)
            }
        }
        Format::DecimalSI | Format::DecimalExponent => decimal(nano, format),
    }
}

/// mantissa × 10^exponent with the exponent a multiple of three and as large as possible.
fn decimal(nano: i128, format: Format) -> String {
    let mut mantissa = nano;
    let mut exponent: i32 = -9;
    while mantissa % 10 == 0 {
        mantissa /= 10;
        exponent += 1;
    }
    // Round the exponent down to a multiple of three; the digits moved back into the
    // mantissa were just stripped from it, so this cannot overflow.
    let excess = exponent.rem_euclid(3);
    mantissa *= 10i128.pow(excess as u32);
    exponent -= excess;
    let suffix = match (format, exponent) {
        (Format::DecimalExponent, 0) => String::new(),
        (Format::DecimalSI, -9) => "n".to_owned(),
        (Format::DecimalSI, -6) => "u".to_owned(),
        (Format::DecimalSI, -3) => "m".to_owned(),
        (Format::DecimalSI, 0) => String::new(),
        (Format::DecimalSI, 3) => "k".to_owned(),
        (Format::DecimalSI, 6) => "M".to_owned(),
        (Format::DecimalSI, 9) => "G".to_owned(),
        (Format::DecimalSI, 12) => "T".to_owned(),
        (Format::DecimalSI, 15) => "P".to_owned(),
        (Format::DecimalSI, 18) => "E".to_owned(),
        // Beyond `E` decimal SI has no suffix; Kubernetes falls back to exponent notation.
        _ => format!("e{exponent}"),
    };
    format!("{mantissa}{suffix}")
}

/// `units` as mantissa × 1024^k with k as large as possible (at most `Ei`).
fn binary(units: i128) -> String {
    let mut mantissa = units;
    let mut power = 0;
    while power + 1 < BINARY_SUFFIXES.len() && mantissa.abs() >= 1024 && mantissa % 1024 == 0 {
        mantissa /= 1024;
        power += 1;
    }
    format!("{mantissa}{}", BINARY_SUFFIXES[power])
}
