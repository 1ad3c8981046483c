//! Deleting a namespace or bucket and everything under it, through the task queue.
//!
//! The request hides the resource and frees its name in one transaction; the worker
//! then deletes every item and blob under it. A second, final sweep runs after
//! `purge_settle`, longer than any request that read the resource as active before it
//! was hidden could still be writing, so nothing is left orphaned.

use std::time::Duration;

use serde_json::json;

pub use super::messages::{PurgeMessage, PurgeScope, TaskMessage};
use super::{keys, tasks};
use crate::context::AppContext;
use crate::domain::events::EventType;
use crate::domain::ids::IdKind;
use crate::domain::status::TaskStatus;
use crate::domain::time::now_rfc3339;
use crate::error::Error;
use crate::ports::{Event, Key, Query, QueueName};

/// Lets the request's transaction commit before a worker looks for the task.
const FIRST_DELAY: Duration = Duration::from_secs(1);

pub async fn enqueue(
    ctx: &AppContext,
    org_id: &str,
    task_id: &str,
    scope: &PurgeScope,
) -> Result<(), Error> {
    let msg = TaskMessage::Purge(PurgeMessage {
        task_id: task_id.into(),
        org_id: org_id.into(),
        scope: scope.clone(),
        pass: 1,
    });
    ctx.queue
        .send(QueueName::Tasks, vec![msg.to_body()], FIRST_DELAY)
        .await?;
    Ok(())
}

/// Deletes every item of a partition, a page at a time.
async fn purge_partition(ctx: &AppContext, pk: String) -> Result<u64, Error> {
    let mut deleted = 0;
    loop {
        let page = ctx
            .table
            .query(&Query::partition(pk.clone()).limit(100))
            .await?;
        if page.items.is_empty() {
            return Ok(deleted);
        }
        let keys: Vec<Key> = page.items.iter().filter_map(Key::of).collect();
        deleted += keys.len() as u64;
        ctx.table.delete_many(keys).await?;
    }
}

async fn purge_bucket_contents(
    ctx: &AppContext,
    namespace_id: &str,
    bucket_id: &str,
) -> Result<u64, Error> {
    // Documents first, with their vectors and pointers elsewhere; then the rest.
    loop {
        let page = ctx
            .table
            .query(
                &Query::partition(keys::bkt_pk(bucket_id))
                    .prefix("DOC#")
                    .limit(100),
            )
            .await?;
        if page.items.is_empty() {
            break;
        }
        super::documents::remove(ctx, &page.items).await?;
    }
    // The org's pointers to the bucket's batches (for `/v1/batches/list`) live outside
    // its partition.
    let batches = super::lists::all_items(
        ctx.table.as_ref(),
        Query::partition(keys::bkt_pk(bucket_id)).prefix("BTCH#"),
    )
    .await?;
    let refs: Vec<Key> = batches
        .iter()
        .filter_map(|b| {
            let attr = |k: &str| b.get(k).and_then(|v| v.as_str());
            Some(keys::batch_ref(attr("org_id")?, attr("batch_id")?))
        })
        .collect();
    ctx.table.delete_many(refs).await?;
    // Each sync keeps its manifest, runs and dead letters in a partition of its own.
    let syncs = super::lists::all_items(
        ctx.table.as_ref(),
        Query::partition(keys::bkt_pk(bucket_id)).prefix("SYNC#"),
    )
    .await?;
    let mut items = 0;
    for sync_id in syncs
        .iter()
        .filter_map(|s| s.get("sync_config_id").and_then(|v| v.as_str()))
    {
        items += purge_partition(ctx, keys::sync_pk(sync_id)).await?;
    }
    let items = items + purge_partition(ctx, keys::bkt_pk(bucket_id)).await?;
    ctx.blobs
        .delete_prefix(&keys::bucket_blob_prefix(namespace_id, bucket_id))
        .await?;
    Ok(items)
}

/// Runs one pass of a purge. An error leaves the message for redelivery; every step
/// is idempotent, so a repeated pass does no harm.
pub async fn run(ctx: &AppContext, msg: &PurgeMessage, receive_count: u32) -> Result<(), Error> {
    let Some(task) = tasks::for_message(ctx, &msg.org_id, &msg.task_id, receive_count).await?
    else {
        return Ok(());
    };
    if task.status == TaskStatus::Completed {
        return Ok(());
    }
    if msg.pass == 1 {
        tasks::set_status(
            ctx,
            &msg.org_id,
            &msg.task_id,
            TaskStatus::InProgress,
            None,
            None,
        )
        .await?;
    }
    let mut items = 0;
    match &msg.scope {
        PurgeScope::Namespace { namespace_id } => {
            loop {
                let page = ctx
                    .table
                    .query(
                        &Query::partition(keys::ns_pk(namespace_id))
                            .prefix(keys::BUCKETS_PREFIX)
                            .limit(100),
                    )
                    .await?;
                if page.items.is_empty() {
                    break;
                }
                for item in &page.items {
                    if let Some(bucket_id) = item.get("bucket_id").and_then(|v| v.as_str()) {
                        items += purge_bucket_contents(ctx, namespace_id, bucket_id).await?;
                    }
                }
                let keys: Vec<Key> = page.items.iter().filter_map(Key::of).collect();
                ctx.table.delete_many(keys).await?;
            }
            let collections = super::lists::all_items(
                ctx.table.as_ref(),
                Query::partition(keys::ns_pk(namespace_id)).prefix("COL#"),
            )
            .await?;
            for c in collections {
                if let Some(id) = c.get("collection_id").and_then(|v| v.as_str()) {
                    ctx.vectors.drop_index(id).await?;
                }
            }
            items += purge_partition(ctx, keys::ns_pk(namespace_id)).await?;
            ctx.blobs
                .delete_prefix(&keys::namespace_blob_prefix(namespace_id))
                .await?;
        }
        PurgeScope::Bucket {
            namespace_id,
            bucket_id,
        } => {
            items += purge_bucket_contents(ctx, namespace_id, bucket_id).await?;
        }
    }
    if msg.pass == 1 {
        let next = TaskMessage::Purge(PurgeMessage {
            pass: 2,
            ..msg.clone()
        });
        ctx.queue
            .send(
                QueueName::Tasks,
                vec![next.to_body()],
                ctx.config.purge_settle.min(Duration::from_secs(900)),
            )
            .await?;
        tracing::info!(task_id = %msg.task_id, items, "purge sweep done; final sweep scheduled");
        return Ok(());
    }
    let (record_key, event_type, namespace_id) = match &msg.scope {
        PurgeScope::Namespace { namespace_id } => (
            keys::namespace(&msg.org_id, namespace_id),
            EventType::NamespaceDeleted,
            namespace_id,
        ),
        PurgeScope::Bucket {
            namespace_id,
            bucket_id,
        } => (
            keys::bucket(namespace_id, bucket_id),
            EventType::BucketDeleted,
            namespace_id,
        ),
    };
    ctx.table.delete_many(vec![record_key]).await?;
    tasks::set_status(
        ctx,
        &msg.org_id,
        &msg.task_id,
        TaskStatus::Completed,
        Some(vec![json!({"items_deleted": items})]),
        None,
    )
    .await?;
    super::events::publish(
        ctx,
        vec![Event {
            event_id: IdKind::Event.new_id(),
            event_type,
            org_id: msg.org_id.clone(),
            namespace_id: Some(namespace_id.clone()),
            created_at: now_rfc3339(),
            data: serde_json::to_value(&msg.scope).unwrap_or_default(),
        }],
    )
    .await?;
    tracing::info!(task_id = %msg.task_id, items, "purge complete");
    Ok(())
}
