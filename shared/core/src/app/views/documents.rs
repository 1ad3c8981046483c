//! The response views of documents.

use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::domain::collection::Document;

use super::*;

/// A document: where it came from, then the fields its extractor wrote (text, chunk
/// position, blob details, the object's metadata, …).
#[derive(Debug, Serialize, JsonSchema)]
pub struct DocumentView {
    pub document_id: String,
    pub collection_id: String,
    pub namespace_id: String,
    pub source_object_id: String,
    pub root_object_id: String,
    pub source_bucket_id: String,
    pub batch_id: String,
    pub feature_extractor: ExtractorRef,
    pub created_at: String,
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

const DOCUMENT_FIXED: &[&str] = &[
    "document_id",
    "collection_id",
    "namespace_id",
    "source_object_id",
    "root_object_id",
    "source_bucket_id",
    "batch_id",
    "feature_extractor",
    "created_at",
    "score",
];

impl From<&Document> for DocumentView {
    fn from(d: &Document) -> Self {
        DocumentView {
            document_id: d.document_id.clone(),
            collection_id: d.collection_id.clone(),
            namespace_id: d.namespace_id.clone(),
            source_object_id: d.object_id.clone(),
            root_object_id: d.object_id.clone(),
            source_bucket_id: d.bucket_id.clone(),
            batch_id: d.batch_id.clone(),
            feature_extractor: ExtractorRef {
                feature_extractor_name: d.feature_extractor.feature_extractor_name.clone(),
                version: d.feature_extractor.version.clone(),
                params: None,
                feature_extractor_id: None,
            },
            created_at: d.created_at.clone(),
            // The provenance fields above win over an extractor field of the same name.
            fields: d
                .fields
                .iter()
                .filter(|(k, _)| !DOCUMENT_FIXED.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}
