//! `sqs-queue-length`: ApproximateNumberOfMessages of a queue, by name and region. The queue
//! URL is resolved once per (region, name) and cached for every HPA; clients are per region.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tidal_core::sync;

use aws_config::SdkConfig;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::QueueAttributeName;
use futures::future::BoxFuture;
use tidal_core::Timestamp;

use super::{CollectError, Collected, Collector};
use crate::config::SqsQueue;

/// Loads the AWS SDK config of one region.
pub type SdkConfigLoader = Arc<dyn Fn(String) -> BoxFuture<'static, SdkConfig> + Send + Sync>;

/// SQS clients per region and queue URLs per (region, name), shared by all SQS collectors.
pub struct SqsClients {
    loader: SdkConfigLoader,
    clients: tokio::sync::Mutex<HashMap<String, aws_sdk_sqs::Client>>,
    urls: Mutex<HashMap<(String, String), String>>,
    url_lookups: AtomicUsize,
}

impl std::fmt::Debug for SqsClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqsClients")
            .field("url_lookups", &self.url_lookups.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl SqsClients {
    /// Clients from the default credential chain, with an optional endpoint override.
    pub fn new(endpoint_url: Option<String>) -> Self {
        Self::with_loader(Arc::new(move |region| {
            let endpoint_url = endpoint_url.clone();
            Box::pin(tidal_runtime::aws::sdk_config(Some(region), endpoint_url))
        }))
    }

    /// Clients whose config comes from `loader` (tests pass static credentials).
    pub fn with_loader(loader: SdkConfigLoader) -> Self {
        Self {
            loader,
            clients: tokio::sync::Mutex::new(HashMap::new()),
            urls: Mutex::new(HashMap::new()),
            url_lookups: AtomicUsize::new(0),
        }
    }

    async fn client(&self, region: &str) -> aws_sdk_sqs::Client {
        let mut clients = self.clients.lock().await;
        if let Some(client) = clients.get(region) {
            return client.clone();
        }
        let config = (self.loader)(region.to_string()).await;
        let client = aws_sdk_sqs::Client::new(&config);
        clients.insert(region.to_string(), client.clone());
        client
    }

    fn cached_url(&self, queue: &SqsQueue) -> Option<String> {
        sync::lock(&self.urls)
            .get(&(queue.region.clone(), queue.queue_name.clone()))
            .cloned()
    }

    fn forget_url(&self, queue: &SqsQueue) {
        sync::lock(&self.urls).remove(&(queue.region.clone(), queue.queue_name.clone()));
    }

    /// How many GetQueueUrl calls were made (each (region, name) once while it exists).
    #[cfg(test)]
    pub fn url_lookups(&self) -> usize {
        self.url_lookups.load(Ordering::Relaxed)
    }

    async fn queue_url(
        &self,
        client: &aws_sdk_sqs::Client,
        queue: &SqsQueue,
    ) -> Result<String, CollectError> {
        if let Some(url) = self.cached_url(queue) {
            return Ok(url);
        }
        self.url_lookups.fetch_add(1, Ordering::Relaxed);
        let output = client
            .get_queue_url()
            .queue_name(&queue.queue_name)
            .send()
            .await
            .map_err(|e| aws_error(queue, "GetQueueUrl", DisplayErrorContext(&e).to_string()))?;
        let url = output
            .queue_url()
            .ok_or_else(|| aws_error(queue, "GetQueueUrl", "response without QueueUrl".into()))?
            .to_string();
        sync::lock(&self.urls).insert(
            (queue.region.clone(), queue.queue_name.clone()),
            url.clone(),
        );
        Ok(url)
    }

    /// ApproximateNumberOfMessages of `queue`.
    pub async fn queue_length(&self, queue: &SqsQueue) -> Result<f64, CollectError> {
        let client = self.client(&queue.region).await;
        let url = self.queue_url(&client, queue).await?;
        let output = client
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| {
                // The queue may be gone or recreated under a new URL: resolve it again next
                // time. One extra GetQueueUrl per failure is cheap.
                self.forget_url(queue);
                aws_error(
                    queue,
                    "GetQueueAttributes",
                    DisplayErrorContext(&e).to_string(),
                )
            })?;
        let raw = output
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .ok_or_else(|| {
                aws_error(
                    queue,
                    "GetQueueAttributes",
                    "response without ApproximateNumberOfMessages".into(),
                )
            })?;
        raw.parse::<u64>().map(|n| n as f64).map_err(|_| {
            aws_error(
                queue,
                "GetQueueAttributes",
                format!("ApproximateNumberOfMessages {raw:?} is not a count"),
            )
        })
    }
}

