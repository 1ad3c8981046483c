//! Soft deletes: objects kept as records but out of use, with their documents. One
//! conditional write per object (over the version read), the documents marked and their
//! vectors taken out of search (kept on the document for a restore), and the bucket's
//! counters moved once for them all.
//!
//! A soft-deleted object can be restored by the operator until its restore window ends
//! (`soft_delete_retention`); then the sweeper deletes it for good.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::app::lists::all_items;
use crate::app::{documents, from_item, keys};
use crate::context::AppContext;
use crate::domain::collection::Document;
use crate::domain::entities::{Bucket, Lifecycle, Object};
use crate::domain::time::{now, parse, rfc3339};
use crate::error::Error;
use crate::ports::{Cond, Item, Query, StoreError, Update, VectorRecord, Write};
use crate::store::index;

/// Objects one soft delete may name.
pub const MAX_SOFT_DELETE: usize = 5_000;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SoftDelete {
    pub object_ids: Vec<String>,
    /// Why (kept on each record, at most 500 characters).
    pub reason: String,
    /// `disabled` by default.
    pub lifecycle_state: Option<String>,
    /// `bulk_purge` by default.
    pub source: Option<String>,
}

/// How many of the named objects were flipped (those missing or already out of use are
/// not), and how many documents went with them.
pub struct SoftDeleted {
    pub objects: usize,
    pub documents: usize,
}

pub async fn soft_delete(
    ctx: &AppContext,
    bucket: &Bucket,
    req: SoftDelete,
) -> Result<SoftDeleted, Error> {
    if req.object_ids.is_empty() || req.object_ids.len() > MAX_SOFT_DELETE {
        return Err(Error::field(
            "object_ids",
            format!("name 1 to {MAX_SOFT_DELETE} objects"),
        ));
    }
    if req.reason.trim().is_empty() || req.reason.chars().count() > 500 {
        return Err(Error::field("reason", "say why, in at most 500 characters"));
    }
    let at = now();
    let purge_at = at + ctx.config.soft_delete_retention;
    let lifecycle = Lifecycle {
        state: req.lifecycle_state.unwrap_or_else(|| "disabled".into()),
        reason: req.reason,
        source: req.source.unwrap_or_else(|| "bulk_purge".into()),
        at: rfc3339(at),
        purge_after: Some(rfc3339(purge_at)),
    };
    let mut done = SoftDeleted {
        objects: 0,
        documents: 0,
    };
    let (mut bytes, mut ids) = (0, req.object_ids);
    ids.sort();
    ids.dedup();
    for chunk in ids.chunks(100) {
        let wanted = chunk
            .iter()
            .map(|id| keys::object(&bucket.bucket_id, id))
            .collect();
        for item in ctx.table.get_many(wanted).await? {
            let o: Object = from_item(item)?;
            let purge_epoch = purge_at.unix_timestamp();
            if o.lifecycle.is_none() && flip(ctx, &o, &lifecycle, purge_epoch).await? {
                done.objects += 1;
                bytes += o.size_bytes;
                done.documents += retire_documents(ctx, &o, &lifecycle).await?;
            }
        }
    }
    count_in_bucket(ctx, bucket, -(done.objects as i64), -bytes).await?;
    Ok(done)
}

/// Moves a bucket's object counters (after objects left or came back).
async fn count_in_bucket(
    ctx: &AppContext,
    bucket: &Bucket,
    objects: i64,
    bytes: i64,
) -> Result<(), Error> {
    if objects == 0 {
        return Ok(());
    }
    ctx.table
        .write(Write::Update {
            key: keys::bucket(&bucket.namespace_id, &bucket.bucket_id),
            updates: vec![
                Update::Add("object_count".into(), objects),
                Update::Add("total_size_bytes".into(), bytes),
            ],
            cond: Cond::Exists,
        })
        .await?;
    Ok(())
}

