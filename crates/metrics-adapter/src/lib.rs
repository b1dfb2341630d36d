//! Custom and external metrics API server for the HPA.
//!
//! Two halves share one [`store::MetricStore`]:
//!
//! - Collection (writes the store): `hpa_watch` turns HPAs and their `metric-config.`
//!   annotations into typed [`config`]s; the `poller` runs one `collector` per distinct source
//!   at its interval and writes each HPA's samples; `events` warns on the HPA when its config or
//!   collection fails. Collectors see the cluster only through [`ports`]; the Kubernetes
//!   implementation lives in `adapters::kube_cluster`, fed by `pod_watch`. `collection` wires
//!   these together.
//! - Serving (reads the store): [`api`] answers custom.metrics.k8s.io and
//!   external.metrics.k8s.io behind kube-apiserver, authenticated by [`auth`] over [`tls`]
//!   ([`server`], [`tls_source`]).
//!
//! [`app`] is the `tidal metrics-adapter` subcommand; [`metrics`] its Prometheus metrics.

// Serving.
pub mod access;
pub mod api;
pub mod auth;
pub mod authorization;
pub mod debug_server;
pub mod promql_tenancy;
pub mod redact;
pub mod server;
pub mod tls;
pub mod tls_source;

// Collection.
mod adapters;
pub mod annotations;
mod collection;
mod collector;
pub mod config;
mod debug_collectors;
mod events;
mod hpa_watch;
pub mod outbound;
mod pod_watch;
mod poller;
pub mod ports;

// Shared.
pub mod app;
pub mod metrics;
pub mod selector;
pub mod store;
mod supervisor;

#[cfg(test)]
mod test_fixtures;
#[cfg(feature = "testing")]
pub mod testing;