fn aws_error(queue: &SqsQueue, operation: &'static str, message: String) -> CollectError {
    CollectError::Aws {
        region: queue.region.clone(),
        queue: queue.queue_name.clone(),
        operation,
        message,
    }
}

/// `sqs-queue-length` for one queue.
pub struct SqsCollector {
    clients: Arc<SqsClients>,
    queue: SqsQueue,
}

impl SqsCollector {
    /// A collector for `queue` using the shared `clients`.
    pub fn new(clients: Arc<SqsClients>, queue: SqsQueue) -> Self {
        Self { clients, queue }
    }
}

impl Collector for SqsCollector {
    fn collect(&self, _now: Timestamp) -> BoxFuture<'_, Result<Collected, CollectError>> {
        Box::pin(async move {
            Ok(Collected::Value(
                self.clients.queue_length(&self.queue).await?,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use tidal_test_support::MotoServer;

    use super::*;

    fn queue(name: &str) -> SqsQueue {
        SqsQueue {
            region: "eu-central-1".into(),
            queue_name: name.into(),
        }
    }

    #[tokio::test]
    async fn reads_queue_length_from_moto_and_caches_the_url() {
        let moto =
            Arc::new(MotoServer::start().await.expect(
                "start moto_server (run ./scripts/test or install moto[server] into .venv)",
            ));
        let admin = aws_sdk_sqs::Client::new(&moto.sdk_config("eu-central-1").await);
        let url = admin
            .create_queue()
            .queue_name("jobs")
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        for i in 0..3 {
            admin
                .send_message()
                .queue_url(&url)
                .message_body(format!("job {i}"))
                .send()
                .await
                .unwrap();
        }
        let for_loader = moto.clone();
        let clients = Arc::new(SqsClients::with_loader(Arc::new(move |region| {
            let moto = for_loader.clone();
            Box::pin(async move { moto.sdk_config(&region).await })
        })));
        // Two HPAs' collectors for the same queue share the cached URL.
        let first = SqsCollector::new(clients.clone(), queue("jobs"));
        let second = SqsCollector::new(clients.clone(), queue("jobs"));
        assert_eq!(
            first.collect(Timestamp::from_secs(0)).await.unwrap(),
            Collected::Value(3.0)
        );
        assert_eq!(
            second.collect(Timestamp::from_secs(0)).await.unwrap(),
            Collected::Value(3.0)
        );
        admin
            .send_message()
            .queue_url(&url)
            .message_body("one more")
            .send()
            .await
            .unwrap();
        assert_eq!(
            first.collect(Timestamp::from_secs(0)).await.unwrap(),
            Collected::Value(4.0)
        );
        assert_eq!(clients.url_lookups(), 1);

        let missing = SqsCollector::new(clients.clone(), queue("no-such-queue"));
        let err = missing.collect(Timestamp::from_secs(0)).await.unwrap_err();
        let message = err.to_string();
        assert_eq!(err.reason(), "aws");
        assert!(
            message.contains("no-such-queue") && message.contains("GetQueueUrl"),
            "{message}"
        );
        // A failed lookup is not cached: the next collection asks again.
        missing.collect(Timestamp::from_secs(0)).await.unwrap_err();
        assert_eq!(clients.url_lookups(), 3);

        // A failure drops the cached URL so a recreated queue is found again.
        admin.delete_queue().queue_url(&url).send().await.unwrap();
        let err = first.collect(Timestamp::from_secs(0)).await.unwrap_err();
        assert!(err.to_string().contains("GetQueueAttributes"), "{err}");
        admin
            .create_queue()
            .queue_name("jobs")
            .send()
            .await
            .unwrap();
        assert_eq!(
            first.collect(Timestamp::from_secs(0)).await.unwrap(),
            Collected::Value(0.0)
        );
        assert_eq!(clients.url_lookups(), 4);
    }
}
