//! One function per route: parse, call the service, shape the response.

use serde_json::{json, Value};

use super::{ApiRequest, ApiResponse, Caller};
use crate::error::ApiError;
use sluice_core::app::batches::{self, AddObjects, CreateBatch, ListBatches};
use sluice_core::app::buckets::{self, CreateBucket, UpdateBucket};
use sluice_core::app::namespaces::{self, CreateNamespace, UpdateNamespace};
use sluice_core::app::objects::{
    self, CreateObject, CreateObjectsBulk, ObjectView, PatchObject, Policy,
};
use sluice_core::app::search;
use sluice_core::app::tasks::{self, ListTasks};
use sluice_core::app::uploads::{
    self, ConfirmBulk, ConfirmUpload, CreateUpload, CreateUploadsBulk,
};
use sluice_core::app::webhooks::{self, CreateWebhook, ListWebhooks, UpdateWebhook};
use sluice_core::app::{collections, documents};
use sluice_core::context::AppContext;
use sluice_core::domain::entities::Bucket;
use sluice_core::domain::extractors;
use sluice_core::store::lists::ListRequest;

type Res = Result<ApiResponse, ApiError>;

pub async fn openapi(_ctx: AppContext, _c: Caller, _req: ApiRequest) -> Res {
    Ok(ApiResponse::ok(super::openapi::document()))
}

pub async fn extractors_list(_ctx: AppContext, _c: Caller, _req: ApiRequest) -> Res {
    Ok(ApiResponse::ok(Value::Array(
        extractors::CATALOGUE.iter().map(|e| e.to_json()).collect(),
    )))
}

pub async fn extractors_get(_ctx: AppContext, _c: Caller, req: ApiRequest) -> Res {
    let id = req.param("feature_extractor_id")?;
    let spec = extractors::find_by_id(id)
        .ok_or_else(|| ApiError::not_found(format!("feature extractor {id:?}")))?;
    Ok(ApiResponse::ok(spec.to_json()))
}

pub async fn namespaces_create(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let body: CreateNamespace = req.json()?;
    let ns = namespaces::create(&ctx, c.org()?, body).await?;
    Ok(ApiResponse::ok(namespaces::namespace_json(&ns)))
}

pub async fn namespaces_list_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let list = ListRequest::default().merge_query(&req.query)?;
    Ok(ApiResponse::ok(
        namespaces::list(&ctx, c.org()?, &list).await?,
    ))
}

pub async fn namespaces_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let list = req
        .json_or_default::<ListRequest>()?
        .merge_query(&req.query)?;
    Ok(ApiResponse::ok(
        namespaces::list(&ctx, c.org()?, &list).await?,
    ))
}

pub async fn namespaces_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let ns = namespaces::resolve(&ctx, c.org()?, req.param("namespace_identifier")?).await?;
    Ok(ApiResponse::ok(namespaces::namespace_json(&ns)))
}

async fn namespaces_change(ctx: AppContext, c: Caller, req: ApiRequest, replace: bool) -> Res {
    let body: UpdateNamespace = req.json()?;
    let ns = namespaces::update(
        &ctx,
        c.org()?,
        req.param("namespace_identifier")?,
        body,
        replace,
    )
    .await?;
    Ok(ApiResponse::ok(namespaces::namespace_json(&ns)))
}

pub async fn namespaces_patch(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    namespaces_change(ctx, c, req, false).await
}

pub async fn namespaces_update(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    namespaces_change(ctx, c, req, true).await
}

pub async fn namespaces_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    Ok(ApiResponse::ok(
        namespaces::delete(&ctx, c.org()?, req.param("namespace_identifier")?).await?,
    ))
}

pub async fn buckets_create(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let body: CreateBucket = req.json()?;
    let bucket = buckets::create(&ctx, c.namespace()?, body).await?;
    Ok(ApiResponse::ok(buckets::bucket_json(&bucket)))
}

