//! The batch worker: one queue message is one chunk of a batch's objects.
//!
//! Exactly once under at-least-once delivery: documents have ids derived from their
//! collection, object and position, so writing them twice replaces them; each object's
//! result is a conditional put keyed by batch and object, committed in one transaction
//! with the batch's counters, so a redelivered chunk changes nothing; the batch ends
//! with one conditional write, and its event is published until that is recorded.

use std::collections::{BTreeMap, HashMap};

use futures::{stream, StreamExt};
use serde_json::{json, Value};

use super::batches::{self, ChunkMessage};
use super::documents::{self, Document, DocumentOrigin};
use super::extract::{self, ExtractInput, StageError};
use super::{from_item, keys, tasks, to_item};
use crate::context::AppContext;
use crate::domain::batch::{Action, Batch, BatchStatus, ObjectResult, ResultStatus};
use crate::domain::entities::Object;
use crate::domain::events::EventType;
use crate::domain::ids::derived_id;
use crate::domain::ids::IdKind;
use crate::domain::status::TaskStatus;
use crate::domain::time::{now, now_rfc3339, parse};
use crate::error::Error;
use crate::ports::{
    Cond, Event, Item, Key, Measurement, Query, StoreError, Update, VectorRecord, Write,
};
use crate::store::index;

/// Deliveries after which a chunk whose submit never committed is dropped.
const ORPHAN_AFTER_RECEIVES: u32 = 3;
/// How long a chunk that beat its submit's commit waits for it, in steps.
const COMMIT_WAIT: std::time::Duration = std::time::Duration::from_millis(50);
const COMMIT_WAIT_TRIES: u32 = 40;
/// Objects of one chunk processed at the same time.
const OBJECT_CONCURRENCY: usize = 8;

/// What processing one object produced.
struct Processed {
    result: ObjectResult,
    documents: Vec<Document>,
    /// It had failed in an earlier attempt (its failure is counted and now replaced).
    was_failed: bool,
}

pub async fn run_chunk(
    ctx: &AppContext,
    msg: &ChunkMessage,
    receive_count: u32,
) -> Result<(), Error> {
    let key = keys::batch(&msg.bucket_id, &msg.batch_id);
    let Some(mut batch) = committed_batch(ctx, msg, receive_count).await? else {
        return Ok(());
    };
    match batch.status {
        BatchStatus::Queued => {
            start(ctx, &batch).await?;
            batch.status = BatchStatus::Processing;
        }
        BatchStatus::Processing => {}
        BatchStatus::Canceled | BatchStatus::Draft => return Ok(()),
        _ => {
            // Ended already; make sure its ending was announced.
            return announce(ctx, &batch).await;
        }
    }
    let t0 = std::time::Instant::now();
    let (objects, earlier) = load_chunk(ctx, msg, receive_count).await?;
    let todo: Vec<&String> = msg
        .object_ids
        .iter()
        .filter(|id| earlier.get(*id).is_none_or(|r| r.attempt < msg.attempt))
        .collect();
    if todo.is_empty() {
        // Recorded by an earlier delivery, which may have stopped before the objects
        // heard of it.
        let recorded: Vec<&ObjectResult> = msg
            .object_ids
            .iter()
            .filter_map(|id| earlier.get(id))
            .filter(|r| r.attempt == msg.attempt)
            .collect();
        tell_objects(ctx, &msg.bucket_id, recorded).await?;
        return finish_if_done(ctx, &key).await;
    }
    let work: Vec<_> = todo
        .into_iter()
        .map(|id| {
            let was_failed = earlier
                .get(id)
                .is_some_and(|r| r.status == ResultStatus::Failed);
            process_object(ctx, &batch, id, objects.get(id), msg.attempt, was_failed)
        })
        .collect();
    let mut processed: Vec<Processed> = stream::iter(work)
        .buffered(OBJECT_CONCURRENCY)
        .collect()
        .await;
    carry_over(ctx, &batch, &mut processed).await?;
    tracing::debug!(
        read_and_process_us = t0.elapsed().as_micros() as u64,
        "chunk processed"
    );
    if !record(ctx, msg, &batch, &processed).await? {
        return Ok(());
    }
    tell_objects(ctx, &msg.bucket_id, processed.iter().map(|p| &p.result)).await?;
    finish_if_done(ctx, &key).await
}

