//! Batches changed after the fact: their metadata, a whole run again, many submitted at
//! once, and the documents a batch wrote taken back.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{conflict, create_with_id, get, submit, CreateBatch, MAX_OBJECTS};
use crate::app::lists::ListRequest;
use crate::app::views::{
    record, BatchDocumentsDeleted, BulkSubmitted, DraftsSubmitted, ObjectView, Resubmitted,
    SubmittedBatch,
};
use crate::app::{documents, from_item, keys};
use crate::context::AppContext;
use crate::domain::batch::{Action, Batch, BatchStatus};
use crate::domain::entities::{Bucket, Namespace, Object};
use crate::domain::ids::{derived_id, IdKind};
use crate::domain::time::now_rfc3339;
use crate::error::Error;
use crate::ports::{Cond, Item, Key, Query, StoreError, Update, Write};

/// Largest batch metadata, as JSON.
const MAX_METADATA_BYTES: usize = 16 * 1024;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchBatch {
    /// Merged into the batch's metadata (a key set to null is removed).
    pub metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkSubmit {
    pub collection_ids: Option<Vec<String>>,
    /// The object-list filter syntax; omitted: every object of the bucket.
    pub filters: Option<Value>,
    /// Objects per batch (1 to 5 000; 1 000 by default).
    pub chunk_size: Option<i64>,
    /// Sluice processes each object once per batch: only `null` is taken.
    pub dedup_strategy: Option<Value>,
    pub max_objects: Option<i64>,
}

/// The batch over the version read; a change meanwhile is a 409.
async fn write_over(ctx: &AppContext, batch: &Batch, updates: Vec<Update>) -> Result<(), Error> {
    let write = Write::Update {
        key: keys::batch(&batch.bucket_id, &batch.batch_id),
        updates,
        cond: Cond::Equals("version".into(), json!(batch.version)),
    };
    match ctx.table.write(write).await {
        Ok(_) => Ok(()),
        Err(StoreError::ConditionFailed { .. }) => Err(Error::Conflict(format!(
            "batch {} changed while this request ran; read it again",
            batch.batch_id
        ))),
        Err(e) => Err(e.into()),
    }
}

pub async fn patch(
    ctx: &AppContext,
    bucket: &Bucket,
    batch_id: &str,
    req: PatchBatch,
) -> Result<Batch, Error> {
    let batch = get(ctx, bucket, batch_id).await?;
    let mut metadata = batch.metadata.clone();
    for (k, v) in req.metadata.unwrap_or_default() {
        match v {
            Value::Null => metadata.remove(&k),
            v => metadata.insert(k, v),
        };
    }
    if Value::Object(metadata.clone()).to_string().len() > MAX_METADATA_BYTES {
        return Err(Error::field("metadata", "at most 16 KiB as JSON"));
    }
    let at = now_rfc3339();
    write_over(
        ctx,
        &batch,
        vec![
            Update::Set("metadata".into(), Value::Object(metadata)),
            Update::Set("updated_at".into(), json!(at)),
            Update::Add("version".into(), 1),
        ],
    )
    .await?;
    get(ctx, bucket, batch_id).await
}

/// A finished or canceled batch back to DRAFT with its results cleared, then submitted
/// unless `auto_submit` is false.
pub async fn resubmit(
    ctx: &AppContext,
    ns: &Namespace,
    bucket: &Bucket,
    batch_id: &str,
    auto_submit: bool,
) -> Result<Resubmitted, Error> {
    let batch = get(ctx, bucket, batch_id).await?;
    if !batch.status.is_terminal() {
        return Err(Error::Conflict(format!(
            "batch {batch_id} is {}; resubmit takes a finished or canceled batch (cancel it first)",
            batch.status.as_str()
        )));
    }
    // Results first: a draft never carries the results of an earlier run.
    delete_results(ctx, &batch).await?;
    let mut updates = vec![
        Update::Set("status".into(), json!(BatchStatus::Draft.as_str())),
        Update::Set("attempt".into(), json!(0)),
        Update::Set("event_published".into(), json!(false)),
        Update::Set("updated_at".into(), json!(now_rfc3339())),
        Update::Add("version".into(), 1),
    ];
    for counter in [
        "processed",
        "failed",
        "skipped",
        "pending",
        "total",
        "documents_written",
    ] {
        updates.push(Update::Set(counter.into(), json!(0)));
    }
    for gone in [
        "task_id",
        "submitted_at",
        "started_at",
        "finished_at",
        "failure_reason",
    ] {
        updates.push(Update::Remove(gone.into()));
    }
    write_over(ctx, &batch, updates).await?;
    let task_id = match auto_submit {
        true => Some(submit(ctx, ns, bucket, batch_id, None).await?.task_id),
        false => None,
    };
    Ok(Resubmitted {
        batch_id: batch_id.into(),
        status: if auto_submit { "QUEUED" } else { "DRAFT" }.into(),
        message: match auto_submit {
            true => "reset to DRAFT and submitted".into(),
            false => "reset to DRAFT; submit it to run".into(),
        },
        task_id,
    })
}

/// Deletes a batch's per-object results, page by page.
pub(super) async fn delete_results(ctx: &AppContext, batch: &Batch) -> Result<(), Error> {
    let query = Query::partition(keys::bkt_pk(&batch.bucket_id))
        .prefix(keys::batch_results_prefix(&batch.batch_id))
        .limit(500);
    loop {
        let page = ctx.table.query(&query).await?;
        if page.items.is_empty() {
            return Ok(());
        }
        let keys: Vec<Key> = page.items.iter().filter_map(Key::of).collect();
        ctx.table.delete_many(keys).await?;
    }
}

/// Submits every DRAFT batch of the bucket, one after another; one failing does not stop
/// the others.
pub async fn submit_all(
    ctx: &AppContext,
    ns: &Namespace,
    bucket: &Bucket,
) -> Result<DraftsSubmitted, Error> {
    let query = Query::partition(keys::bkt_pk(&bucket.bucket_id)).prefix("BTCH#");
    let drafts: Vec<Batch> = crate::app::lists::all_records::<Batch>(ctx.table.as_ref(), query)
        .await?
        .into_iter()
        .filter(|b| b.status == BatchStatus::Draft)
        .collect();
    let mut batches = Vec::with_capacity(drafts.len());
    for b in drafts {
        let outcome = submit(ctx, ns, bucket, &b.batch_id, None).await;
        batches.push(submitted(
            &b.batch_id,
            b.object_ids.len(),
            outcome.map(|t| t.task_id),
        ));
    }
    Ok(DraftsSubmitted {
        submitted: batches.iter().filter(|b| b.error.is_none()).count(),
        failed: batches.iter().filter(|b| b.error.is_some()).count(),
        batches,
    })
}

fn submitted(batch_id: &str, objects: usize, outcome: Result<String, Error>) -> SubmittedBatch {
    SubmittedBatch {
        batch_id: batch_id.into(),
        status: if outcome.is_ok() { "QUEUED" } else { "DRAFT" }.into(),
        object_count: objects,
        error: outcome.as_ref().err().map(|e| e.to_string()),
        task_id: outcome.ok(),
    }
}

/// The bucket's objects (those `filters` match), read page by page and submitted as
/// batches of `chunk_size`: the objects are never all held at once. Batch ids derive from
/// the group and their position, so each chunk is one batch.
pub async fn bulk_submit(
    ctx: &AppContext,
    ns: &Namespace,
    bucket: &Bucket,
    req: BulkSubmit,
) -> Result<BulkSubmitted, Error> {
    let chunk_size = match req.chunk_size.unwrap_or(1000) {
        n if (1..=MAX_OBJECTS as i64).contains(&n) => n as usize,
        _ => {
            return Err(Error::field(
                "chunk_size",
                format!("must be 1 to {MAX_OBJECTS}"),
            ))
        }
    };
    if req.dedup_strategy.as_ref().is_some_and(|d| !d.is_null()) {
        return Err(Error::field(
            "dedup_strategy",
            "Sluice runs each object once per batch; omit it",
        ));
    }
    let max_objects = match req.max_objects {
        Some(n) if n < 1 => return Err(Error::field("max_objects", "must be at least 1")),
        Some(n) => n as usize,
        None => usize::MAX,
    };
    let list = ListRequest {
        filters: req.filters.clone(),
        ..ListRequest::default()
    };
    let filter = list.filter(&["key_prefix", "object_id"])?;
    let group = IdKind::BatchGroup.new_id();
    let mut out = BulkSubmitted {
        batch_group_id: group.clone(),
        total_objects: 0,
        total_batches: 0,
        submitted: 0,
        failed: 0,
        chunk_size,
        batches: Vec::new(),
    };
    let mut chunk: Vec<String> = Vec::with_capacity(chunk_size);
    let mut cursor: Option<String> = None;
    loop {
        let query = Query::partition(keys::bkt_pk(&bucket.bucket_id))
            .prefix("OBJ#")
            .limit(500)
            .cursor(cursor.take());
        let page = ctx.table.query(&query).await?;
        for item in page.items {
            let o: Object = from_item(item)?;
            if out.total_objects + chunk.len() < max_objects
                && filter.matches(&record(&ObjectView::from(&o))?)
            {
                chunk.push(o.object_id);
            }
            if chunk.len() == chunk_size {
                submit_chunk(ctx, ns, bucket, &req, &mut out, std::mem::take(&mut chunk)).await?;
            }
        }
        cursor = page.cursor;
        if cursor.is_none() || out.total_objects + chunk.len() >= max_objects {
            break;
        }
    }
    if !chunk.is_empty() {
        submit_chunk(ctx, ns, bucket, &req, &mut out, chunk).await?;
    }
    if out.total_objects == 0 {
        return Err(Error::field("filters", "no object in the bucket matches"));
    }
    Ok(out)
}

async fn submit_chunk(
    ctx: &AppContext,
    ns: &Namespace,
    bucket: &Bucket,
    req: &BulkSubmit,
    out: &mut BulkSubmitted,
    object_ids: Vec<String>,
) -> Result<(), Error> {
    let n = object_ids.len();
    let id = derived_id(
        IdKind::Batch,
        &[&out.batch_group_id, &out.total_batches.to_string()],
    );
    let create = CreateBatch {
        object_ids: Some(object_ids),
        collection_ids: req.collection_ids.clone(),
        auto_submit: Some(true),
        batch_name: Some(format!("{} #{}", out.batch_group_id, out.total_batches + 1)),
        ..CreateBatch::default()
    };
    let outcome = create_with_id(ctx, ns, bucket, create, id.clone()).await;
    let outcome = match outcome {
        Ok((_, Some(task))) => Ok(task.task_id),
        Ok((b, None)) => Err(Error::NotReady(format!(
            "batch {} was not submitted",
            b.batch_id
        ))),
        // The namespace refuses the chunk as a whole (no collection, say): say so once.
        Err(e @ Error::Invalid { .. }) if out.total_batches == 0 => return Err(e),
        Err(e) => Err(e),
    };
    out.batches.push(submitted(&id, n, outcome));
    out.total_objects += n;
    out.total_batches += 1;
    out.submitted = out.batches.iter().filter(|b| b.error.is_none()).count();
    out.failed = out.total_batches - out.submitted;
    Ok(())
}

/// Removes the documents a finished batch wrote that are still its own (a document a
/// later batch wrote again belongs to that batch now).
pub async fn delete_documents(
    ctx: &AppContext,
    bucket: &Bucket,
    batch_id: &str,
) -> Result<BatchDocumentsDeleted, Error> {
    let batch = get(ctx, bucket, batch_id).await?;
    if !batch.status.is_terminal() {
        return Err(conflict(&batch, Action::Delete));
    }
    let mut deleted = 0;
    for result in super::results_of(ctx, &batch).await? {
        let mut items: Vec<Item> = Vec::new();
        for id in &result.document_ids {
            match documents::stored(ctx, &batch.namespace_id, None, id).await {
                Ok(d) if d.batch_id == batch.batch_id => items.push(d.to_item()),
                Ok(_) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        deleted += items.len();
        documents::remove(ctx, &items).await?;
    }
    Ok(BatchDocumentsDeleted {
        batch_id: batch_id.into(),
        documents_deleted: deleted,
        message: format!("{deleted} documents of batch {batch_id} deleted"),
    })
}

/// `POST /v1/collections/{id}/trigger`: the collection's source objects (those named, or
/// that `source_filters` match) submitted as batches to this collection alone, bucket by
/// bucket.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TriggerCollection {
    /// Of the collection's source buckets, only these (ids or names).
    pub include_buckets: Option<Vec<String>>,
    /// Collections are fed by buckets only: a non-empty list is refused.
    pub include_collections: Option<Vec<String>>,
    pub object_ids: Option<Vec<String>>,
    pub source_filters: Option<Value>,
    /// Sluice runs each object once per batch: only `null` is taken.
    pub dedup_strategy: Option<Value>,
    /// Stored texts are embedded again by processing their objects: not taken separately.
    pub reembed: Option<Value>,
}

pub async fn trigger(
    ctx: &AppContext,
    ns: &Namespace,
    c: &crate::domain::collection::Collection,
    sources: Vec<Bucket>,
    req: TriggerCollection,
) -> Result<Vec<BulkSubmitted>, Error> {
    if req
        .include_collections
        .as_ref()
        .is_some_and(|c| !c.is_empty())
    {
        return Err(Error::field(
            "include_collections",
            "collections are fed by buckets only",
        ));
    }
    if req.reembed.as_ref().is_some_and(|r| !r.is_null()) {
        return Err(Error::field(
            "reembed",
            "documents are embedded again by processing their objects: trigger without it",
        ));
    }
    if !c.enabled {
        return Err(Error::Conflict(format!(
            "collection {} is disabled; enable it first",
            c.collection_id
        )));
    }
    let filters = match (&req.object_ids, &req.source_filters) {
        (Some(ids), None) if !ids.is_empty() && ids.len() <= MAX_OBJECTS => {
            Some(json!({"AND": [{"field": "object_id", "operator": "in", "value": ids}]}))
        }
        (Some(_), None) => {
            return Err(Error::field(
                "object_ids",
                format!("name 1 to {MAX_OBJECTS} objects"),
            ))
        }
        (None, f) => f.clone(),
        (Some(_), Some(_)) => {
            return Err(Error::field(
                "object_ids",
                "give object_ids or source_filters, not both",
            ))
        }
    };
    let mut runs = Vec::new();
    for bucket in sources {
        let bulk = BulkSubmit {
            collection_ids: Some(vec![c.collection_id.clone()]),
            filters: filters.clone(),
            dedup_strategy: req.dedup_strategy.clone(),
            ..BulkSubmit::default()
        };
        match bulk_submit(ctx, ns, &bucket, bulk).await {
            Ok(done) => runs.push(done),
            // Nothing of this bucket matches: the others may.
            Err(Error::Invalid { details, .. }) if details["field"] == "filters" => {}
            Err(e) => return Err(e),
        }
    }
    if runs.is_empty() {
        return Err(Error::field(
            "object_ids",
            "no object of the collection's sources matches",
        ));
    }
    Ok(runs)
}
