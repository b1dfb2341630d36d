//! `tidal`: one binary, one subcommand per component.

use clap::{Parser, Subcommand};
use tidal_runtime::telemetry::{self, LogFormat};

/// Autoscaling control loops for Kubernetes on AWS.
#[derive(Debug, Parser)]
#[command(name = "tidal", version)]
struct Cli {
    /// Log line format.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "TIDAL_LOG_FORMAT")]
    log_format: LogFormat,
    /// Log level or filter (e.g. `info`, `tidal=debug,kube=warn`); RUST_LOG overrides it.
    #[arg(long, global = true, default_value = "info", env = "TIDAL_LOG_LEVEL")]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole platform on a simulated cluster and cloud (default: one day of an online shop).
    Simulate(Box<tidal_simulate::Args>),
    /// Node-pool-aware cluster autoscaler on AWS Auto Scaling Groups.
    ClusterAutoscaler(Box<tidal_cluster_autoscaler::cli::Args>),
    /// Custom and external metrics API server for the HPA.
    MetricsAdapter(Box<tidal_metrics_adapter::app::Args>),
    /// OOM-aware vertical pod autoscaler recommender (`tidal vpa crds` prints the CRDs).
    Vpa(Box<tidal_vpa::cli::Args>),
    /// Compare what node pools may need with EC2 vCPU quotas and file increase requests (a CronJob).
    QuotaRequester(Box<tidal_quota_requester::cli::Args>),
    /// Vertical control-plane resizer: EC2 instance types or EKS provisioned tiers.
    CpAutoscaler(Box<tidal_cp_autoscaler::cli::Args>),
    /// Print the version.
    Version,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The simulator prints a progress bar and a summary; its logs would only interleave with them.
    let level = match cli.command {
        // The autoscaler's controller logs each decision; the simulator records them itself.
        Command::Simulate(_) if std::env::var_os("RUST_LOG").is_none() => {
            "warn,tidal_cluster_autoscaler::controller=error"
        }
        _ => cli.log_level.as_str(),
    };
    telemetry::init(cli.log_format, level)?;
    match cli.command {
        // Prints its own errors (once, no backtrace) and exits with its own code.
        Command::Simulate(args) => std::process::exit(tidal_simulate::cli::main(*args).await),
        Command::ClusterAutoscaler(args) => tidal_cluster_autoscaler::cli::run(*args).await,
        Command::MetricsAdapter(args) => tidal_metrics_adapter::app::run(*args).await,
        Command::Vpa(args) => tidal_vpa::cli::run(*args).await,
        Command::QuotaRequester(args) => tidal_quota_requester::cli::run(*args).await,
        Command::CpAutoscaler(args) => tidal_cp_autoscaler::cli::run(*args).await,
        Command::Version => Ok(tidal_runtime::stdout::print(&format!(
            "tidal {}\n",
            env!("CARGO_PKG_VERSION")
        ))?),
    }
}
