//! Domain events: EventBridge in AWS, in-process subscribers locally.

use crate::domain::events::EventType;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::StoreResult;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub event_id: String,
    pub event_type: EventType,
    pub org_id: String,
    pub namespace_id: Option<String>,
    pub created_at: String,
    pub data: Value,
}

#[async_trait]
pub trait EventBus: Send + Sync {
    async fn publish(&self, events: Vec<Event>) -> StoreResult<()>;
}
