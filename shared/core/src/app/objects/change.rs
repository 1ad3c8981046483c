//! Changing an object: PATCH and PUT keep its id; DELETE removes it with its documents and bytes.

use serde_json::{json, Map, Value};

use crate::app::views::ObjectDeleted;
use crate::app::{keys, pointer, to_item};
use crate::context::AppContext;
use crate::domain::entities::{Blob, Bucket, Object};
use crate::domain::events::EventType;
use crate::domain::time::now_rfc3339;
use crate::error::Error;
use crate::ports::{Cond, Query, StoreError, Update, Write};

use super::*;

/// PATCH (merge) or PUT (replace) one object, keeping its id.
pub async fn update(
    ctx: &AppContext,
    bucket: &Bucket,
    object_id: &str,
    key_prefix: Option<String>,
    blobs: Option<Vec<CreateBlob>>,
    metadata: Option<Map<String, Value>>,
    replace: bool,
) -> Result<Object, Error> {
    let schema = bucket.schema()?;
    let current = get(ctx, bucket, object_id).await?;
    check_key_prefix(&key_prefix, "key_prefix")?;
    let mut next = current.clone();
    let mut payloads = Vec::new();
    let mut links = Vec::new();
    if let Some(new_blobs) = blobs {
        let (files, writes) =
            link_uploads(ctx, bucket, &new_blobs, &current.object_id, None).await?;
        links = writes;
        let id = &current.object_id;
        (next.blobs, payloads) = build_blobs(ctx, &schema, &new_blobs, bucket, id, &files)?;
    } else if replace {
        next.blobs.clear();
    }
    merge_fields(&mut next, key_prefix, metadata.unwrap_or_default(), replace);
    schema.apply_defaults(&mut next.metadata);
    schema
        .check_object(
            &next.metadata,
            next.blobs.iter().map(|b| b.property.as_str()),
        )
        .map_err(field_err)?;
    next.fingerprint = fingerprint(&next.blobs, &next.metadata);
    next.unique_hash = unique_hash(bucket, &next.metadata)?;
    next.size_bytes = next.blobs.iter().filter_map(|b| b.details.size_bytes).sum();
    next.version = current.version + 1;
    next.updated_at = now_rfc3339();

    for p in &payloads {
        ctx.blobs
            .put(&p.key, p.bytes.clone(), p.content_type.as_deref())
            .await?;
    }
    let mut ops = update_writes(bucket, &current, &next);
    let links_start = ops.len();
    ops.extend(links.into_iter().map(|(w, _)| w));
    if let Err(e) = ctx.table.transact(ops).await {
        for p in &payloads {
            let _ = ctx.blobs.delete(&p.key).await;
        }
        return Err(update_refused(e, links_start, &next));
    }
    bump_bucket(ctx, bucket, 0, next.size_bytes - current.size_bytes).await?;
    for key in removed_keys(&current, &next) {
        let _ = ctx.blobs.delete(&key).await;
    }
    let event = object_event(EventType::ObjectUpdated, &next, &bucket.org_id);
    let _ = crate::app::events::publish(ctx, vec![event]).await;
    Ok(next)
}

/// A PUT replaces the key prefix and metadata; a PATCH sets what it gives and removes
/// the metadata keys it sets to null.
pub(super) fn merge_fields(
    next: &mut Object,
    key_prefix: Option<String>,
    metadata: Map<String, Value>,
    replace: bool,
) {
    if replace {
        next.key_prefix = key_prefix;
        next.metadata = metadata;
        return;
    }
    if key_prefix.is_some() {
        next.key_prefix = key_prefix;
    }
    for (k, v) in metadata {
        if v.is_null() {
            next.metadata.remove(&k);
        } else {
            next.metadata.insert(k, v);
        }
    }
}

