#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use proptest::prelude::*;

fn set(values: &[&str]) -> BTreeSet<String> {
    values.iter().map(|v| v.to_string()).collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn parses_every_operator() {
    let parsed =
        parse("a=b,c!=d, e in (x, y) ,f notin (z),g,!h,i==j,app.kubernetes.io/name=web").unwrap();
    let expected: Selector = [
        Expression::Equal("a".into(), "b".into()),
        Expression::NotEqual("c".into(), "d".into()),
        Expression::In("e".into(), set(&["x", "y"])),
        Expression::NotIn("f".into(), set(&["z"])),
        Expression::Exists("g".into()),
        Expression::DoesNotExist("h".into()),
        Expression::Equal("i".into(), "j".into()),
        Expression::Equal("app.kubernetes.io/name".into(), "web".into()),
    ]
    .into_iter()
    .collect();
    assert_eq!(parsed, expected);
}

#[test]
fn empty_selects_everything_and_empty_values_are_allowed() {
    assert!(parse("").unwrap().selects_all());
    assert!(parse("   ").unwrap().selects_all());
    let in_empty: Selector = [Expression::In("a".into(), set(&[""]))]
        .into_iter()
        .collect();
    assert_eq!(parse("a in ()").unwrap(), in_empty);
    let s = parse("a=,b in (,x)").unwrap();
    assert!(s.matches(&labels(&[("a", ""), ("b", "")])));
    assert!(!s.matches(&labels(&[("a", "v"), ("b", "")])));
}

#[test]
fn matching_follows_kubernetes_semantics() {
    let s = parse("app=web,tier!=db,env in (prod,staging),zone notin (a),team,!legacy").unwrap();
    let good = labels(&[
        ("app", "web"),
        ("env", "prod"),
        ("team", "x"),
        ("zone", "b"),
    ]);
    assert!(s.matches(&good));
    // != and notin match when the key is absent; in and = do not.
    let mut l = good.clone();
    l.remove("zone");
    assert!(s.matches(&l));
    for (key, value) in [
        ("tier", "db"),
        ("zone", "a"),
        ("legacy", "1"),
        ("env", "dev"),
    ] {
        let mut l = good.clone();
        l.insert(key.into(), value.into());
        assert!(!s.matches(&l), "{key}={value} must not match");
    }
    let mut l = good;
    l.remove("team");
    assert!(!s.matches(&l));
}

#[test]
fn rejections_name_what_and_where() {
    let cases: &[(&str, &str)] = &[
        ("a=b,", "expected a label key at byte 4, found end of input"),
        (
            "a b",
            "expected '=', '==', '!=', 'in', 'notin', ',' or end at byte 2, found \"b\"",
        ),
        ("a in x", "expected '(' at byte 5"),
        (
            "a in (x",
            "expected ',' or ')' at byte 7, found end of input",
        ),
        ("a>1", "unsupported operator '>'"),
        ("-a=b", "invalid key \"-a\""),
        (
            "Bad_Prefix.com/a=b",
            "prefix must be a lowercase DNS subdomain",
        ),
        ("a=b c", "expected ',' or end of input at byte 4"),
        ("a=-b", "invalid value \"-b\" for key \"a\""),
        ("!", "expected a label key at byte 1"),
    ];
    for (input, needle) in cases {
        let err = parse(input).unwrap_err().to_string();
        assert!(err.contains(needle), "{input:?}: {err}");
        assert!(err.contains(&format!("{input:?}")), "{input:?}: {err}");
    }
    let long = format!("a={}", "v".repeat(64));
    assert!(parse(&long).unwrap_err().to_string().contains("at most 63"));
}

#[test]
fn converts_to_label_selector_objects() {
    let s = parse("a=b,c!=d,e in (x),!f,g").unwrap();
    let obj = to_label_selector(&s);
    assert_eq!(obj.match_labels, Some(labels(&[("a", "b")])));
    let exprs = obj.match_expressions.unwrap();
    let ops: Vec<(&str, &str)> = exprs
        .iter()
        .map(|e| (e.key.as_str(), e.operator.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            ("c", "NotIn"),
            ("e", "In"),
            ("f", "DoesNotExist"),
            ("g", "Exists")
        ]
    );
    assert_eq!(exprs[0].values, Some(vec!["d".to_string()]));
    assert_eq!(to_label_selector(&Selector::default()), Default::default());
}

fn key_strategy() -> impl Strategy<Value = String> {
    "([a-z]{1,5}\\.)?[a-z]{1,5}/?[A-Za-z0-9]([-A-Za-z0-9_.]{0,5}[A-Za-z0-9])?"
        .prop_filter("prefix/name shape", |k| !k.ends_with('/'))
}

fn value_strategy() -> impl Strategy<Value = String> {
    "([A-Za-z0-9]([-A-Za-z0-9_.]{0,5}[A-Za-z0-9])?)?"
}

fn expression_strategy() -> impl Strategy<Value = Expression> {
    let values = || prop::collection::btree_set(value_strategy(), 1..4);
    prop_oneof![
        (key_strategy(), value_strategy()).prop_map(|(k, v)| Expression::Equal(k, v)),
        (key_strategy(), value_strategy()).prop_map(|(k, v)| Expression::NotEqual(k, v)),
        (key_strategy(), values()).prop_map(|(k, v)| Expression::In(k, v)),
        (key_strategy(), values()).prop_map(|(k, v)| Expression::NotIn(k, v)),
        key_strategy().prop_map(Expression::Exists),
        key_strategy().prop_map(Expression::DoesNotExist),
    ]
}

proptest! {
    #[test]
    fn never_panics_on_arbitrary_input(input in ".{0,64}") {
        let _ = parse(&input);
    }

    #[test]
    fn never_panics_on_selector_like_input(input in "[a-z!=(), ]{0,40}") {
        let _ = parse(&input);
    }

    #[test]
    fn display_then_parse_round_trips(exprs in prop::collection::vec(expression_strategy(), 0..5)) {
        let selector: Selector = exprs.into_iter().collect();
        let text = selector.to_string();
        prop_assert_eq!(parse(&text).unwrap(), selector, "{}", text);
    }
}
