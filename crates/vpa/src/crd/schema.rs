//! OpenAPI schemas for fields whose Rust type does not describe them as the upstream CRD does
//! (quantities, resource lists, nullable times, free-form maps).

use schemars::{Schema, SchemaGenerator, json_schema};

/// A resource quantity: an integer or a string such as `250m` or `1Gi`.
pub(super) fn quantity(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "pattern": "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$",
        "x-kubernetes-int-or-string": true
    })
}

/// A `ResourceList`: resource name → quantity.
pub(super) fn resource_list(generator: &mut SchemaGenerator) -> Schema {
    let value = quantity(generator);
    json_schema!({
        "type": "object",
        "additionalProperties": value
    })
}

/// A `metav1.Time`.
pub(super) fn date_time(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "format": "date-time"})
}

/// A `metav1.Time` marked `+nullable` upstream (Go writes a zero time as `null`).
pub(super) fn nullable_date_time(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "string", "format": "date-time", "nullable": true})
}

/// An object the API server keeps as written (no pruning of its fields).
pub(super) fn preserved_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "object", "x-kubernetes-preserve-unknown-fields": true})
}