/// The object over exactly the version read, its fingerprint pointer, and its unique
/// key's pointer moved when the key changed.
pub(super) fn update_writes(bucket: &Bucket, current: &Object, next: &Object) -> Vec<Write> {
    let obj_key = keys::object(&bucket.bucket_id, &current.object_id);
    let mut ops = vec![
        Write::Put {
            item: to_item(&obj_key, next),
            cond: Cond::Equals("version".into(), json!(current.version)),
        },
        Write::put(pointer(
            &keys::fingerprint(&bucket.bucket_id, &next.fingerprint),
            "object_id",
            &next.object_id,
        )),
    ];
    if next.unique_hash != current.unique_hash {
        if let Some(old) = &current.unique_hash {
            ops.push(Write::Delete {
                key: keys::unique(&bucket.bucket_id, old),
                cond: Cond::Equals("object_id".into(), json!(current.object_id)),
            });
        }
        if let Some(new) = &next.unique_hash {
            ops.push(Write::create(pointer(
                &keys::unique(&bucket.bucket_id, new),
                "object_id",
                &next.object_id,
            )));
        }
    }
    ops
}

/// What a failed update transaction means, by the write whose condition failed.
pub(super) fn update_refused(e: StoreError, links_start: usize, next: &Object) -> Error {
    match e {
        StoreError::ConditionFailed { index: Some(i) } if i >= links_start => {
            Error::Conflict("an upload this object names was linked to another object".into())
        }
        StoreError::ConditionFailed { index: Some(i) } if i >= 2 && next.unique_hash.is_some() => {
            Error::Conflict("another object already holds this unique key".into())
        }
        StoreError::ConditionFailed { .. } => {
            Error::Conflict("the object changed while this request ran; retry".into())
        }
        other => other.into(),
    }
}

pub async fn delete(
    ctx: &AppContext,
    bucket: &Bucket,
    object_id: &str,
) -> Result<ObjectDeleted, Error> {
    let current = get(ctx, bucket, object_id).await?;
    remove(ctx, bucket, &current).await?;
    Ok(ObjectDeleted {
        success: true,
        object_id: current.object_id,
        message: "object deleted".into(),
    })
}

/// Removes an object as read (over its version) with its bytes and documents. A
/// soft-deleted one left its bucket's counts already.
pub(super) async fn remove(
    ctx: &AppContext,
    bucket: &Bucket,
    current: &Object,
) -> Result<(), Error> {
    let mut ops = vec![Write::Delete {
        key: keys::object(&bucket.bucket_id, &current.object_id),
        cond: Cond::Equals("version".into(), json!(current.version)),
    }];
    if let Some(hash) = &current.unique_hash {
        ops.push(Write::Delete {
            key: keys::unique(&bucket.bucket_id, hash),
            cond: Cond::Equals("object_id".into(), json!(current.object_id)),
        });
    }
    if current.lifecycle.is_none() {
        ops.push(Write::Update {
            key: keys::bucket(&bucket.namespace_id, &bucket.bucket_id),
            updates: vec![
                Update::Add("object_count".into(), -1),
                Update::Add("total_size_bytes".into(), -current.size_bytes),
            ],
            cond: Cond::Exists,
        });
    }
    match ctx.table.transact(ops).await {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { .. }) => {
            return Err(Error::Conflict(
                "the object changed while this request ran; retry".into(),
            ))
        }
        Err(e) => return Err(e.into()),
    }
    // The fingerprint may point at a newer twin by now: remove it only if it is ours.
    let _ = ctx
        .table
        .write(Write::Delete {
            key: keys::fingerprint(&bucket.bucket_id, &current.fingerprint),
            cond: Cond::Equals("object_id".into(), json!(current.object_id)),
        })
        .await;
    for key in current.blobs.iter().filter_map(Blob::storage_key) {
        ctx.blobs.delete(key).await?;
    }
    // Its documents go with it (batch results stay: they are the batch's history).
    let query = Query::partition(keys::bkt_pk(&bucket.bucket_id))
        .prefix(keys::object_documents_prefix(&current.object_id));
    let documents = crate::app::lists::all_items(ctx.table.as_ref(), query).await?;
    crate::app::documents::remove(ctx, &documents).await?;
    let _ = crate::app::events::publish(
        ctx,
        vec![object_event(
            EventType::ObjectDeleted,
            current,
            &bucket.org_id,
        )],
    )
    .await;
    Ok(())
}
