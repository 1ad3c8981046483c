//! Work queues on SQS (each with a dead-letter queue in the template).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{MessageSystemAttributeName, SendMessageBatchRequestEntry};
use aws_sdk_sqs::Client;

use sluice_core::ports::{Queue, QueueName, Received, StoreError, StoreResult};

pub struct SqsQueue {
    client: Client,
    urls: HashMap<QueueName, String>,
}

impl SqsQueue {
    pub fn new(client: Client, urls: HashMap<QueueName, String>) -> Self {
        SqsQueue { client, urls }
    }

    fn url(&self, q: QueueName) -> StoreResult<&str> {
        self.urls
            .get(&q)
            .map(String::as_str)
            .ok_or_else(|| StoreError::Backend(format!("no URL for queue {}", q.as_str())))
    }
}

fn err(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(DisplayErrorContext(e).to_string())
}

#[async_trait]
impl Queue for SqsQueue {
    async fn send(
        &self,
        queue: QueueName,
        bodies: Vec<String>,
        delay: Duration,
    ) -> StoreResult<()> {
        let url = self.url(queue)?;
        for chunk in bodies.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
                        // SQS delays are whole seconds: round up, never deliver early.
                        .delay_seconds(delay.as_millis().div_ceil(1000).min(900) as i32)
                        .build()
                        .map_err(StoreError::backend)
                })
                .collect::<StoreResult<Vec<_>>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(err)?;
            if let Some(failed) = out.failed.first() {
                return Err(StoreError::Backend(format!(
                    "SQS refused a message: {:?}",
                    failed.message
                )));
            }
        }
        Ok(())
    }

    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> StoreResult<Vec<Received>> {
        let out = self
            .client
            .receive_message()
            .queue_url(self.url(queue)?)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .visibility_timeout(visibility.as_secs() as i32)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(err)?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let count = m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                Some(Received {
                    body: m.body?,
                    receipt: m.receipt_handle?,
                    receive_count: count,
                })
            })
            .collect())
    }

    async fn ack(&self, queue: QueueName, receipt: &str) -> StoreResult<()> {
        self.client
            .delete_message()
            .queue_url(self.url(queue)?)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }
}

pub async fn create_queue(client: &Client, name: &str) -> anyhow::Result<String> {
    let out = client
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("create queue {name}: {}", DisplayErrorContext(e)))?;
    out.queue_url
        .ok_or_else(|| anyhow::anyhow!("create queue {name}: no URL returned"))
}

pub async fn queue_arn(client: &Client, url: &str) -> anyhow::Result<String> {
    let out = client
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "queue attributes {url}: {}",
                aws_sdk_sqs::error::DisplayErrorContext(e)
            )
        })?;
    out.attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("queue {url} has no ARN"))
}
