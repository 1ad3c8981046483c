//! One function per route: parse, call the service, shape the response.

use serde_json::Value;

use super::{ApiRequest, ApiResponse, Caller};
use crate::context::AppContext;
use crate::domain::entities::Bucket;
use crate::domain::extractors;
use crate::error::ApiError;
use crate::services::buckets::{self, CreateBucket, UpdateBucket};
use crate::services::lists::ListRequest;
use crate::services::namespaces::{self, CreateNamespace, UpdateNamespace};
use crate::services::objects::{
    self, CreateObject, CreateObjectsBatch, ObjectView, PatchObject, Policy,
};
use crate::services::tasks;
use crate::services::uploads::{
    self, ConfirmBatch, ConfirmUpload, CreateUpload, CreateUploadsBatch,
};

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
    buckets::resolve(ctx, c.namespace()?, req.param("bucket_identifier")?).await
}

/// Batches (and so `auto_process`) are not served by this build: say so, never pretend.
fn refuse_auto_process(req: &ApiRequest) -> Result<(), ApiError> {
    if objects::flag(&req.query, "auto_process")? {
        return Err(ApiError::field(
            "auto_process",
            "batch processing is not available on this server yet",
        ));
    }
    Ok(())
}

pub async fn objects_create(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    refuse_auto_process(&req)?;
    let body: CreateObject = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let policy = Policy::choose(req.query.get("policy").map(String::as_str), &bucket)?;
    let mut results = objects::create_many(&ctx, &bucket, vec![Ok(body)], policy, None).await?;
    let (object, _replayed) = results.pop().expect("one result per request")?;
    Ok(ApiResponse::json(&ObjectView::from(&object)))
}

pub async fn objects_create_batch(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    refuse_auto_process(&req)?;
    let body: CreateObjectsBatch = req.json()?;
    if body.objects.is_empty() || body.objects.len() > objects::MAX_BATCH {
        return Err(ApiError::field(
            "objects",
            format!("must hold 1 to {} objects", objects::MAX_BATCH),
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
    Ok(objects::batch_response(&results))
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
    let body: CreateUploadsBatch = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(ApiResponse::ok(
        uploads::create_batch(&ctx, &bucket, body).await?,
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
        let batch = ConfirmBatch {
            confirmations: vec![item],
        };
        let queued = uploads::confirm_batch(&ctx, c.namespace()?, &bucket, batch).await?;
        return Ok(ApiResponse::ok(serde_json::json!({
            "upload_id": upload_id,
            "status": "PROCESSING",
            "task_id": queued["task_id"],
            "message": "confirmation is being processed in the background",
        })));
    }
    let policy = req.query.get("policy").map(String::as_str);
    let upload = uploads::confirm(&ctx, &bucket, upload_id, &body, policy).await?;
    Ok(ApiResponse::ok(uploads::confirm_json(&upload)))
}

pub async fn uploads_confirm_batch(ctx: AppContext, c: Caller, req: ApiRequest) -> Res {
    let body: ConfirmBatch = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(ApiResponse::ok(
        uploads::confirm_batch(&ctx, c.namespace()?, &bucket, body).await?,
    ))
}
