//! The real `aws-sdk-*` crates work against a `moto_server` started for the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_ec2::types::InstanceType;
use aws_sdk_sqs::types::QueueAttributeName;
use tidal_test_support::MotoServer;

async fn moto() -> MotoServer {
    MotoServer::start()
        .await
        .unwrap_or_else(|e| panic!("cannot start moto_server: {e}"))
}

#[tokio::test]
async fn sqs_queue_length_counts_sent_messages() {
    let moto = moto().await;
    let sqs = aws_sdk_sqs::Client::new(&moto.sdk_config("us-east-1").await);
    let created = sqs
        .create_queue()
        .queue_name("tidal-smoke")
        .send()
        .await
        .unwrap();
    let url = created.queue_url().expect("queue url");
    for i in 0..3 {
        sqs.send_message()
            .queue_url(url)
            .message_body(format!("message {i}"))
            .send()
            .await
            .unwrap();
    }
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    let length = attrs
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
        .expect("ApproximateNumberOfMessages");
    assert_eq!(length, "3");
}

#[tokio::test]
async fn ec2_describes_m5_large() {
    let moto = moto().await;
    let ec2 = aws_sdk_ec2::Client::new(&moto.sdk_config("us-east-1").await);
    let out = ec2
        .describe_instance_types()
        .instance_types(InstanceType::M5Large)
        .send()
        .await
        .unwrap();
    let [m5] = out.instance_types() else {
        panic!("expected one instance type, got {:?}", out.instance_types());
    };
    assert_eq!(m5.instance_type(), Some(&InstanceType::M5Large));
    assert_eq!(m5.v_cpu_info().and_then(|v| v.default_v_cpus()), Some(2));
    assert_eq!(m5.memory_info().and_then(|m| m.size_in_mib()), Some(8192));
}
