//! Domain events on an EventBridge bus (rules route them to workers and webhooks).

use async_trait::async_trait;
use aws_sdk_eventbridge::error::DisplayErrorContext;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;

use sluice_core::ports::{Event, EventBus, StoreError, StoreResult};

pub const SOURCE: &str = "sluice";

pub struct EventBridgeBus {
    client: Client,
    bus: String,
}

impl EventBridgeBus {
    pub fn new(client: Client, bus: String) -> Self {
        EventBridgeBus { client, bus }
    }
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, events: Vec<Event>) -> StoreResult<()> {
        for chunk in events.chunks(10) {
            let entries = chunk
                .iter()
                .map(|e| {
                    PutEventsRequestEntry::builder()
                        .event_bus_name(&self.bus)
                        .source(SOURCE)
                        .detail_type(e.event_type.as_str())
                        .detail(serde_json::to_string(e).unwrap_or_default())
                        .build()
                })
                .collect();
            let out = self
                .client
                .put_events()
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| StoreError::Backend(DisplayErrorContext(e).to_string()))?;
            if out.failed_entry_count > 0 {
                return Err(StoreError::Backend(format!(
                    "EventBridge refused {} events",
                    out.failed_entry_count
                )));
            }
        }
        Ok(())
    }
}

pub async fn create_bus(client: &Client, name: &str) -> anyhow::Result<()> {
    match client.create_event_bus().name(name).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_already_exists_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!(
            "create event bus {name}: {}",
            DisplayErrorContext(e)
        )),
    }
}

/// A rule sending every event from Sluice on `bus` to a queue (what the template declares).
pub async fn route_to_queue(
    client: &Client,
    bus: &str,
    rule: &str,
    queue_arn: &str,
) -> anyhow::Result<()> {
    client
        .put_rule()
        .name(rule)
        .event_bus_name(bus)
        .event_pattern(serde_json::json!({"source": [SOURCE]}).to_string())
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("put rule {rule}: {}", DisplayErrorContext(e)))?;
    client
        .put_targets()
        .rule(rule)
        .event_bus_name(bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("webhooks-queue")
                .arn(queue_arn)
                .build()?,
        )
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("put targets {rule}: {}", DisplayErrorContext(e)))?;
    Ok(())
}
