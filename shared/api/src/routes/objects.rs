//! Objects: registered by URL, inline content or a confirmed upload.

use super::prelude::*;
use super::shared::*;

routes! {
    /// Register an object
    OBJECTS_CREATE: POST "/v1/buckets/{bucket_identifier}/objects" => objects_create -> WithBatch<ObjectView> {
        request_body: Some(required::<CreateObject>()),
        idempotent: true,
        permissions: &[ReadTable, WriteTable, PutBlobs, DeleteBlobs, PublishEvents, Send(QueueName::Batches)],
    }

    /// Register up to 100 objects, each on its own
    OBJECTS_CREATE_BATCH: POST "/v1/buckets/{bucket_identifier}/objects/batch" => objects_create_batch -> WithBatch<BulkView> {
        request_body: Some(required::<CreateObjectsBulk>()),
        idempotent: true,
        permissions: &[ReadTable, WriteTable, PutBlobs, DeleteBlobs, PublishEvents, Send(QueueName::Batches)],
    }

    /// List objects with filters
    OBJECTS_LIST: POST "/v1/buckets/{bucket_identifier}/objects/list" => objects_list -> Page<ObjectView> {
        request_body: Some(optional::<ListRequest>()),
    }

    /// List objects
    OBJECTS_LIST_GET: GET "/v1/buckets/{bucket_identifier}/objects" => objects_list_get -> Page<ObjectView> {}

    /// Take objects out of use, with their documents (records kept; no self-service restore)
    OBJECTS_SOFT_DELETE: POST "/v1/buckets/{bucket_identifier}/objects/bulk-soft-delete" => objects_soft_delete -> SoftDeletedView {
        request_body: Some(required::<objects::SoftDelete>()),
        permissions: &[ReadTable, WriteTable, DeleteVectors],
    }

    /// Group a bucket's objects and compute metrics per group
    OBJECTS_AGGREGATE: POST "/v1/buckets/{bucket_identifier}/objects/aggregate" => objects_aggregate -> AggregationResult {
        request_body: Some(required::<Aggregation>()),
    }

    /// Get an object
    OBJECTS_GET: GET "/v1/buckets/{bucket_identifier}/objects/{object_identifier}" => objects_get -> ObjectView {
        permissions: &[ReadTable, GetBlobs],
    }

    /// Change some fields of an object
    OBJECTS_PATCH: PATCH "/v1/buckets/{bucket_identifier}/objects/{object_identifier}" => objects_patch -> ObjectView {
        request_body: Some(required::<PatchObject>()),
        permissions: &[ReadTable, WriteTable, PutBlobs, DeleteBlobs, PublishEvents],
    }

    /// Replace an object
    OBJECTS_UPDATE: PUT "/v1/buckets/{bucket_identifier}/objects/{object_identifier}" => objects_update -> ObjectView {
        request_body: Some(required::<CreateObject>()),
        permissions: &[ReadTable, WriteTable, PutBlobs, DeleteBlobs, PublishEvents],
    }

    /// Delete an object and its stored blobs
    OBJECTS_DELETE: DELETE "/v1/buckets/{bucket_identifier}/objects/{object_identifier}" => objects_delete -> ObjectDeleted {
        permissions: &[ReadTable, WriteTable, PutBlobs, DeleteBlobs, PublishEvents, DeleteVectors],
    }
}

async fn objects_create(
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

async fn objects_create_batch(
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

async fn objects_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Page<ObjectView>> {
    let list = req
        .json_or_default::<ListRequest>()?
        .merge_query(&req.query)?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(objects::list(&ctx, &bucket, &list).await?)
}

async fn objects_list_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Page<ObjectView>> {
    let list = ListRequest::default().merge_query(&req.query)?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(objects::list(&ctx, &bucket, &list).await?)
}

async fn objects_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<ObjectView> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let object = objects::get(&ctx, &bucket, req.param("object_identifier")?).await?;
    let presigned = objects::flag(&req.query, "return_presigned_urls")?;
    Ok(objects::view(&ctx, &object, presigned).await?)
}

async fn objects_patch(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<ObjectView> {
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

async fn objects_update(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<ObjectView> {
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

async fn objects_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<ObjectDeleted> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(objects::delete(&ctx, &bucket, req.param("object_identifier")?).await?)
}

async fn objects_aggregate(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<AggregationResult> {
    let body: Aggregation = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(objects::aggregate(&ctx, &bucket, body).await?)
}

async fn objects_soft_delete(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<SoftDeletedView> {
    let body: objects::SoftDelete = req.json()?;
    let requested = body.object_ids.len();
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let done = objects::soft_delete(&ctx, &bucket, body).await?;
    let collections = collections::all(&ctx, &bucket.namespace_id)
        .await?
        .iter()
        .filter(|col| col.takes_from(&bucket.bucket_id))
        .count();
    Ok(SoftDeletedView {
        soft_deleted: done.objects,
        requested,
        collections,
        documents: done.documents,
    })
}
