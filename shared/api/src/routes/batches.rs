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
