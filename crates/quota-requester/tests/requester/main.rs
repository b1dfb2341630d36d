//! The requester's AWS adapters and run logic against servers on 127.0.0.1: moto (EC2
//! DescribeInstanceTypes, Support cases) and the Service Quotas stand-in.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod cli;
mod errors;
mod requests;
mod statuses;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tidal_core::Timestamp;
use tidal_core::quota::{PoolDemand, QuotaPolicy};
use tidal_quota_requester::aws::{
    CaseKind, Ec2Catalog, Retries, ServiceQuotasClient, SupportClient,
};
use tidal_quota_requester::{Report, Requester, Settings};
use tidal_runtime::Clock;
use tidal_test_support::{MotoServer, ServiceQuotas};

pub const REGION: &str = "eu-west-1";
pub const ON_DEMAND: &str = "L-1216C47A";
pub const SPOT: &str = "L-34B43A08";
pub const DAY: Duration = Duration::from_secs(86_400);
/// Attempts per call in these tests; backoff is 1 ms so retries cost nothing.
pub const ATTEMPTS: u32 = 3;

/// moto, the Service Quotas stand-in and a manual clock at the wall time (the stand-in stamps
/// filed requests with the wall clock).
pub struct World {
    pub moto: MotoServer,
    pub quotas: ServiceQuotas,
    pub clock: Clock,
}

impl World {
    pub async fn start() -> World {
        let moto = MotoServer::start()
            .await
            .expect("moto_server is needed for these tests");
        let quotas = ServiceQuotas::start(REGION).await.unwrap();
        World {
            moto,
            quotas,
            clock: Clock::manual(to_timestamp(SystemTime::now())),
        }
    }

    /// A requester with the real AWS adapters pointed at moto and the stand-in.
    pub async fn requester(
        &self,
        dry_run: bool,
        support_fallback: bool,
    ) -> Requester<ServiceQuotasClient, Ec2Catalog, SupportClient> {
        let retries = Retries {
            max_attempts: ATTEMPTS,
            initial_backoff: Duration::from_millis(1),
        };
        let config = retries.apply(&self.moto.sdk_config(REGION).await);
        let sq_config = config
            .to_builder()
            .endpoint_url(self.quotas.endpoint_url())
            .build();
        let support = support_fallback.then(|| {
            let kind = CaseKind {
                service_code: "service-limit-increase".into(),
                category_code: "service-code-ec2-instances".into(),
                severity_code: "normal".into(),
            };
            // The Support API lives in us-east-1, as in production.
            let config = config
                .to_builder()
                .region(aws_config::Region::new("us-east-1"))
                .build();
            SupportClient::new(&config, kind)
        });
        let settings = Settings {
            region: REGION.into(),
            policy: QuotaPolicy::default(),
            dry_run,
        };
        Requester::new(
            ServiceQuotasClient::new(&sq_config, true),
            Ec2Catalog::new(&config),
            support,
            settings,
            self.clock.clone(),
        )
    }

    pub async fn run(&self, pools: &[PoolDemand]) -> Report {
        self.requester(false, false).await.run(pools).await.unwrap()
    }

    /// The wall time `days` before the clock.
    pub fn days_ago(&self, days: u32) -> SystemTime {
        let now = UNIX_EPOCH + Duration::from_millis(self.clock.now().as_millis() as u64);
        now - DAY * days
    }
}

pub fn to_timestamp(t: SystemTime) -> Timestamp {
    Timestamp::from_millis(t.duration_since(UNIX_EPOCH).unwrap().as_millis() as i64)
}

pub fn pool(name: &str, types: &[&str], spot: bool, max_size: u32) -> PoolDemand {
    PoolDemand {
        source: "pools.yaml".into(),
        pool: name.into(),
        regions: BTreeSet::new(),
        spot,
        max_size,
        instance_types: types.iter().map(|t| (*t).to_owned()).collect(),
    }
}

/// 60 × m6i.2xlarge On-Demand (480 vCPUs → 576 with 20 % headroom) and 40 × c6i/c5.2xlarge
/// Spot (320 → 384).
pub fn shop_pools() -> Vec<PoolDemand> {
    vec![
        pool("default", &["m6i.2xlarge"], false, 60),
        pool("spot-c", &["c6i.2xlarge", "c5.2xlarge"], true, 40),
    ]
}

pub fn row<'a>(report: &'a Report, code: &str) -> &'a tidal_quota_requester::QuotaRow {
    report
        .quotas
        .iter()
        .find(|r| r.quota_code == code)
        .unwrap_or_else(|| panic!("no row for {code} in {report:#?}"))
}
