//! The response views of objects, and what creating them in bulk returns.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::entities::{Blob, Object};
use crate::domain::status::ObjectStatus;

#[derive(Debug, Serialize, JsonSchema)]
pub struct ObjectDeleted {
    pub success: bool,
    pub object_id: String,
    pub message: String,
}

/// A blob of an object, with a short-lived GET URL when asked for one.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BlobView {
    #[serde(flatten)]
    pub blob: Blob,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presigned_url: Option<Option<String>>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ObjectView {
    pub object_id: String,
    pub bucket_id: String,
    pub namespace_id: String,
    pub key_prefix: Option<String>,
    pub blobs: Vec<BlobView>,
    pub metadata: Map<String, Value>,
    pub status: ObjectStatus,
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// The documents collections made from the object: counted on GET only (the SDK's
    /// contract), null in lists and write responses.
    pub document_count: Option<u64>,
    /// Bulk-create rows only: the request position this row answers, and whether (and
    /// why) it replayed an existing object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_index: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed_by: Option<String>,
}

impl From<&Object> for ObjectView {
    fn from(o: &Object) -> Self {
        ObjectView {
            object_id: o.object_id.clone(),
            bucket_id: o.bucket_id.clone(),
            namespace_id: o.namespace_id.clone(),
            key_prefix: o.key_prefix.clone(),
            blobs: o
                .blobs
                .iter()
                .map(|b| BlobView {
                    blob: b.clone(),
                    presigned_url: None,
                })
                .collect(),
            metadata: o.metadata.clone(),
            status: o.status,
            error: o.error.clone(),
            created_at: o.created_at.clone(),
            updated_at: o.updated_at.clone(),
            document_count: None,
            object_index: None,
            replayed: None,
            replayed_by: None,
        }
    }
}

/// The batch a create or confirm with auto-processing submitted.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct AutoBatch {
    pub batch_id: String,
    pub task_id: Option<String>,
}

/// A response with the batch `auto_process` / `auto_submit_batch` made, when it made one.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "{T}_with_batch")]
pub struct WithBatch<T> {
    #[serde(flatten)]
    pub view: T,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub batch: Option<AutoBatch>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FailedRow {
    pub object_index: usize,
    pub error: String,
    pub error_type: String,
    pub status: u16,
}

/// The bulk create's response: successes in request order, then each failure with its
/// index, error type and status.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BulkView {
    pub succeeded_count: usize,
    pub failed_count: usize,
    pub total_requested: usize,
    pub succeeded: Vec<ObjectView>,
    pub failed: Vec<FailedRow>,
}

/// `POST …/objects/bulk-soft-delete`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SoftDeletedView {
    /// Objects flipped out of use (those missing or already out are not counted).
    pub soft_deleted: usize,
    pub requested: usize,
    /// Collections fed by the bucket, whose documents of these objects went too.
    pub collections: usize,
    pub documents: usize,
}
