//! A sync's manifest: what it knows of each source file, to tell a file unchanged from
//! changed without touching the file's object.

use serde::{Deserialize, Serialize};

/// What the manifest knows of one source file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct ManifestEntry {
    pub(super) source_key: String,
    pub(super) token: String,
    pub(super) etag: String,
    pub(super) size: u64,
    pub(super) object_id: String,
    /// The run that wrote it, and as what (`new`, `modified`): a redelivered page of that
    /// run counts the file as it did the first time.
    pub(super) run_id: String,
    pub(super) kind: String,
}
