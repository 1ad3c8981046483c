//! Documents: what extractors produce, one record per output, keyed so that writing an
//! object's output again replaces it instead of adding a copy.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::lists::{collect, page_json, ListRequest};
use super::{from_item, keys, to_item};
use crate::context::AppContext;
use crate::domain::entities::{Bucket, Namespace};
use crate::domain::extractors::ExtractorChoice;
use crate::domain::ids::{derived_id, IdKind};
use crate::error::ApiError;
use crate::ports::{Index, Item, Key, Query};

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
}

impl Document {
    pub fn id_for(collection_id: &str, object_id: &str, index: usize) -> String {
        derived_id(
            IdKind::Document,
            &[collection_id, object_id, &index.to_string()],
        )
    }

    pub fn to_item(&self) -> Item {
        let key = keys::document(
            &self.bucket_id,
            &self.object_id,
            &self.collection_id,
            self.index,
        );
        let mut item = to_item(&key, self);
        item.insert(
            "gsi1pk".into(),
            json!(keys::collection_index_pk(&self.collection_id)),
        );
        item.insert(
            "gsi1sk".into(),
            json!(format!("{}#{:04}", self.object_id, self.index)),
        );
        item
    }
}

impl Document {
    /// The pointer that finds this document by its id alone.
    pub fn ref_item(&self) -> Item {
        let mut item = super::pointer(
            &keys::document_ref(&self.namespace_id, &self.document_id),
            "bucket_id",
            &self.bucket_id,
        );
        item.insert("object_id".into(), json!(self.object_id));
        item.insert("collection_id".into(), json!(self.collection_id));
        item.insert("index".into(), json!(self.index));
        item
    }
}

/// The keys of stored documents and of their by-id pointers, for deleting both.
pub fn keys_with_refs(items: &[Item]) -> Vec<Key> {
    let mut out = Vec::with_capacity(items.len() * 2);
    for item in items {
        out.extend(Key::of(item));
        let attr = |k: &str| item.get(k).and_then(Value::as_str);
        if let (Some(ns), Some(id)) = (attr("namespace_id"), attr("document_id")) {
            out.push(keys::document_ref(ns, id));
        }
    }
    out
}

/// A document by id, within the caller's namespace (and collection, when given).
pub async fn get(
    ctx: &AppContext,
    ns: &Namespace,
    collection_id: Option<&str>,
    document_id: &str,
) -> Result<Value, ApiError> {
    let missing = || ApiError::not_found(format!("document {document_id:?}"));
    let pointer = ctx
        .table
        .get(&keys::document_ref(&ns.namespace_id, document_id))
        .await?
        .ok_or_else(missing)?;
    let attr = |k: &str| {
        pointer
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    if collection_id.is_some_and(|c| c != attr("collection_id")) {
        return Err(missing());
    }
    let index = pointer.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
    let key = keys::document(
        &attr("bucket_id"),
        &attr("object_id"),
        &attr("collection_id"),
        index,
    );
    let item = ctx.table.get(&key).await?.ok_or_else(missing)?;
    let d: Document = from_item(item)?;
    Ok(document_json(&d))
}

pub fn document_json(d: &Document) -> Value {
    let mut out = json!({
        "document_id": d.document_id,
        "collection_id": d.collection_id,
        "namespace_id": d.namespace_id,
        "source_object_id": d.object_id,
        "root_object_id": d.object_id,
        "source_bucket_id": d.bucket_id,
        "batch_id": d.batch_id,
        "feature_extractor": {
            "feature_extractor_name": d.feature_extractor.feature_extractor_name,
            "version": d.feature_extractor.version,
        },
        "created_at": d.created_at,
    });
    if let Some(m) = out.as_object_mut() {
        for (k, v) in &d.fields {
            m.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    out
}

/// `GET …/objects/{id}/documents`: the object's documents in every collection.
pub async fn list_for_object(
    ctx: &AppContext,
    bucket: &Bucket,
    object_id: &str,
    req: &ListRequest,
) -> Result<Value, ApiError> {
    let size = req.page_size()?;
    let query = Query::partition(keys::bkt_pk(&bucket.bucket_id))
        .prefix(keys::object_documents_prefix(object_id))
        .cursor(req.cursor()?);
    let filter = req.filter(&["collection_id", "document_id", "batch_id"])?;
    let (results, next) = collect(ctx.table.as_ref(), query, size, &filter, |item| {
        let d: Document = from_item(item)?;
        Ok(Some(document_json(&d)))
    })
    .await?;
    Ok(page_json(req.project(results), next, size, None))
}

/// `POST /v1/collections/{id}/documents/list`.
pub async fn list_for_collection(
    ctx: &AppContext,
    ns: &Namespace,
    collection_id: &str,
    req: &ListRequest,
) -> Result<Value, ApiError> {
    super::collections::get(ctx, ns, collection_id).await?;
    let size = req.page_size()?;
    let query = Query::partition(keys::collection_index_pk(collection_id))
        .on(Index::Gsi1)
        .cursor(req.cursor()?);
    let filter = req.filter(&["object_id", "document_id", "batch_id", "source_object_id"])?;
    let (results, next) = collect(ctx.table.as_ref(), query, size, &filter, |item| {
        let d: Document = from_item(item)?;
        Ok(Some(document_json(&d)))
    })
    .await?;
    Ok(page_json(req.project(results), next, size, None))
}
