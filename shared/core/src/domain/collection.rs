//! Collections (one extractor's output over a namespace's buckets) and the documents in
//! them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::extractors::ExtractorChoice;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Collection {
    pub collection_id: String,
    pub collection_name: String,
    pub namespace_id: String,
    pub feature_extractor: ExtractorChoice,
    /// The buckets it takes objects from; `None`: every bucket of the namespace.
    #[serde(default)]
    pub source_bucket_ids: Option<Vec<String>>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "enabled")]
    pub enabled: bool,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    pub created_at: String,
    /// Kept with atomic adds as documents are written and removed.
    #[serde(default)]
    pub document_count: i64,
}

fn enabled() -> bool {
    true
}

impl Collection {
    pub fn takes_from(&self, bucket_id: &str) -> bool {
        self.enabled
            && self
                .source_bucket_ids
                .as_ref()
                .is_none_or(|ids| ids.iter().any(|b| b == bucket_id))
    }
}

/// How a document came to be: written by an extractor from an object, or created
/// through the API (with whatever lineage its request named).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentOrigin {
    #[default]
    Extracted,
    Created,
}

/// Who may see and change a document beyond its namespace's keys: an empty list leaves
/// that right to every key of the namespace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DocumentAcl {
    /// API key ids that may read it (with `public`, every key of the namespace may).
    #[serde(default)]
    pub read: Vec<String>,
    /// API key ids that may change or delete it.
    #[serde(default)]
    pub write: Vec<String>,
    #[serde(default)]
    pub public: bool,
}

impl DocumentAcl {
    pub fn may_read(&self, key_id: Option<&str>) -> bool {
        self.public
            || self.read.is_empty()
            || key_id.is_some_and(|k| self.read.iter().any(|r| r == k))
    }
    pub fn may_write(&self, key_id: Option<&str>) -> bool {
        self.write.is_empty() || key_id.is_some_and(|k| self.write.iter().any(|w| w == k))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub document_id: String,
    pub collection_id: String,
    pub namespace_id: String,
    /// The object it came from (an extracted document's, or the root a created one named;
    /// empty when it named none).
    pub bucket_id: String,
    pub object_id: String,
    /// The batch that wrote it (empty for a created document).
    pub batch_id: String,
    pub feature_extractor: ExtractorChoice,
    /// Position among the outputs of this extractor for this object.
    pub index: usize,
    pub fields: Map<String, Value>,
    pub created_at: String,
    #[serde(default)]
    pub origin: DocumentOrigin,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// The batch whose recorded results counted it into its collection's
    /// `document_count`: a rewrite by a later batch does not count it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<DocumentAcl>,
    /// Raised by each change through the API; a change is written over the version read.
    #[serde(default)]
    pub version: i64,
    /// Its object's, once the object is soft-deleted: not retrieved or searched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle: Option<super::entities::Lifecycle>,
    /// Its vector while its object is soft-deleted (out of the index, kept for a restore).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retired_vector: Option<Vec<f32>>,
    /// Kept in the collection's vector index, not in the table.
    #[serde(skip)]
    pub embedding: Option<Vec<f32>>,
}

impl Document {
    pub fn may_read(&self, key_id: Option<&str>) -> bool {
        self.lifecycle.is_none() && self.acl.as_ref().is_none_or(|a| a.may_read(key_id))
    }
    pub fn may_write(&self, key_id: Option<&str>) -> bool {
        self.acl.as_ref().is_none_or(|a| a.may_write(key_id))
    }
}
