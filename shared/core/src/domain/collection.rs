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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub document_id: String,
    pub collection_id: String,
    pub namespace_id: String,
    pub bucket_id: String,
    pub object_id: String,
    pub batch_id: String,
    pub feature_extractor: ExtractorChoice,
    /// Position among the outputs of this extractor for this object.
    pub index: usize,
    pub fields: Map<String, Value>,
    pub created_at: String,
    /// Kept in the collection's vector index, not in the table.
    #[serde(skip)]
    pub embedding: Option<Vec<f32>>,
}