/// Marks the object over the version read, and files it for the sweeper by the end of
/// its restore window; `false` when it changed or went meanwhile.
async fn flip(
    ctx: &AppContext,
    o: &Object,
    lifecycle: &Lifecycle,
    purge_epoch: i64,
) -> Result<bool, Error> {
    let retired = index::Entry::RetiredObject {
        bucket_id: &o.bucket_id,
        object_id: &o.object_id,
        purge_epoch,
    };
    let mut updates = vec![Update::Set("lifecycle".into(), json!(lifecycle))];
    updates.extend(retired.set());
    change_over_version(ctx, o, updates).await
}

/// Applies `updates` (and a new version) to the object if it is still at the version
/// read; `false` when it changed or went meanwhile.
async fn change_over_version(
    ctx: &AppContext,
    o: &Object,
    mut updates: Vec<Update>,
) -> Result<bool, Error> {
    updates.push(Update::Add("version".into(), 1));
    let write = Write::Update {
        key: keys::object(&o.bucket_id, &o.object_id),
        updates,
        cond: Cond::Equals("version".into(), json!(o.version)),
    };
    match ctx.table.write(write).await {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The object's documents, marked as it is (kept, not retrieved), their vectors moved
/// from the indexes onto the documents, their collections' counts down by them.
async fn retire_documents(
    ctx: &AppContext,
    o: &Object,
    lifecycle: &Lifecycle,
) -> Result<usize, Error> {
    let mut n = 0;
    for (collection, docs) in documents_by_collection(ctx, o, false).await? {
        let ids: Vec<String> = docs.iter().map(|d| d.document_id.clone()).collect();
        let mut stash: BTreeMap<String, Vec<f32>> = ctx
            .vectors
            .get(&collection, &ids)
            .await?
            .into_iter()
            .map(|r| (r.key, r.vector))
            .collect();
        let marked: Vec<Item> = docs
            .into_iter()
            .map(|mut d| {
                d.retired_vector = stash.remove(&d.document_id);
                d.lifecycle = Some(lifecycle.clone());
                d.to_item()
            })
            .collect();
        // Marked (with their vectors) before the vectors leave the index.
        put_all(ctx, marked).await?;
        ctx.vectors.delete(&collection, &ids).await?;
        documents::recount(ctx, &o.namespace_id, &collection, -(ids.len() as i64)).await?;
        n += ids.len();
    }
    Ok(n)
}

/// The object's documents that are (or are not) soft-deleted, by collection.
async fn documents_by_collection(
    ctx: &AppContext,
    o: &Object,
    retired: bool,
) -> Result<BTreeMap<String, Vec<Document>>, Error> {
    let query = Query::partition(keys::bkt_pk(&o.bucket_id))
        .prefix(keys::object_documents_prefix(&o.object_id));
    let mut by_collection: BTreeMap<String, Vec<Document>> = BTreeMap::new();
    for item in all_items(ctx.table.as_ref(), query).await? {
        let d: Document = from_item(item)?;
        if d.lifecycle.is_some() == retired {
            by_collection
                .entry(d.collection_id.clone())
                .or_default()
                .push(d);
        }
    }
    Ok(by_collection)
}

async fn put_all(ctx: &AppContext, items: Vec<Item>) -> Result<(), Error> {
    for chunk in items.chunks(25) {
        ctx.table.put_many(chunk.to_vec()).await?;
    }
    Ok(())
}

/// What an operator's restore did: objects and documents back in use, and each object
/// named that was not restored, with why.
#[derive(Debug, Default, serde::Serialize)]
pub struct Restored {
    pub objects: usize,
    pub documents: usize,
    pub not_restored: Vec<NotRestored>,
}

#[derive(Debug, serde::Serialize)]
pub struct NotRestored {
    pub object_id: String,
    pub reason: String,
}

/// Brings soft-deleted objects back within their restore window: each over the version
/// read, its documents' vectors put back in the indexes, the counts moved back.
pub async fn restore(
    ctx: &AppContext,
    bucket: &Bucket,
    object_ids: &[String],
) -> Result<Restored, Error> {
    let mut done = Restored::default();
    let mut bytes = 0;
    for chunk in object_ids.chunks(100) {
        let wanted = chunk
            .iter()
            .map(|id| keys::object(&bucket.bucket_id, id))
            .collect();
        let mut found: BTreeMap<String, Object> = BTreeMap::new();
        for item in ctx.table.get_many(wanted).await? {
            let o: Object = from_item(item)?;
            found.insert(o.object_id.clone(), o);
        }
        for id in chunk {
            let why = match found.remove(id) {
                None => "no such object".to_string(),
                Some(o) => match refusal(&o) {
                    Some(why) => why,
                    None if unflip(ctx, &o).await? => {
                        done.objects += 1;
                        bytes += o.size_bytes;
                        done.documents += restore_documents(ctx, &o).await?;
                        continue;
                    }
                    None => "it changed while being restored; try again".to_string(),
                },
            };
            done.not_restored.push(NotRestored {
                object_id: id.clone(),
                reason: why,
            });
        }
    }
    count_in_bucket(ctx, bucket, done.objects as i64, bytes).await?;
    Ok(done)
}

/// Why an object cannot be restored, if it cannot.
fn refusal(o: &Object) -> Option<String> {
    let Some(lifecycle) = &o.lifecycle else {
        return Some("not soft-deleted".into());
    };
    let ended = lifecycle.purge_after.as_deref().and_then(parse);
    match ended {
        Some(end) if end <= now() => Some(format!("its restore window ended at {}", rfc3339(end))),
        _ => None,
    }
}

/// Clears the mark over the version read and takes the object off the sweeper's list.
async fn unflip(ctx: &AppContext, o: &Object) -> Result<bool, Error> {
    let mut updates = vec![Update::Remove("lifecycle".into())];
    updates.extend(index::remove());
    change_over_version(ctx, o, updates).await
}

/// The object's soft-deleted documents back in use: vectors first, then the marks, then
/// the counts.
async fn restore_documents(ctx: &AppContext, o: &Object) -> Result<usize, Error> {
    let mut n = 0;
    for (collection, docs) in documents_by_collection(ctx, o, true).await? {
        let records: Vec<VectorRecord> = docs
            .iter()
            .filter_map(|d| {
                let restored = Document {
                    embedding: d.retired_vector.clone(),
                    ..d.clone()
                };
                restored.vector_record()
            })
            .collect();
        documents::put_vectors(ctx, &collection, records).await?;
        let count = docs.len() as i64;
        let items = docs
            .into_iter()
            .map(|d| {
                Document {
                    lifecycle: None,
                    retired_vector: None,
                    ..d
                }
                .to_item()
            })
            .collect();
        put_all(ctx, items).await?;
        documents::recount(ctx, &o.namespace_id, &collection, count).await?;
        n += count as usize;
    }
    Ok(n)
}

/// Deletes for good the soft-deleted objects whose restore window has ended (at most a
/// thousand a sweep; the next sweep takes the rest).
pub async fn purge_retired(ctx: &AppContext) -> Result<usize, Error> {
    let mut query = index::objects_retired_until(now().unix_timestamp()).limit(100);
    let mut purged = 0;
    for _ in 0..10 {
        let page = ctx.table.query(&query).await?;
        for item in page.items {
            let o: Object = from_item(item)?;
            let key = keys::bucket(&o.namespace_id, &o.bucket_id);
            // A bucket being deleted takes its objects with it.
            let Some(b) = ctx.table.get(&key).await? else {
                continue;
            };
            let bucket: Bucket = from_item(b)?;
            match super::change::remove(ctx, &bucket, &o).await {
                Ok(()) => purged += 1,
                // Restored (or changed) meanwhile: not ours to delete.
                Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        query.cursor = page.cursor;
        if query.cursor.is_none() {
            break;
        }
    }
    Ok(purged)
}
