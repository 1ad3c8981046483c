//! What the API returns: one typed view per response body. Each derives `JsonSchema`,
//! so the OpenAPI document declares exactly what is serialized; the route table names
//! each route's view and the compiler holds its handler to it.
//!
//! Views are built from domain records here and nowhere else; lists filter and project
//! the serialized view, so a filter sees the same fields a client does.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::batch::{Batch, BatchStatus, ObjectResult, ResultStatus};
use crate::domain::collection::{Collection, Document};
use crate::domain::connections::Connection;
use crate::domain::entities::{ApiKey, Blob, Bucket, Namespace, Object, Task, UniqueKey, Upload};
use crate::domain::extractors::{ExtractorChoice, ExtractorSpec};
use crate::domain::status::{
    ConnectionStatus, ObjectStatus, RecordStatus, RunStatus, SyncStatus, TaskStatus, UploadStatus,
};
use crate::domain::sync::{
    at_epoch, parse_epoch, DeadLetter, FileFilters, Reconcile, RunCounts, Sync, SyncRun,
};
use crate::domain::webhook::{Webhook, WebhookChannel};
use crate::error::Error;

/// A view as the JSON record lists filter and project.
pub fn record<T: Serialize>(view: &T) -> Result<Value, Error> {
    serde_json::to_value(view).map_err(|e| Error::Internal(e.into()))
}

/// One page of a list. Each result is a `T`; a request with `select` gets only the
/// selected fields of each (and every `*_id`).
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(bound = "T: JsonSchema", rename = "Page_of_{T}")]
pub struct Page<T> {
    #[schemars(with = "Vec<Selectable<T>>")]
    pub results: Vec<Value>,
    pub pagination: Pagination,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_count: Option<i64>,
    #[serde(skip)]
    #[schemars(skip)]
    of: PhantomData<T>,
}

/// A list row: the whole view, or with `select` only the fields it names (and every
/// `*_id`). The document says both, so a selected row is not a schema violation.
pub struct Selectable<T>(PhantomData<T>);

impl<T: JsonSchema> JsonSchema for Selectable<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        format!("Selectable_{}", T::schema_name()).into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let whole = generator.subschema_for::<T>();
        schemars::json_schema!({
            "anyOf": [whole, {
                "type": "object",
                "description": "With `select`: the fields it names, and every `*_id`."
            }]
        })
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Pagination {
    pub page_size: usize,
    pub next_cursor: Option<String>,
    pub total: Option<i64>,
    pub total_pages: Option<i64>,
}

impl<T> Page<T> {
    /// `results` are records of `T` (see [`record`]), possibly projected.
    pub fn new(
        results: Vec<Value>,
        next_cursor: Option<String>,
        page_size: usize,
        total: Option<i64>,
    ) -> Self {
        Page {
            results,
            pagination: Pagination {
                page_size,
                next_cursor,
                total,
                total_pages: total.map(|t| (t + page_size as i64 - 1) / page_size as i64),
            },
            total_count: None,
            of: PhantomData,
        }
    }

    /// Adds `total_count`: the total when known, else the size of this page.
    pub fn counted(mut self) -> Self {
        self.total_count = Some(self.pagination.total.unwrap_or(self.results.len() as i64));
        self
    }
}

/// `{"success": true, "message": …}`: a delete or a kill that is done.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Done {
    pub success: bool,
    pub message: String,
}

impl Done {
    pub fn new(message: impl Into<String>) -> Self {
        Done {
            success: true,
            message: message.into(),
        }
    }
}

