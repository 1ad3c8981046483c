//! Batches: objects run through their collections' extractors.

use super::prelude::*;
use super::shared::*;

routes! {
    /// Create a batch of a bucket's objects (DRAFT)
    BATCHES_CREATE: POST "/v1/buckets/{bucket_identifier}/batches" => batches_create -> BatchView {
        request_body: Some(required::<CreateBatch>()),
        idempotent: true,
        permissions: &[ReadTable, WriteTable, Send(QueueName::Batches)],
    }

    /// List a bucket's batches
    BATCHES_LIST: POST "/v1/buckets/{bucket_identifier}/batches/list" => batches_list -> Page<BatchView> {
        request_body: Some(optional::<ListBatches>()),
    }

    /// Get a batch with its progress and failures
    BATCHES_GET: GET "/v1/buckets/{bucket_identifier}/batches/{batch_id}" => batches_get -> BatchView {}

    /// Delete a batch that is not running (a draft, or a finished or canceled one)
    BATCHES_DELETE: DELETE "/v1/buckets/{bucket_identifier}/batches/{batch_id}" => batches_delete -> Done {
        permissions: &[ReadTable, WriteTable],
    }

    /// Add objects to a draft batch
    BATCHES_ADD_OBJECTS: POST "/v1/buckets/{bucket_identifier}/batches/{batch_id}/objects" => batches_add_objects -> BatchView {
        request_body: Some(required::<AddObjects>()),
        permissions: &[ReadTable, WriteTable],
    }

    /// Per-object results of a batch, with each failure's stage and reason
    BATCHES_RESULTS: GET "/v1/buckets/{bucket_identifier}/batches/{batch_id}/objects" => batches_results -> Page<ObjectResultView> {}

    /// Submit a draft batch for processing (returns its task)
    BATCHES_SUBMIT: POST "/v1/buckets/{bucket_identifier}/batches/{batch_id}/submit" => batches_submit -> TaskView {
        request_body: Some(optional::<SubmitBatch>()),
        idempotent: true,
        permissions: &[ReadTable, WriteTable, Send(QueueName::Batches)],
    }

    /// Cancel a batch
    BATCHES_CANCEL: POST "/v1/buckets/{bucket_identifier}/batches/{batch_id}/cancel" => batches_cancel -> BatchCanceled {
        permissions: &[ReadTable, WriteTable],
    }

    /// Run a finished batch's failed objects again
    BATCHES_RETRY: POST "/v1/buckets/{bucket_identifier}/batches/{batch_id}/retry" => batches_retry -> BatchRetried {
        request_body: Some(optional::<RetryBatch>()),
        idempotent: true,
        permissions: &[ReadTable, WriteTable, Send(QueueName::Batches)],
    }

    /// Change a batch's metadata
    BATCHES_PATCH: PATCH "/v1/buckets/{bucket_identifier}/batches/{batch_id}" => batches_patch -> BatchView {
        request_body: Some(required::<batches::PatchBatch>()),
        permissions: &[ReadTable, WriteTable],
    }

    /// The work a batch would do, with the basis of the estimate
    BATCHES_ESTIMATE: POST "/v1/buckets/{bucket_identifier}/batches/{batch_id}/estimate-cost" => batches_estimate -> BatchCostEstimate {}

    /// A batch's log: its transitions and failed objects
    BATCHES_LOGS: GET "/v1/buckets/{bucket_identifier}/batches/{batch_id}/logs" => batches_logs -> BatchLogs {}

    /// Tier 0's accounting: every submitted object processed, failed, skipped or pending
    BATCHES_AUDIT: GET "/v1/buckets/{bucket_identifier}/batches/{batch_id}/audit" => batches_audit -> BatchAudit {}

    /// What is wrong with a batch, and what to do
    BATCHES_DIAGNOSE: GET "/v1/buckets/{bucket_identifier}/batches/{batch_id}/diagnose" => batches_diagnose -> BatchDiagnosis {}

    /// A batch's failed objects, paged by offset
    BATCHES_FAILED: GET "/v1/buckets/{bucket_identifier}/batches/{batch_id}/failed-documents" => batches_failed -> FailedDocuments {}

    /// Run a finished or canceled batch again from the start
    BATCHES_RESUBMIT: POST "/v1/buckets/{bucket_identifier}/batches/{batch_id}/resubmit" => batches_resubmit -> Resubmitted {
        request_body: Some(optional::<Value>()),
        permissions: &[ReadTable, WriteTable, Send(QueueName::Batches)],
    }

    /// Delete the documents a finished batch wrote
    BATCHES_DELETE_DOCUMENTS: DELETE "/v1/buckets/{bucket_identifier}/batches/{batch_id}/documents" => batches_delete_documents -> BatchDocumentsDeleted {
        permissions: &[ReadTable, WriteTable, DeleteVectors, DeleteBlobs],
    }

    /// Submit every draft batch of a bucket
    BATCHES_SUBMIT_ALL: POST "/v1/buckets/{bucket_identifier}/batches/submit-all" => batches_submit_all -> DraftsSubmitted {
        permissions: &[ReadTable, WriteTable, Send(QueueName::Batches)],
    }

    /// Submit a bucket's objects as batches of chunk_size
    BATCHES_BULK_SUBMIT: POST "/v1/buckets/{bucket_identifier}/batches/bulk-submit" => batches_bulk_submit -> BulkSubmitted {
        request_body: Some(optional::<batches::BulkSubmit>()),
        permissions: &[ReadTable, WriteTable, Send(QueueName::Batches)],
    }

    /// Retry tier 0 (the batch's failed objects)
    BATCHES_TIER_RETRY: POST "/v1/buckets/{bucket_identifier}/batches/{batch_id}/tiers/{tier_num}/retry" => batches_tier_retry -> BatchRetried {
        request_body: Some(optional::<Value>()),
        permissions: &[ReadTable, WriteTable, Send(QueueName::Batches)],
    }

    /// Check tier 0 for a stall (`detect_stuck`)
    BATCHES_TIER_HEAL: POST "/v1/buckets/{bucket_identifier}/batches/{batch_id}/tiers/{tier_num}/heal" => batches_tier_heal -> TierHealed {
        request_body: Some(required::<HealTier>()),
    }

    /// Cancel tier 0 (the batch)
    BATCHES_TIER_CANCEL: POST "/v1/buckets/{bucket_identifier}/batches/{batch_id}/tiers/{tier_num}/cancel" => batches_tier_cancel -> BatchCanceled {
        permissions: &[ReadTable, WriteTable],
    }

    /// Cancel one Ray job of a tier (Sluice runs none: a 422 saying so)
    BATCHES_TIER_JOB_CANCEL: POST "/v1/buckets/{bucket_identifier}/batches/{batch_id}/tiers/{tier_num}/jobs/{ray_job_id}/cancel" => batches_tier_job_cancel -> Unreachable {}

    /// The org's batches in flight (in the namespace, when one is named)
    BATCHES_QUEUE: GET "/v1/batches/queue" => batches_queue -> QueueStatus {
        access: Access::OrgOptionalNamespace,
    }

    /// Get a batch by id alone
    BATCHES_GET_BY_ID: GET "/v1/batches/{batch_id}" => batches_get_by_id -> BatchView {
        access: Access::OrgOptionalNamespace,
    }

    /// List every batch of the namespace
    BATCHES_LIST_ALL: POST "/v1/batches/list" => batches_list_all -> Page<BatchView> {
        access: Access::OrgOptionalNamespace,
        request_body: Some(optional::<ListBatches>()),
    }

    /// Cancel a batch by id alone
    BATCHES_CANCEL_BY_ID: POST "/v1/batches/{batch_id}/cancel" => batches_cancel_by_id -> BatchCanceled {
        access: Access::OrgOptionalNamespace,
        permissions: &[ReadTable, WriteTable],
    }
}

