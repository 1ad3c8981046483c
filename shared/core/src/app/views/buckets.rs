//! The response views of buckets.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::entities::{Bucket, UniqueKey};
use crate::domain::status::RecordStatus;

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
