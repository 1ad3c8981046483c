//! The response views of storage connections.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::connections::Connection;
use crate::domain::status::ConnectionStatus;

/// A storage connection: settings, and its credentials' type only.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConnectionView {
    pub connection_id: String,
    /// The org (the SDK's multi-tenancy scope).
    pub internal_id: String,
    pub provider_type: String,
    pub provider_config: Map<String, Value>,
    pub write_enabled: bool,
    pub name: String,
    pub description: Option<String>,
    pub status: ConnectionStatus,
    pub is_active: bool,
    pub last_used_at: Option<String>,
    pub last_error: Option<String>,
    pub consecutive_failures: i64,
    pub created_at: String,
    pub updated_at: String,
    /// The API key that created it.
    pub created_by_user_id: String,
    pub metadata: Map<String, Value>,
}

impl From<&Connection> for ConnectionView {
    fn from(c: &Connection) -> Self {
        ConnectionView {
            connection_id: c.connection_id.clone(),
            internal_id: c.org_id.clone(),
            provider_type: c.provider_type.clone(),
            provider_config: c.redacted_config(),
            write_enabled: false,
            name: c.name.clone(),
            description: c.description.clone(),
            status: c.status,
            is_active: c.status == ConnectionStatus::Active,
            last_used_at: c.last_used_at.clone(),
            last_error: c.last_error.clone(),
            consecutive_failures: c.consecutive_failures,
            created_at: c.created_at.clone(),
            updated_at: c.updated_at.clone(),
            created_by_user_id: c.created_by.clone(),
            metadata: c.metadata.clone().unwrap_or_default(),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ConnectionTested {
    pub success: bool,
    pub message: String,
}
