//! The response views of namespaces.

use schemars::JsonSchema;
use serde::Serialize;

use crate::domain::entities::Namespace;
use crate::domain::extractors::ExtractorChoice;

#[derive(Debug, Serialize, JsonSchema)]
pub struct NamespaceView {
    /// Always `namespace`.
    pub object: String,
    pub namespace_id: String,
    pub namespace_name: String,
    pub description: Option<String>,
    pub feature_extractors: Vec<ExtractorChoice>,
    pub mode: String,
    pub namespace_ready: bool,
    pub bucket_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Namespace> for NamespaceView {
    fn from(ns: &Namespace) -> Self {
        NamespaceView {
            object: "namespace".into(),
            namespace_id: ns.namespace_id.clone(),
            namespace_name: ns.namespace_name.clone(),
            description: ns.description.clone(),
            feature_extractors: ns.feature_extractors.clone(),
            mode: "managed".into(),
            namespace_ready: true,
            bucket_count: ns.bucket_count,
            created_at: ns.created_at.clone(),
            updated_at: ns.updated_at.clone(),
        }
    }
}

/// `GET /v1/namespaces/{id}/stats`, from the counters kept as things change.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NamespaceStats {
    pub namespace_id: String,
    pub bucket_count: i64,
    pub object_count: i64,
    pub collection_count: i64,
    pub document_count: i64,
    /// Always true: the counts are kept with every write, not sampled.
    pub document_count_complete: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct NamespaceStatsBatch {
    pub stats: std::collections::BTreeMap<String, NamespaceStats>,
}

/// One collection's vector index, made if it was missing.
#[derive(Debug, Serialize, JsonSchema)]
pub struct IndexState {
    pub collection_id: String,
    pub dimensions: usize,
    pub status: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct IndexesEnsured {
    pub namespace_id: String,
    pub indexes: Vec<IndexState>,
    pub message: String,
}

/// `GET /v1/namespaces/{id}/extractors`: the extractors the namespace runs.
#[derive(Debug, Serialize, JsonSchema)]
pub struct NamespaceExtractors {
    pub success: bool,
    pub namespace_id: String,
    pub extractors: Vec<super::ExtractorView>,
    pub total: usize,
    pub builtin_count: usize,
    pub custom_count: usize,
}
