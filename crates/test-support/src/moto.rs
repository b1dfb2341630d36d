//! `moto_server`: real AWS APIs (SQS, EC2, Auto Scaling, …) over HTTP on loopback.

use std::ffi::OsString;

use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::HarnessError;
use crate::locate::{Place, locate, workspace_root};
use crate::process::{Launch, ServerProcess};

/// Tells a newcomer how to get `moto_server`.
const INSTALL_HINT: &str = "Install it with ./scripts/test (creates .venv with moto[server]), \
     or: python3 -m venv .venv && .venv/bin/pip install 'moto[server]'; \
     or point TIDAL_MOTO_SERVER at a moto_server binary.";

/// A `moto_server` on 127.0.0.1 and an ephemeral port, killed when dropped.
pub struct MotoServer {
    port: u16,
    // Declared before `_dir` so the process dies before its log directory is removed.
    _process: ServerProcess,
    _dir: tempfile::TempDir,
}

impl MotoServer {
    /// Starts `moto_server` ($TIDAL_MOTO_SERVER, else `<workspace>/.venv/bin/moto_server`,
    /// else `$PATH`) and waits until it answers HTTP.
    pub async fn start() -> Result<Self, HarnessError> {
        Self::start_with_env(&[]).await
    }

    /// Like [`MotoServer::start`], with moto settings from environment variables, e.g.
    /// `MOTO_EC2_ENABLE_INSTANCE_TYPE_VALIDATION=true` (EC2 then rejects unknown instance types,
    /// as AWS does).
    pub async fn start_with_env(env: &[(&str, &str)]) -> Result<Self, HarnessError> {
        let places = [
            Place::Env("TIDAL_MOTO_SERVER"),
            Place::File(workspace_root().join(".venv/bin/moto_server")),
            Place::SearchPath("moto_server"),
        ];
        let binary = locate("moto_server", INSTALL_HINT, &places, |k| {
            std::env::var_os(k)
        })?;
        let dir = tempfile::tempdir()
            .map_err(|e| HarnessError::io("creating a temporary directory for moto_server", e))?;
        let args = |port: u16| -> Vec<OsString> {
            vec![
                "-H".into(),
                "127.0.0.1".into(),
                "-p".into(),
                port.to_string().into(),
            ]
        };
        let launch = Launch {
            program: "moto_server",
            binary: &binary,
            args: &args,
            log_path: dir.path().join("moto_server.log"),
            // Any HTTP answer at all means moto is serving; the root path has no fixed status.
            ready_path: "/moto-api/",
            ready_status: |_| true,
            env,
        };
        let (process, port) = launch.start().await?;
        Ok(Self {
            port,
            _process: process,
            _dir: dir,
        })
    }

    /// The endpoint to give AWS clients, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// An SDK config pointed at this server with static test credentials, for
    /// `aws_sdk_*::Client::new(&cfg)`.
    pub async fn sdk_config(&self, region: &str) -> SdkConfig {
        loopback_sdk_config(self.endpoint_url(), region).await
    }
}

/// An SDK config for a test server at `endpoint`, with static test credentials.
pub(crate) async fn loopback_sdk_config(endpoint: String, region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .test_credentials()
        .load()
        .await
}
