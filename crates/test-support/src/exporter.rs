//! A tiny `/metrics` endpoint with values a test sets, so a real Prometheus has something to scrape.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use tidal_core::sync::lock;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use tokio::sync::oneshot;

use crate::HarnessError;

/// One series: metric name and sorted label pairs.
type SeriesKey = (String, Vec<(String, String)>);
type Values = Arc<Mutex<BTreeMap<SeriesKey, f64>>>;

/// An HTTP server on 127.0.0.1 serving the Prometheus text format; stopped when dropped.
pub struct TestExporter {
    addr: SocketAddr,
    values: Values,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl TestExporter {
    /// Starts the exporter on an ephemeral loopback port (needs a tokio runtime).
    pub async fn start() -> Result<Self, HarnessError> {
        let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .map_err(|e| HarnessError::io("binding the test exporter to 127.0.0.1:0", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| HarnessError::io("reading the test exporter's address", e))?;
        let values = Values::default();
        let app = Router::new()
            .route("/metrics", get(metrics))
            .with_state(values.clone());
        let (shutdown, task) = crate::serve::serve_until_stopped("test exporter", listener, app);
        Ok(Self {
            addr,
            values,
            shutdown: Some(shutdown),
            task,
        })
    }

    /// The address to scrape.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sets one series, e.g. `set("nginx_ingress_controller_requests", &[("ingress", "x")], 42.0)`.
    pub fn set(&self, name: &str, labels: &[(&str, &str)], value: f64) -> Result<(), HarnessError> {
        check_name("metric", name, true)?;
        let mut pairs = Vec::with_capacity(labels.len());
        for (k, v) in labels {
            check_name("label", k, false)?;
            pairs.push(((*k).to_owned(), (*v).to_owned()));
        }
        pairs.sort();
        lock(&self.values).insert((name.to_owned(), pairs), value);
        Ok(())
    }

    /// The text the exporter serves right now.
    pub fn render(&self) -> String {
        render(&lock(&self.values))
    }
}

impl Drop for TestExporter {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Scrapes in flight do not matter once the test is over.
        self.task.abort();
    }
}

async fn metrics(State(values): State<Values>) -> ([(&'static str, &'static str); 1], String) {
    let body = render(&lock(&values));
    (
        [("content-type", "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
}

fn render(values: &BTreeMap<SeriesKey, f64>) -> String {
    let mut out = String::new();
    for ((name, labels), value) in values {
        out.push_str(name);
        if !labels.is_empty() {
            out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{k}=\"{}\"", escape(v));
            }
            out.push('}');
        }
        let _ = writeln!(out, " {}", format_value(*value));
    }
    out
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        v.to_string()
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Metric names may contain `:`, label names may not; neither may start with a digit.
fn check_name(kind: &'static str, name: &str, allow_colon: bool) -> Result<(), HarnessError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || (allow_colon && c == ':');
    let valid =
        name.chars().next().is_some_and(|c| !c.is_ascii_digit()) && name.chars().all(ok_char);
    if valid {
        Ok(())
    } else {
        Err(HarnessError::InvalidName {
            kind,
            name: name.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[tokio::test]
    async fn renders_sorted_series_with_escaped_labels() {
        let exporter = TestExporter::start().await.unwrap();
        exporter
            .set(
                "reqs",
                &[("namespace", "y"), ("ingress", "a\"b\\c\nd")],
                42.0,
            )
            .unwrap();
        exporter.set("up_total", &[], 1.5).unwrap();
        exporter
            .set("reqs", &[("ingress", "z")], f64::INFINITY)
            .unwrap();
        assert_eq!(
            exporter.render(),
            "reqs{ingress=\"a\\\"b\\\\c\\nd\",namespace=\"y\"} 42\n\
             reqs{ingress=\"z\"} +Inf\n\
             up_total 1.5\n"
        );
    }

    #[tokio::test]
    async fn setting_again_replaces_the_value() {
        let exporter = TestExporter::start().await.unwrap();
        exporter.set("g", &[("a", "1")], 1.0).unwrap();
        exporter.set("g", &[("a", "1")], 7.0).unwrap();
        assert_eq!(exporter.render(), "g{a=\"1\"} 7\n");
    }

    #[tokio::test]
    async fn rejects_invalid_names() {
        let exporter = TestExporter::start().await.unwrap();
        assert!(matches!(
            exporter.set("1abc", &[], 1.0),
            Err(HarnessError::InvalidName { kind: "metric", .. })
        ));
        assert!(matches!(
            exporter.set("ok:name", &[("bad:label", "v")], 1.0),
            Err(HarnessError::InvalidName { kind: "label", .. })
        ));
        assert!(matches!(
            exporter.set("", &[], 1.0),
            Err(HarnessError::InvalidName { .. })
        ));
    }

    #[tokio::test]
    async fn serves_metrics_over_http() {
        let exporter = TestExporter::start().await.unwrap();
        exporter
            .set("tidal_test_value", &[("k", "v")], 3.0)
            .unwrap();
        assert!(exporter.addr().ip().is_loopback());
        let url = format!("http://{}/metrics", exporter.addr());
        let resp = reqwest::get(&url).await.unwrap();
        assert!(resp.status().is_success());
        assert_eq!(resp.text().await.unwrap(), "tidal_test_value{k=\"v\"} 3\n");
    }
}
