//! `report.html` of a run with an outage, a spot interruption and demand the cluster cannot
//! meet: what it shows, and that it renders in headless Chromium at 1,280 px without script
//! errors or horizontal scrolling.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// An on-demand pool capped at 3 nodes (so `batch` cannot all fit: unmet demand), a spot
/// pool, an outage of the on-demand type and a spot interruption.
const TROUBLED: &str = r#"
name: troubled hour
duration: 1h
warmup: 10m
seed: 3
zones: [eu-central-1a]
node_pools:
- {name: default, instance_types: [m6i.large], min_size: 1, max_size: 3}
- name: spot
  instance_types: [c6i.large]
  spot: true
  max_size: 6
  labels: {lifecycle: spot}
workloads:
- name: web
  replicas: 4
  max_replicas: 12
  requests: {cpu: 500m, memory: 1Gi}
  hpa: {target_cpu_utilization: 70}
  load: {steps: [{at: 0s, value: 10}, {at: 20m, value: 80}]}
  cpu_per_unit: 20m
- name: batch
  replicas: 10
  requests: {cpu: "1", memory: 2Gi}
  node_selector: {lifecycle: spot}
  load: {constant: 1}
  cpu_per_unit: 100m
failures:
- {kind: capacity, instance_type: m6i.large, zone: eu-central-1a, from: 15m, until: 35m}
- {kind: spot_interruption, pool: spot, at: 40m, count: 2}
"#;

fn report_dir() -> tempfile::TempDir {
    let result = common::run(common::scenario(TROUBLED));
    let dir = tempfile::tempdir().unwrap();
    tidal_simulate::cli::write_outputs(dir.path(), &result).unwrap();
    dir
}

#[test]
fn the_report_shows_memory_spend_utilization_windows_and_meanings() {
    let dir = report_dir();
    let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
    for section in [
        "Memory: requested vs allocatable",
        "Cost per hour by pool",
        "Utilization by pool",
        "What the figures mean",
        "lower bound",
        "waste (in the log)",
    ] {
        assert!(html.contains(section), "missing {section:?}");
    }
    // The outage is a shaded span on every chart; the interruption a line.
    assert!(html.contains("no m6i.large capacity in eu-central-1a</title></rect>"));
    assert!(html.contains("spot instances of spot reclaimed</title></line>"));
    // Unmet demand comes before the figures.
    let unmet = html
        .find("<h2>Unmet demand</h2>")
        .expect("unmet demand section");
    assert!(unmet < html.find("class=\"figs\"").unwrap());
    assert!(
        html[unmet..].contains("/batch</td>"),
        "the workload is named: {}",
        &html[unmet..(unmet + 1500).min(html.len())]
    );
    // The log is grouped by hour and has a filter per kind.
    assert!(html.contains("<tr class=\"hour\"><th colspan=\"3\">00:00:00 – 01:00:00"));
    assert!(html.contains("data-kind=\"scale-up\" checked"));
    for fetch in ["<link", "src=", "https://", "url("] {
        assert!(
            !html.contains(fetch),
            "the report must be self-contained: {fetch:?}"
        );
    }
}

/// The Chromium binary: `TIDAL_CHROMIUM`, else `chromium` on the PATH.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("TIDAL_CHROMIUM") {
        return PathBuf::from(p);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "headless Chromium is needed to check report.html: install the Debian package \
             `chromium` (./scripts/test does) or set TIDAL_CHROMIUM to its binary"
        )
    })
}

/// Runs Chromium headless at 1,280 px on a local file, offline: every host name resolves to
/// nothing and any proxy use goes to a closed loopback port. Returns stdout.
fn headless(profile: &Path, args: &[String]) -> String {
    let bin = chromium();
    let mut cmd = Command::new(&bin);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-extensions",
        "--disable-sync",
        "--disable-background-networking",
        "--disable-component-update",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--window-size=1280,4000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .args(args)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let child = cmd.spawn().unwrap_or_else(|e| {
        panic!(
            "cannot start {} ({e}): install the Debian package `chromium` or set TIDAL_CHROMIUM",
            bin.display()
        )
    });
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(120);
    let waiter = std::thread::spawn(move || child.wait_with_output());
    while !waiter.is_finished() {
        assert!(
            Instant::now() < deadline,
            "chromium (pid {pid}) did not finish within 120 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = waiter.join().unwrap().unwrap();
    assert!(
        output.status.success(),
        "chromium failed: {:?}",
        output.status
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Catches script errors from the start and, after the page's own script, records what the
/// test needs in the DOM: errors, page width vs window width, and what the text filter does.
fn instrumented(html: &str) -> String {
    let catcher = "<script>window.__errors=[];window.addEventListener('error',function(e){\
                   window.__errors.push(String(e.message));});</script>";
    let check = "<script>(function(){var q=document.getElementById('log-search');\
                 var all=document.getElementById('log-shown').textContent;\
                 q.value='no entry says this';q.dispatchEvent(new Event('input'));\
                 var none=document.getElementById('log-shown').textContent;\
                 var d=document.createElement('div');d.id='browser-check';\
                 d.setAttribute('data-errors',window.__errors.join(' | ')||'none');\
                 d.setAttribute('data-width',document.documentElement.scrollWidth+'/'+window.innerWidth);\
                 d.setAttribute('data-filter',all+' then '+none);\
                 document.body.appendChild(d);})();</script>";
    html.replacen("<head>", &format!("<head>{catcher}"), 1)
        .replacen("</body>", &format!("{check}</body>"), 1)
}

fn attr<'a>(dom: &'a str, name: &str) -> &'a str {
    let key = format!("{name}=\"");
    let start = dom
        .find(&key)
        .unwrap_or_else(|| panic!("no {name} in the DOM"))
        + key.len();
    let end = dom[start..].find('"').unwrap() + start;
    &dom[start..end]
}

#[test]
fn the_report_renders_in_headless_chromium_without_errors_or_horizontal_scrolling() {
    let dir = report_dir();
    let report = dir.path().join("report.html");
    let html = std::fs::read_to_string(&report).unwrap();
    let check = dir.path().join("check.html");
    std::fs::write(&check, instrumented(&html)).unwrap();
    let profile = dir.path().join("chromium-profile");

    let dom = headless(
        &profile,
        &["--dump-dom".into(), format!("file://{}", check.display())],
    );
    assert!(
        dom.contains("data-log-ready=\"1\""),
        "the page's script did not finish"
    );
    assert_eq!(attr(&dom, "data-errors"), "none", "script errors");
    let width = attr(&dom, "data-width");
    let (page, window) = width.split_once('/').unwrap();
    let (page, window): (u32, u32) = (page.parse().unwrap(), window.parse().unwrap());
    assert_eq!(window, 1280, "window width");
    assert!(
        page <= window,
        "horizontal scrolling at 1,280 px: page is {page} px wide"
    );
    let filter = attr(&dom, "data-filter");
    assert!(
        filter.ends_with(" then 0 shown") && !filter.starts_with("0 shown"),
        "the text filter hides what does not match: {filter}"
    );

    let shot = std::env::var_os("TIDAL_REPORT_SCREENSHOT")
        .map_or_else(|| dir.path().join("report.png"), PathBuf::from);
    headless(
        &profile,
        &[
            format!("--screenshot={}", shot.display()),
            format!("file://{}", report.display()),
        ],
    );
    let png = std::fs::read(&shot).expect("chromium wrote no screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "the screenshot is not a PNG"
    );
    assert!(
        png.len() > 10_000,
        "the screenshot is nearly empty ({} bytes)",
        png.len()
    );
}