/// A delete whose work runs as a task (a namespace's or a bucket's contents).
#[derive(Debug, Serialize, JsonSchema)]
pub struct DeletionQueued {
    pub success: bool,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_id: Option<String>,
    pub task_id: String,
    pub status: TaskStatus,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ObjectDeleted {
    pub success: bool,
    pub object_id: String,
    pub message: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CollectionDeleted {
    pub success: bool,
    pub collection_id: String,
    pub documents_deleted: usize,
    pub message: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ApiKeyView {
    pub key_id: String,
    pub org_id: String,
    pub name: String,
    pub key_hint: String,
    pub created_at: String,
}

impl From<&ApiKey> for ApiKeyView {
    fn from(k: &ApiKey) -> Self {
        ApiKeyView {
            key_id: k.key_id.clone(),
            org_id: k.org_id.clone(),
            name: k.name.clone(),
            key_hint: k.key_hint.clone(),
            created_at: k.created_at.clone(),
        }
    }
}

/// A catalogue entry of `GET /v1/collections/features/extractors`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ExtractorView {
    pub feature_extractor_name: String,
    pub version: String,
    pub feature_extractor_id: String,
    pub description: String,
    pub icon: String,
    pub category: String,
    pub source: String,
    pub type_mode: String,
    pub input_schema: Value,
    pub output_schema: Value,
    pub parameter_schema: Option<Value>,
    pub supported_input_types: Vec<String>,
    pub max_inputs: BTreeMap<String, u32>,
    pub default_parameters: Map<String, Value>,
    pub required_vector_indexes: Option<Vec<Value>>,
    pub required_payload_indexes: Option<Vec<Value>>,
    pub capabilities: Vec<String>,
}

impl From<&ExtractorSpec> for ExtractorView {
    fn from(e: &ExtractorSpec) -> Self {
        let input_types: Vec<String> = e.input_types.iter().map(|s| s.to_string()).collect();
        ExtractorView {
            feature_extractor_name: e.name.into(),
            version: e.version.into(),
            feature_extractor_id: e.id(),
            description: e.description.into(),
            icon: e.category.into(),
            category: e.category.into(),
            source: "builtin".into(),
            type_mode: if input_types.len() > 1 {
                "multimodal"
            } else {
                "type_specific"
            }
            .into(),
            input_schema: serde_json::json!({
                "type": "object",
                "properties": {"input": {"type": "string", "enum": input_types}},
            }),
            output_schema: serde_json::json!({"type": "object"}),
            parameter_schema: None,
            supported_input_types: input_types,
            max_inputs: BTreeMap::from([("input".to_string(), 1)]),
            default_parameters: Map::new(),
            required_vector_indexes: None,
            required_payload_indexes: None,
            capabilities: vec!["batch".into()],
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct NamespaceView {
    /// Always `namespace`.
    pub object: String,
    pub namespace_id: String,
    pub namespace_name: String,
    pub description: Option<String>,
    pub feature_extractors: Vec<ExtractorChoice>,
    pub mode: String,
    pub namespace_ready: bool,
    pub bucket_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Namespace> for NamespaceView {
    fn from(ns: &Namespace) -> Self {
        NamespaceView {
            object: "namespace".into(),
            namespace_id: ns.namespace_id.clone(),
            namespace_name: ns.namespace_name.clone(),
            description: ns.description.clone(),
            feature_extractors: ns.feature_extractors.clone(),
            mode: "managed".into(),
            namespace_ready: true,
            bucket_count: ns.bucket_count,
            created_at: ns.created_at.clone(),
            updated_at: ns.updated_at.clone(),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BucketView {
    pub bucket_id: String,
    pub bucket_name: String,
    pub namespace_id: String,
    pub description: Option<String>,
    /// The bucket's schema as created: `{"properties": {name: {"type": …}}}`.
    pub bucket_schema: Value,
    pub unique_key: Option<UniqueKey>,
    pub metadata: Option<Map<String, Value>>,
    pub object_count: i64,
    pub total_size_bytes: i64,
    pub status: RecordStatus,
    pub created_at: String,
    pub updated_at: String,
    pub last_upload_at: Option<String>,
}

impl From<&Bucket> for BucketView {
    fn from(b: &Bucket) -> Self {
        BucketView {
            bucket_id: b.bucket_id.clone(),
            bucket_name: b.bucket_name.clone(),
            namespace_id: b.namespace_id.clone(),
            description: b.description.clone(),
            bucket_schema: b.bucket_schema.clone(),
            unique_key: b.unique_key.clone(),
            metadata: b.metadata.clone(),
            object_count: b.object_count,
            total_size_bytes: b.total_size_bytes,
            status: b.status,
            created_at: b.created_at.clone(),
            updated_at: b.updated_at.clone(),
            last_upload_at: b.last_upload_at.clone(),
        }
    }
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

#[derive(Debug, Serialize, JsonSchema)]
pub struct TaskView {
    pub task_id: String,
    pub task_type: String,
    pub status: TaskStatus,
    pub namespace_id: Option<String>,
    pub inputs: Vec<Value>,
    pub outputs: Vec<Value>,
    pub additional_data: Map<String, Value>,
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Task> for TaskView {
    fn from(t: &Task) -> Self {
        TaskView {
            task_id: t.task_id.clone(),
            task_type: t.task_type.clone(),
            status: t.status,
            namespace_id: t.namespace_id.clone(),
            inputs: t.inputs.clone(),
            outputs: t.outputs.clone(),
            additional_data: t.additional_data.clone(),
            error: t.error.clone(),
            created_at: t.created_at.clone(),
            updated_at: t.updated_at.clone(),
        }
    }
}

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

#[derive(Debug, Serialize, JsonSchema)]
pub struct ObjectResultView {
    pub object_id: String,
    pub status: ResultStatus,
    pub attempt: i64,
    pub stage: Option<String>,
    pub reason: Option<String>,
    /// The same as `reason`, under the name the SDK reads.
    pub error: Option<String>,
    pub document_ids: Vec<String>,
    pub document_count: usize,
    pub finished_at: String,
}

impl From<&ObjectResult> for ObjectResultView {
    fn from(r: &ObjectResult) -> Self {
        ObjectResultView {
            object_id: r.object_id.clone(),
            status: r.status,
            attempt: r.attempt,
            stage: r.stage.clone(),
            reason: r.reason.clone(),
            error: r.reason.clone(),
            document_ids: r.document_ids.clone(),
            document_count: r.document_ids.len(),
            finished_at: r.finished_at.clone(),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BatchProgress {
    pub total: i64,
    pub processed: i64,
    pub percent: f64,
    pub errors: i64,
    pub objects_extracted: i64,
    pub objects_failed: i64,
    pub objects_skipped: i64,
    pub first_error: Option<String>,
    pub documents_written: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FailedObject {
    pub object_id: String,
    pub error: String,
    pub error_type: String,
    pub stage: Option<String>,
    pub timestamp: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BatchView {
    pub batch_id: String,
    pub bucket_id: String,
    pub namespace_id: String,
    pub batch_name: Option<String>,
    pub status: BatchStatus,
    /// Always `BUCKET`.
    #[serde(rename = "type")]
    pub batch_type: String,
    pub object_ids: Vec<String>,
    pub collection_ids: Vec<String>,
    pub task_id: Option<String>,
    pub metadata: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
    pub submitted_at: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub completed_at: Option<String>,
    pub last_activity_at: Option<String>,
    pub total_objects: i64,
    pub processed_objects: i64,
    pub failed_object_count: i64,
    pub skipped_object_count: i64,
    pub documents_written: i64,
    pub retry_count: i64,
    pub progress: BatchProgress,
    pub failed_objects: Vec<FailedObject>,
    /// Failures shown, by stage.
    pub error_summary: BTreeMap<String, i64>,
    pub failure_reason: Option<String>,
    pub error: Option<String>,
    /// `STALLED` or `HEALTHY` while queued or processing; absent (null) otherwise.
    pub health: Option<String>,
    pub status_message: String,
    pub lifecycle: String,
    pub lifecycle_reason: Option<String>,
    pub max_node_death_resubmits: i64,
    pub max_deploy_resubmits: i64,
}

impl BatchView {
    /// `failures`: the failed results shown on the batch; `stalled`: whether it made
    /// no progress for the configured stall time.
    pub fn new(b: &Batch, failures: &[ObjectResult], stalled: bool) -> Self {
        let done = b.processed + b.failed + b.skipped;
        let percent = if b.total > 0 {
            (done as f64 * 100.0 / b.total as f64).min(100.0)
        } else {
            0.0
        };
        let lifecycle = match b.status {
            BatchStatus::Draft => "accepted",
            BatchStatus::Queued => "queued",
            BatchStatus::Processing => "extracting",
            BatchStatus::Completed | BatchStatus::CompletedWithErrors => "indexed",
            BatchStatus::Failed => "failed",
            BatchStatus::Canceled => "canceled",
        };
        let status_message = match b.status {
            BatchStatus::Draft => "Draft: add objects, then submit".to_string(),
            BatchStatus::Queued => "Queued for processing".to_string(),
            BatchStatus::Processing if stalled => format!(
                "No progress since {}",
                b.last_activity_at.as_deref().unwrap_or("?")
            ),
            BatchStatus::Processing => format!("Processing: {done} of {} objects", b.total),
            BatchStatus::Completed => format!("Completed: {} objects processed", b.processed),
            BatchStatus::CompletedWithErrors => format!(
                "Completed with errors: {} processed, {} failed",
                b.processed, b.failed
            ),
            BatchStatus::Failed => b
                .failure_reason
                .clone()
                .unwrap_or_else(|| format!("Failed: {} of {} objects failed", b.failed, b.total)),
            BatchStatus::Canceled => "Canceled".to_string(),
        };
        let mut error_summary = BTreeMap::new();
        for f in failures {
            *error_summary
                .entry(f.stage.clone().unwrap_or_else(|| "unknown".into()))
                .or_insert(0) += 1;
        }
        let health = if stalled {
            Some("STALLED")
        } else if matches!(b.status, BatchStatus::Processing | BatchStatus::Queued) {
            Some("HEALTHY")
        } else {
            None
        };
        BatchView {
            batch_id: b.batch_id.clone(),
            bucket_id: b.bucket_id.clone(),
            namespace_id: b.namespace_id.clone(),
            batch_name: b.batch_name.clone(),
            status: b.status,
            batch_type: "BUCKET".into(),
            object_ids: b.object_ids.clone(),
            collection_ids: b.targets.iter().map(|t| t.collection_id.clone()).collect(),
            task_id: b.task_id.clone(),
            metadata: b.metadata.clone(),
            created_at: b.created_at.clone(),
            updated_at: b.updated_at.clone(),
            submitted_at: b.submitted_at.clone(),
            started_at: b.started_at.clone(),
            finished_at: b.finished_at.clone(),
            completed_at: b.finished_at.clone(),
            last_activity_at: b.last_activity_at.clone(),
            total_objects: b.total,
            processed_objects: b.processed,
            failed_object_count: b.failed,
            skipped_object_count: b.skipped,
            documents_written: b.documents_written,
            retry_count: (b.attempt - 1).max(0),
            progress: BatchProgress {
                total: b.total,
                processed: b.processed,
                percent: (percent * 10.0).round() / 10.0,
                errors: b.failed,
                objects_extracted: b.processed,
                objects_failed: b.failed,
                objects_skipped: b.skipped,
                first_error: failures.first().and_then(|f| f.reason.clone()),
                documents_written: b.documents_written,
            },
            failed_objects: failures
                .iter()
                .map(|f| FailedObject {
                    object_id: f.object_id.clone(),
                    error: f.reason.clone().unwrap_or_default(),
                    error_type: "permanent".into(),
                    stage: f.stage.clone(),
                    timestamp: f.finished_at.clone(),
                })
                .collect(),
            error_summary,
            failure_reason: b.failure_reason.clone(),
            error: b.failure_reason.clone(),
            health: health.map(str::to_string),
            status_message,
            lifecycle: lifecycle.into(),
            lifecycle_reason: b.failure_reason.clone(),
            max_node_death_resubmits: 0,
            max_deploy_resubmits: 0,
        }
    }
}

/// A task about a batch (submit, cancel), with the batch it concerns.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BatchCanceled {
    #[serde(flatten)]
    pub task: TaskView,
    pub batch_id: String,
    pub cancellation: Cancellation,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Cancellation {
    pub outcome: String,
    pub batch_status: BatchStatus,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct BatchRetried {
    pub batch_id: String,
    pub status: BatchStatus,
    pub attempt: i64,
    pub retried_object_count: i64,
    pub task_id: String,
    pub task: TaskView,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ExtractorRef {
    pub feature_extractor_name: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<Option<Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feature_extractor_id: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CollectionSource {
    /// Always `bucket`.
    #[serde(rename = "type")]
    pub source_type: String,
    /// The buckets it takes objects from; absent when it takes from every bucket.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bucket_ids: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_namespace_id: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CollectionView {
    pub collection_id: String,
    pub collection_name: String,
    pub description: Option<String>,
    pub namespace_id: String,
    pub feature_extractor: ExtractorRef,
    pub source: CollectionSource,
    pub enabled: bool,
    pub metadata: Option<Map<String, Value>>,
    pub created_at: String,
}

impl From<&Collection> for CollectionView {
    fn from(c: &Collection) -> Self {
        let fe = &c.feature_extractor;
        CollectionView {
            collection_id: c.collection_id.clone(),
            collection_name: c.collection_name.clone(),
            description: c.description.clone(),
            namespace_id: c.namespace_id.clone(),
            feature_extractor: ExtractorRef {
                feature_extractor_name: fe.feature_extractor_name.clone(),
                version: fe.version.clone(),
                params: Some(fe.params.clone().map(Value::Object)),
                feature_extractor_id: Some(format!("{}_{}", fe.feature_extractor_name, fe.version)),
            },
            source: CollectionSource {
                source_type: "bucket".into(),
                source_namespace_id: c
                    .source_bucket_ids
                    .is_none()
                    .then(|| c.namespace_id.clone()),
                bucket_ids: c.source_bucket_ids.clone(),
            },
            enabled: c.enabled,
            metadata: c.metadata.clone(),
            created_at: c.created_at.clone(),
        }
    }
}

/// A document: where it came from, then the fields its extractor wrote (text, chunk
/// position, blob details, the object's metadata, …).
#[derive(Debug, Serialize, JsonSchema)]
pub struct DocumentView {
    pub document_id: String,
    pub collection_id: String,
    pub namespace_id: String,
    pub source_object_id: String,
    pub root_object_id: String,
    pub source_bucket_id: String,
    pub batch_id: String,
    pub feature_extractor: ExtractorRef,
    pub created_at: String,
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

const DOCUMENT_FIXED: &[&str] = &[
    "document_id",
    "collection_id",
    "namespace_id",
    "source_object_id",
    "root_object_id",
    "source_bucket_id",
    "batch_id",
    "feature_extractor",
    "created_at",
    "score",
];

impl From<&Document> for DocumentView {
    fn from(d: &Document) -> Self {
        DocumentView {
            document_id: d.document_id.clone(),
            collection_id: d.collection_id.clone(),
            namespace_id: d.namespace_id.clone(),
            source_object_id: d.object_id.clone(),
            root_object_id: d.object_id.clone(),
            source_bucket_id: d.bucket_id.clone(),
            batch_id: d.batch_id.clone(),
            feature_extractor: ExtractorRef {
                feature_extractor_name: d.feature_extractor.feature_extractor_name.clone(),
                version: d.feature_extractor.version.clone(),
                params: None,
                feature_extractor_id: None,
            },
            created_at: d.created_at.clone(),
            // The provenance fields above win over an extractor field of the same name.
            fields: d
                .fields
                .iter()
                .filter(|(k, _)| !DOCUMENT_FIXED.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchHit {
    #[serde(flatten)]
    pub document: DocumentView,
    pub score: f32,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchView {
    pub results: Vec<SearchHit>,
    pub total: usize,
    pub top_k: usize,
    pub feature_uri: Option<String>,
    pub collection_ids: Vec<String>,
}

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

#[derive(Debug, Serialize, JsonSchema)]
pub struct WholeList {
    pub total: usize,
    pub page: usize,
    pub page_size: usize,
    pub total_pages: usize,
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

/// A whole list on one page (connections, syncs, runs).
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "List_of_{T}")]
pub struct ListOf<T> {
    pub results: Vec<T>,
    pub pagination: WholeList,
    pub total: usize,
}

impl<T> ListOf<T> {
    pub fn new(results: Vec<T>) -> Self {
        let total = results.len();
        ListOf {
            results,
            pagination: WholeList {
                total,
                page: 1,
                page_size: total.max(1),
                total_pages: 1,
            },
            total,
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ConnectionTested {
    pub success: bool,
    pub message: String,
}

/// A sync configuration and its state.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SyncView {
    pub sync_config_id: String,
    pub bucket_id: String,
    pub connection_id: String,
    pub internal_id: String,
    pub namespace_id: String,
    pub source_path: String,
    pub source_type: String,
    pub file_filters: Option<FileFilters>,
    pub schema_mapping: Option<Value>,
    /// Files modified at or before this instant are not taken.
    pub sync_from: Option<String>,
    /// `continuous` or `initial_only`.
    pub sync_mode: String,
    pub polling_interval_seconds: i64,
    pub batch_size: i64,
    pub skip_duplicates: bool,
    pub skip_batch_submission: bool,
    pub batch_collection_ids: Option<Vec<String>>,
    pub reconcile: Reconcile,
    /// `ACTIVE` or `SUSPENDED` (after five failed runs in a row).
    pub status: SyncStatus,
    pub is_active: bool,
    pub total_files_discovered: i64,
    pub total_files_synced: i64,
    pub total_files_failed: i64,
    pub total_bytes_synced: i64,
    pub created_at: String,
    pub updated_at: String,
    pub last_sync_at: Option<String>,
    pub next_sync_at: Option<String>,
    pub created_by_user_id: String,
    pub last_error: Option<String>,
    pub consecutive_failures: i64,
    pub provider_filters: Option<Map<String, Value>>,
    pub metadata: Map<String, Value>,
    /// The run holding the lease, while one does.
    pub locked_by_worker_id: Option<String>,
    pub lock_expires_at: Option<String>,
    pub locked: bool,
    pub paused: bool,
    pub pause_reason: Option<String>,
    pub paused_at: Option<String>,
    pub description: Option<String>,
    pub max_objects_per_run: i64,
    pub sync_concurrency: Option<i64>,
    pub current_sync_run_id: Option<String>,
    pub sync_run_counter: i64,
    pub batches_created: i64,
    /// Files the sync knows from its last complete listing.
    pub manifest_count: i64,
}

impl From<&Sync> for SyncView {
    fn from(s: &Sync) -> Self {
        let locked = s.locked();
        SyncView {
            sync_config_id: s.sync_config_id.clone(),
            bucket_id: s.bucket_id.clone(),
            connection_id: s.connection_id.clone(),
            internal_id: s.org_id.clone(),
            namespace_id: s.namespace_id.clone(),
            source_path: s.source_path.clone(),
            source_type: s.provider_type.clone(),
            file_filters: s.file_filters.clone(),
            schema_mapping: s.schema_mapping.clone(),
            sync_from: s.sync_from.clone(),
            sync_mode: s.sync_mode.clone(),
            polling_interval_seconds: s.polling_interval_seconds,
            batch_size: s.batch_size,
            skip_duplicates: s.skip_duplicates,
            skip_batch_submission: s.skip_batch_submission,
            batch_collection_ids: s.batch_collection_ids.clone(),
            reconcile: s.reconcile.clone(),
            status: s.status,
            is_active: s.status == SyncStatus::Active && !s.paused,
            total_files_discovered: s.total_files_discovered,
            total_files_synced: s.total_files_synced,
            total_files_failed: s.total_files_failed,
            total_bytes_synced: s.total_bytes_synced,
            created_at: s.created_at.clone(),
            updated_at: s.updated_at.clone(),
            last_sync_at: s.last_sync_at.clone(),
            next_sync_at: s.next_sync_at.clone(),
            created_by_user_id: s.created_by.clone(),
            last_error: s.last_error.clone(),
            consecutive_failures: s.consecutive_failures,
            provider_filters: s.provider_filters.clone(),
            metadata: s.metadata.clone().unwrap_or_default(),
            locked_by_worker_id: if locked {
                s.current_run_id.clone()
            } else {
                None
            },
            lock_expires_at: s.lock_expires_epoch.filter(|_| locked).map(at_epoch),
            locked,
            paused: s.paused,
            pause_reason: s.pause_reason.clone(),
            paused_at: s.paused_at.clone(),
            description: s.description.clone(),
            max_objects_per_run: s.max_objects_per_run,
            sync_concurrency: s.sync_concurrency,
            current_sync_run_id: s.current_run_id.clone(),
            sync_run_counter: s.sync_run_counter,
            batches_created: s.batches_created,
            manifest_count: s.manifest_count,
        }
    }
}

/// One run of a sync (the SDK's sync job), with counts that reconcile.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SyncJobView {
    pub sync_job_id: String,
    pub sync_config_id: String,
    pub internal_id: String,
    pub namespace_id: String,
    /// `running`, `completed`, `failed`, `interrupted`.
    pub status: RunStatus,
    /// `scheduled`, `manual`, `resume`.
    pub trigger: String,
    /// `queued`, `discovering`, `deleting`, `idle`.
    pub phase: String,
    /// Files listed so far.
    pub total_files: i64,
    /// New and modified files registered.
    pub files_synced: i64,
    pub files_failed: i64,
    /// Files found unchanged.
    pub files_verified: i64,
    pub counts: RunCounts,
    pub bytes_synced: i64,
    pub batches_created: i64,
    pub batch_ids: Vec<String>,
    pub full_sync: bool,
    /// Why deletions were withheld, when they were.
    pub withheld_reason: Option<String>,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub updated_at: String,
    pub error: Option<String>,
    pub resumed_via: Option<String>,
    pub progress_percent: Option<f64>,
    pub throughput_files_per_min: Option<f64>,
    pub current_cursor: Option<String>,
}

impl From<&SyncRun> for SyncJobView {
    fn from(r: &SyncRun) -> Self {
        let elapsed = parse_epoch(&r.started_at).and_then(|start| {
            let end = r
                .completed_at
                .as_deref()
                .and_then(parse_epoch)
                .unwrap_or_else(|| crate::domain::time::now().unix_timestamp());
            (end > start).then_some((end - start) as f64)
        });
        let synced = r.counts.new + r.counts.modified;
        SyncJobView {
            sync_job_id: r.sync_job_id.clone(),
            sync_config_id: r.sync_config_id.clone(),
            internal_id: r.org_id.clone(),
            namespace_id: r.namespace_id.clone(),
            status: r.status,
            trigger: r.trigger.clone(),
            phase: r.phase.clone(),
            total_files: r.counts.scanned,
            files_synced: synced,
            files_failed: r.counts.failed,
            files_verified: r.counts.unchanged,
            counts: r.counts.clone(),
            bytes_synced: r.bytes,
            batches_created: r.batches_created,
            batch_ids: r.batch_ids.clone(),
            full_sync: r.full_sync,
            withheld_reason: r.withheld_reason.clone(),
            started_at: r.started_at.clone(),
            completed_at: r.completed_at.clone(),
            updated_at: r.updated_at.clone(),
            error: r.error.clone(),
            resumed_via: (r.resumes > 0).then(|| "lease_expired".to_string()),
            progress_percent: (r.status == RunStatus::Completed).then_some(100.0),
            throughput_files_per_min: elapsed.map(|s| synced as f64 * 60.0 / s.max(1.0)),
            current_cursor: r.token.clone(),
        }
    }
}

/// `POST …/trigger`: the run started (or resumed).
#[derive(Debug, Serialize, JsonSchema)]
pub struct SyncTriggered {
    pub sync_job_id: String,
    pub sync_config_id: String,
    pub status: RunStatus,
    pub trigger: String,
    pub message: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SyncMetricsView {
    pub sync_config_id: String,
    /// The sync's status, as its view says it (the SDK requires it here too).
    pub status: SyncStatus,
    pub is_active: bool,
    pub is_stale: bool,
    pub stale_after_seconds: i64,
    pub stalled: bool,
    pub healthy: bool,
    pub dlq_total: usize,
    pub dlq_by_error: BTreeMap<String, usize>,
    /// Failed files over listed files in the last run.
    pub failure_rate: f64,
    pub last_job: Option<SyncJobView>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DeadLetterList {
    pub results: Vec<DeadLetter>,
    pub total: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Requeued {
    pub requeued: usize,
    /// The run that retries them now; absent while a run is under way or the sync is
    /// paused or suspended (the next run retries them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_job_id: Option<String>,
}
