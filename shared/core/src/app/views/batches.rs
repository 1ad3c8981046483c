//! The response views of batches and their per-object results.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::batch::{Batch, BatchStatus, ObjectResult, ResultStatus};

use super::*;

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

impl From<&ObjectResult> for FailedObject {
    fn from(f: &ObjectResult) -> Self {
        FailedObject {
            object_id: f.object_id.clone(),
            error: f.reason.clone().unwrap_or_default(),
            error_type: "permanent".into(),
            stage: f.stage.clone(),
            timestamp: f.finished_at.clone(),
        }
    }
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
            failed_objects: failures.iter().map(FailedObject::from).collect(),
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

/// `GET /v1/batches/queue`: the org's batches in flight.
#[derive(Debug, Default, Serialize, JsonSchema)]
pub struct QueueStatus {
    pub queued_batches: i64,
    pub processing_batches: i64,
    /// Objects of those batches not processed yet.
    pub pending_objects: i64,
    /// When the longest-waiting of them was submitted.
    pub oldest_submitted_at: Option<String>,
}

/// One line of a batch's log.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BatchLogLine {
    pub at: String,
    /// `info` for transitions, `error` for a failed object.
    pub level: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_id: Option<String>,
}

/// `GET …/batches/{id}/logs`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BatchLogs {
    pub batch_id: String,
    pub tier_num: u32,
    pub logs: Vec<BatchLogLine>,
}

/// `GET …/batches/{id}/audit`: tier 0's accounting, by counters and by ledger.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BatchAudit {
    pub batch_id: String,
    pub status: String,
    pub tiers: Vec<Value>,
    /// Every submitted object is accounted for, and the counters agree with the ledger.
    pub invariant_holds: bool,
}

/// `POST …/batches/{id}/estimate-cost`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BatchCostEstimate {
    pub batch_id: String,
    pub collection_ids: Vec<String>,
    pub object_count: i64,
    /// Objects already processed (by this or another batch).
    pub already_extracted_count: i64,
    pub estimated_credits: i64,
    pub estimated_usd: f64,
    pub features: Vec<String>,
    pub extractors: Vec<String>,
    pub content_summary: Value,
    pub warnings: Vec<String>,
}

/// `GET …/batches/{id}/failed-documents`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct FailedDocuments {
    pub batch_id: String,
    pub tier_num: u32,
    pub failed_documents: Vec<FailedObject>,
    pub total: usize,
    pub limit: usize,
    pub offset: usize,
}

/// What a request that submits several batches did with each.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SubmittedBatch {
    pub batch_id: String,
    pub status: String,
    pub object_count: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// `POST …/batches/submit-all`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DraftsSubmitted {
    pub submitted: usize,
    pub failed: usize,
    pub batches: Vec<SubmittedBatch>,
}

/// `POST …/batches/bulk-submit`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BulkSubmitted {
    pub batch_group_id: String,
    pub total_objects: usize,
    pub total_batches: usize,
    pub submitted: usize,
    pub failed: usize,
    pub chunk_size: usize,
    pub batches: Vec<SubmittedBatch>,
}

/// `POST …/batches/{id}/resubmit`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Resubmitted {
    pub batch_id: String,
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    pub message: String,
}

/// `DELETE …/batches/{id}/documents`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BatchDocumentsDeleted {
    pub batch_id: String,
    pub documents_deleted: usize,
    pub message: String,
}

/// `GET …/batches/{id}/diagnose`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct BatchDiagnosis {
    pub batch_id: String,
    pub status: String,
    /// `OK`, or `STALLED` when nothing has moved for the stall time.
    pub health: String,
    pub timing: Value,
    pub progress: Value,
    pub errors: Value,
    pub failed_documents: Vec<Value>,
    /// Always empty: Sluice has no cluster whose events could explain a batch.
    pub infrastructure_events: Vec<Value>,
    pub recommendations: Vec<String>,
}

/// `POST …/tiers/0/heal`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct TierHealed {
    pub batch_id: String,
    pub tier_num: u32,
    pub action: String,
    pub stuck: bool,
    pub diagnosis: BatchDiagnosis,
}
