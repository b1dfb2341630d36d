//! Memory of the collection side under hostile bodies: HPAS HPAs (default 200), each pointing
//! a json-path collector at an endpoint that serves the largest, most value-dense body the
//! limits accept (default 1 MiB), every 5 s, for SECONDS (default 60). Prints the peak
//! resident memory of the process (adapter side and the loopback server together).
//!
//! ```text
//! cargo run -p tidal-metrics-adapter --example collection_load -- [HPAS] [SECONDS] [BODY_BYTES]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tidal_metrics_adapter::testing::collection_load;

fn arg(i: usize, default: usize) -> usize {
    std::env::args()
        .nth(i)
        .map(|a| a.parse().expect("a number"))
        .unwrap_or(default)
}

#[tokio::main]
async fn main() {
    let hpas = arg(1, 200);
    let seconds = arg(2, 60);
    let body_bytes = arg(3, 1 << 20);
    let report = collection_load(hpas, body_bytes, Duration::from_secs(seconds as u64))
        .await
        .unwrap();
    println!(
        "{} HPAs, {} byte bodies, {} s: {} requests served, {} HPA metrics succeeding, failing {:?}, peak RSS {} MiB",
        report.hpas,
        report.body_bytes,
        seconds,
        report.requests,
        report.succeeding,
        report.failing,
        report
            .peak_rss_kib
            .map_or("unknown".to_string(), |k| format!(
                "{:.1}",
                k as f64 / 1024.0
            )),
    );
}
