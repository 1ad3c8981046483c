//! The in-memory context and the helpers use-case tests drive it with.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::config::Config;
use crate::context::AppContext;
use crate::error::Error;
use crate::jobs;

use super::{
    MemoryBlobs, MemoryConnectors, MemoryEvents, MemoryMetrics, MemoryQueue, MemorySealer,
    MemoryStorage, MemoryTable, MemoryVectors,
};

/// A context on fresh in-memory ports, and handles to look inside them.
pub struct Memory {
    pub ctx: AppContext,
    pub table: Arc<MemoryTable>,
    pub blobs: Arc<MemoryBlobs>,
    pub queue: Arc<MemoryQueue>,
    pub events: Arc<MemoryEvents>,
    pub vectors: Arc<MemoryVectors>,
    /// What syncs read.
    pub storage: Arc<MemoryStorage>,
    pub metrics: Arc<MemoryMetrics>,
}

impl Memory {
    pub fn new() -> Self {
        Self::with_config(Config {
            purge_settle: Duration::ZERO,
            ..Config::default()
        })
    }

    pub fn with_config(config: Config) -> Self {
        let table = Arc::new(MemoryTable::default());
        let blobs = Arc::new(MemoryBlobs::default());
        let queue = Arc::new(MemoryQueue::default());
        let events = Arc::new(MemoryEvents {
            published: Mutex::default(),
            rule_target: queue.clone(),
        });
        let vectors = Arc::new(MemoryVectors::default());
        let storage = Arc::new(MemoryStorage::default());
        let metrics = Arc::new(MemoryMetrics::default());
        let ctx = AppContext::new(
            table.clone(),
            blobs.clone(),
            queue.clone(),
            events.clone(),
            vectors.clone(),
            config,
        )
        .with_connectors(
            Arc::new(MemoryConnectors(storage.clone())),
            Arc::new(MemorySealer::default()),
        )
        .with_metrics(metrics.clone());
        Memory {
            ctx,
            table,
            blobs,
            queue,
            events,
            vectors,
            storage,
            metrics,
        }
    }

    /// Works every queued message, delayed ones included (as if their delay passed),
    /// until the queues are empty; a retryable failure is redelivered, as SQS would.
    /// Returns the failures that were final.
    pub async fn run_queues(&self) -> Vec<Error> {
        let mut dropped = Vec::new();
        for _ in 0..1000 {
            let Some((queue, msg)) = self.queue.next_any() else {
                return dropped;
            };
            match jobs::handle(&self.ctx, queue, &msg.body, msg.receive_count).await {
                Ok(()) => self.queue.forget(queue, &msg.receipt),
                Err(e) if e.retryable() && msg.receive_count < 10 => {}
                Err(e) => {
                    self.queue.forget(queue, &msg.receipt);
                    dropped.push(e);
                }
            }
        }
        panic!("the queues did not drain in 1000 messages")
    }
}

impl Default for Memory {
    fn default() -> Self {
        Self::new()
    }
}
