//! Soft deletes: objects kept as records but out of use, with their documents. One
//! conditional write per object (over the version read), the documents marked and their
//! vectors taken out of search, and the bucket's counters moved once for them all.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use crate::app::lists::all_items;
use crate::app::{documents, from_item, keys};
use crate::context::AppContext;
use crate::domain::collection::Document;
use crate::domain::entities::{Bucket, Lifecycle, Object};
use crate::domain::time::now_rfc3339;
use crate::error::Error;
use crate::ports::{Cond, Item, Query, StoreError, Update, Write};

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
    let lifecycle = Lifecycle {
        state: req.lifecycle_state.unwrap_or_else(|| "disabled".into()),
        reason: req.reason,
        source: req.source.unwrap_or_else(|| "bulk_purge".into()),
        at: now_rfc3339(),
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
            if o.lifecycle.is_none() && flip(ctx, &o, &lifecycle).await? {
                done.objects += 1;
                bytes += o.size_bytes;
                done.documents += retire_documents(ctx, &o, &lifecycle).await?;
            }
        }
    }
    if done.objects > 0 {
        ctx.table
            .write(Write::Update {
                key: keys::bucket(&bucket.namespace_id, &bucket.bucket_id),
                updates: vec![
                    Update::Add("object_count".into(), -(done.objects as i64)),
                    Update::Add("total_size_bytes".into(), -bytes),
                ],
                cond: Cond::Exists,
            })
            .await?;
    }
    Ok(done)
}

/// Marks the object over the version read; `false` when it changed or went meanwhile.
async fn flip(ctx: &AppContext, o: &Object, lifecycle: &Lifecycle) -> Result<bool, Error> {
    let write = Write::Update {
        key: keys::object(&o.bucket_id, &o.object_id),
        updates: vec![
            Update::Set("lifecycle".into(), json!(lifecycle)),
            Update::Add("version".into(), 1),
        ],
        cond: Cond::Equals("version".into(), json!(o.version)),
    };
    match ctx.table.write(write).await {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// The object's documents, marked as it is (kept, not retrieved), their vectors out of
/// the indexes, their collections' counts down by them.
async fn retire_documents(
    ctx: &AppContext,
    o: &Object,
    lifecycle: &Lifecycle,
) -> Result<usize, Error> {
    let query = Query::partition(keys::bkt_pk(&o.bucket_id))
        .prefix(keys::object_documents_prefix(&o.object_id));
    let items = all_items(ctx.table.as_ref(), query).await?;
    let mut by_collection: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut marked: Vec<Item> = Vec::with_capacity(items.len());
    for mut item in items {
        let d: Document = from_item(item.clone())?;
        if d.lifecycle.is_some() {
            continue;
        }
        by_collection
            .entry(d.collection_id)
            .or_default()
            .push(d.document_id);
        item.insert("lifecycle".into(), json!(lifecycle));
        marked.push(item);
    }
    for (collection, ids) in &by_collection {
        ctx.vectors.delete(collection, ids).await?;
        documents::recount(ctx, &o.namespace_id, collection, -(ids.len() as i64)).await?;
    }
    let n = marked.len();
    for chunk in marked.chunks(25) {
        ctx.table.put_many(chunk.to_vec()).await?;
    }
    Ok(n)
}
