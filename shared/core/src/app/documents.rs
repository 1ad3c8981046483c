//! Documents: what extractors produce, one record per output, keyed so that writing an
//! object's output again replaces it instead of adding a copy.

use serde_json::{json, Map, Value};

use super::lists::{collect, ListRequest};
use super::views::{record, DocumentView, Page};
use super::{from_item, keys, to_item};
use crate::context::AppContext;
pub use crate::domain::collection::{Collection, Document};
use crate::domain::entities::{Bucket, Namespace};
use crate::domain::ids::{derived_id, IdKind};
use crate::error::Error;
use crate::ports::{Item, Key, Query, VectorRecord};

/// Largest filterable metadata S3 Vectors takes per vector is 2 KB; stay under it.
const VECTOR_METADATA_BUDGET: usize = 1500;
/// S3 Vectors takes at most 50 metadata keys per vector.
const VECTOR_METADATA_KEYS: usize = 50;

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
        crate::store::index::Entry::Document {
            collection_id: &self.collection_id,
            object_id: &self.object_id,
            n: self.index,
        }
        .insert_into(&mut item);
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

impl Document {
    /// Its vector with what search filters on: where it came from, and the object's
    /// scalar metadata as `metadata.<key>`.
    pub fn vector_record(&self) -> Option<VectorRecord> {
        let vector = self.embedding.clone()?;
        let mut metadata = Map::new();
        metadata.insert("object_id".into(), json!(self.object_id));
        metadata.insert("bucket_id".into(), json!(self.bucket_id));
        metadata.insert("index".into(), json!(self.index));
        if let Some(m) = self.fields.get("modality") {
            metadata.insert("modality".into(), m.clone());
        }
        let mut used = Value::Object(metadata.clone()).to_string().len();
        if let Some(Value::Object(meta)) = self.fields.get("metadata") {
            for (k, v) in meta {
                let fits = match v {
                    Value::String(s) => s.len() <= 256,
                    Value::Number(_) | Value::Bool(_) => true,
                    Value::Array(a) => a.iter().all(|x| x.as_str().is_some_and(|s| s.len() <= 64)),
                    _ => false,
                };
                let cost = k.len() + v.to_string().len() + 16;
                let room = metadata.len() < VECTOR_METADATA_KEYS;
                if fits && room && used + cost <= VECTOR_METADATA_BUDGET {
                    used += cost;
                    metadata.insert(format!("metadata.{k}"), v.clone());
                }
            }
        }
        Some(VectorRecord {
            key: self.document_id.clone(),
            vector,
            metadata,
        })
    }
}

/// Removes stored documents with everything that hangs off them: their by-id pointers,
/// their vectors and their thumbnails.
pub async fn remove(ctx: &AppContext, items: &[Item]) -> Result<(), Error> {
    let mut by_collection: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for item in items {
        let attr = |k: &str| item.get(k).and_then(Value::as_str);
        if let (Some(col), Some(id)) = (attr("collection_id"), attr("document_id")) {
            by_collection.entry(col).or_default().push(id.to_string());
        }
    }
    for (collection, keys) in by_collection {
        ctx.vectors.delete(collection, &keys).await?;
    }
    for item in items {
        let thumbnail = item
            .get("fields")
            .and_then(|f| f.get("thumbnail"))
            .and_then(|t| t.get("storage_key"))
            .and_then(Value::as_str);
        if let Some(key) = thumbnail {
            ctx.blobs.delete(key).await?;
        }
    }
    ctx.table.delete_many(keys_with_refs(items)).await?;
    Ok(())
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
) -> Result<DocumentView, Error> {
    let missing = || Error::not_found(format!("document {document_id:?}"));
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
    Ok(DocumentView::from(&d))
}

/// `GET …/objects/{id}/documents`: the object's documents in every collection.
pub async fn list_for_object(
    ctx: &AppContext,
    bucket: &Bucket,
    object_id: &str,
    req: &ListRequest,
) -> Result<Page<DocumentView>, Error> {
    let size = req.page_size()?;
    let query = Query::partition(keys::bkt_pk(&bucket.bucket_id))
        .prefix(keys::object_documents_prefix(object_id))
        .cursor(req.cursor()?);
    let filter = req.filter(&["collection_id", "document_id", "batch_id"])?;
    let (results, next) = collect(ctx.table.as_ref(), query, size, &filter, |item| {
        let d: Document = from_item(item)?;
        record(&DocumentView::from(&d)).map(Some)
    })
    .await?;
    Ok(Page::new(req.project(results), next, size, None).counted())
}

/// `POST /v1/collections/{id}/documents/list`.
pub async fn list_for_collection(
    ctx: &AppContext,
    collection: &Collection,
    req: &ListRequest,
) -> Result<Page<DocumentView>, Error> {
    let collection_id = collection.collection_id.as_str();
    let size = req.page_size()?;
    let query = crate::store::index::collection_documents(collection_id).cursor(req.cursor()?);
    let filter = req.filter(&["object_id", "document_id", "batch_id", "source_object_id"])?;
    let (results, next) = collect(ctx.table.as_ref(), query, size, &filter, |item| {
        let d: Document = from_item(item)?;
        record(&DocumentView::from(&d)).map(Some)
    })
    .await?;
    Ok(Page::new(req.project(results), next, size, None).counted())
}
