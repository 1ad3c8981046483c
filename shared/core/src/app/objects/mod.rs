//! Objects: registered by URL or inline content, validated against the bucket schema.
//!
//! Inline bytes go to the blob store first; then each object is one table transaction
//! (the object, its content fingerprint, its unique-key claim), many objects running
//! together through `transact_each`. The bucket's counters move by one atomic add per
//! request. A failed object's stored bytes are removed again.

use std::collections::HashMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::lists::{collect, ListRequest};
use super::views::{record, BulkView, FailedRow, ObjectView, Page};
use super::{from_item, keys};
use crate::context::AppContext;
use crate::domain::aggregate::{Aggregation, AggregationResult, Aggregator};
use crate::domain::entities::{Bucket, Object};
use crate::domain::schema::FieldError;
pub use crate::domain::sync::SyncedFile;
use crate::error::Error;
use crate::ports::{Query, Write};

mod blob;
mod change;
mod input;
mod lifecycle;
mod write;

use blob::*;
pub use change::{delete, update};
use input::*;
pub use lifecycle::{
    purge_retired, restore, soft_delete, Restored, SoftDelete, SoftDeleted, MAX_SOFT_DELETE,
};
use write::*;
pub use write::{create_many, ItemResult};

/// Objects one bulk create may register.
pub const MAX_BULK: usize = 100;
const MAX_BLOBS: usize = 64;
const MAX_KEY_PREFIX: usize = 1024;
const MAX_URL: usize = 2083;

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBlob {
    /// The bucket-schema property this blob fills.
    pub property: String,
    #[serde(rename = "type")]
    pub blob_type: String,
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// An http(s) or s3 URL, fetched when the object is processed.
    #[serde(default)]
    pub url: Option<String>,
    /// Inline content: text for text blobs, JSON for json blobs, base64 or a data URI otherwise.
    #[serde(default)]
    pub content: Option<Value>,
    /// The SDK's form: a URL, a data URI, `{base64, mime_type, filename}`, `{url}`, or text.
    #[serde(default)]
    pub data: Option<Value>,
    #[serde(default)]
    pub upload_id: Option<String>,
    #[serde(default)]
    pub checksum: Option<String>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default)]
    pub mime_type: Option<String>,
    #[serde(default)]
    pub content_type: Option<String>,
    /// A file a sync listed (set by the sync engine; never read from a request).
    #[serde(skip)]
    #[schemars(skip)]
    pub synced: Option<SyncedFile>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
pub struct CreateObject {
    #[serde(default)]
    pub key_prefix: Option<String>,
    #[serde(default)]
    pub blobs: Vec<CreateBlob>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
    /// Return the existing object instead of creating one with the same content.
    #[serde(default)]
    pub skip_duplicates: bool,
    /// A retry with the same key returns the object the first attempt created.
    #[serde(default)]
    pub idempotency_key: Option<String>,
    /// Accepted for compatibility: URL sources are always read when processed.
    #[serde(default)]
    pub canonicalize_source: Option<bool>,
    #[serde(default)]
    pub force_remirror: Option<bool>,
    /// Relationships between objects are not supported: only an empty list is accepted.
    #[serde(default)]
    pub edges: Option<Vec<Value>>,
    /// Other top-level keys are metadata fields, as the API allows.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateObjectsBulk {
    /// At most 100 objects. An item that does not parse refuses the whole request (as
    /// the document's schema says); each parsed one then succeeds or fails on its own
    /// (its bucket's schema, its unique key, its blobs).
    pub objects: Vec<CreateObject>,
}

/// `PATCH`: absent fields are kept, metadata is merged (null removes a key).
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchObject {
    #[serde(default)]
    pub key_prefix: Option<String>,
    #[serde(default)]
    pub blobs: Option<Vec<CreateBlob>>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

/// How a write meets an existing object with the same unique key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Insert,
    Update,
    Upsert,
}

impl Policy {
    pub fn choose(query: Option<&str>, bucket: &Bucket) -> Result<Policy, Error> {
        let given = query.or_else(|| {
            bucket
                .unique_key
                .as_ref()
                .and_then(|u| u.default_policy.as_deref())
        });
        match given.unwrap_or("insert") {
            "insert" => Ok(Policy::Insert),
            "update" => Ok(Policy::Update),
            "upsert" => Ok(Policy::Upsert),
            other => Err(Error::field(
                "policy",
                format!("expected insert, update or upsert, got {other:?}"),
            )),
        }
    }
}

/// Why an existing object was returned instead of a new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replayed {
    SkipDuplicates,
    IdempotencyKey,
}

impl Replayed {
    pub fn as_str(self) -> &'static str {
        match self {
            Replayed::SkipDuplicates => "skip_duplicates",
            Replayed::IdempotencyKey => "idempotency_key",
        }
    }
}

