//! Batches: a set of a bucket's objects run through the namespace's extractors.
//!
//! Every state change is one conditional write on the batch item, so racing requests
//! and redelivered messages cannot move a batch twice. Submit sends the work before it
//! commits (a message whose submit lost is dropped by its token); the worker records a
//! chunk's results and the counters in one transaction; the chunk that brings `pending`
//! to zero ends the batch with one more conditional write.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::lists::{collect, each_item, ListRequest};
pub use super::messages::ChunkMessage;
use super::views::{record, BatchView, ObjectResultView, ObjectView, Page, QueueStatus};
use super::{collections, from_item, keys, pointer, tasks, to_item};
use crate::context::AppContext;
use crate::domain::batch::{Action, Batch, BatchStatus, ObjectResult, ResultStatus};
use crate::domain::entities::{Bucket, Namespace, Object, Task};
use crate::domain::ids::IdKind;
use crate::domain::status::TaskStatus;
use crate::domain::time::{now, now_rfc3339, rfc3339};
use crate::error::Error;
use crate::ports::{Cond, Query, QueueName, StoreError, Update, Write};
use crate::store::index;

/// Largest batch: its object ids live in the batch item (DynamoDB items hold 400 KB).
mod inspect;
mod rerun;

pub use inspect::{audit, check_tier, diagnose, estimate, failed, logs};
pub use rerun::{
    bulk_submit, delete_documents, patch, resubmit, submit_all, trigger, BulkSubmit, PatchBatch,
    TriggerCollection,
};

