//! Uploads: presigned PUTs (and multipart parts), confirmed into objects.

use super::prelude::*;
use super::shared::*;

routes! {
    /// Start a direct upload: a presigned PUT URL that pins type, length and sha256
    UPLOADS_CREATE: POST "/v1/buckets/{bucket_identifier}/uploads" => uploads_create -> UploadView {
        request_body: Some(required::<CreateUpload>()),
        idempotent: true,
        permissions: &[ReadTable, WriteTable, PutBlobs],
    }

    /// Start up to 100 direct uploads (all are checked before any is issued)
    UPLOADS_CREATE_BATCH: POST "/v1/buckets/{bucket_identifier}/uploads/batch" => uploads_create_batch -> UploadsCreated {
        request_body: Some(required::<CreateUploadsBulk>()),
        idempotent: true,
        permissions: &[ReadTable, WriteTable, PutBlobs],
    }

    /// List uploads (filter by status)
    UPLOADS_LIST: POST "/v1/buckets/{bucket_identifier}/uploads/list" => uploads_list -> UploadPage {
        request_body: Some(optional::<ListRequest>()),
    }

    /// Get an upload (a pending one gets a fresh URL for its remaining time)
    UPLOADS_GET: GET "/v1/buckets/{bucket_identifier}/uploads/{upload_id}" => uploads_get -> UploadView {
        permissions: &[ReadTable, WriteTable, PutBlobs, DeleteBlobs, AbortBlobUploads],
    }

    /// Cancel a pending upload and remove its bytes
    UPLOADS_DELETE: DELETE "/v1/buckets/{bucket_identifier}/uploads/{upload_id}" => uploads_delete -> UploadView {
        permissions: &[ReadTable, WriteTable, DeleteBlobs, AbortBlobUploads],
    }

    /// Confirm an upload: verify the stored file and create its object
    UPLOADS_CONFIRM: POST "/v1/buckets/{bucket_identifier}/uploads/{upload_id}/confirm" => uploads_confirm -> ConfirmOutcome {
        request_body: Some(optional::<ConfirmUpload>()),
        permissions: &[ReadTable, WriteTable, GetBlobs, PutBlobs, DeleteBlobs, ListBlobParts, AbortBlobUploads, PublishEvents],
    }

    /// Confirm up to 100 uploads in the background (returns a task)
    UPLOADS_CONFIRM_BATCH: POST "/v1/buckets/{bucket_identifier}/uploads/confirm/batch" => uploads_confirm_batch -> ConfirmQueued {
        request_body: Some(required::<ConfirmBulk>()),
        permissions: &[ReadTable, WriteTable, Send(QueueName::Tasks)],
    }
}

async fn uploads_create(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<UploadView> {
    let body: CreateUpload = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(uploads::create(&ctx, &bucket, body).await?)
}

async fn uploads_create_batch(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<UploadsCreated> {
    let body: CreateUploadsBulk = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(uploads::create_bulk(&ctx, &bucket, body).await?)
}

async fn uploads_get(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<UploadView> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let (upload, url) = uploads::get(&ctx, &bucket, req.param("upload_id")?).await?;
    Ok(uploads::upload_view(&upload, url, None))
}

async fn uploads_delete(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<UploadView> {
    let bucket = bucket_of(&ctx, &c, &req).await?;
    let upload = uploads::cancel(&ctx, &bucket, req.param("upload_id")?).await?;
    Ok(uploads::upload_view(&upload, None, None))
}

async fn uploads_list(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<UploadPage> {
    let list = req
        .json_or_default::<ListRequest>()?
        .merge_query(&req.query)?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(uploads::list(&ctx, &bucket, &list).await?)
}

async fn uploads_confirm(ctx: AppContext, c: Caller, req: ApiRequest) -> Reply<ConfirmOutcome> {
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

async fn uploads_confirm_batch(
    ctx: AppContext,
    c: Caller,
    req: ApiRequest,
) -> Reply<ConfirmQueued> {
    let body: ConfirmBulk = req.json()?;
    let bucket = bucket_of(&ctx, &c, &req).await?;
    Ok(uploads::confirm_bulk(&ctx, c.namespace()?, &bucket, body).await?)
}
