//! The batch lifecycle: which states exist, which moves are legal, how a batch ends.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::extractors::ExtractorChoice;
use super::wire::wire_enum;

wire_enum! {
    pub enum BatchStatus {
        Draft = "DRAFT",
        Queued = "QUEUED",
        Processing = "PROCESSING",
        Completed = "COMPLETED",
        CompletedWithErrors = "COMPLETED_WITH_ERRORS",
        Failed = "FAILED",
        Canceled = "CANCELED",
    }
}

impl BatchStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            BatchStatus::Completed
                | BatchStatus::CompletedWithErrors
                | BatchStatus::Failed
                | BatchStatus::Canceled
        )
    }

    /// The states a batch may be in for `action` to apply; the store checks this
    /// condition on the write itself, so two racing requests cannot both move it.
    pub fn allowed_from(action: Action) -> &'static [BatchStatus] {
        use BatchStatus::*;
        match action {
            Action::AddObjects | Action::Submit => &[Draft],
            // Not while it runs: cancel it first.
            Action::Delete => &[Draft, Canceled, Completed, CompletedWithErrors, Failed],
            Action::Start => &[Queued],
            Action::Record => &[Queued, Processing],
            Action::Cancel => &[Draft, Queued, Processing],
            Action::Retry => &[CompletedWithErrors, Failed],
        }
    }

    /// How a batch ends once every object has a result.
    pub fn outcome(processed: i64, failed: i64, skipped: i64) -> BatchStatus {
        if failed == 0 {
            BatchStatus::Completed
        } else if processed == 0 && skipped == 0 {
            BatchStatus::Failed
        } else {
            BatchStatus::CompletedWithErrors
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    AddObjects,
    Submit,
    Delete,
    Start,
    Record,
    Cancel,
    Retry,
}

impl Action {
    pub fn verb(self) -> &'static str {
        match self {
            Action::AddObjects => "add objects to",
            Action::Submit => "submit",
            Action::Delete => "delete",
            Action::Start => "start",
            Action::Record => "record results in",
            Action::Cancel => "cancel",
            Action::Retry => "retry",
        }
    }
}

/// The collection (extractor output) a batch writes to, fixed when it is submitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchTarget {
    pub collection_id: String,
    pub extractor: ExtractorChoice,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Batch {
    pub batch_id: String,
    pub bucket_id: String,
    pub namespace_id: String,
    pub org_id: String,
    #[serde(default)]
    pub batch_name: Option<String>,
    pub status: BatchStatus,
    pub object_ids: Vec<String>,
    #[serde(default)]
    pub metadata: Map<String, Value>,
    #[serde(default)]
    pub task_id: Option<String>,
    /// The collections chosen at creation (ids); `None`: every one fed by the bucket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub collection_ids: Option<Vec<String>>,
    #[serde(default)]
    pub targets: Vec<BatchTarget>,
    /// Objects to go in the current attempt; results counted below.
    #[serde(default)]
    pub total: i64,
    #[serde(default)]
    pub processed: i64,
    #[serde(default)]
    pub failed: i64,
    #[serde(default)]
    pub skipped: i64,
    /// Objects of the current attempt without a result yet; 0 ends the attempt.
    #[serde(default)]
    pub pending: i64,
    /// 0 while a draft; 1 on submit; each retry adds one.
    #[serde(default)]
    pub attempt: i64,
    #[serde(default)]
    pub documents_written: i64,
    #[serde(default)]
    pub failure_reason: Option<String>,
    #[serde(default)]
    pub event_published: bool,
    /// Bumped by every write, for writes that must apply over exactly what was read.
    #[serde(default)]
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub submitted_at: Option<String>,
    #[serde(default)]
    pub started_at: Option<String>,
    #[serde(default)]
    pub finished_at: Option<String>,
    #[serde(default)]
    pub last_activity_at: Option<String>,
}

/// What happened to one object in one attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectResult {
    pub object_id: String,
    pub status: ResultStatus,
    pub attempt: i64,
    /// Where a failure happened: `load`, `blob`, `extract`.
    #[serde(default)]
    pub stage: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub document_ids: Vec<String>,
    pub finished_at: String,
    /// The version of the object processed: its status is set only over that version.
    #[serde(default)]
    pub object_version: Option<i64>,
}

wire_enum! {
    /// What one object's run came to; also the object's status after it.
    pub enum ResultStatus {
        Completed = "COMPLETED",
        Failed = "FAILED",
        Skipped = "SKIPPED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_drafts_submit_and_only_failures_retry() {
        assert_eq!(
            BatchStatus::allowed_from(Action::Submit),
            &[BatchStatus::Draft]
        );
        assert!(!BatchStatus::allowed_from(Action::Retry).contains(&BatchStatus::Completed));
        assert!(!BatchStatus::allowed_from(Action::Cancel).contains(&BatchStatus::Completed));
        for a in [
            Action::AddObjects,
            Action::Submit,
            Action::Start,
            Action::Record,
        ] {
            for s in BatchStatus::allowed_from(a) {
                assert!(!s.is_terminal(), "{a:?} from terminal {s:?}");
            }
        }
    }

    #[test]
    fn outcomes() {
        assert_eq!(BatchStatus::outcome(3, 0, 1), BatchStatus::Completed);
        assert_eq!(BatchStatus::outcome(0, 2, 0), BatchStatus::Failed);
        assert_eq!(
            BatchStatus::outcome(1, 2, 0),
            BatchStatus::CompletedWithErrors
        );
        assert_eq!(BatchStatus::outcome(0, 0, 0), BatchStatus::Completed);
    }
}