pub async fn buckets_list_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let list = ListRequest::default().merge_query(&req.query)?;
    Ok(ApiResponse::ok(
        buckets::list(&ctx, c.namespace()?, &list).await?,
    ))
}

pub async fn buckets_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let list = req
        .json_or_default::<ListRequest>()?
        .merge_query(&req.query)?;
    Ok(ApiResponse::ok(
        buckets::list(&ctx, c.namespace()?, &list).await?,
    ))
}

pub async fn buckets_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let bucket = buckets::resolve(&ctx, c.namespace()?, req.param("bucket_identifier")?).await?;
    Ok(ApiResponse::ok(buckets::bucket_json(&bucket)))
}

async fn buckets_change(ctx: AppContext, c: Caller, req: ApiRequest, replace: bool) -> Res {
    let body: UpdateBucket = req.json()?;
    let bucket = buckets::update(
        &ctx,
        c.namespace()?,
        req.param("bucket_identifier")?,
        body,
        replace,
    )
    .await?;
    Ok(ApiResponse::ok(buckets::bucket_json(&bucket)))
}

pub async fn buckets_patch(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    buckets_change(ctx, c, req, false).await
}

pub async fn buckets_update(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    buckets_change(ctx, c, req, true).await
}

pub async fn buckets_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    Ok(ApiResponse::ok(
        buckets::delete(&ctx, c.namespace()?, req.param("bucket_identifier")?).await?,
    ))
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
) -> Result<Option<Value>, ApiError> {
    if object_ids.is_empty() {
        return Ok(None);
    }
    // One batch per set of new objects, however often the request is repeated.
    let subject = object_ids.join(",");
    let (batch, task) =
        batches::create_for(ctx, c.namespace()?, bucket, object_ids, &subject).await?;
    Ok(Some(
        json!({"batch_id": batch.batch_id, "task_id": task.map(|t| t.task_id)}),
    ))
}

fn with_batch(mut response: Value, batch: Option<Value>) -> Value {
    if let (Some(m), Some(b)) = (response.as_object_mut(), batch) {
        m.insert("batch_id".into(), b["batch_id"].clone());
        m.insert("task_id".into(), b["task_id"].clone());
    }
    response
}

pub async fn objects_create(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let process = objects::flag(&req.query, "auto_process")?;
    let body: CreateObject = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let policy = Policy::choose(req.query.get("policy").map(String::as_str), &bucket)?;
    let mut results = objects::create_many(&ctx, &bucket, vec![Ok(body)], policy, None).await?;
    let (object, _replayed) = results.pop().expect("one result per request")?;
    if process {
        let batch = auto_process(&ctx, &c, &bucket, vec![object.object_id.clone()]).await?;
        return Ok(ApiResponse::ok(with_batch(
            objects::object_json(&object),
            batch,
        )));
    }
    Ok(ApiResponse::json(&ObjectView::from(&object)))
}

pub async fn objects_create_batch(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
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
    let parsed = body
        .objects
        .into_iter()
        .enumerate()
        .map(|(i, v)| objects::parse_batch_item(v, i))
        .collect();
    let results = objects::create_many(&ctx, &bucket, parsed, policy, None).await?;
    let response = ApiResponse::json(&objects::bulk_view(&results, |e| {
        (crate::error::kind(e), crate::error::status(e))
    }));
    if process {
        let ids = results
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|(o, _)| o.object_id.clone())
            .collect();
        let batch = auto_process(&ctx, &c, &bucket, ids).await?;
        return Ok(ApiResponse::ok(with_batch(response.value(), batch)));
    }
    Ok(response)
}

pub async fn objects_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let list = req
        .json_or_default::<ListRequest>()?
        .merge_query(&req.query)?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(ApiResponse::ok(objects::list(&ctx, &bucket, &list).await?))
}

