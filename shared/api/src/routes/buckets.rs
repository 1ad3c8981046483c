//! Buckets: a namespace's schema-validated stores of objects.

use super::prelude::*;

routes! {
    /// Create a bucket
    BUCKETS_CREATE: POST "/v1/buckets" => buckets_create -> BucketView {
        request_body: Some(required::<CreateBucket>()),
        idempotent: true,
        permissions: &[ReadTable, WriteTable],
    }

    /// List buckets
    BUCKETS_LIST_GET: GET "/v1/buckets" => buckets_list_get -> Page<BucketView> {}

    /// List buckets with filters
    BUCKETS_LIST: POST "/v1/buckets/list" => buckets_list -> Page<BucketView> {
        request_body: Some(optional::<ListRequest>()),
    }

    /// Get a bucket by id or name
    BUCKETS_GET: GET "/v1/buckets/{bucket_identifier}" => buckets_get -> BucketView {}

    /// Change some fields of a bucket
    BUCKETS_PATCH: PATCH "/v1/buckets/{bucket_identifier}" => buckets_patch -> BucketView {
        request_body: Some(required::<UpdateBucket>()),
        permissions: &[ReadTable, WriteTable],
    }

    /// Update a bucket (the fields given; the rest are kept)
    BUCKETS_UPDATE: PUT "/v1/buckets/{bucket_identifier}" => buckets_update -> BucketView {
        request_body: Some(required::<UpdateBucket>()),
        permissions: &[ReadTable, WriteTable],
    }

    /// Delete a bucket and everything in it
    BUCKETS_DELETE: DELETE "/v1/buckets/{bucket_identifier}" => buckets_delete -> DeletionQueued {
        permissions: &[ReadTable, WriteTable, Send(QueueName::Tasks)],
    }
}

async fn buckets_create(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BucketView> {
    let body: CreateBucket = req.json()?;
    let bucket = buckets::create(&ctx, c.namespace()?, body).await?;
    Ok(BucketView::from(&bucket))
}

async fn buckets_list_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Page<BucketView>> {
    let list = ListRequest::default().merge_query(&req.query)?;
    Ok(buckets::list(&ctx, c.namespace()?, &list).await?)
}

async fn buckets_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<Page<BucketView>> {
    let list = req
        .json_or_default::<ListRequest>()?
        .merge_query(&req.query)?;
    Ok(buckets::list(&ctx, c.namespace()?, &list).await?)
}

async fn buckets_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BucketView> {
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

async fn buckets_patch(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BucketView> {
    buckets_change(ctx, c, req).await
}

async fn buckets_update(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<BucketView> {
    buckets_change(ctx, c, req).await
}

async fn buckets_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<DeletionQueued> {
    Ok(buckets::delete(&ctx, c.namespace()?, req.param("bucket_identifier")?).await?)
}
