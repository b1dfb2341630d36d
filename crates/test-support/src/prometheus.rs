//! A real Prometheus on loopback that scrapes the given targets and answers PromQL.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;

use crate::HarnessError;
use crate::locate::{Place, locate};
use crate::process::{Launch, ServerProcess};

/// Tells a newcomer how to get `prometheus`.
const INSTALL_HINT: &str = "Install it with ./scripts/test (installs the Debian package), \
     or: apt-get install prometheus; or point TIDAL_PROMETHEUS at a prometheus binary.";
/// Pause between queries while waiting for a series.
const QUERY_POLL: Duration = Duration::from_millis(200);

/// One sample of an instant query: the series labels and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct PromSample {
    /// The series' labels, including `__name__` when the result keeps it.
    pub labels: BTreeMap<String, String>,
    /// The sample value.
    pub value: f64,
}

/// A Prometheus server on 127.0.0.1 with its data in a temporary directory; killed when dropped.
pub struct Prometheus {
    port: u16,
    http: reqwest::Client,
    // Declared before `_dir` so the process dies before its storage is removed.
    _process: ServerProcess,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts Prometheus ($TIDAL_PROMETHEUS, else `$PATH`, else /usr/bin/prometheus) scraping the
    /// loopback `scrape_targets` every `scrape_interval`, and waits for `/-/ready`.
    pub async fn start(
        scrape_targets: &[SocketAddr],
        scrape_interval: Duration,
    ) -> Result<Self, HarnessError> {
        let config = scrape_config(scrape_targets, scrape_interval)?;
        let places = [
            Place::Env("TIDAL_PROMETHEUS"),
            Place::SearchPath("prometheus"),
            Place::File("/usr/bin/prometheus".into()),
        ];
        let binary = locate("prometheus", INSTALL_HINT, &places, |k| std::env::var_os(k))?;
        let dir = tempfile::tempdir()
            .map_err(|e| HarnessError::io("creating a temporary directory for Prometheus", e))?;
        let config_path = dir.path().join("prometheus.yml");
        std::fs::write(&config_path, config)
            .map_err(|e| HarnessError::io(format!("writing {}", config_path.display()), e))?;
        let data_path = dir.path().join("data");
        let args = |port: u16| -> Vec<OsString> {
            let mut config_flag = OsString::from("--config.file=");
            config_flag.push(&config_path);
            let mut data_flag = OsString::from("--storage.tsdb.path=");
            data_flag.push(&data_path);
            vec![
                config_flag,
                data_flag,
                format!("--web.listen-address=127.0.0.1:{port}").into(),
                "--log.level=warn".into(),
            ]
        };
        let launch = Launch {
            program: "prometheus",
            binary: &binary,
            args: &args,
            log_path: dir.path().join("prometheus.log"),
            ready_path: "/-/ready",
            ready_status: |s| s.is_success(),
            env: &[],
        };
        let (process, port) = launch.start().await?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|source| HarnessError::Http {
                url: format!("http://127.0.0.1:{port}"),
                source,
            })?;
        Ok(Self {
            port,
            http,
            _process: process,
            _dir: dir,
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`, for `prometheus_http_query::Client`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Runs an instant query and returns its samples (a scalar comes back as one unlabelled sample).
    pub async fn query(&self, query: &str) -> Result<Vec<PromSample>, HarnessError> {
        let base = format!("{}/api/v1/query", self.url());
        let url = reqwest::Url::parse_with_params(&base, [("query", query)]).map_err(|e| {
            HarnessError::Query {
                query: query.to_owned(),
                message: format!("cannot build the query URL: {e}"),
            }
        })?;
        let http_err = |source| HarnessError::Http {
            url: base.clone(),
            source,
        };
        let body: Value = self
            .http
            .get(url)
            .send()
            .await
            .map_err(http_err)?
            .json()
            .await
            .map_err(http_err)?;
        parse_query_response(query, &body)
    }

    /// Polls `query` until it returns at least one sample, or fails after `deadline`.
    pub async fn wait_for_series(
        &self,
        query: &str,
        deadline: Duration,
    ) -> Result<Vec<PromSample>, HarnessError> {
        let until = tokio::time::Instant::now() + deadline;
        loop {
            let samples = self.query(query).await?;
            if !samples.is_empty() {
                return Ok(samples);
            }
            if tokio::time::Instant::now() >= until {
                return Err(HarnessError::NoSeries {
                    query: query.to_owned(),
                    waited: deadline,
                });
            }
            tokio::time::sleep(QUERY_POLL).await;
        }
    }
}

/// The Prometheus configuration: one job scraping every target at `interval`.
fn scrape_config(targets: &[SocketAddr], interval: Duration) -> Result<String, HarnessError> {
    if let Some(bad) = targets.iter().find(|t| !t.ip().is_loopback()) {
        return Err(HarnessError::NonLoopbackTarget(*bad));
    }
    let ms = interval.as_millis();
    if ms == 0 {
        return Err(HarnessError::InvalidScrapeInterval(interval));
    }
    let list: Vec<String> = targets.iter().map(|t| format!("'{t}'")).collect();
    // The timeout may not exceed the interval; loopback scrapes are fast anyway.
    Ok(format!(
        "global:\n  scrape_interval: {ms}ms\n  evaluation_interval: {ms}ms\n\
         scrape_configs:\n  - job_name: tidal-test\n    scrape_interval: {ms}ms\n    \
         scrape_timeout: {ms}ms\n    static_configs:\n      - targets: [{}]\n",
        list.join(", ")
    ))
}

fn parse_query_response(query: &str, body: &Value) -> Result<Vec<PromSample>, HarnessError> {
    let fail = |message: String| HarnessError::Query {
        query: query.to_owned(),
        message,
    };
    if body["status"] != "success" {
        return Err(fail(format!("{}: {}", body["errorType"], body["error"])));
    }
    let data = &body["data"];
    match data["resultType"].as_str() {
        Some("vector") => data["result"]
            .as_array()
            .ok_or_else(|| fail("vector result is not an array".to_owned()))?
            .iter()
            .map(|s| {
                let labels = s["metric"]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                let value =
                    sample_value(&s["value"]).ok_or_else(|| fail(format!("bad sample {s}")))?;
                Ok(PromSample { labels, value })
            })
            .collect(),
        Some("scalar") => {
            let value = sample_value(&data["result"])
                .ok_or_else(|| fail(format!("bad scalar {}", data["result"])))?;
            Ok(vec![PromSample {
                labels: BTreeMap::new(),
                value,
            }])
        }
        other => Err(fail(format!("unsupported result type {other:?}"))),
    }
}

/// Reads `[timestamp, "value"]`; Prometheus sends values as strings to keep NaN and ±Inf.
fn sample_value(pair: &Value) -> Option<f64> {
    match pair.get(1)?.as_str()? {
        "NaN" => Some(f64::NAN),
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        s => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn config_lists_targets_and_interval() {
        let targets: Vec<SocketAddr> = vec![
            "127.0.0.1:9100".parse().unwrap(),
            "[::1]:9200".parse().unwrap(),
        ];
        let config = scrape_config(&targets, Duration::from_secs(1)).unwrap();
        assert_eq!(
            config,
            "global:\n  scrape_interval: 1000ms\n  evaluation_interval: 1000ms\n\
             scrape_configs:\n  - job_name: tidal-test\n    scrape_interval: 1000ms\n    \
             scrape_timeout: 1000ms\n    static_configs:\n      \
             - targets: ['127.0.0.1:9100', '[::1]:9200']\n"
        );
    }

    #[test]
    fn config_rejects_non_loopback_targets_and_zero_interval() {
        let targets: Vec<SocketAddr> = vec!["10.0.0.1:9100".parse().unwrap()];
        assert!(matches!(
            scrape_config(&targets, Duration::from_secs(1)),
            Err(HarnessError::NonLoopbackTarget(_))
        ));
        assert!(matches!(
            scrape_config(&[], Duration::from_micros(10)),
            Err(HarnessError::InvalidScrapeInterval(_))
        ));
    }

    #[test]
    fn parses_vector_and_scalar_results() {
        let body = json!({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {"__name__": "up", "job": "x"}, "value": [1.5, "1"]},
            {"metric": {}, "value": [1.5, "+Inf"]},
        ]}});
        let samples = parse_query_response("up", &body).unwrap();
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].labels["job"], "x");
        assert_eq!(samples[0].value, 1.0);
        assert_eq!(samples[1].value, f64::INFINITY);

        let body =
            json!({"status": "success", "data": {"resultType": "scalar", "result": [1.5, "42.5"]}});
        assert_eq!(parse_query_response("42.5", &body).unwrap()[0].value, 42.5);
    }

    #[test]
    fn query_errors_carry_prometheus_message() {
        let body = json!({"status": "error", "errorType": "bad_data", "error": "parse error"});
        let msg = parse_query_response("up{", &body).unwrap_err().to_string();
        assert!(msg.contains("parse error") && msg.contains("up{"), "{msg}");
    }
}
