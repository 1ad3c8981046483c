//! The response views of syncs, their runs and dead letters.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::status::{RunStatus, SyncStatus};
use crate::domain::sync::{
    at_epoch, parse_epoch, DeadLetter, FileFilters, Reconcile, RunCounts, Sync, SyncRun,
};

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

/// `POST /v1/webhooks/mux/{connection_id}`: the provider's event, verified.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ProviderEventReceived {
    pub received: bool,
    /// The provider's name for the event (`video.asset.ready`).
    pub event: String,
    /// The sync runs it started.
    pub sync_job_ids: Vec<String>,
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

/// How many dead letters were marked out of attempts.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MarkedFailed {
    pub updated: usize,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Requeued {
    pub requeued: usize,
    /// The run that retries them now; absent while a run is under way or the sync is
    /// paused or suspended (the next run retries them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_job_id: Option<String>,
}
