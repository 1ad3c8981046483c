//! Work queues: SQS in AWS, a SQLite table with visibility timeouts locally.

use std::time::Duration;

use async_trait::async_trait;

use super::StoreResult;

/// The queues Sluice uses. Each has a dead-letter queue behind it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueName {
    /// Background tasks: namespace and bucket purges, batch upload confirms.
    Tasks,
    /// Chunks of a submitted batch's objects, for the batch worker.
    Batches,
    /// Events to deliver and webhook deliveries to retry, for the dispatcher.
    Webhooks,
    /// Pages of sync runs.
    Syncs,
}

impl QueueName {
    pub const ALL: [QueueName; 4] = [
        QueueName::Tasks,
        QueueName::Batches,
        QueueName::Webhooks,
        QueueName::Syncs,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueName::Tasks => "tasks",
            QueueName::Batches => "batches",
            QueueName::Webhooks => "webhooks",
            QueueName::Syncs => "syncs",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Received {
    pub body: String,
    /// Opaque handle to acknowledge (delete) this delivery.
    pub receipt: String,
    /// 1 on first delivery.
    pub receive_count: u32,
}

#[async_trait]
pub trait Queue: Send + Sync {
    /// Sends bodies, batched by the adapter; `delay` postpones visibility (≤ 15 min).
    async fn send(&self, queue: QueueName, bodies: Vec<String>, delay: Duration)
        -> StoreResult<()>;
    /// Up to `max` messages, hidden for `visibility` unless acknowledged. May wait briefly.
    async fn receive(
        &self,
        queue: QueueName,
        max: usize,
        visibility: Duration,
    ) -> StoreResult<Vec<Received>>;
    async fn ack(&self, queue: QueueName, receipt: &str) -> StoreResult<()>;
    /// Notes why a delivery failed (it comes back later), so that a message moved to the
    /// dead letters carries its last reason. SQS keeps none: there the reason is in the
    /// worker's log, and redrive moves the message.
    async fn record_failure(
        &self,
        _queue: QueueName,
        _receipt: &str,
        _reason: &str,
    ) -> StoreResult<()> {
        Ok(())
    }
}
