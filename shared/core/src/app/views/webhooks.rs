//! The response views of webhooks and their deliveries.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::webhook::{Webhook, WebhookChannel};

use super::*;

#[derive(Debug, Serialize, JsonSchema)]
pub struct WebhookView {
    pub webhook_id: String,
    pub webhook_name: String,
    pub event_types: Vec<crate::domain::events::EventType>,
    pub resource_types: Option<Vec<String>>,
    pub channels: Vec<WebhookChannel>,
    pub is_active: bool,
    pub delivery_health: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
    /// Only in the response that created the webhook: later reads never include it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
    /// On an Idempotency-Key replay of the create: why `signing_secret` is absent (no
    /// secret is kept with a stored response).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_secret_withheld: Option<String>,
}

impl WebhookView {
    /// `secret` is given only by the create, which alone shows it.
    pub fn new(w: &Webhook, secret: Option<&str>) -> Self {
        let channels = w
            .channels
            .iter()
            .map(|c| {
                let mut c = c.clone();
                c.configs.signing_secret = secret.map(str::to_string);
                c
            })
            .collect();
        let mut health = w.delivery_health.clone();
        health.insert("consecutive_failures".into(), w.consecutive_failures.into());
        health.insert("last_failure_at".into(), w.last_failure_at.clone().into());
        health.insert(
            "last_failure_cause".into(),
            w.last_failure_cause.clone().into(),
        );
        WebhookView {
            webhook_id: w.webhook_id.clone(),
            webhook_name: w.webhook_name.clone(),
            event_types: w.event_types.clone(),
            resource_types: w.resource_types.clone(),
            channels,
            is_active: w.is_active,
            delivery_health: health,
            created_at: w.created_at.clone(),
            updated_at: w.updated_at.clone(),
            signing_secret: secret.map(str::to_string),
            signing_secret_withheld: None,
        }
    }
}

/// The org's webhooks, all on one page.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WebhookList {
    pub results: Vec<WebhookView>,
    pub pagination: WholeList,
    pub total: usize,
}

/// One delivery attempt of one event to one webhook, as logged.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DeliveryView {
    pub delivery_id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: crate::domain::events::EventType,
    pub attempt: u32,
    pub success: bool,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
    pub created_at: String,
}