pub async fn objects_list_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let list = ListRequest::default().merge_query(&req.query)?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(ApiResponse::ok(objects::list(&ctx, &bucket, &list).await?))
}

pub async fn objects_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let object = objects::get(&ctx, &bucket, req.param("object_identifier")?).await?;
    if objects::flag(&req.query, "return_presigned_urls")? {
        return Ok(ApiResponse::ok(
            objects::with_presigned_urls(&ctx, &object).await?,
        ));
    }
    Ok(ApiResponse::json(&ObjectView::from(&object)))
}

pub async fn objects_patch(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
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
    Ok(ApiResponse::json(&ObjectView::from(&object)))
}

pub async fn objects_update(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
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
    Ok(ApiResponse::json(&ObjectView::from(&object)))
}

pub async fn objects_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(ApiResponse::ok(
        objects::delete(&ctx, &bucket, req.param("object_identifier")?).await?,
    ))
}

pub async fn tasks_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let id = req.param("task_id")?;
    let task = tasks::get(&ctx, c.org()?, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("task {id:?}")))?;
    Ok(ApiResponse::ok(tasks::task_json(&task)))
}

pub async fn uploads_create(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let body: CreateUpload = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(ApiResponse::ok(uploads::create(&ctx, &bucket, body).await?))
}

pub async fn uploads_create_batch(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let body: CreateUploadsBulk = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(ApiResponse::ok(
        uploads::create_bulk(&ctx, &bucket, body).await?,
    ))
}

pub async fn uploads_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let (upload, url) = uploads::get(&ctx, &bucket, req.param("upload_id")?).await?;
    Ok(ApiResponse::ok(uploads::upload_json(&upload, url, None)))
}

pub async fn uploads_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let upload = uploads::cancel(&ctx, &bucket, req.param("upload_id")?).await?;
    Ok(ApiResponse::ok(uploads::upload_json(&upload, None, None)))
}

pub async fn uploads_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let list = req
        .json_or_default::<ListRequest>()?
        .merge_query(&req.query)?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(ApiResponse::ok(uploads::list(&ctx, &bucket, &list).await?))
}

pub async fn uploads_confirm(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
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
        return Ok(ApiResponse::ok(serde_json::json!({
            "upload_id": upload_id,
            "status": "PROCESSING",
            "task_id": queued["task_id"],
            "message": "confirmation is being processed in the background",
        })));
    }
    let policy = req.query.get("policy").map(String::as_str);
    let upload = uploads::confirm(&ctx, &bucket, upload_id, &body, policy).await?;
    let response = uploads::confirm_json(&upload);
    match (body.auto_submit_batch, &upload.object_id) {
        (Some(true), Some(object_id)) => {
            let batch = auto_process(&ctx, &c, &bucket, vec![object_id.clone()]).await?;
            Ok(ApiResponse::ok(with_batch(response, batch)))
        }
        _ => Ok(ApiResponse::ok(response)),
    }
}

pub async fn uploads_confirm_batch(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let body: ConfirmBulk = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(ApiResponse::ok(
        uploads::confirm_bulk(&ctx, c.namespace()?, &bucket, body).await?,
    ))
}

// Batches.

fn batch_id(req: &ApiRequest) -> Result<&str, ApiError> {
    req.param("batch_id")
}

async fn batch_view(ctx: &AppContext, batch: &sluice_core::domain::batch::Batch) -> Res {
    let failures = batches::failures_for_view(ctx, batch).await?;
    Ok(ApiResponse::ok(batches::batch_json_with(
        batch,
        &failures,
        Some(ctx.config.batch_stall),
    )))
}

pub async fn batches_create(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let mut body: CreateBatch = req.json()?;
    if objects::flag(&req.query, "auto_submit")? {
        body.auto_submit = Some(true);
    }
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let (batch, _task) = batches::create(&ctx, c.namespace()?, &bucket, body).await?;
    batch_view(&ctx, &batch).await
}

