//! AWS SDK configuration: the default credential chain, with region and endpoint overrides
//! (the endpoint override points clients at `moto_server` in tests).

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Command-line flags every AWS-facing component takes.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct AwsArgs {
    /// AWS region; when absent the SDK's default chain decides (AWS_REGION, profile, IMDS).
    #[arg(long = "aws-region", env = "TIDAL_AWS_REGION")]
    pub region: Option<String>,
    /// Endpoint for every AWS service, e.g. a moto_server URL in tests; when absent the SDK's
    /// own settings decide (AWS_ENDPOINT_URL and the per-service variants).
    #[arg(long = "aws-endpoint-url", env = "TIDAL_AWS_ENDPOINT_URL")]
    pub endpoint_url: Option<String>,
}

impl AwsArgs {
    /// The SDK config these flags describe.
    pub async fn sdk_config(&self) -> SdkConfig {
        sdk_config(self.region.clone(), self.endpoint_url.clone()).await
    }
}

/// Loads the SDK config from the default chain (env, profile, web identity, IMDS), overriding the
/// region and the endpoint when given.
pub async fn sdk_config(region: Option<String>, endpoint_url: Option<String>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = region {
        loader = loader.region(Region::new(region));
    }
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        aws: AwsArgs,
    }

    // A region is always given here: without one the default chain may ask IMDS, which is not a
    // loopback address.
    #[tokio::test]
    async fn overrides_region_and_endpoint() {
        let cfg = sdk_config(
            Some("eu-west-1".into()),
            Some("http://127.0.0.1:5000".into()),
        )
        .await;
        assert_eq!(cfg.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(cfg.endpoint_url(), Some("http://127.0.0.1:5000"));
    }

    #[tokio::test]
    async fn flags_feed_the_config() {
        let cli = Cli::try_parse_from([
            "x",
            "--aws-region",
            "us-east-2",
            "--aws-endpoint-url",
            "http://127.0.0.1:1",
        ])
        .unwrap();
        let cfg = cli.aws.sdk_config().await;
        assert_eq!(cfg.region().map(|r| r.as_ref()), Some("us-east-2"));
        assert_eq!(cfg.endpoint_url(), Some("http://127.0.0.1:1"));
    }
}
