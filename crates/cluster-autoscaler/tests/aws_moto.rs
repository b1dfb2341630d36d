//! The AWS provider end to end against moto_server: real SDK clients, real HTTP, tagged ASGs with
//! launch templates in two zones.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_config::SdkConfig;
use aws_sdk_autoscaling::types::Tag;
use tidal_cluster_autoscaler::aws::AwsCloudProvider;
use tidal_cluster_autoscaler::ports::{CloudError, CloudProvider, InstanceState, NodeGroupId};
use tidal_core::Timestamp;
use tidal_core::instance::Architecture;
use tidal_core::resources::ResourceName;
use tidal_core::scheduling::{Taint, TaintEffect};
use tidal_test_support::MotoServer;
use tidal_test_support::asg::{self, AsgSpec, asg_tag, create_launch_template, discovery_tags};

const REGION: &str = "eu-central-1";
const CLUSTER: &str = "prod";
const ZONE_A: &str = "eu-central-1a";
const ZONE_B: &str = "eu-central-1b";

async fn moto() -> (MotoServer, SdkConfig) {
    let server = MotoServer::start()
        .await
        .unwrap_or_else(|e| panic!("these tests need moto_server: {e}"));
    let config = server.sdk_config(REGION).await;
    (server, config)
}

fn tag(key: &str, value: &str) -> Tag {
    asg_tag(key, value)
}

fn our_tags(pool: &str) -> Vec<Tag> {
    discovery_tags(CLUSTER, pool)
}

async fn create_asg(config: &SdkConfig, name: &str, zones: &[&str], desired: i32, tags: Vec<Tag>) {
    let spec = AsgSpec {
        name,
        zones,
        min_size: 0,
        max_size: 5,
        desired,
        tags,
    };
    asg::create_asg(config, "tidal-default", spec)
        .await
        .unwrap();
}

/// Two groups of pool `default` (zones a and b, the first with one instance and node-template
/// tags), plus ASGs that must be ignored: another cluster's, and one spanning two zones.
async fn setup(config: &SdkConfig) {
    create_launch_template(config, "tidal-default")
        .await
        .unwrap();
    let mut a = our_tags("default");
    a.extend([
        tag("k8s.io/cluster-autoscaler/node-template/label/team", "web"),
        tag(
            "k8s.io/cluster-autoscaler/node-template/taint/dedicated",
            "web:NoSchedule",
        ),
        tag(
            "k8s.io/cluster-autoscaler/node-template/resources/ephemeral-storage",
            "100Gi",
        ),
        tag(
            "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu",
            "1",
        ),
        // Malformed: left out and named as a problem of the group, which is still used.
        tag(
            "k8s.io/cluster-autoscaler/node-template/resources/memory",
            "plenty",
        ),
    ]);
    create_asg(config, "prod-default-a", &[ZONE_A], 1, a).await;
    create_asg(config, "prod-default-b", &[ZONE_B], 0, our_tags("default")).await;
    let other = vec![
        tag("k8s.io/cluster-autoscaler/enabled", "true"),
        tag("k8s.io/cluster-autoscaler/staging", "owned"),
        tag("tidal.io/node-pool", "default"),
    ];
    create_asg(config, "staging-default-a", &[ZONE_A], 0, other).await;
    create_asg(config, "prod-wide", &[ZONE_A, ZONE_B], 0, our_tags("wide")).await;
}

fn group_a() -> NodeGroupId {
    NodeGroupId::new("default", ZONE_A)
}

