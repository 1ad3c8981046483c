//! Documents: what extractors produce, one record per output, keyed so that writing an
//! object's output again replaces it instead of adding a copy; and documents created,
//! changed and deleted through the API (`write`).

use std::collections::BTreeMap;

use futures::StreamExt;

use serde_json::{json, Map, Value};

use super::lists::{collect, ListRequest};
use super::views::{record, DocumentView, DocumentsFound, Page};
use super::{from_item, keys, to_item};
use crate::context::AppContext;
pub use crate::domain::collection::{Collection, Document, DocumentAcl, DocumentOrigin};
use crate::domain::entities::{Bucket, Namespace};
use crate::domain::ids::{derived_id, IdKind};
use crate::error::Error;
use crate::ports::{Cond, Item, Key, Query, StoreError, Update, VectorMatch, VectorRecord, Write};

/// Largest filterable metadata S3 Vectors takes per vector is 2 KB; stay under it.
const VECTOR_METADATA_BUDGET: usize = 1500;
/// S3 Vectors takes at most 50 metadata keys per vector.
const VECTOR_METADATA_KEYS: usize = 50;

mod stats;
mod write;

pub use stats::{aggregate, distinct, Distinct, DistinctValues};

pub use write::{
    batch_delete, batch_update, bulk_update, change, create, delete, is_reserved, update_acl,
    validate, BatchDelete, BatchUpdate, BulkUpdate, CreateDocument, DocumentChange, UpdateAcl,
    Writer, BATCH_LIMIT, BULK_LIMIT,
};

impl Document {
    pub fn id_for(collection_id: &str, object_id: &str, index: usize) -> String {
        derived_id(
            IdKind::Document,
            &[collection_id, object_id, &index.to_string()],
        )
    }

    /// Where it is stored: by object for what extractors write, in its collection's own
    /// partition when created through the API.
    pub fn key(&self) -> Key {
        key_of(
            self.origin,
            &self.bucket_id,
            &self.object_id,
            &self.collection_id,
            self.index,
            &self.document_id,
        )
    }

    pub fn to_item(&self) -> Item {
        let mut item = to_item(&self.key(), self);
        let in_collection = match self.origin {
            DocumentOrigin::Extracted => &self.object_id,
            DocumentOrigin::Created => &self.document_id,
        };
        crate::store::index::Entry::Document {
            collection_id: &self.collection_id,
            object_id: in_collection,
            n: self.index,
        }
        .insert_into(&mut item);
        item
    }
}

