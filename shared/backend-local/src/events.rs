//! In-process event bus. Like the EventBridge rule in the template, every event also
//! goes to the webhooks queue (durably, in the same SQLite file) in EventBridge's
//! envelope; in-process subscribers (tests) see every event too.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;
use tokio::sync::broadcast;

use sluice_core::ports::{Event, EventBus, Queue, QueueName, StoreResult};

pub struct LocalEventBus {
    tx: broadcast::Sender<Event>,
    rule_target: Option<Arc<dyn Queue>>,
}

impl LocalEventBus {
    pub fn new() -> Self {
        LocalEventBus {
            tx: broadcast::channel(4096).0,
            rule_target: None,
        }
    }

    /// Routes every event to the webhooks queue, as the template's rule does.
    pub fn with_queue(queue: Arc<dyn Queue>) -> Self {
        LocalEventBus {
            rule_target: Some(queue),
            ..Self::new()
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}

impl Default for LocalEventBus {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl EventBus for LocalEventBus {
    async fn publish(&self, events: Vec<Event>) -> StoreResult<()> {
        if let Some(queue) = &self.rule_target {
            let bodies = events
                .iter()
                .map(|e| {
                    json!({"version": "0", "source": "sluice", "detail-type": e.event_type, "detail": e})
                        .to_string()
                })
                .collect();
            queue
                .send(QueueName::Webhooks, bodies, std::time::Duration::ZERO)
                .await?;
        }
        for event in events {
            tracing::info!(event_type = %event.event_type, event_id = %event.event_id, "event");
            // No subscriber is not an error.
            let _ = self.tx.send(event);
        }
        Ok(())
    }
}