fn field_err(e: FieldError) -> Error {
    Error::field(e.field, e.reason)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn check_key_prefix(p: &Option<String>, path: &str) -> Result<(), Error> {
    match p {
        Some(s) => crate::domain::names::check_key_prefix(s, MAX_KEY_PREFIX)
            .map_err(|reason| Error::field(path, reason)),
        None => Ok(()),
    }
}

/// Bytes already in the blob store under an upload, ready to back a blob.
#[derive(Debug, Clone)]
pub struct StoredFile {
    pub upload_id: String,
    pub storage_key: String,
    pub size: i64,
    pub mime: String,
    pub hash: Option<String>,
    pub filename: String,
}

/// An upload being confirmed into this object: its file, and the write that moves it to
/// COMPLETED (committed with the object, so a racing confirm cannot make a second one).
pub struct Confirming {
    pub file: StoredFile,
    pub write: Write,
    /// Unconditional writes that go with the completion (e.g. the content-hash index).
    pub also: Vec<Write>,
}

/// An object in use: a soft-deleted one is not retrieved (its record stays).
pub async fn get(ctx: &AppContext, bucket: &Bucket, object_id: &str) -> Result<Object, Error> {
    load(ctx, bucket, object_id)
        .await?
        .filter(|o| o.lifecycle.is_none())
        .ok_or_else(|| Error::not_found(format!("object {object_id:?}")))
}

/// An object by the ids a document or result keeps of it.
pub async fn find(
    ctx: &AppContext,
    bucket_id: &str,
    object_id: &str,
) -> Result<Option<Object>, Error> {
    match ctx.table.get(&keys::object(bucket_id, object_id)).await? {
        Some(item) => Ok(Some(from_item(item)?)),
        None => Ok(None),
    }
}

/// An object's view as GET shows it: with its document count, and when asked, short-lived
/// GET URLs for its stored blobs (and the source URL of a blob registered by URL).
pub async fn view(ctx: &AppContext, o: &Object, presigned_urls: bool) -> Result<ObjectView, Error> {
    let mut view = if presigned_urls {
        with_presigned_urls(ctx, o).await?
    } else {
        ObjectView::from(o)
    };
    let documents = Query::partition(keys::bkt_pk(&o.bucket_id))
        .prefix(keys::object_documents_prefix(&o.object_id));
    view.document_count = Some(ctx.table.count(&documents).await?);
    Ok(view)
}

async fn with_presigned_urls(ctx: &AppContext, o: &Object) -> Result<ObjectView, Error> {
    let mut view = ObjectView::from(o);
    for blob in &mut view.blobs {
        let url = match blob.blob.storage_key() {
            Some(k) => Some(
                ctx.blobs
                    .presign_get(k, std::time::Duration::from_secs(3600))
                    .await?,
            ),
            None => blob
                .blob
                .properties
                .get("url")
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        blob.presigned_url = Some(url);
    }
    Ok(view)
}

/// `POST …/objects/aggregate`: groups of the bucket's objects (those `filters` match) with
/// metrics, streamed page by page; only the groups are held.
pub async fn aggregate(
    ctx: &AppContext,
    bucket: &Bucket,
    spec: Aggregation,
) -> Result<AggregationResult, Error> {
    if spec.group_by.is_empty() {
        return Err(Error::field(
            "group_by",
            "name at least one field to group by",
        ));
    }
    let list = ListRequest {
        filters: spec.filters.clone(),
        ..ListRequest::default()
    };
    let filter = list.filter(&["key_prefix", "object_id"])?;
    let mut agg = Aggregator::new(spec)?;
    let query = Query::partition(keys::bkt_pk(&bucket.bucket_id))
        .prefix("OBJ#")
        .limit(500);
    super::lists::each_item(ctx.table.as_ref(), query, |item| {
        let o: Object = from_item(item)?;
        let view = record(&ObjectView::from(&o))?;
        if o.lifecycle.is_none() && filter.matches(&view) {
            agg.add(&view)?;
        }
        Ok(true)
    })
    .await?;
    Ok(agg.finish())
}

pub async fn list(
    ctx: &AppContext,
    bucket: &Bucket,
    req: &ListRequest,
) -> Result<Page<ObjectView>, Error> {
    let size = req.page_size()?;
    let query = Query::partition(keys::bkt_pk(&bucket.bucket_id))
        .prefix("OBJ#")
        .cursor(req.cursor()?)
        .descending(req.descending()?);
    let filter = req.filter(&["key_prefix", "object_id"])?;
    let (results, next) = collect(ctx.table.as_ref(), query, size, &filter, |item| {
        let o: Object = from_item(item)?;
        match o.lifecycle {
            Some(_) => Ok(None),
            None => record(&ObjectView::from(&o)).map(Some),
        }
    })
    .await?;
    let total =
        (filter.is_empty() && req.include_total == Some(true)).then_some(bucket.object_count);
    Ok(Page::new(req.project(results), next, size, total))
}

/// The bulk create's response: successes in request order, then each failure with its
/// index, its error type and status as `describe` (the API's error mapping) gives them.
pub fn bulk_view(
    results: &[ItemResult],
    describe: impl Fn(&Error) -> (&'static str, u16),
) -> BulkView {
    let mut succeeded = Vec::new();
    let mut failed = Vec::new();
    for (i, r) in results.iter().enumerate() {
        match r {
            Ok((o, replayed)) => succeeded.push(ObjectView {
                object_index: Some(i),
                replayed: Some(replayed.is_some()),
                replayed_by: replayed.map(|r| r.as_str().to_string()),
                ..ObjectView::from(o)
            }),
            Err(e) => {
                let (error_type, status) = describe(e);
                failed.push(FailedRow {
                    object_index: i,
                    error: e.to_string(),
                    error_type: error_type.into(),
                    status,
                })
            }
        }
    }
    BulkView {
        succeeded_count: succeeded.len(),
        failed_count: failed.len(),
        total_requested: results.len(),
        succeeded,
        failed,
    }
}

/// Query parameters of the object routes.
pub fn flag(query: &HashMap<String, String>, name: &str) -> Result<bool, Error> {
    match query.get(name).map(String::as_str) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(other) => Err(Error::field(
            name,
            format!("expected true or false, got {other:?}"),
        )),
    }
}