pub const MAX_OBJECTS: usize = 5_000;
/// `failed_objects` shown on a batch.
const FAILED_OBJECTS_SHOWN: usize = 100;
pub const TASK_TYPE: &str = "api_buckets_batches_submit";

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBatch {
    pub object_ids: Option<Vec<String>>,
    /// Selects the bucket's objects by the object-list filter syntax.
    pub filters: Option<Value>,
    pub collection_ids: Option<Vec<String>>,
    pub limit: Option<i64>,
    pub dedup_strategy: Option<Value>,
    pub metadata: Option<Map<String, Value>>,
    pub batch_name: Option<String>,
    pub auto_submit: Option<bool>,
    /// Deprecated alias of `auto_submit`.
    pub trigger_processing: Option<bool>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddObjects {
    pub object_ids: Vec<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitBatch {
    pub include_processing_history: Option<bool>,
    pub collection_ids: Option<Vec<String>>,
    pub webhook_url: Option<String>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryBatch {
    pub retry_mode: Option<String>,
    pub tier_nums: Option<Vec<i64>>,
    pub max_retry_count: Option<i64>,
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListBatches {
    pub status: Option<String>,
    pub collection_id: Option<String>,
    pub bucket_id: Option<String>,
    pub namespace_id: Option<String>,
    pub offset: Option<i64>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

impl ListBatches {
    fn list_request(&self) -> ListRequest {
        ListRequest {
            limit: self.limit,
            offset: self.offset,
            cursor: self.cursor.clone(),
            ..ListRequest::default()
        }
    }
}

fn conflict(batch: &Batch, action: Action) -> Error {
    Error::Conflict(format!(
        "cannot {} batch {} while it is {}; allowed from {}",
        action.verb(),
        batch.batch_id,
        batch.status.as_str(),
        BatchStatus::allowed_from(action)
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

pub fn status_cond(action: Action) -> Cond {
    Cond::In(
        "status".into(),
        BatchStatus::allowed_from(action)
            .iter()
            .map(|s| json!(s.as_str()))
            .collect(),
    )
}

/// Object ids, once each, that all exist in the bucket; else a 422 naming the others.
async fn checked_object_ids(
    ctx: &AppContext,
    bucket: &Bucket,
    ids: &[String],
    field: &str,
) -> Result<Vec<String>, Error> {
    let mut seen = HashSet::new();
    let unique: Vec<String> = ids
        .iter()
        .filter(|id| seen.insert(id.as_str()))
        .cloned()
        .collect();
    if unique.is_empty() {
        return Err(Error::field(field, "must name at least one object"));
    }
    if unique.len() > MAX_OBJECTS {
        return Err(Error::field(
            field,
            format!("at most {MAX_OBJECTS} objects per batch"),
        ));
    }
    let found = ctx
        .table
        .get_many(
            unique
                .iter()
                .map(|id| keys::object(&bucket.bucket_id, id))
                .collect(),
        )
        .await?;
    let present: HashSet<&str> = found
        .iter()
        .filter_map(|item| item.get("object_id").and_then(Value::as_str))
        .collect();
    let missing: Vec<&String> = unique
        .iter()
        .filter(|id| !present.contains(id.as_str()))
        .collect();
    if !missing.is_empty() {
        return Err(Error::Invalid {
            message: format!(
                "{field}: {} object(s) are not in bucket {}: {}",
                missing.len(),
                bucket.bucket_id,
                missing
                    .iter()
                    .take(20)
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            details: json!({"field": field, "missing_object_ids": missing}),
        });
    }
    Ok(unique)
}

/// Object ids chosen by a filter over the bucket's objects.
async fn select_objects(
    ctx: &AppContext,
    bucket: &Bucket,
    filters: &Value,
    limit: usize,
) -> Result<Vec<String>, Error> {
    let list = ListRequest {
        filters: Some(filters.clone()),
        ..ListRequest::default()
    };
    let filter = list.filter(&["key_prefix", "object_id"])?;
    let mut ids = Vec::new();
    let query = Query::partition(keys::bkt_pk(&bucket.bucket_id)).prefix("OBJ#");
    each_item(ctx.table.as_ref(), query, |item| {
        let o: Object = from_item(item)?;
        if filter.matches(&record(&ObjectView::from(&o))?) {
            ids.push(o.object_id);
        }
        Ok(ids.len() < limit)
    })
    .await?;
    ids.truncate(limit);
    if ids.is_empty() {
        return Err(Error::field("filters", "no object in the bucket matches"));
    }
    Ok(ids)
}

pub async fn create(
    ctx: &AppContext,
    ns: &Namespace,
    bucket: &Bucket,
    req: CreateBatch,
) -> Result<(Batch, Option<Task>), Error> {
    create_with_id(ctx, ns, bucket, req, IdKind::Batch.new_id()).await
}

/// The batch that processes what one request created: its id derives from that
/// request's subject, so repeating the request finds the batch instead of adding one.
pub async fn create_for(
    ctx: &AppContext,
    ns: &Namespace,
    bucket: &Bucket,
    object_ids: Vec<String>,
    collection_ids: Option<Vec<String>>,
    subject: &str,
) -> Result<(Batch, Option<Task>), Error> {
    let id = crate::domain::ids::derived_id(IdKind::Batch, &[&bucket.bucket_id, subject]);
    let req = CreateBatch {
        object_ids: Some(object_ids),
        collection_ids,
        auto_submit: Some(true),
        ..CreateBatch::default()
    };
    match create_with_id(ctx, ns, bucket, req, id.clone()).await {
        Err(Error::Conflict(_)) => {
            let batch = get(ctx, bucket, &id).await?;
            let task = match &batch.task_id {
                Some(t) => tasks::get(ctx, &batch.org_id, t).await?,
                None => None,
            };
            Ok((batch, task))
        }
        other => other,
    }
}

async fn create_with_id(
    ctx: &AppContext,
    ns: &Namespace,
    bucket: &Bucket,
    req: CreateBatch,
    batch_id: String,
) -> Result<(Batch, Option<Task>), Error> {
    if let Some(name) = &req.batch_name {
        if name.chars().count() > 256 {
            return Err(Error::field("batch_name", "at most 256 characters"));
        }
    }
    let limit = match req.limit {
        Some(l) if !(1..=MAX_OBJECTS as i64).contains(&l) => {
            return Err(Error::field("limit", format!("must be 1 to {MAX_OBJECTS}")))
        }
        Some(l) => l as usize,
        None => MAX_OBJECTS,
    };
    let object_ids = match (&req.object_ids, &req.filters) {
        (Some(ids), _) => checked_object_ids(ctx, bucket, ids, "object_ids").await?,
        (None, Some(f)) if !f.is_null() => select_objects(ctx, bucket, f, limit).await?,
        _ => return Err(Error::field("object_ids", "give object_ids or filters")),
    };
    let (collection_ids, _) = collections::chosen_targets(
        ctx,
        ns,
        &bucket.bucket_id,
        req.collection_ids.as_deref(),
        "collection_ids",
    )
    .await?;
    let at = now_rfc3339();
    let batch = Batch {
        batch_id,
        collection_ids,
        bucket_id: bucket.bucket_id.clone(),
        namespace_id: ns.namespace_id.clone(),
        org_id: ns.org_id.clone(),
        batch_name: req.batch_name,
        status: BatchStatus::Draft,
        total: object_ids.len() as i64,
        object_ids,
        metadata: req.metadata.unwrap_or_default(),
        task_id: None,
        targets: Vec::new(),
        processed: 0,
        failed: 0,
        skipped: 0,
        pending: 0,
        attempt: 0,
        documents_written: 0,
        failure_reason: None,
        event_published: false,
        version: 1,
        created_at: at.clone(),
        updated_at: at,
        submitted_at: None,
        started_at: None,
        finished_at: None,
        last_activity_at: None,
    };
    ctx.table
        .transact(vec![
            Write::create(to_item(
                &keys::batch(&bucket.bucket_id, &batch.batch_id),
                &batch,
            )),
            Write::create({
                let mut p = pointer(
                    &keys::batch_ref(&ns.org_id, &batch.batch_id),
                    "bucket_id",
                    &bucket.bucket_id,
                );
                p.insert("namespace_id".into(), json!(ns.namespace_id));
                p
            }),
        ])
        .await
        .map_err(|e| match e {
            StoreError::ConditionFailed { .. } => {
                Error::Conflict(format!("batch {} already exists", batch.batch_id))
            }
            other => other.into(),
        })?;
    if req.auto_submit.or(req.trigger_processing).unwrap_or(false) {
        let task = submit(ctx, ns, bucket, &batch.batch_id, None).await?;
        let batch = get(ctx, bucket, &batch.batch_id).await?;
        return Ok((batch, Some(task)));
    }
    Ok((batch, None))
}

pub async fn get(ctx: &AppContext, bucket: &Bucket, batch_id: &str) -> Result<Batch, Error> {
    load(ctx, &bucket.bucket_id, batch_id).await
}

async fn load(ctx: &AppContext, bucket_id: &str, batch_id: &str) -> Result<Batch, Error> {
    match ctx.table.get(&keys::batch(bucket_id, batch_id)).await? {
        Some(item) => from_item(item),
        None => Err(Error::not_found(format!("batch {batch_id:?}"))),
    }
}

/// A batch by id alone (`/v1/batches/{id}`), through the org's pointer; with a
/// namespace given, only a batch of that namespace.
pub async fn get_in_org(
    ctx: &AppContext,
    org_id: &str,
    ns: Option<&Namespace>,
    batch_id: &str,
) -> Result<Batch, Error> {
    let missing = || Error::not_found(format!("batch {batch_id:?}"));
    let pointer = ctx
        .table
        .get(&keys::batch_ref(org_id, batch_id))
        .await?
        .ok_or_else(missing)?;
    let attr = |k: &str| {
        pointer
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    if ns.is_some_and(|n| n.namespace_id != attr("namespace_id")) {
        return Err(missing());
    }
    load(ctx, &attr("bucket_id"), batch_id).await
}

fn status_filter(status: &Option<String>) -> Result<Option<BatchStatus>, Error> {
    status
        .as_deref()
        .map(|s| {
            serde_json::from_value::<BatchStatus>(json!(s.to_ascii_uppercase()))
                .map_err(|_| Error::field("status", format!("unknown batch status {s:?}")))
        })
        .transpose()
}

pub async fn list(
    ctx: &AppContext,
    bucket: &Bucket,
    req: &ListBatches,
) -> Result<Page<BatchView>, Error> {
    let list = req.list_request();
    let size = list.page_size()?;
    let status = status_filter(&req.status)?;
    let query = Query::partition(keys::bkt_pk(&bucket.bucket_id))
        .prefix("BTCH#")
        .cursor(list.cursor()?)
        .descending(true);
    let (results, next) = collect(
        ctx.table.as_ref(),
        query,
        size,
        &list.filter(&[])?,
        |item| {
            let b: Batch = from_item(item)?;
            status
                .is_none_or(|s| s == b.status)
                .then(|| record(&BatchView::new(&b, &[], false)))
                .transpose()
        },
    )
    .await?;
    Ok(Page::new(results, next, size, None).counted())
}

/// Every batch of the org (or of one namespace), newest first.
pub async fn list_in_org(
    ctx: &AppContext,
    org_id: &str,
    ns: Option<&Namespace>,
    req: &ListBatches,
) -> Result<Page<BatchView>, Error> {
    let list = req.list_request();
    let size = list.page_size()?;
    let status = status_filter(&req.status)?;
    let namespace = ns
        .map(|n| n.namespace_id.clone())
        .or_else(|| req.namespace_id.clone());
    let query = Query::partition(keys::org_pk(org_id))
        .prefix("BTCHREF#")
        .cursor(list.cursor()?)
        .descending(true);
    let mut refs = Vec::new();
    let (_, next) = collect(
        ctx.table.as_ref(),
        query,
        size,
        &list.filter(&[])?,
        |item| {
            let attr = |k: &str| {
                item.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let batch_id = attr("sk").trim_start_matches("BTCHREF#").to_string();
            let wanted = namespace
                .as_ref()
                .is_none_or(|n| *n == attr("namespace_id"))
                && req
                    .bucket_id
                    .as_ref()
                    .is_none_or(|b| *b == attr("bucket_id"));
            if wanted {
                refs.push(keys::batch(&attr("bucket_id"), &batch_id));
            }
            Ok(Some(Value::Null))
        },
    )
    .await?;
    let mut batches: Vec<Batch> = ctx
        .table
        .get_many(refs)
        .await?
        .into_iter()
        .map(from_item)
        .collect::<Result<_, _>>()?;
    batches.sort_by(|a, b| b.batch_id.cmp(&a.batch_id));
    let results = batches
        .iter()
        .filter(|b| status.is_none_or(|s| s == b.status))
        .map(|b| record(&BatchView::new(b, &[], false)))
        .collect::<Result<_, _>>()?;
    Ok(Page::new(results, next, size, None).counted())
}

/// Replaces a draft's objects list with more objects, under its version.
pub async fn add_objects(
    ctx: &AppContext,
    bucket: &Bucket,
    batch_id: &str,
    req: AddObjects,
) -> Result<Batch, Error> {
    let added = checked_object_ids(ctx, bucket, &req.object_ids, "object_ids").await?;
    loop {
        let batch = get(ctx, bucket, batch_id).await?;
        if batch.status != BatchStatus::Draft {
            return Err(conflict(&batch, Action::AddObjects));
        }
        let mut ids = batch.object_ids.clone();
        let have: HashSet<String> = ids.iter().cloned().collect();
        ids.extend(added.iter().filter(|id| !have.contains(*id)).cloned());
        if ids.len() > MAX_OBJECTS {
            return Err(Error::field(
                "object_ids",
                format!("a batch holds at most {MAX_OBJECTS} objects"),
            ));
        }
        let write = Write::Update {
            key: keys::batch(&bucket.bucket_id, batch_id),
            updates: vec![
                Update::Set("object_ids".into(), json!(ids)),
                Update::Set("total".into(), json!(ids.len())),
                Update::Set("updated_at".into(), json!(now_rfc3339())),
                Update::Add("version".into(), 1),
            ],
            // The whole list is rewritten: only over the version this request read.
            cond: Cond::Equals("version".into(), json!(batch.version)),
        };
        match ctx.table.write(write).await {
            Ok(Some(item)) => return from_item(item),
            Ok(None) => return get(ctx, bucket, batch_id).await,
            Err(StoreError::ConditionFailed { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Sends an attempt's objects to the batches queue in chunks. They go out at once, just
/// before the attempt commits; a worker that reads the batch before the commit waits
/// briefly for it (see `pipeline::run_chunk`).
async fn enqueue(
    ctx: &AppContext,
    batch: &Batch,
    token: &str,
    attempt: i64,
    ids: &[String],
) -> Result<(), Error> {
    let bodies = ids
        .chunks(ctx.config.batch_chunk_size.max(1))
        .map(|chunk| {
            serde_json::to_string(&ChunkMessage {
                org_id: batch.org_id.clone(),
                namespace_id: batch.namespace_id.clone(),
                bucket_id: batch.bucket_id.clone(),
                batch_id: batch.batch_id.clone(),
                token: token.to_string(),
                attempt,
                object_ids: chunk.to_vec(),
            })
            .expect("chunk serializes")
        })
        .collect();
    ctx.queue
        .send(QueueName::Batches, bodies, std::time::Duration::ZERO)
        .await?;
    Ok(())
}

fn active_index(batch_id: &str, at: &str) -> [Update; 2] {
    index::Entry::ActiveBatch { batch_id, at }.set()
}

/// `DRAFT → QUEUED`: the work goes on the queue, then one transaction moves the batch
/// and records its task. A racing submit loses the condition and gets a 409. The batch
/// goes to `collection_ids` if given, else to those it was created for, else to every
/// collection fed by the bucket.
pub async fn submit(
    ctx: &AppContext,
    ns: &Namespace,
    bucket: &Bucket,
    batch_id: &str,
    collection_ids: Option<&[String]>,
) -> Result<Task, Error> {
    let batch = get(ctx, bucket, batch_id).await?;
    if batch.status != BatchStatus::Draft {
        return Err(conflict(&batch, Action::Submit));
    }
    let (_, targets) = collections::chosen_targets(
        ctx,
        ns,
        &bucket.bucket_id,
        collection_ids.or(batch.collection_ids.as_deref()),
        "collection_ids",
    )
    .await?;
    let mut task = tasks::new_task(
        &ns.org_id,
        Some(&ns.namespace_id),
        TASK_TYPE,
        vec![json!({"batch_id": batch.batch_id, "bucket_id": bucket.bucket_id})],
    );
    task.status = TaskStatus::Pending;
    task.additional_data
        .insert("batch_id".into(), json!(batch.batch_id));
    enqueue(ctx, &batch, &task.task_id, 1, &batch.object_ids).await?;
    let at = now_rfc3339();
    let mut updates = vec![
        Update::Set("status".into(), json!(BatchStatus::Queued.as_str())),
        Update::Set("task_id".into(), json!(task.task_id)),
        Update::Set("targets".into(), json!(targets)),
        Update::Set("attempt".into(), json!(1)),
        Update::Set("total".into(), json!(batch.object_ids.len())),
        Update::Set("pending".into(), json!(batch.object_ids.len())),
        Update::Set("submitted_at".into(), json!(at)),
        Update::Set("last_activity_at".into(), json!(at)),
        Update::Set("updated_at".into(), json!(at)),
        Update::Add("version".into(), 1),
    ];
    updates.extend(active_index(batch_id, &at));
    let result = ctx
        .table
        .transact(vec![
            Write::Update {
                key: keys::batch(&bucket.bucket_id, batch_id),
                updates,
                cond: status_cond(Action::Submit),
            },
            tasks::create_write(&task),
        ])
        .await;
    match result {
        Ok(()) => Ok(task),
        Err(StoreError::ConditionFailed { index: Some(0) }) => {
            let now = get(ctx, bucket, batch_id).await?;
            Err(conflict(&now, Action::Submit))
        }
        Err(e) => Err(e.into()),
    }
}

/// Stops a batch; chunks still queued find it canceled and do nothing.
pub async fn cancel(ctx: &AppContext, bucket: &Bucket, batch_id: &str) -> Result<Batch, Error> {
    cancel_by_key(ctx, &bucket.bucket_id, batch_id).await
}

pub async fn cancel_by_key(
    ctx: &AppContext,
    bucket_id: &str,
    batch_id: &str,
) -> Result<Batch, Error> {
    let at = now_rfc3339();
    let mut updates = vec![
        Update::Set("status".into(), json!(BatchStatus::Canceled.as_str())),
        Update::Set("finished_at".into(), json!(at)),
        Update::Set("updated_at".into(), json!(at)),
        Update::Add("version".into(), 1),
    ];
    updates.extend(index::remove());
    let write = Write::Update {
        key: keys::batch(bucket_id, batch_id),
        updates,
        cond: status_cond(Action::Cancel),
    };
    match ctx.table.write(write).await {
        Ok(_) => {}
        Err(StoreError::ConditionFailed { .. }) => {
            let batch = load(ctx, bucket_id, batch_id).await?;
            return Err(conflict(&batch, Action::Cancel));
        }
        Err(e) => return Err(e.into()),
    }
    let batch = load(ctx, bucket_id, batch_id).await?;
    if let Some(task_id) = &batch.task_id {
        tasks::set_status(
            ctx,
            &batch.org_id,
            task_id,
            TaskStatus::Canceled,
            None,
            None,
        )
        .await?;
    }
    Ok(batch)
}

/// Runs a finished batch's failed (and never-recorded) objects again as a new attempt.
pub async fn retry(
    ctx: &AppContext,
    ns: &Namespace,
    bucket: &Bucket,
    batch_id: &str,
) -> Result<(Batch, Task), Error> {
    let batch = get(ctx, bucket, batch_id).await?;
    if !BatchStatus::allowed_from(Action::Retry).contains(&batch.status) {
        return Err(conflict(&batch, Action::Retry));
    }
    let recorded = results_of(ctx, &batch).await?;
    let done: HashSet<&str> = recorded
        .iter()
        .filter(|r| r.status != ResultStatus::Failed)
        .map(|r| r.object_id.as_str())
        .collect();
    let again: Vec<String> = batch
        .object_ids
        .iter()
        .filter(|id| !done.contains(id.as_str()))
        .cloned()
        .collect();
    if again.is_empty() {
        return Err(Error::Conflict(format!(
            "batch {batch_id} has no failed objects to retry"
        )));
    }
    let mut task = tasks::new_task(
        &ns.org_id,
        Some(&ns.namespace_id),
        TASK_TYPE,
        vec![json!({"batch_id": batch.batch_id, "retry_of_attempt": batch.attempt})],
    );
    task.additional_data
        .insert("batch_id".into(), json!(batch.batch_id));
    let attempt = batch.attempt + 1;
    enqueue(ctx, &batch, &task.task_id, attempt, &again).await?;
    let at = now_rfc3339();
    let mut updates = vec![
        Update::Set("status".into(), json!(BatchStatus::Queued.as_str())),
        Update::Set("task_id".into(), json!(task.task_id)),
        Update::Set("attempt".into(), json!(attempt)),
        Update::Set("pending".into(), json!(again.len())),
        Update::Set("event_published".into(), json!(false)),
        Update::Set("last_activity_at".into(), json!(at)),
        Update::Set("updated_at".into(), json!(at)),
        Update::Remove("finished_at".into()),
        Update::Remove("failure_reason".into()),
        Update::Add("version".into(), 1),
    ];
    updates.extend(active_index(batch_id, &at));
    let result = ctx
        .table
        .transact(vec![
            Write::Update {
                key: keys::batch(&bucket.bucket_id, batch_id),
                updates,
                // Only over the attempt this request read: two retries cannot both run.
                cond: Cond::Equals("version".into(), json!(batch.version)),
            },
            tasks::create_write(&task),
        ])
        .await;
    match result {
        Ok(()) => Ok((get(ctx, bucket, batch_id).await?, task)),
        Err(StoreError::ConditionFailed { index: Some(0) }) => {
            let now = get(ctx, bucket, batch_id).await?;
            Err(Error::Conflict(format!(
                "batch {batch_id} changed while retrying (now {}); try again",
                now.status.as_str()
            )))
        }
        Err(e) => Err(e.into()),
    }
}

/// Deletes a batch that is not running, with its results. The documents it wrote stay
/// (`DELETE …/documents` takes them first).
pub async fn delete(ctx: &AppContext, bucket: &Bucket, batch_id: &str) -> Result<(), Error> {
    let gone = get(ctx, bucket, batch_id).await?;
    let result = ctx
        .table
        .transact(vec![
            Write::Delete {
                key: keys::batch(&bucket.bucket_id, batch_id),
                cond: status_cond(Action::Delete),
            },
            Write::delete(keys::batch_ref(&bucket.org_id, batch_id)),
        ])
        .await;
    match result {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { .. }) => {
            let batch = get(ctx, bucket, batch_id).await?;
            return Err(conflict(&batch, Action::Delete));
        }
        Err(e) => return Err(e.into()),
    }
    // A finished batch leaves its per-object results, which nothing reaches any more.
    rerun::delete_results(ctx, &gone).await
}

/// What the org's batch queue holds now: the batches in flight, by status, with their
/// objects still to process (from the in-flight index, never a scan of batches).
pub async fn queue_status(
    ctx: &AppContext,
    org_id: &str,
    namespace_id: Option<&str>,
) -> Result<QueueStatus, Error> {
    let mut status = QueueStatus::default();
    let in_flight = index::batches_idle_since("~");
    each_item(ctx.table.as_ref(), in_flight, |item| {
        let b: Batch = from_item(item)?;
        if b.org_id != org_id || namespace_id.is_some_and(|n| n != b.namespace_id) {
            return Ok(true);
        }
        match b.status {
            BatchStatus::Queued => status.queued_batches += 1,
            BatchStatus::Processing => status.processing_batches += 1,
            _ => return Ok(true),
        }
        status.pending_objects += b.pending.max(0);
        if let Some(at) = b.submitted_at {
            if status.oldest_submitted_at.as_ref().is_none_or(|o| &at < o) {
                status.oldest_submitted_at = Some(at);
            }
        }
        Ok(true)
    })
    .await?;
    Ok(status)
}

/// Reads a batch's results in key order, handing each to `keep_going` until it says stop.
async fn each_result(
    ctx: &AppContext,
    batch: &Batch,
    mut keep_going: impl FnMut(ObjectResult) -> bool,
) -> Result<(), Error> {
    let query = Query::partition(keys::bkt_pk(&batch.bucket_id))
        .prefix(keys::batch_results_prefix(&batch.batch_id))
        .limit(500);
    each_item(ctx.table.as_ref(), query, |item| {
        Ok(keep_going(from_item(item)?))
    })
    .await
}

async fn results_of(ctx: &AppContext, batch: &Batch) -> Result<Vec<ObjectResult>, Error> {
    let mut out = Vec::new();
    each_result(ctx, batch, |r| {
        out.push(r);
        true
    })
    .await?;
    Ok(out)
}

/// The per-object results of a batch, each failure with its stage and reason.
pub async fn list_results(
    ctx: &AppContext,
    bucket: &Bucket,
    batch_id: &str,
    req: &ListRequest,
) -> Result<Page<ObjectResultView>, Error> {
    let batch = get(ctx, bucket, batch_id).await?;
    let size = req.page_size()?;
    let query = Query::partition(keys::bkt_pk(&bucket.bucket_id))
        .prefix(keys::batch_results_prefix(&batch.batch_id))
        .cursor(req.cursor()?);
    let filter = req.filter(&["object_id", "status", "stage"])?;
    let (results, next) = collect(ctx.table.as_ref(), query, size, &filter, |item| {
        let r: ObjectResult = from_item(item)?;
        record(&ObjectResultView::from(&r)).map(Some)
    })
    .await?;
    Ok(Page::new(results, next, size, None).counted())
}

/// The failures shown on the batch itself (bounded), for `GET`: reads results only
/// until it has enough.
pub async fn failures_for_view(
    ctx: &AppContext,
    batch: &Batch,
) -> Result<Vec<ObjectResult>, Error> {
    let mut failed = Vec::new();
    if batch.failed > 0 {
        each_result(ctx, batch, |r| {
            if r.status == ResultStatus::Failed {
                failed.push(r);
            }
            failed.len() < FAILED_OBJECTS_SHOWN
        })
        .await?;
    }
    Ok(failed)
}

pub fn stalled(batch: &Batch, stall: std::time::Duration) -> bool {
    let Some(last) = batch.last_activity_at.as_deref() else {
        return false;
    };
    let Some(last) = crate::domain::time::parse(last) else {
        return false;
    };
    matches!(batch.status, BatchStatus::Queued | BatchStatus::Processing)
        && (now() - last).whole_seconds() > stall.as_secs() as i64
}

/// The time a stall check compares against.
pub fn stall_cutoff(stall: std::time::Duration) -> String {
    rfc3339(now() - stall)
}

/// `DELETE /v1/tasks/{id}`: a running task is canceled (a batch task cancels its
/// batch); a finished one's record is removed.
pub async fn kill_task(ctx: &AppContext, org_id: &str, task_id: &str) -> Result<String, Error> {
    let task = tasks::get(ctx, org_id, task_id)
        .await?
        .ok_or_else(|| Error::not_found(format!("task {task_id:?}")))?;
    if task.status.is_terminal() {
        ctx.table
            .write(Write::delete(keys::task(org_id, task_id)))
            .await?;
        return Ok(format!("task {task_id} deleted"));
    }
    let batch = task.additional_data.get("batch_id").and_then(Value::as_str);
    match batch {
        Some(batch_id) => {
            let bucket_id = ctx
                .table
                .get(&keys::batch_ref(org_id, batch_id))
                .await?
                .and_then(|p| {
                    p.get("bucket_id")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
                .ok_or_else(|| Error::not_found(format!("batch {batch_id:?}")))?;
            cancel_by_key(ctx, &bucket_id, batch_id).await?;
            Ok(format!("task {task_id} canceled with its batch {batch_id}"))
        }
        _ => Err(Error::Conflict(format!(
            "task {task_id} ({}) is {} and cannot be stopped; it will finish on its own",
            task.task_type, task.status
        ))),
    }
}