pub async fn batches_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let body: ListBatches = req.json_or_default()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(ApiResponse::ok(batches::list(&ctx, &bucket, &body).await?))
}

pub async fn batches_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let batch = batches::get(&ctx, &bucket, batch_id(&req)?).await?;
    batch_view(&ctx, &batch).await
}

pub async fn batches_get_by_id(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let batch = batches::get_in_org(&ctx, c.org()?, c.namespace.as_ref(), batch_id(&req)?).await?;
    batch_view(&ctx, &batch).await
}

pub async fn batches_list_all(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let body: ListBatches = req.json_or_default()?;
    Ok(ApiResponse::ok(
        batches::list_in_org(&ctx, c.org()?, c.namespace.as_ref(), &body).await?,
    ))
}

pub async fn batches_add_objects(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let body: AddObjects = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let batch = batches::add_objects(&ctx, &bucket, batch_id(&req)?, body).await?;
    batch_view(&ctx, &batch).await
}

pub async fn batches_submit(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let _options: batches::SubmitBatch = req.json_or_default()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let task = batches::submit(&ctx, c.namespace()?, &bucket, batch_id(&req)?).await?;
    Ok(ApiResponse::ok(tasks::task_json(&task)))
}

async fn cancel_response(ctx: &AppContext, batch: &sluice_core::domain::batch::Batch) -> Res {
    let task = match &batch.task_id {
        Some(id) => tasks::get(ctx, &batch.org_id, id).await?,
        None => None,
    };
    let mut out = match task {
        Some(t) => tasks::task_json(&t),
        None => {
            json!({"task_id": batch.batch_id, "task_type": batches::TASK_TYPE, "status": "CANCELED"})
        }
    };
    out["batch_id"] = json!(batch.batch_id);
    out["cancellation"] = json!({"outcome": "canceled", "batch_status": batch.status});
    Ok(ApiResponse::ok(out))
}

pub async fn batches_cancel(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let batch = batches::cancel(&ctx, &bucket, batch_id(&req)?).await?;
    cancel_response(&ctx, &batch).await
}

pub async fn batches_cancel_by_id(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let found = batches::get_in_org(&ctx, c.org()?, c.namespace.as_ref(), batch_id(&req)?).await?;
    let batch = batches::cancel_by_key(&ctx, &found.bucket_id, &found.batch_id).await?;
    cancel_response(&ctx, &batch).await
}

pub async fn batches_retry(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let _options: batches::RetryBatch = req.json_or_default()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let (batch, task) = batches::retry(&ctx, c.namespace()?, &bucket, batch_id(&req)?).await?;
    Ok(ApiResponse::ok(json!({
        "batch_id": batch.batch_id,
        "status": batch.status,
        "attempt": batch.attempt,
        "retried_object_count": batch.pending,
        "task_id": task.task_id,
        "task": tasks::task_json(&task),
    })))
}

pub async fn batches_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    batches::delete(&ctx, &bucket, batch_id(&req)?).await?;
    Ok(ApiResponse::ok(
        json!({"message": "Successfully deleted", "success": true}),
    ))
}

pub async fn batches_results(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let list = ListRequest::default().merge_query(&req.query)?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(ApiResponse::ok(
        batches::list_results(&ctx, &bucket, batch_id(&req)?, &list).await?,
    ))
}

// Collections.

pub async fn collections_create(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let body: collections::CreateCollection = req.json()?;
    let collection = collections::create(&ctx, c.namespace()?, body).await?;
    Ok(ApiResponse::ok(collections::collection_json(&collection)))
}

pub async fn collections_list_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let list = ListRequest::default().merge_query(&req.query)?;
    Ok(ApiResponse::ok(
        collections::list(&ctx, c.namespace()?, &list).await?,
    ))
}

pub async fn collections_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let list = req
        .json_or_default::<ListRequest>()?
        .merge_query(&req.query)?;
    Ok(ApiResponse::ok(
        collections::list(&ctx, c.namespace()?, &list).await?,
    ))
}

