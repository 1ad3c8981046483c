//! What several features' handlers share.

use super::prelude::*;

/// The collection a route's path names (id or name), in the caller's namespace.
pub(super) async fn collection_of(
    ctx: &AppContext,
    c: &Caller,
    req: &ApiRequest,
) -> Result<Collection, ApiError> {
    let id = req.param("collection_identifier")?;
    Ok(collections::get(ctx, c.namespace()?, id).await?)
}

pub(super) async fn bucket_of(
    ctx: &AppContext,
    c: &Caller,
    req: &ApiRequest,
) -> Result<Bucket, ApiError> {
    Ok(buckets::resolve(ctx, c.namespace()?, req.param("bucket_identifier")?).await?)
}

/// `?auto_process=true`: the created objects go into a batch that is submitted at once.
pub(super) async fn auto_process(
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

/// Who made a record: the API key behind the request.
pub(super) fn creator(c: &Caller) -> String {
    c.principal
        .as_ref()
        .map(|p| p.key_id.clone())
        .unwrap_or_default()
}

/// The API key behind the request, for documents' ACLs.
pub(super) fn key_id(c: &Caller) -> Option<&str> {
    c.principal.as_ref().map(|p| p.key_id.as_str())
}

/// Who changes a document: the caller's namespace and key.
pub(super) fn writer(c: &Caller) -> Result<documents::Writer<'_>, ApiError> {
    Ok(documents::Writer {
        namespace: c.namespace()?,
        key_id: key_id(c),
    })
}
