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
    /// The object it came from (`null` for a created document that named none).
    pub source_object_id: Option<String>,
    pub root_object_id: Option<String>,
    pub source_bucket_id: Option<String>,
    /// The batch that wrote it (`null` for a created document).
    pub batch_id: Option<String>,
    pub feature_extractor: ExtractorRef,
    pub created_at: String,
    pub updated_at: Option<String>,
    #[serde(flatten)]
    pub fields: Map<String, Value>,
}

/// The provenance fields of a document's view: an extractor's field of the same name
/// does not show, and a request cannot write one.
pub const DOCUMENT_FIXED: &[&str] = &[
    "document_id",
    "collection_id",
    "namespace_id",
    "source_object_id",
    "root_object_id",
    "source_bucket_id",
    "batch_id",
    "feature_extractor",
    "created_at",
    "updated_at",
    "score",
];

impl From<&Document> for DocumentView {
    fn from(d: &Document) -> Self {
        DocumentView {
            document_id: d.document_id.clone(),
            collection_id: d.collection_id.clone(),
            namespace_id: d.namespace_id.clone(),
            source_object_id: some(&d.object_id),
            root_object_id: some(&d.object_id),
            source_bucket_id: some(&d.bucket_id),
            batch_id: some(&d.batch_id),
            feature_extractor: ExtractorRef {
                feature_extractor_name: d.feature_extractor.feature_extractor_name.clone(),
                version: d.feature_extractor.version.clone(),
                params: None,
                feature_extractor_id: None,
            },
            created_at: d.created_at.clone(),
            updated_at: d.updated_at.clone(),
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

fn some(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// What one document of a batch request came to.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DocumentOutcome {
    pub document_id: String,
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a batch or bulk change of documents came to, document by document.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DocumentsChanged {
    /// `completed`: the change ran within the request.
    pub status: String,
    pub updated_count: usize,
    pub failed_count: usize,
    pub results: Vec<DocumentOutcome>,
    pub message: String,
}

impl DocumentsChanged {
    pub fn new(results: Vec<DocumentOutcome>) -> Self {
        let failed_count = results.iter().filter(|r| !r.success).count();
        let updated_count = results.len() - failed_count;
        DocumentsChanged {
            status: "completed".into(),
            message: format!("{updated_count} updated, {failed_count} failed"),
            updated_count,
            failed_count,
            results,
        }
    }
}

/// What a batch delete of documents came to, document by document.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DocumentsDeleted {
    pub status: String,
    pub deleted_count: usize,
    pub failed_count: usize,
    pub results: Vec<DocumentOutcome>,
    pub message: String,
}

impl DocumentsDeleted {
    pub fn new(results: Vec<DocumentOutcome>) -> Self {
        let failed_count = results.iter().filter(|r| !r.success).count();
        let deleted_count = results.len() - failed_count;
        DocumentsDeleted {
            status: "completed".into(),
            message: format!("{deleted_count} deleted, {failed_count} failed"),
            deleted_count,
            failed_count,
            results,
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DocumentCount {
    pub collection_id: String,
    pub count: i64,
}

/// Documents asked for by id: those found, and the ids not found (or not readable).
#[derive(Debug, Serialize, JsonSchema)]
pub struct DocumentsFound {
    pub documents: Vec<DocumentView>,
    pub not_found: Vec<String>,
}

/// `POST …/documents/schema/validate`: what a create or change would say of a body.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DocumentValidation {
    pub valid: bool,
    /// Each refusal: `{field, reason}`.
    pub errors: Vec<Value>,
    pub collection_id: String,
}

/// `GET …/documents/{id}/diagnostics`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct DocumentDiagnostics {
    pub document_id: String,
    pub collection_id: String,
    pub source_object_id: Option<String>,
    /// `{searchable, reason, source_object_id}`.
    pub visibility_reason: Value,
    /// `{failures: [{source, object_id, status, error}], reason}`.
    pub recent_failures: Value,
    /// `{entries: [{source, timestamp, detail}]}`.
    pub diagnostic_history: Value,
}

/// `GET …/documents/{id}/download`.
#[derive(Debug, Serialize, JsonSchema)]
pub struct MediaLink {
    pub download_url: String,
    pub cached: bool,
    /// The stretch of the media the document covers, in seconds (0 to 0: all of it).
    pub start_time: f64,
    pub end_time: f64,
    pub expires_in_seconds: u64,
}

/// One list of `POST /v1/documents/list/batch`: its page, or why it failed.
#[derive(Debug, Serialize, JsonSchema)]
pub struct ListBatchResult {
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<Page<DocumentView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ListBatchResults {
    pub results: Vec<ListBatchResult>,
}
