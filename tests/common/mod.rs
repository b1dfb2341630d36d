//! What the end-to-end tests share: the `tidal` binary run as a child process with a clean
//! environment and its output in a file, polling with a hang guard, and reading `/metrics`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

/// Bounds every wait so a broken run fails with the binary's log instead of hanging; this is
/// no performance assertion (the binaries under test loop every second).
pub const HANG_GUARD: Duration = Duration::from_secs(90);

/// The `tidal` binary running one subcommand, killed when dropped.
pub struct Tidal {
    /// Which component this is, for failure messages.
    pub name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Tidal {
    /// Runs `tidal --log-level LEVEL ARGS…` with only `HOME=dir`, `NO_COLOR` and `env` set, so
    /// nothing of the developer's machine (clusters, AWS profiles) is reached; stdout and
    /// stderr go to `dir/<name>.log`.
    pub fn spawn(
        name: &'static str,
        dir: &Path,
        log_level: &str,
        args: &[&std::ffi::OsStr],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Self {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_tidal"));
        command
            .args(["--log-level", log_level])
            .args(args)
            .env_clear()
            .env("HOME", dir)
            // Plain text logs: they are shown in failure messages.
            .env("NO_COLOR", "1");
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        Self { name, child, log }
    }

    /// Everything the process printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Fails the test with the log if the process is gone.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "the {} exited early ({status}); its output:\n{}",
                self.name,
                self.log()
            );
        }
    }

    /// Waits for the process to exit (bounded by the hang guard) and returns its status.
    pub async fn exit_status(&mut self) -> std::process::ExitStatus {
        match tokio::time::timeout(HANG_GUARD, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!(
                "the {} did not exit; its output:\n{}",
                self.name,
                self.log()
            ),
        }
    }

    /// Polls `check` (and that the process lives) until it gives a value.
    pub async fn eventually<T, F, Fut>(&mut self, what: &str, mut check: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let deadline = tokio::time::Instant::now() + HANG_GUARD;
        loop {
            self.assert_running();
            if let Some(value) = check().await {
                return value;
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "never happened: {what}; the {}'s output:\n{}",
                    self.name,
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

/// The admin server's `/metrics` text on 127.0.0.1, `None` until it answers.
pub async fn metrics(admin_port: u16) -> Option<String> {
    let url = format!("http://127.0.0.1:{admin_port}/metrics");
    let client = reqwest::Client::builder().no_proxy().build().ok()?;
    client.get(url).send().await.ok()?.text().await.ok()
}

/// Fails, naming the request, when `api` received a request that `access` (a component's list
/// in `crates/<component>/src/access.rs`, which its RBAC grants) does not cover.
pub fn assert_requests_granted(
    api: &tidal_test_support::KubeApi,
    access: &[tidal_runtime::access::ApiAccess],
) {
    let requests = api.requests();
    assert!(!requests.is_empty(), "no request reached the API");
    let refused: Vec<&String> = requests
        .iter()
        .filter(|r| {
            tidal_test_support::request_access(r).is_some_and(|(group, resource, verb)| {
                !tidal_runtime::access::granted(access, &group, &resource, &verb)
            })
        })
        .collect();
    assert!(
        refused.is_empty(),
        "requests its RBAC would refuse (add them to the component's access.rs and rbac.yaml): {refused:?}"
    );
}