/// The chunk's batch once its submit has committed. Chunks are sent just before their
/// submit commits, so a worker can get here first: it waits a moment for the commit
/// before handing the message back to the queue. `None`: nothing to do (the batch is
/// gone, or the submit lost or was superseded).
async fn committed_batch(
    ctx: &AppContext,
    msg: &ChunkMessage,
    receive_count: u32,
) -> Result<Option<Batch>, Error> {
    let key = keys::batch(&msg.bucket_id, &msg.batch_id);
    let mut waited = 0;
    loop {
        let Some(item) = ctx.table.get(&key).await? else {
            tracing::info!(batch_id = msg.batch_id, "chunk for a deleted batch dropped");
            return Ok(None);
        };
        let batch: Batch = from_item(item)?;
        if batch.task_id.as_deref() == Some(msg.token.as_str()) && batch.attempt == msg.attempt {
            return Ok(Some(batch));
        }
        let uncommitted = batch.status == BatchStatus::Draft || batch.attempt < msg.attempt;
        if uncommitted && waited < COMMIT_WAIT_TRIES {
            waited += 1;
            tokio::time::sleep(COMMIT_WAIT).await;
            continue;
        }
        if uncommitted && receive_count < ORPHAN_AFTER_RECEIVES {
            return Err(Error::NotYet(format!(
                "batch {} is not submitted yet",
                batch.batch_id
            )));
        }
        tracing::info!(
            batch_id = batch.batch_id,
            "chunk of a submit that lost or was superseded dropped"
        );
        return Ok(None);
    }
}

/// The chunk's objects and any results they already have, in one read.
async fn load_chunk(
    ctx: &AppContext,
    msg: &ChunkMessage,
    receive_count: u32,
) -> Result<(HashMap<String, Object>, HashMap<String, ObjectResult>), Error> {
    let mut wanted: Vec<Key> = msg
        .object_ids
        .iter()
        .map(|id| keys::object(&msg.bucket_id, id))
        .collect();
    // A first delivery of a first attempt has no results to find (a twin delivered at
    // the same time is stopped by the results' conditions when it commits).
    if msg.attempt > 1 || receive_count > 1 {
        wanted.extend(
            msg.object_ids
                .iter()
                .map(|id| keys::batch_result(&msg.bucket_id, &msg.batch_id, id)),
        );
    }
    let mut objects = HashMap::new();
    let mut earlier = HashMap::new();
    for item in ctx.table.get_many(wanted).await? {
        let is_object = item
            .get("sk")
            .and_then(Value::as_str)
            .is_some_and(|sk| sk.starts_with("OBJ#"));
        if is_object {
            let o: Object = from_item(item)?;
            // A soft-deleted object is out of use: processed as if gone.
            if o.lifecycle.is_none() {
                objects.insert(o.object_id.clone(), o);
            }
        } else {
            let r: ObjectResult = from_item(item)?;
            earlier.insert(r.object_id.clone(), r);
        }
    }
    Ok((objects, earlier))
}

