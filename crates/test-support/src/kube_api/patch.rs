//! PATCH: JSON merge patch (RFC 7386), JSON patch (RFC 6902), and server-side apply.
//!
//! Strategic merge patches are applied as plain merge patches: lists are replaced whole, never
//! merged by key. Server-side apply creates the object or merge-patches it with the applied
//! configuration: no field ownership, no conflicts, and fields a manager stops applying are kept.

use std::collections::HashMap;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use super::http::{check_namespace, json_response, parse_json};
use super::store::ObjectKey;
use super::{KubeApiError, Shared};

/// The media type of the request, without parameters such as `charset`.
fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Applies a PATCH to the object at `key`.
pub(crate) fn patch(
    shared: &Shared,
    key: &ObjectKey,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, KubeApiError> {
    match media_type(headers).as_str() {
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            let patch = parse_json(body)?;
            let mut store = shared.lock_store();
            let mut object = store.get(key)?;
            json_patch::merge(&mut object, &patch);
            Ok(json_response(StatusCode::OK, &store.update(key, object)?))
        }
        "application/json-patch+json" => {
            let ops: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| KubeApiError::BadRequest(format!("invalid JSON patch: {e}")))?;
            let mut store = shared.lock_store();
            let mut object = store.get(key)?;
            json_patch::patch(&mut object, &ops).map_err(|e| {
                KubeApiError::Invalid(format!("the JSON patch does not apply: {e}"))
            })?;
            Ok(json_response(StatusCode::OK, &store.update(key, object)?))
        }
        "application/apply-patch+yaml" => apply(shared, key, params, body),
        other => Err(KubeApiError::UnsupportedMediaType(format!(
            "the stand-in does not read PATCH bodies of type {other:?}"
        ))),
    }
}

/// Server-side apply, simplified: create, or merge the applied configuration into the object.
fn apply(
    shared: &Shared,
    key: &ObjectKey,
    params: &HashMap<String, String>,
    body: &[u8],
) -> Result<Response, KubeApiError> {
    if params.get("fieldManager").is_none_or(String::is_empty) {
        return Err(KubeApiError::BadRequest(
            "fieldManager is required for apply requests".into(),
        ));
    }
    let applied: Value = serde_yaml_ng::from_slice(body).map_err(|e| {
        KubeApiError::BadRequest(format!("the applied configuration is not YAML: {e}"))
    })?;
    if !applied.is_object() {
        return Err(KubeApiError::BadRequest(
            "the applied configuration is not an object".into(),
        ));
    }
    check_namespace(&key.namespace, &applied)?;
    match applied.pointer("/metadata/name").and_then(Value::as_str) {
        Some(name) if name == key.name => {}
        other => {
            return Err(KubeApiError::BadRequest(format!(
                "the name of the applied object ({other:?}) does not match the name on the URL ({})",
                key.name
            )));
        }
    }
    let mut store = shared.lock_store();
    match store.get(key) {
        Ok(mut object) => {
            json_patch::merge(&mut object, &applied);
            Ok(json_response(StatusCode::OK, &store.update(key, object)?))
        }
        Err(KubeApiError::NotFound(_)) => Ok(json_response(
            StatusCode::CREATED,
            &store.create(key.clone(), applied)?,
        )),
        Err(e) => Err(e),
    }
}