fn batch_id(req: &ApiRequest) -> Result<&str, ApiError> {
    req.param("batch_id")
}

async fn batch_view(
    ctx: &AppContext,
    batch: &sluice_core::domain::batch::Batch,
) -> Reply<BatchView> {
    let failures = batches::failures_for_view(ctx, batch).await?;
    let stalled = batches::stalled(batch, ctx.config.batch_stall);
    Ok(BatchView::new(batch, &failures, stalled))
}

async fn batches_create(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BatchView> {
    let mut body: CreateBatch = req.json()?;
    if objects::flag(&req.query, "auto_submit")? {
        body.auto_submit = Some(true);
    }
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let (batch, _task) = batches::create(&ctx, c.namespace()?, &bucket, body).await?;
    batch_view(&ctx, &batch).await
}

async fn batches_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Page<BatchView>> {
    let body: ListBatches = req.json_or_default()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(batches::list(&ctx, &bucket, &body).await?)
}

async fn batches_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BatchView> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let batch = batches::get(&ctx, &bucket, batch_id(&req)?).await?;
    batch_view(&ctx, &batch).await
}

async fn batches_get_by_id(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BatchView> {
    let batch = batches::get_in_org(&ctx, c.org()?, c.namespace.as_ref(), batch_id(&req)?).await?;
    batch_view(&ctx, &batch).await
}

async fn batches_list_all(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Page<BatchView>> {
    let body: ListBatches = req.json_or_default()?;
    Ok(batches::list_in_org(&ctx, c.org()?, c.namespace.as_ref(), &body).await?)
}

async fn batches_add_objects(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BatchView> {
    let body: AddObjects = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let batch = batches::add_objects(&ctx, &bucket, batch_id(&req)?, body).await?;
    batch_view(&ctx, &batch).await
}

async fn batches_submit(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<TaskView> {
    let options: batches::SubmitBatch = req.json_or_default()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let task = batches::submit(
        &ctx,
        c.namespace()?,
        &bucket,
        batch_id(&req)?,
        options.collection_ids.as_deref(),
    )
    .await?;
    Ok(TaskView::from(&task))
}

async fn cancel_response(
    ctx: &AppContext,
    batch: &sluice_core::domain::batch::Batch,
) -> Reply<BatchCanceled> {
    let task = match &batch.task_id {
        Some(id) => tasks::get(ctx, &batch.org_id, id).await?,
        None => None,
    };
    let task = match task {
        Some(t) => TaskView::from(&t),
        // A draft has no task: the batch answers for itself.
        None => TaskView {
            task_id: batch.batch_id.clone(),
            task_type: batches::TASK_TYPE.into(),
            status: sluice_core::domain::status::TaskStatus::Canceled,
            namespace_id: Some(batch.namespace_id.clone()),
            inputs: Vec::new(),
            outputs: Vec::new(),
            additional_data: Default::default(),
            error: None,
            created_at: batch.created_at.clone(),
            updated_at: batch.updated_at.clone(),
        },
    };
    Ok(BatchCanceled {
        task,
        batch_id: batch.batch_id.clone(),
        cancellation: Cancellation {
            outcome: "canceled".into(),
            batch_status: batch.status,
        },
    })
}

async fn batches_cancel(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BatchCanceled> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let batch = batches::cancel(&ctx, &bucket, batch_id(&req)?).await?;
    cancel_response(&ctx, &batch).await
}

async fn batches_cancel_by_id(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BatchCanceled> {
    let found = batches::get_in_org(&ctx, c.org()?, c.namespace.as_ref(), batch_id(&req)?).await?;
    let batch = batches::cancel_by_key(&ctx, &found.bucket_id, &found.batch_id).await?;
    cancel_response(&ctx, &batch).await
}

async fn batches_retry(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BatchRetried> {
    let _options: batches::RetryBatch = req.json_or_default()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let (batch, task) = batches::retry(&ctx, c.namespace()?, &bucket, batch_id(&req)?).await?;
    Ok(BatchRetried {
        batch_id: batch.batch_id,
        status: batch.status,
        attempt: batch.attempt,
        retried_object_count: batch.pending,
        task_id: task.task_id.clone(),
        task: TaskView::from(&task),
    })
}

async fn batches_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Done> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    batches::delete(&ctx, &bucket, batch_id(&req)?).await?;
    Ok(Done::new("Successfully deleted"))
}

async fn batches_results(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<ObjectResultView>> {
    let list = ListRequest::default().merge_query(&req.query)?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(batches::list_results(&ctx, &bucket, batch_id(&req)?, &list).await?)
}

async fn batches_queue(ctx: AppContext, c: Caller, _req: ApiRequest) -> Reply<QueueStatus> {
    let ns = c.namespace.as_ref().map(|n| n.namespace_id.as_str());
    Ok(batches::queue_status(&ctx, c.org()?, ns).await?)
}

/// `heal`'s body: what to do to tier 0.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct HealTier {
    /// `detect_stuck` (the only check Sluice's worker needs).
    action: String,
}

async fn batch_of(
    ctx: &AppContext,
    c: &Caller,
    req: &ApiRequest,
) -> Result<(Bucket, sluice_core::domain::batch::Batch), ApiError> {
    let bucket = bucket_of(ctx, c, req).await?;
    let batch = batches::get(ctx, &bucket, batch_id(req)?).await?;
    Ok((bucket, batch))
}

/// The batch of a tier route, once its tier is one that exists (0).
async fn tier_of(
    ctx: &AppContext,
    c: &Caller,
    req: &ApiRequest,
) -> Result<(Bucket, sluice_core::domain::batch::Batch), ApiError> {
    let (bucket, batch) = batch_of(ctx, c, req).await?;
    batches::check_tier(&batch, req.param("tier_num")?)?;
    Ok((bucket, batch))
}

/// `?tier_num=` on a read: 0 or absent.
fn tier_query(req: &ApiRequest, batch: &sluice_core::domain::batch::Batch) -> Result<(), ApiError> {
    match req.query.get("tier_num") {
        Some(t) => Ok(batches::check_tier(batch, t)?),
        None => Ok(()),
    }
}

async fn batches_patch(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BatchView> {
    let body: batches::PatchBatch = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let batch = batches::patch(&ctx, &bucket, batch_id(&req)?, body).await?;
    batch_view(&ctx, &batch).await
}

async fn batches_estimate(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BatchCostEstimate> {
    let (bucket, batch) = batch_of(&ctx, &c, &req).await?;
    Ok(batches::estimate(&ctx, c.namespace()?, &bucket, &batch).await?)
}

async fn batches_logs(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BatchLogs> {
    let (_, batch) = batch_of(&ctx, &c, &req).await?;
    tier_query(&req, &batch)?;
    Ok(BatchLogs {
        logs: batches::logs(&ctx, &batch).await?,
        batch_id: batch.batch_id,
        tier_num: 0,
    })
}

async fn batches_audit(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BatchAudit> {
    let (_, batch) = batch_of(&ctx, &c, &req).await?;
    Ok(batches::audit(&ctx, &batch).await?)
}

async fn batches_diagnose(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BatchDiagnosis> {
    let (_, batch) = batch_of(&ctx, &c, &req).await?;
    Ok(batches::diagnose(&ctx, &batch).await?)
}

async fn batches_failed(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<FailedDocuments> {
    let (_, batch) = batch_of(&ctx, &c, &req).await?;
    tier_query(&req, &batch)?;
    if let Some(col) = req.query.get("collection_id") {
        let targets = &batch.targets;
        if !targets.is_empty() && !targets.iter().any(|t| &t.collection_id == col) {
            return Err(ApiError::field(
                "collection_id",
                format!("batch {} does not write to {col}", batch.batch_id),
            ));
        }
    }
    let number = |name: &str, default: usize, max: usize| -> Result<usize, ApiError> {
        match req.query.get(name).map(|v| v.parse::<usize>()) {
            None => Ok(default),
            Some(Ok(n)) if n <= max => Ok(n),
            _ => Err(ApiError::field(
                name,
                format!("must be an integer from 0 to {max}"),
            )),
        }
    };
    let (limit, offset) = (number("limit", 100, 1000)?, number("offset", 0, 1_000_000)?);
    let (failed, total) = batches::failed(&ctx, &batch, offset, limit).await?;
    Ok(FailedDocuments {
        batch_id: batch.batch_id,
        tier_num: 0,
        failed_documents: failed.iter().map(FailedObject::from).collect(),
        total,
        limit,
        offset,
    })
}

async fn batches_resubmit(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Resubmitted> {
    let _overrides: Option<Value> = req.json_or_default()?;
    if let Some(tier) = req.query.get("from_tier") {
        let (_, batch) = batch_of(&ctx, &c, &req).await?;
        batches::check_tier(&batch, tier)?;
    }
    let auto = !(req.query.get("auto_submit").is_some_and(|v| v == "false")
        || req
            .query
            .get("trigger_processing")
            .is_some_and(|v| v == "false"));
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(batches::resubmit(&ctx, c.namespace()?, &bucket, batch_id(&req)?, auto).await?)
}

async fn batches_delete_documents(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<BatchDocumentsDeleted> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(batches::delete_documents(&ctx, &bucket, batch_id(&req)?).await?)
}

async fn batches_submit_all(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<DraftsSubmitted> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(batches::submit_all(&ctx, c.namespace()?, &bucket).await?)
}

async fn batches_bulk_submit(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BulkSubmitted> {
    let body: batches::BulkSubmit = req.json_or_default()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(batches::bulk_submit(&ctx, c.namespace()?, &bucket, body).await?)
}

async fn batches_tier_retry(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BatchRetried> {
    let overrides: Option<serde_json::Map<String, Value>> = req.json_or_default()?;
    if let Some(k) = overrides.as_ref().and_then(|o| o.keys().next()) {
        return Err(ApiError::field(
            k.as_str(),
            "Sluice's batch worker has no per-tier resources to override (its memory and timeout are the function's)",
        ));
    }
    tier_of(&ctx, &c, &req).await?;
    batches_retry(ctx, c, req).await
}

async fn batches_tier_heal(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<TierHealed> {
    let body: HealTier = req.json()?;
    let (_, batch) = tier_of(&ctx, &c, &req).await?;
    if body.action != "detect_stuck" {
        return Err(ApiError::field(
            "action",
            format!("{:?}: Sluice's worker heals only by `detect_stuck` (it runs no Ray jobs to kill or sync)", body.action),
        ));
    }
    let diagnosis = batches::diagnose(&ctx, &batch).await?;
    Ok(TierHealed {
        batch_id: batch.batch_id,
        tier_num: 0,
        action: body.action,
        stuck: diagnosis.health == "STALLED",
        diagnosis,
    })
}

async fn batches_tier_cancel(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BatchCanceled> {
    tier_of(&ctx, &c, &req).await?;
    batches_cancel(ctx, c, req).await
}

async fn batches_tier_job_cancel(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Unreachable> {
    tier_of(&ctx, &c, &req).await?;
    Err(ApiError::field(
        "ray_job_id",
        "Sluice runs no Ray jobs: a batch's work is queue messages; cancel tier 0 (or the batch) instead",
    ))
}
