//! Limits under `controlledValues`: what the admission controller will set as the limit
//! for a recommended request.

use super::policy::ControlledValues;

/// The limit that goes with `recommended_request`, given the container's original request
/// and limit (same unit: millicores or bytes).
///
/// `RequestsOnly` keeps the original limit. `RequestsAndLimits` keeps the original
/// limit/request ratio, as upstream's `GetProportionalLimit`: no original limit → none;
/// limit without request, or equal to it → the recommended request; otherwise
/// `recommended × limit / request`, rounded up to a whole unit and saturating at
/// `i64::MAX`. `None` means "no limit".
pub fn limit_for(
    controlled: ControlledValues,
    original_request: Option<i64>,
    original_limit: Option<i64>,
    recommended_request: i64,
) -> Option<i64> {
    let limit = original_limit.filter(|l| *l > 0);
    match controlled {
        ControlledValues::RequestsOnly => limit,
        ControlledValues::RequestsAndLimits => {
            let limit = limit?;
            match original_request.filter(|r| *r > 0) {
                None => Some(recommended_request),
                Some(request) if request == limit => Some(recommended_request),
                Some(request) => {
                    let scaled = i128::from(recommended_request.max(0)) * i128::from(limit);
                    let q = (scaled + i128::from(request) - 1) / i128::from(request);
                    Some(i64::try_from(q).unwrap_or(i64::MAX))
                }
            }
        }
    }
}
