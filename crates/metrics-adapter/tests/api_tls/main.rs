//! The metrics API over real TLS, requested the way kube-apiserver proxies requests to an
//! aggregated API server: a front-proxy client certificate plus `X-Remote-User` /
//! `X-Remote-Group` headers, `Accept: application/json`. Loopback only.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod authorization;
mod connections;
mod fixture;
mod serving;
