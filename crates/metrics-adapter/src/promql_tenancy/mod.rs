//! Opt-in PromQL tenancy (`--promql-namespace-isolation`): an HPA's annotation query reads only
//! its own namespace's series.
//!
//! [`confine_to_namespace`] parses the query with a real PromQL parser (`promql-parser`), adds
//! `namespace="<HPA namespace>"` to every vector and matrix selector (inside functions,
//! aggregations, binary operations, subqueries; to each alternative of an `or` matcher group),
//! prints the tree back and parses the result again to check that every selector is confined.
//! Label matchers are ANDed, so the added matcher confines a selector whatever else it matches.
//!
//! Refused, with an error that says why (it becomes a Warning Event on the HPA):
//! - a query that does not parse;
//! - a selector that already has a `namespace` matcher other than `namespace="<HPA
//!   namespace>"` (another namespace, `!=`, a regex): rewriting it would silently change the
//!   query's meaning, so its author is told instead;
//! - anything the parser cannot print back faithfully (checked by the second parse).
//!
//! Off by default: kube-metrics-adapter users rely on cluster-wide queries. Series without a
//! `namespace` label are not matched by a confined query (the HPA gets no value).

use promql_parser::label::{MatchOp, Matcher, Matchers};
use promql_parser::parser::{self, Expr, VectorSelector};

/// The label a selector is confined by.
pub const NAMESPACE_LABEL: &str = "namespace";

/// Why a query cannot be confined to a namespace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenancyError {
    /// The query is not valid PromQL.
    #[error("the query does not parse as PromQL: {0}")]
    Parse(String),
    /// A selector names a namespace itself.
    #[error(
        "PromQL namespace isolation is on: selector {selector} has matcher {matcher}; \
         queries may only read namespace {namespace:?} (remove the matcher; \
         namespace=\"{namespace}\" is added to every selector)"
    )]
    ForeignNamespace {
        /// The selector as written back.
        selector: String,
        /// The conflicting matcher.
        matcher: String,
        /// The HPA's namespace.
        namespace: String,
    },
    /// The query holds something that cannot be rewritten safely.
    #[error("PromQL namespace isolation is on and the query cannot be rewritten: {0}")]
    Unsupported(String),
}

/// `query` with `namespace="<namespace>"` added to every selector, or why it cannot be.
pub fn confine_to_namespace(query: &str, namespace: &str) -> Result<String, TenancyError> {
    let mut expr = parser::parse(query).map_err(TenancyError::Parse)?;
    visit_selectors(&mut expr, &mut |selector| confine(selector, namespace))?;
    let rewritten = expr.to_string();
    // The printer must give back what was rewritten: parse again and check every selector.
    let mut reparsed = parser::parse(&rewritten).map_err(|e| {
        TenancyError::Unsupported(format!(
            "the rewritten query {rewritten:?} does not parse: {e}"
        ))
    })?;
    visit_selectors(&mut reparsed, &mut |selector| {
        if is_confined(selector, namespace) {
            Ok(())
        } else {
            Err(TenancyError::Unsupported(format!(
                "selector {selector} of the rewritten query is not confined"
            )))
        }
    })?;
    Ok(rewritten)
}

/// Calls `f` on every vector selector of `expr` (those of matrix selectors included).
fn visit_selectors(
    expr: &mut Expr,
    f: &mut impl FnMut(&mut VectorSelector) -> Result<(), TenancyError>,
) -> Result<(), TenancyError> {
    match expr {
        Expr::VectorSelector(selector) => f(selector),
        Expr::MatrixSelector(matrix) => f(&mut matrix.vs),
        Expr::Aggregate(aggregate) => {
            if let Some(param) = aggregate.param.as_deref_mut() {
                visit_selectors(param, f)?;
            }
            visit_selectors(&mut aggregate.expr, f)
        }
        Expr::Unary(unary) => visit_selectors(&mut unary.expr, f),
        Expr::Binary(binary) => {
            visit_selectors(&mut binary.lhs, f)?;
            visit_selectors(&mut binary.rhs, f)
        }
        Expr::Paren(paren) => visit_selectors(&mut paren.expr, f),
        Expr::Subquery(subquery) => visit_selectors(&mut subquery.expr, f),
        Expr::Call(call) => call
            .args
            .args
            .iter_mut()
            .try_for_each(|arg| visit_selectors(arg, f)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) => Ok(()),
        Expr::Extension(extension) => Err(TenancyError::Unsupported(format!(
            "extension expression {}",
            extension.expr.name()
        ))),
    }
}

fn is_ours(matcher: &Matcher, namespace: &str) -> bool {
    matcher.op == MatchOp::Equal && matcher.value == namespace
}

/// The matcher groups of a selector: the plain list, or each alternative of an `or` group.
fn groups(matchers: &mut Matchers) -> Vec<&mut Vec<Matcher>> {
    if matchers.or_matchers.is_empty() {
        vec![&mut matchers.matchers]
    } else {
        matchers.or_matchers.iter_mut().collect()
    }
}

fn confine(selector: &mut VectorSelector, namespace: &str) -> Result<(), TenancyError> {
    let printed = selector.to_string();
    let foreign = selector
        .matchers
        .matchers
        .iter()
        .chain(selector.matchers.or_matchers.iter().flatten())
        .find(|m| m.name == NAMESPACE_LABEL && !is_ours(m, namespace));
    if let Some(matcher) = foreign {
        return Err(TenancyError::ForeignNamespace {
            selector: printed,
            matcher: matcher.to_string(),
            namespace: namespace.to_string(),
        });
    }
    for group in groups(&mut selector.matchers) {
        if !group.iter().any(|m| m.name == NAMESPACE_LABEL) {
            group.push(Matcher::new(MatchOp::Equal, NAMESPACE_LABEL, namespace));
        }
    }
    Ok(())
}

fn is_confined(selector: &mut VectorSelector, namespace: &str) -> bool {
    groups(&mut selector.matchers).into_iter().all(|group| {
        let mut on_namespace = group.iter().filter(|m| m.name == NAMESPACE_LABEL);
        on_namespace.clone().any(|m| is_ours(m, namespace))
            && on_namespace.all(|m| is_ours(m, namespace))
    })
}

#[cfg(test)]
mod tests;