pub async fn collections_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let collection =
        collections::get(&ctx, c.namespace()?, req.param("collection_identifier")?).await?;
    Ok(ApiResponse::ok(collections::collection_json(&collection)))
}

pub async fn collections_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    Ok(ApiResponse::ok(
        collections::delete(&ctx, c.namespace()?, req.param("collection_identifier")?).await?,
    ))
}

// Documents.

pub async fn objects_documents(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let list = ListRequest::default().merge_query(&req.query)?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let object = objects::get(&ctx, &bucket, req.param("object_identifier")?).await?;
    Ok(ApiResponse::ok(
        documents::list_for_object(&ctx, &bucket, &object.object_id, &list).await?,
    ))
}

pub async fn collections_documents_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let list = req
        .json_or_default::<ListRequest>()?
        .merge_query(&req.query)?;
    let ns = c.namespace()?;
    let id = req.param("collection_identifier")?;
    let collection = collections::get(&ctx, ns, id).await?;
    Ok(ApiResponse::ok(
        documents::list_for_collection(&ctx, ns, &collection.collection_id, &list).await?,
    ))
}

pub async fn collections_documents_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let ns = c.namespace()?;
    let collection = collections::get(&ctx, ns, req.param("collection_identifier")?).await?;
    let doc = documents::get(
        &ctx,
        ns,
        Some(&collection.collection_id),
        req.param("document_id")?,
    )
    .await?;
    Ok(ApiResponse::ok(doc))
}

pub async fn documents_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let doc = documents::get(&ctx, c.namespace()?, None, req.param("document_id")?).await?;
    Ok(ApiResponse::ok(doc))
}

// Feature search.

pub async fn features_search(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let body: search::FeatureSearch = req.json()?;
    Ok(ApiResponse::ok(
        search::features_search(&ctx, c.namespace()?, &body).await?,
    ))
}

// Tasks.

pub async fn tasks_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let body: ListTasks = req.json_or_default()?;
    let list = ListRequest::default().merge_query(&req.query)?;
    Ok(ApiResponse::ok(
        tasks::list(&ctx, c.org()?, &body, &list).await?,
    ))
}

pub async fn tasks_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let message = tasks::kill(&ctx, c.org()?, req.param("task_id")?).await?;
    Ok(ApiResponse::ok(
        json!({"message": message, "success": true}),
    ))
}

// Webhooks.

fn webhook_id(req: &ApiRequest) -> Result<&str, ApiError> {
    req.param("identifier")
}

pub async fn webhooks_create(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let body: CreateWebhook = req.json()?;
    Ok(ApiResponse::ok(
        webhooks::create(&ctx, c.org()?, body).await?,
    ))
}

pub async fn webhooks_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let body: ListWebhooks = req.json_or_default()?;
    Ok(ApiResponse::ok(
        webhooks::list(&ctx, c.org()?, &body).await?,
    ))
}

pub async fn webhooks_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let wh = webhooks::get(&ctx, c.org()?, webhook_id(&req)?).await?;
    Ok(ApiResponse::ok(webhooks::webhook_json(&wh, false)))
}

pub async fn webhooks_update(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let body: UpdateWebhook = req.json()?;
    Ok(ApiResponse::ok(
        webhooks::update(&ctx, c.org()?, webhook_id(&req)?, body).await?,
    ))
}

pub async fn webhooks_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    webhooks::delete(&ctx, c.org()?, webhook_id(&req)?).await?;
    Ok(ApiResponse::ok(
        json!({"message": "Successfully deleted", "success": true}),
    ))
}

pub async fn webhooks_deliveries(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let list = ListRequest::default().merge_query(&req.query)?;
    Ok(ApiResponse::ok(
        webhooks::deliveries(&ctx, c.org()?, webhook_id(&req)?, &list).await?,
    ))
}
