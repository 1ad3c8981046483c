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
