//! In-process event bus: subscribers in the same process see every event.

use async_trait::async_trait;
use tokio::sync::broadcast;

use crate::ports::{Event, EventBus, StoreResult};

pub struct LocalEventBus {
    tx: broadcast::Sender<Event>,
}

impl LocalEventBus {
    pub fn new() -> Self {
        LocalEventBus {
            tx: broadcast::channel(4096).0,
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
        for event in events {
            tracing::info!(event_type = %event.event_type, event_id = %event.event_id, "event");
            // No subscriber is not an error: events are fire-and-forget here.
            let _ = self.tx.send(event);
        }
        Ok(())
    }
}
