//! Error messages in the scenario author's terms: the parser's type names (`u32`, `f64`)
//! become what to write, unknown names get a "did you mean", and each message is said once.

/// The closest of `candidates` to `word`, if one is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                strsim::damerau_levenshtein(&lower, &c.to_ascii_lowercase()),
                c,
            )
        })
        // Distance 0 after lowering: the same name in another case, still worth saying.
        .filter(|(d, c)| *c != word && *d <= (c.len() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// `" (did you mean `x`?)"` or nothing.
pub fn suggestion<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    did_you_mean(word, candidates).map_or(String::new(), |c| format!(" (did you mean `{c}`?)"))
}

/// What the parser's expected types mean to someone writing the file.
const EXPECTED: &[(&str, &str)] = &[
    ("expected u8", "expected a whole number ≥ 0"),
    ("expected u16", "expected a whole number ≥ 0"),
    ("expected u32", "expected a whole number ≥ 0"),
    ("expected u64", "expected a whole number ≥ 0"),
    ("expected usize", "expected a whole number ≥ 0"),
    ("expected i32", "expected a whole number"),
    ("expected i64", "expected a whole number"),
    ("expected f64", "expected a number"),
    ("expected a boolean", "expected true or false"),
    ("expected a string", "expected text"),
];

/// The parser's message for a value, in the author's terms, with a suggestion for an
/// unknown field or variant.
pub fn rewrite(message: &str) -> String {
    if let Some(unknown) = unknown_name(message) {
        return unknown;
    }
    let mut out = message.to_owned();
    for (from, to) in EXPECTED {
        if let Some(at) = out.find(from) {
            let end = at + from.len();
            // `expected u32` but not `expected u320…`.
            if !out[end..].starts_with(|c: char| c.is_ascii_alphanumeric()) {
                out.replace_range(at..end, to);
            }
        }
    }
    out
}

/// `unknown field `x`, expected one of `a`, `b`` (or `unknown variant`, or `expected `a``)
/// with the closest name suggested.
fn unknown_name(message: &str) -> Option<String> {
    let (kind, rest) = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|p| {
            let at = message.find(p)?;
            Some((&p[..p.len() - 2], &message[at + p.len()..]))
        })?;
    let (name, rest) = rest.split_once('`')?;
    let list = rest.split_once("expected ").map_or("", |(_, l)| l);
    let candidates: Vec<&str> = list.split('`').skip(1).step_by(2).collect();
    let hint = suggestion(name, candidates.iter().copied());
    let allowed = if candidates.is_empty() {
        "none here".to_owned()
    } else {
        candidates.join(", ")
    };
    Some(format!("{kind} `{name}`{hint}; allowed here: {allowed}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_suggested_and_far_ones_are_not() {
        let fields = ["cpu_per_unit", "idle_cpu", "startup"];
        assert_eq!(did_you_mean("cpu_per_unti", fields), Some("cpu_per_unit"));
        assert_eq!(did_you_mean("Startup", fields), Some("startup"));
        assert_eq!(did_you_mean("memory", fields), None);
        assert_eq!(
            did_you_mean("m7i.xlarg", ["m7i.xlarge", "m7i.large", "m6i.xlarge"]),
            Some("m7i.xlarge")
        );
    }

    #[test]
    fn parser_messages_are_rewritten_in_the_authors_terms() {
        assert_eq!(
            rewrite("invalid value: integer `-1`, expected u32"),
            "invalid value: integer `-1`, expected a whole number ≥ 0"
        );
        assert_eq!(
            rewrite("unknown field `cpu_per_unti`, expected one of `cpu_per_unit`, `idle_cpu`"),
            "unknown field `cpu_per_unti` (did you mean `cpu_per_unit`?); allowed here: \
             cpu_per_unit, idle_cpu"
        );
        assert_eq!(
            rewrite("unknown variant `least-wast`, expected one of `priority`, `least_waste`"),
            "unknown variant `least-wast` (did you mean `least_waste`?); allowed here: \
             priority, least_waste"
        );
    }
}