/// Writes the chunk's documents and vectors, then its results and the batch's counts in
/// one transaction. `false`: the batch was canceled or ended meanwhile (nothing recorded).
async fn record(
    ctx: &AppContext,
    msg: &ChunkMessage,
    batch: &Batch,
    processed: &[Processed],
) -> Result<bool, Error> {
    let key = keys::batch(&msg.bucket_id, &msg.batch_id);
    // Documents first: a recorded result never points at a missing document.
    let doc_count = processed.iter().map(|p| p.documents.len()).sum::<usize>() as i64;
    let mut new_in: BTreeMap<&str, i64> = BTreeMap::new();
    for d in processed.iter().flat_map(|p| &p.documents) {
        if d.counted_by.as_deref() == Some(batch.batch_id.as_str()) {
            *new_in.entry(&d.collection_id).or_default() += 1;
        }
    }
    let docs: Vec<Item> = processed
        .iter()
        .flat_map(|p| p.documents.iter().flat_map(|d| [d.to_item(), d.ref_item()]))
        .collect();
    if !docs.is_empty() {
        ctx.table.put_many(docs).await?;
    }
    index_vectors(ctx, processed).await?;
    remove_stale_documents(ctx, batch, processed).await?;
    let mut writes: Vec<Write> = processed
        .iter()
        .map(|p| Write::Put {
            item: to_item(
                &keys::batch_result(&msg.bucket_id, &msg.batch_id, &p.result.object_id),
                &p.result,
            ),
            cond: Cond::MissingOrBelow("attempt".into(), msg.attempt),
        })
        .collect();
    let count = |s: ResultStatus| processed.iter().filter(|p| p.result.status == s).count() as i64;
    let replaced_failures = processed.iter().filter(|p| p.was_failed).count() as i64;
    let at = now_rfc3339();
    writes.push(Write::Update {
        key,
        updates: vec![
            Update::Add("processed".into(), count(ResultStatus::Completed)),
            Update::Add(
                "failed".into(),
                count(ResultStatus::Failed) - replaced_failures,
            ),
            Update::Add("skipped".into(), count(ResultStatus::Skipped)),
            Update::Add("pending".into(), -(processed.len() as i64)),
            Update::Add("documents_written".into(), doc_count),
            Update::Add("version".into(), 1),
            Update::Set("last_activity_at".into(), json!(at)),
            Update::Set("updated_at".into(), json!(at)),
            index::Entry::ActiveBatch {
                batch_id: &msg.batch_id,
                at: &at,
            }
            .resort(),
        ],
        cond: batches::status_cond(Action::Record),
    });
    let batch_index = writes.len() - 1;
    // Counted with the results, so a chunk delivered twice counts its documents once.
    let counters: Vec<Write> = new_in
        .into_iter()
        .map(|(collection_id, n)| documents::count_write(&batch.namespace_id, collection_id, n))
        .collect();
    let mut counted = writes.clone();
    counted.extend(counters);
    let outcome = match ctx.table.transact(counted).await {
        // A collection was deleted meanwhile: there is nothing of it to count.
        Err(StoreError::ConditionFailed { index: Some(i) }) if i > batch_index => {
            ctx.table.transact(writes).await
        }
        other => other,
    };
    match outcome {
        Ok(()) => {
            measure_results(ctx, processed);
            Ok(true)
        }
        // Another delivery of this chunk recorded it first.
        Err(StoreError::ConditionFailed { index: Some(i) }) if i < batch_index => Ok(true),
        // Canceled (or ended) meanwhile: nothing to record.
        Err(StoreError::ConditionFailed { .. }) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// An object's modality for the extraction figure: its blobs' one type, or `mixed`.
fn modality(o: &Object) -> &str {
    let mut types = o.blobs.iter().map(|b| b.blob_type.as_str());
    let first = types.next().unwrap_or("none");
    if types.all(|t| t == first) {
        first
    } else {
        "mixed"
    }
}

/// Milliseconds from an RFC 3339 time until now.
fn millis_since(at: &str) -> Option<u64> {
    let elapsed = now() - parse(at)?;
    u64::try_from(elapsed.whole_milliseconds()).ok()
}

/// What a recorded chunk did: objects processed, and failed by stage.
fn measure_results(ctx: &AppContext, processed: &[Processed]) {
    let mut failed: BTreeMap<&str, usize> = BTreeMap::new();
    let mut done = 0;
    for p in processed {
        match (&p.result.status, &p.result.stage) {
            (ResultStatus::Completed, _) => done += 1,
            (ResultStatus::Failed, Some(stage)) => *failed.entry(stage.as_str()).or_default() += 1,
            _ => {}
        }
    }
    if done > 0 {
        ctx.metrics.record(Measurement::objects_processed(done));
    }
    for (stage, n) in failed {
        ctx.metrics.record(Measurement::objects_failed(stage, n));
    }
}

/// Each object's own record says what its batch did with it: COMPLETED, FAILED with
/// the stage and reason, or SKIPPED. Written after the chunk's results (which stay the
/// record of the batch), one object at a time, and only over the version processed: an
/// object replaced meanwhile is PENDING again and stays so; a deleted one stays gone.
async fn tell_objects<'a>(
    ctx: &AppContext,
    bucket_id: &str,
    results: impl IntoIterator<Item = &'a ObjectResult>,
) -> Result<(), Error> {
    let groups: Vec<Vec<Write>> = results
        .into_iter()
        .filter_map(|r| {
            let version = r.object_version?;
            let error = match (&r.status, &r.stage, &r.reason) {
                (ResultStatus::Failed, Some(stage), Some(reason)) => {
                    json!(format!("{stage}: {reason}"))
                }
                (ResultStatus::Failed, _, reason) => json!(reason),
                _ => Value::Null,
            };
            Some(vec![Write::Update {
                key: keys::object(bucket_id, &r.object_id),
                updates: vec![
                    Update::Set("status".into(), json!(r.status.as_str())),
                    Update::Set("error".into(), error),
                ],
                cond: Cond::Equals("version".into(), json!(version)),
            }])
        })
        .collect();
    for outcome in ctx.table.transact_each(groups).await {
        match outcome {
            Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

async fn process_object(
    ctx: &AppContext,
    batch: &Batch,
    object_id: &str,
    object: Option<&Object>,
    attempt: i64,
    was_failed: bool,
) -> Processed {
    let outcome = match object {
        None => Err(StageError::new("load", "the object no longer exists")),
        Some(_) if batch.targets.is_empty() => Ok(None),
        Some(o) => {
            let started = std::time::Instant::now();
            let made = extract_documents(ctx, batch, o).await;
            let millis = started.elapsed().as_millis() as u64;
            ctx.metrics
                .record(Measurement::extraction_time(modality(o), millis));
            made.map(Some)
        }
    };
    let finished_at = now_rfc3339();
    let (status, stage, reason, documents) = match outcome {
        Ok(Some(docs)) => (ResultStatus::Completed, None, None, docs),
        Ok(None) => (
            ResultStatus::Skipped,
            None,
            Some("the namespace has no feature extractors".to_string()),
            Vec::new(),
        ),
        Err(e) => {
            tracing::info!(
                object_id,
                stage = e.stage,
                reason = e.reason,
                "object failed"
            );
            (
                ResultStatus::Failed,
                Some(e.stage.to_string()),
                Some(e.reason),
                Vec::new(),
            )
        }
    };
    Processed {
        result: ObjectResult {
            object_id: object_id.to_string(),
            status,
            attempt,
            stage,
            reason,
            document_ids: documents.iter().map(|d| d.document_id.clone()).collect(),
            finished_at,
            object_version: object.map(|o| o.version),
        },
        documents,
        was_failed,
    }
}

/// Puts the documents' vectors into their collections' indexes.
async fn index_vectors(ctx: &AppContext, processed: &[Processed]) -> Result<(), Error> {
    let mut by_collection: HashMap<&str, Vec<VectorRecord>> = HashMap::new();
    for d in processed.iter().flat_map(|p| &p.documents) {
        if let Some(r) = d.vector_record() {
            by_collection.entry(&d.collection_id).or_default().push(r);
        }
    }
    for (collection, records) in by_collection {
        super::documents::put_vectors(ctx, collection, records).await?;
    }
    Ok(())
}

/// A document written again keeps what it was given before: its creation time, its ACL,
/// a version above the one it had (so a change read before this write fails), and the
/// batch that counted it. One written for the first time is counted by this batch.
async fn carry_over(
    ctx: &AppContext,
    batch: &Batch,
    processed: &mut [Processed],
) -> Result<(), Error> {
    let keys: Vec<Key> = processed
        .iter()
        .flat_map(|p| p.documents.iter().map(Document::key))
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let mut before: HashMap<String, Document> = HashMap::new();
    for item in ctx.table.get_many(keys).await? {
        let d: Document = from_item(item)?;
        before.insert(d.document_id.clone(), d);
    }
    for d in processed.iter_mut().flat_map(|p| p.documents.iter_mut()) {
        match before.remove(&d.document_id) {
            Some(old) => {
                d.created_at = old.created_at;
                d.acl = old.acl;
                d.version = old.version + 1;
                d.counted_by = old.counted_by;
                d.updated_at = Some(now_rfc3339());
            }
            None => d.counted_by = Some(batch.batch_id.clone()),
        }
    }
    Ok(())
}

/// An object processed again may yield fewer documents than last time: the extra old
/// ones (and their vectors) go. Only extractors whose output count varies need the look.
async fn remove_stale_documents(
    ctx: &AppContext,
    batch: &Batch,
    processed: &[Processed],
) -> Result<(), Error> {
    let varying: Vec<&str> = batch
        .targets
        .iter()
        .filter(|t| extract::registry(ctx, &t.extractor).output_count_varies())
        .map(|t| t.collection_id.as_str())
        .collect();
    if varying.is_empty() {
        return Ok(());
    }
    for p in processed
        .iter()
        .filter(|p| p.result.status == ResultStatus::Completed)
    {
        let query = Query::partition(keys::bkt_pk(&batch.bucket_id))
            .prefix(keys::object_documents_prefix(&p.result.object_id));
        let stale: Vec<Item> = super::lists::all_items(ctx.table.as_ref(), query)
            .await?
            .into_iter()
            .filter(|item| {
                let col = item
                    .get("collection_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let index = item.get("index").and_then(Value::as_u64).unwrap_or(0) as usize;
                let now = p
                    .documents
                    .iter()
                    .filter(|d| d.collection_id == col)
                    .count();
                varying.contains(&col) && index >= now
            })
            .collect();
        if !stale.is_empty() {
            super::documents::remove(ctx, &stale).await?;
        }
    }
    Ok(())
}

/// The blob stage once, then every extractor of the batch over its output.
async fn extract_documents(
    ctx: &AppContext,
    batch: &Batch,
    object: &Object,
) -> Result<Vec<Document>, StageError> {
    let blobs = extract::fetch_blobs(ctx, object).await?;
    let mut documents = Vec::new();
    for target in &batch.targets {
        let extractor = extract::registry(ctx, &target.extractor);
        let input = ExtractInput {
            embedders: &ctx.embedders,
            blob_store: ctx.blobs.as_ref(),
            collection_id: &target.collection_id,
            object,
            blobs: &blobs,
            params: target.extractor.params.as_ref(),
        };
        let outputs = extractor.extract(&input).await?;
        let created_at = now_rfc3339();
        documents.extend(outputs.into_iter().enumerate().map(
            |(index, out): (usize, extract::Extracted)| Document {
                document_id: Document::id_for(&target.collection_id, &object.object_id, index),
                collection_id: target.collection_id.clone(),
                namespace_id: batch.namespace_id.clone(),
                bucket_id: batch.bucket_id.clone(),
                object_id: object.object_id.clone(),
                batch_id: batch.batch_id.clone(),
                feature_extractor: target.extractor.clone(),
                index,
                fields: out.fields,
                created_at: created_at.clone(),
                origin: DocumentOrigin::Extracted,
                updated_at: None,
                counted_by: None,
                acl: None,
                version: 0,
                lifecycle: None,
                retired_vector: None,
                embedding: out.embedding,
            },
        ));
    }
    Ok(documents)
}

/// `QUEUED → PROCESSING`; the first chunk to get here also marks the task.
async fn start(ctx: &AppContext, batch: &Batch) -> Result<(), Error> {
    let at = now_rfc3339();
    let write = Write::Update {
        key: keys::batch(&batch.bucket_id, &batch.batch_id),
        updates: vec![
            Update::Set("status".into(), json!(BatchStatus::Processing.as_str())),
            Update::Set(
                "started_at".into(),
                json!(batch.started_at.clone().unwrap_or_else(|| at.clone())),
            ),
            Update::Set("updated_at".into(), json!(at)),
            Update::Add("version".into(), 1),
        ],
        cond: batches::status_cond(Action::Start),
    };
    match ctx.table.write(write).await {
        Ok(_) => {
            if let Some(task_id) = &batch.task_id {
                tasks::set_status(
                    ctx,
                    &batch.org_id,
                    task_id,
                    TaskStatus::Processing,
                    None,
                    None,
                )
                .await?;
            }
            Ok(())
        }
        Err(StoreError::ConditionFailed { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Ends the batch when no object of this attempt is left; only one caller wins.
async fn finish_if_done(ctx: &AppContext, key: &Key) -> Result<(), Error> {
    let Some(item) = ctx.table.get(key).await? else {
        return Ok(());
    };
    let batch: Batch = from_item(item)?;
    if batch.pending > 0 || !matches!(batch.status, BatchStatus::Queued | BatchStatus::Processing) {
        return Ok(());
    }
    let outcome = BatchStatus::outcome(batch.processed, batch.failed, batch.skipped);
    end(ctx, &batch, outcome, None).await
}

/// Moves a batch to a terminal state over the version read, then announces it.
pub async fn end(
    ctx: &AppContext,
    batch: &Batch,
    outcome: BatchStatus,
    reason: Option<String>,
) -> Result<(), Error> {
    let at = now_rfc3339();
    let mut updates = vec![
        Update::Set("status".into(), json!(outcome.as_str())),
        Update::Set("finished_at".into(), json!(at)),
        Update::Set("updated_at".into(), json!(at)),
        Update::Add("version".into(), 1),
    ];
    updates.extend(index::remove());
    if let Some(r) = &reason {
        updates.push(Update::Set("failure_reason".into(), json!(r)));
    }
    let write = Write::Update {
        key: keys::batch(&batch.bucket_id, &batch.batch_id),
        updates,
        cond: Cond::Equals("version".into(), json!(batch.version)),
    };
    let ended = match ctx.table.write(write).await {
        Ok(Some(item)) => from_item::<Batch>(item)?,
        Ok(None) => return Ok(()),
        Err(StoreError::ConditionFailed { .. }) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if let Some(millis) = ended.submitted_at.as_deref().and_then(millis_since) {
        ctx.metrics
            .record(Measurement::batch_duration(ended.status.as_str(), millis));
    }
    announce(ctx, &ended).await
}

/// Publishes an ended batch's event and closes its task, once recorded as done.
/// The event id is derived from the batch and attempt, so a repeat is recognisable.
async fn announce(ctx: &AppContext, batch: &Batch) -> Result<(), Error> {
    if batch.event_published || batch.status == BatchStatus::Canceled || !batch.status.is_terminal()
    {
        return Ok(());
    }
    let event_type = match batch.status {
        BatchStatus::Failed => EventType::BatchFailed,
        _ => EventType::BatchCompleted,
    };
    let event = Event {
        event_id: derived_id(
            IdKind::Event,
            &[
                &batch.batch_id,
                &batch.attempt.to_string(),
                event_type.as_str(),
            ],
        ),
        event_type,
        org_id: batch.org_id.clone(),
        namespace_id: Some(batch.namespace_id.clone()),
        created_at: now_rfc3339(),
        data: json!({
            "batch_id": batch.batch_id,
            "bucket_id": batch.bucket_id,
            "namespace_id": batch.namespace_id,
            "status": batch.status,
            "total": batch.total,
            "processed": batch.processed,
            "failed": batch.failed,
            "skipped": batch.skipped,
            "documents_written": batch.documents_written,
            "attempt": batch.attempt,
            "failure_reason": batch.failure_reason,
        }),
    };
    super::events::publish(ctx, vec![event]).await?;
    if let Some(task_id) = &batch.task_id {
        let task_status = match batch.status {
            BatchStatus::Completed => TaskStatus::Completed,
            BatchStatus::CompletedWithErrors => TaskStatus::CompletedWithErrors,
            _ => TaskStatus::Failed,
        };
        let outputs = vec![
            json!({"batch_id": batch.batch_id, "processed": batch.processed, "failed": batch.failed, "skipped": batch.skipped}),
        ];
        tasks::set_status(
            ctx,
            &batch.org_id,
            task_id,
            task_status,
            Some(outputs),
            batch.failure_reason.clone(),
        )
        .await?;
    }
    ctx.table
        .write(Write::Update {
            key: keys::batch(&batch.bucket_id, &batch.batch_id),
            updates: vec![
                Update::Set("event_published".into(), json!(true)),
                Update::Add("version".into(), 1),
            ],
            cond: Cond::Exists,
        })
        .await?;
    Ok(())
}

/// Fails batches that have made no progress for `config.batch_stall` (their chunks were
/// dead-lettered, or their worker keeps dying), so none stays PROCESSING forever.
pub async fn sweep_stalled(ctx: &AppContext) -> Result<usize, Error> {
    let cutoff = batches::stall_cutoff(ctx.config.batch_stall);
    let page = ctx
        .table
        .query(&index::batches_idle_since(&cutoff).limit(100))
        .await?;
    let mut failed = 0;
    for item in page.items {
        let batch: Batch = from_item(item)?;
        if !batches::stalled(&batch, ctx.config.batch_stall) {
            continue;
        }
        let reason = format!(
            "no progress for {} s: {} of {} objects never got a result (their work was lost or kept failing); retry the batch to run them again",
            ctx.config.batch_stall.as_secs(),
            batch.pending,
            batch.total
        );
        tracing::warn!(batch_id = batch.batch_id, "stalled batch failed");
        end(ctx, &batch, BatchStatus::Failed, Some(reason)).await?;
        failed += 1;
    }
    Ok(failed)
}
