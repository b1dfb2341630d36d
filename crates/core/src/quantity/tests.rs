#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::*;

const KI: i128 = 1024;
const N: i128 = NANO_PER_UNIT;

fn q(s: &str) -> Quantity {
    s.parse()
        .unwrap_or_else(|e| panic!("{s:?} should parse: {e}"))
}

/// Value (nano-units) and remembered format, mirroring the upstream `TestQuantityParse` table.
#[test]
fn parses_kubernetes_table_exactly() {
    use Format::{BinarySI as B, DecimalExponent as X, DecimalSI as D};
    let table: &[(&str, i128, Format)] = &[
        ("0", 0, D),
        ("0n", 0, D),
        ("0m", 0, D),
        ("0Ki", 0, B),
        ("0Gi", 0, B),
        ("1", N, D),
        ("+1", N, D),
        ("1Ki", KI * N, B),
        ("7Mi", 7 * KI * KI * N, B),
        ("3Ei", 3 * KI.pow(6) * N, B),
        ("5n", 5, D),
        ("4u", 4_000, D),
        ("3m", 3_000_000, D),
        ("100m", 100_000_000, D),
        ("250u", 250_000, D),
        ("1n", 1, D),
        ("8k", 8_000 * N, D),
        ("50k", 50_000 * N, D),
        ("2G", 2_000_000_000 * N, D),
        ("2P", 2 * 10i128.pow(15) * N, D),
        ("1E", 10i128.pow(18) * N, D),
        ("1E-3", 1_000_000, X),
        ("1e3", 1_000 * N, X),
        ("1E6", 1_000_000 * N, X),
        ("1e+3", 1_000 * N, X),
        ("100.035k", 100_035 * N, D),
        ("0.001", 1_000_000, D),
        ("0.0005k", 500_000_000, D),
        ("0.1", 100_000_000, D),
        ("1.5", 1_500_000_000, D),
        ("0.5e-2", 5_000_000, X),
        ("1.3E+6", 1_300_000 * N, X),
        ("7.123456M", 7_123_456 * N, D),
        ("6.987654321G", 6_987_654_321 * N, D),
        // Things that round: anything below a nano-unit rounds up, away from zero.
        ("3.001n", 4, D),
        ("1.1E-9", 2, X),
        ("0.0000000001", 1, D),
        ("0.00000012345", 124, D),
        ("1e-100", 1, X),
        // Binary values are capped at 2^63-1.
        ("9Ei", i64::MAX as i128 * N, B),
        ("9223372036854775807Ki", i64::MAX as i128 * N, B),
        // Fractional binary values.
        ("100.035Ki", 102_435_840_000_000, B),
        ("0.5Mi", 512 * KI * N, B),
        ("0.05Gi", 53_687_091_200_000_000, B),
        // Below one unit a binary quantity becomes decimal SI.
        ("0.000000000001Ki", 2, D),
        (".001", 1_000_000, D),
        ("1.", N, D),
        ("1.G", 10i128.pow(9) * N, D),
        ("-1.5", -1_500_000_000, D),
        ("-0.000000000001Ki", -2, D),
    ];
    for &(input, nano, format) in table {
        let got = q(input);
        assert_eq!(got.nano_value(), nano, "value of {input:?}");
        assert_eq!(got.format(), format, "format of {input:?}");
    }
}

