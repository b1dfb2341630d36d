//! A server child process owned by a test: started on a free port, polled until it answers,
//! killed and reaped when dropped (also while a failing test unwinds).

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::{HarnessError, free_port};

/// How long a server may take to answer after start; generous because the machine is shared.
const STARTUP_DEADLINE: Duration = Duration::from_secs(90);
/// Pause between readiness probes.
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Start attempts; a retry picks a new port in case another process took ours in between.
const ATTEMPTS: usize = 3;
/// Lines of the server's output kept in error messages.
const LOG_TAIL_LINES: usize = 40;

/// What to start and how to tell that it is ready.
pub(crate) struct Launch<'a> {
    /// Program name for messages.
    pub program: &'static str,
    /// The binary.
    pub binary: &'a Path,
    /// Arguments for a given port.
    pub args: &'a dyn Fn(u16) -> Vec<OsString>,
    /// Where the server's stdout and stderr go.
    pub log_path: PathBuf,
    /// Path probed on `http://127.0.0.1:PORT`.
    pub ready_path: &'a str,
    /// Whether a probe's status means ready.
    pub ready_status: fn(reqwest::StatusCode) -> bool,
    /// Extra environment variables for the server.
    pub env: &'a [(&'a str, &'a str)],
}

/// A running server; dropping it kills and reaps the process.
pub(crate) struct ServerProcess {
    program: &'static str,
    child: Child,
    log_path: PathBuf,
}

impl Launch<'_> {
    /// Starts the server on a free port and waits until it answers; returns it and its port.
    pub(crate) async fn start(&self) -> Result<(ServerProcess, u16), HarnessError> {
        let mut last_error = None;
        for _ in 0..ATTEMPTS {
            let port = free_port()?;
            let mut server = self.spawn(port)?;
            match server.wait_ready(port, self).await {
                Ok(()) => return Ok((server, port)),
                // Most likely the port was taken between free_port and bind: try another.
                Err(e @ HarnessError::ExitedEarly { .. }) => last_error = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or(HarnessError::NotReady {
            program: self.program,
            waited: STARTUP_DEADLINE,
            log: String::new(),
        }))
    }

    fn spawn(&self, port: u16) -> Result<ServerProcess, HarnessError> {
        let log = File::create(&self.log_path).map_err(|e| {
            HarnessError::io(format!("creating log file {}", self.log_path.display()), e)
        })?;
        let log_err = log
            .try_clone()
            .map_err(|e| HarnessError::io("duplicating a log file handle", e))?;
        let child = Command::new(self.binary)
            .args((self.args)(port))
            .envs(self.env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|source| HarnessError::Spawn {
                program: self.program,
                path: self.binary.to_path_buf(),
                source,
            })?;
        Ok(ServerProcess {
            program: self.program,
            child,
            log_path: self.log_path.clone(),
        })
    }
}

impl ServerProcess {
    async fn wait_ready(&mut self, port: u16, launch: &Launch<'_>) -> Result<(), HarnessError> {
        let url = format!("http://127.0.0.1:{port}{}", launch.ready_path);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .map_err(|source| HarnessError::Http {
                url: url.clone(),
                source,
            })?;
        let deadline = tokio::time::Instant::now() + STARTUP_DEADLINE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(HarnessError::ExitedEarly {
                    program: self.program,
                    status: status.to_string(),
                    log: self.log_tail(),
                });
            }
            if let Ok(resp) = client.get(&url).send().await
                && (launch.ready_status)(resp.status())
            {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(HarnessError::NotReady {
                    program: self.program,
                    waited: STARTUP_DEADLINE,
                    log: self.log_tail(),
                });
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The process id, for tests that check the process is gone after drop.
    #[cfg(test)]
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// The last lines the server printed, for error messages.
    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // SIGKILL then wait: the server holds no state worth flushing, and waiting reaps it so
        // no zombie outlives the test.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn shell_launch<'a>(
        dir: &Path,
        sh: &'a Path,
        args: &'a dyn Fn(u16) -> Vec<OsString>,
    ) -> Launch<'a> {
        Launch {
            program: "sh",
            binary: sh,
            args,
            log_path: dir.join("sh.log"),
            ready_path: "/",
            ready_status: |s| s.is_success(),
            env: &[],
        }
    }

    #[tokio::test]
    async fn early_exit_reports_status_and_output() {
        let dir = tempfile::tempdir().unwrap();
        let args = |_port: u16| vec!["-c".into(), "echo boom >&2; exit 3".into()];
        let err = shell_launch(dir.path(), Path::new("/bin/sh"), &args)
            .start()
            .await
            .err()
            .unwrap();
        let msg = err.to_string();
        assert!(matches!(err, HarnessError::ExitedEarly { .. }), "{msg}");
        assert!(msg.contains("boom"), "{msg}");
        assert!(msg.contains('3'), "{msg}");
    }

    #[tokio::test]
    async fn missing_binary_is_a_spawn_error() {
        let dir = tempfile::tempdir().unwrap();
        let args = |_port: u16| Vec::new();
        let err = shell_launch(dir.path(), Path::new("/nonexistent/bin"), &args)
            .start()
            .await
            .err()
            .unwrap();
        assert!(matches!(err, HarnessError::Spawn { .. }), "{err}");
    }

    #[test]
    fn drop_kills_and_reaps_the_child() {
        let dir = tempfile::tempdir().unwrap();
        let args = |_port: u16| vec!["-c".into(), "exec sleep 600".into()];
        let launch = shell_launch(dir.path(), Path::new("/bin/sh"), &args);
        let server = launch.spawn(1).unwrap();
        let proc_dir = PathBuf::from(format!("/proc/{}", server.id()));
        assert!(proc_dir.exists());
        drop(server);
        // A zombie keeps its /proc entry, so its absence shows the child was killed and reaped.
        assert!(!proc_dir.exists());
    }
}
