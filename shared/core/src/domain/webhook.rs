//! An org's webhook: the events it hears and where it delivers them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::events::EventType;

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Map<String, Value>>,
    /// Accepted for compatibility; deliveries always carry the Standard Webhooks body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_template: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<f64>,
    /// Ignored on input: Sluice generates the secret and shows it once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_secret: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookChannel {
    pub channel: String,
    pub configs: WebhookConfig,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Webhook {
    pub webhook_id: String,
    pub org_id: String,
    pub webhook_name: String,
    pub event_types: Vec<EventType>,
    pub channels: Vec<WebhookChannel>,
    #[serde(default)]
    pub resource_types: Option<Vec<String>>,
    pub is_active: bool,
    /// The signing secret (`whsec_<base64>`) sealed with the credential key, as
    /// connection credentials are: shown to the client once, opened only to sign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_secret: Option<String>,
    /// A secret an earlier version stored in the clear: still read, never written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default)]
    pub consecutive_failures: i64,
    #[serde(default)]
    pub delivery_health: Map<String, Value>,
    #[serde(default)]
    pub last_failure_at: Option<String>,
    #[serde(default)]
    pub last_failure_cause: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}
