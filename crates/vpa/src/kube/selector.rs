//! Label selectors from their Kubernetes forms (the structured `LabelSelector` of workload
//! specs, the string of a scale subresource) to the core's.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector as K8sLabelSelector;
use tidal_core::scheduling::{LabelSelector, LabelSelectorOperator, LabelSelectorRequirement};

/// A structured selector in core form; an unknown operator is named in the error.
pub fn from_k8s(selector: &K8sLabelSelector) -> Result<LabelSelector, String> {
    let mut out = LabelSelector {
        match_labels: selector.match_labels.clone().unwrap_or_default(),
        match_expressions: Vec::new(),
    };
    for e in selector.match_expressions.iter().flatten() {
        let operator = match e.operator.as_str() {
            "In" => LabelSelectorOperator::In,
            "NotIn" => LabelSelectorOperator::NotIn,
            "Exists" => LabelSelectorOperator::Exists,
            "DoesNotExist" => LabelSelectorOperator::DoesNotExist,
            other => return Err(format!("unknown selector operator {other:?}")),
        };
        out.match_expressions.push(LabelSelectorRequirement {
            key: e.key.clone(),
            operator,
            values: e.values.clone().unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Parses the string form (`app=web,tier in (a,b),!canary`) a scale subresource reports.
pub fn parse(text: &str) -> Result<LabelSelector, String> {
    let mut out = LabelSelector::default();
    for term in split_terms(text) {
        let term = term.trim();
        if term.is_empty() {
            continue;
        }
        let bad = || format!("cannot parse selector term {term:?}");
        if let Some(key) = term.strip_prefix('!') {
            out.match_expressions
                .push(requirement(key, LabelSelectorOperator::DoesNotExist, &[]));
        } else if let Some((key, value)) = term.split_once("!=") {
            out.match_expressions
                .push(requirement(key, LabelSelectorOperator::NotIn, &[value]));
        } else if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
            out.match_labels
                .insert(key.trim().to_owned(), value.trim().to_owned());
        } else if let Some((key, rest)) = split_set(term, " notin ") {
            let values = set_values(rest).ok_or_else(bad)?;
            out.match_expressions
                .push(requirement(key, LabelSelectorOperator::NotIn, &values));
        } else if let Some((key, rest)) = split_set(term, " in ") {
            let values = set_values(rest).ok_or_else(bad)?;
            out.match_expressions
                .push(requirement(key, LabelSelectorOperator::In, &values));
        } else if term
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        {
            out.match_expressions
                .push(requirement(term, LabelSelectorOperator::Exists, &[]));
        } else {
            return Err(bad());
        }
    }
    Ok(out)
}

fn requirement(
    key: &str,
    operator: LabelSelectorOperator,
    values: &[&str],
) -> LabelSelectorRequirement {
    LabelSelectorRequirement {
        key: key.trim().to_owned(),
        operator,
        values: values.iter().map(|v| v.trim().to_owned()).collect(),
    }
}

/// Splits at commas outside parentheses.
fn split_terms(text: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0usize, 0usize, Vec::new());
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}

fn split_set<'a>(term: &'a str, operator: &str) -> Option<(&'a str, &'a str)> {
    term.split_once(operator)
        .map(|(k, rest)| (k.trim(), rest.trim()))
}

fn set_values(rest: &str) -> Option<Vec<&str>> {
    let inner = rest.strip_prefix('(')?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use tidal_core::scheduling::Labels;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_string_form_parses_every_operator() {
        let s = parse("app=web, tier in (a, b),env notin (dev),!canary,team,x!=y").unwrap();
        assert!(s.matches(&labels(&[
            ("app", "web"),
            ("tier", "a"),
            ("env", "prod"),
            ("team", "t")
        ])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "c"), ("team", "t")])));
        assert!(!s.matches(&labels(&[
            ("app", "web"),
            ("tier", "a"),
            ("team", "t"),
            ("canary", "1")
        ])));
        assert!(!s.matches(&labels(&[
            ("app", "web"),
            ("tier", "a"),
            ("team", "t"),
            ("x", "y")
        ])));
        assert_eq!(parse("").unwrap(), LabelSelector::default());
        assert!(parse("tier in a,b").is_err());
        assert!(parse("a b").is_err());
    }
}
