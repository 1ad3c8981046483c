//! The response views of collections.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::collection::Collection;

#[derive(Debug, Serialize, JsonSchema)]
pub struct CollectionDeleted {
    pub success: bool,
    pub collection_id: String,
    pub documents_deleted: usize,
    pub message: String,
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
    /// Its documents, counted as they are written and removed.
    pub document_count: i64,
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
            document_count: c.document_count,
        }
    }
}

/// `POST /v1/collections/{id}/clone`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CollectionCloned {
    pub collection: CollectionView,
    pub source_collection_id: String,
    /// With `?copy_documents=true`: the task copying the documents and their vectors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
}

/// `POST /v1/collections/{id}/trigger` (202): the batches submitted, the first named as
/// the SDK expects.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CollectionTriggered {
    pub collection_id: String,
    pub batch_id: Option<String>,
    pub task_id: String,
    pub source_bucket_ids: Vec<String>,
    pub object_count: usize,
    pub batch_ids: Vec<String>,
    pub task_ids: Vec<String>,
    pub batch_count: usize,
    /// Always 1: Sluice runs a batch as one tier.
    pub total_tiers: u32,
    pub message: String,
    pub batches: Vec<super::SubmittedBatch>,
}