/// Canonical strings, mirroring upstream `TestQuantityString` / `TestQuantityParseEmit`.
#[test]
fn formats_canonically_like_kubernetes() {
    let table: &[(&str, &str)] = &[
        ("1.5", "1500m"),
        ("1.5Gi", "1536Mi"),
        ("1024Mi", "1Gi"),
        ("300Mi", "300Mi"),
        ("307200Ki", "300Mi"),
        ("1001Gi", "1001Gi"),
        ("1024Gi", "1Ti"),
        ("1000M", "1G"),
        ("0.001T", "1G"),
        ("1000u", "1m"),
        ("1.08", "1080m"),
        ("1080000000n", "1080m"),
        ("300M", "300M"),
        ("1000E", "1e21"),
        ("5000E", "5e21"),
        ("1234567M", "1234567M"),
        ("3k", "3k"),
        ("1025", "1025"),
        (".001e12", "1e9"),
        ("0.001e0", "1e-3"),
        ("1000e-12", "1e-9"),
        ("80e-3", "80e-3"),
        ("300e6", "300e6"),
        ("1e14", "100e12"),
        ("00", "0"),
        ("0Ki", "0"),
        ("-0", "0"),
        ("1080n", "1080n"),
        ("0.00000108", "1080n"),
        ("108e-8", "1080e-9"),
        ("80u", "80u"),
        (".001Ki", "1024m"),
        (".000001Ki", "1024u"),
        (".000000001Ki", "1024n"),
        (".000000000001Ki", "2n"),
        ("5Ki", "5Ki"),
        ("2000Ki", "2000Ki"),
        ("512Mi", "512Mi"),
        ("0.5Ki", "512"),
        ("1.1Ki", "1126400m"),
        ("9Ei", "9223372036854775807"),
        ("100m", "100m"),
        ("2", "2"),
        ("1k", "1k"),
        ("1000", "1k"),
        ("2G", "2G"),
        ("-9.01", "-9010m"),
        ("-1Gi", "-1Gi"),
    ];
    for &(input, expected) in table {
        assert_eq!(
            q(input).to_string(),
            expected,
            "canonical form of {input:?}"
        );
        // Canonical strings are fixed points.
        assert_eq!(
            q(expected).to_string(),
            expected,
            "re-parse of {expected:?}"
        );
    }
}

#[test]
fn rejects_bad_strings_with_an_error_naming_them() {
    let invalid = [
        "1.1.M",
        "1+1.0M",
        "0.1mi",
        "0.1am",
        "aoeu",
        ".5i",
        "1i",
        "-3.01i",
        "-3.01e-",
        " 1",
        "1 ",
        "1e",
        "1K",
        "1ki",
        "1e4294967297",
        "1e2147483648",
        ".",
        "+",
        "-",
        "-.",
        "1e3.5",
        "١",
        "1Mi2",
        "--1",
        "0x10",
    ];
    for input in invalid {
        let err = input
            .parse::<Quantity>()
            .expect_err(&format!("{input:?} must be rejected"));
        let message = err.to_string();
        assert!(
            message.contains(&format!("{input:?}")),
            "error for {input:?} must name it: {message}"
        );
    }
    assert_eq!("".parse::<Quantity>(), Err(QuantityError::Empty));
    assert!(matches!(
        "1Zi".parse::<Quantity>(),
        Err(QuantityError::Malformed { .. })
    ));
    assert_eq!(
        "1ki".parse::<Quantity>(),
        Err(QuantityError::UnknownSuffix {
            input: "1ki".into(),
            suffix: "ki".into()
        })
    );
    assert!(matches!(
        "1e40".parse::<Quantity>(),
        Err(QuantityError::OutOfRange { .. })
    ));
    let long = "1".repeat(MAX_INPUT_LEN + 1);
    assert!(matches!(
        long.parse::<Quantity>(),
        Err(QuantityError::TooLong { .. })
    ));
}

#[test]
fn milli_and_whole_values_round_away_from_zero_like_kubernetes() {
    assert_eq!(q("100m").milli_value(), 100);
    assert_eq!(q("1n").milli_value(), 1);
    assert_eq!(q("1.5").milli_value(), 1500);
    assert_eq!(q("1.5").value(), 2);
    assert_eq!(q("1500m").value(), 2);
    assert_eq!(q("1").value(), 1);
    assert_eq!(q("-1.5").value(), -2);
    assert_eq!(q("-1n").milli_value(), -1);
    assert_eq!(q("512Mi").value(), 512 * 1024 * 1024);
    assert_eq!(q("1E").value(), 1_000_000_000_000_000_000);
    assert_eq!(q("1e25").value(), i64::MAX, "saturates");
    assert_eq!(q("1e25").checked_value(), None);
    assert_eq!(q("-1e25").milli_value(), i64::MIN, "saturates");
}

#[test]
fn constructors_and_float_view() {
    assert_eq!(Quantity::from_milli(1500).to_string(), "1500m");
    assert_eq!(Quantity::from_milli(2000).to_string(), "2");
    assert_eq!(Quantity::from_units(1000).to_string(), "1k");
    assert_eq!(Quantity::from_units(0).to_string(), "0");
    let mem = Quantity::from_units(512 * 1024 * 1024).with_format(Format::BinarySI);
    assert_eq!(mem.to_string(), "512Mi");
    assert_eq!(Quantity::from_milli(-250).milli_value(), -250);
    assert_eq!(q("0.1").as_f64(), 0.1);
    assert_eq!(q("1500m").as_f64(), 1.5);
    assert_eq!(
        q("1Gi"),
        q("1073741824"),
        "equality compares values, not formats"
    );
    assert!(q("100m") < q("1"));
}

