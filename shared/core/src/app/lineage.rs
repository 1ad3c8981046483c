//! Where a document came from and what came of it: its ancestors (the documents it was
//! derived from, then the batch, blob and object behind it), its descendants (documents
//! that name it as their source), how it was made, and its media.

use std::time::Duration;

use serde_json::{json, Value};

use super::documents::{self, Document};
use super::lists::each_item;
use super::views::{record, DocumentDiagnostics, DocumentView, MediaLink};
use super::{collections, from_item, objects};
use crate::context::AppContext;
use crate::domain::collection::DocumentOrigin;
use crate::domain::embedding::EmbeddingSpec;
use crate::domain::entities::{Namespace, Object};
use crate::domain::extractors::writes_embeddings;
use crate::domain::status::ObjectStatus;
use crate::error::Error;
use crate::store::index;

/// Documents derived from one another at most this deep (a loop stops here too).
const MAX_DEPTH: usize = 16;
/// Descendants returned, and documents read looking for them.
const MAX_DESCENDANTS: usize = 1_000;
const MAX_SCANNED: usize = 100_000;
/// How long a media download URL lasts.
const DOWNLOAD_URL_TTL: Duration = Duration::from_secs(3600);

/// A lineage entry that is not a document: its id stands in `document_id`, and
/// `lineage_type` says what it is.
fn entry(kind: &str, id: &str, collection_id: &str, extra: Value) -> Value {
    let mut e = json!({"document_id": id, "collection_id": collection_id, "lineage_type": kind});
    if let (Some(m), Value::Object(x)) = (e.as_object_mut(), extra) {
        m.extend(x);
    }
    e
}

/// Nearest first: the documents it was derived from (`source_document_id`, followed),
/// then for the root the batch that wrote it, its blob and its object.
pub async fn ancestors(
    ctx: &AppContext,
    ns: &Namespace,
    doc: &Document,
    reader: Option<&str>,
) -> Result<Vec<Value>, Error> {
    let mut out = Vec::new();
    let mut at = doc.clone();
    while let Some(parent) = at.fields.get("source_document_id").and_then(Value::as_str) {
        if out.len() >= MAX_DEPTH {
            break;
        }
        match documents::stored(ctx, &ns.namespace_id, None, parent).await {
            Ok(d) if d.may_read(reader) => {
                let mut v = record(&DocumentView::from(&d))?;
                v["lineage_type"] = json!("document");
                out.push(v);
                at = d;
            }
            Ok(_) | Err(Error::NotFound(_)) => break,
            Err(e) => return Err(e),
        }
    }
    let col = &doc.collection_id;
    if !at.batch_id.is_empty() {
        out.push(entry(
            "batch",
            &at.batch_id,
            col,
            json!({"bucket_id": at.bucket_id}),
        ));
    }
    if let Some(blob) = at.fields.get("source_blob").filter(|b| b.is_object()) {
        let id = blob
            .get("blob_id")
            .and_then(Value::as_str)
            .unwrap_or_default();
        out.push(entry("blob", id, col, json!({"blob": blob})));
    }
    if !at.object_id.is_empty() {
        let object = objects::find(ctx, &at.bucket_id, &at.object_id).await?;
        let extra = json!({
            "bucket_id": at.bucket_id,
            "exists": object.is_some(),
            "key_prefix": object.as_ref().and_then(|o| o.key_prefix.clone()),
            "metadata": object.as_ref().map(|o| Value::Object(o.metadata.clone())),
        });
        out.push(entry("object", &at.object_id, col, extra));
    }
    Ok(out)
}

/// Documents of the namespace that name `doc` as their source, directly or through one
/// another (breadth first), at most [`MAX_DESCENDANTS`].
pub async fn descendants(
    ctx: &AppContext,
    ns: &Namespace,
    doc: &Document,
    reader: Option<&str>,
) -> Result<Vec<Value>, Error> {
    // Only created documents name a source, and they are read collection by collection.
    let mut children: Vec<(String, Document)> = Vec::new();
    let mut scanned = 0;
    for c in collections::all(ctx, &ns.namespace_id).await? {
        each_item(
            ctx.table.as_ref(),
            index::collection_documents(&c.collection_id),
            |item| {
                scanned += 1;
                let d: Document = from_item(item)?;
                if d.origin == DocumentOrigin::Created {
                    if let Some(src) = d.fields.get("source_document_id").and_then(Value::as_str) {
                        children.push((src.to_string(), d));
                    }
                }
                Ok(scanned < MAX_SCANNED)
            },
        )
        .await?;
    }
    let mut out = Vec::new();
    let mut frontier = vec![doc.document_id.clone()];
    for _ in 0..MAX_DEPTH {
        let next: Vec<&Document> = children
            .iter()
            .filter(|(src, _)| frontier.contains(src))
            .map(|(_, d)| d)
            .collect();
        if next.is_empty() || out.len() >= MAX_DESCENDANTS {
            break;
        }
        frontier = next.iter().map(|d| d.document_id.clone()).collect();
        for d in next.into_iter().filter(|d| d.may_read(reader)) {
            out.push(record(&DocumentView::from(d))?);
        }
    }
    out.truncate(MAX_DESCENDANTS);
    Ok(out)
}

