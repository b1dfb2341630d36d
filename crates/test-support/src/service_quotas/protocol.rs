//! The AWS JSON 1.1 side of the stand-in: dispatch on `X-Amz-Target`, JSON in and out.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Injected, RequestedQuota, Shared, State, lock};

const TARGET_PREFIX: &str = "ServiceQuotasV20190624.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const PAGE: usize = 100;

pub(super) async fn handle(
    AxumState(state): AxumState<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let Some(operation) = target.strip_prefix(TARGET_PREFIX) else {
        return error(
            400,
            "UnknownOperationException",
            &format!("unknown target {target:?}"),
        );
    };
    let input: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(400, "SerializationException", &e.to_string()),
    };
    let mut state = lock(&state);
    *state.calls.entry(operation.to_owned()).or_default() += 1;
    if let Some(injected) = state.take_injected(operation) {
        let (kind, status) = injected.wire();
        return error(status, kind, &format!("injected by the test: {kind}"));
    }
    let result = match operation {
        "GetServiceQuota" => get_service_quota(&state, &input),
        "ListAWSDefaultServiceQuotas" => list_defaults(&state, &input),
        "RequestServiceQuotaIncrease" => request_increase(&mut state, &input),
        "ListRequestedServiceQuotaChangeHistoryByQuota" => history(&state, &input),
        other => Err((
            "UnknownOperationException",
            format!("the stand-in does not serve {other}"),
        )),
    };
    match result {
        Ok(body) => ok(body),
        Err((kind, message)) => error(400, kind, &message),
    }
}

type Outcome = Result<Value, (&'static str, String)>;

impl State {
    fn take_injected(&mut self, operation: &str) -> Option<Injected> {
        let entry = self.injected.get_mut(operation)?;
        if entry.1 == 0 {
            return None;
        }
        if entry.1 != usize::MAX {
            entry.1 -= 1;
        }
        Some(entry.0)
    }

    fn quota_json(&self, service: &str, code: &str, value: f64) -> Value {
        json!({
            "ServiceCode": service,
            "ServiceName": "stand-in",
            "QuotaArn": format!("arn:aws:servicequotas:{}::{service}/{code}", self.region),
            "QuotaCode": code,
            "QuotaName": code,
            "Value": value,
            "Unit": "None",
            "Adjustable": true,
            "GlobalQuota": false,
        })
    }
}

fn field<'a>(input: &'a Value, name: &str) -> Result<&'a str, (&'static str, String)> {
    input
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| ("IllegalArgumentException", format!("{name} is required")))
}

fn get_service_quota(state: &State, input: &Value) -> Outcome {
    let (service, code) = (field(input, "ServiceCode")?, field(input, "QuotaCode")?);
    let value = state
        .applied
        .get(&(service.to_owned(), code.to_owned()))
        .ok_or((
            "NoSuchResourceException",
            format!("no applied quota {service}/{code}"),
        ))?;
    Ok(json!({ "Quota": state.quota_json(service, code, *value) }))
}

fn list_defaults(state: &State, input: &Value) -> Outcome {
    let service = field(input, "ServiceCode")?;
    let quotas: Vec<Value> = state
        .defaults
        .iter()
        .filter(|((s, _), _)| s == service)
        .map(|((s, c), v)| state.quota_json(s, c, *v))
        .collect();
    Ok(page(input, quotas, "Quotas"))
}

fn request_increase(state: &mut State, input: &Value) -> Outcome {
    let (service, code) = (field(input, "ServiceCode")?, field(input, "QuotaCode")?);
    let desired = input.get("DesiredValue").and_then(Value::as_f64).ok_or((
        "IllegalArgumentException",
        "DesiredValue is required".to_owned(),
    ))?;
    let open = state.requests.iter().any(|r| {
        r.service_code == service
            && r.quota_code == code
            && matches!(r.status.as_str(), "PENDING" | "CASE_OPENED")
    });
    if open {
        return Err((
            "ResourceAlreadyExistsException",
            format!("a request for {service}/{code} is already open"),
        ));
    }
    let key = (service.to_owned(), code.to_owned());
    let current = state
        .applied
        .get(&key)
        .or(state.defaults.get(&key))
        .copied();
    if current.is_some_and(|c| desired <= c) {
        return Err((
            "IllegalArgumentException",
            format!("DesiredValue {desired} is not above the current value {current:?}"),
        ));
    }
    let now = SystemTime::now();
    let request = RequestedQuota {
        id: state.new_id(),
        service_code: service.to_owned(),
        quota_code: code.to_owned(),
        desired_value: desired,
        status: "PENDING".to_owned(),
        created: now,
        last_updated: now,
        support_case_allowed: input.get("SupportCaseAllowed").and_then(Value::as_bool),
    };
    let body = json!({ "RequestedQuota": request_json(state, &request) });
    state.requests.push(request);
    Ok(body)
}

fn history(state: &State, input: &Value) -> Outcome {
    let (service, code) = (field(input, "ServiceCode")?, field(input, "QuotaCode")?);
    let status = input.get("Status").and_then(Value::as_str);
    let mut matching: Vec<&RequestedQuota> = state
        .requests
        .iter()
        .filter(|r| r.service_code == service && r.quota_code == code)
        .filter(|r| status.is_none_or(|s| s == r.status))
        .collect();
    matching.sort_by_key(|r| std::cmp::Reverse(r.created));
    let items = matching.iter().map(|r| request_json(state, r)).collect();
    Ok(page(input, items, "RequestedQuotas"))
}

fn request_json(state: &State, r: &RequestedQuota) -> Value {
    json!({
        "Id": r.id,
        "ServiceCode": r.service_code,
        "ServiceName": "stand-in",
        "QuotaCode": r.quota_code,
        "QuotaName": r.quota_code,
        "DesiredValue": r.desired_value,
        "Status": r.status,
        "Created": epoch_seconds(r.created),
        "LastUpdated": epoch_seconds(r.last_updated),
        "Requester": "arn:aws:iam::123456789012:role/stand-in",
        "QuotaArn": format!("arn:aws:servicequotas:{}::{}/{}", state.region, r.service_code, r.quota_code),
        "GlobalQuota": false,
        "Unit": "None",
    })
}

/// One page of `items` under `key`, honouring `MaxResults` and a numeric `NextToken`.
fn page(input: &Value, items: Vec<Value>, key: &str) -> Value {
    let start: usize = input
        .get("NextToken")
        .and_then(Value::as_str)
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let size = input
        .get("MaxResults")
        .and_then(Value::as_u64)
        .and_then(|n| usize::try_from(n).ok())
        .filter(|n| *n > 0)
        .unwrap_or(PAGE);
    let end = start.saturating_add(size).min(items.len());
    let page: Vec<Value> = items.get(start..end).unwrap_or_default().to_vec();
    let mut body = serde_json::Map::new();
    body.insert(key.to_owned(), Value::Array(page));
    if end < items.len() {
        body.insert("NextToken".to_owned(), Value::String(end.to_string()));
    }
    Value::Object(body)
}

fn epoch_seconds(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn ok(body: Value) -> Response {
    with_type(StatusCode::OK, body)
}

fn error(status: u16, kind: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    with_type(status, json!({ "__type": kind, "message": message }))
}

fn with_type(status: StatusCode, body: Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    response
}