#[test]
fn helper_parsers() {
    assert_eq!(parse_cpu_millis("250m"), Ok(250));
    assert_eq!(parse_cpu_millis("1.5"), Ok(1500));
    assert_eq!(parse_cpu_millis("2"), Ok(2000));
    assert_eq!(parse_cpu_millis("1n"), Ok(1));
    assert_eq!(parse_bytes("512Mi"), Ok(536_870_912));
    assert_eq!(parse_bytes("2G"), Ok(2_000_000_000));
    assert_eq!(parse_bytes("1e3"), Ok(1000));
    assert_eq!(parse_bytes("1.5"), Ok(2));
    assert_eq!(
        parse_cpu_millis("-1"),
        Err(QuantityError::Negative { input: "-1".into() })
    );
    assert_eq!(
        parse_bytes("1e20"),
        Err(QuantityError::OutOfRange {
            input: "1e20".into()
        })
    );
    assert!(matches!(
        parse_bytes("lots"),
        Err(QuantityError::Malformed { .. })
    ));
}

#[test]
fn serde_uses_the_canonical_string_and_accepts_numbers() {
    assert_eq!(serde_json::to_string(&q("1.5Gi")).unwrap(), "\"1536Mi\"");
    let parsed: Vec<Quantity> = serde_json::from_str(r#"["100m", 2, 0.5, "1Ki"]"#).unwrap();
    assert_eq!(parsed, vec![q("100m"), q("2"), q("500m"), q("1024")]);
    let err = serde_json::from_str::<Quantity>("\"12 cores\"").unwrap_err();
    assert!(err.to_string().contains("\"12 cores\""), "{err}");
    assert!(serde_json::from_str::<Quantity>("true").is_err());
}

fn any_format() -> impl Strategy<Value = Format> {
    prop_oneof![
        Just(Format::DecimalSI),
        Just(Format::BinarySI),
        Just(Format::DecimalExponent)
    ]
}

proptest! {
    #[test]
    fn display_then_parse_round_trips(
        nano in prop_oneof![
            any::<i64>().prop_map(i128::from),
            (any::<i64>(), 0u32..12).prop_map(|(m, e)| i128::from(m) * 10i128.pow(e)),
            (-(1i128 << 20)..(1i128 << 20), 0u32..5)
                .prop_map(|(m, p)| m * 1024i128.pow(p) * NANO_PER_UNIT),
        ],
        format in any_format(),
    ) {
        // Kubernetes caps binary quantities at 2^63-1 units, so larger ones cannot round-trip.
        prop_assume!(format != Format::BinarySI || nano.abs() <= i128::from(i64::MAX) * NANO_PER_UNIT);
        let original = Quantity { nano, format };
        let printed = original.to_string();
        let reparsed: Quantity = printed.parse().unwrap();
        prop_assert_eq!(reparsed.nano_value(), nano, "{} from {}", printed, nano);
        // A binary value like 2000 prints as "2000" and reads back as decimal "2k", as in
        // Kubernetes; from the second print on the string is a fixed point.
        let canonical = reparsed.to_string();
        prop_assert_eq!(canonical.parse::<Quantity>().unwrap().to_string(), canonical);
    }

    #[test]
    fn parsing_arbitrary_strings_never_panics(s in any::<String>()) {
        let _ = s.parse::<Quantity>();
    }

    #[test]
    fn parsing_quantity_like_strings_never_panics_and_round_trips(
        s in r"[+-]?[0-9]{0,24}(\.[0-9]{0,24})?([numkMGTPE]|[KMGTPE]i|[eE][+-]?[0-9]{1,11})?"
    ) {
        if let Ok(parsed) = s.parse::<Quantity>() {
            let again: Quantity = parsed.to_string().parse().unwrap();
            prop_assert_eq!(again, parsed);
        }
    }

    #[test]
    fn milli_value_matches_integer_arithmetic(milli in any::<i64>()) {
        let q = Quantity::from_milli(milli);
        prop_assert_eq!(q.milli_value(), milli);
        prop_assert_eq!(q.to_string().parse::<Quantity>().unwrap().milli_value(), milli);
    }
}
