//! Custom and external metrics API server for the HPA.

pub mod annotations;
pub mod api;
pub mod app;
pub mod auth;
pub mod authorization;
pub mod cluster;
pub mod collection;
pub mod collector;
pub mod config;
pub mod debug_collectors;
pub mod debug_server;
pub mod events;
pub mod hpa_watch;
pub mod metrics;
pub mod pod_watch;
pub mod promql_tenancy;
pub mod redact;
pub mod scheduler;
pub mod selector;
pub mod server;
pub mod store;
#[cfg(test)]
mod test_fixtures;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tls;
pub mod tls_source;
