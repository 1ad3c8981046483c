//! One function per route: parse, call the service, shape the response.

use serde_json::Value;

use super::{ApiRequest, Caller};
use crate::error::ApiError;
use sluice_core::app::batches::{self, AddObjects, CreateBatch, ListBatches};
use sluice_core::app::buckets::{self, CreateBucket, UpdateBucket};
use sluice_core::app::namespaces::{self, CreateNamespace, UpdateNamespace};
use sluice_core::app::objects::{self, CreateObject, CreateObjectsBulk, PatchObject, Policy};
use sluice_core::app::search;
use sluice_core::app::tasks::{self, ListTasks};
use sluice_core::app::uploads::{
    self, ConfirmBulk, ConfirmUpload, CreateUpload, CreateUploadsBulk,
};
use sluice_core::app::views::*;
use sluice_core::app::webhooks::{self, CreateWebhook, ListWebhooks, UpdateWebhook};
use sluice_core::app::{collections, connections, documents, syncs};
use sluice_core::context::AppContext;
use sluice_core::domain::entities::Bucket;
use sluice_core::domain::extractors;
use sluice_core::store::lists::ListRequest;

type Reply<T> = Result<T, ApiError>;

pub async fn openapi(_ctx: AppContext, _c: Caller, _req: ApiRequest) -> Reply<Value> {
    Ok(super::document::served().clone())
}

pub async fn extractors_list(
    _ctx: AppContext,
    _c: Caller,
    _req: ApiRequest,
) -> Reply<Vec<ExtractorView>> {
    Ok(extractors::CATALOGUE
        .iter()
        .map(ExtractorView::from)
        .collect())
}

pub async fn extractors_get(_ctx: AppContext, _c: Caller, req: ApiRequest) -> Reply<ExtractorView> {
    let id = req.param("feature_extractor_id")?;
    let spec = extractors::find_by_id(id)
        .ok_or_else(|| ApiError::not_found(format!("feature extractor {id:?}")))?;
    Ok(ExtractorView::from(spec))
}