#[tokio::test]
async fn discovers_tagged_single_zone_groups_with_their_instances_and_template_tags() {
    let (_moto, config) = moto().await;
    setup(&config).await;
    let cloud = AwsCloudProvider::new(&config, CLUSTER);

    let groups = cloud.node_groups().await.unwrap();
    let ids: Vec<_> = groups.iter().map(|g| g.id.clone()).collect();
    assert_eq!(
        ids,
        [group_a(), NodeGroupId::new("default", ZONE_B)],
        "only this cluster's single-zone ASGs"
    );
    let a = &groups[0];
    assert_eq!(a.asg_name, "prod-default-a");
    assert_eq!((a.min_size, a.max_size, a.desired), (0, 5, 1));
    assert_eq!(a.instances.len(), 1);
    let i = &a.instances[0];
    assert!(i.id.starts_with("i-"), "{i:?}");
    assert_eq!(&*i.instance_type, "m5.large");
    assert_eq!(i.state, InstanceState::Running);
    let launched = i.launched_at.expect("launch time from DescribeInstances");
    assert!(
        launched > Timestamp::from_secs(1_700_000_000),
        "{launched:?}"
    );
    assert!(groups[1].instances.is_empty());

    let template = &a.template;
    assert_eq!(template.labels.get("team").map(String::as_str), Some("web"));
    assert_eq!(template.labels.len(), 1);
    assert_eq!(
        template.taints,
        vec![Taint::new("dedicated", "web", TaintEffect::NoSchedule)]
    );
    assert_eq!(
        template.resources.get(&ResourceName::EphemeralStorage),
        Some(&(100 << 30))
    );
    assert_eq!(
        template
            .resources
            .get(&ResourceName::Extended("nvidia.com/gpu".into())),
        Some(&1)
    );
    assert_eq!(template.resources.len(), 2, "{:?}", template.resources);
    assert_eq!(template.problems.len(), 1, "{:?}", template.problems);
    let problem = &template.problems[0];
    assert!(
        problem.contains("prod-default-a")
            && problem.contains("node-template/resources/memory")
            && problem.contains("plenty"),
        "{problem}"
    );
    assert!(groups[1].template.is_empty(), "{:?}", groups[1].template);
}

#[tokio::test]
async fn instance_types_come_from_ec2_and_are_cached() {
    let (moto, config) = moto().await;
    let cloud = AwsCloudProvider::new(&config, CLUSTER);
    let names: Vec<String> = ["m5.large", "m6g.large", "g4dn.xlarge", "m5.large"]
        .map(String::from)
        .to_vec();

    let types = cloud.instance_types(&names).await.unwrap();
    assert_eq!(types.len(), 3, "duplicates are returned once");
    let m5 = &types[0];
    assert_eq!(m5.name, "m5.large");
    assert_eq!((m5.vcpus, m5.memory_mib, m5.gpus), (2, 8192, 0));
    assert_eq!(m5.architecture, Architecture::Amd64);
    assert_eq!((m5.max_enis, m5.ipv4_per_eni), (3, 10));
    assert!(!m5.burstable && !m5.bare_metal);
    assert_eq!(types[1].architecture, Architecture::Arm64);
    assert_eq!((types[2].name.as_str(), types[2].gpus), ("g4dn.xlarge", 1));

    match cloud
        .instance_types(&["m5.large".into(), "m5.nonexistent".into()])
        .await
    {
        Err(CloudError::UnknownInstanceType(name)) => assert_eq!(name, "m5.nonexistent"),
        other => panic!("expected an unknown instance type, got {other:?}"),
    }

    // Cached: answered without EC2 once the server is gone.
    drop(moto);
    let again = cloud.instance_types(&["g4dn.xlarge".into()]).await.unwrap();
    assert_eq!(again[0].gpus, 1);
}

#[tokio::test]
async fn setting_desired_capacity_launches_instances() {
    let (_moto, config) = moto().await;
    setup(&config).await;
    let cloud = AwsCloudProvider::new(&config, CLUSTER);
    cloud.node_groups().await.unwrap();

    let b = NodeGroupId::new("default", ZONE_B);
    cloud.set_desired_capacity(&b, 3).await.unwrap();
    let groups = cloud.node_groups().await.unwrap();
    let g = groups.iter().find(|g| g.id == b).unwrap();
    assert_eq!(g.desired, 3);
    assert_eq!(
        g.instances.len(),
        3,
        "moto launches at once: {:?}",
        g.instances
    );
    assert!(
        g.instances
            .iter()
            .all(|i| i.state != InstanceState::Terminating)
    );
    assert_eq!(
        groups.iter().find(|g| g.id == group_a()).unwrap().desired,
        1,
        "the other zone is untouched"
    );
}

