//! `tidal simulate` as a user runs it: a scenario mistake is one message with one position,
//! never a backtrace (even with RUST_BACKTRACE=1), and `--strict` turns unmet demand into a
//! non-zero exit, and a reader that stops early (`| head`) does not make it fail.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn tidal() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tidal"));
    cmd.env("RUST_BACKTRACE", "1").env_remove("RUST_LOG");
    cmd
}

const BAD: &str = "\
node_pools:
- {name: default, instance_types: [m6i.xlarge], max_size: 3}
workloads:
- name: web
  replicas: -1
  requests: {cpu: 500m, memory: 1Gi}
  load: {constant: 1}
  cpu_per_unit: 1m
";

#[test]
fn a_scenario_mistake_is_one_message_without_a_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, BAD).unwrap();
    let out = tidal()
        .args(["simulate", "--out"])
        .arg(dir.path().join("run"))
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one message:\n{stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(
        lines[0].contains("bad.yaml:5:3: workloads[0].replicas"),
        "{stderr}"
    );
    assert!(lines[0].contains("a whole number ≥ 0"), "{stderr}");
    for noise in ["backtrace", "Caused by", "expected u32"] {
        assert!(!stderr.contains(noise), "{noise:?} in:\n{stderr}");
    }
    assert!(!dir.path().join("run").exists());
}

#[test]
fn strict_makes_unmet_demand_a_failing_exit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("small.yaml");
    std::fs::write(
        &path,
        BAD.replace("replicas: -1", "replicas: 12")
            .replace("max_size: 3", "max_size: 1"),
    )
    .unwrap();
    let run = |strict: bool| {
        let mut cmd = tidal();
        cmd.args(["simulate", "--duration", "20m", "--out"])
            .arg(dir.path().join(format!("run-{strict}")))
            .arg(&path);
        if strict {
            cmd.arg("--strict");
        }
        cmd.output().unwrap()
    };
    let lenient = run(false);
    assert!(lenient.status.success(), "{lenient:?}");
    let stdout = String::from_utf8(lenient.stdout).unwrap();
    assert!(stdout.contains("never scheduled"), "{stdout}");
    let strict = run(true);
    assert_eq!(strict.status.code(), Some(3), "{strict:?}");
    let stderr = String::from_utf8(strict.stderr).unwrap();
    assert!(stderr.contains("--strict: demand went unmet"), "{stderr}");
    assert!(dir.path().join("run-true/report.html").is_file());
}

#[test]
fn a_reader_that_stops_early_ends_the_output_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.yaml");
    std::fs::write(&path, BAD.replace("replicas: -1", "replicas: 2")).unwrap();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = tidal()
        .args(["simulate", "--duration", "20m", "--runs", "2", "--out"])
        .arg(dir.path().join("run"))
        .arg(&path)
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{:?}\n{stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(dir.path().join("run/spread.json").is_file());
    assert!(dir.path().join("run/seed-2/report.html").is_file());
}