fn key_of(
    origin: DocumentOrigin,
    bucket_id: &str,
    object_id: &str,
    collection_id: &str,
    index: usize,
    document_id: &str,
) -> Key {
    match origin {
        DocumentOrigin::Extracted => keys::document(bucket_id, object_id, collection_id, index),
        DocumentOrigin::Created => keys::created_document(collection_id, document_id),
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
        item.insert("origin".into(), json!(self.origin));
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
        if self.origin == DocumentOrigin::Created {
            metadata.insert("origin".into(), json!(self.origin));
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

/// Where the document behind a search hit in `collection_id` is stored (from what its
/// vector carries).
pub fn key_of_match(collection_id: &str, m: &VectorMatch) -> Option<Key> {
    let s = |k: &str| m.metadata.get(k).and_then(Value::as_str);
    if s("origin") == Some("created") {
        return Some(keys::created_document(collection_id, &m.key));
    }
    let index = m.metadata.get("index").and_then(Value::as_u64)? as usize;
    Some(keys::document(
        s("bucket_id")?,
        s("object_id")?,
        collection_id,
        index,
    ))
}

/// Removes stored documents with everything that hangs off them: their by-id pointers,
/// their vectors, their thumbnails and their place in their collections' counts.
pub async fn remove(ctx: &AppContext, items: &[Item]) -> Result<(), Error> {
    let mut by_collection: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
    // A soft-deleted object's documents left search and their counts already.
    let mut counted: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for item in items {
        let attr = |k: &str| item.get(k).and_then(Value::as_str);
        if let (Some(ns), Some(col), Some(id)) = (
            attr("namespace_id"),
            attr("collection_id"),
            attr("document_id"),
        ) {
            by_collection
                .entry((ns, col))
                .or_default()
                .push(id.to_string());
            if item.get("lifecycle").is_none_or(Value::is_null) {
                *counted.entry((ns, col)).or_default() += 1;
            }
        }
    }
    for ((_, collection), keys) in &by_collection {
        ctx.vectors.delete(collection, keys).await?;
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
    for ((ns, collection), n) in counted {
        recount(ctx, ns, collection, -n).await?;
    }
    Ok(())
}

/// Adds to a collection's document count, in a transaction of the caller's.
pub fn count_write(namespace_id: &str, collection_id: &str, delta: i64) -> Write {
    Write::Update {
        key: keys::collection(namespace_id, collection_id),
        updates: vec![Update::Add("document_count".into(), delta)],
        cond: Cond::Exists,
    }
}

/// Adds to a collection's document count on its own; a collection being deleted has
/// none left to keep.
pub async fn recount(
    ctx: &AppContext,
    namespace_id: &str,
    collection_id: &str,
    delta: i64,
) -> Result<(), Error> {
    match ctx
        .table
        .write(count_write(namespace_id, collection_id, delta))
        .await
    {
        Ok(_) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Puts vectors in a collection's index, making the index with its first vectors (asking
/// first would cost a call per write for the life of the collection).
pub async fn put_vectors(
    ctx: &AppContext,
    collection_id: &str,
    records: Vec<VectorRecord>,
) -> Result<(), Error> {
    let Some(dimensions) = records.first().map(|r| r.vector.len()) else {
        return Ok(());
    };
    match ctx.vectors.put(collection_id, records.clone()).await {
        Err(StoreError::NotFound) => {
            ctx.vectors.ensure_index(collection_id, dimensions).await?;
            ctx.vectors.put(collection_id, records).await?;
        }
        other => other?,
    }
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

/// A stored document by id, within the namespace (and collection, when given).
pub async fn stored(
    ctx: &AppContext,
    namespace_id: &str,
    collection_id: Option<&str>,
    document_id: &str,
) -> Result<Document, Error> {
    let missing = || Error::not_found(format!("document {document_id:?}"));
    let pointer = ctx
        .table
        .get(&keys::document_ref(namespace_id, document_id))
        .await?
        .ok_or_else(missing)?;
    let attr = |k: &str| pointer.get(k).and_then(Value::as_str).unwrap_or_default();
    if collection_id.is_some_and(|c| c != attr("collection_id")) {
        return Err(missing());
    }
    let origin = pointer
        .get("origin")
        .cloned()
        .and_then(|o| serde_json::from_value(o).ok())
        .unwrap_or_default();
    let index = pointer.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
    let key = key_of(
        origin,
        attr("bucket_id"),
        attr("object_id"),
        attr("collection_id"),
        index,
        document_id,
    );
    let item = ctx.table.get(&key).await?.ok_or_else(missing)?;
    from_item(item)
}

/// A document by id, within the caller's namespace (and collection, when given), if the
/// caller's key may read it.
pub async fn get(
    ctx: &AppContext,
    ns: &Namespace,
    collection_id: Option<&str>,
    document_id: &str,
    reader: Option<&str>,
) -> Result<DocumentView, Error> {
    let d = stored(ctx, &ns.namespace_id, collection_id, document_id).await?;
    if !d.may_read(reader) {
        return Err(Error::not_found(format!("document {document_id:?}")));
    }
    Ok(DocumentView::from(&d))
}

/// `GET …/objects/{id}/documents`: the object's documents in every collection.
pub async fn list_for_object(
    ctx: &AppContext,
    bucket: &Bucket,
    object_id: &str,
    req: &ListRequest,
    reader: Option<&str>,
) -> Result<Page<DocumentView>, Error> {
    let size = req.page_size()?;
    let query = Query::partition(keys::bkt_pk(&bucket.bucket_id))
        .prefix(keys::object_documents_prefix(object_id))
        .cursor(req.cursor()?);
    let filter = req.filter(&["collection_id", "document_id", "batch_id"])?;
    let (results, next) = collect(ctx.table.as_ref(), query, size, &filter, |item| {
        let d: Document = from_item(item)?;
        readable(&d, reader)
    })
    .await?;
    Ok(Page::new(req.project(results), next, size, None).counted())
}

/// `POST /v1/collections/{id}/documents/list`.
pub async fn list_for_collection(
    ctx: &AppContext,
    collection: &Collection,
    req: &ListRequest,
    reader: Option<&str>,
) -> Result<Page<DocumentView>, Error> {
    let collection_id = collection.collection_id.as_str();
    let size = req.page_size()?;
    let query = crate::store::index::collection_documents(collection_id).cursor(req.cursor()?);
    let filter = req.filter(&["object_id", "document_id", "batch_id", "source_object_id"])?;
    let (results, next) = collect(ctx.table.as_ref(), query, size, &filter, |item| {
        let d: Document = from_item(item)?;
        readable(&d, reader)
    })
    .await?;
    Ok(Page::new(req.project(results), next, size, None).counted())
}

/// A listed document's record, if the caller's key may read it.
fn readable(d: &Document, reader: Option<&str>) -> Result<Option<Value>, Error> {
    if !d.may_read(reader) {
        return Ok(None);
    }
    record(&DocumentView::from(d)).map(Some)
}

/// `POST /v1/documents/batch-get`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchGet {
    pub document_ids: Vec<String>,
    pub return_presigned_urls: Option<bool>,
}

/// Documents of the namespace by id, at most [`BATCH_LIMIT`] of them.
pub async fn batch_get(
    ctx: &AppContext,
    ns: &Namespace,
    req: &BatchGet,
    reader: Option<&str>,
) -> Result<DocumentsFound, Error> {
    if req.document_ids.is_empty() || req.document_ids.len() > BATCH_LIMIT {
        return Err(Error::field(
            "document_ids",
            format!("name 1 to {BATCH_LIMIT} documents"),
        ));
    }
    let mut found = DocumentsFound {
        documents: Vec::new(),
        not_found: Vec::new(),
    };
    let lookups: Vec<_> = req
        .document_ids
        .iter()
        .map(|id| get(ctx, ns, None, id, reader))
        .collect();
    let results: Vec<_> = futures::stream::iter(lookups).buffered(16).collect().await;
    for (id, result) in req.document_ids.iter().zip(results) {
        match result {
            Ok(view) => found.documents.push(view),
            Err(Error::NotFound(_)) => found.not_found.push(id.clone()),
            Err(e) => return Err(e),
        }
    }
    Ok(found)
}

/// `POST /v1/documents/list`: a namespace's documents across collections.
#[derive(Debug, Default, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NamespaceList {
    /// Collection ids or names; omitted: every collection of the namespace.
    pub collection_ids: Option<Vec<String>>,
    pub filters: Option<Value>,
    pub sort: Option<Value>,
    pub search: Option<String>,
    pub cursor: Option<String>,
    pub include_total: Option<bool>,
    pub return_presigned_urls: Option<bool>,
    pub select: Option<Vec<String>>,
    pub limit: Option<i64>,
    /// `limit`'s other name.
    pub page_size: Option<i64>,
    pub offset: Option<i64>,
    /// Not served (vectors stay in the index): `true` is a 422.
    pub return_vectors: Option<bool>,
    pub return_vector_names: Option<Value>,
    pub group_by: Option<String>,
    pub expand: Option<Vec<String>>,
    pub partition: Option<Value>,
}

impl NamespaceList {
    /// The one-collection list request it stands for, after refusing what Sluice does
    /// not serve.
    pub fn list_request(&self) -> Result<ListRequest, Error> {
        let refuse = |field: &str, why: &str| Err(Error::field(field, why));
        if self.return_vectors == Some(true) || self.return_vector_names.is_some() {
            return refuse(
                "return_vectors",
                "vectors stay in the index; search returns scores",
            );
        }
        if self.group_by.is_some() {
            return refuse("group_by", "use POST …/documents/aggregate to group");
        }
        if self.expand.as_ref().is_some_and(|e| !e.is_empty()) || self.partition.is_some() {
            return refuse(
                "expand",
                "documents are listed whole, unexpanded and unpartitioned",
            );
        }
        Ok(ListRequest {
            limit: self.limit.or(self.page_size),
            offset: self.offset,
            filters: self.filters.clone(),
            sort: self.sort.clone(),
            search: self.search.clone(),
            include_total: self.include_total,
            return_presigned_urls: self.return_presigned_urls,
            select: self.select.clone(),
            ..ListRequest::default()
        })
    }
}

/// The documents of `collections` in turn, one page at a time: the cursor names the
/// collection it stopped in and the position within it.
pub async fn list_in_namespace(
    ctx: &AppContext,
    collections: &[Collection],
    req: &NamespaceList,
    reader: Option<&str>,
) -> Result<Page<DocumentView>, Error> {
    let mut list = req.list_request()?;
    let size = list.page_size()?;
    let (mut start, mut inner) = (0, None);
    if let Some(c) = req.cursor.as_ref().filter(|c| !c.is_empty()) {
        let (col, rest) = c.split_once('~').unwrap_or((c.as_str(), ""));
        start = collections
            .iter()
            .position(|x| x.collection_id == col)
            .ok_or_else(|| Error::Malformed("cursor: not from this list".into()))?;
        inner = (!rest.is_empty()).then(|| rest.to_string());
    }
    let mut results = Vec::new();
    for (i, c) in collections.iter().enumerate().skip(start) {
        list.limit = Some((size - results.len()) as i64);
        list.cursor = inner.take();
        let page = list_for_collection(ctx, c, &list, reader).await?;
        results.extend(page.results);
        let next = match page.pagination.next_cursor {
            Some(n) => Some(format!("{}~{n}", c.collection_id)),
            None => collections
                .get(i + 1)
                .map(|n| format!("{}~", n.collection_id)),
        };
        if results.len() >= size || next.is_none() {
            return Ok(Page::new(results, next, size, None).counted());
        }
    }
    Ok(Page::new(results, None, size, None).counted())
}