pub async fn namespaces_create(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<NamespaceView> {
    let body: CreateNamespace = req.json()?;
    let ns = namespaces::create(&ctx, c.org()?, body).await?;
    Ok(NamespaceView::from(&ns))
}

pub async fn namespaces_list_get(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<NamespaceView>> {
    let list = ListRequest::default().merge_query(&req.query)?;
    Ok(namespaces::list(&ctx, c.org()?, &list).await?)
}

pub async fn namespaces_list(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<NamespaceView>> {
    let list = req
        .json_or_default::<ListRequest>()?
        .merge_query(&req.query)?;
    Ok(namespaces::list(&ctx, c.org()?, &list).await?)
}

pub async fn namespaces_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<NamespaceView> {
    let ns = namespaces::resolve(&ctx, c.org()?, req.param("namespace_identifier")?).await?;
    Ok(NamespaceView::from(&ns))
}

async fn namespaces_change(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
    replace: bool,
) -> Reply<NamespaceView> {
    let body: UpdateNamespace = req.json()?;
    let ns = namespaces::update(
        &ctx,
        c.org()?,
        req.param("namespace_identifier")?,
        body,
        replace,
    )
    .await?;
    Ok(NamespaceView::from(&ns))
}

pub async fn namespaces_patch(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<NamespaceView> {
    namespaces_change(ctx, c, req, false).await
}

pub async fn namespaces_update(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<NamespaceView> {
    namespaces_change(ctx, c, req, true).await
}

pub async fn namespaces_delete(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<DeletionQueued> {
    Ok(namespaces::delete(&ctx, c.org()?, req.param("namespace_identifier")?).await?)
}

pub async fn buckets_create(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BucketView> {
    let body: CreateBucket = req.json()?;
    let bucket = buckets::create(&ctx, c.namespace()?, body).await?;
    Ok(BucketView::from(&bucket))
}

pub async fn buckets_list_get(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<BucketView>> {
    let list = ListRequest::default().merge_query(&req.query)?;
    Ok(buckets::list(&ctx, c.namespace()?, &list).await?)
}

pub async fn buckets_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Page<BucketView>> {
    let list = req
        .json_or_default::<ListRequest>()?
        .merge_query(&req.query)?;
    Ok(buckets::list(&ctx, c.namespace()?, &list).await?)
}

pub async fn buckets_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BucketView> {
    let bucket = buckets::resolve(&ctx, c.namespace()?, req.param("bucket_identifier")?).await?;
    Ok(BucketView::from(&bucket))
}

/// PUT and PATCH alike apply the fields given and keep the rest: the SDK's bodies for
/// both (`BucketUpdateRequest`, `BucketPatchRequest`) have every field optional.
async fn buckets_change(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BucketView> {
    let body: UpdateBucket = req.json()?;
    let bucket =
        buckets::update(&ctx, c.namespace()?, req.param("bucket_identifier")?, body).await?;
    Ok(BucketView::from(&bucket))
}

pub async fn buckets_patch(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BucketView> {
    buckets_change(ctx, c, req).await
}

pub async fn buckets_update(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BucketView> {
    buckets_change(ctx, c, req).await
}

pub async fn buckets_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<DeletionQueued> {
    Ok(buckets::delete(&ctx, c.namespace()?, req.param("bucket_identifier")?).await?)
}

async fn bucket_of(ctx: &AppContext, c: &Caller, req: &ApiRequest) -> Result<Bucket, ApiError> {
    Ok(buckets::resolve(ctx, c.namespace()?, req.param("bucket_identifier")?).await?)
}

/// `?auto_process=true`: the created objects go into a batch that is submitted at once.
async fn auto_process(
    ctx: &AppContext,
    c: &Caller,
    bucket: &Bucket,
    object_ids: Vec<String>,
) -> Result<Option<AutoBatch>, ApiError> {
    if object_ids.is_empty() {
        return Ok(None);
    }
    // One batch per set of new objects, however often the request is repeated.
    let subject = object_ids.join(",");
    let (batch, task) =
        batches::create_for(ctx, c.namespace()?, bucket, object_ids, None, &subject).await?;
    Ok(Some(AutoBatch {
        batch_id: batch.batch_id,
        task_id: task.map(|t| t.task_id),
    }))
}

pub async fn objects_create(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<WithBatch<ObjectView>> {
    let process = objects::flag(&req.query, "auto_process")?;
    let body: CreateObject = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let policy = Policy::choose(req.query.get("policy").map(String::as_str), &bucket)?;
    let mut results = objects::create_many(&ctx, &bucket, vec![Ok(body)], policy, None).await?;
    let (object, _replayed) = results.pop().expect("one result per request")?;
    let batch = match process {
        true => auto_process(&ctx, &c, &bucket, vec![object.object_id.clone()]).await?,
        false => None,
    };
    Ok(WithBatch {
        view: ObjectView::from(&object),
        batch,
    })
}

pub async fn objects_create_batch(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<WithBatch<BulkView>> {
    let process = objects::flag(&req.query, "auto_process")?;
    let body: CreateObjectsBulk = req.json()?;
    if body.objects.is_empty() || body.objects.len() > objects::MAX_BULK {
        return Err(ApiError::field(
            "objects",
            format!("must hold 1 to {} objects", objects::MAX_BULK),
        ));
    }
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let policy = Policy::choose(req.query.get("policy").map(String::as_str), &bucket)?;
    let parsed = body.objects.into_iter().map(Ok).collect();
    let results = objects::create_many(&ctx, &bucket, parsed, policy, None).await?;
    let view = objects::bulk_view(&results, |e| {
        (crate::error::kind(e), crate::error::status(e))
    });
    let batch = match process {
        true => {
            let ids = view.succeeded.iter().map(|o| o.object_id.clone()).collect();
            auto_process(&ctx, &c, &bucket, ids).await?
        }
        false => None,
    };
    Ok(WithBatch { view, batch })
}

pub async fn objects_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Page<ObjectView>> {
    let list = req
        .json_or_default::<ListRequest>()?
        .merge_query(&req.query)?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(objects::list(&ctx, &bucket, &list).await?)
}

pub async fn objects_list_get(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<ObjectView>> {
    let list = ListRequest::default().merge_query(&req.query)?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(objects::list(&ctx, &bucket, &list).await?)
}

pub async fn objects_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<ObjectView> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let object = objects::get(&ctx, &bucket, req.param("object_identifier")?).await?;
    let presigned = objects::flag(&req.query, "return_presigned_urls")?;
    Ok(objects::view(&ctx, &object, presigned).await?)
}

pub async fn objects_patch(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<ObjectView> {
    let body: PatchObject = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let id = req.param("object_identifier")?;
    let object = objects::update(
        &ctx,
        &bucket,
        id,
        body.key_prefix,
        body.blobs,
        body.metadata,
        false,
    )
    .await?;
    Ok(ObjectView::from(&object))
}

pub async fn objects_update(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<ObjectView> {
    let body: CreateObject = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let id = req.param("object_identifier")?;
    let object = objects::update(
        &ctx,
        &bucket,
        id,
        body.key_prefix,
        Some(body.blobs),
        body.metadata,
        true,
    )
    .await?;
    Ok(ObjectView::from(&object))
}

pub async fn objects_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<ObjectDeleted> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(objects::delete(&ctx, &bucket, req.param("object_identifier")?).await?)
}

pub async fn tasks_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<TaskView> {
    let id = req.param("task_id")?;
    let task = tasks::get(&ctx, c.org()?, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("task {id:?}")))?;
    Ok(TaskView::from(&task))
}

pub async fn uploads_create(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<UploadView> {
    let body: CreateUpload = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(uploads::create(&ctx, &bucket, body).await?)
}

pub async fn uploads_create_batch(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<UploadsCreated> {
    let body: CreateUploadsBulk = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(uploads::create_bulk(&ctx, &bucket, body).await?)
}

pub async fn uploads_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<UploadView> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let (upload, url) = uploads::get(&ctx, &bucket, req.param("upload_id")?).await?;
    Ok(uploads::upload_view(&upload, url, None))
}

pub async fn uploads_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<UploadView> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let upload = uploads::cancel(&ctx, &bucket, req.param("upload_id")?).await?;
    Ok(uploads::upload_view(&upload, None, None))
}

pub async fn uploads_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<UploadPage> {
    let list = req
        .json_or_default::<ListRequest>()?
        .merge_query(&req.query)?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(uploads::list(&ctx, &bucket, &list).await?)
}

pub async fn uploads_confirm(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<ConfirmOutcome> {
    let body: ConfirmUpload = req.json_or_default()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let upload_id = req.param("upload_id")?;
    if objects::flag(&req.query, "async")? {
        // The same work as a batch confirm of one, in the background.
        let item = uploads::ConfirmItem {
            upload_id: upload_id.to_string(),
            etag: body.etag,
            file_size_bytes: body.file_size_bytes,
        };
        let batch = ConfirmBulk {
            confirmations: vec![item],
        };
        let queued = uploads::confirm_bulk(&ctx, c.namespace()?, &bucket, batch).await?;
        return Ok(ConfirmOutcome::Accepted(ConfirmAccepted {
            upload_id: upload_id.to_string(),
            status: sluice_core::domain::status::TaskStatus::Processing,
            task_id: queued.task_id,
            message: "confirmation is being processed in the background".into(),
        }));
    }
    let policy = req.query.get("policy").map(String::as_str);
    let upload = uploads::confirm(&ctx, &bucket, upload_id, &body, policy).await?;
    let batch = match (body.auto_submit_batch, &upload.object_id) {
        (Some(true), Some(object_id)) => {
            auto_process(&ctx, &c, &bucket, vec![object_id.clone()]).await?
        }
        _ => None,
    };
    Ok(ConfirmOutcome::Confirmed(WithBatch {
        view: ConfirmView::from(&upload),
        batch,
    }))
}

pub async fn uploads_confirm_batch(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<ConfirmQueued> {
    let body: ConfirmBulk = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(uploads::confirm_bulk(&ctx, c.namespace()?, &bucket, body).await?)
}

// Batches.

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

pub async fn batches_create(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BatchView> {
    let mut body: CreateBatch = req.json()?;
    if objects::flag(&req.query, "auto_submit")? {
        body.auto_submit = Some(true);
    }
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let (batch, _task) = batches::create(&ctx, c.namespace()?, &bucket, body).await?;
    batch_view(&ctx, &batch).await
}

pub async fn batches_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Page<BatchView>> {
    let body: ListBatches = req.json_or_default()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(batches::list(&ctx, &bucket, &body).await?)
}

pub async fn batches_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BatchView> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let batch = batches::get(&ctx, &bucket, batch_id(&req)?).await?;
    batch_view(&ctx, &batch).await
}

pub async fn batches_get_by_id(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BatchView> {
    let batch = batches::get_in_org(&ctx, c.org()?, c.namespace.as_ref(), batch_id(&req)?).await?;
    batch_view(&ctx, &batch).await
}

pub async fn batches_list_all(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<BatchView>> {
    let body: ListBatches = req.json_or_default()?;
    Ok(batches::list_in_org(&ctx, c.org()?, c.namespace.as_ref(), &body).await?)
}

pub async fn batches_add_objects(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BatchView> {
    let body: AddObjects = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let batch = batches::add_objects(&ctx, &bucket, batch_id(&req)?, body).await?;
    batch_view(&ctx, &batch).await
}

pub async fn batches_submit(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<TaskView> {
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

pub async fn batches_cancel(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BatchCanceled> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let batch = batches::cancel(&ctx, &bucket, batch_id(&req)?).await?;
    cancel_response(&ctx, &batch).await
}

pub async fn batches_cancel_by_id(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<BatchCanceled> {
    let found = batches::get_in_org(&ctx, c.org()?, c.namespace.as_ref(), batch_id(&req)?).await?;
    let batch = batches::cancel_by_key(&ctx, &found.bucket_id, &found.batch_id).await?;
    cancel_response(&ctx, &batch).await
}

pub async fn batches_retry(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BatchRetried> {
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

pub async fn batches_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Done> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    batches::delete(&ctx, &bucket, batch_id(&req)?).await?;
    Ok(Done::new("Successfully deleted"))
}

pub async fn batches_results(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<ObjectResultView>> {
    let list = ListRequest::default().merge_query(&req.query)?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(batches::list_results(&ctx, &bucket, batch_id(&req)?, &list).await?)
}

// Collections.

pub async fn collections_create(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<CollectionView> {
    let body: collections::CreateCollection = req.json()?;
    let collection = collections::create(&ctx, c.namespace()?, body).await?;
    Ok(CollectionView::from(&collection))
}

pub async fn collections_list_get(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<CollectionView>> {
    let list = ListRequest::default().merge_query(&req.query)?;
    Ok(collections::list(&ctx, c.namespace()?, &list).await?)
}

pub async fn collections_list(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<CollectionView>> {
    let list = req
        .json_or_default::<ListRequest>()?
        .merge_query(&req.query)?;
    Ok(collections::list(&ctx, c.namespace()?, &list).await?)
}

pub async fn collections_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<CollectionView> {
    let collection =
        collections::get(&ctx, c.namespace()?, req.param("collection_identifier")?).await?;
    Ok(CollectionView::from(&collection))
}

pub async fn collections_delete(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<CollectionDeleted> {
    Ok(collections::delete(&ctx, c.namespace()?, req.param("collection_identifier")?).await?)
}

// Documents.

pub async fn objects_documents(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<DocumentView>> {
    let list = ListRequest::default().merge_query(&req.query)?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let object = objects::get(&ctx, &bucket, req.param("object_identifier")?).await?;
    Ok(documents::list_for_object(&ctx, &bucket, &object.object_id, &list).await?)
}

pub async fn collections_documents_list(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<DocumentView>> {
    let list = req
        .json_or_default::<ListRequest>()?
        .merge_query(&req.query)?;
    let ns = c.namespace()?;
    let id = req.param("collection_identifier")?;
    let collection = collections::get(&ctx, ns, id).await?;
    Ok(documents::list_for_collection(&ctx, &collection, &list).await?)
}

pub async fn collections_documents_get(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<DocumentView> {
    let ns = c.namespace()?;
    let collection = collections::get(&ctx, ns, req.param("collection_identifier")?).await?;
    let doc = documents::get(
        &ctx,
        ns,
        Some(&collection.collection_id),
        req.param("document_id")?,
    )
    .await?;
    Ok(doc)
}

pub async fn documents_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<DocumentView> {
    let doc = documents::get(&ctx, c.namespace()?, None, req.param("document_id")?).await?;
    Ok(doc)
}

// Feature search.

pub async fn features_search(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<SearchView> {
    let body: search::FeatureSearch = req.json()?;
    Ok(search::features_search(&ctx, c.namespace()?, &body).await?)
}

// Tasks.

pub async fn tasks_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Page<TaskView>> {
    let body: ListTasks = req.json_or_default()?;
    let list = ListRequest::default().merge_query(&req.query)?;
    Ok(tasks::list(&ctx, c.org()?, &body, &list).await?)
}

pub async fn tasks_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Done> {
    let message = batches::kill_task(&ctx, c.org()?, req.param("task_id")?).await?;
    Ok(Done::new(message))
}

// Webhooks.

fn webhook_id(req: &ApiRequest) -> Result<&str, ApiError> {
    req.param("identifier")
}

pub async fn webhooks_create(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<WebhookView> {
    let body: CreateWebhook = req.json()?;
    Ok(webhooks::create(&ctx, c.org()?, body).await?)
}

pub async fn webhooks_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<WebhookList> {
    let body: ListWebhooks = req.json_or_default()?;
    Ok(webhooks::list(&ctx, c.org()?, &body).await?)
}

pub async fn webhooks_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<WebhookView> {
    let wh = webhooks::get(&ctx, c.org()?, webhook_id(&req)?).await?;
    Ok(WebhookView::new(&wh, None))
}

pub async fn webhooks_update(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<WebhookView> {
    let body: UpdateWebhook = req.json()?;
    Ok(webhooks::update(&ctx, c.org()?, webhook_id(&req)?, body).await?)
}

pub async fn webhooks_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Done> {
    webhooks::delete(&ctx, c.org()?, webhook_id(&req)?).await?;
    Ok(Done::new("Successfully deleted"))
}

pub async fn webhooks_deliveries(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<Page<DeliveryView>> {
    let list = ListRequest::default().merge_query(&req.query)?;
    Ok(webhooks::deliveries(&ctx, c.org()?, webhook_id(&req)?, &list).await?)
}

// Connections and syncs.

/// Who made a record: the API key behind the request.
fn creator(c: &Caller) -> String {
    c.principal
        .as_ref()
        .map(|p| p.key_id.clone())
        .unwrap_or_default()
}

fn connection_id(req: &ApiRequest) -> Result<&str, ApiError> {
    req.param("connection_identifier")
}

pub async fn connections_create(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<ConnectionView> {
    let body: connections::CreateConnection = req.json()?;
    let made = connections::create(&ctx, c.org()?, &creator(&c), body).await?;
    Ok(ConnectionView::from(&made))
}

pub async fn connections_list(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<ListOf<ConnectionView>> {
    let body: connections::ListConnections = req.json_or_default()?;
    let all = connections::list(&ctx, c.org()?, &body).await?;
    Ok(ListOf::new(all.iter().map(ConnectionView::from).collect()))
}

pub async fn connections_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<ConnectionView> {
    let found = connections::get(&ctx, c.org()?, connection_id(&req)?).await?;
    Ok(ConnectionView::from(&found))
}

pub async fn connections_update(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<ConnectionView> {
    let body: connections::UpdateConnection = req.json()?;
    let changed = connections::update(&ctx, c.org()?, connection_id(&req)?, body).await?;
    Ok(ConnectionView::from(&changed))
}

pub async fn connections_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Done> {
    let gone = connections::delete(&ctx, c.org()?, connection_id(&req)?).await?;
    Ok(Done::new(format!(
        "connection {} deleted",
        gone.connection_id
    )))
}

pub async fn connections_test(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<ConnectionTested> {
    let t = connections::test(&ctx, c.org()?, connection_id(&req)?).await?;
    Ok(ConnectionTested {
        success: t.success,
        message: t.message,
    })
}

async fn sync_of(
    ctx: &AppContext,
    c: &Caller,
    req: &ApiRequest,
) -> Result<(Bucket, syncs::Sync), ApiError> {
    let bucket = bucket_of(ctx, c, req).await?;
    let sync = syncs::get(ctx, &bucket, req.param("sync_config_id")?).await?;
    Ok((bucket, sync))
}

pub async fn syncs_create(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<SyncView> {
    let body: syncs::CreateSync = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let made = syncs::create(&ctx, c.namespace()?, &bucket, &creator(&c), body).await?;
    Ok(SyncView::from(&made))
}

pub async fn syncs_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<ListOf<SyncView>> {
    let body: syncs::ListSyncs = req.json_or_default()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let all = syncs::list(&ctx, &bucket, &body).await?;
    Ok(ListOf::new(all.iter().map(SyncView::from).collect()))
}

pub async fn syncs_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<SyncView> {
    let (_, sync) = sync_of(&ctx, &c, &req).await?;
    Ok(SyncView::from(&sync))
}

pub async fn syncs_update(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<SyncView> {
    let body: syncs::UpdateSync = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let changed = syncs::update(
        &ctx,
        c.namespace()?,
        &bucket,
        req.param("sync_config_id")?,
        body,
    )
    .await?;
    Ok(SyncView::from(&changed))
}

pub async fn syncs_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Done> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let gone = syncs::delete(&ctx, &bucket, req.param("sync_config_id")?).await?;
    Ok(Done::new(format!(
        "sync {} deleted; its objects stay in the bucket",
        gone.sync_config_id
    )))
}

pub async fn syncs_pause(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<SyncView> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(SyncView::from(
        &syncs::pause(&ctx, &bucket, req.param("sync_config_id")?).await?,
    ))
}

pub async fn syncs_resume(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<SyncView> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(SyncView::from(
        &syncs::resume(&ctx, &bucket, req.param("sync_config_id")?).await?,
    ))
}

pub async fn syncs_unlock(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<SyncView> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(SyncView::from(
        &syncs::unlock(&ctx, &bucket, req.param("sync_config_id")?).await?,
    ))
}

pub async fn syncs_trigger(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<SyncTriggered> {
    let full = objects::flag(&req.query, "full_sync")?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let run = syncs::engine::trigger(&ctx, &bucket, req.param("sync_config_id")?, full).await?;
    Ok(SyncTriggered {
        message: format!("sync run {} is {}", run.sync_job_id, run.phase),
        sync_job_id: run.sync_job_id,
        sync_config_id: run.sync_config_id,
        status: run.status,
        trigger: run.trigger,
    })
}

pub async fn syncs_jobs(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<ListOf<SyncJobView>> {
    let body: syncs::ListRuns = req.json_or_default()?;
    let (_, sync) = sync_of(&ctx, &c, &req).await?;
    let runs = syncs::list_runs(&ctx, &sync, &body).await?;
    Ok(ListOf::new(runs.iter().map(SyncJobView::from).collect()))
}

pub async fn syncs_job_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<SyncJobView> {
    let (_, sync) = sync_of(&ctx, &c, &req).await?;
    let run = syncs::get_run(&ctx, &sync, req.param("sync_job_id")?).await?;
    Ok(SyncJobView::from(&run))
}

pub async fn syncs_metrics(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<SyncMetricsView> {
    let (_, sync) = sync_of(&ctx, &c, &req).await?;
    let last = match &sync.current_run_id {
        Some(id) => syncs::get_run(&ctx, &sync, id).await.ok(),
        None => None,
    };
    let dead = syncs::dead_letters(&ctx, &sync, &syncs::ListDeadLetters::default()).await?;
    let mut by_error = std::collections::BTreeMap::new();
    for d in &dead {
        *by_error.entry(d.error_type.clone()).or_insert(0) += 1;
    }
    let h = syncs::health(&sync, last.as_ref());
    let failure_rate = last
        .as_ref()
        .filter(|r| r.counts.scanned > 0)
        .map_or(0.0, |r| r.counts.failed as f64 / r.counts.scanned as f64);
    Ok(SyncMetricsView {
        sync_config_id: sync.sync_config_id.clone(),
        status: sync.status,
        is_active: sync.status == sluice_core::domain::status::SyncStatus::Active && !sync.paused,
        is_stale: h.is_stale,
        stale_after_seconds: h.stale_after_seconds,
        stalled: h.stalled,
        healthy: h.healthy,
        dlq_total: dead.len(),
        dlq_by_error: by_error,
        failure_rate,
        last_job: last.as_ref().map(SyncJobView::from),
    })
}

pub async fn syncs_dlq(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<DeadLetterList> {
    let body: syncs::ListDeadLetters = req.json_or_default()?;
    let (_, sync) = sync_of(&ctx, &c, &req).await?;
    let results = syncs::dead_letters(&ctx, &sync, &body).await?;
    Ok(DeadLetterList {
        total: results.len(),
        results,
    })
}

pub async fn syncs_dlq_requeue(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Requeued> {
    let body: syncs::RequeueDeadLetters = req.json_or_default()?;
    let (_, sync) = sync_of(&ctx, &c, &req).await?;
    let done = syncs::requeue(&ctx, &sync, &body).await?;
    Ok(Requeued {
        requeued: done.requeued,
        sync_job_id: done.sync_job_id,
    })
}
