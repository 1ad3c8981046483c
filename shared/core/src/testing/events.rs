//! The event bus: what was published, in order.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::ports::{Event, EventBus, Queue, QueueName, StoreResult};

use super::lock;
use super::MemoryQueue;

/// Records what is published and, like the template's rule, routes every event to the
/// webhooks queue in EventBridge's envelope.
pub struct MemoryEvents {
    pub(super) published: Mutex<Vec<Event>>,
    pub(super) rule_target: Arc<MemoryQueue>,
}

impl MemoryEvents {
    pub fn published(&self) -> Vec<Event> {
        lock(&self.published).clone()
    }
    pub fn types(&self) -> Vec<String> {
        self.published()
            .into_iter()
            .map(|e| e.event_type.to_string())
            .collect()
    }
}

#[async_trait]
impl EventBus for MemoryEvents {
    async fn publish(&self, events: Vec<Event>) -> StoreResult<()> {
        let bodies = events
            .iter()
            .map(|e| serde_json::json!({"version": "0", "source": "sluice", "detail-type": e.event_type, "detail": e}).to_string())
            .collect();
        self.rule_target
            .send(QueueName::Webhooks, bodies, Duration::ZERO)
            .await?;
        lock(&self.published).extend(events);
        Ok(())
    }
}

/// Records every measurement, to sum by figure and label.
#[derive(Default)]
pub struct MemoryMetrics {
    recorded: Mutex<Vec<crate::ports::Measurement>>,
}

impl MemoryMetrics {
    /// The sum of a figure's values (with this label, when given).
    pub fn sum(&self, figure: crate::ports::Figure, label: Option<&str>) -> f64 {
        lock(&self.recorded)
            .iter()
            .filter(|m| m.figure == figure && (label.is_none() || m.label.as_deref() == label))
            .map(|m| m.value)
            .sum()
    }
    pub fn count(&self, figure: crate::ports::Figure) -> usize {
        lock(&self.recorded)
            .iter()
            .filter(|m| m.figure == figure)
            .count()
    }
}

impl crate::ports::Metrics for MemoryMetrics {
    fn record(&self, m: crate::ports::Measurement) {
        lock(&self.recorded).push(m);
    }
}
