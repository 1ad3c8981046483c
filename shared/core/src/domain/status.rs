//! The states records are in, as the API and the table spell them.

use super::wire::wire_enum;

wire_enum! {
    /// A namespace or bucket: in use, or being purged.
    pub enum RecordStatus {
        Active = "ACTIVE",
        Deleting = "DELETING",
    }
}

wire_enum! {
    /// An object: PENDING until a batch run finishes with it.
    pub enum ObjectStatus {
        Pending = "PENDING",
        Completed = "COMPLETED",
        Failed = "FAILED",
        Skipped = "SKIPPED",
    }
}

wire_enum! {
    /// A presigned upload.
    pub enum UploadStatus {
        Pending = "PENDING",
        Completed = "COMPLETED",
        Failed = "FAILED",
        Canceled = "CANCELED",
    }
}

wire_enum! {
    /// A task (the SDK's `TaskStatusEnum` values Sluice uses).
    pub enum TaskStatus {
        Pending = "PENDING",
        InProgress = "IN_PROGRESS",
        Processing = "PROCESSING",
        Completed = "COMPLETED",
        CompletedWithErrors = "COMPLETED_WITH_ERRORS",
        Failed = "FAILED",
        Canceled = "CANCELED",
        Skipped = "SKIPPED",
    }
}

impl TaskStatus {
    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            TaskStatus::Pending | TaskStatus::InProgress | TaskStatus::Processing
        )
    }
}

wire_enum! {
    /// A sync configuration or a storage connection: ACTIVE, or SUSPENDED after
    /// repeated failures (or by the user).
    pub enum SyncStatus {
        Active = "ACTIVE",
        Suspended = "SUSPENDED",
    }
}

/// Connections are suspended and reactivated exactly as syncs are.
pub type ConnectionStatus = SyncStatus;

wire_enum! {
    /// One run of a sync (a sync job).
    pub enum RunStatus {
        Running = "running",
        Completed = "completed",
        Failed = "failed",
        /// Ended by a sync's delete or reconfiguration while it ran.
        Interrupted = "interrupted",
    }
}
