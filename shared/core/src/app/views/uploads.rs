//! The response views of uploads and their confirmations.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::entities::Upload;
use crate::domain::status::{TaskStatus, UploadStatus};

use super::*;

#[derive(Debug, Serialize, JsonSchema)]
pub struct PartView {
    pub part_number: u32,
    pub size: i64,
    pub presigned_url: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct MultipartView {
    pub multipart_upload_id: String,
    pub part_size: i64,
    pub parts: Vec<PartView>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UploadView {
    pub multipart: Option<MultipartView>,
    pub upload_id: String,
    pub bucket_id: String,
    pub namespace_id: String,
    pub filename: String,
    pub content_type: String,
    pub file_size_bytes: Option<i64>,
    pub presigned_url: Option<String>,
    pub presigned_url_expiration: i64,
    pub s3_key: String,
    pub status: UploadStatus,
    pub message: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub create_object_on_confirm: bool,
    pub object_metadata: Option<Map<String, Value>>,
    pub blob_property: String,
    pub blob_type: String,
    pub file_hash: Option<String>,
    pub skip_duplicates: bool,
    pub is_duplicate: bool,
    pub duplicate_of_upload_id: Option<String>,
    pub created_at: String,
    pub expires_at: String,
    pub completed_at: Option<String>,
    pub verified_at: Option<String>,
    pub etag: Option<String>,
    pub object_id: Option<String>,
}

impl UploadView {
    /// `presigned_url` or `multipart`: where the client sends the bytes, while it may.
    pub fn new(
        up: &Upload,
        presigned_url: Option<String>,
        multipart: Option<MultipartView>,
        duplicate_of: Option<&str>,
    ) -> Self {
        UploadView {
            multipart,
            upload_id: up.upload_id.clone(),
            bucket_id: up.bucket_id.clone(),
            namespace_id: up.namespace_id.clone(),
            filename: up.filename.clone(),
            content_type: up.content_type.clone(),
            file_size_bytes: up.file_size_bytes,
            presigned_url,
            presigned_url_expiration: up.presigned_url_expiration,
            s3_key: up.storage_key.clone(),
            status: up.status,
            message: up.message.clone(),
            metadata: up.metadata.clone(),
            create_object_on_confirm: up.create_object_on_confirm,
            object_metadata: up.object_metadata.clone(),
            blob_property: up.blob_property.clone(),
            blob_type: up.blob_type.clone(),
            file_hash: up.file_hash.clone(),
            skip_duplicates: up.skip_duplicates,
            is_duplicate: duplicate_of.is_some(),
            duplicate_of_upload_id: duplicate_of.map(str::to_string),
            created_at: up.created_at.clone(),
            expires_at: up.expires_at.clone(),
            completed_at: up.completed_at.clone(),
            verified_at: up.verified_at.clone(),
            etag: up.etag.clone(),
            object_id: up.object_id.clone(),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UploadsCreated {
    pub total: usize,
    pub uploads: Vec<UploadView>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UploadStats {
    pub total_uploads: i64,
    pub total_size_bytes: i64,
    pub uploads_by_status: BTreeMap<String, i64>,
    pub avg_file_size_bytes: f64,
    pub unique_buckets: i64,
}

/// `POST …/uploads/list`: a page of uploads with the page's statistics.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UploadPage {
    #[serde(flatten)]
    pub page: Page<UploadView>,
    pub stats: UploadStats,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ConfirmView {
    pub upload_id: String,
    pub status: UploadStatus,
    pub etag: Option<String>,
    pub file_size_bytes: Option<i64>,
    pub file_hash: Option<String>,
    pub verified_at: Option<String>,
    pub completed_at: Option<String>,
    pub object_id: Option<String>,
    pub message: Option<String>,
}

impl From<&Upload> for ConfirmView {
    fn from(up: &Upload) -> Self {
        ConfirmView {
            upload_id: up.upload_id.clone(),
            status: up.status,
            etag: up.etag.clone(),
            file_size_bytes: up.file_size_bytes,
            file_hash: up.file_hash.clone(),
            verified_at: up.verified_at.clone(),
            completed_at: up.completed_at.clone(),
            object_id: up.object_id.clone(),
            message: up.message.clone(),
        }
    }
}

/// A confirm's outcome: done (`?async` not set), or accepted and running as a task.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum ConfirmOutcome {
    Confirmed(WithBatch<ConfirmView>),
    Accepted(ConfirmAccepted),
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ConfirmAccepted {
    pub upload_id: String,
    /// Always `PROCESSING`.
    pub status: TaskStatus,
    pub task_id: String,
    pub message: String,
}

/// A bulk confirm, queued as a task.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ConfirmQueued {
    pub task_id: String,
    pub status: TaskStatus,
    pub confirmations_count: usize,
    pub task: TaskView,
    pub message: String,
}
