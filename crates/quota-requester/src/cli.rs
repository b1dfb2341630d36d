//! `tidal quota-requester`: flags, wiring of the AWS adapters, output and exit status.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use tidal_core::quota::QuotaPolicy;
use tidal_runtime::Clock;
use tidal_runtime::aws::AwsArgs;

use crate::aws::{CaseKind, Ec2Catalog, Retries, ServiceQuotasClient, SupportClient};
use crate::report::Report;
use crate::requester::{Requester, Settings};
use crate::{pools, pushgateway};

/// Output format of the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// A table for people.
    #[default]
    Table,
    /// JSON for programs.
    Json,
}

/// Flags of `tidal quota-requester`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Node-pool file (the cluster autoscaler's); repeat (or comma-separate) to sum several clusters.
    #[arg(
        long = "node-pools",
        env = "TIDAL_NODE_POOLS",
        value_delimiter = ',',
        required = true
    )]
    pub node_pools: Vec<PathBuf>,
    /// Headroom on top of the pools' vCPUs, in percent.
    #[arg(long, env = "TIDAL_QUOTA_HEADROOM_PERCENT", default_value_t = QuotaPolicy::DEFAULT.headroom_percent())]
    pub headroom_percent: u32,
    /// Requests are rounded up to a multiple of this many vCPUs.
    #[arg(long, env = "TIDAL_QUOTA_REQUEST_STEP", default_value_t = QuotaPolicy::DEFAULT.step())]
    pub request_step: u64,
    /// After a request is denied or closed (or approved below the need), wait this long before asking again.
    #[arg(long, env = "TIDAL_QUOTA_QUIET_PERIOD", default_value = "7d", value_parser = humantime::parse_duration)]
    pub quiet_period: Duration,
    /// Decide and report, file nothing.
    #[arg(long, env = "TIDAL_QUOTA_DRY_RUN")]
    pub dry_run: bool,
    /// Report format on stdout.
    #[arg(long, env = "TIDAL_QUOTA_OUTPUT", value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,
    /// Let AWS open a support case for a request it cannot approve automatically (SupportCaseAllowed).
    #[arg(long, env = "TIDAL_QUOTA_SUPPORT_CASE_ALLOWED", default_value_t = true, action = clap::ArgAction::Set)]
    pub support_case_allowed: bool,
    /// Open an AWS Support case (CreateCase) when Service Quotas cannot take a request.
    #[arg(long, env = "TIDAL_QUOTA_SUPPORT_CASE_FALLBACK")]
    pub support_case_fallback: bool,
    /// Region of the AWS Support API (us-east-1 in the aws partition).
    #[arg(long, env = "TIDAL_QUOTA_SUPPORT_REGION", default_value = "us-east-1")]
    pub support_region: String,
    /// Support case service code.
    #[arg(
        long,
        env = "TIDAL_QUOTA_SUPPORT_SERVICE_CODE",
        default_value = "service-limit-increase"
    )]
    pub support_service_code: String,
    /// Support case category code.
    #[arg(
        long,
        env = "TIDAL_QUOTA_SUPPORT_CATEGORY_CODE",
        default_value = "service-code-ec2-instances"
    )]
    pub support_category_code: String,
    /// Support case severity code.
    #[arg(long, env = "TIDAL_QUOTA_SUPPORT_SEVERITY", default_value = "normal")]
    pub support_severity: String,
    /// Attempts per AWS call on throttling and transient errors, the first included.
    #[arg(long, env = "TIDAL_AWS_MAX_ATTEMPTS", default_value_t = 5)]
    pub aws_max_attempts: u32,
    /// Backoff before the first retry; doubles (with jitter) up to 20 s.
    #[arg(long, env = "TIDAL_AWS_INITIAL_BACKOFF", default_value = "1s", value_parser = humantime::parse_duration)]
    pub aws_initial_backoff: Duration,
    /// Prometheus Pushgateway base URL to push the run's summary to, e.g. http://pushgateway:9091.
    #[arg(long, env = "TIDAL_PUSHGATEWAY_URL")]
    pub pushgateway_url: Option<String>,
    /// Pushgateway job name.
    #[arg(
        long,
        env = "TIDAL_PUSHGATEWAY_JOB",
        default_value = "tidal-quota-requester"
    )]
    pub pushgateway_job: String,
    /// AWS region and endpoint.
    #[command(flatten)]
    pub aws: AwsArgs,
}

/// Runs once: exit status 0 when every quota is fine, waiting or requested; an error otherwise.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let policy = QuotaPolicy::try_new(args.headroom_percent, args.request_step, args.quiet_period)
        .context("--request-step")?;
    if let Some(url) = &args.pushgateway_url {
        check_url(url)?;
    }
    // A node-pool file that does not parse stops the run here, before any AWS call.
    let demands = pools::load(args.node_pools.as_slice())?;
    let retries = Retries {
        max_attempts: args.aws_max_attempts,
        initial_backoff: args.aws_initial_backoff,
    };
    let config = retries.apply(&args.aws.sdk_config().await);
    let Some(region) = config.region().map(|r| r.to_string()) else {
        bail!("no AWS region: set --aws-region (TIDAL_AWS_REGION) or AWS_REGION");
    };
    let support = args.support_case_fallback.then(|| {
        let config = config
            .to_builder()
            .region(aws_config::Region::new(args.support_region.clone()))
            .build();
        let kind = CaseKind {
            service_code: args.support_service_code.clone(),
            category_code: args.support_category_code.clone(),
            severity_code: args.support_severity.clone(),
        };
        SupportClient::new(&config, kind)
    });
    let settings = Settings {
        region,
        policy,
        dry_run: args.dry_run,
    };
    let clock = Clock::system();
    let requester = Requester::new(
        ServiceQuotasClient::new(&config, args.support_case_allowed),
        Ec2Catalog::new(&config),
        support,
        settings,
        clock.clone(),
    );
    let report = requester.run(&demands).await?;
    print(&report, args.output)?;
    if let Some(url) = &args.pushgateway_url {
        pushgateway::push(url, &args.pushgateway_job, &report, clock.now()).await?;
    }
    match report.errors() {
        0 => Ok(()),
        n => bail!("{n} quota(s) failed; see the report above"),
    }
}

fn check_url(url: &str) -> anyhow::Result<()> {
    let parsed = reqwest::Url::parse(url).with_context(|| {
        format!("--pushgateway-url {url:?} is not a URL like http://pushgateway:9091")
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        bail!("--pushgateway-url {url:?} must be http or https");
    }
    Ok(())
}

fn print(report: &Report, format: OutputFormat) -> anyhow::Result<()> {
    let text = match format {
        OutputFormat::Table => report.table(),
        OutputFormat::Json => serde_json::to_string_pretty(report)? + "\n",
    };
    Ok(tidal_runtime::stdout::print(&text)?)
}