/// How a document was made and whether search finds it.
pub async fn diagnostics(ctx: &AppContext, doc: &Document) -> Result<DocumentDiagnostics, Error> {
    let fe = &doc.feature_extractor;
    let keeps_vectors = writes_embeddings(&fe.feature_extractor_name);
    let model = doc.fields.get("embedding_model").and_then(Value::as_str);
    let spec = EmbeddingSpec::of(fe.params.as_ref());
    let (searchable, reason) = match (keeps_vectors, model, doc.origin) {
        (false, _, _) => (
            false,
            format!(
                "{} keeps no vectors: find it by listing, not search",
                fe.feature_extractor_name
            ),
        ),
        (true, Some(m), _) => (
            true,
            format!(
                "its vector ({m}, {} dimensions) is in its collection's index",
                spec.dimensions
            ),
        ),
        (true, None, DocumentOrigin::Created) => (
            true,
            "its vector was given or embedded when it was written".into(),
        ),
        (true, None, DocumentOrigin::Extracted) => (
            false,
            "it has no embedding (its content had nothing to embed)".into(),
        ),
    };
    let object = match doc.object_id.is_empty() {
        true => None,
        false => objects::find(ctx, &doc.bucket_id, &doc.object_id).await?,
    };
    let failures: Vec<Value> = object
        .iter()
        .filter(|o| o.status == ObjectStatus::Failed)
        .map(|o| json!({"source": "object", "object_id": o.object_id, "status": o.status.as_str(), "error": o.error}))
        .collect();
    let mut history = vec![json!({
        "source": if doc.origin == DocumentOrigin::Created { "api" } else { "batch" },
        "timestamp": doc.created_at,
        "detail": {
            "batch_id": (!doc.batch_id.is_empty()).then_some(&doc.batch_id),
            "feature_extractor": format!("{}_{}", fe.feature_extractor_name, fe.version),
            "embedding_model": model,
            "dimensions": keeps_vectors.then_some(spec.dimensions),
            "index": doc.index,
            "source_blob": doc.fields.get("source_blob"),
        },
    })];
    if let Some(at) = &doc.updated_at {
        history
            .push(json!({"source": "update", "timestamp": at, "detail": {"version": doc.version}}));
    }
    let source = (!doc.object_id.is_empty()).then(|| doc.object_id.clone());
    let failed_reason = match failures.is_empty() {
        true => "no failure recorded",
        false => "the source object failed its last processing",
    };
    Ok(DocumentDiagnostics {
        document_id: doc.document_id.clone(),
        collection_id: doc.collection_id.clone(),
        visibility_reason: json!({"searchable": searchable, "reason": reason, "source_object_id": source}),
        recent_failures: json!({"failures": failures, "reason": failed_reason}),
        diagnostic_history: json!({"entries": history}),
        source_object_id: source,
    })
}

/// A URL for the media behind a document: a short-lived GET URL of its stored blob, or
/// the URL it was registered by; with the stretch it covers (seconds, for a segment).
pub async fn media(ctx: &AppContext, doc: &Document) -> Result<MediaLink, Error> {
    let none = || {
        Error::field(
            "document_id",
            format!("document {} has no media behind it", doc.document_id),
        )
    };
    let blob_id = doc
        .fields
        .get("source_blob")
        .and_then(|b| b.get("blob_id"))
        .and_then(Value::as_str)
        .ok_or_else(none)?;
    let object: Object = objects::find(ctx, &doc.bucket_id, &doc.object_id)
        .await?
        .ok_or_else(|| {
            Error::not_found(format!("object {} (the document's source)", doc.object_id))
        })?;
    let blob = object
        .blobs
        .iter()
        .find(|b| b.blob_id == blob_id)
        .ok_or_else(none)?;
    let url = match (
        blob.storage_key(),
        blob.properties.get("url").and_then(Value::as_str),
    ) {
        (Some(key), _) => ctx.blobs.presign_get(key, DOWNLOAD_URL_TTL).await?,
        (None, Some(url)) => url.to_string(),
        (None, None) => return Err(none()),
    };
    // A video or audio segment's stretch; the whole blob otherwise (0 to 0).
    let seconds = |k: &str| {
        doc.fields
            .get("segment")
            .and_then(|s| s.get(k))
            .and_then(Value::as_f64)
    };
    let (start, end) = (
        seconds("start_time").unwrap_or(0.0),
        seconds("end_time").unwrap_or(0.0),
    );
    Ok(MediaLink {
        download_url: url,
        cached: false,
        start_time: start,
        end_time: end,
        expires_in_seconds: DOWNLOAD_URL_TTL.as_secs(),
    })
}
