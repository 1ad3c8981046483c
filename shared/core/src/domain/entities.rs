//! The records Sluice keeps. Counters (`*_count`, `total_size_bytes`) are maintained
//! with atomic adds by the services; everything else is written whole.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::extractors::ExtractorChoice;
use super::status::{ObjectStatus, RecordStatus, TaskStatus, UploadStatus};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Org {
    pub org_id: String,
    pub name: String,
    pub created_at: String,
    #[serde(default)]
    pub namespace_count: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKey {
    pub key_id: String,
    pub org_id: String,
    pub name: String,
    /// sha256 of the plaintext; the plaintext is shown once and never stored.
    pub key_hash: String,
    /// First characters of the plaintext, to recognise a key in a listing.
    pub key_hint: String,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Namespace {
    pub namespace_id: String,
    pub namespace_name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub feature_extractors: Vec<ExtractorChoice>,
    pub org_id: String,
    pub status: RecordStatus,
    #[serde(default)]
    pub bucket_count: i64,
    #[serde(default)]
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UniqueKey {
    pub fields: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_policy: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bucket {
    pub bucket_id: String,
    pub bucket_name: String,
    pub namespace_id: String,
    pub org_id: String,
    #[serde(default)]
    pub description: Option<String>,
    pub bucket_schema: Value,
    #[serde(default)]
    pub unique_key: Option<UniqueKey>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    pub status: RecordStatus,
    #[serde(default)]
    pub object_count: i64,
    #[serde(default)]
    pub total_size_bytes: i64,
    #[serde(default)]
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default)]
    pub last_upload_at: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BlobDetails {
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default)]
    pub size_bytes: Option<i64>,
    #[serde(default)]
    pub mime_type: Option<String>,
    /// sha256 hex of the bytes when known.
    #[serde(default)]
    pub hash: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Blob {
    pub blob_id: String,
    pub property: String,
    #[serde(rename = "type")]
    pub blob_type: String,
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// Where the bytes are: `source` (`url` or `inline`), and `url` or `storage_key`.
    #[serde(default)]
    pub properties: Map<String, Value>,
    #[serde(default)]
    pub details: BlobDetails,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
}

impl Blob {
    pub fn storage_key(&self) -> Option<&str> {
        self.properties.get("storage_key").and_then(Value::as_str)
    }
}

/// Stored once per object, so what it leaves out (`None`s) is disk saved per object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Object {
    pub object_id: String,
    pub bucket_id: String,
    pub namespace_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_prefix: Option<String>,
    #[serde(default)]
    pub blobs: Vec<Blob>,
    #[serde(default)]
    pub metadata: Map<String, Value>,
    pub status: ObjectStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Content fingerprint for `skip_duplicates`.
    pub fingerprint: String,
    /// Hash of the bucket's unique-key values, when the bucket has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unique_hash: Option<String>,
    #[serde(default)]
    pub size_bytes: i64,
    #[serde(default)]
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
    /// Set by a soft delete: the record stays, and retrieval no longer sees it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<Lifecycle>,
}

/// A record kept but out of use: its objects and their documents are not retrieved,
/// searched or processed. There is no self-service way back (as in Mixpeek): the
/// operator may restore it (`sluice-admin restore-objects`) until `purge_after`, when
/// the sweeper deletes it for good.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Lifecycle {
    /// `disabled` unless the request named another.
    pub state: String,
    pub reason: String,
    /// Who flipped it (`bulk_purge` unless named).
    pub source: String,
    pub at: String,
    /// The end of the restore window (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purge_after: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Task {
    pub task_id: String,
    pub task_type: String,
    pub status: TaskStatus,
    pub org_id: String,
    #[serde(default)]
    pub namespace_id: Option<String>,
    #[serde(default)]
    pub inputs: Vec<Value>,
    #[serde(default)]
    pub outputs: Vec<Value>,
    #[serde(default)]
    pub additional_data: Map<String, Value>,
    #[serde(default)]
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A presigned upload: the bytes go straight to the blob store, then a confirm (or the
/// store's own notification) turns them into an object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upload {
    pub upload_id: String,
    pub bucket_id: String,
    pub namespace_id: String,
    pub filename: String,
    pub content_type: String,
    #[serde(default)]
    pub file_size_bytes: Option<i64>,
    pub presigned_url_expiration: i64,
    pub create_object_on_confirm: bool,
    #[serde(default)]
    pub object_metadata: Option<Map<String, Value>>,
    pub blob_property: String,
    pub blob_type: String,
    /// Declared sha256 (pinned into the URL), then the stored bytes' sha256 once confirmed.
    #[serde(default)]
    pub file_hash: Option<String>,
    pub skip_duplicates: bool,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// PENDING → COMPLETED, or FAILED (expired) / CANCELED.
    pub status: UploadStatus,
    #[serde(default)]
    pub message: Option<String>,
    /// Where the presigned URL writes.
    pub storage_key: String,
    /// Where the confirmed bytes live, for objects to read: a key no presigned URL
    /// names (a single PUT's bytes are promoted there), or the assembled multipart file.
    #[serde(default)]
    pub blob_key: Option<String>,
    /// Whether an object holds these bytes (an upload backs at most one object).
    #[serde(default)]
    pub linked: bool,
    #[serde(default)]
    pub object_id: Option<String>,
    #[serde(default)]
    pub etag: Option<String>,
    /// For files above the multipart threshold: the store's multipart upload and part size.
    #[serde(default)]
    pub multipart_id: Option<String>,
    #[serde(default)]
    pub part_size: Option<i64>,
    pub created_at: String,
    pub expires_at: String,
    #[serde(default)]
    pub completed_at: Option<String>,
    #[serde(default)]
    pub verified_at: Option<String>,
    #[serde(default)]
    pub version: i64,
}
