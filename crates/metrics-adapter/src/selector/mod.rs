//! Kubernetes label selector strings (`a=b,c!=d,e in (x,y),f notin (z),g,!h`), as the HPA
//! controller sends them in `labelSelector` and `metricLabelSelector`.
//!
//! kube-rs has a typed [`Selector`] with matching, but no parser from the string form, so this
//! module parses into kube's types and reuses its matching. The grammar and the validation of keys
//! and values follow `k8s.io/apimachinery/pkg/labels` so that a selector kube-apiserver accepts is
//! accepted here, and one it rejects is rejected with a message naming the offending part.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector as LabelSelectorObject, LabelSelectorRequirement,
};
pub use kube::core::{Expression, Selector, SelectorExt};

/// Why a label selector string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// The input ended or a token appeared where something else was required.
    #[error("label selector {selector:?}: expected {expected} at byte {at}, found {found}")]
    Unexpected {
        /// The whole selector string.
        selector: String,
        /// What the parser needed at this point.
        expected: &'static str,
        /// What it found instead (`end of input` at the end).
        found: String,
        /// Byte offset in `selector`.
        at: usize,
    },
    /// A label key is not a valid qualified name (`[prefix/]name`).
    #[error("label selector {selector:?}: invalid key {key:?}: {reason}")]
    InvalidKey {
        /// The whole selector string.
        selector: String,
        /// The rejected key.
        key: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A label value is too long or has characters labels cannot hold.
    #[error("label selector {selector:?}: invalid value {value:?} for key {key:?}: {reason}")]
    InvalidValue {
        /// The whole selector string.
        selector: String,
        /// The key the value belongs to.
        key: String,
        /// The rejected value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Parses a label selector string. The empty string (or only whitespace) selects everything.
pub fn parse(input: &str) -> Result<Selector, SelectorError> {
    let mut parser = Parser {
        input,
        tokens: lex(input),
        pos: 0,
    };
    let mut exprs = Vec::new();
    if parser.peek().kind == Tok::End {
        return Ok(Selector::default());
    }
    loop {
        exprs.push(parser.requirement()?);
        match parser.next() {
            Token {
                kind: Tok::Comma, ..
            } => continue,
            Token { kind: Tok::End, .. } => break,
            other => return Err(parser.unexpected("',' or end of input", &other)),
        }
    }
    Ok(exprs.into_iter().collect())
}

/// Converts a parsed selector into the `LabelSelector` object that API bodies carry (for example
/// `metric.selector` in custom.metrics.k8s.io/v1beta2), the way `metav1.ParseToLabelSelector` does.
pub fn to_label_selector(selector: &Selector) -> LabelSelectorObject {
    let mut match_labels = BTreeMap::new();
    let mut match_expressions = Vec::new();
    for expr in selector.clone() {
        let (key, operator, values) = match expr {
            Expression::Equal(k, v) => {
                match_labels.insert(k, v);
                continue;
            }
            Expression::NotEqual(k, v) => (k, "NotIn", Some(vec![v])),
            Expression::In(k, vs) => (k, "In", Some(vs.into_iter().collect())),
            Expression::NotIn(k, vs) => (k, "NotIn", Some(vs.into_iter().collect())),
            Expression::Exists(k) => (k, "Exists", None),
            Expression::DoesNotExist(k) => (k, "DoesNotExist", None),
        };
        match_expressions.push(LabelSelectorRequirement {
            key,
            operator: operator.to_string(),
            values,
        });
    }
    LabelSelectorObject {
        match_labels: (!match_labels.is_empty()).then_some(match_labels),
        match_expressions: (!match_expressions.is_empty()).then_some(match_expressions),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    Ident(String),
    Bang,
    Eq,
    DoubleEq,
    NotEq,
    OpenParen,
    CloseParen,
    Comma,
    /// `<`, `>`: Kubernetes has `gt`/`lt` for node selectors only, not for label selectors here.
    Unsupported(char),
    End,
}

#[derive(Debug, Clone)]
struct Token {
    kind: Tok,
    at: usize,
}

fn is_special(c: char) -> bool {
    matches!(c, '!' | '=' | '(' | ')' | ',' | '<' | '>') || c.is_whitespace()
}

fn lex(input: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let kind = match c {
            c if c.is_whitespace() => continue,
            ',' => Tok::Comma,
            '(' => Tok::OpenParen,
            ')' => Tok::CloseParen,
            '<' | '>' => Tok::Unsupported(c),
            '!' | '=' => {
                let double = chars.next_if(|&(_, n)| n == '=').is_some();
                match (c, double) {
                    ('!', true) => Tok::NotEq,
                    ('!', false) => Tok::Bang,
                    (_, true) => Tok::DoubleEq,
                    (_, false) => Tok::Eq,
                }
            }
            _ => {
                let mut end = at + c.len_utf8();
                while let Some((i, n)) = chars.next_if(|&(_, n)| !is_special(n)) {
                    end = i + n.len_utf8();
                }
                Tok::Ident(input[at..end].to_string())
            }
        };
        tokens.push(Token { kind, at });
    }
    tokens.push(Token {
        kind: Tok::End,
        at: input.len(),
    });
    tokens
}

struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Token {
        let last = self.tokens.len().saturating_sub(1);
        self.tokens[self.pos.min(last)].clone()
    }

    fn next(&mut self) -> Token {
        let token = self.peek();
        self.pos += 1;
        token
    }

    fn unexpected(&self, expected: &'static str, token: &Token) -> SelectorError {
        let found = match &token.kind {
            Tok::Ident(s) => format!("{s:?}"),
            Tok::End => "end of input".to_string(),
            Tok::Bang => "'!'".to_string(),
            Tok::Eq => "'='".to_string(),
            Tok::DoubleEq => "'=='".to_string(),
            Tok::NotEq => "'!='".to_string(),
            Tok::OpenParen => "'('".to_string(),
            Tok::CloseParen => "')'".to_string(),
            Tok::Comma => "','".to_string(),
            Tok::Unsupported(c) => format!("unsupported operator '{c}'"),
        };
        SelectorError::Unexpected {
            selector: self.input.to_string(),
            expected,
            found,
            at: token.at,
        }
    }

    fn key(&mut self) -> Result<String, SelectorError> {
        match self.next() {
            Token {
                kind: Tok::Ident(key),
                ..
            } => {
                validate_key(&key).map_err(|reason| SelectorError::InvalidKey {
                    selector: self.input.to_string(),
                    key: key.clone(),
                    reason,
                })?;
                Ok(key)
            }
            other => Err(self.unexpected("a label key", &other)),
        }
    }

    fn value(&mut self, key: &str) -> Result<String, SelectorError> {
        // An empty value (`a=` followed by ',' or the end) is a valid label value.
        let value = match self.peek().kind {
            Tok::Ident(v) => {
                self.pos += 1;
                v
            }
            _ => String::new(),
        };
        validate_value(&value).map_err(|reason| SelectorError::InvalidValue {
            selector: self.input.to_string(),
            key: key.to_string(),
            value: value.clone(),
            reason,
        })?;
        Ok(value)
    }

    fn requirement(&mut self) -> Result<Expression, SelectorError> {
        if self.peek().kind == Tok::Bang {
            self.pos += 1;
            return Ok(Expression::DoesNotExist(self.key()?));
        }
        let key = self.key()?;
        let op = self.peek();
        Ok(match op.kind {
            Tok::Comma | Tok::End => Expression::Exists(key),
            Tok::Eq | Tok::DoubleEq => {
                self.pos += 1;
                let value = self.value(&key)?;
                Expression::Equal(key, value)
            }
            Tok::NotEq => {
                self.pos += 1;
                let value = self.value(&key)?;
                Expression::NotEqual(key, value)
            }
            Tok::Ident(ref word) if word == "in" || word == "notin" => {
                self.pos += 1;
                let values = self.value_set(&key)?;
                if word == "in" {
                    Expression::In(key, values)
                } else {
                    Expression::NotIn(key, values)
                }
            }
            _ => return Err(self.unexpected("'=', '==', '!=', 'in', 'notin', ',' or end", &op)),
        })
    }

    fn value_set(&mut self, key: &str) -> Result<BTreeSet<String>, SelectorError> {
        let open = self.next();
        if open.kind != Tok::OpenParen {
            return Err(self.unexpected("'('", &open));
        }
        // `()` is the set holding the empty value, as in Kubernetes: an empty value is parsed
        // before the first ',' or ')' just as after `a=`.
        let mut values = BTreeSet::new();
        loop {
            values.insert(self.value(key)?);
            match self.next() {
                Token {
                    kind: Tok::Comma, ..
                } => continue,
                Token {
                    kind: Tok::CloseParen,
                    ..
                } => return Ok(values),
                other => return Err(self.unexpected("',' or ')'", &other)),
            }
        }
    }
}

const MAX_NAME: usize = 63;
const MAX_PREFIX: usize = 253;

/// Label names and values: alphanumeric at both ends, `-`, `_`, `.` inside, at most 63 bytes.
fn validate_name_part(s: &str, what_empty: &'static str) -> Result<(), &'static str> {
    if s.is_empty() {
        return Err(what_empty);
    }
    if s.len() > MAX_NAME {
        return Err("must be at most 63 characters");
    }
    let ok_inner = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let ok_ends = s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok_inner && ok_ends {
        Ok(())
    } else {
        Err(
            "must consist of alphanumeric characters, '-', '_' or '.', and start and end with an alphanumeric character",
        )
    }
}

fn validate_key(key: &str) -> Result<(), &'static str> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() || prefix.len() > MAX_PREFIX {
            return Err("prefix must be a DNS subdomain of 1 to 253 characters");
        }
        let labels_ok = prefix.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= MAX_NAME
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
        if !labels_ok {
            return Err("prefix must be a lowercase DNS subdomain");
        }
    }
    validate_name_part(name, "name part must not be empty")
}

fn validate_value(value: &str) -> Result<(), &'static str> {
    if value.is_empty() {
        return Ok(());
    }
    validate_name_part(value, "")
}

#[cfg(test)]
mod tests;
