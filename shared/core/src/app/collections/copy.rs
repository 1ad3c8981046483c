//! A clone's documents, copied with their vectors from the collection it was cloned from:
//! a task that copies a page at a time through the tasks queue, so a collection of any
//! size is copied without holding it whole or outliving a request.
//!
//! Each copy is created only where no document is yet (a redelivered page, or the clone's
//! own batch having written it first), and counted in the same transaction.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use crate::app::documents::{count_write, put_vectors, Document, DocumentOrigin};
use crate::app::messages::{CopyDocumentsMessage, TaskMessage};
use crate::app::{from_item, keys, tasks};
use crate::context::AppContext;
use crate::domain::collection::Collection;
use crate::domain::entities::{Namespace, Task};
use crate::domain::ids::{derived_id, IdKind};
use crate::domain::status::TaskStatus;
use crate::domain::time::now_rfc3339;
use crate::error::Error;
use crate::ports::{Key, QueueName, StoreError, Write};
use crate::store::index;

/// Documents read per message: GetVectors takes 100 keys a call.
const PAGE: usize = 100;
/// A transaction holds 100 writes: a document and its pointer each, and the count.
const PER_TRANSACTION: usize = 49;

/// Queues the copy of `from`'s documents into `to` (enqueued first; the task record
/// committed after makes it real, as with purges).
pub async fn start(
    ctx: &AppContext,
    ns: &Namespace,
    from: &Collection,
    to: &Collection,
) -> Result<Task, Error> {
    let task = tasks::new_task(
        &ns.org_id,
        Some(&ns.namespace_id),
        "api_collections_documents_create",
        vec![json!({"from_collection_id": from.collection_id, "collection_id": to.collection_id})],
    );
    let msg = CopyDocumentsMessage {
        task_id: task.task_id.clone(),
        org_id: ns.org_id.clone(),
        namespace_id: ns.namespace_id.clone(),
        from_collection_id: from.collection_id.clone(),
        to_collection_id: to.collection_id.clone(),
        cursor: None,
    };
    send(ctx, msg).await?;
    ctx.table.write(tasks::create_write(&task)).await?;
    Ok(task)
}

async fn send(ctx: &AppContext, msg: CopyDocumentsMessage) -> Result<(), Error> {
    let body = TaskMessage::CopyDocuments(msg).to_body();
    ctx.queue
        .send(QueueName::Tasks, vec![body], Duration::from_secs(1))
        .await?;
    Ok(())
}

/// The worker side: copies one page, then queues the next or finishes the task.
pub async fn run(
    ctx: &AppContext,
    msg: &CopyDocumentsMessage,
    receive_count: u32,
) -> Result<(), Error> {
    let Some(task) = tasks::for_message(ctx, &msg.org_id, &msg.task_id, receive_count).await?
    else {
        return Ok(());
    };
    if task.status.is_terminal() {
        return Ok(());
    }
    if task.status == TaskStatus::Pending {
        set(ctx, msg, TaskStatus::InProgress, None).await?;
    }
    let query = index::collection_documents(&msg.from_collection_id)
        .limit(PAGE)
        .cursor(msg.cursor.clone());
    let page = ctx.table.query(&query).await?;
    let mut originals = Vec::with_capacity(page.items.len());
    for item in page.items {
        let d: Document = from_item(item)?;
        // A soft-deleted document is on its way out; its copy would outlive it.
        if d.lifecycle.is_none() {
            originals.push(d);
        }
    }
    match copy_page(ctx, msg, originals).await {
        Ok(()) => {}
        Err(Error::NotFound(what)) => {
            let why = format!("{what} was deleted while its documents were copied");
            return set(ctx, msg, TaskStatus::Failed, Some(why)).await;
        }
        Err(e) => return Err(e),
    }
    match page.cursor {
        Some(next) => {
            let next = CopyDocumentsMessage {
                cursor: Some(next),
                ..msg.clone()
            };
            send(ctx, next).await
        }
        None => finish(ctx, msg).await,
    }
}

