//! Every queue payload, in one leaf module: a feature that sends work to another's queue
//! names the message, not the feature.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ports::Event;

/// Everything the tasks queue carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TaskMessage {
    Purge(PurgeMessage),
    ConfirmUploads(ConfirmBulkMessage),
    CopyDocuments(CopyDocumentsMessage),
}

impl TaskMessage {
    pub fn to_body(&self) -> String {
        serde_json::to_string(self).expect("task messages serialize")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PurgeScope {
    Namespace {
        namespace_id: String,
    },
    Bucket {
        namespace_id: String,
        bucket_id: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PurgeMessage {
    pub task_id: String,
    pub org_id: String,
    pub scope: PurgeScope,
    /// 1: sweep; 2: the final sweep after the settle delay.
    pub pass: u8,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfirmItem {
    pub upload_id: String,
    #[serde(default)]
    pub etag: Option<String>,
    #[serde(default)]
    pub file_size_bytes: Option<i64>,
}

/// The queued work of a batch confirm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfirmBulkMessage {
    pub task_id: String,
    pub org_id: String,
    pub namespace_id: String,
    pub bucket_id: String,
    pub items: Vec<ConfirmItem>,
}

/// One page of a clone's document copy: where the previous page stopped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyDocumentsMessage {
    pub task_id: String,
    pub org_id: String,
    pub namespace_id: String,
    pub from_collection_id: String,
    pub to_collection_id: String,
    pub cursor: Option<String>,
}

/// One chunk of a batch's objects on the batches queue.
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
pub struct ChunkMessage {
    pub org_id: String,
    pub namespace_id: String,
    pub bucket_id: String,
    pub batch_id: String,
    /// The submit (or retry) that sent this chunk: its task id.
    pub token: String,
    pub attempt: i64,
    pub object_ids: Vec<String>,
}

/// One page of one run, on the syncs queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageMessage {
    pub org_id: String,
    pub bucket_id: String,
    pub sync_id: String,
    pub run_id: String,
    pub page: u32,
    /// With these (fixed for a sync's life), a page reads its sync, run, bucket and
    /// connection in one batch get. Absent in messages queued before they were added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_id: Option<String>,
}

impl PageMessage {
    pub fn body(&self) -> String {
        serde_json::to_string(self).expect("page messages serialize")
    }
}

/// One delivery of one event to one webhook, on the webhooks queue.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryMessage {
    pub webhook_id: String,
    pub org_id: String,
    pub event: Event,
    pub attempt: u32,
}

/// What the webhooks queue carries: events to fan out, or deliveries to retry.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WebhookMessage {
    Event(Event),
    Delivery(DeliveryMessage),
}