#[tokio::test]
async fn terminating_an_instance_decrements_desired_capacity() {
    let (_moto, config) = moto().await;
    setup(&config).await;
    let cloud = AwsCloudProvider::new(&config, CLUSTER);
    cloud
        .set_desired_capacity(&group_a(), 2)
        .await
        .expect_err("no discovery yet: unknown group");
    cloud.node_groups().await.unwrap();
    cloud.set_desired_capacity(&group_a(), 2).await.unwrap();
    let before = cloud.node_groups().await.unwrap().remove(0);
    assert_eq!((before.desired, before.instances.len()), (2, 2));

    let victim = before.instances[0].id.clone();
    cloud.terminate_instance(&group_a(), &victim).await.unwrap();
    let after = cloud.node_groups().await.unwrap().remove(0);
    assert_eq!(after.desired, 1);
    assert!(
        after.instances.iter().all(|i| i.id != victim),
        "{:?}",
        after.instances
    );
    assert_eq!(after.instances.len(), 1, "not replaced");
}

#[tokio::test]
async fn an_instance_of_another_group_is_never_terminated() {
    let (_moto, config) = moto().await;
    setup(&config).await;
    let cloud = AwsCloudProvider::new(&config, CLUSTER);
    let groups = cloud.node_groups().await.unwrap();
    let instance = groups[0].instances[0].id.clone();
    let b = NodeGroupId::new("default", ZONE_B);

    let err = cloud.terminate_instance(&b, &instance).await.unwrap_err();
    assert!(matches!(err, CloudError::Invalid(_)), "{err:?}");
    assert!(
        err.to_string().contains(&*instance) && err.to_string().contains("default/eu-central-1b"),
        "{err}"
    );
    let still = cloud.node_groups().await.unwrap();
    assert_eq!(still[0].instances.len(), 1);
    assert_eq!(still[0].desired, 1);
}

#[tokio::test]
async fn errors_name_the_group_and_leave_the_other_groups_working() {
    let (_moto, config) = moto().await;
    setup(&config).await;
    let cloud = AwsCloudProvider::new(&config, CLUSTER);
    cloud.node_groups().await.unwrap();
    // The ASG of zone a disappears behind the provider's back.
    aws_sdk_autoscaling::Client::new(&config)
        .delete_auto_scaling_group()
        .auto_scaling_group_name("prod-default-a")
        .force_delete(true)
        .send()
        .await
        .unwrap();

    let err = cloud.set_desired_capacity(&group_a(), 2).await.unwrap_err();
    assert_eq!(err.label(), "api");
    let text = err.to_string();
    assert!(
        text.contains("SetDesiredCapacity")
            && text.contains("default/eu-central-1a")
            && text.contains("prod-default-a"),
        "{text}"
    );

    let b = NodeGroupId::new("default", ZONE_B);
    cloud.set_desired_capacity(&b, 1).await.unwrap();
    let groups = cloud.node_groups().await.unwrap();
    assert_eq!(
        groups
            .iter()
            .map(|g| (g.id.clone(), g.desired))
            .collect::<Vec<_>>(),
        [(b, 1)]
    );
}

#[tokio::test]
async fn scaling_activities_are_read_for_discovered_groups() {
    let (_moto, config) = moto().await;
    setup(&config).await;
    let cloud = AwsCloudProvider::new(&config, CLUSTER);
    cloud.node_groups().await.unwrap();
    cloud.set_desired_capacity(&group_a(), 2).await.unwrap();
    // moto records no failed activities; the call path and the filtering still run (the parser
    // is tested on SDK-built failed activities in the unit tests).
    let failures = cloud
        .scale_up_failures(Timestamp::from_secs(0))
        .await
        .unwrap();
    assert!(failures.is_empty(), "{failures:?}");
}

#[tokio::test]
async fn a_call_to_an_endpoint_that_never_answers_times_out_instead_of_hanging() {
    // Accepts connections on loopback and never answers a byte (a half-open connection).
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let silent = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let base = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_autoscaling::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    let config = tidal_cluster_autoscaler::aws::with_timeouts(
        &base,
        std::time::Duration::from_secs(2),
        std::time::Duration::from_millis(500),
    );
    let cloud = AwsCloudProvider::from_clients(
        aws_sdk_autoscaling::Client::new(&config),
        aws_sdk_ec2::Client::new(&config),
        CLUSTER,
    );
    let answer = tokio::time::timeout(std::time::Duration::from_secs(20), cloud.node_groups())
        .await
        .expect("the call hung: no operation or attempt timeout");
    assert!(matches!(answer, Err(CloudError::Api { .. })), "{answer:?}");
    silent.abort();
}