/// Completes the task with the clone's document count (a redelivered page may have run
/// twice, so a running sum could be off; the count is kept by the writes themselves).
async fn finish(ctx: &AppContext, msg: &CopyDocumentsMessage) -> Result<(), Error> {
    let key = keys::collection(&msg.namespace_id, &msg.to_collection_id);
    let Some(item) = ctx.table.get(&key).await? else {
        let why = format!(
            "collection {} was deleted while its documents were copied",
            msg.to_collection_id
        );
        return set(ctx, msg, TaskStatus::Failed, Some(why)).await;
    };
    let clone: Collection = from_item(item)?;
    let outputs = vec![json!({
        "collection_id": clone.collection_id,
        "document_count": clone.document_count,
    })];
    tasks::set_status(
        ctx,
        &msg.org_id,
        &msg.task_id,
        TaskStatus::Completed,
        Some(outputs),
        None,
    )
    .await
}

async fn set(
    ctx: &AppContext,
    msg: &CopyDocumentsMessage,
    status: TaskStatus,
    error: Option<String>,
) -> Result<(), Error> {
    tasks::set_status(ctx, &msg.org_id, &msg.task_id, status, None, error).await
}

/// Copies a page's documents and vectors.
async fn copy_page(
    ctx: &AppContext,
    msg: &CopyDocumentsMessage,
    originals: Vec<Document>,
) -> Result<(), Error> {
    let ids: Vec<String> = originals.iter().map(|d| d.document_id.clone()).collect();
    let mut vectors: HashMap<String, Vec<f32>> = ctx
        .vectors
        .get(&msg.from_collection_id, &ids)
        .await?
        .into_iter()
        .map(|r| (r.key, r.vector))
        .collect();
    let copies: Vec<Document> = originals
        .into_iter()
        .map(|d| {
            let embedding = vectors.remove(&d.document_id);
            copy_of(d, &msg.to_collection_id, embedding)
        })
        .collect();
    // Vectors first: a document in the table always finds its vector.
    let records = copies.iter().filter_map(Document::vector_record).collect();
    put_vectors(ctx, &msg.to_collection_id, records).await?;
    for chunk in copies.chunks(PER_TRANSACTION) {
        create_missing(ctx, &msg.namespace_id, chunk).await?;
    }
    Ok(())
}

/// A document as its copy in `collection_id`: the id the clone's own batches would give
/// it, so reprocessing there replaces the copy instead of adding another.
fn copy_of(d: Document, collection_id: &str, embedding: Option<Vec<f32>>) -> Document {
    let document_id = match d.origin {
        DocumentOrigin::Extracted => Document::id_for(collection_id, &d.object_id, d.index),
        DocumentOrigin::Created => derived_id(IdKind::Document, &[collection_id, &d.document_id]),
    };
    Document {
        document_id,
        collection_id: collection_id.to_string(),
        created_at: now_rfc3339(),
        updated_at: None,
        counted_by: None,
        version: 0,
        embedding,
        ..d
    }
}

/// Creates the documents not there yet, counting them in the same transaction.
async fn create_missing(
    ctx: &AppContext,
    namespace_id: &str,
    copies: &[Document],
) -> Result<(), Error> {
    let mut todo: Vec<&Document> = copies.iter().collect();
    loop {
        if todo.is_empty() {
            return Ok(());
        }
        let collection_id = &todo[0].collection_id;
        let mut writes: Vec<Write> = todo
            .iter()
            .flat_map(|d| [Write::create(d.to_item()), Write::put(d.ref_item())])
            .collect();
        writes.push(count_write(namespace_id, collection_id, todo.len() as i64));
        let count_at = writes.len() - 1;
        match ctx.table.transact(writes).await {
            Ok(()) => return Ok(()),
            Err(StoreError::ConditionFailed { index }) => {
                let keys: Vec<Key> = todo.iter().map(|d| d.key()).collect();
                let present: Vec<Key> = ctx
                    .table
                    .get_many(keys)
                    .await?
                    .iter()
                    .filter_map(Key::of)
                    .collect();
                // Not a document already there: the count's condition, so the clone is gone.
                if present.is_empty() || index == Some(count_at) {
                    return Err(Error::not_found(format!("collection {collection_id}")));
                }
                todo.retain(|d| !present.contains(&d.key()));
            }
            Err(e) => return Err(e.into()),
        }
    }
}
