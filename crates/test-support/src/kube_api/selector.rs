//! Label and field selectors (`labelSelector`, `fieldSelector` query parameters).
//!
//! Labels: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`, comma-separated.
//! Fields: `path=v`, `path==v`, `path!=v` on any dotted JSON path (a missing field reads as
//! the empty string); a real API server only allows a few fields per resource and the
//! stand-in does not check which.

use serde_json::Value;

use super::KubeApiError;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    Eq(String),
    Ne(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    NotExists,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Requirement {
    key: String,
    op: Op,
}

/// A parsed pair of label and field selectors; the empty selector matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Selector {
    labels: Vec<Requirement>,
    fields: Vec<Requirement>,
}

fn bad(which: &str, text: &str, why: &str) -> KubeApiError {
    KubeApiError::BadRequest(format!("unable to parse {which} {text:?}: {why}"))
}

/// Splits on commas that are not inside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut start) = (Vec::new(), 0usize, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn set_values(rest: &str) -> Option<Vec<String>> {
    let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|v| v.trim().to_owned()).collect())
}

fn parse_label(part: &str, text: &str) -> Result<Requirement, KubeApiError> {
    let part = part.trim();
    let req = |key: &str, op| Requirement {
        key: key.trim().to_owned(),
        op,
    };
    if let Some((key, value)) = part.split_once("!=") {
        return Ok(req(key, Op::Ne(value.trim().to_owned())));
    }
    if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(req(key, Op::Eq(value.trim().to_owned())));
    }
    if let Some((key, rest)) = part.split_once(" notin ") {
        let values = set_values(rest).ok_or_else(|| bad("label selector", text, "bad set"))?;
        return Ok(req(key, Op::NotIn(values)));
    }
    if let Some((key, rest)) = part.split_once(" in ") {
        let values = set_values(rest).ok_or_else(|| bad("label selector", text, "bad set"))?;
        return Ok(req(key, Op::In(values)));
    }
    if let Some(key) = part.strip_prefix('!') {
        return Ok(req(key, Op::NotExists));
    }
    if part.is_empty() || part.contains([' ', '(', ')']) {
        return Err(bad("label selector", text, "unexpected requirement"));
    }
    Ok(req(part, Op::Exists))
}

fn parse_field(part: &str, text: &str) -> Result<Requirement, KubeApiError> {
    let part = part.trim();
    let (key, op) = if let Some((key, value)) = part.split_once("!=") {
        (key, Op::Ne(value.to_owned()))
    } else if let Some((key, value)) = part.split_once("==").or_else(|| part.split_once('=')) {
        (key, Op::Eq(value.to_owned()))
    } else {
        return Err(bad(
            "field selector",
            text,
            "expected path=value or path!=value",
        ));
    };
    Ok(Requirement {
        key: key.trim().to_owned(),
        op,
    })
}

fn parse_all(
    text: Option<&str>,
    parse: fn(&str, &str) -> Result<Requirement, KubeApiError>,
) -> Result<Vec<Requirement>, KubeApiError> {
    match text.map(str::trim) {
        None | Some("") => Ok(Vec::new()),
        Some(t) => split_top_level(t)
            .into_iter()
            .map(|p| parse(p, t))
            .collect(),
    }
}

impl Selector {
    /// Parses the `labelSelector` and `fieldSelector` query values.
    pub(crate) fn parse(labels: Option<&str>, fields: Option<&str>) -> Result<Self, KubeApiError> {
        Ok(Self {
            labels: parse_all(labels, parse_label)?,
            fields: parse_all(fields, parse_field)?,
        })
    }

    /// Whether `object` satisfies every requirement.
    pub(crate) fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels");
        let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        let labels_ok = self.labels.iter().all(|r| {
            let value = label(&r.key);
            match &r.op {
                Op::Eq(v) => value == Some(v.as_str()),
                Op::Ne(v) => value != Some(v.as_str()),
                Op::In(vs) => value.is_some_and(|x| vs.iter().any(|v| v == x)),
                Op::NotIn(vs) => !value.is_some_and(|x| vs.iter().any(|v| v == x)),
                Op::Exists => value.is_some(),
                Op::NotExists => value.is_none(),
            }
        });
        labels_ok
            && self.fields.iter().all(|r| {
                let value = field(object, &r.key);
                match &r.op {
                    Op::Eq(v) => value == *v,
                    Op::Ne(v) => value != *v,
                    // The field parser only produces Eq and Ne.
                    _ => false,
                }
            })
    }
}

/// The value at a dotted path as text; missing and null read as the empty string.
fn field(object: &Value, path: &str) -> String {
    let found = path
        .split('.')
        .try_fold(object, |v, segment| v.get(segment));
    match found {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    fn pod(phase: &str, labels: Value) -> Value {
        json!({"metadata": {"name": "p", "labels": labels}, "status": {"phase": phase}})
    }

    #[test]
    fn field_selectors_compare_dotted_paths() {
        let live =
            Selector::parse(None, Some("status.phase!=Succeeded,status.phase!=Failed")).unwrap();
        assert!(live.matches(&pod("Pending", json!({}))));
        assert!(!live.matches(&pod("Failed", json!({}))));
        let unscheduled = Selector::parse(None, Some("spec.nodeName=")).unwrap();
        assert!(
            unscheduled.matches(&pod("Pending", json!({}))),
            "missing reads as empty"
        );
        assert!(Selector::parse(None, Some("status.phase")).is_err());
    }

    #[test]
    fn label_selectors_cover_equality_sets_and_existence() {
        let p = pod("Running", json!({"app": "web", "tier": "front"}));
        let cases = [
            ("app=web", true),
            ("app==web,tier=front", true),
            ("app!=web", false),
            ("team!=x", true),
            ("app in (api, web)", true),
            ("app notin (web)", false),
            ("tier", true),
            ("!tier", false),
            ("!team", true),
        ];
        for (text, want) in cases {
            assert_eq!(
                Selector::parse(Some(text), None).unwrap().matches(&p),
                want,
                "{text}"
            );
        }
        assert!(Selector::parse(Some("app in web"), None).is_err());
    }
}
